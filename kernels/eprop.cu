// eprop: one fixed-fanout matrix learns by e-prop (docs/model.md §6, e-prop). A thread per
// (postsynaptic row i, EPROP_SLOTS of its slots): it reads the row's pseudo-derivative and learning
// signal once per position for all of them. Per sequence b, in position order (row r = t*batch + b):
// elig = lambda * elig + psi[r, i] * pre_j, acc += signal[r, i] * elig, with pre_j the presynaptic
// feature pre_lag positions back; w_next = clamp(w - rate * pre_scale * acc / count, -bound, bound).
KERNEL {
    const u32 g = block_id() * COLUMN + threadIdx.x;
    const u32 chunks = (p.fanout + EPROP_SLOTS - 1u) / EPROP_SLOTS;
    if (g >= p.n * chunks) return;
    const u32 i = g % p.n, f0 = (g / p.n) * EPROP_SLOTS, nf = min(EPROP_SLOTS, p.fanout - f0);
    u32 j[EPROP_SLOTS];
    float acc[EPROP_SLOTS];
#pragma unroll
    for (u32 s = 0; s < EPROP_SLOTS; s++) {
        j[s] = s < nf ? w_idx[(size_t)(f0 + s) * p.n + i] : 0u;
        acc[s] = 0.0f;
    }
    for (u32 b = 0u; b < p.batch; b++) {
        float elig[EPROP_SLOTS] = {};
        for (u32 t = 0u; t < p.positions; t++) {
            const size_t r = (size_t)t * p.batch + b;
            const float ps = psi[r * p.post_n + i], sg = signal[r * p.post_n + i];
            const bool has_pre = t >= p.pre_lag;
            const float* pre = features + (has_pre ? (r - (size_t)p.pre_lag * p.batch) * p.width + p.pre_offset : 0);
#pragma unroll
            for (u32 s = 0; s < EPROP_SLOTS; s++) {
                const float x = has_pre ? pre[j[s]] : 0.0f;
                elig[s] = p.lambda * elig[s] + ps * x;
                acc[s] += sg * elig[s];
            }
        }
    }
    const float step = -p.rate * p.pre_scale * totals[3];
    for (u32 s = 0; s < nf; s++) {
        const size_t syn = (size_t)(f0 + s) * p.n + i;
        w_next[syn] = fminf(fmaxf(w_val[syn] + step * acc[s], -p.bound), p.bound);
    }
}
