//! Model configuration: presets (docs/model.md §1), module and connection constants (§8.2–8.3),
//! LIF and initialisation constants. Everything tunable lives here, in one place.

use serde::{Deserialize, Serialize};

use crate::error::{NeuroError, Result};

/// Neurons per kWTA column (docs/model.md §3.4). Also the workgroup / block size of every kernel.
pub const COLUMN: usize = 256;
/// Number of spiking modules.
pub const NUM_MODULES: usize = 6;

/// The six modules, in update order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ModuleId {
    Thalamus = 0,
    Wernicke = 1,
    Hippocampus = 2,
    Pfc = 3,
    BasalGanglia = 4,
    Broca = 5,
}

impl ModuleId {
    pub const ALL: [ModuleId; NUM_MODULES] = [
        ModuleId::Thalamus,
        ModuleId::Wernicke,
        ModuleId::Hippocampus,
        ModuleId::Pfc,
        ModuleId::BasalGanglia,
        ModuleId::Broca,
    ];
    pub fn name(self) -> &'static str {
        ["Thalamus", "Wernicke", "Hippocampus", "PFC", "BasalGanglia", "Broca"][self as usize]
    }
}

/// Where a connection reads its activity from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// A module's readout `y` (this tick's if already updated, else last tick's).
    Module(ModuleId),
    /// `pfc_hidden[O_PFC]`, updated at the end of each tick.
    PfcHidden,
    /// `wm_context[O_Thalamus]`, updated at the end of each tick.
    Context,
}

/// The neuron model a module's tick runs. Each variant is one op over the module's state (v, a, e,
/// spike bits, readout, spike counts), recorded by `Engine::neuron_step`; a new variant is a new
/// op and one match arm there (CONTRIBUTING.md, "Adding a neuron model").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NeuronModel {
    /// Leaky integrate-and-fire with spike-triggered adaptation and exact kWTA per column
    /// (`lif_kwta`, constants in [`LifConfig`]).
    #[default]
    LifAdaptive,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModuleConfig {
    pub id: ModuleId,
    /// The neuron model of the module (checkpoints without this field load as `LifAdaptive`).
    #[serde(default)]
    pub neuron: NeuronModel,
    /// Neurons (multiple of [`COLUMN`]).
    pub n: usize,
    /// Input neurons `0..inputs` receive the module's input current.
    pub inputs: usize,
    /// Output neurons `0..outputs` form the readout `y`.
    pub outputs: usize,
    /// Recurrent fanout: presynaptic partners per neuron.
    pub fanout: usize,
    /// kWTA winners per column.
    pub k: usize,
    pub excitability: f32,
    pub s_da: f32,
    pub s_5ht: f32,
    pub inhibition: f32,
    /// Thalamic attention threshold τ_att (used by the Thalamus gate).
    pub tau_att: f32,
    /// Three-factor plasticity rate η_m (docs/model.md §6, step 5).
    pub plasticity_rate: f32,
    /// The module's own membrane leak α and trace decay λ, where they differ from [`LifConfig`]
    /// (docs/model.md §8.2; checkpoints without these fields use the shared values).
    #[serde(default)]
    pub alpha: Option<f32>,
    #[serde(default)]
    pub trace_lambda: Option<f32>,
    /// The module's recurrent strength R where it differs from [`InitConfig::recurrent_strength`]
    /// (docs/model.md §8.2: modules with few input neurons need more to ignite their recurrence).
    #[serde(default)]
    pub recurrent_strength: Option<f32>,
}

impl ModuleConfig {
    /// The membrane leak α of this module.
    pub fn alpha(&self, lif: &LifConfig) -> f32 {
        self.alpha.unwrap_or(lif.alpha)
    }
    /// The trace decay λ of this module.
    pub fn trace_lambda(&self, lif: &LifConfig) -> f32 {
        self.trace_lambda.unwrap_or(lif.trace_lambda)
    }
    /// The recurrent strength R of this module.
    pub fn recurrent_strength(&self, init: &InitConfig) -> f32 {
        self.recurrent_strength.unwrap_or(init.recurrent_strength)
    }
}

/// A signal of one module that the decoder reads (docs/model.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Signal {
    /// The readout `y` of the output neurons (`O` values).
    Readout,
    /// The spike trace `e` of every neuron (`N` values), scaled by `1 − λ` into [0, 1].
    Trace,
    /// The readout as it was `k` positions before (1 ≤ k ≤ [`MAX_READOUT_DELAY`]; 0 before the
    /// sequence's start): a delay line, so the decoder sees the last bytes side by side.
    ReadoutBefore(u32),
}

/// The longest delay line a readout feature may have.
pub const MAX_READOUT_DELAY: u32 = 8;

/// One block of the decoder's input: a module's signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feature {
    pub module: ModuleId,
    pub signal: Signal,
}

/// The decoder's default input (docs/model.md §4, measured in §12): the current byte as the
/// Thalamus and Wernicke read it out, and the recent past as Wernicke's fast and PFC's slow
/// spike traces of every neuron. At `seed` the traces of 307 200 neurons each would make a
/// decoder of 20 G weights at V = 32 000, so it reads the readouts of four modules instead.
fn default_features(p: Preset) -> Vec<Feature> {
    use ModuleId::*;
    use Signal::*;
    let blocks = match p {
        Preset::Tiny | Preset::Small => [(Thalamus, Readout), (Wernicke, Readout), (Wernicke, Trace), (Pfc, Trace)],
        Preset::Seed => [(Thalamus, Readout), (Wernicke, Readout), (Pfc, Readout), (Broca, Readout)],
    };
    blocks.map(|(module, signal)| Feature { module, signal }).to_vec()
}

/// Per-module trace decay λ where it is not `LifConfig::trace_lambda` (docs/model.md §8.2): a fast
/// trace in Wernicke and a slow one in PFC give the decoder two time scales of the past.
const MODULE_TRACE_LAMBDA: [Option<f32>; NUM_MODULES] = [None, Some(0.7), None, Some(0.97), None, None];

/// What the decoder read before features were configurable: Broca's readout.
fn broca_readout() -> Vec<Feature> {
    vec![Feature { module: ModuleId::Broca, signal: Signal::Readout }]
}

/// Which rules change the spiking network in `train_step` (docs/model.md §6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// Only the decoder learns; the spiking network keeps its initial weights.
    DecoderOnly,
    /// The decoder, plus reward-modulated three-factor plasticity, homeostasis and Hebbian
    /// connection gains (the original model's rules).
    #[default]
    Reward,
    /// The decoder, plus e-prop: every module whose spike trace the decoder reads learns its
    /// recurrent weights and the projections into it from a per-neuron learning signal (the
    /// output error through the decoder's weights) times forward eligibility traces.
    Eprop,
}

/// How the decoder's gradient becomes a step (docs/model.md §6, step 4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Optimizer {
    /// Plain SGD on the clipped gradient (the original model's rule).
    #[default]
    Sgd,
    /// Adam with decoupled weight decay on the clipped gradient.
    Adam,
}

/// The decoder's learning rate over steps `t = 1, 2, …`: a linear warm-up over
/// `decoder_warmup` steps, then this shape from step `decoder_decay_start` on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    #[default]
    Constant,
    /// `rate · √(decoder_decay_start / t)` once `t > decoder_decay_start`.
    InverseSqrt,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectionConfig {
    pub source: Source,
    pub target: ModuleId,
    pub gain: f32,
    pub inhibitory: bool,
    pub gate_threshold: f32,
    pub hebbian_rate: f32,
}

/// LIF-A neuron constants (docs/model.md §3.4, defaults §8.4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LifConfig {
    pub alpha: f32,
    pub beta: f32,
    pub delta_a: f32,
    pub v_rest: f32,
    pub v_reset: f32,
    pub v_min: f32,
    pub trace_lambda: f32,
    pub theta0: f32,
}

impl Default for LifConfig {
    fn default() -> Self {
        LifConfig {
            alpha: 0.95,
            beta: 0.90,
            delta_a: 0.5,
            v_rest: -65.0,
            v_reset: -65.0,
            v_min: -90.0,
            trace_lambda: 0.9,
            theta0: -55.0,
        }
    }
}

/// Initialisation constants (docs/model.md §2; defaults and their reasons in §8.5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InitConfig {
    /// Embedding rows have L2 norm `input_gain_per_sqrt_e · √E`.
    pub input_gain_per_sqrt_e: f32,
    /// Recurrent weights ~ N(R/F, (spread·R/F)²), clipped to [−1, 1].
    pub recurrent_strength: f32,
    pub recurrent_spread: f32,
    /// Projection fanout and weight scale: weights ~ N(0, scale²/fanout), then each row shifted to
    /// sum to zero, so a source at rest (readout σ(−1) on every element) drives nothing and only
    /// what differs from rest reaches the target. `projection_scale` is for feed-forward
    /// connections (source updated earlier in the tick); `feedback_projection_scale` for back
    /// edges and the context/pfc_hidden sources, which carry the past. A strong feed-forward drive
    /// pushes membranes past the threshold (v ← θ or reset) or to v_min every tick, which clears
    /// their α = 0.95 memory: the readout then says what the current token is (see README).
    pub projection_fanout: usize,
    pub projection_scale: f32,
    #[serde(default = "default_feedback_projection_scale")]
    pub feedback_projection_scale: f32,
    /// Target standard deviation of the initial logits.
    pub logit_std: f32,
    /// Typical RMS of a Broca readout element, used to size the decoder.
    pub typical_readout_rms: f32,
    pub decoder_bias_std: f32,
}

impl Default for InitConfig {
    fn default() -> Self {
        InitConfig {
            input_gain_per_sqrt_e: 16.0,
            recurrent_strength: 16.0,
            recurrent_spread: 0.5,
            projection_fanout: 16,
            projection_scale: 200.0,
            feedback_projection_scale: default_feedback_projection_scale(),
            logit_std: 0.0,
            typical_readout_rms: 0.67,
            decoder_bias_std: 0.01,
        }
    }
}

fn default_feedback_projection_scale() -> f32 {
    3.0
}

/// Learning constants (docs/model.md §6–7, defaults §8.6).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearnConfig {
    /// Window length K in ticks for spike counts and mean traces.
    pub window_ticks: usize,
    /// Decoder SGD rate η_dec and the gradient-norm clip.
    pub decoder_rate: f32,
    pub grad_clip: f32,
    /// Homeostasis rate η_θ and target spike rate per tick.
    pub theta_rate: f32,
    pub target_rate: f32,
    /// Reward magnitude (+ correct, − wrong) and the running-mean decay of r̄.
    pub reward: f32,
    pub rbar_decay: f32,
    /// Serotonin step per call (times s_5HT).
    pub serotonin_step: f32,
    /// Sleep (docs/model.md §7): every `sleep_interval` train steps (0 = never).
    pub sleep_interval: u64,
    pub prune_threshold: f32,
    pub regrow_weight: f32,
    /// Threshold drop of neurons silent through a whole interval, in mV.
    pub silent_theta_drop: f32,
    /// Replay buffer size and sequences replayed per sleep.
    pub replay_capacity: usize,
    pub replay_batch: usize,
    /// Which rules change the network (checkpoints without the field: `Reward`, as before).
    #[serde(default)]
    pub rule: Rule,
    /// The decoder's optimizer and schedule (checkpoints without these fields: constant-rate
    /// SGD, as before). `decoder_rate` is the optimizer's learning rate.
    #[serde(default)]
    pub decoder_optimizer: Optimizer,
    #[serde(default)]
    pub decoder_schedule: Schedule,
    #[serde(default)]
    pub decoder_warmup: u64,
    #[serde(default)]
    pub decoder_decay_start: u64,
    #[serde(default)]
    pub decoder_weight_decay: f32,
    #[serde(default = "default_adam_beta1")]
    pub adam_beta1: f32,
    #[serde(default = "default_adam_beta2")]
    pub adam_beta2: f32,
    #[serde(default = "default_adam_eps")]
    pub adam_eps: f32,
    /// e-prop (`rule = eprop`, docs/model.md §6): SGD rates of the recurrent weights and of the
    /// projections, and the half-width in mV of the pseudo-derivative around threshold.
    #[serde(default = "default_eprop_rate")]
    pub eprop_rate: f32,
    #[serde(default = "default_eprop_projection_rate")]
    pub eprop_projection_rate: f32,
    #[serde(default = "default_eprop_width")]
    pub eprop_width: f32,
    /// e-prop also reaches the modules whose trace the decoder does not read, through fixed random
    /// feedback weights `N(0, feedback_std²)` from the output error (docs/model.md §6, step 4e).
    #[serde(default)]
    pub random_feedback: bool,
    /// e-prop also reaches the modules whose readout (and not trace) the decoder reads: the signal
    /// through the decoder's weights of that readout times the readout's own derivative; they learn
    /// the projections into them (docs/model.md §6, step 4e).
    #[serde(default)]
    pub readout_eprop: bool,
    #[serde(default = "default_feedback_std")]
    pub feedback_std: f32,
}

fn default_eprop_rate() -> f32 {
    10.0
}
fn default_eprop_projection_rate() -> f32 {
    100.0
}
fn default_eprop_width() -> f32 {
    10.0
}
fn default_feedback_std() -> f32 {
    0.05
}

fn default_adam_beta1() -> f32 {
    0.9
}
fn default_adam_beta2() -> f32 {
    0.999
}
fn default_adam_eps() -> f32 {
    1e-8
}

impl LearnConfig {
    /// The decoder's learning rate at step `t` (1-based; docs/model.md §6, step 4).
    pub fn decoder_rate_at(&self, t: u64) -> f32 {
        let t = t.max(1) as f64;
        let (w, start) = (self.decoder_warmup as f64, self.decoder_decay_start.max(1) as f64);
        let mut r = self.decoder_rate as f64;
        if t < w {
            r *= t / w;
        }
        if self.decoder_schedule == Schedule::InverseSqrt && t > start {
            r *= (start / t).sqrt();
        }
        r as f32
    }
}

impl Default for LearnConfig {
    fn default() -> Self {
        LearnConfig {
            window_ticks: 16,
            decoder_rate: 0.003,
            grad_clip: 1.0,
            theta_rate: 0.1,
            target_rate: 0.05,
            reward: 0.1,
            rbar_decay: 0.95,
            serotonin_step: 0.05,
            sleep_interval: 100,
            prune_threshold: 1e-3,
            regrow_weight: 0.01,
            silent_theta_drop: 1.0,
            replay_capacity: 256,
            replay_batch: 8,
            rule: Rule::Eprop,
            decoder_optimizer: Optimizer::Adam,
            decoder_schedule: Schedule::InverseSqrt,
            decoder_warmup: 20,
            decoder_decay_start: 500,
            decoder_weight_decay: 0.0,
            adam_beta1: default_adam_beta1(),
            adam_beta2: default_adam_beta2(),
            adam_eps: default_adam_eps(),
            eprop_rate: default_eprop_rate(),
            eprop_projection_rate: default_eprop_projection_rate(),
            eprop_width: default_eprop_width(),
            random_feedback: false,
            readout_eprop: false,
            feedback_std: default_feedback_std(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub preset: String,
    /// Vocabulary size V (set by the tokenizer).
    pub vocab: usize,
    /// Embedding width E (= Thalamus inputs).
    pub embed: usize,
    pub modules: Vec<ModuleConfig>,
    /// In the order their currents are summed (grouped by target in update order).
    pub connections: Vec<ConnectionConfig>,
    pub lif: LifConfig,
    pub init: InitConfig,
    pub learn: LearnConfig,
    /// The decoder's input, in order (checkpoints without the field: Broca's readout).
    #[serde(default = "broca_readout")]
    pub decoder_features: Vec<Feature>,
    pub ticks_per_token: usize,
    /// Basal-ganglia pipeline depth that forces a "go".
    pub max_depth: u32,
    /// Broca's inhibition bias on a "go" tick.
    pub go_bias: f32,
    pub bos: u32,
    pub eos: u32,
    pub pad: u32,
    /// How the forward reads the embedding, recurrent weights, projections and decoder
    /// (checkpoints without the field: f32). The parameters and their updates stay f32.
    #[serde(default)]
    pub precision: Precision,
}

/// The storage the forward reads its weights from (docs/model.md §2, "Precision"). Parameters, their updates,
/// checkpoints, neuron state and every accumulation stay f32; with `bf16` each weight tensor also
/// has a bf16 copy (two values per word), rebuilt from the f32 values whenever they change, and
/// the forward's ops (`embed_gate`, `project`, `lif_kwta`, `logits`) read that copy: half the
/// bytes per tick, and 1.5 × the weights' memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    #[default]
    F32,
    Bf16,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        }
    }

    /// Bytes of one weight as the forward reads it.
    pub fn weight_bytes(self) -> usize {
        match self {
            Precision::F32 => 4,
            Precision::Bf16 => 2,
        }
    }
}

/// Byte-level vocabulary: 256 bytes plus BOS, EOS, PAD.
pub const BYTE_VOCAB: usize = 259;
pub const BYTE_BOS: u32 = 256;
pub const BYTE_EOS: u32 = 257;
pub const BYTE_PAD: u32 = 258;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Preset {
    Tiny,
    Small,
    Seed,
}

/// Module constants (excitability, s_DA, s_5HT, inhibition, τ_att, η_m): docs/model.md §8.2.
const MODULE_CONSTANTS: [(f32, f32, f32, f32, f32, f32); NUM_MODULES] = [
    (1.3, 0.3, 0.5, 0.10, 0.20, 1e-4),
    (1.4, 0.4, 0.3, 0.05, 0.15, 1e-3),
    (1.4, 0.6, 0.2, 0.10, 0.10, 2e-3),
    (1.2, 0.5, 0.6, 0.10, 0.15, 1e-3),
    (1.2, 1.0, 0.3, 0.15, 0.15, 1e-3),
    (1.0, 0.5, 0.4, 0.10, 0.20, 1e-3),
];

/// N/I/O/F per module and E, per preset (docs/model.md §1).
fn preset_shapes(p: Preset) -> (usize, [[usize; 4]; NUM_MODULES]) {
    match p {
        Preset::Tiny => (
            64,
            [
                [512, 64, 128, 16],
                [1024, 256, 256, 16],
                [512, 128, 128, 16],
                [1024, 256, 256, 16],
                [256, 64, 64, 16],
                [1024, 256, 256, 16],
            ],
        ),
        Preset::Small => (
            512,
            [
                [4096, 512, 1024, 32],
                [16384, 2048, 2048, 64],
                [8192, 1024, 1024, 64],
                [16384, 2048, 2048, 64],
                [4096, 512, 512, 64],
                [16384, 2048, 2048, 64],
            ],
        ),
        Preset::Seed => (
            1536,
            [
                // Inputs at N/8 outside the Thalamus (v1: 3–5 % of N), as in `small`: with fewer, the
                // input columns alone cannot ignite the recurrence and only they fire (docs/model.md §10).
                [30720, 1536, 2048, 64],
                [307200, 38400, 10240, 96],
                [153600, 19200, 8192, 96],
                [307200, 38400, 10240, 128],
                [76800, 9600, 4096, 96],
                [307200, 38400, 12288, 96],
            ],
        ),
    }
}

/// Recurrent strength R of the `seed` Thalamus (docs/model.md §8.2, §10): at the shared R = 16 its
/// 1,536 input neurons (5 % of 30,720) leave the rest silent; 28 still does, 40 gives ~8 %.
const SEED_THALAMUS_RECURRENT_STRENGTH: f32 = 40.0;
/// The decoder's learning rate at `seed` (docs/model.md §8.6): 0.003 diverged there (H200).
const SEED_DECODER_RATE: f32 = 3e-4;

/// The eleven connections of docs/model.md §3.2, grouped by target in module update order.
fn default_connections() -> Vec<ConnectionConfig> {
    use ModuleId::*;
    use Source::*;
    let c = |source, target, gain, inhibitory, gate_threshold, hebbian_rate| ConnectionConfig {
        source,
        target,
        gain,
        inhibitory,
        gate_threshold,
        hebbian_rate,
    };
    vec![
        c(Module(Pfc), Thalamus, 0.6, true, 0.10, 0.02),
        c(Module(Thalamus), Wernicke, 1.0, false, 0.10, 0.02),
        c(Module(Pfc), Wernicke, 0.5, false, 0.10, 0.02),
        c(Module(Wernicke), Hippocampus, 0.9, false, 0.05, 0.05),
        c(Module(Wernicke), Pfc, 0.8, false, 0.05, 0.03),
        c(Module(Hippocampus), Pfc, 0.7, false, 0.10, 0.04),
        c(PfcHidden, Pfc, 0.7, false, 0.05, 0.01),
        c(Context, Pfc, 0.5, false, 0.05, 0.01),
        c(Module(Pfc), BasalGanglia, 1.0, false, 0.05, 0.03),
        c(Module(BasalGanglia), Broca, 0.5, false, 0.20, 0.02),
        c(Module(Pfc), Broca, 0.8, false, 0.10, 0.03),
    ]
}

impl ModelConfig {
    pub fn preset(p: Preset) -> ModelConfig {
        let (embed, shapes) = preset_shapes(p);
        let mut modules: Vec<ModuleConfig> = ModuleId::ALL
            .iter()
            .zip(shapes.iter().zip(MODULE_CONSTANTS.iter()))
            .map(|(&id, (s, c))| ModuleConfig {
                id,
                neuron: NeuronModel::LifAdaptive,
                n: s[0],
                inputs: s[1],
                outputs: s[2],
                fanout: s[3],
                k: 50,
                excitability: c.0,
                s_da: c.1,
                s_5ht: c.2,
                inhibition: c.3,
                tau_att: c.4,
                plasticity_rate: c.5,
                alpha: None,
                trace_lambda: MODULE_TRACE_LAMBDA[id as usize],
                recurrent_strength: None,
            })
            .collect();
        let mut learn = LearnConfig::default();
        if p == Preset::Seed {
            // The seed Thalamus keeps I = E = 5 % of N; it ignites with a stronger recurrence.
            modules[ModuleId::Thalamus as usize].recurrent_strength = Some(SEED_THALAMUS_RECURRENT_STRENGTH);
            // Adam at 0.003 diverges on seed's 34,816 dense readouts (docs/model.md §12).
            learn.decoder_rate = SEED_DECODER_RATE;
        }
        ModelConfig {
            preset: format!("{p:?}").to_lowercase(),
            vocab: BYTE_VOCAB,
            embed,
            modules,
            connections: default_connections(),
            lif: LifConfig::default(),
            init: InitConfig::default(),
            learn,
            decoder_features: default_features(p),
            ticks_per_token: 1,
            max_depth: 8,
            go_bias: 0.8,
            bos: BYTE_BOS,
            eos: BYTE_EOS,
            pad: BYTE_PAD,
            precision: Precision::F32,
        }
    }

    pub fn module(&self, id: ModuleId) -> &ModuleConfig {
        &self.modules[id as usize]
    }

    /// Width of one decoder feature block.
    pub fn feature_width(&self, f: &Feature) -> usize {
        let m = self.module(f.module);
        match f.signal {
            Signal::Readout | Signal::ReadoutBefore(_) => m.outputs,
            Signal::Trace => m.n,
        }
    }

    /// Each module whose readout the decoder reads with a delay, and the longest delay.
    pub fn readout_delays(&self) -> Vec<(ModuleId, usize)> {
        let mut out: Vec<(ModuleId, usize)> = Vec::new();
        for f in &self.decoder_features {
            if let Signal::ReadoutBefore(k) = f.signal {
                match out.iter_mut().find(|(m, _)| *m == f.module) {
                    Some((_, d)) => *d = (*d).max(k as usize),
                    None => out.push((f.module, k as usize)),
                }
            }
        }
        out
    }

    /// The first decoder column of a module's signal, if the decoder reads it.
    pub fn feature_offset(&self, module: ModuleId, signal: Signal) -> Option<usize> {
        let mut offset = 0;
        for f in &self.decoder_features {
            if f.module == module && f.signal == signal {
                return Some(offset);
            }
            offset += self.feature_width(f);
        }
        None
    }

    /// Decoder width D: the sum of the feature blocks' widths.
    pub fn decoder_width(&self) -> usize {
        self.decoder_features.iter().map(|f| self.feature_width(f)).sum()
    }

    /// Whether a connection carries the past: a back edge (its source module updates after its
    /// target, so it sends last tick's readout) or a context/pfc_hidden source.
    pub fn is_feedback(&self, c: &ConnectionConfig) -> bool {
        match c.source {
            Source::Module(m) => m as usize >= c.target as usize,
            Source::PfcHidden | Source::Context => true,
        }
    }

    /// Width of a connection source's activity vector.
    pub fn source_width(&self, s: Source) -> usize {
        match s {
            Source::Module(m) => self.module(m).outputs,
            Source::PfcHidden => self.module(ModuleId::Pfc).outputs,
            Source::Context => self.module(ModuleId::Thalamus).outputs,
        }
    }

    /// This configuration with one field set from `path=value` (`path` dot-separated through
    /// the serialized config, array elements by index; `value` JSON, or a bare string), validated.
    pub fn with_field(&self, assignment: &str) -> Result<ModelConfig> {
        let bad = |m: String| NeuroError::Config(m);
        let (path, text) =
            assignment.split_once('=').ok_or_else(|| bad(format!("--set {assignment}: expected FIELD=VALUE")))?;
        let value: serde_json::Value =
            serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_string()));
        let mut root = serde_json::to_value(self).map_err(|e| bad(e.to_string()))?;
        // `learn.rule` is the JSON pointer `/learn/rule` (array elements by index).
        let at = root
            .pointer_mut(&format!("/{}", path.replace('.', "/")))
            .ok_or_else(|| bad(format!("--set {path}: the configuration has no such field")))?;
        *at = value;
        let cfg: ModelConfig = serde_json::from_value(root).map_err(|e| bad(format!("--set {assignment}: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks every structural invariant the kernels rely on.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(NeuroError::Config(m));
        if self.modules.len() != NUM_MODULES {
            return bad(format!("expected {NUM_MODULES} modules, got {}", self.modules.len()));
        }
        if self.vocab < 2 || self.vocab > (1 << 24) {
            return bad(format!("vocab {} out of range 2..=2^24", self.vocab));
        }
        for (i, m) in self.modules.iter().enumerate() {
            let name = m.id.name();
            if m.id as usize != i {
                return bad(format!("module {name} is out of update order"));
            }
            if m.n == 0 || m.n % COLUMN != 0 {
                return bad(format!("{name}: N = {} is not a positive multiple of {COLUMN}", m.n));
            }
            if m.inputs == 0 || m.inputs > m.n || m.outputs == 0 || m.outputs > m.n {
                return bad(format!("{name}: inputs/outputs must be in 1..=N"));
            }
            if m.fanout == 0 || m.fanout >= m.n {
                return bad(format!("{name}: fanout {} must be in 1..N", m.fanout));
            }
            if m.k > COLUMN {
                return bad(format!("{name}: k = {} exceeds the column size", m.k));
            }
        }
        if self.module(ModuleId::Thalamus).inputs != self.embed {
            return bad("Thalamus inputs must equal the embedding width E".into());
        }
        for c in &self.connections {
            if self.init.projection_fanout > self.source_width(c.source) {
                return bad(format!("projection fanout exceeds the width of {:?}", c.source));
            }
        }
        for t in [self.bos, self.eos, self.pad] {
            if t as usize >= self.vocab {
                return bad(format!("special token {t} is outside the vocabulary"));
            }
        }
        if self.decoder_features.is_empty() {
            return bad("the decoder needs at least one feature".into());
        }
        for f in &self.decoder_features {
            if let Signal::ReadoutBefore(k) = f.signal {
                if !(1..=MAX_READOUT_DELAY).contains(&k) {
                    return bad(format!(
                        "decoder feature {} ReadoutBefore({k}): k must be 1 to {MAX_READOUT_DELAY}",
                        f.module.name()
                    ));
                }
            }
        }
        for m in &self.modules {
            for (what, x) in [("alpha", m.alpha), ("trace_lambda", m.trace_lambda)] {
                if x.is_some_and(|x| !(0.0..1.0).contains(&x)) {
                    return bad(format!("{}: {what} must be in [0, 1)", m.id.name()));
                }
            }
            if m.recurrent_strength.is_some_and(|r| !(r.is_finite() && r >= 0.0)) {
                return bad(format!("{}: recurrent_strength must be finite and at least 0", m.id.name()));
            }
        }
        if self.learn.window_ticks == 0 {
            return bad("the learning window must be at least one tick".into());
        }
        let l = &self.learn;
        for (what, x) in [("eprop_rate", l.eprop_rate), ("eprop_projection_rate", l.eprop_projection_rate)] {
            if !(x.is_finite() && x >= 0.0) {
                return bad(format!("learn.{what} must be finite and at least 0"));
            }
        }
        if !(l.eprop_width.is_finite() && l.eprop_width > 0.0) {
            return bad("learn.eprop_width must be finite and positive".into());
        }
        if !(l.feedback_std.is_finite() && l.feedback_std >= 0.0) {
            return bad("learn.feedback_std must be finite and at least 0".into());
        }
        if self.ticks_per_token == 0 {
            return bad("ticks_per_token must be at least 1".into());
        }
        Ok(())
    }

    /// Total neurons over all modules.
    pub fn neurons(&self) -> usize {
        self.modules.iter().map(|m| m.n).sum()
    }

    /// Recurrent synapses over all modules.
    pub fn synapses(&self) -> usize {
        self.modules.iter().map(|m| m.n * m.fanout).sum()
    }

    /// Learnable and fixed parameters, in 32-bit words (indices included).
    pub fn parameter_words(&self) -> usize {
        let d = self.decoder_width();
        let emb = self.vocab * self.embed;
        // W's indices and values, θ, and the outgoing-synapse table (`propagate`).
        let rec: usize = self.modules.iter().map(|m| 3 * m.n * m.fanout + 2 * m.n + 1).sum();
        let proj: usize =
            self.connections.iter().map(|c| 2 * self.module(c.target).inputs * self.init.projection_fanout).sum();
        let moments = if self.learn.decoder_optimizer == Optimizer::Adam { 2 } else { 0 };
        emb + rec + proj + self.connections.len() + (1 + moments) * self.vocab * (d + 1) + self.bf16_copy_words()
    }

    /// Words of the forward's bf16 weight copies (0 at f32): half of each tensor, rounded up.
    pub fn bf16_copy_words(&self) -> usize {
        if self.precision == Precision::F32 {
            return 0;
        }
        let half = |len: usize| len.div_ceil(2);
        let rec: usize = self.modules.iter().map(|m| half(m.n * m.fanout)).sum();
        let proj: usize =
            self.connections.iter().map(|c| half(self.module(c.target).inputs * self.init.projection_fanout)).sum();
        half(self.vocab * self.embed) + rec + proj + half(self.vocab * self.decoder_width())
    }

    /// Per-sequence state in 32-bit words (with the per-tick scratch it needs).
    pub fn state_words_per_sequence(&self) -> usize {
        // v, a, e, and the two spike-bit buffers at their worst case (a batch of one uses a whole
        // word per neuron; larger batches share each word between 32 sequences).
        let m: usize = self.modules.iter().map(|m| 5 * m.n + m.outputs + m.inputs).sum();
        let delays: usize = self.readout_delays().iter().map(|&(m, depth)| depth * self.module(m).outputs).sum();
        m + delays
            + self.embed
            + self.module(ModuleId::Thalamus).outputs
            + self.module(ModuleId::Pfc).outputs
            + 2 * self.connections.len()
            + 2 * NUM_MODULES
            + self.vocab
            + self.decoder_width()
            + 16
    }

    /// Device memory estimate in bytes for a batch of `batch` sequences.
    pub fn memory_bytes(&self, batch: usize) -> u64 {
        // `propagate`'s sums exist for small batches only.
        let rec: usize = self.modules.iter().map(|m| crate::model::rec_state_words(batch, m.n)).sum();
        4 * (self.parameter_words() as u64 + batch as u64 * self.state_words_per_sequence() as u64 + rec as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid() {
        for p in [Preset::Tiny, Preset::Small, Preset::Seed] {
            ModelConfig::preset(p).validate().unwrap();
        }
    }

    #[test]
    fn seed_preset_matches_the_original_size() {
        let c = ModelConfig::preset(Preset::Seed);
        assert_eq!(c.neurons(), 1_182_720);
        let syn = c.synapses();
        assert!((115_000_000..125_000_000).contains(&syn), "{syn}");
        assert_eq!(c.module(ModuleId::Broca).outputs, 12288);
        // Readouts only at this size: 2048 + 10240 + 10240 + 12288.
        assert_eq!(c.decoder_width(), 34816);
    }

    #[test]
    fn validation_rejects_bad_shapes() {
        let mut c = ModelConfig::preset(Preset::Tiny);
        c.modules[2].n = 300;
        assert!(c.validate().is_err());
        let mut c = ModelConfig::preset(Preset::Tiny);
        c.modules[0].inputs = 32;
        assert!(c.validate().is_err());
        for k in [0, MAX_READOUT_DELAY + 1] {
            let mut c = ModelConfig::preset(Preset::Tiny);
            c.decoder_features.push(Feature { module: ModuleId::Broca, signal: Signal::ReadoutBefore(k) });
            assert!(c.validate().is_err(), "delay {k}");
        }
    }
}
