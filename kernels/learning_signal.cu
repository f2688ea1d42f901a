// learning_signal: signal[r, i] = sum_k grads[r, k] * dec_w[k, offset + i] (e-prop's learning
// signal through the decoder's weights). A tiled GEMM: each block computes a GEMM_TILE x GEMM_TILE
// (row x neuron) tile, staging GEMM_DEPTH vocabulary entries of both operands in shared memory;
// each thread owns a 4 x 4 sub-tile (r = r0 + 4*ty + a, i = i0 + 4*tx + c), stores coalesced along i.
constexpr u32 TM = GEMM_TILE, TK = GEMM_DEPTH, QT = GEMM_TILE / 4u;

KERNEL {
    __shared__ __align__(16) float gs[TK][TM];
    __shared__ __align__(16) float ws[TK][TM];
    const u32 g = block_id(), lid = threadIdx.x;
    const u32 itiles = (p.n + TM - 1u) / TM, rtiles = (p.rows + TM - 1u) / TM;
    if (g >= itiles * rtiles) return;
    const u32 i0 = (g % itiles) * TM, r0 = (g / itiles) * TM;
    const u32 tx = lid % QT, ty = lid / QT;
    float acc[4][4] = {};
    for (u32 k0 = 0u; k0 < p.vocab; k0 += TK) {
#pragma unroll
        for (u32 q = 0; q < 4u; q++) {
            const u32 e = lid + COLUMN * q;
            // grads: neighbouring threads read neighbouring vocabulary entries of one row
            const u32 gc = e / TK, gk = e % TK;
            gs[gk][gc] = (r0 + gc < p.rows && k0 + gk < p.vocab) ? grads[(size_t)(r0 + gc) * p.vocab + k0 + gk] : 0.0f;
            // dec_w: neighbouring threads read neighbouring columns of one vocabulary row
            const u32 wk = e / TM, wc = e % TM;
            ws[wk][wc] = (k0 + wk < p.vocab && i0 + wc < p.n)
                ? dec_w[(size_t)(k0 + wk) * p.width + p.offset + i0 + wc] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (u32 k = 0; k < TK; k++) {
            const float4 a = reinterpret_cast<const float4*>(gs[k])[ty];
            const float4 b = reinterpret_cast<const float4*>(ws[k])[tx];
            const float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
            for (u32 x = 0; x < 4u; x++)
#pragma unroll
                for (u32 y = 0; y < 4u; y++) acc[x][y] += av[x] * bv[y];
        }
        __syncthreads();
    }
#pragma unroll
    for (u32 x = 0; x < 4u; x++) {
        const u32 r = r0 + 4u * ty + x;
        if (r >= p.rows) continue;
#pragma unroll
        for (u32 y = 0; y < 4u; y++) {
            const u32 i = i0 + 4u * tx + y;
            if (i < p.n) signal[(size_t)r * p.n + i] = acc[x][y];
        }
    }
}
