//! Whole calls: one host sync per call, sequence-level agreement between the CPU reference and
//! the GPU backends, spike-rate regime, EOS masking, and bad input.

mod common;

use common::*;
use neurogen::backend::{unpack_spikes, Backend, Buf};
use neurogen::model::{HostParams, StateBufs};
use neurogen::{BackendKind, Engine, GenerateOptions, ModelConfig, ModuleId, NeuroError, Preset, SamplingRule};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random_tokens(seed: u64, n: usize, vocab: u32) -> Vec<u32> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| r.random_range(0..vocab)).collect()
}

fn tiny() -> ModelConfig {
    ModelConfig::preset(Preset::Tiny)
}

fn engines(cfg: &ModelConfig, seed: u64) -> (Engine, Vec<(BackendKind, Engine)>) {
    let params = HostParams::init(cfg, seed);
    let cpu = Engine::with_params(cpu(), cfg.clone(), &params).unwrap();
    let gpus =
        gpu_backends().into_iter().map(|(k, be)| (k, Engine::with_params(be, cfg.clone(), &params).unwrap())).collect();
    (cpu, gpus)
}

/// Every per-sequence state buffer, in a fixed order.
fn state_buffers(st: &StateBufs) -> Vec<Buf> {
    let mut v: Vec<Buf> = st.modules.iter().flat_map(|m| [m.v, m.a, m.e, m.spk[0], m.spk[1], m.y, m.j]).collect();
    v.extend([st.neuromod, st.fast, st.acts, st.prev, st.context, st.pfc_hidden, st.ctrl]);
    v
}

#[test]
fn one_host_sync_per_call() {
    let cfg = tiny();
    let mut all = vec![(BackendKind::Cpu, cpu())];
    all.extend(gpu_backends());
    for (kind, be) in all {
        let mut eng = Engine::new(be, cfg.clone(), 1).unwrap();
        let prompts = vec![random_tokens(1, 5, 256), random_tokens(2, 3, 256)];
        let opts = GenerateOptions { max_new: 12, ..Default::default() };
        let calls: [&dyn Fn(&mut Engine); 4] = [
            &|e| drop(e.generate(&prompts, &opts).unwrap()),
            &|e| drop(e.evaluate(&prompts).unwrap()),
            &|e| e.reset(2).unwrap(),
            &|e| drop(e.forward(&[random_tokens(3, 4, 256), random_tokens(4, 4, 256)]).unwrap()),
        ];
        for (i, call) in calls.iter().enumerate() {
            let before = eng.backend().stats();
            call(&mut eng);
            let after = eng.backend().stats();
            assert_eq!(after.host_syncs - before.host_syncs, 1, "{kind:?} call {i}: host syncs");
            assert_eq!(after.calls - before.calls, 1, "{kind:?} call {i}: submissions");
            assert!(after.last_call_dispatches > 0, "{kind:?} call {i}: dispatches counted");
        }
        let out = eng.generate(&prompts, &opts).unwrap();
        assert_eq!(out.stats.host_syncs, 1);
        assert!(out.stats.dispatches > 12 * 30, "a whole sequence is one call: {}", out.stats.dispatches);
    }
}

/// A profiled call (`set_profiling`: the CPU reference's wall times, CUDA's events, wgpu's
/// timestamp queries) still makes one submission and one host sync, counts every launch once under
/// its op's name, and computes the same tokens. 80 tokens (sampled from a fixed seed) are over 2,048 dispatches, more
/// than one wgpu query set holds.
#[test]
fn a_profiled_call_counts_every_launch_and_changes_nothing() {
    let mut all = vec![(BackendKind::Cpu, cpu())];
    all.extend(gpu_backends());
    for (kind, be) in all {
        let mut eng = Engine::new(be, tiny(), 1).unwrap();
        let prompts = vec![random_tokens(5, 3, 256)];
        let opts = GenerateOptions { max_new: 80, ..Default::default() };
        let plain = eng.generate(&prompts, &opts).unwrap();
        if !eng.backend_mut().set_profiling(true) {
            eprintln!("note: {kind:?} ({}) cannot profile", eng.backend().info().device);
            continue;
        }
        let timed = eng.generate(&prompts, &opts).unwrap();
        eng.backend_mut().set_profiling(false);
        let stats = eng.backend().stats();
        assert_eq!(timed.tokens, plain.tokens, "{kind:?}: profiling changed the tokens");
        assert_eq!((timed.stats.host_syncs, stats.last_call_syncs), (1, 1), "{kind:?}");
        assert!(stats.last_call_dispatches > 2048, "{kind:?}: {} dispatches", stats.last_call_dispatches);
        let p = eng.backend().last_profile().expect("a profile of the last call");
        assert_eq!(p.iter().map(|k| k.launches as u64).sum::<u64>(), stats.last_call_dispatches, "{kind:?}");
        assert!(["lif_kwta", "logits", "sample"].iter().all(|n| p.iter().any(|k| k.name == *n)), "{kind:?}: {p:?}");
        assert!(p.iter().all(|k| k.ms.is_finite() && k.ms >= 0.0) && p.windows(2).all(|w| w[0].ms >= w[1].ms));
        assert!(p.iter().map(|k| k.ms).sum::<f64>() > 0.0, "{kind:?}: no time measured: {p:?}");
    }
}

/// CPU and GPU agree on every spike of every module for 64 ticks on `tiny`. A mismatch is
/// excepted only where the silent side's neuron sits within 1e-3 of its threshold (below it,
/// or a kWTA-suppressed candidate, whose v is set to θ); the GPU state is then re-synchronised
/// from the CPU so the comparison continues on one trajectory.
#[test]
fn spikes_agree_for_64_ticks_on_tiny() {
    let cfg = tiny();
    let (mut cpu_eng, gpus) = engines(&cfg, 11);
    let batch = 2;
    for (kind, mut gpu_eng) in gpus {
        cpu_eng.reset(batch).unwrap();
        gpu_eng.reset(batch).unwrap();
        let (mut spikes, mut excepted) = (0usize, 0usize);
        for t in 0..64 {
            let toks: Vec<Vec<u32>> = (0..batch).map(|b| random_tokens(100 * t + b as u64, 1, 259)).collect();
            cpu_eng.forward(&toks).unwrap();
            gpu_eng.forward(&toks).unwrap();
            let written = (cpu_eng.ticks() % 2) as usize; // the spike buffer this tick wrote
            let (cs, gs) = (cpu_eng.state().unwrap().clone(), gpu_eng.state().unwrap().clone());
            let mut resync = false;
            for (m, mc) in cfg.modules.iter().enumerate() {
                let n = batch * mc.n;
                let want =
                    unpack_spikes(&cpu_eng.backend_mut().download(cs.modules[m].spk[written]).unwrap(), batch, mc.n);
                let got =
                    unpack_spikes(&gpu_eng.backend_mut().download(gs.modules[m].spk[written]).unwrap(), batch, mc.n);
                spikes += want.iter().sum::<u32>() as usize;
                if want == got {
                    continue;
                }
                let theta_buf = cpu_eng.params().modules[m].theta;
                let theta = as_f32(&cpu_eng.backend_mut().download(theta_buf).unwrap()).to_vec();
                let cv = cpu_eng.backend_mut().download(cs.modules[m].v).unwrap();
                let gv = gpu_eng.backend_mut().download(gs.modules[m].v).unwrap();
                for i in (0..n).filter(|&i| want[i] != got[i]) {
                    let silent_v = if want[i] == 0 { as_f32(&cv)[i] } else { as_f32(&gv)[i] };
                    let th = theta[i % mc.n];
                    assert!(
                        (silent_v - th).abs() < 1e-3,
                        "{kind:?} tick {t} {}: neuron {i} spikes on one side only, {} mV from threshold",
                        mc.id.name(),
                        silent_v - th
                    );
                    excepted += 1;
                }
                resync = true;
            }
            if resync {
                for (src, dst) in state_buffers(&cs).into_iter().zip(state_buffers(&gs)) {
                    let data = cpu_eng.backend_mut().download(src).unwrap();
                    gpu_eng.backend_mut().upload(dst, 0, &data).unwrap();
                }
            }
        }
        assert!(spikes > 1000, "the network must actually spike ({spikes} spikes)");
        assert!(excepted * 1000 <= spikes, "{kind:?}: {excepted} near-threshold exceptions of {spikes} spikes");
        eprintln!("{kind:?}: {spikes} spikes over 64 ticks, {excepted} near-threshold exceptions");
    }
}

#[test]
fn evaluate_loss_agrees_across_backends() {
    let cfg = tiny();
    let (mut cpu_eng, gpus) = engines(&cfg, 3);
    let seqs = vec![random_tokens(1, 40, 259), random_tokens(2, 17, 259), random_tokens(3, 2, 259)];
    let want = cpu_eng.evaluate(&seqs).unwrap();
    assert_eq!(want.positions, 39 + 16 + 1);
    assert!(want.loss.is_finite() && want.loss > 0.0);
    assert!((want.perplexity - want.loss.exp()).abs() < 1e-9);
    for (kind, mut eng) in gpus {
        let got = eng.evaluate(&seqs).unwrap();
        assert_eq!(got.positions, want.positions);
        let rel = (got.loss - want.loss).abs() / want.loss;
        assert!(rel < 1e-3, "{kind:?}: loss {} vs cpu {} (rel {rel})", got.loss, want.loss);
        assert!((got.accuracy - want.accuracy).abs() <= 2.0 / want.positions as f64, "{kind:?}: accuracy");
    }
}

#[test]
fn sampling_is_identical_across_backends() {
    let cfg = tiny();
    let (mut cpu_eng, gpus) = engines(&cfg, 5);
    let prompts = vec![
        neurogen::Tokenizer::bytes().encode("The thalamus").unwrap(),
        neurogen::Tokenizer::bytes().encode("Broca").unwrap(),
    ];
    let rules = [
        SamplingRule { greedy: true, temperature: 1.0, top_k: 0, top_p: 1.0 },
        SamplingRule { greedy: false, temperature: 1.0, top_k: 0, top_p: 1.0 },
        SamplingRule { greedy: false, temperature: 0.7, top_k: 20, top_p: 1.0 },
        SamplingRule { greedy: false, temperature: 1.0, top_k: 0, top_p: 0.9 },
        SamplingRule { greedy: false, temperature: 0.8, top_k: 40, top_p: 0.9 },
    ];
    let mut gpus = gpus;
    for rule in rules {
        let opts = GenerateOptions { max_new: 24, rule, seed: 42 };
        let want = cpu_eng.generate(&prompts, &opts).unwrap().tokens;
        assert!(want.iter().all(|t| !t.is_empty()));
        let again = cpu_eng.generate(&prompts, &opts).unwrap().tokens;
        assert_eq!(want, again, "one seed, one stream");
        for (kind, eng) in gpus.iter_mut() {
            assert_eq!(eng.generate(&prompts, &opts).unwrap().tokens, want, "{kind:?} {rule:?}");
        }
    }
    let a = cpu_eng.generate(&prompts, &GenerateOptions { max_new: 24, rule: rules[1], seed: 1 }).unwrap().tokens;
    let b = cpu_eng.generate(&prompts, &GenerateOptions { max_new: 24, rule: rules[1], seed: 2 }).unwrap().tokens;
    assert_ne!(a, b, "different seeds give different streams");
}

#[test]
fn eos_ends_a_sequence() {
    let cfg = tiny();
    let mut params = HostParams::init(&cfg, 9);
    params.dec_b[cfg.eos as usize] = 1e4; // EOS always wins
    let mut all = vec![(BackendKind::Cpu, cpu())];
    all.extend(gpu_backends());
    for (kind, be) in all {
        let mut eng = Engine::with_params(be, cfg.clone(), &params).unwrap();
        let out =
            eng.generate(&[vec![1, 2, 3], vec![4]], &GenerateOptions { max_new: 10, ..Default::default() }).unwrap();
        assert_eq!(out.tokens, vec![vec![cfg.eos], vec![cfg.eos]], "{kind:?}");
    }
}

/// On random tokens every module's spike rate stays within 1%–40% (docs/model.md §10).
fn check_rates(eng: &mut Engine, what: &str) {
    let batch = 2;
    let seqs: Vec<Vec<u32>> = (0..batch).map(|b| random_tokens(7 + b as u64, 64, 256)).collect();
    eng.reset(batch).unwrap();
    eng.forward(&seqs.iter().map(|s| s[..16].to_vec()).collect::<Vec<_>>()).unwrap(); // leave rest
    let stats = eng.forward(&seqs.iter().map(|s| s[16..].to_vec()).collect::<Vec<_>>()).unwrap();
    for (m, r) in ModuleId::ALL.iter().zip(stats.spike_rates) {
        assert!((0.01..=0.40).contains(&r), "{what}: {} spike rate {:.2}% outside 1%-40%", m.name(), r * 100.0);
    }
    eprintln!("{what}: rates {:?}", stats.spike_rates.map(|r| (r * 1000.0).round() / 10.0));
}

#[test]
fn spike_rates_stay_in_range_on_tiny_and_small() {
    for preset in [Preset::Tiny, Preset::Small] {
        let mut eng = Engine::new(cpu(), ModelConfig::preset(preset), 2).unwrap();
        check_rates(&mut eng, &format!("cpu {preset:?}"));
    }
    for (kind, be) in gpu_backends() {
        let mut eng = Engine::new(be, tiny(), 2).unwrap();
        check_rates(&mut eng, &format!("{kind:?} Tiny"));
    }
}

#[test]
fn ticks_per_token_repeats_the_step() {
    let mut cfg = tiny();
    cfg.ticks_per_token = 3;
    let (mut cpu_eng, gpus) = engines(&cfg, 4);
    cpu_eng.reset(1).unwrap();
    cpu_eng.forward(&[random_tokens(1, 5, 259)]).unwrap();
    assert_eq!(cpu_eng.ticks(), 15);
    let seqs = vec![random_tokens(2, 12, 259)];
    let want = cpu_eng.evaluate(&seqs).unwrap();
    assert_eq!(want.stats.ticks, 33, "11 predicted positions × 3 ticks");
    for (kind, mut eng) in gpus {
        let got = eng.evaluate(&seqs).unwrap();
        assert!((got.loss - want.loss).abs() / want.loss < 1e-3, "{kind:?}");
    }
}

// ---- bad input ---------------------------------------------------------------------------------

fn assert_invalid<T: std::fmt::Debug>(r: Result<T, NeuroError>, what: &str) {
    match r {
        Err(NeuroError::InvalidInput(msg)) => assert!(!msg.is_empty()),
        other => panic!("{what}: expected an invalid-input error, got {other:?}"),
    }
}

#[test]
fn bad_input_is_refused_before_any_work() {
    let cfg = tiny();
    let mut all = vec![(BackendKind::Cpu, cpu())];
    all.extend(gpu_backends());
    for (kind, be) in all {
        let mut eng = Engine::new(be, cfg.clone(), 1).unwrap();
        let good = vec![vec![256, 72, 105]];
        let opts = GenerateOptions { max_new: 8, ..Default::default() };
        let reference = eng.generate(&good, &opts).unwrap().tokens;
        let before = eng.backend().stats();
        assert_invalid(eng.generate(&[vec![1, 259]], &opts), "token id = V");
        assert_invalid(eng.generate(&[vec![u32::MAX]], &opts), "token id u32::MAX");
        assert_invalid(eng.generate(&[vec![]], &opts), "empty prompt");
        assert_invalid(eng.generate(&[], &opts), "zero sequences");
        let bad_t = GenerateOptions { rule: SamplingRule { temperature: 0.0, ..opts.rule }, ..opts };
        assert_invalid(eng.generate(&good, &bad_t), "temperature 0");
        let bad_p = GenerateOptions { rule: SamplingRule { top_p: 1.5, ..opts.rule }, ..opts };
        assert_invalid(eng.generate(&good, &bad_p), "top-p 1.5");
        assert_invalid(eng.evaluate(&[vec![5]]), "one-token evaluation");
        assert_invalid(eng.evaluate(&[vec![5, 300]]), "evaluate id >= V");
        assert_eq!(eng.backend().stats(), before, "{kind:?}: nothing was queued or synchronised");
        // Nothing was lost: the engine still gives the same answer.
        assert_eq!(eng.generate(&good, &opts).unwrap().tokens, reference, "{kind:?}");
    }
}

/// A backend that reports small limits, to test the fit check without a small device.
struct Small(Box<dyn Backend>);

impl Backend for Small {
    fn info(&self) -> neurogen::backend::DeviceInfo {
        let mut i = self.0.info();
        i.max_buffer_bytes = 4 << 20; // tiny's decoder (2.5 MB) fits, small's (37 MB) does not
        i.max_binding_bytes = 4 << 20;
        i.memory_bytes = Some(64 << 20);
        i.host_memory = false; // a small device, not the host
        i
    }
    fn alloc(&mut self, words: usize) -> neurogen::Result<Buf> {
        self.0.alloc(words)
    }
    fn free(&mut self, buf: Buf) {
        self.0.free(buf)
    }
    fn len(&self, buf: Buf) -> usize {
        self.0.len(buf)
    }
    fn peak_bytes(&self) -> u64 {
        self.0.peak_bytes()
    }
    fn upload(&mut self, buf: Buf, offset: usize, data: &[u32]) -> neurogen::Result<()> {
        self.0.upload(buf, offset, data)
    }
    fn begin(&mut self) -> neurogen::Result<()> {
        self.0.begin()
    }
    fn enqueue(&mut self, op: neurogen::backend::Op) -> neurogen::Result<()> {
        self.0.enqueue(op)
    }
    fn submit(&mut self, reads: &[Buf]) -> neurogen::Result<Vec<Vec<u32>>> {
        self.0.submit(reads)
    }
    fn download(&mut self, buf: Buf) -> neurogen::Result<Vec<u32>> {
        self.0.download(buf)
    }
    fn stats(&self) -> neurogen::BackendStats {
        self.0.stats()
    }
    fn launch_shapes(&self) -> neurogen::backend::LaunchShapes {
        self.0.launch_shapes()
    }
}

#[test]
fn a_model_that_does_not_fit_gets_a_clear_error() {
    let err = Engine::new(Box::new(Small(cpu())), ModelConfig::preset(Preset::Small), 0).err().expect("must not fit");
    let msg = err.to_string();
    assert!(matches!(err, NeuroError::DoesNotFit(_)), "{msg}");
    assert!(msg.contains("small") && msg.contains("GiB"), "the message names the preset and sizes: {msg}");
    // Tiny fits, but not a batch whose state exceeds the device's memory.
    let mut eng = Engine::new(Box::new(Small(cpu())), tiny(), 0).unwrap();
    let many = vec![vec![1, 2]; 5000];
    let err = eng.evaluate(&many).unwrap_err();
    assert!(matches!(err, NeuroError::DoesNotFit(_)), "{err}");
    assert!(err.to_string().contains("would fit"), "{err}");
    // On a real adapter, a vocabulary whose decoder exceeds the buffer limit is refused.
    for (kind, be) in gpu_backends() {
        let mut cfg = tiny();
        let limit = be.info().max_buffer_bytes.min(be.info().max_binding_bytes);
        cfg.vocab = ((limit / 4 / cfg.decoder_width() as u64) + 1).min(1 << 24) as usize;
        if (cfg.vocab * cfg.decoder_width() * 4) as u64 <= limit {
            continue;
        }
        let err = Engine::new(be, cfg, 0).err().expect("must not fit");
        assert!(matches!(err, NeuroError::DoesNotFit(_)), "{kind:?}: {err}");
    }
}

/// Every bf16 copy holds exactly its f32 tensor rounded (ops.rs `Elem::Weights`).
fn assert_copies_follow(eng: &mut Engine, what: &str) {
    let copies = eng.params().bf16_copies.clone();
    assert!(!copies.is_empty(), "{what}: a bf16 model has copies");
    for (master, copy) in copies {
        let values = eng.backend_mut().download(master).unwrap();
        let want = neurogen::backend::to_bf16_words(bytemuck::cast_slice(&values));
        assert!(eng.backend_mut().download(copy).unwrap() == want, "{what}: copy of {master:?} is stale");
    }
}

#[test]
fn bf16_forward_reads_rounded_copies_that_follow_every_change() {
    let f32_cfg = tiny();
    let cfg = ModelConfig { precision: neurogen::Precision::Bf16, ..tiny() };
    let mut params = HostParams::init(&cfg, 9);
    // The default decoder starts at zero (logits = bias alone); a random one reads the network.
    let mut r = ChaCha8Rng::seed_from_u64(4);
    params.dec_w.iter_mut().for_each(|w| *w = r.random_range(-0.3..0.3));
    let seqs = vec![random_tokens(1, 33, 259), random_tokens(2, 20, 259)];
    let mut f32_eng = Engine::with_params(cpu(), f32_cfg, &params).unwrap();
    let reference = f32_eng.evaluate(&seqs).unwrap().loss;
    let cpu_eng = Engine::with_params(cpu(), cfg.clone(), &params).unwrap();
    let gpus: Vec<(BackendKind, Engine)> =
        gpu_backends().into_iter().map(|(k, be)| (k, Engine::with_params(be, cfg.clone(), &params).unwrap())).collect();
    let mut cpu_eng = cpu_eng;
    let want = cpu_eng.evaluate(&seqs).unwrap().loss;
    // The copies are what the forward reads (the loss moves), and bf16 is close to f32.
    assert!(want != reference && ((want - reference) / reference).abs() < 0.02, "bf16 {want} vs f32 {reference}");
    let mut all = vec![(BackendKind::Cpu, cpu_eng)];
    all.extend(gpus);
    for (kind, mut eng) in all {
        let got = eng.evaluate(&seqs).unwrap().loss;
        assert!(((got - want) / want).abs() < 1e-3, "{kind:?}: bf16 loss {got} vs cpu {want}");
        assert_copies_follow(&mut eng, &format!("{kind:?} fresh"));
        for step in 0..2 {
            let before = eng.backend().stats().host_syncs;
            eng.train_step(&seqs).unwrap();
            assert_eq!(eng.backend().stats().host_syncs - before, 1, "{kind:?}: one host sync per bf16 train step");
            assert_copies_follow(&mut eng, &format!("{kind:?} after train step {step}"));
        }
        eng.sleep(3).unwrap();
        assert_copies_follow(&mut eng, &format!("{kind:?} after sleep"));
        // The parameters themselves stay f32: a snapshot round trip gives the same model.
        let snap = eng.snapshot().unwrap();
        let loss = eng.evaluate(&seqs).unwrap().loss;
        let mut again = Engine::from_snapshot(cpu(), cfg.clone(), &snap).unwrap();
        let back = again.evaluate(&seqs).unwrap().loss;
        assert!(((back - loss) / loss).abs() < 1e-3, "{kind:?}: restored {back} vs {loss}");
    }
}

/// A delayed readout feature (`Signal::ReadoutBefore(k)`) holds, at position t, the readout block
/// of position t − k (zeros before the start), on every backend; training with it is one sync.
#[test]
fn delayed_readouts_are_the_readouts_of_earlier_positions() {
    use neurogen::config::{Feature, Signal};
    let mut cfg = tiny();
    let thal = |signal| Feature { module: ModuleId::Thalamus, signal };
    cfg.decoder_features = vec![thal(Signal::Readout), thal(Signal::ReadoutBefore(1)), thal(Signal::ReadoutBefore(2))];
    let o = cfg.module(ModuleId::Thalamus).outputs;
    assert_eq!(cfg.decoder_width(), 3 * o);
    let seq = random_tokens(8, 7, 259);
    let mut all = vec![(BackendKind::Cpu, cpu())];
    all.extend(gpu_backends());
    let mut reference: Option<Vec<Vec<f32>>> = None;
    for (kind, be) in all {
        let mut eng = Engine::new(be, cfg.clone(), 4).unwrap();
        // Features of position t: the last ones an evaluation of the first t + 2 tokens gathers.
        let features: Vec<Vec<f32>> = (0..seq.len() - 1)
            .map(|t| {
                eng.evaluate(&[seq[..t + 2].to_vec()]).unwrap();
                let buf = eng.state().unwrap().features;
                bytemuck::cast_slice(&eng.backend_mut().download(buf).unwrap()).to_vec()
            })
            .collect();
        for (t, f) in features.iter().enumerate() {
            for k in 1..=2 {
                let block = &f[k * o..(k + 1) * o];
                if t < k {
                    assert!(block.iter().all(|&x| x == 0.0), "{kind:?} t={t} k={k}: zeros before the start");
                } else {
                    assert_eq!(block, &features[t - k][..o], "{kind:?} t={t} k={k}: the readout {k} positions before");
                }
            }
        }
        match &reference {
            None => reference = Some(features),
            Some(want) => {
                for (t, (g, w)) in features.iter().zip(want).enumerate() {
                    assert_close(&format!("{kind:?} features at {t}"), g, w, 1e-4, 1e-3);
                }
            }
        }
        let before = eng.backend().stats().host_syncs;
        eng.train_step(std::slice::from_ref(&seq)).unwrap(); // the batch size of the calls above
        assert_eq!(eng.backend().stats().host_syncs - before, 1, "{kind:?}: one sync per step");
    }
}
