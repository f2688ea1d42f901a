// fill: out[i] = value for i < len.
KERNEL {
    u32 i = block_id() * COLUMN + threadIdx.x;
    if (i < p.len) out[i] = p.value;
}
