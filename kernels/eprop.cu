// eprop: one fixed-fanout matrix learns by e-prop as an SDDMM (docs/model.md §6, e-prop). A block
// per postsynaptic row i; each warp takes one of the row's synapses at a time and its lanes walk the
// rows of both neuron-major operands together (coalesced), then reduce by shuffles. The row's q_t is
// read by every warp of the block (from L1 after the first); each synapse's presynaptic row once.
KERNEL {
    const u32 i = block_id(), lane = threadIdx.x % EPROP_LANES, warp = threadIdx.x / EPROP_LANES;
    if (i >= p.n) return;
    const float* q = q_t + (size_t)i * p.rows;
    const float step = -p.rate * p.pre_scale * totals[3];
    for (u32 f = warp; f < p.fanout; f += COLUMN / EPROP_LANES) {
        const size_t syn = (size_t)f * p.n + i;
        const float* x = x_t + ((size_t)p.pre_offset + w_idx[syn]) * p.rows;
        float a0 = 0.0f, a1 = 0.0f;
        u32 r = p.lag_rows + lane;
        for (; r + EPROP_LANES < p.rows; r += 2u * EPROP_LANES) {
            a0 += q[r] * x[r - p.lag_rows];
            a1 += q[r + EPROP_LANES] * x[r + EPROP_LANES - p.lag_rows];
        }
        if (r < p.rows) a0 += q[r] * x[r - p.lag_rows];
        float acc = a0 + a1;
#pragma unroll
        for (u32 s = EPROP_LANES / 2u; s > 0u; s >>= 1u) acc += __shfl_down_sync(0xffffffffu, acc, s);
        if (lane == 0u) w_next[syn] = fminf(fmaxf(w_val[syn] + step * acc, -p.bound), p.bound);
    }
}
