//! The `neurogen` command line: parse, then call the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use neurogen::{create_backend, text, BackendKind, Engine, GenerateOptions, ModelConfig, Preset, SamplingRule};
use serde_json::json;

#[derive(Parser)]
#[command(name = "neurogen", version, about = "Run a bio-inspired spiking language model on GPUs")]
struct Cli {
    /// Compute backend.
    #[arg(long, value_enum, default_value = "wgpu", global = true)]
    backend: BackendKind,
    /// Model size (SPEC §1) [default: tiny; small for the main job].
    #[arg(long, value_enum, global = true)]
    preset: Option<Preset>,
    /// Seed of the model's initialisation and of sampling.
    #[arg(long, default_value_t = 0, global = true)]
    seed: u64,
    /// Vocabulary size to build the model with (default: the byte tokenizer's 259). Larger values
    /// size the decoder like a real tokenizer's for `info` and `bench` (e.g. 32000 for `seed`).
    #[arg(long, global = true)]
    vocab: Option<usize>,
    /// Cognitive steps per token.
    #[arg(long, default_value_t = 1, global = true)]
    ticks_per_token: usize,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Strategy {
    Greedy,
    Temperature,
    TopK,
    TopP,
    /// Top-k, then top-p over what top-k kept.
    TopKTopP,
}

#[derive(Subcommand)]
enum Command {
    /// Continue a prompt.
    Generate {
        #[arg(long)]
        prompt: String,
        #[arg(long, default_value_t = 64)]
        max_new: usize,
        #[arg(long, value_enum, default_value = "top-k-top-p")]
        strategy: Strategy,
        #[arg(long, default_value_t = 0.8)]
        temperature: f32,
        #[arg(long, default_value_t = 40)]
        top_k: u32,
        #[arg(long, default_value_t = 0.9)]
        top_p: f32,
        #[arg(long)]
        json: bool,
    },
    /// Loss, accuracy and perplexity of next-byte prediction over a text file (one sequence per line).
    Evaluate {
        #[arg(long)]
        data: PathBuf,
        /// Longest sequence in tokens; longer lines are split.
        #[arg(long, default_value_t = 256)]
        seq_len: usize,
        #[arg(long)]
        json: bool,
    },
    /// Adapter, limits, parameter count and memory estimate for the preset.
    Info {
        #[arg(long)]
        json: bool,
    },
    /// Train on a text file (byte-level): one JSON object per step with --json.
    Train {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 100)]
        steps: u64,
        #[arg(long, default_value_t = 8)]
        batch: usize,
        /// Tokens per training sequence (BOS included).
        #[arg(long, default_value_t = 64)]
        seq_len: usize,
        #[arg(long)]
        json: bool,
    },
    /// Throughput of one-submission generation (or training, with --train).
    Bench {
        /// Time train_step instead, with the share of forward, decode and plasticity.
        #[arg(long)]
        train: bool,
        #[arg(long, default_value_t = 1)]
        batch: usize,
        #[arg(long, default_value_t = 256)]
        tokens: usize,
        /// Timed repetitions after one warm-up call.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        #[arg(long)]
        json: bool,
    },
}

fn config(cli: &Cli) -> ModelConfig {
    let preset = cli.preset.unwrap_or(if cli.command.is_none() { Preset::Small } else { Preset::Tiny });
    let mut cfg = ModelConfig::preset(preset);
    if let Some(v) = cli.vocab {
        cfg.vocab = v;
    }
    cfg.ticks_per_token = cli.ticks_per_token;
    cfg
}

fn engine(cli: &Cli) -> Result<Engine> {
    let be = create_backend(cli.backend)?;
    Ok(Engine::new(be, config(cli), cli.seed)?)
}

fn rule(strategy: Strategy, temperature: f32, top_k: u32, top_p: f32) -> SamplingRule {
    let (k, p) = match strategy {
        Strategy::Greedy | Strategy::Temperature => (0, 1.0),
        Strategy::TopK => (top_k, 1.0),
        Strategy::TopP => (0, top_p),
        Strategy::TopKTopP => (top_k, top_p),
    };
    SamplingRule { greedy: matches!(strategy, Strategy::Greedy), temperature, top_k: k, top_p: p }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<()> {
    match &cli.command {
        None => main_job(cli),
        Some(Command::Generate { prompt, max_new, strategy, temperature, top_k, top_p, json }) => {
            let mut eng = engine(cli)?;
            let opts = GenerateOptions {
                max_new: *max_new,
                rule: rule(*strategy, *temperature, *top_k, *top_p),
                seed: cli.seed,
            };
            let out = eng.generate(&[text::encode(prompt)], &opts)?;
            let ids = &out.tokens[0];
            let s = &out.stats;
            if *json {
                println!(
                    "{}",
                    json!({"tokens": ids, "text": text::decode(ids), "seconds": s.seconds, "tokens_per_s": ids.len() as f64 / s.seconds,
                           "host_syncs": s.host_syncs, "dispatches": s.dispatches, "spike_rates": s.spike_rates})
                );
            } else {
                println!("{}{}", prompt, text::decode(ids));
                eprintln!(
                    "{} tokens in {:.3} s ({:.1} tokens/s), {} host sync, {} dispatches",
                    ids.len(),
                    s.seconds,
                    ids.len() as f64 / s.seconds,
                    s.host_syncs,
                    s.dispatches
                );
            }
            Ok(())
        }
        Some(Command::Evaluate { data, seq_len, json }) => {
            if *seq_len < 2 {
                bail!("--seq-len must be at least 2");
            }
            let raw = std::fs::read_to_string(data).with_context(|| format!("reading {}", data.display()))?;
            let seqs: Vec<Vec<u32>> = raw
                .lines()
                .filter(|l| !l.trim().is_empty())
                .flat_map(|l| text::encode(l).chunks(*seq_len).map(<[u32]>::to_vec).collect::<Vec<_>>())
                .filter(|s| s.len() >= 2)
                .collect();
            if seqs.is_empty() {
                bail!("{} holds no text to evaluate", data.display());
            }
            let mut eng = engine(cli)?;
            let out = eng.evaluate(&seqs)?;
            if *json {
                println!("{}", serde_json::to_string(&out)?);
            } else {
                println!(
                    "loss {:.4}  accuracy {:.2}%  perplexity {:.2}  over {} positions in {} sequences ({:.2} s, {} host sync)",
                    out.loss,
                    out.accuracy * 100.0,
                    out.perplexity,
                    out.positions,
                    seqs.len(),
                    out.stats.seconds,
                    out.stats.host_syncs
                );
            }
            Ok(())
        }
        Some(Command::Info { json }) => info(cli, *json),
        Some(Command::Bench { train: false, batch, tokens, repeat, json }) => {
            bench(cli, *batch, *tokens, *repeat, *json)
        }
        Some(Command::Bench { train: true, batch, tokens, repeat, json }) => {
            bench_train(cli, *batch, *tokens, *repeat, *json)
        }
        Some(Command::Train { data, steps, batch, seq_len, json }) => train(cli, data, *steps, *batch, *seq_len, *json),
    }
}

fn info(cli: &Cli, as_json: bool) -> Result<()> {
    let cfg = config(cli);
    cfg.validate()?;
    let be = create_backend(cli.backend)?;
    let dev = be.info();
    let fits = neurogen::orchestrator::check_fits(&*be, &cfg, 1);
    let v = json!({
        "backend": dev.backend, "device": dev.device,
        "max_buffer_bytes": dev.max_buffer_bytes, "max_binding_bytes": dev.max_binding_bytes,
        "memory_bytes": dev.memory_bytes,
        "preset": cfg.preset, "vocab": cfg.vocab, "embed": cfg.embed,
        "neurons": cfg.neurons(), "synapses": cfg.synapses(),
        "parameters": cfg.parameter_words(),
        "memory_estimate_bytes_b1": cfg.memory_bytes(1),
        "state_bytes_per_sequence": 4 * cfg.state_words_per_sequence(),
        "fits": fits.is_ok(),
        "fit_error": fits.err().map(|e| e.to_string()),
    });
    if as_json {
        println!("{v}");
    } else {
        println!("backend   {} on {}", dev.backend, dev.device);
        println!("limits    buffer {} B, storage binding {} B", dev.max_buffer_bytes, dev.max_binding_bytes);
        println!(
            "preset    {} (V = {}, E = {}, {} neurons, {} recurrent synapses)",
            cfg.preset,
            cfg.vocab,
            cfg.embed,
            cfg.neurons(),
            cfg.synapses()
        );
        println!(
            "params    {} words; memory estimate {:.1} MiB at batch 1 (+{:.1} MiB per sequence)",
            cfg.parameter_words(),
            cfg.memory_bytes(1) as f64 / 1048576.0,
            4.0 * cfg.state_words_per_sequence() as f64 / 1048576.0
        );
        println!("fits      {}", v["fit_error"].as_str().unwrap_or("yes"));
    }
    Ok(())
}

fn bench(cli: &Cli, batch: usize, tokens: usize, repeat: usize, as_json: bool) -> Result<()> {
    if batch == 0 || tokens == 0 {
        bail!("--batch and --tokens must be at least 1");
    }
    let mut eng = engine(cli)?;
    let prompts = vec![vec![eng.config().bos]; batch];
    let opts = GenerateOptions {
        max_new: tokens,
        rule: SamplingRule { greedy: false, temperature: 1.0, top_k: 0, top_p: 1.0 },
        seed: cli.seed,
    };
    eng.generate(&prompts, &opts)?; // warm-up: pipelines, buffers, caches
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let out = eng.generate(&prompts, &opts)?;
        best = best.min(out.stats.seconds);
        last = Some(out.stats);
    }
    let s = last.expect("at least one run");
    let dev = eng.backend().info();
    let tps = (batch * tokens) as f64 / best;
    let bytes = neurogen::bench::bytes_per_tick(eng.config(), batch, true) as f64 * s.ticks as f64;
    let gbps = bytes / best / 1e9;
    let copy = if cli.backend == BackendKind::Cpu {
        None
    } else {
        Some(neurogen::bench::copy_bandwidth(eng.backend_mut())? / 1e9)
    };
    let v = json!({
        "backend": dev.backend, "device": dev.device, "preset": eng.config().preset, "vocab": eng.config().vocab,
        "batch": batch, "tokens": tokens, "seconds": best, "tokens_per_s": tps,
        "host_syncs_per_call": s.host_syncs, "dispatches_per_call": s.dispatches,
        "ticks_per_call": s.ticks, "spike_rates": s.spike_rates,
        "model_gbytes_per_s": gbps, "copy_gbytes_per_s": copy, "bandwidth_fraction": copy.map(|c| gbps / c),
    });
    if as_json {
        println!("{v}");
    } else {
        println!(
            "{} {} preset {} batch {batch}: {tokens} tokens/sequence in {best:.3} s = {tps:.1} tokens/s ({} host sync, {} dispatches per call)",
            dev.backend, dev.device, eng.config().preset, s.host_syncs, s.dispatches
        );
        match copy {
            Some(c) => println!(
                "model traffic {gbps:.1} GB/s = {:.1}% of the measured copy bandwidth {c:.0} GB/s",
                100.0 * gbps / c
            ),
            None => println!("model traffic {gbps:.2} GB/s"),
        }
    }
    Ok(())
}

/// Byte-level training sequences of `seq_len` tokens (BOS + bytes) cut from a text file.
fn sequences(path: &PathBuf, seq_len: usize) -> Result<Vec<Vec<u32>>> {
    if seq_len < 2 {
        bail!("--seq-len must be at least 2");
    }
    let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let seqs: Vec<Vec<u32>> = raw
        .chunks(seq_len - 1)
        .filter(|c| !c.is_empty())
        .map(|c| std::iter::once(neurogen::config::BYTE_BOS).chain(c.iter().map(|&b| b as u32)).collect())
        .collect();
    if seqs.is_empty() {
        bail!("{} is empty", path.display());
    }
    Ok(seqs)
}

fn train(cli: &Cli, data: &PathBuf, steps: u64, batch: usize, seq_len: usize, as_json: bool) -> Result<()> {
    if batch == 0 {
        bail!("--batch must be at least 1");
    }
    let seqs = sequences(data, seq_len)?;
    let mut trainer = neurogen::trainer::Trainer::new(engine(cli)?, cli.seed);
    for step in 0..steps {
        let start = (step as usize * batch) % seqs.len();
        let b: Vec<Vec<u32>> = (0..batch).map(|i| seqs[(start + i) % seqs.len()].clone()).collect();
        let rep = trainer.step(&b)?;
        let t = &rep.train;
        let tps = b.iter().map(|s| s.len() - 1).sum::<usize>() as f64 / t.stats.seconds;
        if as_json {
            println!(
                "{}",
                json!({"step": rep.step, "loss": t.loss, "accuracy": t.accuracy, "tokens_per_s": tps,
                       "host_syncs_per_call": t.stats.host_syncs, "dispatches_per_call": t.stats.dispatches,
                       "grad_norm": t.grad_norm, "spike_rates": t.stats.spike_rates,
                       "slept": rep.sleep.as_ref().map(|(s, _)| s)})
            );
        } else {
            println!(
                "step {:>5}  loss {:.4}  accuracy {:5.1}%  {:.0} tokens/s  |g| {:.3}",
                rep.step,
                t.loss,
                100.0 * t.accuracy,
                tps,
                t.grad_norm
            );
            if let Some((s, _)) = &rep.sleep {
                println!(
                    "      sleep: pruned {} synapses, lowered θ of {} silent neurons, replayed the best sequences",
                    s.pruned, s.silent_neurons
                );
            }
        }
    }
    Ok(())
}

/// Training throughput, with the share of time in forward, decode and plasticity measured by
/// recording the step up to each phase.
fn bench_train(cli: &Cli, batch: usize, tokens: usize, repeat: usize, as_json: bool) -> Result<()> {
    if batch == 0 || tokens < 2 {
        bail!("--batch must be at least 1 and --tokens at least 2");
    }
    let mut eng = engine(cli)?;
    let v = eng.config().vocab as u32;
    let seqs: Vec<Vec<u32>> =
        (0..batch).map(|b| (0..tokens).map(|t| ((t * 31 + b * 7) as u32) % v.min(256)).collect()).collect();
    let mut time = |phase| -> Result<(f64, neurogen::TrainOutput)> {
        eng.train_step_until(&seqs, phase)?;
        let mut best = f64::INFINITY;
        let mut last = None;
        for _ in 0..repeat.max(1) {
            let out = eng.train_step_until(&seqs, phase)?;
            best = best.min(out.stats.seconds);
            last = Some(out);
        }
        Ok((best, last.expect("ran")))
    };
    let (t_fwd, _) = time(neurogen::TrainPhase::Forward)?;
    let (t_dec, _) = time(neurogen::TrainPhase::Decode)?;
    let (t_all, out) = time(neurogen::TrainPhase::All)?;
    let dev = eng.backend().info();
    let n = (batch * (tokens - 1)) as f64;
    let share = |x: f64| (x / t_all).clamp(0.0, 1.0);
    let v = json!({
        "backend": dev.backend, "device": dev.device, "preset": eng.config().preset, "vocab": eng.config().vocab,
        "batch": batch, "tokens": tokens, "seconds": t_all, "tokens_per_s": n / t_all,
        "host_syncs_per_call": out.stats.host_syncs, "dispatches_per_call": out.stats.dispatches,
        "share_forward": share(t_fwd), "share_decode": share(t_dec - t_fwd), "share_plasticity": share(t_all - t_dec),
    });
    if as_json {
        println!("{v}");
    } else {
        println!(
            "train {} {} preset {} batch {batch} × {tokens} tokens: {:.3} s/step = {:.0} tokens/s ({} host sync, {} dispatches); forward {:.0}%, decode {:.0}%, plasticity {:.0}%",
            dev.backend, dev.device, eng.config().preset, t_all, n / t_all, out.stats.host_syncs, out.stats.dispatches,
            100.0 * share(t_fwd), 100.0 * share(t_dec - t_fwd), 100.0 * share(t_all - t_dec)
        );
    }
    Ok(())
}

/// The embedded default: build a small model, generate from a built-in prompt, print throughput.
fn main_job(cli: &Cli) -> Result<()> {
    let cfg = config(cli);
    eprintln!("building the `{}` model on {:?}…", cfg.preset, cli.backend);
    let mut eng = Engine::new(create_backend(cli.backend)?, cfg, cli.seed)?;
    let prompt = "The brain learns language by";
    let opts = GenerateOptions { max_new: 500, rule: rule(Strategy::TopKTopP, 0.8, 40, 0.9), seed: cli.seed };
    eng.generate(&[text::encode(prompt)], &GenerateOptions { max_new: 8, ..opts })?; // warm-up
    let out = eng.generate(&[text::encode(prompt)], &opts)?;
    let s = &out.stats;
    let n = out.tokens[0].len();
    println!("{prompt}{}", text::decode(&out.tokens[0]));
    println!(
        "\n{} on {}: {n} tokens in {:.3} s = {:.1} tokens/s, {} host synchronisation, {} dispatches",
        eng.config().preset,
        eng.backend().info().device,
        s.seconds,
        n as f64 / s.seconds,
        s.host_syncs,
        s.dispatches
    );
    let rates: Vec<String> = neurogen::ModuleId::ALL
        .iter()
        .zip(s.spike_rates)
        .map(|(m, r)| format!("{} {:.1}%", m.name(), r * 100.0))
        .collect();
    println!("spike rates: {}", rates.join(", "));
    println!("(the model is untrained: the text is noise until the training issue lands)");
    Ok(())
}
