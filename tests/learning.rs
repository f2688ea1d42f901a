//! Learning (docs/model.md §6–7): one sync per train step, reproducibility, CPU/GPU agreement of the
//! learned weights, NaN safety, sleep, and that the model actually learns.

mod common;

use common::*;
use neurogen::config::{Rule, Source};
use neurogen::model::HostParams;
use neurogen::pipeline::checkpoint::RunRecord;
use neurogen::pipeline::corpus::{self, OnBadData};
use neurogen::pipeline::run::{self, Budget, RunOptions};
use neurogen::{Engine, GenerateOptions, ModelConfig, ModuleId, NeuroError, Preset, Tokenizer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn tiny() -> ModelConfig {
    ModelConfig::preset(Preset::Tiny)
}

/// `tiny` with the reward rule, whose plasticity, homeostasis and gains change the network.
fn tiny_reward() -> ModelConfig {
    let mut cfg = tiny();
    cfg.learn.rule = Rule::Reward;
    cfg
}

fn random_batch(seed: u64, lens: &[usize]) -> Vec<Vec<u32>> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    lens.iter().map(|&n| (0..n).map(|_| r.random_range(0..256)).collect()).collect()
}

/// All learnable parameters, flattened.
fn learned(eng: &mut Engine) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let cfg = eng.config().clone();
    let params = eng.params().clone();
    let p = params.download(eng.backend_mut(), &cfg).unwrap();
    let w: Vec<f32> = p.recurrent.iter().flat_map(|r| r.val.clone()).collect();
    let th: Vec<f32> = p.theta.concat();
    (w, th, p.dec_w.iter().chain(&p.dec_b).copied().collect(), p.gains)
}

#[test]
fn a_train_step_is_one_submission_with_one_sync() {
    let mut all = vec![cpu()];
    all.extend(gpu_backends().into_iter().map(|(_, b)| b));
    for be in all {
        let mut eng = Engine::new(be, tiny(), 1).unwrap();
        let before = eng.backend().stats();
        let out = eng.train_step(&random_batch(1, &[20, 13, 2])).unwrap();
        let after = eng.backend().stats();
        assert_eq!(after.host_syncs - before.host_syncs, 1);
        assert_eq!(after.calls - before.calls, 1);
        assert_eq!(out.stats.host_syncs, 1);
        assert_eq!(out.positions, 19 + 12 + 1, "padding is masked");
        assert!(out.loss.is_finite() && out.loss > 0.0 && out.grad_norm > 0.0);
        assert_eq!(out.predictions.len(), 3);
    }
}

#[test]
fn cpu_training_is_bit_for_bit_reproducible_and_gpus_agree() {
    let cfg = tiny_reward();
    let params = HostParams::init(&cfg, 4);
    let batches: Vec<Vec<Vec<u32>>> = (0..3).map(|s| random_batch(10 + s, &[24, 17, 24])).collect();
    let run = |be| {
        let mut eng = Engine::with_params(be, cfg.clone(), &params).unwrap();
        let losses: Vec<f64> = batches.iter().map(|b| eng.train_step(b).unwrap().loss).collect();
        (losses, learned(&mut eng))
    };
    let (l1, p1) = run(cpu());
    let (l2, p2) = run(cpu());
    assert_eq!(l1, l2);
    assert!(p1 == p2, "two CPU runs from one seed end with identical parameters");
    let initial = learned(&mut Engine::with_params(cpu(), cfg.clone(), &params).unwrap());
    assert!(p1.0 != initial.0 && p1.1 != initial.1 && p1.2 != initial.2, "weights, thresholds and decoder all moved");
    for (kind, be) in gpu_backends() {
        let (l, p) = run(be);
        for (a, b) in l.iter().zip(&l1) {
            assert!((a - b).abs() / b < 1e-3, "{kind:?} loss {a} vs cpu {b}");
        }
        assert_close(&format!("{kind:?} recurrent weights"), &p.0, &p1.0, 1e-5, 1e-3);
        // A spike is discrete: where two kWTA candidates are within rounding of each other, the
        // backends' f32 input currents (the CPU's are f64 sums) may pick different winners, and
        // homeostasis moves each one's threshold by a spike's worth (0.0016 here). A few such
        // swaps are allowed, nothing else.
        let swapped = p.1.iter().zip(&p1.1).filter(|(a, b)| (*a - *b).abs() > 1e-4).count();
        assert!(swapped * 100 <= p.1.len(), "{kind:?}: {swapped} thresholds moved by spike swaps");
        assert_close(&format!("{kind:?} thresholds"), &p.1, &p1.1, 4e-3, 1e-5);
        assert_close(&format!("{kind:?} decoder"), &p.2, &p1.2, 1e-4, 1e-3);
        assert_close(&format!("{kind:?} gains"), &p.3, &p1.3, 1e-5, 1e-4);
    }
}

#[test]
fn a_nan_step_is_reported_and_applies_nothing() {
    let cfg = tiny();
    let mut params = HostParams::init(&cfg, 2);
    params.dec_w[17] = f32::NAN;
    let mut all = vec![cpu()];
    all.extend(gpu_backends().into_iter().map(|(_, b)| b));
    for be in all {
        let mut eng = Engine::with_params(be, cfg.clone(), &params).unwrap();
        let before = learned(&mut eng);
        match eng.train_step(&random_batch(3, &[12, 12])) {
            Err(NeuroError::NonFinite(names)) => assert!(names.iter().any(|n| n.contains("decoder")), "{names:?}"),
            other => panic!("expected a NaN report, got {other:?}"),
        }
        let after = learned(&mut eng);
        assert!(before.0 == after.0 && before.1 == after.1 && before.3 == after.3, "no update applied");
        assert_eq!(
            before.2.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            after.2.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }
    // Under e-prop a NaN decoder weight reaches the learning signal: every network update is
    // refused with it.
    let mut cfg = tiny();
    cfg.learn.rule = Rule::Eprop;
    let mut params = HostParams::init(&cfg, 2);
    params.dec_w[17] = f32::NAN;
    let mut eng = Engine::with_params(cpu(), cfg.clone(), &params).unwrap();
    assert!(matches!(eng.train_step(&random_batch(3, &[12, 12])), Err(NeuroError::NonFinite(_))));
    let after = eng.params().clone().download(eng.backend_mut(), &cfg).unwrap();
    assert!(after.recurrent == params.recurrent && after.projections == params.projections, "nothing applied");
    // A NaN inside a module's weights is reported with the module it came from (the reward
    // rule updates them; the decoder-only rule never reads a weight it could pass on).
    let cfg = tiny_reward();
    let mut params = HostParams::init(&cfg, 2);
    params.recurrent[3].val.iter_mut().for_each(|w| *w = f32::NAN);
    let mut eng = Engine::with_params(cpu(), cfg.clone(), &params).unwrap();
    match eng.train_step(&random_batch(3, &[12, 12])) {
        Err(NeuroError::NonFinite(names)) => assert!(names.iter().any(|n| n.starts_with("PFC")), "{names:?}"),
        other => panic!("expected a NaN report, got {other:?}"),
    }
}

/// e-prop (docs/model.md §6) changes exactly what its plan says: the recurrent weights of the
/// modules whose traces the decoder reads (tiny: Wernicke, PFC) and the projections into them from
/// modules whose readouts it reads (Thalamus → Wernicke, Wernicke → PFC) — with random feedback,
/// every module's recurrent weights and every projection from a module; one sync per step;
/// reproducible on the CPU; the GPU backends learn the same weights.
#[test]
fn eprop_learns_what_its_plan_says_and_gpus_agree() {
    for random_feedback in [false, true] {
        let mut cfg = tiny();
        cfg.learn.rule = Rule::Eprop;
        cfg.learn.eprop_rate = 10.0; // visible changes within three steps
        cfg.learn.eprop_projection_rate = 100.0;
        cfg.learn.random_feedback = random_feedback;
        let params = HostParams::init(&cfg, 6);
        let batches: Vec<Vec<Vec<u32>>> = (0..3).map(|s| random_batch(40 + s, &[24, 17, 24])).collect();
        let run = |be, steps: usize| {
            let mut eng = Engine::with_params(be, cfg.clone(), &params).unwrap();
            for b in &batches[..steps] {
                let before = eng.backend().stats().host_syncs;
                eng.train_step(b).unwrap();
                assert_eq!(eng.backend().stats().host_syncs - before, 1);
            }
            let p = eng.params().clone().download(eng.backend_mut(), &cfg).unwrap();
            (p.recurrent, p.projections)
        };
        let (rec, proj) = run(cpu(), 3);
        assert!(run(cpu(), 3) == (rec.clone(), proj.clone()), "two CPU runs agree bit for bit");
        let traced = |m: usize| m == ModuleId::Wernicke as usize || m == ModuleId::Pfc as usize;
        for (m, (after, before)) in rec.iter().zip(&params.recurrent).enumerate() {
            let learns = random_feedback || traced(m);
            assert_eq!(after.val != before.val, learns, "module {m}: recurrent weights change iff e-prop learns it");
            assert_eq!(after.idx, before.idx, "the wiring stays");
        }
        for (c, (after, before)) in proj.iter().zip(&params.projections).enumerate() {
            let planned = match cfg.connections[c].source {
                Source::Module(_) if random_feedback => true,
                _ => c == 1 || c == 4,
            };
            assert_eq!(
                after.val != before.val,
                planned,
                "connection {c} (random feedback {random_feedback}): projection changes iff planned"
            );
        }
        // With every module learning, a neuron at its threshold in step 2 or 3 can fire on one
        // backend and not the other (float sums in another order), so the GPUs are compared after
        // one step there.
        let steps = if random_feedback { 1 } else { 3 };
        let (rec, proj) = if steps == 3 { (rec, proj) } else { run(cpu(), steps) };
        for (kind, be) in gpu_backends() {
            let (r, p) = run(be, steps);
            for (m, (a, b)) in r.iter().zip(&rec).enumerate() {
                assert_close(&format!("{kind:?} recurrent {m}"), &a.val, &b.val, 1e-4, 1e-3);
            }
            for (c, (a, b)) in p.iter().zip(&proj).enumerate() {
                assert_close(&format!("{kind:?} projection {c}"), &a.val, &b.val, 1e-2, 1e-3);
            }
        }
    }
}

/// e-prop through readouts (`learn.readout_eprop`) with seed's kind of features (readouts of the
/// Thalamus, Wernicke, PFC and Broca): exactly the projections from a read module into a read
/// module learn, and no recurrent weights; one host sync per step; the GPUs agree with the CPU.
#[test]
fn readout_eprop_learns_the_projections_between_read_modules() {
    use neurogen::config::{Feature, Signal};
    let mut cfg = tiny();
    cfg.learn.rule = Rule::Eprop;
    cfg.learn.readout_eprop = true;
    cfg.learn.eprop_projection_rate = 100.0;
    cfg.decoder_features = [ModuleId::Thalamus, ModuleId::Wernicke, ModuleId::Pfc, ModuleId::Broca]
        .map(|module| Feature { module, signal: Signal::Readout })
        .to_vec();
    let mut params = HostParams::init(&cfg, 6);
    // A decoder that reads the network from the start, so that every read module gets a signal.
    let mut r = ChaCha8Rng::seed_from_u64(2);
    params.dec_w.iter_mut().for_each(|w| *w = r.random_range(-0.05..0.05));
    let batches: Vec<Vec<Vec<u32>>> = (0..2).map(|s| random_batch(50 + s, &[24, 17, 24])).collect();
    let run = |be| {
        let mut eng = Engine::with_params(be, cfg.clone(), &params).unwrap();
        for b in &batches {
            let before = eng.backend().stats().host_syncs;
            eng.train_step(b).unwrap();
            assert_eq!(eng.backend().stats().host_syncs - before, 1);
        }
        let p = eng.params().clone().download(eng.backend_mut(), &cfg).unwrap();
        (p.recurrent, p.projections)
    };
    let (rec, proj) = run(cpu());
    for (m, (after, before)) in rec.iter().zip(&params.recurrent).enumerate() {
        assert!(after.val == before.val, "module {m}: no recurrent weight learns through a readout");
    }
    for (c, (after, before)) in proj.iter().zip(&params.projections).enumerate() {
        // PFC→Thalamus, Thalamus→Wernicke, PFC→Wernicke, Wernicke→PFC, PFC→Broca.
        let planned = [0, 1, 2, 4, 10].contains(&c);
        assert_eq!(after.val != before.val, planned, "connection {c}: changes iff planned");
    }
    for (kind, be) in gpu_backends() {
        let (r, p) = run(be);
        for (m, (a, b)) in r.iter().zip(&rec).enumerate() {
            assert!(a.val == b.val, "{kind:?} module {m}: recurrent weights unchanged");
        }
        for (c, (a, b)) in p.iter().zip(&proj).enumerate() {
            assert_close(&format!("{kind:?} projection {c}"), &a.val, &b.val, 1e-2, 1e-3);
        }
    }
}

/// e-prop with no traced module to learn (seed's default features are readouts only) trains the
/// decoder alone, on every backend, instead of failing (a seed `bench --train` once panicked).
#[test]
fn eprop_without_a_traced_module_trains_the_decoder_alone() {
    let mut cfg = tiny();
    cfg.learn.rule = Rule::Eprop;
    cfg.decoder_features.retain(|f| f.signal == neurogen::config::Signal::Readout);
    let params = HostParams::init(&cfg, 6);
    let mut backends = vec![cpu()];
    backends.extend(gpu_backends().into_iter().map(|(_, be)| be));
    for be in backends {
        let mut eng = Engine::with_params(be, cfg.clone(), &params).unwrap();
        eng.train_step(&random_batch(3, &[12, 9])).unwrap();
        let p = eng.params().clone().download(eng.backend_mut(), &cfg).unwrap();
        assert!(p.recurrent.iter().zip(&params.recurrent).all(|(a, b)| a.val == b.val), "no module learns");
    }
}

/// Event-driven propagation (`propagate`, docs/model.md §3.4) and gathering give the same bits:
/// the same losses, learned parameters and generated tokens, also after a sleep has rewired
/// synapses (which rebuilds the outgoing-synapse table); one host sync per call either way.
#[test]
fn event_driven_propagation_matches_gathering_bit_for_bit() {
    let mut cfg = tiny_reward();
    cfg.learn.prune_threshold = 0.1; // the sleep rewires a visible share of the synapses
    let params = HostParams::init(&cfg, 8);
    let run = |be: Box<dyn neurogen::backend::Backend>, event_max_batch: usize| {
        let mut eng = Engine::with_params(be, cfg.clone(), &params).unwrap();
        eng.set_event_max_batch(event_max_batch);
        let mut losses = Vec::new();
        let start = eng.backend().stats();
        for s in 0..2 {
            let before = eng.backend().stats().host_syncs;
            losses.push(eng.train_step(&random_batch(20 + s, &[18, 11, 18])).unwrap().loss.to_bits());
            assert_eq!(eng.backend().stats().host_syncs - before, 1);
        }
        let dispatches = eng.backend().stats().dispatches - start.dispatches;
        let pruned = eng.sleep(5).unwrap().pruned;
        assert!(pruned > 0);
        let opts = GenerateOptions { max_new: 12, seed: 3, ..Default::default() };
        let tokens = eng.generate(&[vec![1, 2, 3], vec![40, 41]], &opts).unwrap().tokens;
        losses.push(eng.train_step(&random_batch(30, &[18, 11, 18])).unwrap().loss.to_bits());
        (losses, tokens, eng.snapshot().unwrap(), dispatches)
    };
    let gathered = run(cpu(), 0);
    let event = run(cpu(), 32);
    assert!(event.3 > gathered.3, "the event-driven run launched `propagate`");
    assert_eq!(event.0, gathered.0, "cpu losses");
    assert_eq!(event.1, gathered.1, "cpu tokens");
    assert!(event.2 == gathered.2, "cpu parameters after training, sleep and training");
    let kinds: Vec<_> = gpu_backends().into_iter().map(|(kind, be)| (kind, run(be, 0))).collect();
    for ((kind, g), (_, be)) in kinds.into_iter().zip(gpu_backends()) {
        let e = run(be, 32);
        assert!(e.3 > g.3, "{kind:?}: the event-driven run launched `propagate`");
        assert_eq!(e.0, g.0, "{kind:?} losses");
        assert_eq!(e.1, g.1, "{kind:?} tokens");
        assert!(e.2 == g.2, "{kind:?} parameters after training, sleep and training");
    }
}

#[test]
fn sleep_prunes_regrows_and_is_reproducible() {
    let mut cfg = tiny();
    cfg.learn.prune_threshold = 0.1; // prune a visible share of tiny's weights
    let run = || {
        let mut eng = Engine::new(cpu(), cfg.clone(), 6).unwrap();
        eng.train_step(&random_batch(1, &[16, 16])).unwrap();
        let report = eng.sleep(99).unwrap();
        let p = eng.params().clone().download(eng.backend_mut(), &cfg).unwrap();
        (report.pruned, report.silent_neurons, p)
    };
    let (pruned, silent, p) = run();
    assert!(pruned > 0 && silent > 0, "pruned {pruned}, silent {silent}");
    for (m, w) in cfg.modules.iter().zip(&p.recurrent) {
        for (i, row) in w.idx.chunks(w.fanout).enumerate() {
            assert!(row.windows(2).all(|x| x[0] < x[1]), "fanout fixed, indices distinct");
            assert!(row.iter().all(|&j| (j as usize) < m.n && j as usize != i));
        }
        assert!(w.val.iter().all(|&x| x.abs() >= 0.01 - 1e-7 || x == 0.01), "no weight below the threshold survives");
    }
    let (pruned2, silent2, p2) = run();
    assert_eq!((pruned, silent), (pruned2, silent2));
    assert!(p == p2, "sleep is seeded and reproducible");
}

/// DA, 5HT and r̄ belong to sequence slots: a smaller call in between (the sleep's replay, at
/// `replay_batch` sequences) leaves the slots it does not use as they were.
#[test]
fn a_smaller_call_in_between_keeps_the_other_slots_neuromodulators() {
    let mut eng = Engine::new(cpu(), tiny_reward(), 4).unwrap();
    let slots = |eng: &mut Engine| {
        let st = eng.state().unwrap().clone();
        (eng.backend_mut().download(st.neuromod).unwrap(), eng.backend_mut().download(st.rbar).unwrap())
    };
    let batch = random_batch(2, &[24, 24, 24]);
    eng.train_step(&batch).unwrap();
    let (nm, rb) = slots(&mut eng);
    let per = nm.len() / 3;
    assert!(nm[per..].iter().chain(&rb[1..]).any(|&w| w != 0), "the reward rule moved slots 1 and 2");
    eng.train_step(&batch[..1]).unwrap();
    let (nm1, rb1) = slots(&mut eng);
    eng.reset(3).unwrap();
    let (nm3, rb3) = slots(&mut eng);
    assert_eq!(&nm3[..per], &nm1[..], "slot 0 keeps what the smaller call left");
    assert_eq!(rb3[0], rb1[0]);
    assert_eq!(&nm3[per..], &nm[per..], "slots 1 and 2 are as they were before the smaller call");
    assert_eq!(&rb3[1..], &rb[1..]);
}

/// Learning happens on a generated corpus: held-out loss falls far below its starting point.
#[test]
fn held_out_loss_falls_on_a_generated_corpus() {
    let train = markov_corpus(5, 1, 32, 33);
    let held_out = markov_corpus(5, 2, 4, 33);
    let mut eng = Engine::new(cpu(), tiny(), 3).unwrap();
    let before = eng.evaluate(&held_out).unwrap().loss;
    for step in 0..40 {
        let b = (step * 4) % train.len();
        eng.train_step(&train[b..b + 4]).unwrap();
    }
    let after = eng.evaluate(&held_out).unwrap().loss;
    assert!(after < before - 3.0, "held-out loss {before} -> {after}");
}

/// The model memorises a repeated deterministic sequence with the reward rule at its default
/// rates (decoder, three-factor plasticity, homeostasis, Hebbian gains, neuromodulation).
#[test]
fn tiny_learns_a_repeated_sequence_to_90_percent() {
    let cfg = tiny_reward();
    assert!(cfg.learn.theta_rate > 0.0 && cfg.modules.iter().all(|m| m.plasticity_rate > 0.0));
    let mut eng = Engine::new(cpu(), cfg, 1).unwrap();
    let w0 = learned(&mut eng);
    let pattern = b"abcdefghij";
    let seq: Vec<u32> = (0..32).map(|i| pattern[i % pattern.len()] as u32).collect();
    let first = eng.train_step(&[seq.clone()]).unwrap();
    let mut last = first.clone();
    for _ in 0..300 {
        last = eng.train_step(&[seq.clone()]).unwrap();
        if last.accuracy >= 0.95 && last.loss < first.loss / 4.0 {
            break;
        }
    }
    eprintln!("repeated sequence: loss {:.3} -> {:.3}, accuracy {:.3}", first.loss, last.loss, last.accuracy);
    assert!(last.accuracy >= 0.9, "train accuracy {}", last.accuracy);
    assert!(last.loss < first.loss / 4.0);
    // The slow rules ran too: recurrent weights, thresholds and gains moved.
    let w1 = learned(&mut eng);
    assert!(w0.0 != w1.0 && w0.1 != w1.1 && w0.3 != w1.3);
}

/// A generated corpus: a first-order Markov source over 12 symbols with peaked transitions.
fn markov_corpus(seed: u64, draw: u64, sequences: usize, len: usize) -> Vec<Vec<u32>> {
    let symbols = 12usize;
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    // Each symbol has two likely successors (0.6 / 0.3) and a uniform remainder.
    let next: Vec<(usize, usize)> =
        (0..symbols).map(|_| (r.random_range(0..symbols), r.random_range(0..symbols))).collect();
    let mut data = Vec::new();
    let mut gen = ChaCha8Rng::seed_from_u64(draw);
    for _ in 0..sequences {
        let mut s = gen.random_range(0..symbols);
        let mut seq = Vec::with_capacity(len);
        for _ in 0..len {
            seq.push(97 + s as u32);
            let u: f64 = gen.random();
            s = if u < 0.6 {
                next[s].0
            } else if u < 0.9 {
                next[s].1
            } else {
                gen.random_range(0..symbols)
            };
        }
        data.push(seq);
    }
    data
}

/// Real English: `tiny` at its defaults on the CPU, trained through the user's pipeline
/// (`run::train`, shuffled sequences of 64 bytes, batch 8) on the Python-docs sample in
/// `tests/data`, reaches held-out bits per byte below the interpolated Kneser–Ney byte bigram
/// fitted on the same split (LEARNING.md has the measured numbers).
#[test]
fn tiny_beats_the_bigram_baseline_on_real_text() {
    let tok = Tokenizer::bytes();
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/python-docs");
    let load = |file: &str| {
        let files = corpus::resolve(&format!("{data}/{file}")).unwrap();
        corpus::load(files, &tok, 64, 0, usize::MAX, OnBadData::Refuse).unwrap().0.train
    };
    let (train, held_out) = (load("train.jsonl"), load("held_out.jsonl"));
    let mut cfg = tiny();
    tok.configure(&mut cfg);
    let eng = Engine::new(cpu(), cfg, 0).unwrap();
    let dir = temp_dir("real-text");
    let record = RunRecord {
        data: data.into(),
        held_out: None,
        batch: 8,
        seq_len: 64,
        held_out_every: 0,
        max_sequences: usize::MAX,
        tokens: 0,
        seconds: 0.0,
    };
    let opts = RunOptions {
        budget: Budget::Steps(REAL_TEXT_STEPS),
        out: dir.join("run"),
        seed: 0,
        checkpoint_every: 0,
        sample_every: 0,
        sample_prompt: "The ".into(),
        json: true,
        record,
        stop: None,
    };
    let summary = run::train(eng, &tok, &train, &held_out, &opts, None).unwrap();
    let h = summary.held_out.expect("a held-out split");
    let bigram = h.ngram.iter().find(|n| n.order == 2).unwrap().bits_per_byte;
    let unigram = h.ngram[0].bits_per_byte;
    eprintln!(
        "real text, {REAL_TEXT_STEPS} steps: held-out {:.3} bits/byte; unigram {unigram:.3}, bigram {bigram:.3}; sample {:?}",
        h.score.bits_per_byte,
        summary.samples.last().map(|s| &s.1)
    );
    assert_eq!(h.score.bytes, h.ngram[1].bytes, "the model and the baseline score the same bytes");
    assert!(
        h.score.bits_per_byte.is_finite() && h.score.bits_per_byte < bigram,
        "{} vs bigram {bigram}",
        h.score.bits_per_byte
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Steps of the real-text test: about 3 minutes on two cores under the default e-prop rule (which
/// reaches 4.232 bits/byte here against the bigram's 4.299; 500 steps reach 4.148).
const REAL_TEXT_STEPS: u64 = 300;
