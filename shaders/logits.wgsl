// logits: logits[b, v] = b_dec[v] + sum_d W_dec[v, d] * y[b, d].
// Row path: one workgroup per (vocabulary row, tile of up to LOGITS_BATCH_TILE = 8 sequences, held
// in the vec4 pair lo/hi), threads stride over d, so the row is read once, coalesced, per tile;
// accumulators stay in registers. GEMM path (p.path == LOGITS_GEMM, chosen by the backend's
// launch shapes for many sequences and a large vocabulary): one workgroup per GEMM_TILE x GEMM_TILE
// (vocabulary x sequence) tile, staging GEMM_DEPTH columns of both operands in workgroup memory
// (stride TS = GEMM_TILE + 1); each invocation owns a 4 x 4 sub-tile (v = v0 + 4*tx + i,
// b = b0 + 4*ty + j) of the QT x QT grid of them, so stores are coalesced along v.

const TILE: u32 = LOGITS_BATCH_TILE;
const TM: u32 = GEMM_TILE;
const TK: u32 = GEMM_DEPTH;
const TS: u32 = GEMM_TILE + 1u;
const QT: u32 = GEMM_TILE / 4u;
const YS: u32 = TK * TS; // where the y tile starts in `smem`
// Row path: per-sequence partial sums [TILE][COLUMN]; tiled path: W tile then y tile, [TK][TS] each.
var<workgroup> smem: array<f32, max(TILE * COLUMN, 2u * TK * TS)>;

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    if (p.path == LOGITS_GEMM) {
        tiled(g, lid);
    } else {
        rows(g, lid);
    }
}

fn rows(g: u32, lid: u32) {
    let r = g % p.vocab;
    let b0 = (g / p.vocab) * TILE;
    if (b0 >= p.batch) { return; }
    let nb = min(TILE, p.batch - b0);
    // Rows of y for the tile; sequences past the batch repeat the last one and are not written.
    let last = p.batch - 1u;
    let w = p.width;
    let y0 = vec4<u32>(b0, min(b0 + 1u, last), min(b0 + 2u, last), min(b0 + 3u, last)) * w;
    let y1 = vec4<u32>(min(b0 + 4u, last), min(b0 + 5u, last), min(b0 + 6u, last), min(b0 + 7u, last)) * w;
    let row = r * w;
    var lo = vec4<f32>(0.0);
    var hi = vec4<f32>(0.0);
    if (nb == 1u) {
        for (var d = lid; d < w; d += COLUMN) { lo.x += dec_w_at(row + d) * y[y0.x + d]; }
    } else if (nb <= 4u) {
        for (var d = lid; d < w; d += COLUMN) {
            lo += dec_w_at(row + d) * vec4<f32>(y[y0.x + d], y[y0.y + d], y[y0.z + d], y[y0.w + d]);
        }
    } else {
        for (var d = lid; d < w; d += COLUMN) {
            let wd = dec_w_at(row + d);
            lo += wd * vec4<f32>(y[y0.x + d], y[y0.y + d], y[y0.z + d], y[y0.w + d]);
            hi += wd * vec4<f32>(y[y1.x + d], y[y1.y + d], y[y1.z + d], y[y1.w + d]);
        }
    }
    smem[lid] = lo.x; smem[COLUMN + lid] = lo.y; smem[2u * COLUMN + lid] = lo.z; smem[3u * COLUMN + lid] = lo.w;
    smem[4u * COLUMN + lid] = hi.x; smem[5u * COLUMN + lid] = hi.y; smem[6u * COLUMN + lid] = hi.z;
    smem[7u * COLUMN + lid] = hi.w;
    workgroupBarrier();
    for (var s = COLUMN / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            for (var t = 0u; t < nb; t++) { smem[t * COLUMN + lid] += smem[t * COLUMN + lid + s]; }
        }
        workgroupBarrier();
    }
    if (lid < nb) { logits[(b0 + lid) * p.vocab + r] = dec_b[r] + smem[lid * COLUMN]; }
}

fn tiled(g: u32, lid: u32) {
    let vtiles = (p.vocab + TM - 1u) / TM;
    let btiles = (p.batch + TM - 1u) / TM;
    if (g >= vtiles * btiles) { return; }
    let v0 = (g % vtiles) * TM;
    let b0 = (g / vtiles) * TM;
    let tx = lid % QT;
    let ty = lid / QT;
    var acc: array<vec4<f32>, 4>; // acc[j][i]: sequence 4*ty + j, vocabulary row 4*tx + i
    for (var k0 = 0u; k0 < p.width; k0 += TK) {
        for (var q = 0u; q < 4u; q++) {
            let e = lid + COLUMN * q;
            let c = e / TK;
            let k = e % TK;
            let d = k0 + k;
            var wv = 0.0;
            var yv = 0.0;
            if (d < p.width && v0 + c < p.vocab) { wv = dec_w_at((v0 + c) * p.width + d); }
            if (d < p.width && b0 + c < p.batch) { yv = y[(b0 + c) * p.width + d]; }
            smem[k * TS + c] = wv;
            smem[YS + k * TS + c] = yv;
        }
        workgroupBarrier();
        for (var k = 0u; k < TK; k++) {
            let a0 = k * TS + 4u * tx;
            let a = vec4<f32>(smem[a0], smem[a0 + 1u], smem[a0 + 2u], smem[a0 + 3u]);
            let b1 = YS + k * TS + 4u * ty;
            acc[0] += smem[b1] * a;
            acc[1] += smem[b1 + 1u] * a;
            acc[2] += smem[b1 + 2u] * a;
            acc[3] += smem[b1 + 3u] * a;
        }
        workgroupBarrier();
    }
    for (var j = 0u; j < 4u; j++) {
        let b = b0 + 4u * ty + j;
        if (b < p.batch) {
            for (var i = 0u; i < 4u; i++) {
                let v = v0 + 4u * tx + i;
                if (v < p.vocab) { logits[b * p.vocab + v] = dec_b[v] + acc[j][i]; }
            }
        }
    }
}
