//! The soak (ignored by default; a few minutes): thousands of `train_step`s of `tiny` with a
//! checkpoint every 500 steps and a resume in the middle. Resident memory must stay flat, no
//! value may turn NaN, and the final checkpoint must load.
//!
//! `cargo test --release --test soak -- --ignored --nocapture`; `NEUROGEN_SOAK_STEPS` (default
//! 10000) and `NEUROGEN_SOAK_BACKEND` (`cpu`, default, or `wgpu`) choose the length and backend.

mod common;

use std::path::Path;

use common::temp_dir;
use neurogen::pipeline::checkpoint::{self, RunRecord};
use neurogen::pipeline::corpus::{self, OnBadData};
use neurogen::pipeline::run::{self, Budget, Resume, RunOptions};
use neurogen::{create_backend, BackendKind, Engine, ModelConfig, Preset, Tokenizer};

/// Resident set size of this process, in MiB (Linux).
fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0.0);
    pages * 4096.0 / 1048576.0
}

fn backend() -> BackendKind {
    match std::env::var("NEUROGEN_SOAK_BACKEND").as_deref() {
        Ok("wgpu") => BackendKind::Wgpu,
        _ => BackendKind::Cpu,
    }
}

/// Trains `out` up to `steps` (resuming its latest checkpoint if it has one).
fn run_to(out: &Path, steps: u64, train: &[Vec<u32>], held_out: &[Vec<u32>]) -> run::RunSummary {
    let tok = Tokenizer::bytes();
    let be = create_backend(backend()).unwrap();
    let (engine, start) = match checkpoint::load(out) {
        Ok(ck) => (
            Engine::from_snapshot(be, ck.manifest.config.clone(), &ck.snapshot).unwrap(),
            Some(Resume::from_checkpoint(&ck)),
        ),
        Err(_) => (Engine::new(be, ModelConfig::preset(Preset::Tiny), 11).unwrap(), None),
    };
    let opts = RunOptions {
        budget: Budget::Steps(steps),
        out: out.to_path_buf(),
        seed: 11,
        checkpoint_every: 500,
        sample_every: 1000,
        sample_prompt: "the".into(),
        json: true,
        record: RunRecord {
            held_out: None,
            data: "embedded".into(),
            batch: 4,
            seq_len: 33,
            held_out_every: 20,
            max_sequences: 100_000,
            tokens: 0,
            seconds: 0.0,
        },
        stop: None,
    };
    run::train(engine, &tok, train, held_out, &opts, start).unwrap()
}

#[test]
#[ignore = "a soak of several minutes: run with --ignored"]
fn ten_thousand_steps_with_checkpoints_and_a_resume_keep_memory_flat() {
    let total: u64 = std::env::var("NEUROGEN_SOAK_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let d = temp_dir("soak");
    let text = d.join("corpus.txt");
    std::fs::write(&text, run::embedded_corpus(20_000, 3)).unwrap();
    let (packer, _) = corpus::load(vec![text], &Tokenizer::bytes(), 33, 20, 100_000, OnBadData::Refuse).unwrap();
    let out = d.join("run");
    let begin = std::time::Instant::now();
    // Warm-up to the first checkpoint, then the first half, then a resume for the second half.
    run_to(&out, 500, &packer.train, &packer.held_out);
    let rss_start = rss_mib();
    run_to(&out, total / 2, &packer.train, &packer.held_out);
    let rss_mid = rss_mib();
    let last = run_to(&out, total, &packer.train, &packer.held_out);
    let rss_end = rss_mib();
    let secs = begin.elapsed().as_secs_f64();

    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let steps: Vec<u64> = rows.iter().map(|r| r["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, (1..=total).collect::<Vec<_>>(), "every step logged once");
    assert!(rows.iter().all(|r| r["loss"].as_f64().is_some_and(f64::is_finite)), "a loss went NaN");
    let ck = checkpoint::load(&out).unwrap();
    assert_eq!(ck.manifest.train_steps, total);
    let held = last.held_out.expect("a held-out split");
    assert!(held.score.loss.is_finite());
    let loss = |r: &[serde_json::Value]| r.iter().map(|m| m["loss"].as_f64().unwrap()).sum::<f64>() / r.len() as f64;
    eprintln!(
        "soak {total} steps on {:?}: {secs:.0} s; RSS start {rss_start:.1} MiB, middle {rss_mid:.1} MiB, end {rss_end:.1} MiB; \
         train loss first 100 {:.3}, last 100 {:.3}; held-out {:.3} nats",
        backend(),
        loss(&rows[..100]),
        loss(&rows[rows.len() - 100..]),
        held.score.loss
    );
    assert!(rss_end - rss_start < 64.0, "resident memory grew from {rss_start:.1} to {rss_end:.1} MiB");
}
