// plasticity (SPEC §5.4): a thread per postsynaptic neuron i, over its existing synapses (slot-major):
// w_next = clip(w + rate / B * sum_b sum_w M (c_i e_j - e_i c_j), -1, 1),
// M = mod_base[b, w] * mfac[b, module], e = we / window_ticks.
struct Params { batch: u32, n: u32, fanout: u32, windows: u32, module_id: u32, rate: f32, inv_window_ticks: f32, _p0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(1) @binding(0) var<storage, read> w_idx: array<u32>;
@group(1) @binding(1) var<storage, read> w_val: array<f32>;
@group(1) @binding(2) var<storage, read> wc: array<f32>;
@group(1) @binding(3) var<storage, read> we: array<f32>;
@group(1) @binding(4) var<storage, read> mod_base: array<f32>;
@group(1) @binding(5) var<storage, read> mfac: array<f32>;
@group(1) @binding(6) var<storage, read_write> w_next: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * 256u + lid;
    if (i >= p.n) { return; }
    for (var f = 0u; f < p.fanout; f++) {
        let syn = f * p.n + i;
        let j = w_idx[syn];
        var d = 0.0;
        for (var b = 0u; b < p.batch; b++) {
            let fac = mfac[b * 6u + p.module_id];
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
