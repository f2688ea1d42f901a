// commit: dst[i] = src[i] for i < len, only when all n_flags health flags are clear (a step with a
// NaN or Inf anywhere applies none of its updates).

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * COLUMN + lid;
    if (i >= p.len) { return; }
    for (var k = 0u; k < p.n_flags; k++) { if (flags[k] != 0u) { return; } }
    dst[i] = src[i];
}
