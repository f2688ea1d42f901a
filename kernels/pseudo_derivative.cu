// pseudo_derivative: e-prop's surrogate d(spike)/dv of this tick into row row0 + b of psi
// ([rows][n]): 1 for a neuron that spiked, else max(0, 1 - |v - theta| * inv_width).
KERNEL {
    const u32 g = block_id(), chunks = (p.n + COLUMN - 1u) / COLUMN;
    const u32 b = g / chunks, i = (g % chunks) * COLUMN + threadIdx.x;
    if (b >= p.batch || i >= p.n) return;
    const bool spiked = (spk[(size_t)(b / SPIKE_TILE) * p.n + i] >> (b % SPIKE_TILE)) & 1u;
    const float near = fmaxf(0.0f, 1.0f - fabsf(v[(size_t)b * p.n + i] - theta[i]) * p.inv_width);
    psi[((size_t)p.row0 + b) * p.n + i] = spiked ? 1.0f : near;
}
