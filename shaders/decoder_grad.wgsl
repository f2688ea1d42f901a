// decoder_grad: g_w[v, d] = sum_r grads[r, v] * y[r, d] / count; g_b[v] = sum_r grads[r, v] / count;
// partials[workgroup] = its share of the squared gradient norm (bias in column tile 0).
// A tiled GEMM: each workgroup computes a GEMM_TILE x GEMM_TILE (vocabulary x column) tile,
// staging GEMM_DEPTH rows of both operands in workgroup memory, so each element read from global
// memory serves GEMM_TILE products. Each invocation owns a 4 x 4 sub-tile
// (v = v0 + 4*ty + i, d = d0 + 4*tx + j) of the QT x QT grid of them.

const TM: u32 = GEMM_TILE;
const TK: u32 = GEMM_DEPTH;
const QT: u32 = GEMM_TILE / 4u;
var<workgroup> gs: array<vec4<f32>, TK * QT>; // [TK][TM / 4]
var<workgroup> ys: array<vec4<f32>, TK * QT>;

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let vtiles = (p.vocab + TM - 1u) / TM;
    let dtiles = (p.width + TM - 1u) / TM;
    if (g >= vtiles * dtiles) { return; }
    let v0 = (g % vtiles) * TM;
    let d0 = (g / vtiles) * TM;
    let tx = lid % QT;
    let ty = lid / QT;
    var acc: array<vec4<f32>, 4>; // acc[i][j]
    var bsum = vec4<f32>(0.0);
    // Each invocation stages one vec4 of each operand per chunk: row k = lid / QT, columns 4*(lid % QT)..
    let k_ld = lid / QT;
    let c_ld = 4u * (lid % QT);
    if (p.product_given != 0u && d0 == 0u && tx == 0u) {
        // A vendor GEMM wrote the product into g_w (read below); the bias is summed here.
        for (var i = 0u; i < 4u; i++) {
            let v = v0 + 4u * ty + i;
            if (v < p.vocab) {
                for (var r = 0u; r < p.rows; r++) { bsum[i] += grads[r * p.vocab + v]; }
            }
        }
    }
    for (var r0 = 0u; r0 < p.rows * u32(p.product_given == 0u); r0 += TK) {
        let r = r0 + k_ld;
        var a = vec4<f32>(0.0);
        var b = vec4<f32>(0.0);
        if (r < p.rows) {
            for (var q = 0u; q < 4u; q++) {
                if (v0 + c_ld + q < p.vocab) { a[q] = grads[r * p.vocab + v0 + c_ld + q]; }
                if (d0 + c_ld + q < p.width) { b[q] = y[r * p.width + d0 + c_ld + q]; }
            }
        }
        gs[lid] = a;
        ys[lid] = b;
        workgroupBarrier();
        for (var k = 0u; k < TK; k++) {
            let av = gs[k * QT + ty];
            let bv = ys[k * QT + tx];
            bsum += av;
            acc[0] += av.x * bv;
            acc[1] += av.y * bv;
            acc[2] += av.z * bv;
            acc[3] += av.w * bv;
        }
        workgroupBarrier();
    }
    let inv = totals[3];
    var sq = 0.0;
    for (var i = 0u; i < 4u; i++) {
        let v = v0 + 4u * ty + i;
        if (v < p.vocab) {
            for (var j = 0u; j < 4u; j++) {
                let d = d0 + 4u * tx + j;
                if (d < p.width) {
                    let at = v * p.width + d;
                    let val = select(acc[i][j], g_w[at], p.product_given != 0u) * inv;
                    g_w[at] = val;
                    sq += val * val;
                }
            }
            if (d0 == 0u && tx == 0u) {
                let s = bsum[i] * inv;
                g_b[v] = s;
                sq += s * s;
            }
        }
    }
    let total = reduce_sum(lid, sq);
    if (lid == 0u) { partials[g] = total; }
}
