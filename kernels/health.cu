// health: sets flags[slot] when any of len words of data is NaN or +-Inf (exponent bits all ones).
KERNEL {
    const u32 i = block_id() * COLUMN + threadIdx.x;
    if (i < p.len && (data[i] & 0x7f800000u) == 0x7f800000u) atomicOr(&flags[p.slot], 1u);
}
