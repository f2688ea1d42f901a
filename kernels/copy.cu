// copy: dst[dst_offset + i] = src[src_offset + i] for i < len (readout recording, bandwidth probe).
KERNEL {
    u32 i = block_id() * COLUMN + threadIdx.x;
    if (i < p.len) dst[(size_t)p.dst_offset + i] = src[(size_t)p.src_offset + i];
}
