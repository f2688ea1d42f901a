// sgd_step: param[i] -= lr * scalars[0] * grad[i], in place, in two passes (see adam_step).

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * COLUMN + lid;
    if (i >= p.len) { return; }
    let w1 = param[i] - p.lr * scalars[0] * grad[i];
    if (p.apply == 0u) {
        if (!is_finite(w1)) { atomicOr(&flags[p.slot], 1u); }
        return;
    }
    for (var k = 0u; k < p.n_flags; k++) { if (atomicLoad(&flags[k]) != 0u) { return; } }
    param[i] = w1;
}
