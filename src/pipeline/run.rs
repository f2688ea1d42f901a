//! A training run as a researcher uses it: corpus → packed sequences → `Trainer` steps with a
//! progress bar, metrics as JSON Lines, text samples, periodic and final checkpoints, held-out
//! evaluation and PNG charts, all in one run directory; `--resume` continues a run bit for bit on
//! the CPU backend.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{NeuroError, Result};
use crate::orchestrator::{Engine, GenerateOptions};
use crate::pipeline::metrics::Metrics;
use crate::pipeline::tokenizer::Tokenizer;
use crate::pipeline::trainer::{ReplayBuffer, Trainer};
use crate::pipeline::{charts, checkpoint};
use crate::sampling::SamplingRule;

/// When a run stops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    Steps(u64),
    Tokens(u64),
    Time(Duration),
}

pub struct RunOptions {
    pub batch: usize,
    pub budget: Budget,
    pub out: PathBuf,
    pub seed: u64,
    pub checkpoint_every: u64,
    pub sample_every: u64,
    pub sample_prompt: String,
    /// JSON Lines on stdout instead of a progress bar.
    pub json: bool,
}

/// Where a resumed run continues: data position, data steps taken, replay buffer.
pub struct Resume {
    pub position: u64,
    pub steps: u64,
    pub replay: ReplayBuffer,
}

impl Resume {
    pub fn from_checkpoint(ck: &checkpoint::Checkpoint) -> Resume {
        let cap = ck.manifest.config.learn.replay_capacity;
        Resume {
            position: ck.manifest.data_position,
            steps: ck.manifest.train_steps,
            replay: ReplayBuffer::from_items(cap, ck.replay.clone()),
        }
    }
}

/// What a finished run reports.
pub struct RunSummary {
    pub out: PathBuf,
    pub steps: u64,
    pub held_out: Option<crate::orchestrator::EvalOutput>,
    pub samples: Vec<(u64, String)>,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> NeuroError {
    NeuroError::InvalidInput(format!("{}: {e}", path.display()))
}

/// Text generated for the samples file and the final printout.
pub fn sample_text(eng: &mut Engine, tok: &Tokenizer, prompt: &str, seed: u64, max_new: usize) -> Result<String> {
    let ids: Vec<u32> = std::iter::once(tok.bos()).chain(tok.encode(prompt)?).collect();
    let rule = SamplingRule { greedy: false, temperature: 0.8, top_k: 40, top_p: 0.9 };
    let out = eng.generate(&[ids], &GenerateOptions { max_new, rule, seed })?;
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
        return Err(NeuroError::InvalidInput(
            "the corpus yielded no training sequence (is it shorter than one sequence?)".into(),
        ));
    }
    if opts.batch == 0 {
        return Err(NeuroError::InvalidInput("the batch needs at least one sequence".into()));
    }
    let out = &opts.out;
    std::fs::create_dir_all(out.join("checkpoints")).map_err(|e| io_err(out, e))?;
    let mut trainer = Trainer::new(engine, opts.seed);
    let mut position = 0u64;
    if let Some(r) = start {
        position = r.position;
        trainer.replay = r.replay;
        trainer.resume_at(r.steps);
    }
    let metrics_path = out.join("metrics.jsonl");
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
    let mut tokens_done = 0u64;
    let mut samples = Vec::new();
    // Sampling seeds derive from (seed, step), so a resumed run samples as an uninterrupted one.
    let sample_seed = |step: u64| opts.seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    loop {
        let done = match opts.budget {
            Budget::Steps(n) => trainer.steps() >= n,
            Budget::Tokens(n) => tokens_done >= n,
            Budget::Time(d) => begin.elapsed() >= d,
        };
        if done {
            break;
        }
        let batch: Vec<Vec<u32>> =
            (0..opts.batch).map(|i| train[((position + i as u64) % train.len() as u64) as usize].clone()).collect();
        position += opts.batch as u64;
        let rep = trainer.step(&batch)?;
        let t = &rep.train;
        tokens_done += per_step_tokens(&batch);
        let m = Metrics {
            step: rep.step,
            loss: t.loss,
            accuracy: t.accuracy,
            tokens: tokens_done,
            tokens_per_s: per_step_tokens(&batch) as f64 / t.stats.seconds,
            seconds: begin.elapsed().as_secs_f64(),
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
            Budget::Time(_) => begin.elapsed().as_secs(),
        });
        bar.set_message(format!("loss {:.3}  acc {:.1}%  {:.0} tok/s", m.loss, 100.0 * m.accuracy, m.tokens_per_s));
        let step = trainer.steps();
        if opts.sample_every > 0 && step % opts.sample_every == 0 {
            let s = sample_text(&mut trainer.engine, tok, &opts.sample_prompt, sample_seed(step), 48)?;
            samples.push((step, s));
        }
        if opts.checkpoint_every > 0 && step % opts.checkpoint_every == 0 {
            save_checkpoint(&mut trainer, tok, opts, position)?;
        }
    }
    bar.finish_and_clear();
    save_checkpoint(&mut trainer, tok, opts, position)?;
    let steps = trainer.steps();
    samples.push((steps, sample_text(&mut trainer.engine, tok, &opts.sample_prompt, sample_seed(steps), 64)?));
    write_samples(out, &samples)?;
    let held_out = if held_out.is_empty() {
        None
    } else {
        let n = held_out.len().min(64);
        Some(trainer.engine.evaluate(&held_out[..n])?)
    };
    if let Some(h) = &held_out {
        let path = out.join("held_out.json");
        checkpoint::write_atomic(&path, serde_json::to_string_pretty(h).expect("serialisable").as_bytes())?;
    }
    charts::draw_all(&metrics_path, &out.join("charts"))?;
    Ok(RunSummary { out: out.clone(), steps, held_out, samples })
}

fn save_checkpoint(trainer: &mut Trainer, tok: &Tokenizer, opts: &RunOptions, position: u64) -> Result<()> {
    let snap = trainer.engine.snapshot()?;
    let dir = opts.out.join("checkpoints").join(format!("step-{:08}", trainer.steps()));
    let cfg = trainer.engine.config().clone();
    checkpoint::save(&dir, &snap, &cfg, tok, opts.seed, trainer.steps(), position, trainer.replay.items())
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
