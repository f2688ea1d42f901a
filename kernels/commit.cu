// commit: dst[i] = src[i] for i < len, only when all n_flags health flags are clear (a step with a
// NaN or Inf anywhere applies none of its updates).
KERNEL {
    const u32 i = block_id() * COLUMN + threadIdx.x;
    if (i >= p.len) return;
    for (u32 k = 0u; k < p.n_flags; k++)
        if (flags[k] != 0u) return;
    dst[i] = src[i];
}
