// embed_gate: device-side embedding lookup and thalamic gating (SPEC §3.1-2).
// One workgroup per sequence b. Writes the Thalamus input current j[b, 0..E] and prev[b].
struct Params { batch: u32, embed: u32, tstride: u32, pos: u32, tau_att: f32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(1) @binding(0) var<storage, read> tokens: array<u32>;
@group(1) @binding(1) var<storage, read> emb: array<f32>;
@group(1) @binding(2) var<storage, read_write> prev: array<f32>;
@group(1) @binding(3) var<storage, read_write> j: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let b = wid.x + wid.y * nwg.x;
    if (b >= p.batch) { return; }
    let e = p.embed;
    let base = tokens[b * p.tstride + p.pos] * e;
    var s = 0.0;
    for (var i = lid; i < e; i += 256u) { s += emb[base + i]; }
    let mean = reduce_sum(lid, s) / f32(e);
    var q = 0.0;
    for (var i = lid; i < e; i += 256u) { let d = emb[base + i] - mean; q += d * d; }
    let sd = sqrt(reduce_sum(lid, q) / f32(e));
    let snr = select(abs(mean) / sd, 0.0, sd < 1e-6);
    let pass_through = snr > p.tau_att;
    for (var i = lid; i < e; i += 256u) {
        let u = emb[base + i];
        let delta = u - prev[b * e + i];
        let gated = select(0.0, delta, abs(delta) > p.tau_att);
        j[b * e + i] = select(gated, u, pass_through);
        prev[b * e + i] = u;
    }
}
