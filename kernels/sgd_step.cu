// sgd_step: grad[i] <- param[i] - lr * scalars[0] * grad[i] (the gradient becomes the next value).
KERNEL {
    const u32 i = block_id() * COLUMN + threadIdx.x;
    if (i < p.len) grad[i] = param[i] - p.lr * scalars[0] * grad[i];
}
