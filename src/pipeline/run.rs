//! A training run as a researcher uses it: corpus → packed sequences → `Trainer` steps with a
//! progress bar, metrics as JSON Lines, text samples, periodic and final checkpoints, held-out
//! evaluation and PNG charts, all in one run directory; `--resume` continues a run bit for bit on
//! the CPU backend, its counters (steps, tokens, seconds) and files (metrics, samples) included.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{NeuroError, Result};
use crate::orchestrator::{Engine, GenerateOptions};
use crate::pipeline::charts;
use crate::pipeline::checkpoint::{self, Progress, RunRecord};
use crate::pipeline::metrics::{Metrics, BASELINES};
use crate::pipeline::ngram::NgramScore;
use crate::pipeline::score::{self, Score, SCORE_BATCH};
use crate::pipeline::tokenizer::Tokenizer;
use crate::pipeline::trainer::{ReplayBuffer, Trainer};
use crate::sampling::Strategy;

/// When a run stops. Each counts the whole run, so a resumed run stops where an uninterrupted
/// one would.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    Steps(u64),
    Tokens(u64),
    Time(Duration),
}

pub struct RunOptions {
    pub budget: Budget,
    pub out: PathBuf,
    pub seed: u64,
    pub checkpoint_every: u64,
    pub sample_every: u64,
    pub sample_prompt: String,
    /// JSON Lines on stdout instead of a progress bar.
    pub json: bool,
    /// The run's settings (its batch is the batch trained on), stored in every checkpoint; its
    /// totals are filled in as it goes.
    pub record: RunRecord,
    /// Set (by a Ctrl-C handler) to stop after the current step: checkpoint, then return.
    pub stop: Option<Arc<AtomicBool>>,
}

/// Where a resumed run continues: data position, steps, tokens and seconds so far, replay buffer.
pub struct Resume {
    pub position: u64,
    pub steps: u64,
    pub tokens: u64,
    pub seconds: f64,
    pub replay: ReplayBuffer,
}

impl Resume {
    pub fn from_checkpoint(ck: &checkpoint::Checkpoint) -> Resume {
        let cap = ck.manifest.config.learn.replay_capacity;
        let run = ck.manifest.run.as_ref();
        Resume {
            position: ck.manifest.data_position,
            steps: ck.manifest.train_steps,
            tokens: run.map_or(0, |r| r.tokens),
            seconds: run.map_or(0.0, |r| r.seconds),
            replay: ReplayBuffer::from_items(cap, ck.replay.clone()),
        }
    }
}

/// What a finished run reports.
pub struct RunSummary {
    pub out: PathBuf,
    pub steps: u64,
    pub held_out: Option<HeldOut>,
    pub samples: Vec<(u64, String)>,
    /// The run stopped early on request ([`RunOptions::stop`]); its checkpoint was written.
    pub interrupted: bool,
}

/// What `held_out.json` holds: the model's scores on the held-out split, beside smoothed byte
/// n-gram baselines fitted on the run's training split (orders 1..=[`BASELINE_ORDER`]).
#[derive(Clone, Debug, serde::Serialize)]
pub struct HeldOut {
    #[serde(flatten)]
    pub score: Score,
    pub ngram: Vec<NgramScore>,
}

/// The highest n-gram order a run compares with.
pub const BASELINE_ORDER: usize = 5;
/// Held-out sequences a run's final evaluation scores at most.
pub const HELD_OUT_SEQUENCES: usize = 1024;

/// The files a run directory holds (metrics, samples, charts, checkpoints): a directory with any
/// of them is a run, which a new run must not mix with.
pub const RUN_FILES: [&str; 6] = ["metrics.jsonl", "samples.json", "held_out.json", BASELINES, "charts", "checkpoints"];

/// Whether `dir` already holds a run.
pub fn is_run_dir(dir: &Path) -> bool {
    RUN_FILES.iter().any(|f| dir.join(f).exists())
}

/// Makes `dir` ready for a new run: refuses one that holds a run, unless `force`, which deletes
/// that run's files. `train` calls it for a fresh run; the CLI calls it before the (slow) corpus
/// load as well, to fail early.
pub fn claim_run_dir(dir: &Path, force: bool) -> Result<()> {
    if !is_run_dir(dir) {
        return Ok(());
    }
    if !force {
        return Err(NeuroError::InvalidInput(format!(
            "{} already holds a run; continue it with --resume {0}, choose another --out, or pass --force to start anew there (deleting that run)",
            dir.display()
        )));
    }
    clear_run_dir(dir)
}

/// Removes a run's files from `dir`.
fn clear_run_dir(dir: &Path) -> Result<()> {
    for f in RUN_FILES {
        let p = dir.join(f);
        let r = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else if p.exists() {
            std::fs::remove_file(&p)
        } else {
            Ok(())
        };
        r.map_err(|e| io_err(&p, e))?;
    }
    Ok(())
}

/// A resumed run's existing metrics, without the lines of steps after `step` (a crash after the
/// last checkpoint leaves some, which the resumed run writes again).
fn metrics_up_to(path: &Path, step: u64) -> String {
    let Ok(text) = std::fs::read_to_string(path) else { return String::new() };
    let mut kept = String::new();
    for line in text.lines() {
        match serde_json::from_str::<Metrics>(line) {
            Ok(m) if m.step <= step => {
                kept.push_str(line);
                kept.push('\n');
            }
            _ => {}
        }
    }
    kept
}

/// A resumed run's samples up to `step`.
fn samples_up_to(out: &Path, step: u64) -> Vec<(u64, String)> {
    let Ok(text) = std::fs::read_to_string(out.join("samples.json")) else { return Vec::new() };
    let v: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap_or_default();
    v.iter()
        .filter_map(|s| Some((s.get("step")?.as_u64()?, s.get("text")?.as_str()?.to_string())))
        .filter(|(s, _)| *s <= step)
        .collect()
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> NeuroError {
    NeuroError::InvalidInput(format!("{}: {e}", path.display()))
}

/// Text generated for the samples file and the final printout.
pub fn sample_text(eng: &mut Engine, tok: &Tokenizer, prompt: &str, seed: u64, max_new: usize) -> Result<String> {
    let rule = Strategy::default_rule();
    let out = eng.generate(&[tok.prompt(prompt)?], &GenerateOptions { max_new, rule, seed })?;
    Ok(format!("{prompt}{}", tok.decode(&out.tokens[0])))
}

/// Runs training on packed sequences. `start` carries a resumed run's data position and replay
/// buffer; the trainer's engine must already hold the resumed state.
pub fn train(
    engine: Engine,
    tok: &Tokenizer,
    train: &[Vec<u32>],
    held_out: &[Vec<u32>],
    opts: &RunOptions,
    start: Option<Resume>,
) -> Result<RunSummary> {
    if train.is_empty() {
        return Err(NeuroError::InvalidInput("training needs at least one sequence".into()));
    }
    let batch_size = opts.record.batch;
    if batch_size == 0 {
        return Err(NeuroError::InvalidInput("the batch needs at least one sequence".into()));
    }
    let out = &opts.out;
    if start.is_none() {
        claim_run_dir(out, false)?;
    }
    std::fs::create_dir_all(out.join("checkpoints")).map_err(|e| io_err(out, e))?;
    let mut trainer = Trainer::new(engine, opts.seed);
    let mut order = Shuffled::new(train.len(), opts.seed);
    let mut position = 0u64;
    let (mut tokens_done, mut seconds_before) = (0u64, 0.0f64);
    let metrics_path = out.join("metrics.jsonl");
    let mut samples = Vec::new();
    if let Some(r) = start {
        position = r.position;
        trainer.replay = r.replay;
        trainer.resume_at(r.steps);
        tokens_done = r.tokens;
        seconds_before = r.seconds;
        checkpoint::write_atomic(&metrics_path, metrics_up_to(&metrics_path, r.steps).as_bytes())?;
        samples = samples_up_to(out, r.steps);
    }
    // Baselines of this very split, so the chart and held_out.json say what the model must beat.
    let ngram = if held_out.is_empty() { Vec::new() } else { score::baselines(tok, train, held_out, BASELINE_ORDER)? };
    let text = serde_json::to_string_pretty(&ngram).expect("serialisable");
    checkpoint::write_atomic(&out.join(BASELINES), text.as_bytes())?;
    let mut metrics_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&metrics_path)
        .map_err(|e| io_err(&metrics_path, e))?;
    let per_step_tokens = |b: &[Vec<u32>]| b.iter().map(|s| s.len() as u64 - 1).sum::<u64>();
    let bar = if opts.json {
        ProgressBar::hidden()
    } else {
        let (len, unit) = match opts.budget {
            Budget::Steps(n) => (n, "steps"),
            Budget::Tokens(n) => (n, "tokens"),
            Budget::Time(d) => (d.as_secs(), "s"),
        };
        let pb = ProgressBar::new(len);
        pb.set_style(
            ProgressStyle::with_template(&format!("{{bar:30}} {{pos}}/{{len}} {unit} ETA {{eta}}  {{msg}}"))
                .expect("valid template"),
        );
        pb
    };
    let begin = Instant::now();
    let seconds = || seconds_before + begin.elapsed().as_secs_f64();
    let stopped = || opts.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst));
    let mut interrupted = false;
    // Sampling seeds derive from (seed, step), so a resumed run samples as an uninterrupted one.
    let sample_seed = |step: u64| opts.seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    loop {
        let done = match opts.budget {
            Budget::Steps(n) => trainer.steps() >= n,
            Budget::Tokens(n) => tokens_done >= n,
            Budget::Time(d) => seconds() >= d.as_secs_f64(),
        };
        if done {
            break;
        }
        if stopped() {
            interrupted = true;
            break;
        }
        let batch: Vec<Vec<u32>> = (0..batch_size).map(|i| train[order.at(position + i as u64)].clone()).collect();
        position += batch_size as u64;
        let rep = trainer.step(&batch)?;
        let t = &rep.train;
        tokens_done += per_step_tokens(&batch);
        let m = Metrics {
            step: rep.step,
            loss: t.loss,
            bits_per_byte: score::bits_per_byte(t.loss * t.positions as f64, score::predicted_bytes(tok, &batch)),
            accuracy: t.accuracy,
            tokens: tokens_done,
            tokens_per_s: per_step_tokens(&batch) as f64 / t.stats.seconds,
            seconds: seconds(),
            host_syncs_per_call: t.stats.host_syncs,
            grad_norm: t.grad_norm,
            spike_rates: t.stats.spike_rates,
            dopamine: t.dopamine,
            serotonin: t.serotonin,
        };
        let line = serde_json::to_string(&m).expect("serialisable");
        writeln!(metrics_file, "{line}").map_err(|e| io_err(&metrics_path, e))?;
        if opts.json {
            println!("{line}");
        }
        bar.set_position(match opts.budget {
            Budget::Steps(_) => trainer.steps(),
            Budget::Tokens(_) => tokens_done,
            Budget::Time(_) => seconds() as u64,
        });
        bar.set_message(format!("loss {:.3}  acc {:.1}%  {:.0} tok/s", m.loss, 100.0 * m.accuracy, m.tokens_per_s));
        let step = trainer.steps();
        if opts.sample_every > 0 && step % opts.sample_every == 0 {
            let s = sample_text(&mut trainer.engine, tok, &opts.sample_prompt, sample_seed(step), 48)?;
            samples.push((step, s));
        }
        if opts.checkpoint_every > 0 && step % opts.checkpoint_every == 0 {
            write_samples(out, &samples)?;
            save_checkpoint(&mut trainer, tok, opts, position, tokens_done, seconds())?;
        }
    }
    bar.finish_and_clear();
    save_checkpoint(&mut trainer, tok, opts, position, tokens_done, seconds())?;
    let steps = trainer.steps();
    if interrupted {
        // Asked to stop: the checkpoint is what matters; no final sample or evaluation.
        write_samples(out, &samples)?;
        charts::draw_all(&metrics_path, &out.join("charts"))?;
        return Ok(RunSummary { out: out.clone(), steps, held_out: None, samples, interrupted });
    }
    samples.push((steps, sample_text(&mut trainer.engine, tok, &opts.sample_prompt, sample_seed(steps), 64)?));
    write_samples(out, &samples)?;
    let held_out = if held_out.is_empty() {
        None
    } else {
        let n = held_out.len().min(HELD_OUT_SEQUENCES);
        let score = score::score(&mut trainer.engine, tok, &held_out[..n], SCORE_BATCH)?;
        Some(HeldOut { score, ngram })
    };
    if let Some(h) = &held_out {
        let path = out.join("held_out.json");
        checkpoint::write_atomic(&path, serde_json::to_string_pretty(h).expect("serialisable").as_bytes())?;
    }
    charts::draw_all(&metrics_path, &out.join("charts"))?;
    Ok(RunSummary { out: out.clone(), steps, held_out, samples, interrupted })
}

/// The order sequences are trained in: a fresh seeded permutation of the corpus every epoch, so
/// consecutive steps do not read consecutive text of one document (and a resumed run, which
/// knows its data position, reads what an uninterrupted one would).
struct Shuffled {
    len: usize,
    seed: u64,
    epoch: u64,
    perm: Vec<usize>,
}

impl Shuffled {
    fn new(len: usize, seed: u64) -> Shuffled {
        let mut s = Shuffled { len, seed, epoch: 0, perm: Vec::new() };
        s.shuffle(0);
        s
    }

    fn shuffle(&mut self, epoch: u64) {
        use rand::seq::SliceRandom;
        let mut r = ChaCha8Rng::seed_from_u64(self.seed ^ 0x5EED_0F_DA7A ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        self.perm = (0..self.len).collect();
        self.perm.shuffle(&mut r);
        self.epoch = epoch;
    }

    /// The sequence read at data position `position`.
    fn at(&mut self, position: u64) -> usize {
        let epoch = position / self.len as u64;
        if epoch != self.epoch {
            self.shuffle(epoch);
        }
        self.perm[(position % self.len as u64) as usize]
    }
}

fn save_checkpoint(
    trainer: &mut Trainer,
    tok: &Tokenizer,
    opts: &RunOptions,
    position: u64,
    tokens: u64,
    seconds: f64,
) -> Result<()> {
    let snap = trainer.engine.snapshot()?;
    let dir = opts.out.join("checkpoints").join(format!("step-{:08}", trainer.steps()));
    let cfg = trainer.engine.config().clone();
    let at = Progress {
        seed: opts.seed,
        train_steps: trainer.steps(),
        data_position: position,
        replay: trainer.replay.items(),
        run: Some(RunRecord { tokens, seconds, ..opts.record.clone() }),
    };
    checkpoint::save(&dir, &snap, &cfg, tok, &at)
}

fn write_samples(out: &Path, samples: &[(u64, String)]) -> Result<()> {
    let v: Vec<serde_json::Value> = samples.iter().map(|(s, t)| serde_json::json!({"step": s, "text": t})).collect();
    checkpoint::write_atomic(&out.join("samples.json"), serde_json::to_string_pretty(&v).expect("json").as_bytes())
}

/// The embedded default corpus: simple sentences from a small generated grammar, seeded, so the
/// main job needs no download.
pub fn embedded_corpus(sentences: usize, seed: u64) -> String {
    const SUBJECTS: [&str; 8] =
        ["the cat", "a dog", "the bird", "my friend", "the child", "a teacher", "the fox", "her brother"];
    const VERBS: [&str; 8] = ["sees", "likes", "follows", "finds", "helps", "watches", "calls", "meets"];
    const OBJECTS: [&str; 8] =
        ["the ball", "a tree", "the river", "an apple", "the house", "a book", "the moon", "the garden"];
    const ENDS: [&str; 4] = [".", " today.", " again.", " at night."];
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let mut s = String::new();
    for i in 0..sentences {
        let subj = SUBJECTS[r.random_range(0..SUBJECTS.len())];
        // Verbs follow subjects and objects follow verbs with a preference, so there is structure to learn.
        let v = (SUBJECTS.iter().position(|x| *x == subj).unwrap_or(0) + r.random_range(0..3)) % VERBS.len();
        let o = (v * 3 + r.random_range(0..2)) % OBJECTS.len();
        s.push_str(subj);
        s.push(' ');
        s.push_str(VERBS[v]);
        s.push(' ');
        s.push_str(OBJECTS[o]);
        s.push_str(ENDS[r.random_range(0..ENDS.len())]);
        s.push(if i % 6 == 5 { '\n' } else { ' ' });
    }
    s
}
