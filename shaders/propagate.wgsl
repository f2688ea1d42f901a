// propagate: event-driven recurrent input (docs/model.md §3.4). A workgroup takes COLUMN
// presynaptic neurons of one spike tile; for each sequence of the tile it lists the ones that
// spiked, then its lanes, in groups of 32, walk the listed neurons' outgoing synapses and add each
// weight's fixed-point units to its target's sum (integer atomics: any order gives the same sum).

var<workgroup> spiked: array<u32, COLUMN>;
var<workgroup> n_spiked: atomic<u32>;

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let cols = p.n / COLUMN;
    let tile = g / cols;
    if (tile * SPIKE_TILE >= p.batch) { return; }
    let j = (g % cols) * COLUMN + lid;
    let word = spk_prev[tile * p.n + j];
    let seqs = min(SPIKE_TILE, p.batch - tile * SPIKE_TILE);
    let lane = lid % 32u;
    let lim = rec_limit(p.fanout);
    for (var t = 0u; t < seqs; t++) {
        if (lid == 0u) { atomicStore(&n_spiked, 0u); }
        workgroupBarrier();
        if (((word >> t) & 1u) != 0u) { spiked[atomicAdd(&n_spiked, 1u)] = j; }
        workgroupBarrier();
        let count = atomicLoad(&n_spiked);
        let base = (tile * SPIKE_TILE + t) * (p.n + p.n / 32u);
        for (var s = lid / 32u; s < count; s += COLUMN / 32u) {
            let pre = spiked[s];
            for (var o = out_start[pre] + lane; o < out_start[pre + 1u]; o += 32u) {
                let syn = out_syn[o];
                let i = syn % p.n;
                let w = w_val_at(syn);
                if (is_finite(w)) {
                    atomicAdd(&rec[base + i], bitcast<u32>(rec_units(w, lim)));
                } else {
                    atomicOr(&rec[base + p.n + i / 32u], 1u << (i % 32u));
                }
            }
        }
        workgroupBarrier();
    }
}
