//! What `neurogen bench` and `neurogen info` measure and report: generation and training
//! throughput (the share of each training phase), the device's copy bandwidth and the bytes a tick
//! must move (ARCHITECTURE's performance model), so throughput can be stated as a fraction of
//! what the memory system allows; and the size and fit of a model on a device. Each returns one
//! row whose JSON form is the command's `--json` output.

use std::time::Instant;

use serde::Serialize;

use crate::backend::{Backend, KernelTime, Op};
use crate::config::{ModelConfig, Precision, NUM_MODULES};
use crate::error::{NeuroError, Result};
use crate::orchestrator::{check_fits, Engine, GenerateOptions, TrainOutput, TrainPhase};
use crate::sampling::SamplingRule;

/// Achieved bandwidth of the `copy` op (bytes read + written per second) on up to 1 GiB,
/// best of five one-submission calls after a warm-up.
pub fn copy_bandwidth(be: &mut dyn Backend) -> Result<f64> {
    let info = be.info();
    let bytes = (1u64 << 30).min(info.max_binding_bytes).min(info.max_buffer_bytes) & !3;
    let words = (bytes / 4) as usize;
    let (src, dst) = (be.alloc(words)?, be.alloc(words)?);
    be.begin()?;
    be.enqueue(Op::fill(src, words, 0x3f80_0000))?;
    be.enqueue(Op::copy(src, dst, words))?;
    be.submit(&[])?;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        be.begin()?;
        be.enqueue(Op::copy(src, dst, words))?;
        be.submit(&[])?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    be.free(src);
    be.free(dst);
    Ok(2.0 * words as f64 * 4.0 / best)
}

/// Bytes one cognitive step must move for `batch` sequences: the recurrent and projection
/// weights (at the forward's precision) with their indices and thresholds (once, shared by the
/// batch), each sequence's neuron state (read and written), and, when decoding, the decoder.
pub fn bytes_per_tick(cfg: &ModelConfig, batch: usize, decode: bool) -> u64 {
    let synapse = 4 + cfg.precision.weight_bytes();
    let weights: usize = cfg.modules.iter().map(|m| m.n * m.fanout * synapse + m.n * 4).sum::<usize>()
        + cfg
            .connections
            .iter()
            .map(|c| cfg.module(c.target).inputs * cfg.init.projection_fanout * synapse)
            .sum::<usize>();
    // v, a, e read and written, the spike read and written, the readout written.
    let state: usize = cfg.modules.iter().map(|m| m.n * 4 * 8 + m.outputs * 4).sum();
    let decoder = if decode { cfg.vocab * (cfg.decoder_width() * cfg.precision.weight_bytes() + 4) } else { 0 };
    (weights + decoder + batch * state) as u64
}

/// The least a training step of `batch` sequences of `tokens` tokens must move: the forward's
/// ticks ([`bytes_per_tick`] without decoding), the decoder read once for the logits (at the
/// forward's precision), read and written in f32 by its update, and at bf16 read again for its copy.
pub fn train_bytes(cfg: &ModelConfig, batch: usize, tokens: usize) -> u64 {
    let ticks = (tokens * cfg.ticks_per_token) as u64;
    let (weights, w) = ((cfg.vocab * cfg.decoder_width()) as u64, cfg.precision.weight_bytes() as u64);
    let bias = (cfg.vocab * 4) as u64;
    let repack = if cfg.precision == Precision::Bf16 { weights * (4 + w) } else { 0 };
    bytes_per_tick(cfg, batch, false) * ticks + weights * (w + 8) + 3 * bias + repack
}

/// One row of `neurogen bench`: generation throughput.
#[derive(Clone, Debug, Serialize)]
pub struct GenerateBench {
    pub backend: &'static str,
    pub device: String,
    pub preset: String,
    pub vocab: usize,
    /// How the forward stored its weights.
    pub precision: Precision,
    pub batch: usize,
    /// New tokens per sequence.
    pub tokens: usize,
    /// Best wall time of one call.
    pub seconds: f64,
    /// `batch × tokens / seconds`.
    pub tokens_per_s: f64,
    pub host_syncs_per_call: u64,
    pub dispatches_per_call: u64,
    pub ticks_per_call: u64,
    pub spike_rates: [f64; NUM_MODULES],
    /// The bytes a call must move ([`bytes_per_tick`] with decoding × its ticks) over `seconds`, in GB/s.
    pub model_gbytes_per_s: f64,
    /// The device's [`copy_bandwidth`] in GB/s, where measured.
    pub copy_gbytes_per_s: Option<f64>,
    /// `model_gbytes_per_s / copy_gbytes_per_s`: how close the call comes to the memory system's limit.
    pub bandwidth_fraction: Option<f64>,
    /// The most bytes of buffers the backend held (weights, state and scratch; [`Backend::peak_bytes`]).
    pub peak_bytes: u64,
    /// With `profile`: per-kernel totals of one more call, timed launch by launch.
    pub profile: Option<Vec<KernelTime>>,
}

/// Runs `call` once with the backend timing every launch, and returns the per-kernel totals (none
/// where the backend cannot time launches). Launches run one by one then (no CUDA graph), so the
/// totals are for finding where a call's time goes, not for its throughput.
fn profiled(eng: &mut Engine, call: impl FnOnce(&mut Engine) -> Result<()>) -> Result<Option<Vec<KernelTime>>> {
    if !eng.backend_mut().set_profiling(true) {
        return Ok(None);
    }
    let ran = call(eng);
    eng.backend_mut().set_profiling(false);
    ran?;
    Ok(eng.backend().last_profile())
}

/// Throughput of one-submission generation: `batch` sequences of `tokens` new tokens each from
/// BOS (temperature 1, no top-k/top-p), one warm-up call (pipelines, buffers, caches), then the
/// best of `repeat` (at least one) timed calls. With `measure_copy` the device's copy bandwidth is
/// measured after, and the model's traffic stated as a fraction of it (not meaningful on the CPU
/// reference); with `profile`, one more call is timed kernel by kernel ([`profiled`]).
pub fn generate_throughput(
    eng: &mut Engine,
    batch: usize,
    tokens: usize,
    repeat: usize,
    seed: u64,
    measure_copy: bool,
    profile: bool,
) -> Result<GenerateBench> {
    if batch == 0 || tokens == 0 {
        return Err(NeuroError::InvalidInput(
            "a generation benchmark needs at least one sequence and one token".into(),
        ));
    }
    let prompts = vec![vec![eng.config().bos]; batch];
    let opts = GenerateOptions {
        max_new: tokens,
        rule: SamplingRule { greedy: false, temperature: 1.0, top_k: 0, top_p: 1.0 },
        seed,
    };
    eng.generate(&prompts, &opts)?; // warm-up: pipelines, buffers, caches
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let out = eng.generate(&prompts, &opts)?;
        best = best.min(out.stats.seconds);
        last = Some(out.stats);
    }
    let s = last.expect("at least one run");
    let dev = eng.backend().info();
    let bytes = bytes_per_tick(eng.config(), batch, true) as f64 * s.ticks as f64;
    let gbps = bytes / best / 1e9;
    let peak_bytes = eng.backend().peak_bytes();
    let copy = if measure_copy { Some(copy_bandwidth(eng.backend_mut())? / 1e9) } else { None };
    let profile = if profile { profiled(eng, |e| e.generate(&prompts, &opts).map(drop))? } else { None };
    Ok(GenerateBench {
        backend: dev.backend,
        device: dev.device,
        preset: eng.config().preset.clone(),
        precision: eng.config().precision,
        vocab: eng.config().vocab,
        batch,
        tokens,
        seconds: best,
        tokens_per_s: (batch * tokens) as f64 / best,
        host_syncs_per_call: s.host_syncs,
        dispatches_per_call: s.dispatches,
        ticks_per_call: s.ticks,
        spike_rates: s.spike_rates,
        model_gbytes_per_s: gbps,
        copy_gbytes_per_s: copy,
        bandwidth_fraction: copy.map(|c| gbps / c),
        peak_bytes,
        profile,
    })
}

/// One row of `neurogen bench --train`: training throughput and where a step's time goes.
#[derive(Clone, Debug, Serialize)]
pub struct TrainBench {
    pub backend: &'static str,
    pub device: String,
    pub preset: String,
    pub vocab: usize,
    /// How the forward stored its weights.
    pub precision: Precision,
    pub batch: usize,
    /// Tokens per training sequence.
    pub tokens: usize,
    /// Best wall time of one whole step.
    pub seconds: f64,
    /// Predicted positions (`batch × (tokens − 1)`) per second.
    pub tokens_per_s: f64,
    pub host_syncs_per_call: u64,
    pub dispatches_per_call: u64,
    /// Share of the step in the forward pass, …
    pub share_forward: f64,
    /// … in the batched decode, loss, rewards and decoder gradient, …
    pub share_decode: f64,
    /// … and in the rest: plasticity and the updates applied (each share clamped to [0, 1]).
    pub share_plasticity: f64,
    /// The bytes the step's training moves at least ([`bytes_per_tick`] without decoding × ticks,
    /// plus the decoder read for the logits and written by its update) over `seconds`, in GB/s.
    pub model_gbytes_per_s: f64,
    /// The device's [`copy_bandwidth`] in GB/s, where measured, and `model_gbytes_per_s` over it.
    pub copy_gbytes_per_s: Option<f64>,
    pub bandwidth_fraction: Option<f64>,
    /// The most bytes of buffers the backend held (weights, state and scratch; [`Backend::peak_bytes`]).
    pub peak_bytes: u64,
    /// With `profile`: per-kernel totals of one more whole step, timed launch by launch.
    pub profile: Option<Vec<KernelTime>>,
}

/// Throughput of `train_step` on `batch` fixed sequences of `tokens` tokens, with the share of
/// forward, decode and plasticity measured by recording the step up to each phase
/// ([`Engine::train_step_until`]): per phase one warm-up call, then the best of `repeat` (at least
/// one) timed calls; with `profile`, one more whole step is timed kernel by kernel ([`profiled`]).
pub fn train_throughput(
    eng: &mut Engine,
    batch: usize,
    tokens: usize,
    repeat: usize,
    measure_copy: bool,
    profile: bool,
) -> Result<TrainBench> {
    if batch == 0 || tokens < 2 {
        return Err(NeuroError::InvalidInput(
            "a training benchmark needs at least one sequence of at least two tokens".into(),
        ));
    }
    let v = eng.config().vocab as u32;
    let seqs: Vec<Vec<u32>> =
        (0..batch).map(|b| (0..tokens).map(|t| ((t * 31 + b * 7) as u32) % v.min(256)).collect()).collect();
    let mut time = |phase| -> Result<(f64, TrainOutput)> {
        eng.train_step_until(&seqs, phase)?;
        let mut best = f64::INFINITY;
        let mut last = None;
        for _ in 0..repeat.max(1) {
            let out = eng.train_step_until(&seqs, phase)?;
            best = best.min(out.stats.seconds);
            last = Some(out);
        }
        Ok((best, last.expect("ran")))
    };
    let (t_fwd, _) = time(TrainPhase::Forward)?;
    let (t_dec, _) = time(TrainPhase::Decode)?;
    let (t_all, out) = time(TrainPhase::All)?;
    let dev = eng.backend().info();
    let n = (batch * (tokens - 1)) as f64;
    let peak_bytes = eng.backend().peak_bytes();
    let gbps = train_bytes(eng.config(), batch, tokens) as f64 / t_all / 1e9;
    let copy = if measure_copy { Some(copy_bandwidth(eng.backend_mut())? / 1e9) } else { None };
    let share = |x: f64| (x / t_all).clamp(0.0, 1.0);
    let profile = if profile { profiled(eng, |e| e.train_step(&seqs).map(drop))? } else { None };
    Ok(TrainBench {
        backend: dev.backend,
        device: dev.device,
        preset: eng.config().preset.clone(),
        precision: eng.config().precision,
        vocab: eng.config().vocab,
        batch,
        tokens,
        seconds: t_all,
        tokens_per_s: n / t_all,
        host_syncs_per_call: out.stats.host_syncs,
        dispatches_per_call: out.stats.dispatches,
        share_forward: share(t_fwd),
        share_decode: share(t_dec - t_fwd),
        share_plasticity: share(t_all - t_dec),
        model_gbytes_per_s: gbps,
        copy_gbytes_per_s: copy,
        bandwidth_fraction: copy.map(|c| gbps / c),
        peak_bytes,
        profile,
    })
}

/// What `neurogen info` reports: the device, its limits, the model's size and whether it fits.
#[derive(Clone, Debug, Serialize)]
pub struct ModelInfo {
    pub backend: &'static str,
    pub device: String,
    pub max_buffer_bytes: u64,
    pub max_binding_bytes: u64,
    pub memory_bytes: Option<u64>,
    pub preset: String,
    pub vocab: usize,
    /// How the forward stored its weights.
    pub precision: Precision,
    pub embed: usize,
    pub neurons: usize,
    pub synapses: usize,
    /// [`ModelConfig::parameter_words`].
    pub parameters: usize,
    pub memory_estimate_bytes_b1: u64,
    /// Host memory needed at batch 1 (the parameters' host copy, plus the buffers on the CPU backend).
    pub host_estimate_bytes_b1: u64,
    /// Device bytes each further sequence of a batch adds.
    pub state_bytes_per_sequence: usize,
    /// Whether one sequence fits the device's buffer, binding and memory limits …
    pub fits: bool,
    /// … and, if not, why.
    pub fit_error: Option<String>,
}

/// The size of the model `cfg` and whether it fits `be` at batch 1.
pub fn model_info(be: &dyn Backend, cfg: &ModelConfig) -> ModelInfo {
    let fits = check_fits(be, cfg, 1);
    let dev = be.info();
    ModelInfo {
        backend: dev.backend,
        device: dev.device.clone(),
        max_buffer_bytes: dev.max_buffer_bytes,
        max_binding_bytes: dev.max_binding_bytes,
        memory_bytes: dev.memory_bytes,
        preset: cfg.preset.clone(),
        precision: cfg.precision,
        vocab: cfg.vocab,
        embed: cfg.embed,
        neurons: cfg.neurons(),
        synapses: cfg.synapses(),
        parameters: cfg.parameter_words(),
        memory_estimate_bytes_b1: cfg.memory_bytes(1),
        host_estimate_bytes_b1: crate::orchestrator::host_bytes(&dev, cfg, 1),
        state_bytes_per_sequence: 4 * cfg.state_words_per_sequence(),
        fits: fits.is_ok(),
        fit_error: fits.err().map(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::CpuBackend;
    use crate::config::Preset;

    #[test]
    fn rows_on_the_cpu_reference() {
        let mut eng = Engine::new(Box::new(CpuBackend::new()), ModelConfig::preset(Preset::Tiny), 1).unwrap();
        let g = generate_throughput(&mut eng, 2, 3, 1, 0, false, false).unwrap();
        assert_eq!((g.batch, g.tokens, g.host_syncs_per_call), (2, 3, 1));
        assert!(g.tokens_per_s > 0.0 && g.model_gbytes_per_s > 0.0);
        assert!(g.copy_gbytes_per_s.is_none() && g.bandwidth_fraction.is_none());
        let t = train_throughput(&mut eng, 2, 5, 1, false, true).unwrap();
        let shares = [t.share_forward, t.share_decode, t.share_plasticity];
        assert!(t.tokens_per_s > 0.0 && shares.iter().all(|s| (0.0..=1.0).contains(s)), "{t:?}");
        // The profiled step: every launch counted once, under its op's name, longest first.
        assert!(g.profile.is_none());
        let p = t.profile.as_ref().expect("the CPU reference times its ops");
        assert_eq!(p.iter().map(|k| k.launches as u64).sum::<u64>(), t.dispatches_per_call);
        assert!(["lif_kwta", "logits", "decoder_grad"].iter().all(|n| p.iter().any(|k| k.name == *n)), "{p:?}");
        assert!(p.windows(2).all(|w| w[0].ms >= w[1].ms) && p.iter().all(|k| k.ms >= 0.0));
        assert!(generate_throughput(&mut eng, 0, 3, 1, 0, false, false).is_err());
        assert!(train_throughput(&mut eng, 2, 1, 1, false, false).is_err());
        let i = model_info(eng.backend(), eng.config());
        assert!(i.fits && i.fit_error.is_none() && i.parameters == eng.config().parameter_words());
    }
}
