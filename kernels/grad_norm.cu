// grad_norm: one block; scalars = [scale, norm] with scale = min(1, clip / norm).
KERNEL {
    __shared__ float red[COLUMN];
    float s = 0.0f;
    for (u32 i = threadIdx.x; i < p.n_partials; i += COLUMN) s += partials[i];
    const float norm = sqrtf(block_sum(s, red));
    if (threadIdx.x == 0u) {
        scalars[0] = norm > p.clip ? p.clip / norm : 1.0f;
        scalars[1] = norm;
    }
}
