// health: sets flags[slot] when any of len words of data is NaN or +-Inf (exponent bits all ones).

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * COLUMN + lid;
    if (i < p.len && (data[i] & 0x7f800000u) == 0x7f800000u) { atomicOr(&flags[p.slot], 1u); }
}
