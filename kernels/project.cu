// project: one connection (docs/model.md §3.2), a thread per (target input neuron, sequence).
// act = mean(y_src[b]); f' = min(decay f + rate |act|, cap) (the fast weight after this tick,
// stored by context_update); G = g + f' (-|G| if inhibitory), softly gated when |act G| < threshold;
// j[b, i] (+)= G * sum_k P[i, k] * y_src[b, idx[i, k]] (slot-major P); acts[b, conn] = act.
KERNEL {
    __shared__ float red[COLUMN];
    const u32 g = block_id(), chunks = (p.rows + COLUMN - 1u) / COLUMN, lid = threadIdx.x;
    const u32 b = g / chunks;
    if (b >= p.batch) return;
    // Every block of the sequence derives the same gain from the source's mean activity.
    float s = 0.0f;
    for (u32 k = lid; k < p.o_src; k += COLUMN) s += y_src[b * p.o_src + k];
    const float act = block_sum(s, red) / (float)p.o_src;
    const u32 slot = b * p.n_conn + p.conn;
    float gain = gains[p.conn] + fminf(p.fast_decay * fast[slot] + p.fast_rate * fabsf(act), p.fast_cap);
    if (p.inhibitory != 0u) gain = -fabsf(gain);
    const float drive = fabsf(act * gain);
    if (drive < p.gate_threshold) gain = gain * drive / p.gate_threshold;
    const u32 chunk = g % chunks;
    if (chunk == 0u && lid == 0u) acts[slot] = act;
    const u32 i = chunk * COLUMN + lid;
    if (i >= p.rows) return;
    float sum = 0.0f;
#pragma unroll 8
    for (u32 k = 0u; k < p.fanout; k++) {
        const u32 syn = k * p.rows + i;
        sum += p_val_at(syn) * y_src[b * p.o_src + p_idx[syn]];
    }
    const float v = gain * sum;
    const u32 o = b * p.rows + i;
    j[o] = p.accumulate != 0u ? j[o] + v : v;
}
