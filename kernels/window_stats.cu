// window_stats: adds each neuron's spike and trace into window `window` of wc/we
// ([windows][batch][n]) for sequences whose position pos is predicted (pos + 1 < lens[b]).
struct WindowStatsParams { u32 batch, n, window, _p3, pos, _p0, _p1, _p2; };

extern "C" __global__ void __launch_bounds__(256) window_stats(const WindowStatsParams p, const u32* __restrict__ spk,
        const float* __restrict__ e, const u32* __restrict__ lens, float* wc, float* we) {
    const u32 g = block_id(), chunks = (p.n + 255u) / 256u;
    const u32 b = g / chunks, i = (g % chunks) * 256u + threadIdx.x;
    if (b >= p.batch || i >= p.n || p.pos + 1u >= lens[b]) return;
    const size_t o = ((size_t)p.window * p.batch + b) * p.n + i;
    wc[o] += (float)((spk[(size_t)(b / 32u) * p.n + i] >> (b % 32u)) & 1u);
    we[o] += e[(size_t)b * p.n + i];
}
