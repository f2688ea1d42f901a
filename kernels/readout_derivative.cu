// readout_derivative: a thread per (readout, sequence): psi[row0 + b][i] = 0.1 y (1 - y) above the
// resting readout, else 0 (e-prop through a readout, docs/model.md §6).
KERNEL {
    const u32 g = block_id(), chunks = (p.outputs + COLUMN - 1u) / COLUMN;
    const u32 b = g / chunks, i = (g % chunks) * COLUMN + threadIdx.x;
    if (b >= p.batch || i >= p.outputs) return;
    const float v = y[b * p.outputs + i];
    psi[(p.row0 + b) * p.outputs + i] = v > p.rest ? 0.1f * v * (1.0f - v) : 0.0f;
}
