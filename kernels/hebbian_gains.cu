// hebbian_gains (SPEC §5.6): a thread per connection c, meta[c] = [source module, target module,
// rate bits, 0]: g_next = clamp(g + rate * pre * post * (1 + mean rbar) * K, 0, 2), with pre/post the
// batch-averaged spike rates of the source and target modules during this call.
struct HebbianParams { u32 n_conn, batch, ticks, window_ticks, neurons[6], _p0, _p1; };

__device__ float module_rate(const HebbianParams& p, const u32* counts, u32 m) {
    float s = 0.0f;
    for (u32 b = 0u; b < p.batch; b++) s += (float)counts[b * MODULES + m];
    return s / ((float)p.neurons[m] * (float)p.ticks * (float)p.batch);
}

extern "C" __global__ void __launch_bounds__(256) hebbian_gains(const HebbianParams p, const u32* __restrict__ meta,
        const float* __restrict__ gains, const u32* __restrict__ counts, const float* __restrict__ rbar, float* gains_next) {
    const u32 c = threadIdx.x;
    if (c >= p.n_conn) return;
    float rb = 0.0f;
    for (u32 b = 0u; b < p.batch; b++) rb += rbar[b];
    rb /= (float)p.batch;
    const float pre = module_rate(p, counts, meta[c * 4u]), post = module_rate(p, counts, meta[c * 4u + 1u]);
    const float eta = __uint_as_float(meta[c * 4u + 2u]);
    gains_next[c] = fminf(fmaxf(gains[c] + eta * pre * post * (1.0f + rb) * (float)p.window_ticks, 0.0f), 2.0f);
}
