// conn_gain: fast weight and soft gating of one connection (SPEC §3.3). One workgroup per sequence.
struct Params {
    batch: u32, o_src: u32, conn: u32, n_conn: u32,
    inhibitory: u32, gate_threshold: f32, fast_decay: f32, fast_rate: f32,
    fast_cap: f32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(1) @binding(0) var<storage, read> y_src: array<f32>;
@group(1) @binding(1) var<storage, read> gains: array<f32>;
@group(1) @binding(2) var<storage, read_write> fast: array<f32>;
@group(1) @binding(3) var<storage, read_write> geff: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let b = wid.x + wid.y * nwg.x;
    if (b >= p.batch) { return; }
    var s = 0.0;
    for (var i = lid; i < p.o_src; i += 256u) { s += y_src[b * p.o_src + i]; }
    let act = reduce_sum(lid, s) / f32(p.o_src);
    if (lid == 0u) {
        let slot = b * p.n_conn + p.conn;
        let f = min(p.fast_decay * fast[slot] + p.fast_rate * abs(act), p.fast_cap);
        fast[slot] = f;
        var g = gains[p.conn] + f;
        if (p.inhibitory != 0u) { g = -abs(g); }
        let drive = abs(act * g);
        if (drive < p.gate_threshold) { g = g * drive / p.gate_threshold; }
        geff[slot] = g;
    }
}
