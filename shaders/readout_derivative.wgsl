// readout_derivative: an invocation per (readout, sequence): psi[row0 + b][i] = 0.1 y (1 - y) above
// the resting readout, else 0 (e-prop through a readout, docs/model.md §6).

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let chunks = (p.outputs + COLUMN - 1u) / COLUMN;
    let b = g / chunks;
    let i = (g % chunks) * COLUMN + lid;
    if (b >= p.batch || i >= p.outputs) { return; }
    let v = y[b * p.outputs + i];
    var d = 0.0;
    if (v > p.rest) { d = 0.1 * v * (1.0 - v); }
    psi[(p.row0 + b) * p.outputs + i] = d;
}
