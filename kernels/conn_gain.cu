// conn_gain: fast weight and soft gating of one connection (SPEC §3.3). One block per sequence.
struct ConnGainParams {
    u32 batch, o_src, conn, n_conn, inhibitory;
    float gate_threshold, fast_decay, fast_rate, fast_cap;
    u32 _p0, _p1, _p2;
};

extern "C" __global__ void __launch_bounds__(256) conn_gain(const ConnGainParams p, const float* __restrict__ y_src,
        const float* __restrict__ gains, float* fast, float* geff) {
    __shared__ float red[256];
    const u32 b = block_id(), lid = threadIdx.x;
    if (b >= p.batch) return;
    float s = 0.0f;
    for (u32 i = lid; i < p.o_src; i += 256u) s += y_src[b * p.o_src + i];
    float act = block_sum(s, red) / (float)p.o_src;
    if (lid == 0u) {
        u32 slot = b * p.n_conn + p.conn;
        float f = fminf(p.fast_decay * fast[slot] + p.fast_rate * fabsf(act), p.fast_cap);
        fast[slot] = f;
        float g = gains[p.conn] + f;
        if (p.inhibitory != 0u) g = -fabsf(g);
        float drive = fabsf(act * g);
        if (drive < p.gate_threshold) g = g * drive / p.gate_threshold;
        geff[slot] = g;
    }
}
