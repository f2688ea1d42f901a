// rewards (docs/model.md §6, step 3): a thread per sequence walks its positions in order: reward, running
// mean rbar, prediction error delta, window modulators (mean delta per window), the DA factor
// plasticity uses, DA/5HT for the next call, per-sequence sums; then batch totals.
KERNEL {
    const u32 lid = threadIdx.x;
    for (u32 b = lid; b < p.batch; b += COLUMN) {
        float rb = rbar[b];
        u32 w_cur = 0u, wcnt = 0u, correct = 0u, count = 0u, last = 0u;
        float wsum = 0.0f, dsum = 0.0f, nll = 0.0f;
        for (u32 w = 0u; w < p.windows; w++) mod_base[b * p.windows + w] = 0.0f;
        for (u32 t = 0u; t < p.positions; t++) {
            const u32* s = row_stats + ((size_t)t * p.batch + b) * ROW_WORDS;
            if (s[2] == 0u) continue;
            float r = s[1] != 0u ? p.reward : -p.reward;
            rb = p.rbar_decay * rb + (1.0f - p.rbar_decay) * r;
            float delta = r - rb;
            u32 w = ((t + 1u) * p.ticks_per_token - 1u) / p.window_ticks;
            if (w != w_cur) {
                if (wcnt > 0u) mod_base[b * p.windows + w_cur] = wsum / (float)wcnt;
                w_cur = w;
                wsum = 0.0f;
                wcnt = 0u;
            }
            wsum += delta;
            wcnt++;
            dsum += delta;
            nll += __uint_as_float(s[0]);
            correct += s[1];
            count++;
            last = s[3];
        }
        if (wcnt > 0u) mod_base[b * p.windows + w_cur] = wsum / (float)wcnt;
        rbar[b] = rb;
        const float dmean = count > 0u ? dsum / (float)count : 0.0f;
        for (u32 m = 0u; m < MODULES; m++) {
            const u32 nm = (b * MODULES + m) * 2u;
            mfac[b * MODULES + m] = 1.0f + neuromod[nm] * p.s_da[m];
            neuromod[nm] = fminf(fmaxf(neuromod[nm] + dmean * p.s_da[m], 0.0f), 2.0f);
            neuromod[nm + 1u] = fminf(fmaxf(neuromod[nm + 1u] + p.ht_step * p.s_5ht[m], 0.0f), 2.0f);
        }
        acc[b * ACC_WORDS] = nll;
        acc[b * ACC_WORDS + 1u] = (float)correct;
        acc[b * ACC_WORDS + 2u] = (float)count;
        acc[b * ACC_WORDS + 3u] = (float)last;
    }
    __syncthreads();
    if (lid == 0u) {
        float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f;
        for (u32 b = 0u; b < p.batch; b++) { t0 += acc[b * ACC_WORDS]; t1 += acc[b * ACC_WORDS + 1u]; t2 += acc[b * ACC_WORDS + 2u]; }
        totals[0] = t0;
        totals[1] = t1;
        totals[2] = t2;
        totals[3] = 1.0f / fmaxf(t2, 1.0f);
    }
}
