// lif_kwta: one module's tick for one 256-neuron column of one sequence (SPEC §3.4-6):
// neuromodulated input, recurrent input from last tick's spikes, LIF-A, exact kWTA
// (largest v*, ties to the lower index), readout, traces and the module's spike count.
struct Params {
    batch: u32, n: u32, inputs: u32, outputs: u32,
    fanout: u32, k: u32, read_half: u32, module_id: u32,
    use_go: u32, excitability: f32, s_da: f32, s_5ht: f32,
    inhibition: f32, go_bias: f32, alpha: f32, beta: f32,
    delta_a: f32, v_rest: f32, v_reset: f32, v_min: f32,
    trace_lambda: f32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(1) @binding(0) var<storage, read> j: array<f32>;
@group(1) @binding(1) var<storage, read> w_idx: array<u32>;
@group(1) @binding(2) var<storage, read> w_val: array<f32>;
@group(1) @binding(3) var<storage, read> theta: array<f32>;
@group(1) @binding(4) var<storage, read> neuromod: array<f32>;
@group(1) @binding(5) var<storage, read> ctrl: array<u32>;
@group(1) @binding(6) var<storage, read_write> v: array<f32>;
@group(1) @binding(7) var<storage, read_write> a: array<f32>;
@group(1) @binding(8) var<storage, read_write> e: array<f32>;
@group(1) @binding(9) var<storage, read_write> spk: array<u32>;
@group(1) @binding(10) var<storage, read_write> y: array<f32>;
@group(1) @binding(11) var<storage, read_write> counts: array<atomic<u32>>;

const MODULES: u32 = 6u;

var<workgroup> vstar: array<f32, 256>;
var<workgroup> cand: array<u32, 256>;
var<workgroup> fired: atomic<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let cols = p.n / 256u;
    let b = g / cols;
    if (b >= p.batch) { return; }
    let i = (g % cols) * 256u + lid;
    let si = b * p.n + i;
    if (lid == 0u) { atomicStore(&fired, 0u); }

    // Neuromodulated input gain of this module for sequence b.
    let nm = (b * MODULES + p.module_id) * 2u;
    let go = p.use_go != 0u && ctrl[b * 4u + 1u] != 0u;
    let inh = p.inhibition * (1.0 - select(0.0, p.go_bias, go));
    let gain = p.excitability * (1.0 + neuromod[nm] * p.s_da) * (1.0 + 0.5 * neuromod[nm + 1u] * p.s_5ht) * (1.0 - inh);
    var cur = 0.0;
    if (i < p.inputs) { cur = j[b * p.inputs + i] * gain; }

    // Recurrent input: sum of the weights of presynaptic neurons that spiked last tick.
    let prev = (p.read_half * p.batch + b) * p.n;
    var rec = 0.0;
    for (var f = 0u; f < p.fanout; f++) {
        let syn = f * p.n + i; // slot-major: a warp reads contiguous words
        if (spk[prev + w_idx[syn]] != 0u) { rec += w_val[syn]; }
    }
    let vs = max(p.v_min, p.v_rest + p.alpha * (v[si] - p.v_rest) + cur + rec - a[si]);
    let th = theta[i];
    let is_cand = vs > th;
    vstar[lid] = vs;
    cand[lid] = select(0u, 1u, is_cand);
    workgroupBarrier();

    // Exact kWTA: rank among the column's candidates.
    var spike = false;
    if (is_cand) {
        var rank = 0u;
        for (var u = 0u; u < 256u; u++) {
            let o = vstar[u];
            if (cand[u] != 0u && (o > vs || (o == vs && u < lid))) { rank++; }
        }
        spike = rank < p.k;
    }

    a[si] = p.beta * a[si];
    if (spike) {
        v[si] = p.v_reset;
        a[si] = a[si] + p.delta_a;
        atomicAdd(&fired, 1u);
    } else if (is_cand) {
        v[si] = th;
    } else {
        v[si] = vs;
    }
    if (i < p.outputs) {
        y[b * p.outputs + i] = 1.0 / (1.0 + exp(-(0.1 * (max(0.0, vs - p.v_rest) - 10.0))));
    }
    let s = select(0u, 1u, spike);
    e[si] = p.trace_lambda * e[si] + f32(s);
    spk[((1u - p.read_half) * p.batch + b) * p.n + i] = s;
    workgroupBarrier();
    if (lid == 0u) { atomicAdd(&counts[b * MODULES + p.module_id], atomicLoad(&fired)); }
}
