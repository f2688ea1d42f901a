// eprop_filter: e-prop's per-neuron factor, neuron-major (docs/model.md §6, e-prop). An invocation
// per (sequence b, neuron i), b fastest so that neighbouring invocations write neighbouring
// q_t[i * rows + t * batch + b]; backward over positions: L~ = signal + lambda * L~, q_t = psi * L~.

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = (wid.x + wid.y * nwg.x) * COLUMN + lid;
    if (g >= p.n * p.batch) { return; }
    let b = g % p.batch;
    let i = g / p.batch;
    let rows = p.batch * p.positions;
    var filtered = 0.0;
    for (var t = p.positions; t > 0u; t--) {
        let r = (t - 1u) * p.batch + b;
        filtered = signal[r * p.n + i] + p.lambda * filtered;
        q_t[i * rows + r] = psi[r * p.n + i] * filtered;
    }
}
