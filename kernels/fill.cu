// fill: out[i] = value for i < len.
struct FillParams { u32 len, value, _p0, _p1; };

extern "C" __global__ void __launch_bounds__(256) fill(const FillParams p, u32* out) {
    u32 i = block_id() * 256u + threadIdx.x;
    if (i < p.len) out[i] = p.value;
}
