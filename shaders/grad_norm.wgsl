// grad_norm: one workgroup; scalars = [scale, norm] with scale = min(1, clip / norm).

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    var s = 0.0;
    for (var i = lid; i < p.n_partials; i += COLUMN) { s += partials[i]; }
    let norm = sqrt(reduce_sum(lid, s));
    if (lid == 0u) {
        scalars[0] = select(1.0, p.clip / norm, norm > p.clip);
        scalars[1] = norm;
    }
}
