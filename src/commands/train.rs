//! `neurogen train`: train on a corpus with a progress bar, metrics, samples, charts and
//! checkpoints. The main job (`main_job`) trains through the same arguments and defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use clap::Parser;
use neurogen::pipeline::checkpoint;
use neurogen::pipeline::corpus::{self, OnBadData};
use neurogen::pipeline::run::{self, Budget, Resume, RunOptions, RunSummary};
use neurogen::{create_backend, Engine, Tokenizer};

use super::{GlobalArgs, ModelArgs};

// `Parser` (which implies `Args`) so that the defaults can be had by parsing a command line: see
// `TrainArgs::defaults`.
#[derive(Parser)]
pub struct TrainArgs {
    /// Corpus: .txt, .jsonl, .jsonl.zst files, directories or globs.
    #[arg(long)]
    pub data: String,
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Stop after this many steps …
    #[arg(long, conflicts_with_all = ["tokens", "time"])]
    pub steps: Option<u64>,
    /// … or this many trained tokens …
    #[arg(long, conflicts_with = "time")]
    pub tokens: Option<u64>,
    /// … or this many seconds (default: 100 steps).
    #[arg(long)]
    pub time: Option<u64>,
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Tokens per training sequence (BOS included).
    #[arg(long, default_value_t = 64)]
    pub seq_len: usize,
    /// Run directory (metrics, samples, charts, checkpoints) [default: runs/<time>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in this directory (or from this checkpoint).
    #[arg(long, conflicts_with = "tokenizer")]
    pub resume: Option<PathBuf>,
    #[arg(long, default_value_t = 100)]
    pub checkpoint_every: u64,
    #[arg(long, default_value_t = 50)]
    pub sample_every: u64,
    /// Every N-th packed sequence is held out for evaluation.
    #[arg(long, default_value_t = 20)]
    pub held_out_every: usize,
    /// Sequences read from the corpus at most (it is streamed until then).
    #[arg(long, default_value_t = 100_000)]
    pub max_sequences: usize,
    #[arg(long, value_enum, default_value = "skip")]
    pub on_bad_data: OnBadData,
    /// Prompt of the text samples.
    #[arg(long, default_value = "the cat")]
    pub sample_prompt: String,
    /// One JSON object per step on stdout instead of the progress bar.
    #[arg(long)]
    pub json: bool,
}

impl TrainArgs {
    /// What `neurogen train --data <data>` runs: every other argument at its default.
    pub fn defaults(data: &str) -> TrainArgs {
        TrainArgs::try_parse_from(["train", &format!("--data={data}")]).expect("the train defaults parse")
    }

    /// When the run stops: `--steps`, `--tokens` or `--time`, else 100 steps.
    pub fn budget(&self) -> Budget {
        match (self.steps, self.tokens, self.time) {
            (Some(s), _, _) => Budget::Steps(s),
            (_, Some(t), _) => Budget::Tokens(t),
            (_, _, Some(s)) => Budget::Time(Duration::from_secs(s)),
            _ => Budget::Steps(100),
        }
    }

    /// Reads and packs the corpus, then trains `engine` on it into the run directory `out`
    /// (`start`: where a resumed run continues).
    pub fn train(
        &self,
        g: &GlobalArgs,
        engine: Engine,
        tok: &Tokenizer,
        out: PathBuf,
        start: Option<Resume>,
    ) -> Result<RunSummary> {
        let files = corpus::resolve(&self.data)?;
        let (packer, problems) =
            corpus::load(files, tok, self.seq_len, self.held_out_every, self.max_sequences, self.on_bad_data)?;
        if !problems.is_empty() {
            eprintln!("{} malformed lines or files were skipped", problems.len());
        }
        let opts = RunOptions {
            batch: self.batch,
            budget: self.budget(),
            out,
            seed: g.seed,
            checkpoint_every: self.checkpoint_every,
            sample_every: self.sample_every,
            sample_prompt: self.sample_prompt.clone(),
            json: self.json,
        };
        Ok(run::train(engine, tok, &packer.train, &packer.held_out, &opts, start)?)
    }
}

pub fn run(g: &GlobalArgs, a: &TrainArgs) -> Result<()> {
    let (engine, tok, start, out) = match &a.resume {
        Some(dir) => {
            let ck = checkpoint::load(dir)?;
            let out = a.out.clone().unwrap_or_else(|| run_dir_of(&ck.dir));
            eprintln!("resuming {} at step {}", ck.dir.display(), ck.manifest.train_steps);
            let eng = Engine::from_snapshot(create_backend(g.backend)?, ck.manifest.config.clone(), &ck.snapshot)?;
            let resume = Resume::from_checkpoint(&ck);
            (eng, ck.tokenizer, Some(resume), out)
        }
        None => {
            let (eng, tok) = ModelArgs { checkpoint: None, tokenizer: a.tokenizer.clone() }.load(g)?;
            (eng, tok, None, run_dir(&a.out))
        }
    };
    let summary = a.train(g, engine, &tok, out, start)?;
    report(&summary, a.json);
    Ok(())
}

/// `--out`, or `runs/run-<unix seconds>`.
pub fn run_dir(out: &Option<PathBuf>) -> PathBuf {
    out.clone().unwrap_or_else(|| {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        PathBuf::from("runs").join(format!("run-{secs}"))
    })
}

/// `<run>/checkpoints/<ckpt>` → `<run>`.
fn run_dir_of(ckpt: &Path) -> PathBuf {
    ckpt.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_else(|| ckpt.to_path_buf())
}

/// The held-out result, the last sample and where the run directory is.
pub fn report(s: &RunSummary, as_json: bool) {
    if as_json {
        eprintln!("run directory: {}", s.out.display());
        return;
    }
    if let Some(h) = &s.held_out {
        println!("held-out: loss {:.4}, accuracy {:.2}%, perplexity {:.2}", h.loss, 100.0 * h.accuracy, h.perplexity);
    }
    if let Some((step, text)) = s.samples.last() {
        println!("sample after step {step}: {text}");
    }
    println!("run directory: {} (metrics.jsonl, samples.json, charts/, checkpoints/)", s.out.display());
}
