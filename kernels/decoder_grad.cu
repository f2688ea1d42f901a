// decoder_grad: g_w[v, d] = sum_r grads[r, v] * y[r, d] / count; g_b[v] = sum_r grads[r, v] / count;
// partials[block] = the block's share of the squared gradient norm (bias in column tile 0).
// A tiled GEMM: each block computes a GEMM_TILE x GEMM_TILE (vocabulary x column) tile, staging
// GEMM_DEPTH rows of both operands in shared memory, so each element read from global memory
// serves GEMM_TILE products. Each thread owns a 4 x 4 sub-tile (v = v0 + 4*ty + i,
// d = d0 + 4*tx + j) of the QT x QT grid of them.
constexpr u32 TM = GEMM_TILE, TK = GEMM_DEPTH, QT = GEMM_TILE / 4u;

KERNEL {
    __shared__ __align__(16) float gs[TK][TM];
    __shared__ __align__(16) float ys[TK][TM];
    __shared__ float red[COLUMN];
    const u32 g = block_id(), lid = threadIdx.x;
    const u32 vtiles = (p.vocab + TM - 1u) / TM, dtiles = (p.width + TM - 1u) / TM;
    if (g >= vtiles * dtiles) return;
    const u32 v0 = (g % vtiles) * TM, d0 = (g / vtiles) * TM;
    const u32 tx = lid % QT, ty = lid / QT;
    float acc[4][4] = {}, bsum[4] = {};
    if (p.product_given != 0u && d0 == 0u && tx == 0u) {
        // A vendor GEMM wrote the product into g_w (read below); the bias is summed here.
        for (u32 i = 0; i < 4u; i++) {
            const u32 v = v0 + 4u * ty + i;
            if (v < p.vocab)
                for (u32 r = 0u; r < p.rows; r++) bsum[i] += grads[(size_t)r * p.vocab + v];
        }
    }
    for (u32 r0 = 0u; r0 < p.rows * (p.product_given == 0u); r0 += TK) {
#pragma unroll
        for (u32 q = 0; q < 4u; q++) {
            const u32 e = lid + COLUMN * q, k = e / TM, c = e % TM, r = r0 + k;
            gs[k][c] = (r < p.rows && v0 + c < p.vocab) ? grads[(size_t)r * p.vocab + v0 + c] : 0.0f;
            ys[k][c] = (r < p.rows && d0 + c < p.width) ? y[(size_t)r * p.width + d0 + c] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (u32 k = 0; k < TK; k++) {
            const float4 a = reinterpret_cast<const float4*>(gs[k])[ty];
            const float4 b = reinterpret_cast<const float4*>(ys[k])[tx];
            const float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
            for (u32 i = 0; i < 4u; i++) {
                bsum[i] += av[i];
#pragma unroll
                for (u32 j = 0; j < 4u; j++) acc[i][j] += av[i] * bv[j];
            }
        }
        __syncthreads();
    }
    const float inv = totals[3];
    float sq = 0.0f;
#pragma unroll
    for (u32 i = 0; i < 4u; i++) {
        const u32 v = v0 + 4u * ty + i;
        if (v >= p.vocab) continue;
#pragma unroll
        for (u32 j = 0; j < 4u; j++) {
            const u32 d = d0 + 4u * tx + j;
            if (d < p.width) {
                const size_t at = (size_t)v * p.width + d;
                const float val = (p.product_given != 0u ? g_w[at] : acc[i][j]) * inv;
                g_w[at] = val;
                sq += val * val;
            }
        }
        if (d0 == 0u && tx == 0u) {
            const float s = bsum[i] * inv;
            g_b[v] = s;
            sq += s * s;
        }
    }
    const float total = block_sum(sq, red);
    if (lid == 0u) partials[g] = total;
}
