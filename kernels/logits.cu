// logits: logits[b, v] = b_dec[v] + sum_d W_dec[v, d] * y[b, d] (SPEC §4).
// One block per (vocabulary row, tile of up to 8 sequences); the row is read once for the tile.
struct LogitsParams { u32 batch, vocab, width, _p0; };

#define TILE 8u

extern "C" __global__ void __launch_bounds__(256) logits(const LogitsParams p, const float* __restrict__ dec_w,
        const float* __restrict__ dec_b, const float* __restrict__ y, float* out) {
    __shared__ float red[TILE][256];
    const u32 g = block_id(), lid = threadIdx.x;
    const u32 r = g % p.vocab, b0 = (g / p.vocab) * TILE;
    if (b0 >= p.batch) return;
    const u32 nb = min(TILE, p.batch - b0);
    float acc[TILE];
#pragma unroll
    for (u32 t = 0; t < TILE; t++) acc[t] = 0.0f;
    const float* row = dec_w + (size_t)r * p.width;
    const float* yb = y + (size_t)b0 * p.width;
    for (u32 d = lid; d < p.width; d += 256u) {
        float w = row[d];
#pragma unroll
        for (u32 t = 0; t < TILE; t++)
            if (t < nb) acc[t] += w * yb[(size_t)t * p.width + d];
    }
#pragma unroll
    for (u32 t = 0; t < TILE; t++) red[t][lid] = acc[t];
    __syncthreads();
    for (u32 s = 128u; s > 0u; s >>= 1u) {
        if (lid < s)
            for (u32 t = 0; t < nb; t++) red[t][lid] += red[t][lid + s];
        __syncthreads();
    }
    if (lid < nb) out[(size_t)(b0 + lid) * p.vocab + r] = dec_b[r] + red[lid][0];
}
