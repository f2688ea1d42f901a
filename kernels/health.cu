// health: sets flags[slot] when any of len words of data is NaN or +-Inf (exponent bits all ones).
struct HealthParams { u32 len, slot, _p0, _p1; };

extern "C" __global__ void __launch_bounds__(256) health(const HealthParams p, const u32* __restrict__ data, u32* flags) {
    const u32 i = block_id() * 256u + threadIdx.x;
    if (i < p.len && (data[i] & 0x7f800000u) == 0x7f800000u) atomicOr(&flags[p.slot], 1u);
}
