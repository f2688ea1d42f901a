// gather_rows: dst[(row0 + b) * dst_stride + dst_offset + i] = scale * src[b * src_stride + i]
// (a module's signal into its columns of the decoder features).

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let per_row = (p.width + COLUMN - 1u) / COLUMN;
    let b = g / per_row;
    let i = (g % per_row) * COLUMN + lid;
    if (b < p.batch && i < p.width) {
        dst[(p.row0 + b) * p.dst_stride + p.dst_offset + i] = p.scale * src[b * p.src_stride + i];
    }
}
