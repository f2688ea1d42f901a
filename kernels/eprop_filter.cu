// eprop_filter: e-prop's per-neuron factor, neuron-major (docs/model.md §6, e-prop). A thread per
// (sequence b, neuron i), b fastest so that a warp's writes of q_t[i * rows + t * batch + b] are
// contiguous; backward over positions: L~ = signal + lambda * L~, q_t = psi * L~.
KERNEL {
    const u32 g = block_id() * COLUMN + threadIdx.x;
    if (g >= p.n * p.batch) return;
    const u32 b = g % p.batch, i = g / p.batch;
    const size_t rows = (size_t)p.batch * p.positions;
    float filtered = 0.0f;
    for (u32 t = p.positions; t-- > 0u;) {
        const size_t r = (size_t)t * p.batch + b;
        filtered = signal[r * p.n + i] + p.lambda * filtered;
        q_t[(size_t)i * rows + r] = psi[r * p.n + i] * filtered;
    }
}
