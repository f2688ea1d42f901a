// embed_gate: device-side embedding lookup and thalamic gating (docs/model.md §3.1). One block per sequence.
KERNEL {
    __shared__ float red[COLUMN];
    const u32 b = block_id(), lid = threadIdx.x, e = p.embed;
    if (b >= p.batch) return;
    const size_t base = (size_t)tokens[b * p.tstride + p.pos] * e;
    float s = 0.0f;
    for (u32 i = lid; i < e; i += COLUMN) s += emb_at(base + i);
    float mean = block_sum(s, red) / (float)e;
    float q = 0.0f;
    for (u32 i = lid; i < e; i += COLUMN) { float d = emb_at(base + i) - mean; q += d * d; }
    float sd = sqrtf(block_sum(q, red) / (float)e);
    float snr = sd < 1e-6f ? 0.0f : fabsf(mean) / sd;
    bool pass_through = snr > p.tau_att;
    for (u32 i = lid; i < e; i += COLUMN) {
        float delta = emb_at(base + i) - prev[b * e + i];
        float gated = fabsf(delta) > p.tau_att ? delta : 0.0f;
        j[b * e + i] = pass_through ? emb_at(base + i) : gated;
        prev[b * e + i] = emb_at(base + i);
    }
}
