//! The CPU reference backend: the test oracle. Plain loops, f64 accumulation for sums (the
//! recurrent input's are integers by definition, docs/model.md §3.4), clarity over speed; the ops
//! that take most of a step (`lif_kwta`, `propagate`, `project`, `logits`, `decoder_grad`) spread
//! independent rows or sequences over all cores (rayon), with results that do not depend on the
//! thread count. Each `fn` below is the specification of the shader and kernel of the same name.

use super::*;
use crate::config::NUM_MODULES;
use crate::error::NeuroError;
use crate::sampling::{argmax, choose_token, uniform, SamplingRule};
use rayon::prelude::*;

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn mean(x: &[f32]) -> f64 {
    x.iter().map(|&v| v as f64).sum::<f64>() / x.len() as f64
}

pub fn fill(p: &fill::Params, io: fill::Io) {
    let fill::Io { out } = io;
    out[..p.len as usize].fill(p.value);
}

pub fn copy(p: &copy::Params, io: copy::Io) {
    let copy::Io { src, dst } = io;
    let (n, s, d) = (p.len as usize, p.src_offset as usize, p.dst_offset as usize);
    dst[d..d + n].copy_from_slice(&src[s..s + n]);
}

pub fn gather_rows(p: &gather_rows::Params, io: gather_rows::Io) {
    let gather_rows::Io { src, dst } = io;
    let (w, ss, ds) = (p.width as usize, p.src_stride as usize, p.dst_stride as usize);
    for b in 0..p.batch as usize {
        let at = (p.row0 as usize + b) * ds + p.dst_offset as usize;
        for (d, &x) in dst[at..at + w].iter_mut().zip(&src[b * ss..b * ss + w]) {
            *d = p.scale * x;
        }
    }
}

pub fn embed_gate(p: &embed_gate::Params, io: embed_gate::Io) {
    let embed_gate::Io { tokens, emb, prev, j } = io;
    let e = p.embed as usize;
    for b in 0..p.batch as usize {
        let tok = tokens[b * p.tstride as usize + p.pos as usize] as usize;
        let u = &weight_values(emb, tok * e..(tok + 1) * e, p.bf16);
        let m = mean(u);
        let var = u.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / e as f64;
        let std = var.sqrt();
        let snr = if std < 1e-6 { 0.0 } else { m.abs() / std };
        let pass_through = snr > p.tau_att as f64;
        for i in 0..e {
            let delta = u[i] - prev[b * e + i];
            let gated = if delta.abs() > p.tau_att { delta } else { 0.0 };
            j[b * e + i] = if pass_through { u[i] } else { gated };
            prev[b * e + i] = u[i];
        }
    }
}

/// The fast weight a connection will have after this tick (docs/model.md §3.2).
pub fn next_fast(f: f32, act: f32, decay: f32, rate: f32, cap: f32) -> f32 {
    (decay * f + rate * act.abs()).min(cap)
}

pub fn project(p: &project::Params, io: project::Io) {
    let project::Io { p_idx, p_val, y_src, gains, fast, j, acts } = io;
    let (rows, fan, o) = (p.rows as usize, p.fanout as usize, p.o_src as usize);
    let p_val = &weight_values(p_val, 0..rows * fan, p.bf16);
    for b in 0..p.batch as usize {
        let slot = b * p.n_conn as usize + p.conn as usize;
        let act = mean(&y_src[b * o..(b + 1) * o]) as f32;
        acts[slot] = act;
        let mut g = gains[p.conn as usize] + next_fast(fast[slot], act, p.fast_decay, p.fast_rate, p.fast_cap);
        if p.inhibitory != 0 {
            g = -g.abs();
        }
        let drive = (act * g).abs();
        if drive < p.gate_threshold {
            g = g * drive / p.gate_threshold;
        }
        // Rows on all cores (in blocks, so small modules stay on one): each row's sum is the same
        // whatever thread takes it.
        j[b * rows..(b + 1) * rows].par_iter_mut().with_min_len(512).enumerate().for_each(|(i, out)| {
            let s: f64 =
                (0..fan).map(|k| p_val[k * rows + i] as f64 * y_src[b * o + p_idx[k * rows + i] as usize] as f64).sum();
            let val = g * s as f32;
            *out = if p.accumulate != 0 { *out + val } else { val };
        });
    }
}

/// The neuromodulated input gain of a module for one sequence (docs/model.md §3.3).
pub fn input_gain(p: &lif_kwta::Params, neuromod: &[f32], ctrl: &[u32], b: usize) -> f32 {
    let nm = (b * NUM_MODULES + p.module_id as usize) * 2;
    let (da, ht) = (neuromod[nm], neuromod[nm + 1]);
    let go = p.use_go != 0 && ctrl[b * CTRL_WORDS + 1] != 0;
    let bias = if go { p.go_bias } else { 0.0 };
    let inh = p.inhibition * (1.0 - bias);
    p.excitability * (1.0 + da * p.s_da) * (1.0 + 0.5 * ht * p.s_5ht) * (1.0 - inh)
}

/// The membrane candidate `v*` before threshold and kWTA (docs/model.md §3.4).
/// The recurrent input of every neuron of every sequence (docs/model.md §3.4): the fixed-point sum
/// over the synapses whose presynaptic neuron spiked last tick, NaN where one of their weights is
/// not finite. Gathered over each neuron's synapses, or (`event`) read from `propagate`'s sums,
/// which are cleared for the next tick.
fn recurrent_input(
    p: &lif_kwta::Params,
    w_idx: &[u32],
    w_val: &[u32],
    spk_prev: &[u32],
    rec: &mut [u32],
) -> Vec<Vec<f32>> {
    let (n, fan, batch) = (p.n as usize, p.fanout as usize, p.batch as usize);
    if p.event != 0 {
        let rw = rec_words(n);
        return rec[..batch * rw]
            .par_chunks_mut(rw)
            .map(|rec| {
                let (sums, bad) = rec.split_at_mut(n);
                let out = (0..n).map(|i| rec_mv(sums[i] as i32, (bad[i / 32] >> (i % 32)) & 1 != 0)).collect();
                sums.fill(0);
                bad.fill(0);
                out
            })
            .collect();
    }
    let w_val = &weight_values(w_val, 0..n * fan, p.bf16);
    let lim = rec_limit(p.fanout);
    (0..batch)
        .into_par_iter()
        .map(|b| {
            let (tile, bit) = (b / SPIKE_TILE, b % SPIKE_TILE);
            let spiked = |j: u32| (spk_prev[tile * n + j as usize] >> bit) & 1 != 0;
            (0..n)
                .map(|i| {
                    let (mut sum, mut bad) = (0i32, false);
                    for f in (0..fan).filter(|&f| spiked(w_idx[f * n + i])) {
                        let w = w_val[f * n + i];
                        if w.is_finite() {
                            sum = sum.wrapping_add(rec_units(w, lim));
                        } else {
                            bad = true;
                        }
                    }
                    rec_mv(sum, bad)
                })
                .collect()
        })
        .collect()
}

pub fn propagate(p: &propagate::Params, io: propagate::Io) {
    let propagate::Io { spk_prev, out_start, out_syn, w_val, rec } = io;
    let (n, batch) = (p.n as usize, p.batch as usize);
    let (rw, lim) = (rec_words(n), rec_limit(p.fanout));
    rec[..batch * rw].par_chunks_mut(rw).enumerate().for_each(|(b, rec)| {
        let (tile, bit) = (b / SPIKE_TILE, b % SPIKE_TILE);
        for j in (0..n).filter(|&j| (spk_prev[tile * n + j] >> bit) & 1 != 0) {
            for &syn in &out_syn[out_start[j] as usize..out_start[j + 1] as usize] {
                // Only the weights a spike reads are decoded.
                let (w, i) = (weight_at(w_val, syn as usize, p.bf16), syn as usize % n);
                if w.is_finite() {
                    rec[i] = rec[i].wrapping_add(rec_units(w, lim) as u32);
                } else {
                    rec[n + i / 32] |= 1 << (i % 32);
                }
            }
        }
    });
}

pub fn lif_kwta(p: &lif_kwta::Params, io: lif_kwta::Io) {
    let lif_kwta::Io {
        j,
        w_idx,
        w_val,
        theta,
        neuromod,
        ctrl,
        spk_prev,
        v,
        a,
        e,
        spk_next,
        y,
        counts,
        rec,
        lens,
        wc,
        we,
        psi,
    } = io;
    let (n, batch) = (p.n as usize, p.batch as usize);
    let (inputs, outputs) = (p.inputs as usize, p.outputs as usize);
    let recurrent = recurrent_input(p, w_idx, w_val, spk_prev, rec);
    let tiles = batch.div_ceil(SPIKE_TILE);
    // Sequences are independent within a tick: each is updated on its own thread, and their
    // spikes are then packed into the shared bit words (SPIKE_TILE sequences per word).
    let (v, a, e, y) = (&mut v[..batch * n], &mut a[..batch * n], &mut e[..batch * n], &mut y[..batch * outputs]);
    let fired: Vec<Vec<u32>> =
        (v.par_chunks_mut(n), a.par_chunks_mut(n), e.par_chunks_mut(n), y.par_chunks_mut(outputs))
            .into_par_iter()
            .enumerate()
            .map(|(b, (v, a, e, y))| {
                let gain = input_gain(p, neuromod, ctrl, b);
                let rec = &recurrent[b];
                let mut fired = vec![0u32; n];
                let mut vstar = [0f32; COLUMN];
                let mut order: Vec<usize> = Vec::with_capacity(COLUMN);
                for col in 0..n / COLUMN {
                    let base = col * COLUMN;
                    for t in 0..COLUMN {
                        let i = base + t;
                        let cur = if i < inputs { j[b * inputs + i] * gain } else { 0.0 };
                        let vs = p.v_rest + p.alpha * (v[i] - p.v_rest) + cur + rec[i] - a[i];
                        vstar[t] = vs.max(p.v_min);
                    }
                    // Exact kWTA: the k candidates (v* above threshold) with the largest v*, ties to
                    // the lower index; the candidates sorted by (v* descending, index).
                    let candidate = |u: usize| vstar[u] > theta[base + u];
                    order.clear();
                    order.extend((0..COLUMN).filter(|&u| candidate(u)));
                    order.sort_by(|&x, &z| {
                        vstar[z].partial_cmp(&vstar[x]).unwrap_or(std::cmp::Ordering::Equal).then(x.cmp(&z))
                    });
                    let mut spike = [false; COLUMN];
                    for &u in order.iter().take(p.k as usize) {
                        spike[u] = true;
                    }
                    for t in 0..COLUMN {
                        let i = base + t;
                        a[i] *= p.beta;
                        if spike[t] {
                            v[i] = p.v_reset;
                            a[i] += p.delta_a;
                        } else if candidate(t) {
                            v[i] = theta[i];
                        } else {
                            v[i] = vstar[t];
                        }
                        if i < outputs {
                            y[i] = sigmoid(0.1 * ((vstar[t] - p.v_rest).max(0.0) - 10.0));
                        }
                        let sp = spike[t] as u32;
                        e[i] = p.trace_lambda * e[i] + sp as f32;
                        fired[i] = sp;
                    }
                }
                fired
            })
            .collect();
    // This tick's buffer is rebuilt bit by bit.
    spk_next[..tiles * n].fill(0);
    for (b, fired) in fired.iter().enumerate() {
        let (tile, bit) = (b / SPIKE_TILE, b % SPIKE_TILE);
        for (w, &f) in spk_next[tile * n..(tile + 1) * n].iter_mut().zip(fired) {
            *w |= f << bit;
        }
        counts[b * NUM_MODULES + p.module_id as usize] += fired.iter().sum::<u32>();
        // Training: this tick's spikes and traces into the window's statistics.
        if p.stats != 0 && (p.pos as usize + 1) < lens[b] as usize {
            let o = (p.window as usize * batch + b) * n;
            for i in 0..n {
                wc[o + i] += fired[i] as f32;
                we[o + i] += e[b * n + i];
            }
        }
        // e-prop: the surrogate derivative from the state after the tick.
        if p.derivative != 0 {
            let row = &mut psi[(p.psi_row0 as usize + b) * n..][..n];
            for i in 0..n {
                let near = (1.0 - (v[b * n + i] - theta[i]).abs() * p.inv_width).max(0.0);
                row[i] = if fired[i] == 1 { 1.0 } else { near };
            }
        }
    }
}

pub fn go_nogo(p: &go_nogo::Params, io: go_nogo::Io) {
    let go_nogo::Io { y_bg, ctrl } = io;
    let o = p.outputs as usize;
    for b in 0..p.batch as usize {
        let m = mean(&y_bg[b * o..(b + 1) * o]) as f32;
        let c = &mut ctrl[b * CTRL_WORDS..(b + 1) * CTRL_WORDS];
        c[0] += 1;
        let go = m > 0.5 || c[0] >= p.max_depth;
        if go {
            c[0] = 0;
        }
        c[1] = go as u32;
    }
}

pub fn context_update(p: &context_update::Params, io: context_update::Io) {
    let context_update::Io { y_thal, y_pfc, acts, context, hidden, neuromod, fast } = io;
    let (ot, op, nc) = (p.o_thal as usize, p.o_pfc as usize, p.n_conn as usize);
    for b in 0..p.batch as usize {
        for c in 0..nc {
            let f = &mut fast[b * nc + c];
            *f = next_fast(*f, acts[b * nc + c], p.fast_decay, p.fast_rate, p.fast_cap);
        }
        for i in 0..ot {
            let y = y_thal[b * ot + i];
            let c = &mut context[b * ot + i];
            *c = if p.first != 0 { y } else { p.ctx_decay * *c + (1.0 - p.ctx_decay) * y };
        }
        for i in 0..op {
            let h = &mut hidden[b * op + i];
            *h = p.hidden_decay * *h + (1.0 - p.hidden_decay) * y_pfc[b * op + i];
        }
        for m in 0..NUM_MODULES {
            let nm = (b * NUM_MODULES + m) * 2;
            neuromod[nm] *= p.da_decay;
            neuromod[nm + 1] *= p.ht_decay;
        }
    }
}

/// `c[m×n] = a[m×k] · b[k×n]` in f64, where `a` and `b` are given by their row and column strides
/// (a GEMM crate: the decoder's two products are the CPU backend's largest cost).
#[allow(clippy::too_many_arguments)]
fn gemm64(
    m: usize,
    k: usize,
    n: usize,
    a: &[f64],
    (rsa, csa): (isize, isize),
    b: &[f64],
    (rsb, csb): (isize, isize),
    c: &mut [f64],
) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n, "gemm64 operands too short");
    // SAFETY: the strides address `a` as m×k and `b` as k×n within their lengths (checked by the
    // callers' shapes) and `c` as a row-major m×n buffer.
    unsafe {
        matrixmultiply::dgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

fn widen(x: &[f32]) -> Vec<f64> {
    x.par_iter().map(|&v| v as f64).collect()
}

/// `logits` of at most `L` rows (generation): one pass over each stored vocabulary row for all of
/// them, a row per task, each sum in feature order (the rows side by side, so the lanes are rows);
/// widening the whole decoder to f64 for the GEMM would cost more than the products.
fn few_row_logits<const L: usize>(p: &logits::Params, dec_w: &[u32], dec_b: &[f32], y: &[f32], out: &mut [f32]) {
    let (rows, v, d) = (p.batch as usize, p.vocab as usize, p.width as usize);
    let mut yt = vec![0f64; d * L];
    for (r, row) in y[..rows * d].chunks(d).enumerate() {
        for (i, &x) in row.iter().enumerate() {
            yt[i * L + r] = x as f64;
        }
    }
    let cols: Vec<[f64; L]> = (0..v)
        .into_par_iter()
        .map(|k| {
            let mut acc = [0f64; L];
            for (&w, ys) in weight_values(dec_w, k * d..(k + 1) * d, p.bf16).iter().zip(yt.chunks_exact(L)) {
                for (a, &x) in acc.iter_mut().zip(ys) {
                    *a += x * w as f64;
                }
            }
            acc
        })
        .collect();
    for (k, acc) in cols.iter().enumerate() {
        for (r, &s) in acc[..rows].iter().enumerate() {
            out[r * v + k] = dec_b[k] + s as f32;
        }
    }
}

pub fn logits(p: &logits::Params, io: logits::Io) {
    let logits::Io { dec_w, dec_b, y, logits: out } = io;
    let (rows, v, d) = (p.batch as usize, p.vocab as usize, p.width as usize);
    match rows {
        1 => return few_row_logits::<1>(p, dec_w, dec_b, y, out),
        2 => return few_row_logits::<2>(p, dec_w, dec_b, y, out),
        3..=4 => return few_row_logits::<4>(p, dec_w, dec_b, y, out),
        5..=LOGITS_BATCH_TILE => return few_row_logits::<LOGITS_BATCH_TILE>(p, dec_w, dec_b, y, out),
        _ => {}
    }
    // out[rows×V] = y[rows×D] · dec_wᵀ[D×V] + b
    let (yw, ww) = (widen(&y[..rows * d]), widen(&weight_values(dec_w, 0..v * d, p.bf16)));
    let mut c = vec![0f64; rows * v];
    gemm64(rows, d, v, &yw, (d as isize, 1), &ww, (1, d as isize), &mut c);
    for (o, row) in out[..rows * v].chunks_mut(v).zip(c.chunks(v)) {
        for ((o, &s), &b) in o.iter_mut().zip(row).zip(dec_b) {
            *o = b + s as f32;
        }
    }
}

pub fn sample(p: &sample::Params, io: sample::Io) {
    let sample::Io { logits, lens, tokens, ctrl } = io;
    let (v, ts) = (p.vocab as usize, p.tstride as usize);
    let next = p.pos as usize + 1;
    let seed = p.seed_lo as u64 | (p.seed_hi as u64) << 32;
    let rule =
        SamplingRule { greedy: p.greedy != 0, temperature: 1.0 / p.inv_temperature, top_k: p.top_k, top_p: p.top_p };
    for b in 0..p.batch as usize {
        let plen = lens[b] as usize;
        if next >= ts || next < plen {
            continue;
        }
        let done = &mut ctrl[b * CTRL_WORDS + 2];
        if *done != 0 {
            tokens[b * ts + next] = p.pad;
            continue;
        }
        let id = choose_token(&logits[b * v..(b + 1) * v], rule, uniform(seed, b as u32, next as u32));
        tokens[b * ts + next] = id;
        if id == p.eos {
            *done = 1;
        }
    }
}

pub fn loss_accum(p: &loss_accum::Params, io: loss_accum::Io) {
    let loss_accum::Io { logits, tokens, lens, acc } = io;
    let (v, ts) = (p.vocab as usize, p.tstride as usize);
    let next = p.pos as usize + 1;
    for b in 0..p.batch as usize {
        if next >= lens[b] as usize {
            continue;
        }
        let row = &logits[b * v..(b + 1) * v];
        let target = tokens[b * ts + next] as usize;
        let best = argmax(row);
        let max = row[best] as f64;
        let lse = max + row.iter().map(|&l| (l as f64 - max).exp()).sum::<f64>().ln();
        let a = &mut acc[b * ACC_WORDS..(b + 1) * ACC_WORDS];
        a[0] += (lse - row[target] as f64) as f32;
        a[1] += (best == target) as u32 as f32;
        a[2] += 1.0;
    }
}

// ---- learning (docs/model.md §6) -----------------------------------------------------------------

fn finite(x: f32) -> bool {
    x.is_finite()
}

pub fn loss_grad(p: &loss_grad::Params, io: loss_grad::Io) {
    let loss_grad::Io { tokens, lens, logits, row_stats } = io;
    let v = p.vocab as usize;
    for r in 0..p.rows as usize {
        let (t, b) = (r / p.batch as usize, r % p.batch as usize);
        let row = &mut logits[r * v..(r + 1) * v];
        let best = argmax(row);
        let valid = t + 1 < lens[b] as usize;
        let stats = &mut row_stats[r * ROW_WORDS..(r + 1) * ROW_WORDS];
        if !valid {
            row.fill(0.0);
            stats.copy_from_slice(&[0, 0, 0, best as u32]);
            continue;
        }
        let target = tokens[b * p.tstride as usize + t + 1] as usize;
        let max = row[best] as f64;
        let sum: f64 = row.iter().map(|&l| (l as f64 - max).exp()).sum();
        let nll = (max + sum.ln() - row[target] as f64) as f32;
        for (i, l) in row.iter_mut().enumerate() {
            let prob = ((*l as f64 - max).exp() / sum) as f32;
            *l = prob - (i == target) as u32 as f32;
        }
        stats.copy_from_slice(&[nll.to_bits(), (best == target) as u32, 1, best as u32]);
    }
}

/// Window of position `t`: the window holding the last tick of the position.
pub fn window_of(t: usize, ticks_per_token: usize, window_ticks: usize) -> usize {
    ((t + 1) * ticks_per_token - 1) / window_ticks
}

pub fn rewards(p: &rewards::Params, io: rewards::Io) {
    let rewards::Io { row_stats, rbar, neuromod, mod_base, mfac, acc, totals } = io;
    let (batch, windows) = (p.batch as usize, p.windows as usize);
    let mut tot = [0f64; 3];
    for b in 0..batch {
        let mut rb = rbar[b];
        let (mut wsum, mut wcnt) = (vec![0f64; windows], vec![0u32; windows]);
        let (mut dsum, mut nll, mut correct, mut count, mut last) = (0f64, 0f64, 0u32, 0u32, 0u32);
        for t in 0..p.positions as usize {
            let s = &row_stats[(t * batch + b) * ROW_WORDS..][..ROW_WORDS];
            if s[2] == 0 {
                continue;
            }
            let r = if s[1] != 0 { p.reward } else { -p.reward };
            rb = p.rbar_decay * rb + (1.0 - p.rbar_decay) * r;
            let delta = r - rb;
            let w = window_of(t, p.ticks_per_token as usize, p.window_ticks as usize);
            wsum[w] += delta as f64;
            wcnt[w] += 1;
            dsum += delta as f64;
            nll += f32::from_bits(s[0]) as f64;
            correct += s[1];
            count += 1;
            last = s[3];
        }
        rbar[b] = rb;
        for w in 0..windows {
            mod_base[b * windows + w] = if wcnt[w] > 0 { (wsum[w] / wcnt[w] as f64) as f32 } else { 0.0 };
        }
        let dmean = if count > 0 { (dsum / count as f64) as f32 } else { 0.0 };
        for m in 0..NUM_MODULES {
            let nm = (b * NUM_MODULES + m) * 2;
            mfac[b * NUM_MODULES + m] = 1.0 + neuromod[nm] * p.s_da[m];
            neuromod[nm] = (neuromod[nm] + dmean * p.s_da[m]).clamp(0.0, 2.0);
            neuromod[nm + 1] = (neuromod[nm + 1] + p.ht_step * p.s_5ht[m]).clamp(0.0, 2.0);
        }
        acc[b * ACC_WORDS..(b + 1) * ACC_WORDS].copy_from_slice(&[
            nll as f32,
            correct as f32,
            count as f32,
            last as f32,
        ]);
        tot[0] += nll;
        tot[1] += correct as f64;
        tot[2] += count as f64;
    }
    totals[..4].copy_from_slice(&[tot[0] as f32, tot[1] as f32, tot[2] as f32, 1.0 / tot[2].max(1.0) as f32]);
}

pub fn decoder_grad(p: &decoder_grad::Params, io: decoder_grad::Io) {
    let decoder_grad::Io { grads, y, totals, g_w, g_b, partials } = io;
    let (rows, v, d) = (p.rows as usize, p.vocab as usize, p.width as usize);
    let inv = totals[3] as f64;
    let (vtiles, dtiles) = (v.div_ceil(GEMM_TILE), d.div_ceil(GEMM_TILE));
    // g_w[V×D] = gradsᵀ[V×rows] · y[rows×D] / count
    let c = if p.product_given != 0 {
        widen(&g_w[..v * d])
    } else {
        let (gw, yw) = (widen(&grads[..rows * v]), widen(&y[..rows * d]));
        let mut c = vec![0f64; v * d];
        gemm64(v, rows, d, &gw, (1, v as isize), &yw, (d as isize, 1), &mut c);
        c
    };
    let row_sq: Vec<Vec<f64>> = (g_w[..v * d].par_chunks_mut(d), g_b[..v].par_iter_mut(), c.par_chunks(d))
        .into_par_iter()
        .enumerate()
        .map(|(r, (g_w, g_b, c))| {
            let mut sq = vec![0f64; dtiles];
            for (k, (out, &s)) in g_w.iter_mut().zip(c).enumerate() {
                let s = s * inv;
                *out = s as f32;
                sq[k / GEMM_TILE] += s * s;
            }
            let s: f64 = (0..rows).map(|i| grads[i * v + r] as f64).sum::<f64>() * inv;
            *g_b = s as f32;
            sq[0] += s * s; // the bias belongs to the first column tile's partial
            sq
        })
        .collect();
    for (g, part) in partials.iter_mut().enumerate().take(decoder_grad_partials(v, d)) {
        let (vt, dt) = (g % vtiles, g / vtiles);
        *part = (vt * GEMM_TILE..((vt + 1) * GEMM_TILE).min(v)).map(|r| row_sq[r][dt]).sum::<f64>() as f32;
    }
}

pub fn grad_norm(p: &grad_norm::Params, io: grad_norm::Io) {
    let grad_norm::Io { partials, scalars } = io;
    let norm = partials[..p.n_partials as usize].iter().map(|&x| x as f64).sum::<f64>().sqrt() as f32;
    scalars[0] = if norm > p.clip { p.clip / norm } else { 1.0 };
    scalars[1] = norm;
}

pub fn sgd_step(p: &sgd_step::Params, io: sgd_step::Io) {
    let sgd_step::Io { param, scalars, grad, flags } = io;
    let step = p.lr * scalars[0];
    let n = p.len as usize;
    if p.apply == 0 {
        if !(0..n).all(|i| finite(param[i] - step * grad[i])) {
            flags[p.slot as usize] = 1;
        }
    } else if flags[..p.n_flags as usize].iter().all(|&f| f == 0) {
        for (w, &g) in param[..n].iter_mut().zip(grad) {
            *w -= step * g;
        }
    }
}

pub fn adam_step(p: &adam_step::Params, io: adam_step::Io) {
    let adam_step::Io { param, scalars, m, v, grad, flags } = io;
    let scale = scalars[0];
    let next = |i: usize, w: f32, m: f32, v: f32| {
        let g = scale * grad[i];
        let m1 = p.beta1 * m + (1.0 - p.beta1) * g;
        let v1 = p.beta2 * v + (1.0 - p.beta2) * g * g;
        (w - p.lr * (p.c1 * m1 / ((p.c2 * v1).sqrt() + p.eps) + p.weight_decay * w), m1, v1)
    };
    let n = p.len as usize;
    if p.apply == 0 {
        let ok = (0..n).all(|i| {
            let (w1, m1, v1) = next(i, param[i], m[i], v[i]);
            finite(w1) && finite(m1) && finite(v1)
        });
        if !ok {
            flags[p.slot as usize] = 1;
        }
    } else if flags[..p.n_flags as usize].iter().all(|&f| f == 0) {
        for i in 0..n {
            (param[i], m[i], v[i]) = next(i, param[i], m[i], v[i]);
        }
    }
}

pub fn plasticity(p: &plasticity::Params, io: plasticity::Io) {
    let plasticity::Io { w_idx, w_val, wc_t, we_t, mod_base, mfac, w_next } = io;
    let (batch, n, fan, windows) = (p.batch as usize, p.n as usize, p.fanout as usize, p.windows as usize);
    let rows = windows * batch;
    // The modulator of each row r = w·batch + b.
    let m: Vec<f64> = (0..rows)
        .map(|r| {
            (mod_base[(r % batch) * windows + r / batch] * mfac[(r % batch) * NUM_MODULES + p.module_id as usize])
                as f64
        })
        .collect();
    let inv = p.inv_window_ticks as f64;
    w_next[..n * fan].par_iter_mut().enumerate().for_each(|(syn, o)| {
        let (i, j) = (syn % n, w_idx[syn] as usize);
        let (ci, ei) = (&wc_t[i * rows..][..rows], &we_t[i * rows..][..rows]);
        let (cj, ej) = (&wc_t[j * rows..][..rows], &we_t[j * rows..][..rows]);
        let d: f64 = (0..rows)
            .filter(|&r| m[r] != 0.0)
            .map(|r| m[r] * (ci[r] as f64 * (ej[r] as f64 * inv) - (ei[r] as f64 * inv) * cj[r] as f64))
            .sum();
        *o = (w_val[syn] + (p.rate as f64 / batch as f64 * d) as f32).clamp(-1.0, 1.0);
    });
}

pub fn readout_derivative(p: &readout_derivative::Params, io: readout_derivative::Io) {
    let readout_derivative::Io { y, psi } = io;
    let o = p.outputs as usize;
    for b in 0..p.batch as usize {
        let row = &mut psi[(p.row0 as usize + b) * o..][..o];
        for (d, &y) in row.iter_mut().zip(&y[b * o..(b + 1) * o]) {
            *d = if y > p.rest { 0.1 * y * (1.0 - y) } else { 0.0 };
        }
    }
}

pub fn learning_signal(p: &learning_signal::Params, io: learning_signal::Io) {
    let learning_signal::Io { grads, dec_w, signal } = io;
    let (rows, v, d, off, n) = (p.rows as usize, p.vocab as usize, p.width as usize, p.offset as usize, p.n as usize);
    // signal[rows×n] = grads[rows×V] · dec_w[V×D] restricted to columns off..off+n
    let g = widen(&grads[..rows * v]);
    let w: Vec<f64> = (0..v).flat_map(|k| dec_w[k * d + off..][..n].iter().map(|&x| x as f64)).collect();
    let mut c = vec![0f64; rows * n];
    gemm64(rows, v, n, &g, (v as isize, 1), &w, (n as isize, 1), &mut c);
    for (o, &x) in signal[..rows * n].iter_mut().zip(&c) {
        *o = x as f32;
    }
}

pub fn transpose(p: &transpose::Params, io: transpose::Io) {
    let transpose::Io { src, dst } = io;
    let (rows, width) = (p.rows as usize, p.width as usize);
    dst[..rows * width].par_chunks_mut(rows.max(1)).enumerate().for_each(|(c, col)| {
        for (r, d) in col.iter_mut().enumerate() {
            *d = src[r * width + c];
        }
    });
}

pub fn eprop_filter(p: &eprop_filter::Params, io: eprop_filter::Io) {
    let eprop_filter::Io { psi, signal, q_t } = io;
    let (batch, positions, n) = (p.batch as usize, p.positions as usize, p.n as usize);
    let rows = batch * positions;
    q_t[..n * rows].par_chunks_mut(rows.max(1)).enumerate().for_each(|(i, q)| {
        for b in 0..batch {
            let mut filtered = 0f64;
            for t in (0..positions).rev() {
                let r = t * batch + b;
                filtered = signal[r * n + i] as f64 + p.lambda as f64 * filtered;
                q[r] = (psi[r * n + i] as f64 * filtered) as f32;
            }
        }
    });
}

pub fn eprop(p: &eprop::Params, io: eprop::Io) {
    let eprop::Io { w_idx, w_val, q_t, x_t, totals, w_next } = io;
    let (rows, n, fan) = (p.rows as usize, p.n as usize, p.fanout as usize);
    let (lag, off) = (p.lag_rows as usize, p.pre_offset as usize);
    let step = -(p.rate as f64) * p.pre_scale as f64 * totals[3] as f64;
    w_next[..n * fan].par_iter_mut().enumerate().for_each(|(syn, o)| {
        let (i, j) = (syn % n, w_idx[syn] as usize);
        let (q, x) = (&q_t[i * rows..][..rows], &x_t[(off + j) * rows..][..rows]);
        let acc: f64 = (lag..rows).map(|r| q[r] as f64 * x[r - lag] as f64).sum();
        *o = (w_val[syn] as f64 + step * acc).clamp(-(p.bound as f64), p.bound as f64) as f32;
    });
}

pub fn homeostasis(p: &homeostasis::Params, io: homeostasis::Io) {
    let homeostasis::Io { theta, wc, theta_next, activity } = io;
    let (batch, n, windows) = (p.batch as usize, p.n as usize, p.windows as usize);
    for i in 0..n {
        let spikes: f64 = (0..windows * batch).map(|wb| wc[wb * n + i] as f64).sum();
        let rate = (spikes * p.inv_ticks as f64) as f32;
        theta_next[i] = theta[i] + p.eta * (rate - p.target_rate);
        activity[i] += spikes as u32;
    }
}

pub fn hebbian_gains(p: &hebbian_gains::Params, io: hebbian_gains::Io) {
    let hebbian_gains::Io { conn_meta: meta, gains, counts, rbar, gains_next: next } = io;
    let batch = p.batch as usize;
    let rate = |m: usize| {
        let s: u64 = (0..batch).map(|b| counts[b * NUM_MODULES + m] as u64).sum();
        (s as f64 / (p.neurons[m] as f64 * p.ticks as f64 * batch as f64)) as f32
    };
    let rb = (rbar[..batch].iter().map(|&x| x as f64).sum::<f64>() / batch as f64) as f32;
    for c in 0..p.n_conn as usize {
        let m = &meta[c * 4..c * 4 + 4];
        let (pre, post, eta) = (rate(m[0] as usize), rate(m[1] as usize), f32::from_bits(m[2]));
        next[c] = (gains[c] + eta * pre * post * (1.0 + rb) * p.window_ticks as f32).clamp(0.0, 2.0);
    }
}

pub fn pack_bf16(p: &pack_bf16::Params, io: pack_bf16::Io) {
    let packed = super::to_bf16_words(bytemuck::cast_slice(&io.src[..p.len as usize]));
    io.dst[..packed.len()].copy_from_slice(&packed);
}

pub fn health(p: &health::Params, io: health::Io) {
    let health::Io { data, flags } = io;
    if !data[..p.len as usize].iter().all(|&x| finite(f32::from_bits(x))) {
        flags[p.slot as usize] = 1;
    }
}

pub fn commit(p: &commit::Params, io: commit::Io) {
    let commit::Io { src, flags, dst } = io;
    if flags[..p.n_flags as usize].iter().all(|&f| f == 0) {
        dst[..p.len as usize].copy_from_slice(&src[..p.len as usize]);
    }
}

// ---------------------------------------------------------------------------------------------

/// The reference backend. Ops are recorded and run in order at `submit`.
#[derive(Default)]
pub struct CpuBackend {
    bufs: Vec<Option<Vec<u32>>>,
    footprint: Footprint,
    recording: Option<Vec<Op>>,
    stats: BackendStats,
    profiling: bool,
    last_profile: Option<Vec<KernelTime>>,
}

/// Launch shapes mean nothing to the reference; any valid choice serves (ops resolve theirs).
/// Propagation is the exception: scattering the spikes of up to EVENT_MAX_BATCH sequences beats
/// gathering every synapse here (BENCHMARKS.md).
const SHAPES: LaunchShapes =
    LaunchShapes { lif_min_groups: 1, lif_min_tile: 1, logits_gemm_min_groups: 1, event_max_batch: EVENT_MAX_BATCH };

impl CpuBackend {
    pub fn new() -> Self {
        Self::default()
    }

    fn buf(&self, b: Buf) -> &[u32] {
        self.bufs[b.0 as usize].as_deref().expect("use of a freed buffer")
    }

    /// Runs the op's reference function: its writable buffers are taken out of the store for the
    /// call (`enqueue` checked that none is bound twice) and put back after.
    fn run(&mut self, op: &Op) {
        let writable: Vec<Buf> = op
            .bufs
            .iter()
            .zip(op.kind.bindings())
            .filter(|(_, b)| b.access == Access::ReadWrite)
            .map(|(&buf, _)| buf)
            .collect();
        let mut taken: Vec<Vec<u32>> =
            writable.iter().map(|b| self.bufs[b.0 as usize].take().expect("checked at enqueue")).collect();
        {
            let store = &self.bufs;
            let read = |b: Buf| store[b.0 as usize].as_deref().expect("checked at enqueue");
            let mut write = taken.iter_mut().map(Vec::as_mut_slice);
            run_reference(op, &read, &mut write);
        }
        for (b, data) in writable.into_iter().zip(taken) {
            self.bufs[b.0 as usize] = Some(data);
        }
    }
}

impl Backend for CpuBackend {
    fn info(&self) -> DeviceInfo {
        DeviceInfo {
            backend: "cpu",
            device: format!("CPU reference (f64 accumulation, {} threads)", rayon::current_num_threads()),
            max_buffer_bytes: u64::MAX,
            max_binding_bytes: u64::MAX,
            memory_bytes: host_available_bytes(),
            host_memory: true,
        }
    }

    fn alloc(&mut self, words: usize) -> Result<Buf> {
        let mut v = Vec::new();
        v.try_reserve_exact(words)
            .map_err(|_| NeuroError::DoesNotFit(format!("cannot allocate {} bytes of host memory", words * 4)))?;
        // Poison: a NaN pattern, so anything read before it is written shows up.
        v.resize(words, 0x7fc0_dead);
        self.footprint.alloc(words);
        self.bufs.push(Some(v));
        Ok(Buf(self.bufs.len() as u32 - 1))
    }

    fn free(&mut self, buf: Buf) {
        if let Some(v) = self.bufs[buf.0 as usize].take() {
            self.footprint.free(v.len());
        }
    }

    fn peak_bytes(&self) -> u64 {
        self.footprint.peak_bytes()
    }

    fn len(&self, buf: Buf) -> usize {
        self.buf(buf).len()
    }

    fn upload(&mut self, buf: Buf, offset: usize, data: &[u32]) -> Result<()> {
        if self.recording.is_some() {
            return Err(NeuroError::Usage("upload while a call is being recorded".into()));
        }
        let dst = self.bufs[buf.0 as usize].as_mut().expect("use of a freed buffer");
        dst[offset..offset + data.len()].copy_from_slice(data);
        Ok(())
    }

    fn begin(&mut self) -> Result<()> {
        if self.recording.is_some() {
            return Err(NeuroError::Usage("begin while a call is already being recorded".into()));
        }
        self.recording = Some(Vec::new());
        Ok(())
    }

    fn enqueue(&mut self, op: Op) -> Result<()> {
        if self.recording.is_none() {
            return Err(NeuroError::Usage("enqueue outside begin/submit".into()));
        }
        let op = op.prepare(&SHAPES, |b| self.bufs.get(b.0 as usize).and_then(|d| d.as_ref()).map(Vec::len))?;
        self.recording.as_mut().expect("checked").push(op);
        Ok(())
    }

    fn submit(&mut self, reads: &[Buf]) -> Result<Vec<Vec<u32>>> {
        let ops = self.recording.take().ok_or_else(|| NeuroError::Usage("submit without begin".into()))?;
        let mut timed = Vec::new();
        for op in &ops {
            let start = self.profiling.then(std::time::Instant::now);
            self.run(op);
            if let Some(start) = start {
                timed.push((op.kind.name(), start.elapsed().as_secs_f64() * 1e3));
            }
        }
        if self.profiling {
            self.last_profile = Some(kernel_times(timed));
        }
        self.stats.calls += 1;
        self.stats.host_syncs += 1;
        self.stats.dispatches += ops.len() as u64;
        self.stats.last_call_syncs = 1;
        self.stats.last_call_dispatches = ops.len() as u64;
        Ok(reads.iter().map(|&b| self.buf(b).to_vec()).collect())
    }

    fn download(&mut self, buf: Buf) -> Result<Vec<u32>> {
        self.stats.host_syncs += 1;
        Ok(self.buf(buf).to_vec())
    }

    fn stats(&self) -> BackendStats {
        self.stats
    }

    fn launch_shapes(&self) -> LaunchShapes {
        SHAPES
    }

    fn set_profiling(&mut self, on: bool) -> bool {
        self.profiling = on;
        true
    }

    fn last_profile(&self) -> Option<Vec<KernelTime>> {
        self.last_profile.clone()
    }
}
