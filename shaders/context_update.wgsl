// context_update: end of a tick: working-memory context, PFC hidden state, neuromodulator decay
// (SPEC §3.8-9) and each connection's fast weight from this tick's activity (SPEC §3.3).
struct Params {
    batch: u32, o_thal: u32, o_pfc: u32, first: u32,
    ctx_decay: f32, hidden_decay: f32, da_decay: f32, ht_decay: f32,
    n_conn: u32, fast_decay: f32, fast_rate: f32, fast_cap: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(1) @binding(0) var<storage, read> y_thal: array<f32>;
@group(1) @binding(1) var<storage, read> y_pfc: array<f32>;
@group(1) @binding(2) var<storage, read> acts: array<f32>;
@group(1) @binding(3) var<storage, read_write> context: array<f32>;
@group(1) @binding(4) var<storage, read_write> hidden: array<f32>;
@group(1) @binding(5) var<storage, read_write> neuromod: array<f32>;
@group(1) @binding(6) var<storage, read_write> fast: array<f32>;

const MODULES: u32 = 6u;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let width = max(max(max(p.o_thal, p.o_pfc), 2u * MODULES), p.n_conn);
    let chunks = (width + 255u) / 256u;
    let b = g / chunks;
    let i = (g % chunks) * 256u + lid;
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
