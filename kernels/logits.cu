// logits: logits[b, v] = b_dec[v] + sum_d W_dec[v, d] * y[b, d].
// Row path: one block per (vocabulary row, tile of up to LOGITS_BATCH_TILE sequences), threads
// stride over d, so the row is read once, coalesced, per tile. GEMM path (p.path == LOGITS_GEMM,
// chosen by the backend's launch shapes for many sequences and a large vocabulary): one block per
// GEMM_TILE x GEMM_TILE (vocabulary x sequence) tile, staging GEMM_DEPTH columns of both operands
// in shared memory (stride TS = GEMM_TILE + 1: conflict-free transposed stores); each thread owns
// a 4 x 4 sub-tile (v = v0 + 4*tx + i, b = b0 + 4*ty + j) of the QT x QT grid of them, so stores
// are coalesced along v.
constexpr u32 TILE = LOGITS_BATCH_TILE, TM = GEMM_TILE, TK = GEMM_DEPTH, TS = GEMM_TILE + 1u, QT = GEMM_TILE / 4u;

__device__ void logits_rows(const Params& p, const u32* __restrict__ dec_w, const float* __restrict__ dec_b,
        const float* __restrict__ y, float* out) {
    __shared__ float red[TILE][COLUMN];
    const u32 g = block_id(), lid = threadIdx.x;
    const u32 r = g % p.vocab, b0 = (g / p.vocab) * TILE;
    if (b0 >= p.batch) return;
    const u32 nb = min(TILE, p.batch - b0);
    const float* yb = y + (size_t)b0 * p.width;
    float acc[TILE];
#pragma unroll
    for (u32 t = 0; t < TILE; t++) acc[t] = 0.0f;
    const size_t row = (size_t)r * p.width;
    if (p.bf16 != 0u && (p.width & 7u) == 0u) {
        // 16 bytes per load (eight bf16 values; four f32 below): a GEMV streams the decoder, and
        // 4-byte loads leave too few bytes in flight to reach the memory's bandwidth.
        for (u32 c = lid; c < p.width / 8u; c += COLUMN) {
            const uint4 q = reinterpret_cast<const uint4*>(dec_w)[(row >> 3) + c];
            const u32 words[4] = {q.x, q.y, q.z, q.w};
            float w[8];
#pragma unroll
            for (u32 h = 0; h < 4u; h++) {
                w[2u * h] = __uint_as_float(words[h] << 16);
                w[2u * h + 1u] = __uint_as_float(words[h] & 0xffff0000u);
            }
#pragma unroll
            for (u32 t = 0; t < TILE; t++) {
                if (t >= nb) continue;
                const float4* yt = reinterpret_cast<const float4*>(yb + (size_t)t * p.width) + 2u * c;
                const float4 y0 = yt[0], y1 = yt[1];
                acc[t] += w[0] * y0.x;
                acc[t] += w[1] * y0.y;
                acc[t] += w[2] * y0.z;
                acc[t] += w[3] * y0.w;
                acc[t] += w[4] * y1.x;
                acc[t] += w[5] * y1.y;
                acc[t] += w[6] * y1.z;
                acc[t] += w[7] * y1.w;
            }
        }
    } else if (p.bf16 == 0u && (p.width & 3u) == 0u) {
        for (u32 c = lid; c < p.width / 4u; c += COLUMN) {
            const uint4 q = reinterpret_cast<const uint4*>(dec_w)[(row >> 2) + c];
            const float w[4] = {__uint_as_float(q.x), __uint_as_float(q.y), __uint_as_float(q.z), __uint_as_float(q.w)};
#pragma unroll
            for (u32 t = 0; t < TILE; t++) {
                if (t >= nb) continue;
                const float4 yv = reinterpret_cast<const float4*>(yb + (size_t)t * p.width)[c];
                acc[t] += w[0] * yv.x;
                acc[t] += w[1] * yv.y;
                acc[t] += w[2] * yv.z;
                acc[t] += w[3] * yv.w;
            }
        }
    } else {
        for (u32 d = lid; d < p.width; d += COLUMN) {
            float w = dec_w_at(row + d);
#pragma unroll
            for (u32 t = 0; t < TILE; t++)
                if (t < nb) acc[t] += w * yb[(size_t)t * p.width + d];
        }
    }
#pragma unroll
    for (u32 t = 0; t < TILE; t++) red[t][lid] = acc[t];
    __syncthreads();
    for (u32 s = COLUMN / 2u; s > 0u; s >>= 1u) {
        if (lid < s)
            for (u32 t = 0; t < nb; t++) red[t][lid] += red[t][lid + s];
        __syncthreads();
    }
    if (lid < nb) out[(size_t)(b0 + lid) * p.vocab + r] = dec_b[r] + red[lid][0];
}

__device__ void logits_tiled(const Params& p, const u32* __restrict__ dec_w, const float* __restrict__ dec_b,
        const float* __restrict__ y, float* out) {
    __shared__ float ws[TK * TS];
    __shared__ float ys[TK * TS];
    const u32 g = block_id(), lid = threadIdx.x;
    const u32 vtiles = (p.vocab + TM - 1u) / TM, btiles = (p.batch + TM - 1u) / TM;
    if (g >= vtiles * btiles) return;
    const u32 v0 = (g % vtiles) * TM, b0 = (g / vtiles) * TM;
    const u32 tx = lid % QT, ty = lid / QT;
    float acc[4][4] = {};
    for (u32 k0 = 0u; k0 < p.width; k0 += TK) {
#pragma unroll
        for (u32 q = 0; q < 4u; q++) {
            const u32 e = lid + COLUMN * q, c = e / TK, k = e % TK, d = k0 + k;
            ws[k * TS + c] = (d < p.width && v0 + c < p.vocab) ? dec_w_at((size_t)(v0 + c) * p.width + d) : 0.0f;
            ys[k * TS + c] = (d < p.width && b0 + c < p.batch) ? y[(size_t)(b0 + c) * p.width + d] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (u32 k = 0; k < TK; k++) {
            float a[4], b[4];
#pragma unroll
            for (u32 i = 0; i < 4u; i++) {
                a[i] = ws[k * TS + 4u * tx + i];
                b[i] = ys[k * TS + 4u * ty + i];
            }
#pragma unroll
            for (u32 i = 0; i < 4u; i++)
#pragma unroll
                for (u32 j = 0; j < 4u; j++) acc[i][j] += a[i] * b[j];
        }
        __syncthreads();
    }
#pragma unroll
    for (u32 j = 0; j < 4u; j++) {
        const u32 b = b0 + 4u * ty + j;
        if (b >= p.batch) continue;
#pragma unroll
        for (u32 i = 0; i < 4u; i++) {
            const u32 v = v0 + 4u * tx + i;
            if (v < p.vocab) out[(size_t)b * p.vocab + v] = dec_b[v] + acc[i][j];
        }
    }
}

KERNEL {
    if (p.path == LOGITS_GEMM) logits_tiled(p, dec_w, dec_b, y, logits);
    else logits_rows(p, dec_w, dec_b, y, logits);
}
