// context_update: end of a tick: working-memory context, PFC hidden state, neuromodulator decay
// (SPEC §3.8-9) and each connection's fast weight from this tick's activity (SPEC §3.3).
struct ContextParams {
    u32 batch, o_thal, o_pfc, first;
    float ctx_decay, hidden_decay, da_decay, ht_decay;
    u32 n_conn;
    float fast_decay, fast_rate, fast_cap;
};

extern "C" __global__ void __launch_bounds__(256) context_update(const ContextParams p, const float* __restrict__ y_thal,
        const float* __restrict__ y_pfc, const float* __restrict__ acts, float* context, float* hidden, float* neuromod,
        float* fast) {
    const u32 width = max(max(max(p.o_thal, p.o_pfc), 2u * MODULES), p.n_conn);
    const u32 chunks = (width + 255u) / 256u, g = block_id();
    const u32 b = g / chunks, i = (g % chunks) * 256u + threadIdx.x;
    if (b >= p.batch) return;
    if (i < p.o_thal) {
        u32 o = b * p.o_thal + i;
        context[o] = p.first != 0u ? y_thal[o] : p.ctx_decay * context[o] + (1.0f - p.ctx_decay) * y_thal[o];
    }
    if (i < p.o_pfc) {
        u32 o = b * p.o_pfc + i;
        hidden[o] = p.hidden_decay * hidden[o] + (1.0f - p.hidden_decay) * y_pfc[o];
    }
    if (i < p.n_conn) {
        const u32 o = b * p.n_conn + i;
        fast[o] = fminf(p.fast_decay * fast[o] + p.fast_rate * fabsf(acts[o]), p.fast_cap);
    }
    if (i < 2u * MODULES) {
        u32 o = b * 2u * MODULES + i;
        neuromod[o] = neuromod[o] * (i % 2u == 0u ? p.da_decay : p.ht_decay);
    }
}
