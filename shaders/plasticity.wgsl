// plasticity (docs/model.md §6, step 5) as an SDDMM over the neuron-major window statistics: a
// workgroup per postsynaptic neuron i learns COLUMN / EPROP_LANES of its existing synapses
// (slot-major) at a time, each group of EPROP_LANES invocations over the rows r = w * batch + b of
// both neurons' statistics, reduced by `lane_group_sum`:
// w_next = clip(w + rate / B * sum_r M (c_i e_j - e_i c_j), -1, 1),
// M = mod_base[b, w] * mfac[b, module], e = we / window_ticks.

const GROUPS: u32 = COLUMN / EPROP_LANES;

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = wid.x + wid.y * nwg.x;
    if (i >= p.n) { return; }
    let lane = lid % EPROP_LANES;
    let group = lid / EPROP_LANES;
    let rows = p.windows * p.batch;
    let oi = i * rows;
    for (var f0 = 0u; f0 < p.fanout; f0 += GROUPS) {
        let f = f0 + group;
        var d = 0.0;
        var syn = 0u;
        if (f < p.fanout) {
            syn = f * p.n + i;
            let oj = w_idx[syn] * rows;
            for (var r = lane; r < rows; r += EPROP_LANES) {
                let b = r % p.batch;
                let w = r / p.batch;
                let m = mod_base[b * p.windows + w] * mfac[b * MODULES + p.module_id];
                if (m == 0.0) { continue; }
                d += m * (wc_t[oi + r] * (we_t[oj + r] * p.inv_window_ticks) - (we_t[oi + r] * p.inv_window_ticks) * wc_t[oj + r]);
            }
        }
        let total = lane_group_sum(lid, d);
        if (lane == 0u && f < p.fanout) {
            w_next[syn] = clamp(w_val[syn] + p.rate / f32(p.batch) * total, -1.0, 1.0);
        }
    }
}
