// copy: dst[dst_offset + i] = src[src_offset + i] for i < len (readout recording, bandwidth probe).

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * COLUMN + lid;
    if (i < p.len) {
        dst[p.dst_offset + i] = src[p.src_offset + i];
    }
}
