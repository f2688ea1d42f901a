// rewards (docs/model.md §6, step 3): one workgroup; a thread per sequence walks its positions in order:
// reward, running mean rbar, prediction error delta, window modulators (mean delta per window),
// the DA factor plasticity uses, DA/5HT for the next call, per-sequence sums; then batch totals.

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    for (var b = lid; b < p.batch; b += COLUMN) {
        var rb = rbar[b];
        var w_cur = 0u;
        var wsum = 0.0;
        var wcnt = 0u;
        for (var w = 0u; w < p.windows; w++) { mod_base[b * p.windows + w] = 0.0; }
        var dsum = 0.0;
        var nll = 0.0;
        var correct = 0u;
        var count = 0u;
        var last = 0u;
        for (var t = 0u; t < p.positions; t++) {
            let o = (t * p.batch + b) * ROW_WORDS;
            if (row_stats[o + 2u] == 0u) { continue; }
            let r = select(-p.reward, p.reward, row_stats[o + 1u] != 0u);
            rb = p.rbar_decay * rb + (1.0 - p.rbar_decay) * r;
            let delta = r - rb;
            let w = ((t + 1u) * p.ticks_per_token - 1u) / p.window_ticks;
            if (w != w_cur) {
                if (wcnt > 0u) { mod_base[b * p.windows + w_cur] = wsum / f32(wcnt); }
                w_cur = w;
                wsum = 0.0;
                wcnt = 0u;
            }
            wsum += delta;
            wcnt++;
            dsum += delta;
            nll += bitcast<f32>(row_stats[o]);
            correct += row_stats[o + 1u];
            count++;
            last = row_stats[o + 3u];
        }
        if (wcnt > 0u) { mod_base[b * p.windows + w_cur] = wsum / f32(wcnt); }
        rbar[b] = rb;
        var dmean = 0.0;
        if (count > 0u) { dmean = dsum / f32(count); }
        for (var m = 0u; m < MODULES; m++) {
            let nm = (b * MODULES + m) * 2u;
            mfac[b * MODULES + m] = 1.0 + neuromod[nm] * p_s_da(m);
            neuromod[nm] = clamp(neuromod[nm] + dmean * p_s_da(m), 0.0, 2.0);
            neuromod[nm + 1u] = clamp(neuromod[nm + 1u] + p.ht_step * p_s_5ht(m), 0.0, 2.0);
        }
        acc[b * ACC_WORDS] = nll;
        acc[b * ACC_WORDS + 1u] = f32(correct);
        acc[b * ACC_WORDS + 2u] = f32(count);
        acc[b * ACC_WORDS + 3u] = f32(last);
    }
    workgroupBarrier();
    if (lid == 0u) {
        var t0 = 0.0;
        var t1 = 0.0;
        var t2 = 0.0;
        for (var b = 0u; b < p.batch; b++) {
            t0 += acc[b * ACC_WORDS];
            t1 += acc[b * ACC_WORDS + 1u];
            t2 += acc[b * ACC_WORDS + 2u];
        }
        totals[0] = t0;
        totals[1] = t1;
        totals[2] = t2;
        totals[3] = 1.0 / max(t2, 1.0);
    }
}
