// embed_gate: device-side embedding lookup and thalamic gating (SPEC §3.1-2). One block per sequence.
struct EmbedGateParams { u32 batch, embed, tstride, pos; float tau_att; u32 _p0, _p1, _p2; };

extern "C" __global__ void __launch_bounds__(256) embed_gate(const EmbedGateParams p, const u32* __restrict__ tokens,
        const float* __restrict__ emb, float* prev, float* j) {
    __shared__ float red[256];
    const u32 b = block_id(), lid = threadIdx.x, e = p.embed;
    if (b >= p.batch) return;
    const float* u = emb + (size_t)tokens[b * p.tstride + p.pos] * e;
    float s = 0.0f;
    for (u32 i = lid; i < e; i += 256u) s += u[i];
    float mean = block_sum(s, red) / (float)e;
    float q = 0.0f;
    for (u32 i = lid; i < e; i += 256u) { float d = u[i] - mean; q += d * d; }
    float sd = sqrtf(block_sum(q, red) / (float)e);
    float snr = sd < 1e-6f ? 0.0f : fabsf(mean) / sd;
    bool pass_through = snr > p.tau_att;
    for (u32 i = lid; i < e; i += 256u) {
        float delta = u[i] - prev[b * e + i];
        float gated = fabsf(delta) > p.tau_att ? delta : 0.0f;
        j[b * e + i] = pass_through ? u[i] : gated;
        prev[b * e + i] = u[i];
    }
}
