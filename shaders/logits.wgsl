// logits: logits[b, v] = b_dec[v] + sum_d W_dec[v, d] * y[b, d] (SPEC §4).
// One workgroup per (vocabulary row, tile of 8 sequences); threads stride over d, so the row is
// read once, coalesced, for all 8 sequences.
struct Params { batch: u32, vocab: u32, width: u32, _p0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(1) @binding(0) var<storage, read> dec_w: array<f32>;
@group(1) @binding(1) var<storage, read> dec_b: array<f32>;
@group(1) @binding(2) var<storage, read> y: array<f32>;
@group(1) @binding(3) var<storage, read_write> logits: array<f32>;

const TILE: u32 = 8u;
var<workgroup> red: array<f32, 2048>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let r = g % p.vocab;
    let b0 = (g / p.vocab) * TILE;
    if (b0 >= p.batch) { return; }
    let nb = min(TILE, p.batch - b0);
    var acc: array<f32, 8>;
    for (var t = 0u; t < TILE; t++) { acc[t] = 0.0; }
    for (var d = lid; d < p.width; d += 256u) {
        let w = dec_w[r * p.width + d];
        for (var t = 0u; t < nb; t++) { acc[t] += w * y[(b0 + t) * p.width + d]; }
    }
    for (var t = 0u; t < TILE; t++) { red[t * 256u + lid] = acc[t]; }
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid < s) {
            for (var t = 0u; t < TILE; t++) { red[t * 256u + lid] += red[t * 256u + lid + s]; }
        }
        workgroupBarrier();
    }
    if (lid < nb) { logits[(b0 + lid) * p.vocab + r] = dec_b[r] + red[lid * 256u]; }
}
