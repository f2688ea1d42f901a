// pack_bf16: an invocation per output word, two values rounded to bf16 (nearest, ties to even; a
// NaN stays a quiet NaN), the even one in the low half.
fn bf16_bits(b: u32) -> u32 {
    if ((b & 0x7fffffffu) > 0x7f800000u) { return (b >> 16u) | 0x40u; }
    return (b + 0x7fffu + ((b >> 16u) & 1u)) >> 16u;
}

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let w = (wg.x + wg.y * nwg.x) * COLUMN + lid;
    let i = 2u * w;
    if (i >= p.len) { return; }
    var hi = 0u;
    if (i + 1u < p.len) { hi = bf16_bits(src[i + 1u]); }
    dst[w] = bf16_bits(src[i]) | (hi << 16u);
}
