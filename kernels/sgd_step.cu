// sgd_step: param[i] -= lr * scalars[0] * grad[i], in place, in two passes (see adam_step).
KERNEL {
    const u32 i = block_id() * COLUMN + threadIdx.x;
    if (i >= p.len) return;
    const float w1 = param[i] - p.lr * scalars[0] * grad[i];
    if (p.apply == 0u) {
        if (!is_finite(w1)) atomicOr(&flags[p.slot], 1u);
        return;
    }
    for (u32 k = 0u; k < p.n_flags; k++)
        if (flags[k] != 0u) return;
    param[i] = w1;
}
