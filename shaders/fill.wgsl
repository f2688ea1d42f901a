// fill: out[i] = value for i < len. Resets state at the start of a call without a host upload.

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * COLUMN + lid;
    if (i < p.len) {
        out[i] = p.value;
    }
}
