// homeostasis (SPEC §5.5): theta_next = theta + eta * (rate_i - target), rate_i = the neuron's window
// spike counts summed over the batch * inv_ticks; activity += those spikes (for sleep).
struct HomeostasisParams { u32 batch, n, windows, _p0; float eta, target, inv_ticks; u32 _p1; };

extern "C" __global__ void __launch_bounds__(256) homeostasis(const HomeostasisParams p, const float* __restrict__ theta,
        const float* __restrict__ wc, float* theta_next, u32* activity) {
    const u32 i = block_id() * 256u + threadIdx.x;
    if (i >= p.n) return;
    float spikes = 0.0f;
    for (u32 wb = 0u; wb < p.windows * p.batch; wb++) spikes += wc[(size_t)wb * p.n + i];
    theta_next[i] = theta[i] + p.eta * (spikes * p.inv_ticks - p.target);
    activity[i] += (u32)spikes;
}
