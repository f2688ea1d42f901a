// hebbian_gains (docs/model.md §6, step 7): a thread per connection c, conn_meta[c] = [source module, target module,
// rate bits, 0]: g_next = clamp(g + rate * pre * post * (1 + mean rbar) * K, 0, 2), with pre/post the
// batch-averaged spike rates of the source and target modules during this call.
__device__ float module_rate(const Params& p, const u32* counts, u32 m) {
    float s = 0.0f;
    for (u32 b = 0u; b < p.batch; b++) s += (float)counts[b * MODULES + m];
    return s / ((float)p.neurons[m] * (float)p.ticks * (float)p.batch);
}

KERNEL {
    const u32 c = threadIdx.x;
    if (c >= p.n_conn) return;
    float rb = 0.0f;
    for (u32 b = 0u; b < p.batch; b++) rb += rbar[b];
    rb /= (float)p.batch;
    const float pre = module_rate(p, counts, conn_meta[c * 4u]), post = module_rate(p, counts, conn_meta[c * 4u + 1u]);
    const float eta = __uint_as_float(conn_meta[c * 4u + 2u]);
    gains_next[c] = fminf(fmaxf(gains[c] + eta * pre * post * (1.0f + rb) * (float)p.window_ticks, 0.0f), 2.0f);
}
