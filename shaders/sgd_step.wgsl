// sgd_step: grad[i] <- param[i] - lr * scalars[0] * grad[i] (the gradient becomes the next value).

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * COLUMN + lid;
    if (i < p.len) { grad[i] = param[i] - p.lr * scalars[0] * grad[i]; }
}
