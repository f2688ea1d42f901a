// pack_bf16: a thread per output word, two values rounded to bf16 (nearest, ties to even; a NaN
// stays a quiet NaN), the even one in the low half.
__device__ __forceinline__ u32 bf16_bits(u32 b) {
    if ((b & 0x7fffffffu) > 0x7f800000u) return (b >> 16) | 0x40u;
    return (b + 0x7fffu + ((b >> 16) & 1u)) >> 16;
}

KERNEL {
    const u32 w = block_id() * COLUMN + threadIdx.x, i = 2u * w;
    if (i >= p.len) return;
    const u32 hi = i + 1u < p.len ? bf16_bits(src[i + 1u]) : 0u;
    dst[w] = bf16_bits(src[i]) | (hi << 16);
}
