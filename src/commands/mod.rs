//! One module per command, each with its arguments and a `run`; what they share lives here: the
//! global arguments, where a model comes from, and how tokens are sampled.

pub mod baseline;
pub mod bench;
pub mod chat;
pub mod evaluate;
pub mod generate;
pub mod info;
pub mod main_job;
pub mod tokenizer;
pub mod train;

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use neurogen::pipeline::checkpoint;
use neurogen::sampling::{Strategy, DEFAULT_TEMPERATURE, DEFAULT_TOP_K, DEFAULT_TOP_P};
use neurogen::{
    choose_backend, create_backend, Backend, BackendKind, Engine, ModelConfig, Precision, Preset, SamplingRule,
    Tokenizer,
};

/// The model and backend flags: on the main job (before any command) and on every command that
/// builds a model. A flag given after the command wins over the same flag given before it.
#[derive(Args, Clone, Default)]
pub struct GlobalArgs {
    /// Compute backend: auto = CUDA where an NVIDIA device exists, else a hardware GPU through
    /// wgpu, else the multi-threaded CPU backend; the choice is printed [default: auto].
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
    /// Model size: tiny = 4,352 neurons, E = 64 (a CPU: about 0.1 s per step of 8 × 64 tokens on two cores); small = 65,536
    /// neurons, E = 512 (a GPU); seed = 1,182,720 neurons, 120 M synapses, E = 1536 (the
    /// predecessor's size, a large GPU). docs/model.md §1 has every module's shape [default: tiny].
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Seed of the model's initialisation, of sampling and of training [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Vocabulary size of a fresh model when no tokenizer sets it (default: the byte tokenizer's
    /// 259). Larger values size the decoder like a real tokenizer's for `info` and `bench` (e.g.
    /// 32000 for `seed`).
    #[arg(long)]
    pub vocab: Option<usize>,
    /// Cognitive steps (ticks of every module) per token [default: 1].
    #[arg(long)]
    pub ticks_per_token: Option<usize>,
    /// Sets one field of a fresh model's configuration (repeatable), by its path in
    /// `neurogen info --json`'s "config": e.g. `learn.rule="decoder-only"`,
    /// `learn.decoder_rate=0.003`, `modules.1.trace_lambda=0.95`, `decoder_features=[…]`. The value
    /// is JSON (a bare word is taken as a string); docs/model.md §8 lists every field.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    pub set: Vec<String>,
    /// How the forward stores the weights it reads (embedding, recurrent, projections, decoder):
    /// bf16 halves their bytes per tick; parameters, updates and checkpoints stay f32
    /// (docs/model.md §2, "Precision"). Also applies to a loaded checkpoint [default: the model's, f32].
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
}

impl GlobalArgs {
    /// `self` (flags after the command) over `before` (flags before it).
    pub fn over(&self, before: &GlobalArgs) -> GlobalArgs {
        GlobalArgs {
            backend: self.backend.or(before.backend),
            preset: self.preset.or(before.preset),
            seed: self.seed.or(before.seed),
            vocab: self.vocab.or(before.vocab),
            ticks_per_token: self.ticks_per_token.or(before.ticks_per_token),
            set: before.set.iter().chain(&self.set).cloned().collect(),
            precision: self.precision.or(before.precision),
        }
    }

    /// The flags that were given, by name (for commands that must refuse them).
    pub fn given(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        for (set, name) in [
            (self.backend.is_some(), "--backend"),
            (self.preset.is_some(), "--preset"),
            (self.seed.is_some(), "--seed"),
            (self.vocab.is_some(), "--vocab"),
            (self.ticks_per_token.is_some(), "--ticks-per-token"),
            (!self.set.is_empty(), "--set"),
            (self.precision.is_some(), "--precision"),
        ] {
            if set {
                v.push(name);
            }
        }
        v
    }

    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or(0)
    }

    pub fn backend_kind(&self) -> BackendKind {
        self.backend.unwrap_or(BackendKind::Auto)
    }

    /// The backend; `auto` prints what it chose and why it passed over the faster ones.
    pub fn create_backend(&self) -> Result<Box<dyn Backend>> {
        match self.backend_kind() {
            BackendKind::Auto => {
                let c = choose_backend()?;
                eprintln!("backend: {} on {} (--backend auto)", c.kind, c.backend.info().device);
                for why in &c.passed_over {
                    log::info!("passed over {why}");
                }
                Ok(c.backend)
            }
            kind => Ok(create_backend(kind)?),
        }
    }

    /// The preset's configuration with `--vocab`, `--ticks-per-token` and every `--set` applied.
    pub fn base_config(&self) -> Result<ModelConfig> {
        let mut cfg = ModelConfig::preset(self.preset.unwrap_or(Preset::Tiny));
        if let Some(v) = self.vocab {
            cfg.vocab = v;
        }
        cfg.ticks_per_token = self.ticks_per_token.unwrap_or(1);
        for s in &self.set {
            cfg = cfg.with_field(s)?;
        }
        Ok(self.loaded_config(&cfg))
    }

    /// A checkpoint's configuration with the flags that may change how it runs (`--precision`).
    pub fn loaded_config(&self, cfg: &ModelConfig) -> ModelConfig {
        let mut cfg = cfg.clone();
        if let Some(p) = self.precision {
            cfg.precision = p;
        }
        cfg
    }

    /// Refuses the model-shaping flags when a checkpoint decides the model: `what` names it.
    pub fn refuse_shape_flags(&self, what: &str) -> Result<()> {
        let set: Vec<&str> = self
            .given()
            .into_iter()
            .filter(|f| matches!(*f, "--preset" | "--vocab" | "--ticks-per-token" | "--set"))
            .collect();
        if !set.is_empty() {
            bail!("{} cannot be used with {what}: the checkpoint fixes the model's shape; drop them", set.join(", "));
        }
        Ok(())
    }
}

/// Where a model comes from: a checkpoint, or a fresh one with a tokenizer.
#[derive(Args, Clone)]
pub struct ModelArgs {
    /// A checkpoint directory, or a run directory (its latest checkpoint).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// A tokenizer.json for a fresh model (its vocabulary sets V) [default: bytes, V = 259].
    #[arg(long, conflicts_with = "checkpoint")]
    pub tokenizer: Option<PathBuf>,
}

impl ModelArgs {
    /// A model and its tokenizer: from the checkpoint, or fresh.
    pub fn load(&self, g: &GlobalArgs) -> Result<(Engine, Tokenizer)> {
        if let Some(dir) = &self.checkpoint {
            g.refuse_shape_flags("--checkpoint")?;
            let ck = checkpoint::load(dir)?;
            eprintln!("loaded {} (step {})", ck.dir.display(), ck.manifest.step);
            let eng = Engine::from_snapshot(g.create_backend()?, g.loaded_config(&ck.manifest.config), &ck.snapshot)?;
            return Ok((eng, ck.tokenizer));
        }
        let tok = match &self.tokenizer {
            Some(p) => Tokenizer::from_file(p)?,
            None => Tokenizer::bytes(),
        };
        let mut cfg = g.base_config()?;
        if self.tokenizer.is_some() || g.vocab.is_none() {
            tok.configure(&mut cfg);
        }
        cfg.validate()?;
        Ok((Engine::new(g.create_backend()?, cfg, g.seed())?, tok))
    }
}

/// How tokens are sampled (`generate`, `chat`).
#[derive(Args, Clone)]
pub struct SampleArgs {
    /// New tokens per prompt at most; generation stops earlier at EOS. Generated in segments of
    /// at most 1024 tokens, one submission each.
    #[arg(long, default_value_t = 64)]
    pub max_new: usize,
    /// How each token is chosen.
    #[arg(long, value_enum, default_value = "top-k-top-p")]
    pub strategy: Strategy,
    /// Softmax temperature (> 0); lower is more conservative. Unused by greedy.
    #[arg(long, default_value_t = DEFAULT_TEMPERATURE)]
    pub temperature: f32,
    /// Keep the K most probable tokens (top-k strategies); 0 keeps every token.
    #[arg(long, default_value_t = DEFAULT_TOP_K)]
    pub top_k: u32,
    /// Keep the smallest set of tokens whose probability reaches P, in (0, 1] (top-p strategies).
    #[arg(long, default_value_t = DEFAULT_TOP_P)]
    pub top_p: f32,
}

impl SampleArgs {
    /// The token-choice rule the strategy and its parameters describe.
    pub fn rule(&self) -> SamplingRule {
        self.strategy.rule(self.temperature, self.top_k, self.top_p)
    }
}
