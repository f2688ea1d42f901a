// eprop: one fixed-fanout matrix learns by e-prop as an SDDMM (docs/model.md §6, e-prop). A
// workgroup per postsynaptic row i learns COLUMN / EPROP_LANES of its synapses at a time: each
// group of EPROP_LANES invocations walks the rows of both neuron-major operands together
// (contiguous), then the group's partial sums are reduced by `lane_group_sum`.

const GROUPS: u32 = COLUMN / EPROP_LANES;

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = wid.x + wid.y * nwg.x;
    if (i >= p.n) { return; }
    let lane = lid % EPROP_LANES;
    let group = lid / EPROP_LANES;
    let q0 = i * p.rows;
    let step = -p.rate * p.pre_scale * totals[3];
    for (var f0 = 0u; f0 < p.fanout; f0 += GROUPS) {
        let f = f0 + group;
        var acc = 0.0;
        var syn = 0u;
        if (f < p.fanout) {
            syn = f * p.n + i;
            let x0 = (p.pre_offset + w_idx[syn]) * p.rows - p.lag_rows;
            for (var r = p.lag_rows + lane; r < p.rows; r += EPROP_LANES) {
                acc += q_t[q0 + r] * x_t[x0 + r];
            }
        }
        let total = lane_group_sum(lid, acc);
        if (lane == 0u && f < p.fanout) {
            w_next[syn] = clamp(w_val[syn] + step * total, -p.bound, p.bound);
        }
    }
}
