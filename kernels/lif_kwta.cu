// lif_kwta: one module's tick for one COLUMN-neuron column of up to SPIKE_TILE sequences (docs/model.md §3.3–3.4):
// neuromodulated input, recurrent input from last tick's spikes (slot-major W), LIF-A, exact
// kWTA (largest v*, ties to the lower index), readout, traces, the module's spike count and, in
// training (stats = 1), each neuron's spike and trace added into window `window` of wc/we
// ([windows][batch][n]) for sequences whose position pos is predicted (pos + 1 < lens[b]), and
// with derivative = 1 e-prop's pseudo-derivative into row psi_row0 + b of psi.
// Spikes are bits: word [b / 32][i] holds sequence b's spike of neuron i, so one gather of a
// presynaptic word serves all the sequences a block steps (seq_per_group, a power of two <= 32, so
// a block's bits never straddle two words; several blocks may share a word).
// The CUDA backend also compiles this file with LIF_ONE_SEQUENCE = 1, for launches whose every block
// steps one sequence: without the multi-sequence path it needs about half the registers.
// And with LIF_EVENT = 1 for event-driven launches (`event = 1`), which gather nothing.
#ifndef LIF_ONE_SEQUENCE
#define LIF_ONE_SEQUENCE 0
#endif
#ifndef LIF_EVENT
#define LIF_EVENT 0
#endif

KERNEL {
    // The column's kWTA candidates of one sequence (v* and neuron), in arrival order, and their
    // count (two counters, alternating by sequence, so one can be cleared while the other fills).
    __shared__ float cand_v[COLUMN];
    __shared__ u32 cand_i[COLUMN];
    __shared__ u32 n_cand[2];
    __shared__ u32 fired;
    const u32 g = block_id(), cols = p.n / COLUMN, lid = threadIdx.x;
    const u32 b0 = (g / cols) * p.seq_per_group;
    if (b0 >= p.batch) return;
    const u32 nb = LIF_ONE_SEQUENCE ? 1u : min(p.seq_per_group, p.batch - b0), tile = b0 / SPIKE_TILE, off = b0 % SPIKE_TILE;
    const u32 mask = (nb == SPIKE_TILE ? 0xffffffffu : (1u << nb) - 1u) << off;
    const u32 i = (g % cols) * COLUMN + lid;
    const float th = theta[i];

    // Recurrent input of every sequence of the tile: the fixed-point weights of presynaptic
    // neurons that spiked last tick (integer sums, so their order does not matter; slot-major W),
    // and which sequences met a non-finite one. With `event`, `propagate` has summed them into
    // `rec` instead.
    int sums[SPIKE_TILE];
#pragma unroll
    for (u32 t = 0; t < SPIKE_TILE; t++) sums[t] = 0;
    u32 bad = 0u;
    const int lim = rec_limit(p.fanout);
    const u32* prev = spk_prev + (size_t)tile * p.n;
    const bool event = LIF_EVENT || p.event;
    if (!event && (LIF_ONE_SEQUENCE || nb == 1u)) {
        // Unrolled so that several independent index loads and spike gathers are in flight.
#pragma unroll 8
        for (u32 f = 0u; f < p.fanout; f++) {
            const size_t syn = (size_t)f * p.n + i;
            if (prev[w_idx[syn]] & mask) {
                const float w = w_val_at(syn);
                if (is_finite(w)) sums[0] += rec_units(w, lim);
                else bad = 1u;
            }
        }
    } else if (!event) {
        // The value is loaded whether or not a sequence of the tile spiked, so that the unrolled
        // iterations' loads overlap instead of waiting on each gathered word in turn.
#pragma unroll 4
        for (u32 f = 0u; f < p.fanout; f++) {
            const size_t syn = (size_t)f * p.n + i;
            const u32 word = (prev[w_idx[syn]] & mask) >> off;
            const float w = w_val_at(syn);
            const bool finite = is_finite(w);
            const int q = finite ? rec_units(w, lim) : 0;
            if (!finite) bad |= word;
#pragma unroll
            for (u32 t = 0; t < SPIKE_TILE; t++)
                if (word & (1u << t)) sums[t] += q;
        }
    }

    if (lid < 2u) n_cand[lid] = 0u;
    __syncthreads();
    u32 bits = 0u;
    // Each sequence's state is loaded one sequence ahead (only this thread touches it), so the
    // loads' latency overlaps the previous sequence's kWTA.
    size_t si = (size_t)b0 * p.n + i;
    float v_next = v[si], a_next = a[si], e_next = e[si];
    float j_next = i < p.inputs ? j[(size_t)b0 * p.inputs + i] : 0.0f;
    for (u32 t = 0u; t < nb; t++) {
        const u32 b = b0 + t;
        si = (size_t)b * p.n + i;
        const float v_old = v_next, a_old = a_next, e_old = e_next, j_in = j_next;
        if (t + 1u < nb) {
            const size_t sn = si + p.n;
            v_next = v[sn];
            a_next = a[sn];
            e_next = e[sn];
            j_next = i < p.inputs ? j[(size_t)(b + 1u) * p.inputs + i] : 0.0f;
        }
        if (lid == 0u) fired = 0u;
        const u32 nm = (b * MODULES + p.module_id) * 2u;
        const bool go = p.use_go != 0u && ctrl[b * CTRL_WORDS + 1u] != 0u;
        const float inh = p.inhibition * (1.0f - (go ? p.go_bias : 0.0f));
        const float gain = p.excitability * (1.0f + neuromod[nm] * p.s_da) * (1.0f + 0.5f * neuromod[nm + 1u] * p.s_5ht) * (1.0f - inh);
        const float cur = i < p.inputs ? j_in * gain : 0.0f;
        float r;
        if (event) {
            // propagate's sum and non-finite bit of this neuron, cleared for the next tick.
            u32* sum = rec + (size_t)b * (p.n + p.n / 32u);
            const u32 bit = 1u << (i % 32u);
            const bool was_bad = (sum[p.n + i / 32u] & bit) != 0u;
            r = rec_mv((int)sum[i], was_bad);
            sum[i] = 0u;
            if (was_bad) atomicAnd(&sum[p.n + i / 32u], ~bit);
        } else {
            int s = 0;
#pragma unroll
            for (u32 k = 0; k < SPIKE_TILE; k++)
                if (k == t) s = sums[k];
            r = rec_mv(s, (bad >> t) & 1u);
        }
        const float vs = fmaxf(p.v_min, p.v_rest + p.alpha * (v_old - p.v_rest) + cur + r - a_old);
        const bool is_cand = vs > th;
        if (is_cand) {
            const u32 slot = atomicAdd(&n_cand[t & 1u], 1u);
            cand_v[slot] = vs;
            cand_i[slot] = lid;
        }
        __syncthreads();

        // Exact kWTA: with at most k candidates all of them spike; else each one's rank among the
        // candidates (v* descending, ties to the lower index) decides; the list's order does not.
        const u32 c = n_cand[t & 1u];
        if (lid == 0u) n_cand[(t + 1u) & 1u] = 0u; // last read a sequence ago
        bool spike = is_cand;
        if (is_cand && c > p.k) {
            u32 rank = 0u;
            for (u32 s = 0u; s < c; s++) {
                const float o = cand_v[s];
                if (o > vs || (o == vs && cand_i[s] < lid)) rank++;
            }
            spike = rank < p.k;
        }
        float an = p.beta * a_old;
        const float v_new = spike ? p.v_reset : (is_cand ? th : vs);
        v[si] = v_new;
        if (spike) {
            an += p.delta_a;
            atomicAdd(&fired, 1u);
            bits |= 1u << t;
        }
        if (p.derivative != 0u)
            psi[((size_t)p.psi_row0 + b) * p.n + i] = spike ? 1.0f : fmaxf(0.0f, 1.0f - fabsf(v_new - th) * p.inv_width);
        a[si] = an;
        if (i < p.outputs) y[b * p.outputs + i] = 1.0f / (1.0f + expf(-(0.1f * (fmaxf(0.0f, vs - p.v_rest) - 10.0f))));
        const float e_new = p.trace_lambda * e_old + (spike ? 1.0f : 0.0f);
        e[si] = e_new;
        if (p.stats != 0u && p.pos + 1u < lens[b]) {
            const size_t o = ((size_t)p.window * p.batch + b) * p.n + i;
            wc[o] += spike ? 1.0f : 0.0f;
            we[o] += e_new;
        }
        __syncthreads();
        if (lid == 0u) atomicAdd(&counts[b * MODULES + p.module_id], fired);
    }
    u32* out = spk_next + (size_t)tile * p.n + i;
    // The block with the batch's last sequence also clears the word's unused high bits.
    const u32 used = p.batch - tile * SPIKE_TILE;
    const u32 clear = mask | (b0 + nb == p.batch && used < SPIKE_TILE ? ~((1u << used) - 1u) : 0u);
    atomicAnd(out, ~clear);
    atomicOr(out, bits << off);
}
