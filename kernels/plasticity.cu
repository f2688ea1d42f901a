// plasticity (docs/model.md §6, step 5) as an SDDMM over the neuron-major window statistics: a block
// per postsynaptic neuron i, each warp one of its existing synapses (slot-major) at a time, lanes over
// the rows r = w * batch + b of both neurons' statistics (coalesced), reduced by shuffles:
// w_next = clip(w + rate / B * sum_r M (c_i e_j - e_i c_j), -1, 1),
// M = mod_base[b, w] * mfac[b, module], e = we / window_ticks.
KERNEL {
    const u32 i = block_id(), lane = threadIdx.x % EPROP_LANES, warp = threadIdx.x / EPROP_LANES;
    if (i >= p.n) return;
    const u32 rows = p.windows * p.batch;
    const float *ci = wc_t + (size_t)i * rows, *ei = we_t + (size_t)i * rows;
    for (u32 f = warp; f < p.fanout; f += COLUMN / EPROP_LANES) {
        const size_t syn = (size_t)f * p.n + i;
        const size_t j = w_idx[syn];
        const float *cj = wc_t + j * rows, *ej = we_t + j * rows;
        float d = 0.0f;
        for (u32 r = lane; r < rows; r += EPROP_LANES) {
            const u32 b = r % p.batch, w = r / p.batch;
            const float m = mod_base[b * p.windows + w] * mfac[b * MODULES + p.module_id];
            if (m == 0.0f) continue;
            d += m * (ci[r] * (ej[r] * p.inv_window_ticks) - (ei[r] * p.inv_window_ticks) * cj[r]);
        }
#pragma unroll
        for (u32 s = EPROP_LANES / 2u; s > 0u; s >>= 1u) d += __shfl_down_sync(0xffffffffu, d, s);
        if (lane == 0u) w_next[syn] = fminf(fmaxf(w_val[syn] + p.rate / (float)p.batch * d, -1.0f), 1.0f);
    }
}
