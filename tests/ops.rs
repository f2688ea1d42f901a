//! Every op on every GPU backend against the CPU reference: random inputs, odd sizes, poisoned
//! outputs (an unwritten element is a NaN and fails), NaN never passes.

mod common;

use common::*;
use neurogen::backend::*;
use neurogen::config::NUM_MODULES;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How a buffer's contents are compared.
#[derive(Clone, Copy)]
enum Cmp {
    F32 { atol: f32, rtol: f32 },
    Exact,
}

const F: Cmp = Cmp::F32 { atol: 1e-5, rtol: 1e-4 };

#[derive(Clone)]
struct Case {
    name: String,
    op: Op,
    data: Vec<Vec<u32>>,
    cmp: Vec<Cmp>,
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn uniform(r: &mut ChaCha8Rng, n: usize, lo: f32, hi: f32) -> Vec<u32> {
    f32_words(&(0..n).map(|_| r.random_range(lo..hi)).collect::<Vec<_>>())
}

fn ints(r: &mut ChaCha8Rng, n: usize, below: u32) -> Vec<u32> {
    (0..n).map(|_| r.random_range(0..below)).collect()
}

/// A random scalar parameter: each case draws its own, so two swapped fields (of equal defaults in
/// the model, e.g. v_rest and v_reset) cannot hide.
fn draw(r: &mut ChaCha8Rng, lo: f32, hi: f32) -> f32 {
    r.random_range(lo..hi)
}

fn poison(n: usize) -> Vec<u32> {
    vec![POISON; n]
}

fn b(i: u32) -> Buf {
    Buf(i)
}

/// `case` again with its weights (the op's [`Elem::Weights`] buffers) as bf16 pairs and the op's
/// `bf16` flag set: every backend must read the same rounded values as the CPU reference.
fn bf16_variant(case: &Case) -> Case {
    let mut op = case.op.clone();
    let flag = op.kind.fields().iter().find(|f| f.name == "bf16").expect("an op that reads weights has a `bf16` field");
    op.params[flag.offset / 4] = 1;
    let (mut data, mut cmp) = (case.data.clone(), case.cmp.clone());
    for (slot, binding) in op.kind.bindings().iter().enumerate() {
        if binding.elem == Elem::Weights {
            let i = op.bufs[slot].0 as usize;
            data[i] = to_bf16_words(as_f32(&data[i]));
            cmp[i] = Cmp::Exact;
        }
    }
    Case { name: format!("{} bf16", case.name), op, data, cmp }
}

/// The cases of an op that reads weights, at f32 and at bf16.
fn both_precisions(cases: Vec<Case>) -> Vec<Case> {
    let bf16: Vec<Case> = cases.iter().map(bf16_variant).collect();
    cases.into_iter().chain(bf16).collect()
}

/// Runs a case on the CPU and on every GPU backend and compares every writable buffer.
fn check(cases: Vec<Case>) {
    let mut gpus = gpu_backends();
    for case in &cases {
        let want = run_op(&mut *cpu(), &case.op, &case.data);
        let bindings = case.op.kind.bindings();
        for (kind, be) in gpus.iter_mut() {
            let got = run_op(&mut **be, &case.op, &case.data);
            for (slot, &buf) in case.op.bufs.iter().enumerate() {
                if bindings[slot].access == Access::Read {
                    continue;
                }
                let i = buf.0 as usize;
                let what = format!("{kind:?} {} `{}`", case.name, bindings[slot].name);
                match case.cmp[i] {
                    Cmp::F32 { atol, rtol } => assert_close(&what, as_f32(&got[i]), as_f32(&want[i]), atol, rtol),
                    Cmp::Exact => assert_eq!(got[i], want[i], "{what}"),
                }
            }
        }
        // The reference itself must have written every poisoned element.
        for (i, d) in want.iter().enumerate() {
            if matches!(case.cmp[i], Cmp::F32 { .. }) {
                assert!(as_f32(d).iter().all(|x| x.is_finite()), "cpu {} left a NaN in buffer {i}", case.name);
            }
        }
    }
}

#[test]
fn fill() {
    let cases = [1usize, 255, 256, 1000, 70_001]
        .iter()
        .map(|&n| Case {
            name: format!("fill n={n}"),
            op: Op::fill(b(0), n, 0x4040_0000),
            data: vec![poison(n)],
            cmp: vec![F],
        })
        .collect();
    check(cases);
}

#[test]
fn copy() {
    let cases = [1usize, 300, 70_001]
        .iter()
        .map(|&n| Case {
            name: format!("copy n={n}"),
            op: Op::copy_at(b(0), 3, b(1), n % 5, n),
            data: vec![
                uniform(&mut rng(n as u64), n + 3, -1.0, 1.0),
                uniform(&mut rng(1 + n as u64), n + n % 5, -1.0, 1.0),
            ],
            cmp: vec![F, F],
        })
        .collect();
    check(cases);
}

#[test]
fn embed_gate() {
    let mut cases = Vec::new();
    for (seed, &(batch, embed, vocab)) in [(1, 1, 3), (3, 64, 259), (2, 300, 17), (1, 137, 5)].iter().enumerate() {
        let r = &mut rng(seed as u64);
        let tstride = 5;
        let mut emb = uniform(r, vocab * embed, -2.0, 2.0);
        if seed == 3 {
            // A constant row (std 0) and a row with a large mean (snr above τ).
            let e: &mut [f32] = bytemuck::cast_slice_mut(&mut emb);
            e[..embed].fill(0.7);
            e[embed..2 * embed].iter_mut().for_each(|x| *x += 5.0);
        }
        let tau_att = draw(r, 0.1, 0.4);
        let p = embed_gate::Params {
            batch: batch as u32,
            embed: embed as u32,
            tstride,
            pos: 2,
            tau_att,
            ..Default::default()
        };
        cases.push(Case {
            name: format!("embed_gate b={batch} e={embed}"),
            op: Op::new(p, embed_gate::Bufs { tokens: b(0), emb: b(1), prev: b(2), j: b(3) }),
            data: vec![
                ints(r, batch * tstride as usize, vocab as u32),
                emb,
                uniform(r, batch * embed, -2.0, 2.0),
                poison(batch * embed),
            ],
            cmp: vec![Cmp::Exact, F, F, F],
        });
    }
    check(both_precisions(cases));
}

#[test]
fn project() {
    let mut cases = Vec::new();
    // (batch, rows, fanout, o_src, accumulate, n_conn, inhibitory, gate threshold)
    for (seed, &(batch, rows, fanout, o_src, accumulate, n_conn, inhibitory, thr)) in [
        (1, 1, 1, 1, 0, 1, 0, 0.1),
        (3, 137, 16, 300, 1, 3, 1, 0.1),
        (2, 300, 7, 64, 0, 11, 0, 0.05),
        (1, 513, 16, 1024, 1, 2, 0, 10.0), // soft gating active
    ]
    .iter()
    .enumerate()
    {
        let r = &mut rng(20 + seed as u64);
        let conn = (n_conn - 1) as u32;
        let p = project::Params {
            batch: batch as u32,
            rows: rows as u32,
            fanout: fanout as u32,
            o_src: o_src as u32,
            conn,
            n_conn: n_conn as u32,
            accumulate,
            inhibitory,
            gate_threshold: thr * draw(r, 0.8, 1.2),
            fast_decay: draw(r, 0.85, 0.99),
            fast_rate: draw(r, 0.05, 0.2),
            fast_cap: draw(r, 0.3, 0.6),
            ..Default::default()
        };
        let j = if accumulate == 1 { uniform(r, batch * rows, -5.0, 5.0) } else { poison(batch * rows) };
        // With one connection every activity slot is written, so it starts poisoned.
        let acts = if n_conn == 1 { poison(batch) } else { uniform(r, batch * n_conn, 0.0, 1.0) };
        cases.push(Case {
            name: format!("project b={batch} rows={rows} fan={fanout} acc={accumulate} c={conn}"),
            op: Op::new(
                p,
                project::Bufs { p_idx: b(0), p_val: b(1), y_src: b(2), gains: b(3), fast: b(4), j: b(5), acts: b(6) },
            ),
            data: vec![
                ints(r, rows * fanout, o_src as u32),
                uniform(r, rows * fanout, -3.0, 3.0),
                uniform(r, batch * o_src, 0.0, 1.0),
                uniform(r, n_conn, 0.0, 2.0),
                uniform(r, batch * n_conn, 0.0, 0.6),
                j,
                acts,
            ],
            cmp: vec![Cmp::Exact, F, F, F, F, F, F],
        });
    }
    check(both_precisions(cases));
}

#[test]
fn lif_kwta() {
    let mut cases = Vec::new();
    // (batch, n, inputs, outputs, fanout, k, event, module, use_go): with `event`, the recurrent
    // input is `propagate`'s random sums (some with their non-finite bit set), read and cleared.
    for (seed, &(batch, n, inputs, outputs, fanout, k, event, module, use_go)) in [
        (1, 256, 1, 1, 1, 1, 0, 0, 0),
        (3, 768, 137, 300, 16, 50, 1, 2, 0),
        (2, 512, 512, 512, 7, 256, 0, 5, 1),
        (1, 1024, 256, 129, 32, 0, 1, 5, 1),
        (2, 512, 512, 300, 8, 50, 0, 1, 0), // exact ties: every v* equal, kWTA picks by index
        (11, 256, 64, 100, 5, 20, 1, 3, 0),
        (37, 256, 64, 100, 9, 20, 0, 4, 0), // a full tile of 32 sequences and a partial one
        (40, 512, 64, 100, 9, 20, 0, 3, 1), // the launch shape left to each backend
    ]
    .iter()
    .enumerate()
    {
        let r = &mut rng(30 + seed as u64);
        let p = lif_kwta::Params {
            batch,
            n,
            inputs,
            outputs,
            fanout,
            k,
            module_id: module,
            use_go,
            excitability: draw(r, 0.9, 1.3),
            s_da: draw(r, 0.2, 0.8),
            s_5ht: draw(r, 0.2, 0.8),
            inhibition: draw(r, 0.05, 0.2),
            go_bias: draw(r, 0.5, 0.9),
            alpha: draw(r, 0.9, 0.98),
            beta: draw(r, 0.8, 0.95),
            delta_a: draw(r, 0.3, 0.7),
            v_rest: draw(r, -67.0, -63.0),
            v_reset: draw(r, -72.0, -68.0),
            v_min: draw(r, -92.0, -88.0),
            trace_lambda: draw(r, 0.8, 0.95),
            seq_per_group: [1u32, 2, 32, 4, 8, 32, 4, 0][seed],
            event,
            // Training's window statistics in every other case, into one of three windows.
            stats: (seed % 2 == 0) as u32,
            window: seed as u32 % 3,
            pos: r.random_range(0..6),
            // e-prop's pseudo-derivatives in every third case, into rows psi_row0.. of batch + 2.
            derivative: (seed % 3 == 1) as u32,
            psi_row0: r.random_range(0..3),
            inv_width: 1.0 / draw(r, 2.0, 20.0),
            ..Default::default()
        };
        let (bn, nf) = ((batch * n) as usize, (n * fanout) as usize);
        // Last tick's spike bits are random (bits past the batch are noise the kernels must
        // ignore); this tick's buffer is poisoned.
        let words = spike_words(batch as usize, n as usize);
        let spk_prev: Vec<u32> =
            (0..words).map(|_| r.random::<u32>() & r.random::<u32>() & r.random::<u32>()).collect();
        let ctrl: Vec<u32> = (0..batch as usize * CTRL_WORDS)
            .map(|i| if i % CTRL_WORDS == 1 { (i / CTRL_WORDS % 2) as u32 } else { 0 })
            .collect();
        let ties = seed == 4;
        let rec = if event == 0 {
            poison(1) // unused
        } else {
            let rw = rec_words(n as usize);
            (0..batch as usize * rw)
                .map(|w| {
                    if w % rw < n as usize {
                        r.random_range(-2_000_000i32..2_000_000) as u32
                    } else {
                        r.random::<u32>() & r.random::<u32>() & r.random::<u32>() & r.random::<u32>()
                    }
                })
                .collect()
        };
        let mut data = vec![
            uniform(r, (batch * inputs) as usize, -5.0, 25.0),
            ints(r, nf, n),
            uniform(r, nf, -1.0, 1.0),
            uniform(r, n as usize, -58.0, -52.0),
            uniform(r, batch as usize * NUM_MODULES * 2, 0.0, 2.0),
            ctrl,
            spk_prev,
            uniform(r, bn, -80.0, -50.0),
            uniform(r, bn, 0.0, 3.0),
            uniform(r, bn, 0.0, 2.0),
            poison(words),
            poison((batch * outputs) as usize),
            ints(r, batch as usize * NUM_MODULES, 1000),
            rec,
        ];
        // Lengths around `pos` (some sequences' positions are not predicted); without `stats` the
        // statistics are one word each that must stay as they are.
        data.push((0..batch).map(|_| r.random_range(0..8)).collect());
        let stats_words = if p.stats != 0 { 3 * bn } else { 1 };
        data.push(uniform(r, stats_words, 0.0, 5.0));
        data.push(uniform(r, stats_words, 0.0, 5.0));
        // ψ: the rows written are poisoned, the others keep their (finite) contents.
        let psi = if p.derivative != 0 {
            let mut psi = uniform(r, (batch as usize + 2) * n as usize, 0.0, 1.0);
            psi[p.psi_row0 as usize * n as usize..][..bn].fill(POISON);
            psi
        } else {
            uniform(r, 1, 0.0, 1.0)
        };
        data.push(psi);
        if ties {
            data[0] = f32_words(&vec![20.0; (batch * inputs) as usize]);
            data[3] = f32_words(&vec![-55.0; n as usize]);
            data[6].fill(0);
            data[7] = f32_words(&vec![-60.0; bn]);
            data[8] = f32_words(&vec![0.0; bn]);
        }
        cases.push(Case {
            name: format!(
                "lif_kwta b={batch} n={n} k={k} fan={fanout} event={event} stats={} derivative={}",
                p.stats, p.derivative
            ),
            op: Op::new(
                p,
                lif_kwta::Bufs {
                    j: b(0),
                    w_idx: b(1),
                    w_val: b(2),
                    theta: b(3),
                    neuromod: b(4),
                    ctrl: b(5),
                    spk_prev: b(6),
                    v: b(7),
                    a: b(8),
                    e: b(9),
                    spk_next: b(10),
                    y: b(11),
                    counts: b(12),
                    rec: b(13),
                    lens: b(14),
                    wc: b(15),
                    we: b(16),
                    psi: b(17),
                },
            ),
            data,
            cmp: vec![
                F,
                Cmp::Exact,
                F,
                F,
                F,
                Cmp::Exact,
                Cmp::Exact,
                F,
                F,
                F,
                Cmp::Exact,
                F,
                Cmp::Exact,
                Cmp::Exact,
                Cmp::Exact,
                F,
                F,
                F,
            ],
        });
    }
    check(both_precisions(cases));
}

#[test]
fn propagate() {
    let mut cases = Vec::new();
    // (batch, n, fanout, non-finite weights): batches within one spike tile and across two.
    for (seed, &(batch, n, fanout, non_finite)) in [
        (1u32, 256u32, 1u32, false),
        (3, 768, 16, true),
        (1, 1024, 96, false),
        (37, 512, 9, false),
        (5, 256, 255, true),
    ]
    .iter()
    .enumerate()
    {
        let r = &mut rng(35 + seed as u64);
        let (nu, nf) = (n as usize, (n * fanout) as usize);
        let w_idx = ints(r, nf, n);
        let (out_start, out_syn) = neurogen::model::outgoing_synapses(&w_idx, nu);
        let mut w_val: Vec<f32> = (0..nf).map(|_| r.random_range(-3.0..3.0)).collect();
        if non_finite {
            for k in 0..5 {
                w_val[r.random_range(0..nf)] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][k % 3];
            }
        }
        // Huge weights saturate at the per-synapse limit instead of overflowing the sum.
        w_val[r.random_range(0..nf)] = 1e9;
        let spk_prev: Vec<u32> =
            (0..spike_words(batch as usize, nu)).map(|_| r.random::<u32>() & r.random::<u32>()).collect();
        // The sums start from earlier partial sums and bits, as if another op had added to them.
        let rw = rec_words(nu);
        let rec: Vec<u32> = (0..batch as usize * rw)
            .map(|w| {
                if w % rw < nu {
                    r.random_range(-1_000_000i32..1_000_000) as u32
                } else {
                    r.random::<u32>() & r.random::<u32>() & r.random::<u32>()
                }
            })
            .collect();
        let p = propagate::Params { batch, n, fanout, ..Default::default() };
        cases.push(Case {
            name: format!("propagate b={batch} n={n} fan={fanout}"),
            op: Op::new(p, propagate::Bufs { spk_prev: b(0), out_start: b(1), out_syn: b(2), w_val: b(3), rec: b(4) }),
            data: vec![spk_prev, out_start, out_syn, f32_words(&w_val), rec],
            cmp: vec![Cmp::Exact; 5],
        });
    }
    check(both_precisions(cases));
}

#[test]
fn go_nogo() {
    let mut cases = Vec::new();
    for (seed, &(batch, outputs, lo, hi)) in
        [(1, 1, 0.0, 1.0), (5, 64, 0.0, 0.9), (3, 300, 0.3, 1.0)].iter().enumerate()
    {
        let r = &mut rng(40 + seed as u64);
        let max_depth = r.random_range(3..9);
        let p = go_nogo::Params { batch: batch as u32, outputs: outputs as u32, max_depth, ..Default::default() };
        let ctrl: Vec<u32> = (0..batch * CTRL_WORDS)
            .map(|i| if i % CTRL_WORDS == 0 { (i / CTRL_WORDS * 3 % 9) as u32 } else { 0 })
            .collect();
        cases.push(Case {
            name: format!("go_nogo b={batch} o={outputs}"),
            op: Op::new(p, go_nogo::Bufs { y_bg: b(0), ctrl: b(1) }),
            data: vec![uniform(r, batch * outputs, lo, hi), ctrl],
            cmp: vec![F, Cmp::Exact],
        });
    }
    check(cases);
}

#[test]
fn context_update() {
    let mut cases = Vec::new();
    for (seed, &(batch, o_thal, o_pfc, first, n_conn)) in
        [(1, 1, 1, 1, 1), (3, 128, 300, 0, 11), (2, 600, 137, 0, 300)].iter().enumerate()
    {
        let r = &mut rng(50 + seed as u64);
        let p = context_update::Params {
            batch: batch as u32,
            o_thal: o_thal as u32,
            o_pfc: o_pfc as u32,
            first,
            ctx_decay: draw(r, 0.8, 0.95),
            hidden_decay: draw(r, 0.6, 0.8),
            da_decay: draw(r, 0.9, 0.99),
            ht_decay: draw(r, 0.9, 0.99),
            n_conn: n_conn as u32,
            fast_decay: draw(r, 0.9, 0.99),
            fast_rate: draw(r, 0.05, 0.2),
            fast_cap: draw(r, 0.3, 0.6),
            ..Default::default()
        };
        let context = if first == 1 { poison(batch * o_thal) } else { uniform(r, batch * o_thal, 0.0, 1.0) };
        cases.push(Case {
            name: format!("context_update b={batch} ot={o_thal} op={o_pfc} first={first} c={n_conn}"),
            op: Op::new(
                p,
                context_update::Bufs {
                    y_thal: b(0),
                    y_pfc: b(1),
                    acts: b(2),
                    context: b(3),
                    hidden: b(4),
                    neuromod: b(5),
                    fast: b(6),
                },
            ),
            data: vec![
                uniform(r, batch * o_thal, 0.0, 1.0),
                uniform(r, batch * o_pfc, 0.0, 1.0),
                uniform(r, batch * n_conn, 0.0, 1.0),
                context,
                uniform(r, batch * o_pfc, 0.0, 1.0),
                uniform(r, batch * NUM_MODULES * 2, 0.0, 2.0),
                uniform(r, batch * n_conn, 0.0, 0.6),
            ],
            cmp: vec![F, F, F, F, F, F, F],
        });
    }
    check(cases);
}

#[test]
fn logits() {
    // Both paths forced on every shape (partial tiles in both dimensions, e.g. 70 × 16 411), and
    // the choice left to each backend's launch shapes.
    let shapes = [
        (1, 1, 1),
        (2, 50, 77),
        (3, 259, 256),
        (8, 137, 300),
        (9, 137, 300),
        (17, 70, 33),
        (130, 131, 37),
        (70, 16411, 19),
    ];
    let mut cases = Vec::new();
    for (seed, &(batch, vocab, width)) in shapes.iter().enumerate() {
        for path in [LOGITS_ROWS, LOGITS_GEMM, LOGITS_AUTO] {
            let r = &mut rng(60 + seed as u64);
            let p = logits::Params {
                batch: batch as u32,
                vocab: vocab as u32,
                width: width as u32,
                path,
                ..Default::default()
            };
            cases.push(Case {
                name: format!("logits b={batch} v={vocab} d={width} path={path}"),
                op: Op::new(p, logits::Bufs { dec_w: b(0), dec_b: b(1), y: b(2), logits: b(3) }),
                data: vec![
                    uniform(r, vocab * width, -0.5, 0.5),
                    uniform(r, vocab, -0.1, 0.1),
                    uniform(r, batch * width, 0.0, 1.0),
                    poison(batch * vocab),
                ],
                cmp: vec![F, F, F, Cmp::F32 { atol: 1e-4, rtol: 1e-4 }],
            });
        }
    }
    check(both_precisions(cases));
}

#[test]
fn every_op_that_reads_weights_has_a_bf16_flag() {
    for &kind in OpKind::ALL {
        if kind.bindings().iter().any(|b| b.elem == Elem::Weights) {
            let flag = kind.fields().iter().find(|f| f.name == "bf16");
            assert!(
                matches!(flag, Some(f) if f.len == 1 && f.scalar == Scalar::U32),
                "{} has no u32 `bf16`",
                kind.name()
            );
            assert!(
                kind.bindings().iter().all(|b| b.elem != Elem::Weights || b.access == Access::Read),
                "{}",
                kind.name()
            );
        }
    }
}

#[test]
fn bf16_rounding() {
    // Nearest, ties to even; a NaN stays a (quiet) NaN; overflow rounds to infinity.
    for (x, want) in [
        (1.0f32, 0x3f80),
        (-2.5, 0xc020),
        (f32::from_bits(0x3f80_8000), 0x3f80), // a tie: down to the even 0x3f80
        (f32::from_bits(0x3f81_8000), 0x3f82), // a tie: up to the even 0x3f82
        (f32::from_bits(0x3f80_8001), 0x3f81),
        (f32::MAX, 0x7f80),
        (f32::INFINITY, 0x7f80),
        (f32::NEG_INFINITY, 0xff80),
        (-0.0, 0x8000),
        (f32::from_bits(1), 0), // the smallest subnormal rounds to zero
    ] {
        assert_eq!(bf16_bits(x), want, "{x:e}");
    }
    assert!(f32::from_bits(bf16_bits(f32::NAN) << 16).is_nan());
    assert!(f32::from_bits(bf16_bits(f32::from_bits(0x7f80_0001)) << 16).is_nan(), "a NaN with low payload only");
    let r = &mut rng(5);
    let xs: Vec<f32> = (0..1001).map(|_| r.random_range(-1e3f32..1e3)).collect();
    let packed = to_bf16_words(&xs);
    let back = weight_values(&packed, 0..xs.len(), 1);
    for (x, y) in xs.iter().zip(back.iter()) {
        assert!((x - y).abs() <= x.abs() / 256.0, "{x} -> {y}");
    }
}

#[test]
fn pack_bf16() {
    let mut cases = Vec::new();
    for (seed, &n) in [1usize, 2, 255, 513, 70_001].iter().enumerate() {
        let r = &mut rng(90 + seed as u64);
        let mut x: Vec<f32> =
            (0..n).map(|_| r.random_range(-4.0f32..4.0) * 10f32.powi(r.random_range(-30..30))).collect();
        let specials =
            [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, f32::MAX, f32::from_bits(0x3f80_8000), 1e-40];
        for (i, v) in specials.iter().enumerate() {
            x[i * n / specials.len()] = *v;
        }
        cases.push(Case {
            name: format!("pack_bf16 n={n}"),
            op: Op::new(
                pack_bf16::Params { len: n as u32, ..Default::default() },
                pack_bf16::Bufs { src: b(0), dst: b(1) },
            ),
            data: vec![f32_words(&x), poison(n.div_ceil(2))],
            cmp: vec![Cmp::Exact, Cmp::Exact],
        });
    }
    check(cases);
}

/// Sampling parameters for the sample-op cases: (greedy, top_k, top_p, temperature).
const RULES: [(u32, u32, f32, f32); 6] =
    [(1, 0, 1.0, 1.0), (0, 0, 1.0, 1.0), (0, 0, 1.0, 0.5), (0, 5, 1.0, 1.0), (0, 0, 0.8, 1.0), (0, 40, 0.9, 0.8)];

#[test]
fn sample() {
    let mut cases = Vec::new();
    for (seed, &(batch, vocab)) in [(1, 1), (3, 259), (4, 1000), (2, 7)].iter().enumerate() {
        for (ri, &(greedy, top_k, top_p, temperature)) in RULES.iter().enumerate() {
            for pos in [0u32, 3, 5] {
                let r = &mut rng(70 + (seed * 100 + ri * 10) as u64 + pos as u64);
                let tstride = 8u32;
                let mut logits = uniform(r, batch * vocab, -4.0, 4.0);
                if vocab > 10 {
                    // Exact ties, including at the top-k boundary.
                    let l: &mut [f32] = bytemuck::cast_slice_mut(&mut logits);
                    l[3] = 3.99;
                    l[5] = 3.99;
                    l[7] = 3.99;
                }
                let p = sample::Params {
                    batch: batch as u32,
                    vocab: vocab as u32,
                    tstride,
                    pos,
                    greedy,
                    top_k: top_k.min(vocab as u32),
                    top_p,
                    inv_temperature: 1.0 / temperature,
                    seed_lo: r.random(),
                    seed_hi: r.random(),
                    eos: (vocab as u32).saturating_sub(1),
                    pad: r.random_range(0..vocab as u32),
                    ..Default::default()
                };
                let lens: Vec<u32> = (0..batch as u32).map(|b| 1 + b % 3).collect();
                let ctrl: Vec<u32> = (0..batch * CTRL_WORDS)
                    .map(|i| if i % CTRL_WORDS == 2 { (i / CTRL_WORDS == 2) as u32 } else { 0 })
                    .collect();
                cases.push(Case {
                    name: format!("sample b={batch} v={vocab} rule={ri} pos={pos}"),
                    op: Op::new(p, sample::Bufs { logits: b(0), lens: b(1), tokens: b(2), ctrl: b(3) }),
                    data: vec![logits, lens, poison(batch * tstride as usize), ctrl],
                    cmp: vec![F, Cmp::Exact, Cmp::Exact, Cmp::Exact],
                });
            }
        }
    }
    check(cases);
}

#[test]
fn loss_accum() {
    let mut cases = Vec::new();
    for (seed, &(batch, vocab)) in [(1, 1), (3, 259), (2, 1000)].iter().enumerate() {
        let r = &mut rng(80 + seed as u64);
        let tstride = 6u32;
        let pos = r.random_range(0..4);
        let p = loss_accum::Params { batch: batch as u32, vocab: vocab as u32, tstride, pos, ..Default::default() };
        let lens: Vec<u32> = (0..batch as u32).map(|b| 2 + 2 * b).collect();
        cases.push(Case {
            name: format!("loss_accum b={batch} v={vocab}"),
            op: Op::new(p, loss_accum::Bufs { logits: b(0), tokens: b(1), lens: b(2), acc: b(3) }),
            data: vec![
                uniform(r, batch * vocab, -6.0, 6.0),
                ints(r, batch * tstride as usize, vocab as u32),
                lens,
                uniform(r, batch * ACC_WORDS, 0.0, 10.0),
            ],
            cmp: vec![F, Cmp::Exact, Cmp::Exact, F],
        });
    }
    check(cases);
}

/// The Philox stream and choice rule of the sampler agree with the host implementation for many
/// draws (the GPU side is exercised through the `sample` op above).
#[test]
fn sample_op_matches_host_choice_rule() {
    use neurogen::sampling::{choose_token, uniform as philox_uniform, SamplingRule};
    let r = &mut rng(99);
    let vocab = 50;
    let logits: Vec<f32> = (0..vocab).map(|_| r.random_range(-3.0..3.0)).collect();
    let mut be = cpu();
    for pos in 0..20u32 {
        let p = sample::Params {
            batch: 1,
            vocab: vocab as u32,
            tstride: 32,
            pos,
            greedy: 0,
            top_k: 10,
            top_p: 0.9,
            inv_temperature: 1.0,
            seed_lo: 5,
            seed_hi: 0,
            eos: 1000,
            pad: 0,
            ..Default::default()
        };
        let out = run_op(
            &mut *be,
            &Op::new(p, sample::Bufs { logits: b(0), lens: b(1), tokens: b(2), ctrl: b(3) }),
            &[f32_words(&logits), vec![0], vec![0; 32], vec![0; 4]],
        );
        let want = choose_token(
            &logits,
            SamplingRule { greedy: false, temperature: 1.0, top_k: 10, top_p: 0.9 },
            philox_uniform(5, 0, pos + 1),
        );
        assert_eq!(out[2][pos as usize + 1], want);
    }
}

// ---- learning ops ------------------------------------------------------------------------------

#[test]
fn loss_grad() {
    let mut cases = Vec::new();
    for (seed, &(positions, batch, vocab)) in [(1usize, 1usize, 1usize), (5, 3, 259), (4, 2, 1000)].iter().enumerate() {
        let r = &mut rng(110 + seed as u64);
        let tstride = positions + 1;
        let rows = positions * batch;
        let lens: Vec<u32> = (0..batch).map(|b| (tstride - b % 2 * 2).max(1) as u32).collect();
        let p = loss_grad::Params {
            rows: rows as u32,
            batch: batch as u32,
            vocab: vocab as u32,
            tstride: tstride as u32,
            ..Default::default()
        };
        cases.push(Case {
            name: format!("loss_grad rows={rows} v={vocab}"),
            op: Op::new(p, loss_grad::Bufs { tokens: b(0), lens: b(1), logits: b(2), row_stats: b(3) }),
            data: vec![
                ints(r, batch * tstride, vocab as u32),
                lens,
                uniform(r, rows * vocab, -5.0, 5.0),
                poison(rows * ROW_WORDS),
            ],
            cmp: vec![Cmp::Exact, Cmp::Exact, Cmp::F32 { atol: 1e-6, rtol: 1e-4 }, Cmp::F32 { atol: 1e-5, rtol: 1e-4 }],
        });
    }
    check(cases);
}

#[test]
fn rewards() {
    let mut cases = Vec::new();
    for (seed, &(batch, positions, tpt)) in [(1usize, 1usize, 1u32), (3, 40, 1), (2, 17, 3)].iter().enumerate() {
        let r = &mut rng(120 + seed as u64);
        let window_ticks = 16;
        let windows = (positions * tpt as usize).div_ceil(window_ticks);
        let mut rows = Vec::new();
        for i in 0..positions * batch {
            let valid = (i / batch + 1 + i % batch) < positions + 1;
            rows.extend([
                r.random_range(0.0f32..6.0).to_bits(),
                valid as u32 & r.random_range(0..2),
                valid as u32,
                r.random_range(0..259),
            ]);
        }
        let p = rewards::Params {
            batch: batch as u32,
            positions: positions as u32,
            windows: windows as u32,
            window_ticks: window_ticks as u32,
            ticks_per_token: tpt,
            reward: draw(r, 0.05, 0.2),
            rbar_decay: draw(r, 0.9, 0.99),
            ht_step: draw(r, 0.02, 0.08),
            s_da: std::array::from_fn(|_| r.random_range(0.1..1.0)),
            s_5ht: std::array::from_fn(|_| r.random_range(0.1..1.0)),
            ..Default::default()
        };
        cases.push(Case {
            name: format!("rewards b={batch} t={positions} tpt={tpt}"),
            op: Op::new(
                p,
                rewards::Bufs {
                    row_stats: b(0),
                    rbar: b(1),
                    neuromod: b(2),
                    mod_base: b(3),
                    mfac: b(4),
                    acc: b(5),
                    totals: b(6),
                },
            ),
            data: vec![
                rows,
                uniform(r, batch, -0.1, 0.1),
                uniform(r, batch * NUM_MODULES * 2, 0.0, 2.0),
                poison(batch * windows),
                poison(batch * NUM_MODULES),
                poison(batch * ACC_WORDS),
                poison(4),
            ],
            cmp: vec![Cmp::Exact, F, F, F, F, Cmp::F32 { atol: 1e-4, rtol: 1e-4 }, Cmp::F32 { atol: 1e-4, rtol: 1e-4 }],
        });
    }
    check(cases);
}

#[test]
fn decoder_grad_norm_and_sgd() {
    let mut cases = Vec::new();
    for (seed, &(rows, vocab, width)) in
        [(1usize, 1usize, 1usize), (37, 259, 64), (12, 21, 300), (70, 130, 129)].iter().enumerate()
    {
        let r = &mut rng(130 + seed as u64);
        let tiles = decoder_grad_partials(vocab, width);
        let p =
            decoder_grad::Params { rows: rows as u32, vocab: vocab as u32, width: width as u32, ..Default::default() };
        let totals = f32_words(&[0.0, 0.0, rows as f32, 1.0 / rows as f32]);
        let tol = Cmp::F32 { atol: 1e-5, rtol: 1e-3 };
        cases.push(Case {
            name: format!("decoder_grad rows={rows} v={vocab} d={width}"),
            op: Op::new(
                p,
                decoder_grad::Bufs { grads: b(0), y: b(1), totals: b(2), g_w: b(3), g_b: b(4), partials: b(5) },
            ),
            data: vec![
                uniform(r, rows * vocab, -1.0, 1.0),
                uniform(r, rows * width, 0.0, 1.0),
                totals,
                poison(vocab * width),
                poison(vocab),
                poison(tiles),
            ],
            cmp: vec![F, F, F, tol, tol, tol],
        });
        // The product given (as a vendor GEMM leaves it in g_w): scaled, with bias and partials.
        let pg = decoder_grad::Params { product_given: 1, ..p };
        cases.push(Case {
            name: format!("decoder_grad product given rows={rows} v={vocab} d={width}"),
            op: Op::new(
                pg,
                decoder_grad::Bufs { grads: b(0), y: b(1), totals: b(2), g_w: b(3), g_b: b(4), partials: b(5) },
            ),
            data: vec![
                uniform(r, rows * vocab, -1.0, 1.0),
                poison(rows * width), // not read
                f32_words(&[0.0, 0.0, rows as f32, draw(r, 0.01, 1.0)]),
                uniform(r, vocab * width, -3.0, 3.0),
                poison(vocab),
                poison(tiles),
            ],
            cmp: vec![F, Cmp::Exact, F, tol, tol, tol],
        });
        let gp = grad_norm::Params { n_partials: tiles as u32, clip: draw(r, 0.2, 1.5), ..Default::default() };
        cases.push(Case {
            name: format!("grad_norm n={tiles}"),
            op: Op::new(gp, grad_norm::Bufs { partials: b(0), scalars: b(1) }),
            data: vec![uniform(r, tiles, 0.0, 0.3), poison(4)],
            cmp: vec![F, Cmp::Exact],
        });
    }
    // grad_norm writes only two words: compare them, not the poisoned rest.
    for c in cases.iter_mut().filter(|c| c.op.kind == OpKind::GradNorm) {
        c.data[1] = vec![0; 2];
        c.cmp[1] = Cmp::F32 { atol: 1e-6, rtol: 1e-5 };
    }
    check(cases);
}

#[test]
fn gather_rows() {
    let mut cases = Vec::new();
    for (seed, &(batch, width, src_extra, offset, row0)) in
        [(1usize, 1usize, 0usize, 0usize, 0usize), (3, 300, 5, 7, 2), (33, 257, 0, 1, 5), (2, 1024, 300, 0, 1)]
            .iter()
            .enumerate()
    {
        let r = &mut rng(500 + seed as u64);
        let (src_stride, dst_stride) = (width + src_extra, width + offset + 3);
        let rows = row0 + batch + 1;
        let p = gather_rows::Params {
            batch: batch as u32,
            width: width as u32,
            src_stride: src_stride as u32,
            dst_stride: dst_stride as u32,
            dst_offset: offset as u32,
            row0: row0 as u32,
            scale: draw(r, 0.05, 2.0),
            ..Default::default()
        };
        cases.push(Case {
            name: format!("gather_rows b={batch} w={width} off={offset} row0={row0}"),
            op: Op::new(p, gather_rows::Bufs { src: b(0), dst: b(1) }),
            // Poisoned destination: written elements must match bit for bit, the rest stay poison.
            data: vec![uniform(r, batch * src_stride, -3.0, 3.0), poison(rows * dst_stride)],
            cmp: vec![F, Cmp::Exact],
        });
    }
    check(cases);
}

/// The optimizer steps' two passes (`adam_step`, `sgd_step`), each on: finite inputs with the
/// flags clear (applied in place / nothing flagged), a flag set by another update (nothing
/// applied), and a NaN or ±Inf among the inputs (its slot flagged, nothing else written).
fn optimizer_cases(
    name: &str,
    n: usize,
    r: &mut ChaCha8Rng,
    op: impl Fn(u32, u32, u32) -> Op,
    inputs: Vec<Vec<u32>>,
) -> Vec<Case> {
    let n_flags = r.random_range(1..24u32);
    let slot = r.random_range(0..n_flags);
    let flags_buf = inputs.len();
    let clear = vec![0u32; n_flags as usize];
    let mut other = clear.clone();
    other[r.random_range(0..n_flags) as usize] = 1;
    let tol = Cmp::F32 { atol: 1e-6, rtol: 1e-4 };
    let mut bad = inputs.clone();
    let (which, at) = (r.random_range(0..inputs.len()), r.random_range(0..n));
    if which != 1 {
        // Any input but the scalars (whose word 0 scales every gradient).
        bad[which][at] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][at % 3].to_bits();
    } else {
        bad[1][0] = f32::NAN.to_bits();
    }
    let case = |label: &str, apply: u32, data: Vec<Vec<u32>>, flags: Vec<u32>, cmp: Cmp| {
        let mut data = data;
        data.push(flags);
        Case {
            name: format!("{name} n={n} {label}"),
            op: op(apply, slot, n_flags),
            cmp: (0..data.len()).map(|i| if i == flags_buf { Cmp::Exact } else { cmp }).collect(),
            data,
        }
    };
    let cases = vec![
        case("apply", 1, inputs.clone(), clear.clone(), tol),
        case("apply refused by another flag", 1, inputs.clone(), other, Cmp::Exact),
        case("check, finite", 0, inputs.clone(), clear.clone(), Cmp::Exact),
        case("check, non-finite input", 0, bad, clear, Cmp::Exact),
    ];
    // What the reference itself must do (the GPUs are then held to it): the step moves the
    // parameter only when applied and unrefused; a check flags exactly the non-finite inputs.
    let out: Vec<Vec<Vec<u32>>> = cases.iter().map(|c| run_op(&mut *cpu(), &c.op, &c.data)).collect();
    assert_ne!(out[0][0], inputs[0], "{name}: applied");
    assert_eq!(out[1][0], inputs[0], "{name}: refused");
    assert!(out[2][flags_buf].iter().all(|&f| f == 0), "{name}: finite inputs flagged");
    assert_eq!(out[3][flags_buf][slot as usize], 1, "{name}: a non-finite input not flagged");
    assert!((2..4).all(|k| out[k][..flags_buf] == cases[k].data[..flags_buf]), "{name}: a check wrote");
    cases
}

#[test]
fn adam_step() {
    let mut cases = Vec::new();
    for (seed, &n) in [1usize, 255, 4099, 70_001].iter().enumerate() {
        let r = &mut rng(600 + seed as u64);
        let (beta1, beta2) = (draw(r, 0.5, 0.95), draw(r, 0.9, 0.9999));
        let t = r.random_range(1..2000) as i32;
        let p = adam_step::Params {
            len: n as u32,
            lr: draw(r, 1e-4, 1e-1),
            beta1,
            beta2,
            eps: draw(r, 1e-8, 1e-3),
            weight_decay: draw(r, 0.0, 0.1),
            c1: 1.0 / (1.0 - beta1.powi(t)),
            c2: 1.0 / (1.0 - beta2.powi(t)),
            ..Default::default()
        };
        let op = |apply, slot, n_flags| {
            let mut p = p;
            (p.apply, p.slot, p.n_flags) = (apply, slot, n_flags);
            let bufs = adam_step::Bufs { param: b(0), scalars: b(1), m: b(2), v: b(3), grad: b(4), flags: b(5) };
            Op::new(p, bufs)
        };
        let inputs = vec![
            uniform(r, n, -1.0, 1.0),
            f32_words(&[draw(r, 0.1, 1.0), 2.0, 0.0, 0.0]),
            uniform(r, n, -0.1, 0.1),
            uniform(r, n, 0.0, 0.01),
            uniform(r, n, -1.0, 1.0),
        ];
        cases.extend(optimizer_cases("adam_step", n, r, op, inputs));
    }
    check(cases);
}

#[test]
fn sgd_step() {
    let mut cases = Vec::new();
    for (seed, &n) in [1usize, 257, 70_001].iter().enumerate() {
        let r = &mut rng(620 + seed as u64);
        let lr = draw(r, 0.1, 0.9);
        let op = |apply, slot, n_flags| {
            let p = sgd_step::Params { len: n as u32, lr, apply, slot, n_flags, ..Default::default() };
            Op::new(p, sgd_step::Bufs { param: b(0), scalars: b(1), grad: b(2), flags: b(3) })
        };
        let inputs =
            vec![uniform(r, n, -1.0, 1.0), f32_words(&[draw(r, 0.1, 1.0), 2.0, 0.0, 0.0]), uniform(r, n, -1.0, 1.0)];
        cases.extend(optimizer_cases("sgd_step", n, r, op, inputs));
    }
    check(cases);
}

#[test]
fn readout_derivative() {
    let mut cases = Vec::new();
    for (seed, &(batch, outputs, rows)) in [(1usize, 1usize, 1usize), (3, 300, 5), (33, 513, 34)].iter().enumerate() {
        let r = &mut rng(660 + seed as u64);
        let row0 = r.random_range(0..=rows - 1) as u32;
        let rest = 1.0 / (1.0 + std::f32::consts::E) + 1e-6;
        let p = readout_derivative::Params {
            batch: (batch.min(rows - row0 as usize)) as u32,
            outputs: outputs as u32,
            row0,
            rest,
            ..Default::default()
        };
        let mut psi = uniform(r, rows * outputs, 0.0, 1.0);
        let start = row0 as usize * outputs;
        psi[start..start + p.batch as usize * outputs].fill(POISON);
        // Readouts on both sides of rest, some exactly at it.
        let mut y: Vec<f32> = (0..batch * outputs).map(|_| r.random_range(0.2f32..0.99)).collect();
        y.iter_mut().step_by(7).for_each(|v| *v = rest);
        cases.push(Case {
            name: format!("readout_derivative b={batch} o={outputs} rows={rows}"),
            op: Op::new(p, readout_derivative::Bufs { y: b(0), psi: b(1) }),
            data: vec![f32_words(&y), psi],
            cmp: vec![F, F],
        });
    }
    check(cases);
}

#[test]
fn learning_signal() {
    let mut cases = Vec::new();
    for (seed, &(rows, vocab, n, extra)) in
        [(1usize, 5usize, 1usize, 0usize), (67, 259, 70, 3), (130, 17, 300, 65)].iter().enumerate()
    {
        let r = &mut rng(660 + seed as u64);
        let offset = r.random_range(0..=extra);
        let width = n + extra;
        let p = learning_signal::Params {
            rows: rows as u32,
            vocab: vocab as u32,
            width: width as u32,
            offset: offset as u32,
            n: n as u32,
            ..Default::default()
        };
        cases.push(Case {
            name: format!("learning_signal rows={rows} V={vocab} n={n} D={width}"),
            op: Op::new(p, learning_signal::Bufs { grads: b(0), dec_w: b(1), signal: b(2) }),
            data: vec![uniform(r, rows * vocab, -1.0, 1.0), uniform(r, vocab * width, -0.5, 0.5), poison(rows * n)],
            cmp: vec![F, F, Cmp::F32 { atol: 1e-5, rtol: 1e-4 }],
        });
    }
    check(cases);
}

#[test]
fn transpose() {
    let mut cases = Vec::new();
    for (seed, &(rows, width)) in [(1usize, 1usize), (33, 70), (100, 3), (5, 257), (64, 32)].iter().enumerate() {
        let r = &mut rng(680 + seed as u64);
        let p = transpose::Params { rows: rows as u32, width: width as u32, ..Default::default() };
        cases.push(Case {
            name: format!("transpose rows={rows} width={width}"),
            op: Op::new(p, transpose::Bufs { src: b(0), dst: b(1) }),
            data: vec![uniform(r, rows * width, -1.0, 1.0), poison(rows * width)],
            cmp: vec![F, Cmp::Exact],
        });
    }
    check(cases);
}

#[test]
fn eprop_filter() {
    let mut cases = Vec::new();
    for (seed, &(batch, positions, n)) in
        [(1usize, 1usize, 1usize), (3, 5, 37), (2, 9, 300), (33, 3, 256)].iter().enumerate()
    {
        let r = &mut rng(690 + seed as u64);
        let rows = batch * positions;
        let p = eprop_filter::Params {
            batch: batch as u32,
            positions: positions as u32,
            n: n as u32,
            lambda: draw(r, 0.0, 0.99),
            ..Default::default()
        };
        cases.push(Case {
            name: format!("eprop_filter b={batch} t={positions} n={n}"),
            op: Op::new(p, eprop_filter::Bufs { psi: b(0), signal: b(1), q_t: b(2) }),
            data: vec![uniform(r, rows * n, 0.0, 1.0), uniform(r, rows * n, -0.5, 0.5), poison(rows * n)],
            cmp: vec![F, F, F],
        });
    }
    check(cases);
}

#[test]
fn eprop() {
    let mut cases = Vec::new();
    for (seed, &(rows, n, fanout, lag_rows)) in
        [(1usize, 1usize, 1usize, 0usize), (15, 37, 7, 3), (18, 300, 16, 0), (99, 256, 5, 33), (130, 3, 40, 1)]
            .iter()
            .enumerate()
    {
        let r = &mut rng(670 + seed as u64);
        let post_n = n + r.random_range(0..4usize);
        let pre_width = r.random_range(1..=2 * n + 3);
        let pre_offset = r.random_range(0..4usize);
        let width = pre_offset + pre_width + r.random_range(0..3usize);
        let count = r.random_range(1..=rows) as f32;
        let p = eprop::Params {
            rows: rows as u32,
            n: n as u32,
            fanout: fanout as u32,
            pre_offset: pre_offset as u32,
            lag_rows: lag_rows as u32,
            pre_scale: draw(r, 0.1, 2.0),
            rate: draw(r, 0.01, 1.0),
            bound: draw(r, 0.5, 2.0),
            ..Default::default()
        };
        let bufs = eprop::Bufs { w_idx: b(0), w_val: b(1), q_t: b(2), x_t: b(3), totals: b(4), w_next: b(5) };
        cases.push(Case {
            name: format!("eprop rows={rows} n={n} f={fanout} lag_rows={lag_rows}"),
            op: Op::new(p, bufs),
            data: vec![
                ints(r, n * fanout, pre_width as u32),
                uniform(r, n * fanout, -1.0, 1.0),
                uniform(r, post_n * rows, -1.0, 1.0),
                uniform(r, width * rows, 0.0, 1.0),
                f32_words(&[0.0, 0.0, count, 1.0 / count]),
                poison(n * fanout),
            ],
            cmp: vec![Cmp::Exact, F, F, F, F, Cmp::F32 { atol: 1e-5, rtol: 1e-4 }],
        });
    }
    check(cases);
}

#[test]
fn plasticity_and_homeostasis() {
    let mut cases = Vec::new();
    for (seed, &(batch, n, fanout, windows)) in
        [(1usize, 256usize, 1usize, 1usize), (3, 300, 7, 2), (2, 512, 16, 3)].iter().enumerate()
    {
        let r = &mut rng(140 + seed as u64);
        let mut mod_base = uniform(r, batch * windows, -0.1, 0.1);
        mod_base[0] = 0f32.to_bits(); // a window with no modulator contributes nothing
        let p = plasticity::Params {
            batch: batch as u32,
            n: n as u32,
            fanout: fanout as u32,
            windows: windows as u32,
            module_id: r.random_range(0..NUM_MODULES as u32),
            rate: draw(r, 0.2, 0.8),
            inv_window_ticks: 1.0 / draw(r, 8.0, 24.0),
            ..Default::default()
        };
        let wc = f32_words(&ints(r, windows * batch * n, 3).iter().map(|&x| x as f32).collect::<Vec<_>>());
        cases.push(Case {
            name: format!("plasticity b={batch} n={n} f={fanout} w={windows}"),
            op: Op::new(
                p,
                plasticity::Bufs {
                    w_idx: b(0),
                    w_val: b(1),
                    wc_t: b(2),
                    we_t: b(3),
                    mod_base: b(4),
                    mfac: b(5),
                    w_next: b(6),
                },
            ),
            data: vec![
                ints(r, n * fanout, n as u32),
                uniform(r, n * fanout, -1.0, 1.0),
                wc.clone(),
                uniform(r, windows * batch * n, 0.0, 16.0),
                mod_base,
                uniform(r, batch * NUM_MODULES, 0.5, 2.0),
                poison(n * fanout),
            ],
            cmp: vec![Cmp::Exact, F, F, F, F, F, Cmp::F32 { atol: 1e-5, rtol: 1e-4 }],
        });
        let hp = homeostasis::Params {
            batch: batch as u32,
            n: n as u32,
            windows: windows as u32,
            eta: draw(r, 0.05, 0.2),
            target_rate: draw(r, 0.02, 0.08),
            inv_ticks: 1.0 / (16.0 * windows as f32 * batch as f32),
            ..Default::default()
        };
        cases.push(Case {
            name: format!("homeostasis b={batch} n={n}"),
            op: Op::new(hp, homeostasis::Bufs { theta: b(0), wc: b(1), theta_next: b(2), activity: b(3) }),
            data: vec![uniform(r, n, -58.0, -52.0), wc, poison(n), ints(r, n, 100)],
            cmp: vec![F, F, F, Cmp::Exact],
        });
    }
    check(cases);
}

#[test]
fn hebbian_health_and_commit() {
    let r = &mut rng(150);
    let mut cases = Vec::new();
    for batch in [1usize, 3] {
        let n_conn = 11;
        let meta: Vec<u32> = (0..n_conn)
            .flat_map(|c| [(c % 6) as u32, ((c + 1) % 6) as u32, (0.01 + 0.004 * c as f32).to_bits(), 0])
            .collect();
        let p = hebbian_gains::Params {
            n_conn: n_conn as u32,
            batch: batch as u32,
            ticks: r.random_range(20..60),
            window_ticks: r.random_range(8..24),
            neurons: [512, 1024, 512, 1024, 256, 1024].map(|n| n * r.random_range(1..3)),
            ..Default::default()
        };
        cases.push(Case {
            name: format!("hebbian_gains b={batch}"),
            op: Op::new(
                p,
                hebbian_gains::Bufs { conn_meta: b(0), gains: b(1), counts: b(2), rbar: b(3), gains_next: b(4) },
            ),
            data: vec![
                meta,
                uniform(r, n_conn, 0.0, 2.0),
                ints(r, batch * NUM_MODULES, 8000),
                uniform(r, batch, -0.1, 0.1),
                poison(n_conn),
            ],
            cmp: vec![Cmp::Exact, F, Cmp::Exact, F, F],
        });
    }
    for &(len, bad) in &[(1usize, None), (300, Some(17usize)), (70_001, Some(70_000))] {
        let mut data = uniform(r, len, -1.0, 1.0);
        if let Some(i) = bad {
            data[i] = if i % 2 == 0 { f32::INFINITY.to_bits() } else { f32::NAN.to_bits() };
        }
        cases.push(Case {
            name: format!("health n={len} bad={bad:?}"),
            op: Op::health(b(0), len, b(1), 2),
            data: vec![data, vec![0; 4]],
            cmp: vec![Cmp::Exact, Cmp::Exact],
        });
    }
    for flags in [vec![0u32, 0, 0], vec![0, 1, 0]] {
        let n = 700;
        cases.push(Case {
            name: format!("commit flags={flags:?}"),
            op: Op::commit(b(0), b(1), 3, b(2), n),
            data: vec![uniform(r, n, -1.0, 1.0), flags, uniform(r, n + 5, -1.0, 1.0)],
            cmp: vec![F, Cmp::Exact, F],
        });
    }
    check(cases);
}
