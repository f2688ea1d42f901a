// plasticity (docs/model.md §6, step 5): a thread per postsynaptic neuron i, over its existing synapses (slot-major):
// w_next = clip(w + rate / B * sum_b sum_w M (c_i e_j - e_i c_j), -1, 1),
// M = mod_base[b, w] * mfac[b, module], e = we / window_ticks.
KERNEL {
    const u32 i = block_id() * COLUMN + threadIdx.x;
    if (i >= p.n) return;
    for (u32 f = 0u; f < p.fanout; f++) {
        const size_t syn = (size_t)f * p.n + i;
        const u32 j = w_idx[syn];
        float d = 0.0f;
        for (u32 b = 0u; b < p.batch; b++) {
            const float fac = mfac[b * MODULES + p.module_id];
            for (u32 w = 0u; w < p.windows; w++) {
                const float m = mod_base[b * p.windows + w] * fac;
                if (m == 0.0f) continue;
                const size_t o = ((size_t)w * p.batch + b) * p.n;
                d += m * (wc[o + i] * (we[o + j] * p.inv_window_ticks) - (we[o + i] * p.inv_window_ticks) * wc[o + j]);
            }
        }
        w_next[syn] = fminf(fmaxf(w_val[syn] + p.rate / (float)p.batch * d, -1.0f), 1.0f);
    }
}
