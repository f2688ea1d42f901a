//! `neurogen bench`: throughput of one-submission generation (or training, with `--train`). What
//! is measured is [`neurogen::bench`]'s; this checks the arguments and prints the row.

use anyhow::{bail, Result};
use clap::Args;
use neurogen::{bench, Engine};

use super::GlobalArgs;

#[derive(Args)]
pub struct BenchArgs {
    /// Time train_step instead, with the share of forward, decode and plasticity.
    #[arg(long)]
    train: bool,
    /// Sequences per call.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Tokens generated per sequence (with --train: the length of each trained sequence).
    #[arg(long, default_value_t = 256)]
    tokens: usize,
    /// Timed repetitions after one warm-up call.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// One JSON object (the BENCHMARKS.md row) instead of text.
    #[arg(long)]
    json: bool,
    /// Also time one more call kernel by kernel (CUDA: no graph for that call; the CPU
    /// reference: each op's wall time) and report where its time goes.
    #[arg(long)]
    profile: bool,
    #[command(flatten)]
    pub global: GlobalArgs,
}

pub fn run(g: &GlobalArgs, a: &BenchArgs) -> Result<()> {
    if a.train {
        train(g, a)
    } else {
        generate(g, a)
    }
}

/// A fresh model of the global arguments (the default byte vocabulary unless `--vocab`).
fn engine(g: &GlobalArgs) -> Result<Engine> {
    Ok(Engine::new(g.create_backend()?, g.base_config()?, g.seed())?)
}

fn generate(g: &GlobalArgs, a: &BenchArgs) -> Result<()> {
    if a.batch == 0 || a.tokens == 0 {
        bail!("--batch and --tokens must be at least 1");
    }
    let mut eng = engine(g)?;
    // The CPU reference has no memory system worth comparing against.
    let host = eng.backend().info().host_memory;
    let r = bench::generate_throughput(&mut eng, a.batch, a.tokens, a.repeat, g.seed(), !host, a.profile)?;
    if a.json {
        println!("{}", serde_json::to_value(&r)?);
    } else {
        println!(
            "{} {} preset {} {} batch {}: {} tokens/sequence in {:.3} s = {:.1} tokens/s ({} host sync, {} dispatches per call)",
            r.backend,
            r.device,
            r.preset,
            r.precision.name(),
            r.batch,
            r.tokens,
            r.seconds,
            r.tokens_per_s,
            r.host_syncs_per_call,
            r.dispatches_per_call
        );
        traffic(r.model_gbytes_per_s, r.copy_gbytes_per_s, r.peak_bytes);
        print_profile(&r.profile, a.profile);
    }
    Ok(())
}

/// The kernels of a profiled call that took the most time, as one line.
fn print_profile(profile: &Option<Vec<neurogen::backend::KernelTime>>, requested: bool) {
    match profile {
        Some(rows) => {
            let total: f64 = rows.iter().map(|k| k.ms).sum();
            let top: Vec<String> = rows
                .iter()
                .take(8)
                .map(|k| format!("{} {:.1}% ({:.2} ms/{})", k.name, 100.0 * k.ms / total.max(1e-12), k.ms, k.launches))
                .collect();
            println!("profile of one more call ({total:.2} ms launch by launch): {}", top.join(", "));
        }
        None if requested => println!("profile: this backend cannot time its launches"),
        None => {}
    }
}

/// The second line of a text row: the model's traffic against the copy bandwidth, and memory.
fn traffic(gbps: f64, copy: Option<f64>, peak_bytes: u64) {
    let peak = format!("peak buffers {:.1} MiB", peak_bytes as f64 / (1u64 << 20) as f64);
    match copy {
        Some(c) => println!(
            "model traffic {gbps:.1} GB/s = {:.1}% of the measured copy bandwidth {c:.0} GB/s; {peak}",
            100.0 * gbps / c
        ),
        None => println!("model traffic {gbps:.2} GB/s; {peak}"),
    }
}

fn train(g: &GlobalArgs, a: &BenchArgs) -> Result<()> {
    if a.batch == 0 || a.tokens < 2 {
        bail!("--batch must be at least 1 and --tokens at least 2");
    }
    let mut eng = engine(g)?;
    let host = eng.backend().info().host_memory;
    let r = bench::train_throughput(&mut eng, a.batch, a.tokens, a.repeat, !host, a.profile)?;
    if a.json {
        println!("{}", serde_json::to_value(&r)?);
    } else {
        println!(
            "train {} {} preset {} {} batch {} × {} tokens: {:.3} s/step = {:.0} tokens/s ({} host sync, {} dispatches); forward {:.0}%, decode {:.0}%, plasticity {:.0}%",
            r.backend,
            r.device,
            r.preset,
            r.precision.name(),
            r.batch,
            r.tokens,
            r.seconds,
            r.tokens_per_s,
            r.host_syncs_per_call,
            r.dispatches_per_call,
            100.0 * r.share_forward,
            100.0 * r.share_decode,
            100.0 * r.share_plasticity
        );
        traffic(r.model_gbytes_per_s, r.copy_gbytes_per_s, r.peak_bytes);
        print_profile(&r.profile, a.profile);
    }
    Ok(())
}
