// copy: dst[dst_offset + i] = src[src_offset + i] for i < len (readout recording, bandwidth probe).
struct CopyParams { u32 len, src_offset, dst_offset, _p0; };

extern "C" __global__ void __launch_bounds__(256) copy(const CopyParams p, const u32* __restrict__ src, u32* __restrict__ dst) {
    u32 i = block_id() * 256u + threadIdx.x;
    if (i < p.len) dst[(size_t)p.dst_offset + i] = src[(size_t)p.src_offset + i];
}
