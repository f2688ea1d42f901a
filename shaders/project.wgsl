// project: one connection (docs/model.md §3.2), a thread per (target input neuron, sequence).
// act = mean(y_src[b]); f' = min(decay f + rate |act|, cap) (the fast weight after this tick,
// stored by context_update); G = g + f' (-|G| if inhibitory), softly gated when |act G| < threshold;
// j[b, i] (+)= G * sum_k P[i, k] * y_src[b, idx[i, k]] (slot-major P); acts[b, conn] = act.

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let chunks = (p.rows + COLUMN - 1u) / COLUMN;
    let b = g / chunks;
    if (b >= p.batch) { return; }
    // Every workgroup of the sequence derives the same gain from the source's mean activity.
    var s = 0.0;
    for (var k = lid; k < p.o_src; k += COLUMN) { s += y_src[b * p.o_src + k]; }
    let act = reduce_sum(lid, s) / f32(p.o_src);
    let slot = b * p.n_conn + p.conn;
    var gain = gains[p.conn] + min(p.fast_decay * fast[slot] + p.fast_rate * abs(act), p.fast_cap);
    if (p.inhibitory != 0u) { gain = -abs(gain); }
    let drive = abs(act * gain);
    if (drive < p.gate_threshold) { gain = gain * drive / p.gate_threshold; }
    let chunk = g % chunks;
    if (chunk == 0u && lid == 0u) { acts[slot] = act; }
    let i = chunk * COLUMN + lid;
    if (i >= p.rows) { return; }
    var sum = 0.0;
    for (var k = 0u; k < p.fanout; k++) {
        let syn = k * p.rows + i; // slot-major: a warp reads contiguous words
        sum += p_val_at(syn) * y_src[b * p.o_src + p_idx[syn]];
    }
    let v = gain * sum;
    let o = b * p.rows + i;
    if (p.accumulate != 0u) { j[o] = j[o] + v; } else { j[o] = v; }
}
