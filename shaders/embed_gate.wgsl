// embed_gate: device-side embedding lookup and thalamic gating (docs/model.md §3.1).
// One workgroup per sequence b. Writes the Thalamus input current j[b, 0..E] and prev[b].

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let b = wid.x + wid.y * nwg.x;
    if (b >= p.batch) { return; }
    let e = p.embed;
    let base = tokens[b * p.tstride + p.pos] * e;
    var s = 0.0;
    for (var i = lid; i < e; i += COLUMN) { s += emb_at(base + i); }
    let mean = reduce_sum(lid, s) / f32(e);
    var q = 0.0;
    for (var i = lid; i < e; i += COLUMN) { let d = emb_at(base + i) - mean; q += d * d; }
    let sd = sqrt(reduce_sum(lid, q) / f32(e));
    let snr = select(abs(mean) / sd, 0.0, sd < 1e-6);
    let pass_through = snr > p.tau_att;
    for (var i = lid; i < e; i += COLUMN) {
        let u = emb_at(base + i);
        let delta = u - prev[b * e + i];
        let gated = select(0.0, delta, abs(delta) > p.tau_att);
        j[b * e + i] = select(gated, u, pass_through);
        prev[b * e + i] = u;
    }
}
