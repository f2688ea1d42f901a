// transpose: dst[c * rows + r] = src[r * width + c] ([rows][width] to [width][rows]). A workgroup
// moves one TRANSPOSE_TILE x TRANSPOSE_TILE tile through workgroup memory, so that both the reads
// (along c) and the writes (along r) are contiguous.

const TT: u32 = TRANSPOSE_TILE;
const PER: u32 = TRANSPOSE_TILE * TRANSPOSE_TILE / COLUMN;
var<workgroup> tile: array<f32, TRANSPOSE_TILE * (TRANSPOSE_TILE + 1u)>;

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let ctiles = (p.width + TT - 1u) / TT;
    let rtiles = (p.rows + TT - 1u) / TT;
    if (g >= ctiles * rtiles) { return; }
    let c0 = (g % ctiles) * TT;
    let r0 = (g / ctiles) * TT;
    let x = lid % TT;
    let y0 = lid / TT;
    for (var k = 0u; k < PER; k++) {
        let y = y0 + k * (COLUMN / TT);
        let r = r0 + y;
        let c = c0 + x;
        if (r < p.rows && c < p.width) { tile[y * (TT + 1u) + x] = src[r * p.width + c]; }
    }
    workgroupBarrier();
    for (var k = 0u; k < PER; k++) {
        let y = y0 + k * (COLUMN / TT);
        let c = c0 + y;
        let r = r0 + x;
        if (r < p.rows && c < p.width) { dst[c * p.rows + r] = tile[x * (TT + 1u) + y]; }
    }
}
