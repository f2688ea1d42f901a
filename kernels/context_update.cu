// context_update: end of a tick: working-memory context, PFC hidden state, neuromodulator decay
// (docs/model.md §3.6) and each connection's fast weight from this tick's activity (§3.2).
KERNEL {
    const u32 width = max(max(max(p.o_thal, p.o_pfc), 2u * MODULES), p.n_conn);
    const u32 chunks = (width + COLUMN - 1u) / COLUMN, g = block_id();
    const u32 b = g / chunks, i = (g % chunks) * COLUMN + threadIdx.x;
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
