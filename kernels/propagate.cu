// propagate: event-driven recurrent input (docs/model.md §3.4). A block takes COLUMN presynaptic
// neurons of one spike tile; for each sequence of the tile it lists the ones that spiked, then its
// warps walk the listed neurons' outgoing synapses and add each weight's fixed-point units to its
// target's sum (integer atomics: any order gives the same sum).

KERNEL {
    __shared__ u32 spiked[COLUMN];
    __shared__ u32 n_spiked;
    const u32 g = block_id(), cols = p.n / COLUMN, lid = threadIdx.x;
    const u32 tile = g / cols;
    if (tile * SPIKE_TILE >= p.batch) return;
    const u32 j = (g % cols) * COLUMN + lid;
    const u32 word = spk_prev[(size_t)tile * p.n + j];
    const u32 seqs = min((u32)SPIKE_TILE, p.batch - tile * SPIKE_TILE), lane = lid % 32u;
    const int lim = rec_limit(p.fanout);
    for (u32 t = 0u; t < seqs; t++) {
        if (lid == 0u) n_spiked = 0u;
        __syncthreads();
        if ((word >> t) & 1u) spiked[atomicAdd(&n_spiked, 1u)] = j;
        __syncthreads();
        const u32 count = n_spiked;
        u32* sums = rec + (size_t)(tile * SPIKE_TILE + t) * (p.n + p.n / 32u);
        for (u32 s = lid / 32u; s < count; s += COLUMN / 32u) {
            const u32 pre = spiked[s], end = out_start[pre + 1u];
            for (u32 o = out_start[pre] + lane; o < end; o += 32u) {
                const u32 syn = out_syn[o], i = syn % p.n;
                const float w = w_val_at(syn);
                if (is_finite(w)) atomicAdd(&sums[i], (u32)rec_units(w, lim));
                else atomicOr(&sums[p.n + i / 32u], 1u << (i % 32u));
            }
        }
        __syncthreads();
    }
}
