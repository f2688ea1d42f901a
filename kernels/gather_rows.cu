// gather_rows: dst[(row0 + b) * dst_stride + dst_offset + i] = scale * src[b * src_stride + i]
// (a module's signal into its columns of the decoder features).
KERNEL {
    const u32 g = block_id();
    const u32 per_row = (p.width + COLUMN - 1) / COLUMN;
    const u32 b = g / per_row;
    const u32 i = (g % per_row) * COLUMN + threadIdx.x;
    if (b < p.batch && i < p.width)
        dst[((size_t)p.row0 + b) * p.dst_stride + p.dst_offset + i] = p.scale * src[(size_t)b * p.src_stride + i];
}
