// homeostasis (SPEC §5.5): theta_next = theta + eta * (rate_i - target), rate_i = sum of the
// neuron's window spike counts over the batch * inv_ticks; activity += those spikes (for sleep).
struct Params { batch: u32, n: u32, windows: u32, _p0: u32, eta: f32, target_rate: f32, inv_ticks: f32, _p1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(1) @binding(0) var<storage, read> theta: array<f32>;
@group(1) @binding(1) var<storage, read> wc: array<f32>;
@group(1) @binding(2) var<storage, read_write> theta_next: array<f32>;
@group(1) @binding(3) var<storage, read_write> activity: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * 256u + lid;
    if (i >= p.n) { return; }
    var spikes = 0.0;
    for (var wb = 0u; wb < p.windows * p.batch; wb++) { spikes += wc[wb * p.n + i]; }
    theta_next[i] = theta[i] + p.eta * (spikes * p.inv_ticks - p.target_rate);
    activity[i] += u32(spikes);
}
