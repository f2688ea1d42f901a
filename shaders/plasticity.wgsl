// plasticity (docs/model.md §6, step 5): a thread per postsynaptic neuron i, over its existing synapses (slot-major):
// w_next = clip(w + rate / B * sum_b sum_w M (c_i e_j - e_i c_j), -1, 1),
// M = mod_base[b, w] * mfac[b, module], e = we / window_ticks.

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * COLUMN + lid;
    if (i >= p.n) { return; }
    for (var f = 0u; f < p.fanout; f++) {
        let syn = f * p.n + i;
        let j = w_idx[syn];
        var d = 0.0;
        for (var b = 0u; b < p.batch; b++) {
            let fac = mfac[b * MODULES + p.module_id];
            for (var w = 0u; w < p.windows; w++) {
                let m = mod_base[b * p.windows + w] * fac;
                if (m == 0.0) { continue; }
                let o = (w * p.batch + b) * p.n;
                d += m * (wc[o + i] * (we[o + j] * p.inv_window_ticks) - (we[o + i] * p.inv_window_ticks) * wc[o + j]);
            }
        }
        w_next[syn] = clamp(w_val[syn] + p.rate / f32(p.batch) * d, -1.0, 1.0);
    }
}
