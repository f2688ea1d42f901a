// window_stats: adds each neuron's spike and trace into window `window` of wc/we
// ([windows][batch][n]) for sequences whose position pos is predicted (pos + 1 < lens[b]).
KERNEL {
    const u32 g = block_id(), chunks = (p.n + COLUMN - 1u) / COLUMN;
    const u32 b = g / chunks, i = (g % chunks) * COLUMN + threadIdx.x;
    if (b >= p.batch || i >= p.n || p.pos + 1u >= lens[b]) return;
    const size_t o = ((size_t)p.window * p.batch + b) * p.n + i;
    wc[o] += (float)((spk[(size_t)(b / 32u) * p.n + i] >> (b % 32u)) & 1u);
    we[o] += e[(size_t)b * p.n + i];
}
