// commit: dst[i] = src[i] for i < len, only when all n_flags health flags are clear (a step with a
// NaN or Inf anywhere applies none of its updates).
struct CommitParams { u32 len, n_flags, _p0, _p1; };

extern "C" __global__ void __launch_bounds__(256) commit(const CommitParams p, const u32* __restrict__ src,
        const u32* __restrict__ flags, u32* dst) {
    const u32 i = block_id() * 256u + threadIdx.x;
    if (i >= p.len) return;
    for (u32 k = 0u; k < p.n_flags; k++)
        if (flags[k] != 0u) return;
    dst[i] = src[i];
}
