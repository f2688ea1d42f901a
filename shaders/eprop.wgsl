// eprop: one fixed-fanout matrix learns by e-prop (docs/model.md §6, e-prop). An invocation per
// (postsynaptic row i, EPROP_SLOTS of its slots): it reads the row's pseudo-derivative and learning
// signal once per position for all of them. Per sequence b, in position order (row r = t*batch + b):
// elig = lambda * elig + psi[r, i] * pre_j, acc += signal[r, i] * elig, with pre_j the presynaptic
// feature pre_lag positions back; w_next = clamp(w - rate * pre_scale * acc / count, -bound, bound).

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = (wid.x + wid.y * nwg.x) * COLUMN + lid;
    let chunks = (p.fanout + EPROP_SLOTS - 1u) / EPROP_SLOTS;
    if (g >= p.n * chunks) { return; }
    let i = g % p.n;
    let f0 = (g / p.n) * EPROP_SLOTS;
    let nf = min(EPROP_SLOTS, p.fanout - f0);
    var j: array<u32, EPROP_SLOTS>;
    var acc: array<f32, EPROP_SLOTS>;
    for (var s = 0u; s < nf; s++) { j[s] = w_idx[(f0 + s) * p.n + i]; }
    for (var b = 0u; b < p.batch; b++) {
        var elig: array<f32, EPROP_SLOTS>;
        for (var t = 0u; t < p.positions; t++) {
            let r = t * p.batch + b;
            let ps = psi[r * p.post_n + i];
            let sg = signal[r * p.post_n + i];
            let has_pre = t >= p.pre_lag;
            var base = 0u;
            if (has_pre) { base = (r - p.pre_lag * p.batch) * p.width + p.pre_offset; }
            for (var s = 0u; s < nf; s++) {
                var x = 0.0;
                if (has_pre) { x = features[base + j[s]]; }
                elig[s] = p.lambda * elig[s] + ps * x;
                acc[s] += sg * elig[s];
            }
        }
    }
    let step = -p.rate * p.pre_scale * totals[3];
    for (var s = 0u; s < nf; s++) {
        let syn = (f0 + s) * p.n + i;
        w_next[syn] = clamp(w_val[syn] + step * acc[s], -p.bound, p.bound);
    }
}
