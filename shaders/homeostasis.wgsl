// homeostasis (docs/model.md §6, step 6): theta_next = theta + eta * (rate_i - target), rate_i = sum of the
// neuron's window spike counts over the batch * inv_ticks; activity += those spikes (for sleep).

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * COLUMN + lid;
    if (i >= p.n) { return; }
    var spikes = 0.0;
    for (var wb = 0u; wb < p.windows * p.batch; wb++) { spikes += wc[wb * p.n + i]; }
    theta_next[i] = theta[i] + p.eta * (spikes * p.inv_ticks - p.target_rate);
    activity[i] += u32(spikes);
}
