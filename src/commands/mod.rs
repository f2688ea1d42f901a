//! One module per command, each with its arguments and a `run`; what they share lives here: the
//! global arguments, where a model comes from, and how tokens are sampled.

pub mod bench;
pub mod chat;
pub mod evaluate;
pub mod generate;
pub mod info;
pub mod main_job;
pub mod tokenizer;
pub mod train;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use neurogen::pipeline::checkpoint;
use neurogen::{create_backend, BackendKind, Engine, ModelConfig, Preset, SamplingRule, Tokenizer};

/// Arguments every command takes.
#[derive(Args)]
pub struct GlobalArgs {
    /// Compute backend.
    #[arg(long, value_enum, default_value = "wgpu", global = true)]
    pub backend: BackendKind,
    /// Model size (docs/model.md §1) [default: tiny].
    #[arg(long, value_enum, global = true)]
    pub preset: Option<Preset>,
    /// Seed of the model's initialisation, of sampling and of training.
    #[arg(long, default_value_t = 0, global = true)]
    pub seed: u64,
    /// Vocabulary size to build the model with when no tokenizer sets it (default: the byte
    /// tokenizer's 259). Larger values size the decoder like a real tokenizer's for `info` and
    /// `bench` (e.g. 32000 for `seed`).
    #[arg(long, global = true)]
    pub vocab: Option<usize>,
    /// Cognitive steps per token.
    #[arg(long, default_value_t = 1, global = true)]
    pub ticks_per_token: usize,
}

impl GlobalArgs {
    /// The preset's configuration with `--vocab` and `--ticks-per-token` applied.
    pub fn base_config(&self) -> ModelConfig {
        let mut cfg = ModelConfig::preset(self.preset.unwrap_or(Preset::Tiny));
        if let Some(v) = self.vocab {
            cfg.vocab = v;
        }
        cfg.ticks_per_token = self.ticks_per_token;
        cfg
    }
}

/// Where a model comes from: a checkpoint, or a fresh one with a tokenizer.
#[derive(Args, Clone)]
pub struct ModelArgs {
    /// A checkpoint, or a run directory (its latest checkpoint).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// A tokenizer.json (a fresh model's vocabulary follows it); default: bytes.
    #[arg(long, conflicts_with = "checkpoint")]
    pub tokenizer: Option<PathBuf>,
}

impl ModelArgs {
    /// A model and its tokenizer: from the checkpoint, or fresh.
    pub fn load(&self, g: &GlobalArgs) -> Result<(Engine, Tokenizer)> {
        let be = create_backend(g.backend)?;
        if let Some(dir) = &self.checkpoint {
            let ck = checkpoint::load(dir)?;
            eprintln!("loaded {} (step {})", ck.dir.display(), ck.manifest.step);
            let eng = Engine::from_snapshot(be, ck.manifest.config.clone(), &ck.snapshot)?;
            return Ok((eng, ck.tokenizer));
        }
        let tok = match &self.tokenizer {
            Some(p) => Tokenizer::from_file(p)?,
            None => Tokenizer::bytes(),
        };
        let mut cfg = g.base_config();
        if self.tokenizer.is_some() || g.vocab.is_none() {
            tok.configure(&mut cfg);
        }
        Ok((Engine::new(be, cfg, g.seed)?, tok))
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Strategy {
    Greedy,
    Temperature,
    TopK,
    TopP,
    /// Top-k, then top-p over what top-k kept.
    TopKTopP,
}

/// How tokens are sampled (`generate`, `chat`).
#[derive(Args, Clone)]
pub struct SampleArgs {
    #[arg(long, default_value_t = 64)]
    pub max_new: usize,
    #[arg(long, value_enum, default_value = "top-k-top-p")]
    pub strategy: Strategy,
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f32,
    #[arg(long, default_value_t = 40)]
    pub top_k: u32,
    #[arg(long, default_value_t = 0.9)]
    pub top_p: f32,
}

impl SampleArgs {
    /// The token-choice rule the strategy and its parameters describe.
    pub fn rule(&self) -> SamplingRule {
        let (k, p) = match self.strategy {
            Strategy::Greedy | Strategy::Temperature => (0, 1.0),
            Strategy::TopK => (self.top_k, 1.0),
            Strategy::TopP => (0, self.top_p),
            Strategy::TopKTopP => (self.top_k, self.top_p),
        };
        SamplingRule {
            greedy: matches!(self.strategy, Strategy::Greedy),
            temperature: self.temperature,
            top_k: k,
            top_p: p,
        }
    }
}

/// BOS, then the prompt's tokens.
pub fn prompt_ids(tok: &Tokenizer, text: &str) -> Result<Vec<u32>> {
    Ok(std::iter::once(tok.bos()).chain(tok.encode(text)?).collect())
}
