// logits: logits[b, v] = b_dec[v] + sum_d W_dec[v, d] * y[b, d] (SPEC §4).
// One workgroup per (vocabulary row, tile of up to 8 sequences): threads stride over d, so the
// row is read once, coalesced, for the whole tile; the accumulators stay in registers.
struct Params { batch: u32, vocab: u32, width: u32, _p0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(1) @binding(0) var<storage, read> dec_w: array<f32>;
@group(1) @binding(1) var<storage, read> dec_b: array<f32>;
@group(1) @binding(2) var<storage, read> y: array<f32>;
@group(1) @binding(3) var<storage, read_write> logits: array<f32>;

const TILE: u32 = 8u;
var<workgroup> tile_red: array<f32, 2048>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let r = g % p.vocab;
    let b0 = (g / p.vocab) * TILE;
    if (b0 >= p.batch) { return; }
    let nb = min(TILE, p.batch - b0);
    // Rows of y for the tile; sequences past the batch repeat the last one and are not written.
    let last = p.batch - 1u;
    let w = p.width;
    let y0 = vec4<u32>(min(b0, last), min(b0 + 1u, last), min(b0 + 2u, last), min(b0 + 3u, last)) * w;
    let y1 = vec4<u32>(min(b0 + 4u, last), min(b0 + 5u, last), min(b0 + 6u, last), min(b0 + 7u, last)) * w;
    let row = r * w;
    var lo = vec4<f32>(0.0);
    var hi = vec4<f32>(0.0);
    if (nb == 1u) {
        for (var d = lid; d < w; d += 256u) { lo.x += dec_w[row + d] * y[y0.x + d]; }
    } else if (nb <= 4u) {
        for (var d = lid; d < w; d += 256u) {
            lo += dec_w[row + d] * vec4<f32>(y[y0.x + d], y[y0.y + d], y[y0.z + d], y[y0.w + d]);
        }
    } else {
        for (var d = lid; d < w; d += 256u) {
            let wd = dec_w[row + d];
            lo += wd * vec4<f32>(y[y0.x + d], y[y0.y + d], y[y0.z + d], y[y0.w + d]);
            hi += wd * vec4<f32>(y[y1.x + d], y[y1.y + d], y[y1.z + d], y[y1.w + d]);
        }
    }
    tile_red[lid] = lo.x; tile_red[256u + lid] = lo.y; tile_red[512u + lid] = lo.z; tile_red[768u + lid] = lo.w;
    tile_red[1024u + lid] = hi.x; tile_red[1280u + lid] = hi.y; tile_red[1536u + lid] = hi.z; tile_red[1792u + lid] = hi.w;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid < s) {
            for (var t = 0u; t < nb; t++) { tile_red[t * 256u + lid] += tile_red[t * 256u + lid + s]; }
        }
        workgroupBarrier();
    }
    if (lid < nb) { logits[(b0 + lid) * p.vocab + r] = dec_b[r] + tile_red[lid * 256u]; }
}
