// learning_signal: signal[r, i] = sum_k grads[r, k] * dec_w[k, offset + i] (e-prop's learning
// signal through the decoder's weights). A tiled GEMM: each workgroup computes a GEMM_TILE x
// GEMM_TILE (row x neuron) tile, staging GEMM_DEPTH vocabulary entries of both operands in
// workgroup memory; each invocation owns a 4 x 4 sub-tile (r = r0 + 4*ty + a, i = i0 + 4*tx + c),
// stores coalesced along i.

const TM: u32 = GEMM_TILE;
const TK: u32 = GEMM_DEPTH;
const QT: u32 = GEMM_TILE / 4u;
var<workgroup> gs: array<f32, TK * TM>;
var<workgroup> ws: array<f32, TK * TM>;

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let itiles = (p.n + TM - 1u) / TM;
    let rtiles = (p.rows + TM - 1u) / TM;
    if (g >= itiles * rtiles) { return; }
    let i0 = (g % itiles) * TM;
    let r0 = (g / itiles) * TM;
    let tx = lid % QT;
    let ty = lid / QT;
    var acc: array<vec4<f32>, 4>; // acc[a][c]: row 4*ty + a, neuron 4*tx + c
    for (var k0 = 0u; k0 < p.vocab; k0 += TK) {
        for (var q = 0u; q < 4u; q++) {
            let e = lid + COLUMN * q;
            let gc = e / TK;
            let gk = e % TK;
            var gv = 0.0;
            if (r0 + gc < p.rows && k0 + gk < p.vocab) { gv = grads[(r0 + gc) * p.vocab + k0 + gk]; }
            gs[gk * TM + gc] = gv;
            let wk = e / TM;
            let wc = e % TM;
            var wv = 0.0;
            if (k0 + wk < p.vocab && i0 + wc < p.n) { wv = dec_w[(k0 + wk) * p.width + p.offset + i0 + wc]; }
            ws[wk * TM + wc] = wv;
        }
        workgroupBarrier();
        for (var k = 0u; k < TK; k++) {
            let w0 = k * TM + 4u * tx;
            let b = vec4<f32>(ws[w0], ws[w0 + 1u], ws[w0 + 2u], ws[w0 + 3u]);
            let g0 = k * TM + 4u * ty;
            acc[0] += gs[g0] * b;
            acc[1] += gs[g0 + 1u] * b;
            acc[2] += gs[g0 + 2u] * b;
            acc[3] += gs[g0 + 3u] * b;
        }
        workgroupBarrier();
    }
    for (var a = 0u; a < 4u; a++) {
        let r = r0 + 4u * ty + a;
        if (r < p.rows) {
            for (var c = 0u; c < 4u; c++) {
                let i = i0 + 4u * tx + c;
                if (i < p.n) { signal[r * p.n + i] = acc[a][c]; }
            }
        }
    }
}
