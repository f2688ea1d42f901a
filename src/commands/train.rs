//! `neurogen train`: train on a corpus with a progress bar, metrics, samples, charts and
//! checkpoints. The main job (`main_job`) trains through the same arguments and defaults.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Parser;
use neurogen::config::Rule;
use neurogen::pipeline::checkpoint::{self, RunRecord};
use neurogen::pipeline::corpus::{self, OnBadData};
use neurogen::pipeline::run::{self, Budget, Resume, RunOptions, RunSummary};
use neurogen::{Engine, Tokenizer, MAX_SEQUENCE};

use super::{GlobalArgs, ModelArgs};

// `Parser` (which implies `Args`) so that the defaults can be had by parsing a command line: see
// `TrainArgs::defaults`.
#[derive(Parser)]
pub struct TrainArgs {
    /// Corpus: .txt (a document per line), .jsonl (the `text` field of each line) or .jsonl.zst
    /// files, directories (searched recursively) or globs. On --resume: the run's.
    #[arg(long, required_unless_present = "resume")]
    pub data: Option<String>,
    /// A corpus to hold out instead of every N-th training sequence (e.g. the held-out file of
    /// `scripts/corpus.sh`): the final evaluation and the n-gram baselines use it, and
    /// --held-out-every defaults to 0. On --resume: the run's.
    #[arg(long)]
    pub held_out: Option<String>,
    /// A tokenizer.json for the fresh model (its vocabulary sets V) [default: bytes, V = 259].
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Stop when the run has taken this many steps …
    #[arg(long, conflicts_with_all = ["tokens", "time"])]
    pub steps: Option<u64>,
    /// … or trained on this many tokens …
    #[arg(long, conflicts_with = "time")]
    pub tokens: Option<u64>,
    /// … or trained this many seconds. All three count the whole run, a resumed one included
    /// [default: 100 steps].
    #[arg(long)]
    pub time: Option<u64>,
    /// Sequences per step [default: 8; on --resume: the run's].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Tokens per training sequence, BOS included [default: 64; on --resume: the run's].
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Run directory (metrics, samples, charts, checkpoints); it must not hold a run unless
    /// --resume or --force [default: runs/run-<unix time>; on --resume: the run's].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in this directory (its latest checkpoint) or from this checkpoint, with
    /// its data, shapes and seed.
    #[arg(long, conflicts_with = "tokenizer")]
    pub resume: Option<PathBuf>,
    /// Start anew in an --out that holds a run, deleting its metrics, samples, charts and
    /// checkpoints.
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Write a checkpoint every N steps (0: only at the end).
    #[arg(long, default_value_t = 100)]
    pub checkpoint_every: u64,
    /// Generate a text sample every N steps into samples.json (0: only at the end).
    #[arg(long, default_value_t = 50)]
    pub sample_every: u64,
    /// Every N-th packed sequence is held out for evaluation (0: none; 1 is refused)
    /// [default: 20; on --resume: the run's].
    #[arg(long)]
    pub held_out_every: Option<usize>,
    /// Sequences read from the corpus at most (it is streamed until then) [default: 100000; on
    /// --resume: the run's].
    #[arg(long)]
    pub max_sequences: Option<usize>,
    /// What to do with a malformed line or file: report and skip it, or stop.
    #[arg(long, value_enum, default_value = "skip")]
    pub on_bad_data: OnBadData,
    /// Prompt of the text samples.
    #[arg(long, default_value = "the cat")]
    pub sample_prompt: String,
    /// Which rules change the spiking network (docs/model.md §6) of a fresh model; the same as
    /// `--set learn.rule=…` [default: the preset's, eprop].
    #[arg(long, value_enum, conflicts_with = "resume")]
    pub rule: Option<Rule>,
    /// One JSON object per step on stdout instead of the progress bar.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub global: GlobalArgs,
}

const DEFAULT_BATCH: usize = 8;
const DEFAULT_SEQ_LEN: usize = 64;
const DEFAULT_HELD_OUT_EVERY: usize = 20;
const DEFAULT_MAX_SEQUENCES: usize = 100_000;

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

    /// The run's settings: the flags over the defaults, or, on resume, the resumed run's (a flag
    /// that differs from it is refused: the run would silently change).
    pub fn settings(&self, g: &GlobalArgs, prior: Option<(&RunRecord, u64)>) -> Result<(RunRecord, u64)> {
        let Some((run, seed)) = prior else {
            let record = RunRecord {
                data: self.data.clone().unwrap_or_default(),
                held_out: self.held_out.clone(),
                batch: self.batch.unwrap_or(DEFAULT_BATCH),
                seq_len: self.seq_len.unwrap_or(DEFAULT_SEQ_LEN),
                held_out_every: self.held_out_every.unwrap_or(if self.held_out.is_some() {
                    0
                } else {
                    DEFAULT_HELD_OUT_EVERY
                }),
                max_sequences: self.max_sequences.unwrap_or(DEFAULT_MAX_SEQUENCES),
                tokens: 0,
                seconds: 0.0,
            };
            return Ok((record, g.seed()));
        };
        fn same<T: PartialEq + std::fmt::Display>(flag: &str, given: Option<T>, run: T) -> Result<()> {
            match given {
                Some(v) if v != run => {
                    bail!("{flag} {v} differs from the resumed run's {run}; drop it to continue the run, or start a new one")
                }
                _ => Ok(()),
            }
        }
        same("--data", self.data.as_deref(), run.data.as_str())?;
        same("--held-out", self.held_out.as_deref(), run.held_out.as_deref().unwrap_or("(none)"))?;
        same("--batch", self.batch, run.batch)?;
        same("--seq-len", self.seq_len, run.seq_len)?;
        same("--held-out-every", self.held_out_every, run.held_out_every)?;
        same("--max-sequences", self.max_sequences, run.max_sequences)?;
        same("--seed", g.seed, seed)?;
        Ok((run.clone(), seed))
    }

    /// Reads and packs the corpus, then trains `engine` on it into the run directory `out`
    /// (`start`: where a resumed run continues).
    pub fn train(
        &self,
        record: RunRecord,
        seed: u64,
        engine: Engine,
        tok: &Tokenizer,
        out: PathBuf,
        start: Option<Resume>,
    ) -> Result<RunSummary> {
        if record.seq_len > MAX_SEQUENCE {
            bail!("--seq-len {} exceeds the limit of {MAX_SEQUENCE} tokens per sequence", record.seq_len);
        }
        if record.batch == 0 {
            bail!("--batch must be at least 1");
        }
        let files = corpus::resolve(&record.data)?;
        // Both corpora are resolved before either is read: a wrong path fails at once.
        let held_files = record.held_out.as_deref().map(corpus::resolve).transpose()?;
        let (mut packer, mut problems) =
            corpus::load(files, tok, record.seq_len, record.held_out_every, record.max_sequences, self.on_bad_data)?;
        if let Some(files) = held_files {
            let (held, more) = corpus::load(files, tok, record.seq_len, 0, usize::MAX, self.on_bad_data)?;
            packer.held_out.extend(held.train);
            problems.extend(more);
        }
        if !problems.is_empty() {
            eprintln!("{} malformed lines or files were skipped", problems.len());
        }
        let opts = RunOptions {
            budget: self.budget(),
            out,
            seed,
            checkpoint_every: self.checkpoint_every,
            sample_every: self.sample_every,
            sample_prompt: self.sample_prompt.clone(),
            json: self.json,
            record,
            stop: Some(interrupt_flag()),
        };
        Ok(run::train(engine, tok, &packer.train, &packer.held_out, &opts, start)?)
    }
}

/// Set by the first Ctrl-C: the run finishes its step, writes a checkpoint and stops. A second
/// Ctrl-C exits at once.
fn interrupt_flag() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let installed = ctrlc::set_handler(move || {
            if f.swap(true, Ordering::SeqCst) {
                eprintln!("\nsecond interrupt: exiting without a checkpoint");
                std::process::exit(130);
            }
            eprintln!("\ninterrupt: finishing the step and writing a checkpoint (Ctrl-C again to exit now)");
        });
        if let Err(e) = installed {
            log::warn!("no Ctrl-C handler ({e}): an interrupt stops the run without a checkpoint");
        }
        flag
    })
    .clone()
}

pub fn run(g: &GlobalArgs, a: &TrainArgs) -> Result<()> {
    let summary = match &a.resume {
        Some(dir) => {
            g.refuse_shape_flags("--resume")?;
            let ck = checkpoint::load(dir)?;
            let run_dir = run_dir_of(&ck.dir);
            let out = a.out.clone().unwrap_or_else(|| run_dir.clone());
            if out != run_dir {
                run::claim_run_dir(&out, false)?;
            }
            let Some(prior) = &ck.manifest.run else {
                bail!("{} holds no run record (it was not written by `train`, or by a build before run records): there is no run to resume", ck.dir.display())
            };
            let (record, seed) = a.settings(g, Some((prior, ck.manifest.seed)))?;
            eprintln!("resuming {} at step {}", ck.dir.display(), ck.manifest.train_steps);
            let eng = Engine::from_snapshot(g.create_backend()?, g.loaded_config(&ck.manifest.config), &ck.snapshot)?;
            let resume = Resume::from_checkpoint(&ck);
            a.train(record, seed, eng, &ck.tokenizer, out, Some(resume))?
        }
        None => {
            let (record, seed) = a.settings(g, None)?;
            let out = run_dir(&a.out);
            run::claim_run_dir(&out, a.force)?;
            let mut g = g.clone();
            if let Some(rule) = a.rule {
                g.set.push(format!("learn.rule={}", serde_json::to_string(&rule)?));
            }
            let (eng, tok) = ModelArgs { checkpoint: None, tokenizer: a.tokenizer.clone() }.load(&g)?;
            a.train(record, seed, eng, &tok, out, None)?
        }
    };
    report(&summary, a.json);
    if summary.interrupted {
        eprintln!(
            "interrupted at step {}; continue with: neurogen train --resume {}",
            summary.steps,
            summary.out.display()
        );
        std::process::exit(130);
    }
    Ok(())
}

/// `--out`, or a new `runs/run-<unix seconds>[-N]`.
pub fn run_dir(out: &Option<PathBuf>) -> PathBuf {
    out.clone().unwrap_or_else(|| {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let base = PathBuf::from("runs").join(format!("run-{secs}"));
        (1..)
            .map(|n| if n == 1 { base.clone() } else { base.with_file_name(format!("run-{secs}-{n}")) })
            .find(|p| !p.exists())
            .expect("some name is free")
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
        let sc = &h.score;
        println!(
            "held-out: {:.3} bits/byte (loss {:.4} nats/token, accuracy {:.2}%, perplexity {:.2})",
            sc.bits_per_byte,
            sc.loss,
            100.0 * sc.accuracy,
            sc.perplexity
        );
        let grams: Vec<String> = h.ngram.iter().map(|n| format!("{}-gram {:.3}", n.order, n.bits_per_byte)).collect();
        if !grams.is_empty() {
            println!("  byte n-gram baselines of the same split (bits/byte): {}", grams.join(", "));
        }
    }
    if let Some((step, text)) = s.samples.last() {
        println!("sample after step {step}: {text}");
    }
    println!("run directory: {} (metrics.jsonl, samples.json, charts/, checkpoints/)", s.out.display());
}
