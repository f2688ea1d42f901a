// transpose: dst[c * rows + r] = src[r * width + c] ([rows][width] to [width][rows]). A block moves
// one TRANSPOSE_TILE x TRANSPOSE_TILE tile through shared memory, so that both the reads (along c)
// and the writes (along r) are coalesced; the +1 column keeps the tile's columns in distinct banks.
constexpr u32 TT = TRANSPOSE_TILE, PER = TT * TT / COLUMN;

KERNEL {
    __shared__ float tile[TT][TT + 1];
    const u32 g = block_id(), lid = threadIdx.x;
    const u32 ctiles = (p.width + TT - 1u) / TT, rtiles = (p.rows + TT - 1u) / TT;
    if (g >= ctiles * rtiles) return;
    const u32 c0 = (g % ctiles) * TT, r0 = (g / ctiles) * TT;
    const u32 x = lid % TT, y0 = lid / TT;
#pragma unroll
    for (u32 k = 0; k < PER; k++) {
        const u32 y = y0 + k * (COLUMN / TT), r = r0 + y, c = c0 + x;
        if (r < p.rows && c < p.width) tile[y][x] = src[(size_t)r * p.width + c];
    }
    __syncthreads();
#pragma unroll
    for (u32 k = 0; k < PER; k++) {
        const u32 y = y0 + k * (COLUMN / TT), c = c0 + y, r = r0 + x;
        if (r < p.rows && c < p.width) dst[(size_t)c * p.rows + r] = tile[x][y];
    }
}
