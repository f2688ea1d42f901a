// decoder_grad: one block per tile of 8 vocabulary rows; threads stride over d.
// g_w[v, d] = sum_r grads[r, v] * y[r, d] / count; g_b[v] = sum_r grads[r, v] / count;
// partials[tile] = the tile's share of the squared gradient norm.
struct DecoderGradParams { u32 rows, vocab, width, _p0; };

#define TILE 8u

extern "C" __global__ void __launch_bounds__(256) decoder_grad(const DecoderGradParams p, const float* __restrict__ grads,
        const float* __restrict__ y, const float* __restrict__ totals, float* g_w, float* g_b, float* partials) {
    __shared__ float red[256];
    const u32 tile = block_id(), lid = threadIdx.x, v0 = tile * TILE;
    if (v0 >= p.vocab) return;
    const u32 nv = min(TILE, p.vocab - v0);
    const float inv = totals[3];
    float sq = 0.0f;
    for (u32 d = lid; d < p.width; d += 256u) {
        float acc[TILE];
#pragma unroll
        for (u32 t = 0; t < TILE; t++) acc[t] = 0.0f;
        for (u32 r = 0u; r < p.rows; r++) {
            const float yv = y[(size_t)r * p.width + d];
            const float* g = grads + (size_t)r * p.vocab + v0;
#pragma unroll
            for (u32 t = 0; t < TILE; t++)
                if (t < nv) acc[t] += yv * g[t];
        }
#pragma unroll
        for (u32 t = 0; t < TILE; t++) {
            if (t < nv) {
                const float val = acc[t] * inv;
                g_w[(size_t)(v0 + t) * p.width + d] = val;
                sq += val * val;
            }
        }
    }
    if (lid < nv) {
        float s = 0.0f;
        for (u32 r = 0u; r < p.rows; r++) s += grads[(size_t)r * p.vocab + v0 + lid];
        s *= inv;
        g_b[v0 + lid] = s;
        sq += s * s;
    }
    const float total = block_sum(sq, red);
    if (lid == 0u) partials[tile] = total;
}
