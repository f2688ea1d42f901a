// context_update: end of a tick: working-memory context, PFC hidden state, neuromodulator decay
// (docs/model.md §3.6) and each connection's fast weight from this tick's activity (§3.2).

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let width = max(max(max(p.o_thal, p.o_pfc), 2u * MODULES), p.n_conn);
    let chunks = (width + COLUMN - 1u) / COLUMN;
    let b = g / chunks;
    let i = (g % chunks) * COLUMN + lid;
    if (b >= p.batch) { return; }
    if (i < p.o_thal) {
        let o = b * p.o_thal + i;
        let y = y_thal[o];
        if (p.first != 0u) { context[o] = y; } else { context[o] = p.ctx_decay * context[o] + (1.0 - p.ctx_decay) * y; }
    }
    if (i < p.o_pfc) {
        let o = b * p.o_pfc + i;
        hidden[o] = p.hidden_decay * hidden[o] + (1.0 - p.hidden_decay) * y_pfc[o];
    }
    if (i < p.n_conn) {
        let o = b * p.n_conn + i;
        fast[o] = min(p.fast_decay * fast[o] + p.fast_rate * abs(acts[o]), p.fast_cap);
    }
    if (i < 2u * MODULES) {
        let o = b * 2u * MODULES + i;
        neuromod[o] = neuromod[o] * select(p.ht_decay, p.da_decay, i % 2u == 0u);
    }
}
