// decoder_grad: one workgroup per tile of 8 vocabulary rows; threads stride over d.
// g_w[v, d] = sum_r grads[r, v] * y[r, d] / count; g_b[v] = sum_r grads[r, v] / count;
// partials[tile] = the tile's share of the squared gradient norm.
struct Params { rows: u32, vocab: u32, width: u32, _p0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(1) @binding(0) var<storage, read> grads: array<f32>;
@group(1) @binding(1) var<storage, read> y: array<f32>;
@group(1) @binding(2) var<storage, read> totals: array<f32>;
@group(1) @binding(3) var<storage, read_write> g_w: array<f32>;
@group(1) @binding(4) var<storage, read_write> g_b: array<f32>;
@group(1) @binding(5) var<storage, read_write> partials: array<f32>;

const TILE: u32 = 8u;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let tile = wid.x + wid.y * nwg.x;
    let v0 = tile * TILE;
    if (v0 >= p.vocab) { return; }
    let last = p.vocab - 1u;
    let inv = totals[3];
    let va = min(vec4<u32>(v0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last));
    let vb = min(vec4<u32>(v0) + vec4<u32>(4u, 5u, 6u, 7u), vec4<u32>(last));
    let nv = min(TILE, p.vocab - v0);
    var sq = 0.0;
    for (var d = lid; d < p.width; d += 256u) {
        var lo = vec4<f32>(0.0);
        var hi = vec4<f32>(0.0);
        for (var r = 0u; r < p.rows; r++) {
            let yv = y[r * p.width + d];
            let g = r * p.vocab;
            lo += yv * vec4<f32>(grads[g + va.x], grads[g + va.y], grads[g + va.z], grads[g + va.w]);
            hi += yv * vec4<f32>(grads[g + vb.x], grads[g + vb.y], grads[g + vb.z], grads[g + vb.w]);
        }
        lo *= inv;
        hi *= inv;
        for (var t = 0u; t < nv; t++) {
            let val = select(hi[t % 4u], lo[t % 4u], t < 4u);
            g_w[(v0 + t) * p.width + d] = val;
            sq += val * val;
        }
    }
    if (lid < nv) {
        var s = 0.0;
        for (var r = 0u; r < p.rows; r++) { s += grads[r * p.vocab + v0 + lid]; }
        s *= inv;
        g_b[v0 + lid] = s;
        sq += s * s;
    }
    let total = reduce_sum(lid, sq);
    if (lid == 0u) { partials[tile] = total; }
}
