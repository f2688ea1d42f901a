// project: one connection (SPEC §3.3), a thread per (target input neuron, sequence).
// act = mean(y_src[b]); f' = min(decay f + rate |act|, cap) (the fast weight after this tick,
// stored by context_update); G = g + f' (-|G| if inhibitory), softly gated when |act G| < threshold;
// j[b, i] (+)= G * sum_k P[i, k] * y_src[b, idx[i, k]] (slot-major P); acts[b, conn] = act.
struct Params {
    batch: u32, rows: u32, fanout: u32, o_src: u32,
    conn: u32, n_conn: u32, accumulate: u32, inhibitory: u32,
    gate_threshold: f32, fast_decay: f32, fast_rate: f32, fast_cap: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(1) @binding(0) var<storage, read> p_idx: array<u32>;
@group(1) @binding(1) var<storage, read> p_val: array<f32>;
@group(1) @binding(2) var<storage, read> y_src: array<f32>;
@group(1) @binding(3) var<storage, read> gains: array<f32>;
@group(1) @binding(4) var<storage, read> fast: array<f32>;
@group(1) @binding(5) var<storage, read_write> j: array<f32>;
@group(1) @binding(6) var<storage, read_write> acts: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let chunks = (p.rows + 255u) / 256u;
    let b = g / chunks;
    if (b >= p.batch) { return; }
    // Every workgroup of the sequence derives the same gain from the source's mean activity.
    var s = 0.0;
    for (var k = lid; k < p.o_src; k += 256u) { s += y_src[b * p.o_src + k]; }
    let act = reduce_sum(lid, s) / f32(p.o_src);
    let slot = b * p.n_conn + p.conn;
    var gain = gains[p.conn] + min(p.fast_decay * fast[slot] + p.fast_rate * abs(act), p.fast_cap);
    if (p.inhibitory != 0u) { gain = -abs(gain); }
    let drive = abs(act * gain);
    if (drive < p.gate_threshold) { gain = gain * drive / p.gate_threshold; }
    let chunk = g % chunks;
    if (chunk == 0u && lid == 0u) { acts[slot] = act; }
    let i = chunk * 256u + lid;
    if (i >= p.rows) { return; }
    var sum = 0.0;
    for (var k = 0u; k < p.fanout; k++) {
        let syn = k * p.rows + i; // slot-major: a warp reads contiguous words
        sum += p_val[syn] * y_src[b * p.o_src + p_idx[syn]];
    }
    let v = gain * sum;
    let o = b * p.rows + i;
    if (p.accumulate != 0u) { j[o] = j[o] + v; } else { j[o] = v; }
}
