// lif_kwta: one module's tick for one COLUMN-neuron column of up to SPIKE_TILE sequences (docs/model.md §3.3–3.4):
// neuromodulated input, recurrent input from last tick's spikes, LIF-A, exact kWTA
// (largest v*, ties to the lower index), readout, traces, the module's spike count and, in
// training (stats = 1), each neuron's spike and trace added into window `window` of wc/we
// ([windows][batch][n]) for sequences whose position pos is predicted (pos + 1 < lens[b]), and
// with derivative = 1 e-prop's pseudo-derivative into row psi_row0 + b of psi.

// The column's kWTA candidates of one sequence (v* and neuron), in arrival order, and their count
// (two counters, alternating by sequence, so one can be cleared while the other fills).
var<workgroup> cand_v: array<f32, COLUMN>;
var<workgroup> cand_i: array<u32, COLUMN>;
var<workgroup> n_cand: array<atomic<u32>, 2>;
var<workgroup> fired: atomic<u32>;

// Spikes are bits: word [b / 32][i] holds sequence b's spike of neuron i, so one gather of a
// presynaptic word serves all the sequences a workgroup steps (seq_per_group, a power of two <= 32,
// so a workgroup's bits never straddle two words; several workgroups may share a word).

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let cols = p.n / COLUMN;
    let b0 = (g / cols) * p.seq_per_group;
    if (b0 >= p.batch) { return; }
    let nb = min(p.seq_per_group, p.batch - b0);
    let tile = b0 / SPIKE_TILE;
    let off = b0 % SPIKE_TILE;
    let mask = select((1u << nb) - 1u, 0xffffffffu, nb == SPIKE_TILE) << off;
    let i = (g % cols) * COLUMN + lid;
    let th = theta[i];

    // Recurrent input of every sequence of the tile: the fixed-point weights of presynaptic
    // neurons that spiked last tick (integer sums, so their order does not matter; slot-major W:
    // a warp reads contiguous words), and which sequences met a non-finite one. With `event`,
    // `propagate` has summed them into `rec` instead.
    var sums: array<i32, SPIKE_TILE>;
    var sum1 = 0i; // one sequence per workgroup: a register, not the array
    var bad = 0u;
    let lim = rec_limit(p.fanout);
    let prev = tile * p.n;
    if (p.event == 0u && nb == 1u) {
        for (var f = 0u; f < p.fanout; f++) {
            let syn = f * p.n + i;
            if ((spk_prev[prev + w_idx[syn]] & mask) != 0u) {
                let w = w_val_at(syn);
                if (is_finite(w)) { sum1 += rec_units(w, lim); } else { bad = 1u; }
            }
        }
    }
    for (var f = 0u; f < p.fanout * u32(p.event == 0u && nb > 1u); f++) {
        let syn = f * p.n + i;
        var word = (spk_prev[prev + w_idx[syn]] & mask) >> off;
        if (word == 0u) { continue; }
        let w = w_val_at(syn);
        if (!is_finite(w)) { bad |= word; continue; }
        let q = rec_units(w, lim);
        loop {
            if (word == 0u) { break; }
            let t = countTrailingZeros(word);
            sums[t] += q;
            word &= word - 1u;
        }
    }

    if (lid < 2u) { atomicStore(&n_cand[lid], 0u); }
    workgroupBarrier();
    var bits = 0u;
    for (var t = 0u; t < nb; t++) {
        let b = b0 + t;
        let si = b * p.n + i;
        if (lid == 0u) { atomicStore(&fired, 0u); }

        // Neuromodulated input gain of this module for sequence b.
        let nm = (b * MODULES + p.module_id) * 2u;
        let go = p.use_go != 0u && ctrl[b * CTRL_WORDS + 1u] != 0u;
        let inh = p.inhibition * (1.0 - select(0.0, p.go_bias, go));
        let gain = p.excitability * (1.0 + neuromod[nm] * p.s_da) * (1.0 + 0.5 * neuromod[nm + 1u] * p.s_5ht) * (1.0 - inh);
        var cur = 0.0;
        if (i < p.inputs) { cur = j[b * p.inputs + i] * gain; }

        var r: f32;
        if (p.event != 0u) {
            // propagate's sum and non-finite bit of this neuron, cleared for the next tick.
            let base = b * (p.n + p.n / 32u);
            let bit = 1u << (i % 32u);
            let was_bad = (atomicLoad(&rec[base + p.n + i / 32u]) & bit) != 0u;
            r = rec_mv(bitcast<i32>(atomicLoad(&rec[base + i])), was_bad);
            atomicStore(&rec[base + i], 0u);
            if (was_bad) { atomicAnd(&rec[base + p.n + i / 32u], ~bit); }
        } else if (nb > 1u) {
            r = rec_mv(sums[t], ((bad >> t) & 1u) != 0u);
        } else {
            r = rec_mv(sum1, bad != 0u);
        }
        let vs = max(p.v_min, p.v_rest + p.alpha * (v[si] - p.v_rest) + cur + r - a[si]);
        let is_cand = vs > th;
        if (is_cand) {
            let slot = atomicAdd(&n_cand[t % 2u], 1u);
            cand_v[slot] = vs;
            cand_i[slot] = lid;
        }
        workgroupBarrier();

        // Exact kWTA: with at most k candidates all of them spike; else each one's rank among the
        // candidates (v* descending, ties to the lower index) decides; the list's order does not.
        let c = atomicLoad(&n_cand[t % 2u]);
        if (lid == 0u) { atomicStore(&n_cand[(t + 1u) % 2u], 0u); } // last read a sequence ago
        var spike = is_cand;
        if (is_cand && c > p.k) {
            var rank = 0u;
            for (var s = 0u; s < c; s++) {
                let o = cand_v[s];
                if (o > vs || (o == vs && cand_i[s] < lid)) { rank++; }
            }
            spike = rank < p.k;
        }

        a[si] = p.beta * a[si];
        let v_new = select(select(vs, th, is_cand), p.v_reset, spike);
        v[si] = v_new;
        if (spike) {
            a[si] = a[si] + p.delta_a;
            atomicAdd(&fired, 1u);
            bits |= 1u << t;
        }
        if (p.derivative != 0u) {
            psi[(p.psi_row0 + b) * p.n + i] = select(max(0.0, 1.0 - abs(v_new - th) * p.inv_width), 1.0, spike);
        }
        if (i < p.outputs) {
            y[b * p.outputs + i] = 1.0 / (1.0 + exp(-(0.1 * (max(0.0, vs - p.v_rest) - 10.0))));
        }
        let e_new = p.trace_lambda * e[si] + select(0.0, 1.0, spike);
        e[si] = e_new;
        if (p.stats != 0u && p.pos + 1u < lens[b]) {
            let o = (p.window * p.batch + b) * p.n + i;
            wc[o] += select(0.0, 1.0, spike);
            we[o] += e_new;
        }
        workgroupBarrier();
        if (lid == 0u) { atomicAdd(&counts[b * MODULES + p.module_id], atomicLoad(&fired)); }
    }
    let out = tile * p.n + i;
    // The workgroup with the batch's last sequence also clears the word's unused high bits.
    var clear = mask;
    let used = p.batch - tile * SPIKE_TILE;
    if (b0 + nb == p.batch && used < SPIKE_TILE) { clear |= ~((1u << used) - 1u); }
    atomicAnd(&spk_next[out], ~clear);
    atomicOr(&spk_next[out], bits << off);
}
