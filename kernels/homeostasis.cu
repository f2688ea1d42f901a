// homeostasis (docs/model.md §6, step 6): theta_next = theta + eta * (rate_i - target), rate_i = the neuron's window
// spike counts summed over the batch * inv_ticks; activity += those spikes (for sleep).
KERNEL {
    const u32 i = block_id() * COLUMN + threadIdx.x;
    if (i >= p.n) return;
    float spikes = 0.0f;
    for (u32 wb = 0u; wb < p.windows * p.batch; wb++) spikes += wc[(size_t)wb * p.n + i];
    theta_next[i] = theta[i] + p.eta * (spikes * p.inv_ticks - p.target_rate);
    activity[i] += (u32)spikes;
}
