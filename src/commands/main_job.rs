//! The main job (`neurogen` with no command): train on a corpus the project generates itself for
//! a bounded time, then print samples and where the run directory is. It runs the `train`
//! command's defaults, changing only what is said below.

use anyhow::{Context, Result};
use clap::Args;
use neurogen::pipeline::corpus::OnBadData;
use neurogen::pipeline::run;
use neurogen::{Engine, Tokenizer};

use super::train::{self, TrainArgs};
use super::GlobalArgs;

#[derive(Args)]
pub struct MainJobArgs {
    /// Time budget of the main job (no command), in seconds: it trains this long, then writes
    /// the final checkpoint, a sample and the held-out loss.
    #[arg(long, default_value_t = 120)]
    main_seconds: u64,
}

pub fn run(g: &GlobalArgs, a: &MainJobArgs) -> Result<()> {
    // The run directory is chosen first: the generated corpus is written into it.
    let dir = train::run_dir(&None);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let corpus_path = dir.join("corpus.txt");
    std::fs::write(&corpus_path, run::embedded_corpus(20_000, g.seed()))?;
    // Its data: the generated corpus instead of `--data`.
    let mut args = TrainArgs::defaults(corpus_path.to_str().unwrap_or("corpus.txt"));
    // Its time budget: `--main-seconds` instead of 100 steps, so the job ends on time on any device.
    args.time = Some(a.main_seconds);
    // Half as many checkpoints and no samples during the run: a short unattended job spends its
    // time budget on training; the final checkpoint and sample are written as always.
    args.checkpoint_every = 200;
    args.sample_every = 0;
    // The corpus is the project's own, so a malformed line is a bug to stop on, not to skip.
    args.on_bad_data = OnBadData::Refuse;
    // The byte tokenizer sets the vocabulary even with `--vocab`: the generated corpus is bytes.
    let tok = Tokenizer::bytes();
    let mut cfg = g.base_config()?;
    tok.configure(&mut cfg);
    cfg.validate()?;
    let be = g.create_backend()?;
    let backend = be.info().backend;
    eprintln!(
        "the main job: training the `{}` model on the {backend} backend for {} s on a generated corpus ({}); Ctrl-C stops early with a checkpoint",
        cfg.preset,
        a.main_seconds,
        corpus_path.display()
    );
    let eng = Engine::new(be, cfg, g.seed())?;
    let (record, seed) = args.settings(g, None)?;
    let summary = args.train(record, seed, eng, &tok, dir, None)?;
    println!("trained {} steps", summary.steps);
    train::report(&summary, false);
    if summary.interrupted {
        std::process::exit(130);
    }
    println!("next, real English (LEARNING.md): scripts/corpus.sh python-docs data && neurogen --backend {backend} train --data data/train.jsonl --held-out data/held_out.jsonl --time 600");
    println!("(any corpus works: --data takes .txt, .jsonl, .jsonl.zst, directories and globs)");
    Ok(())
}
