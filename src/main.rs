//! The `neurogen` command line: parse, then call the library.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use neurogen::pipeline::corpus::{self, OnBadData};
use neurogen::pipeline::run::{self, Budget, RunOptions};
use neurogen::pipeline::{checkpoint, tokenizer};
use neurogen::{create_backend, BackendKind, Engine, GenerateOptions, ModelConfig, Preset, SamplingRule, Tokenizer};
use serde_json::json;

#[derive(Parser)]
#[command(name = "neurogen", version, about = "Run and train a bio-inspired spiking language model on GPUs")]
struct Cli {
    /// Compute backend.
    #[arg(long, value_enum, default_value = "wgpu", global = true)]
    backend: BackendKind,
    /// Model size (SPEC §1) [default: tiny].
    #[arg(long, value_enum, global = true)]
    preset: Option<Preset>,
    /// Seed of the model's initialisation, of sampling and of training.
    #[arg(long, default_value_t = 0, global = true)]
    seed: u64,
    /// Vocabulary size to build the model with when no tokenizer sets it (default: the byte
    /// tokenizer's 259). Larger values size the decoder like a real tokenizer's for `info` and
    /// `bench` (e.g. 32000 for `seed`).
    #[arg(long, global = true)]
    vocab: Option<usize>,
    /// Cognitive steps per token.
    #[arg(long, default_value_t = 1, global = true)]
    ticks_per_token: usize,
    /// Time budget of the main job (no command), in seconds.
    #[arg(long, default_value_t = 120)]
    main_seconds: u64,
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

/// Where a model comes from: a checkpoint, or a fresh one with a tokenizer.
#[derive(Args, Clone)]
struct ModelArgs {
    /// A checkpoint, or a run directory (its latest checkpoint).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// A tokenizer.json (a fresh model's vocabulary follows it); default: bytes.
    #[arg(long, conflicts_with = "checkpoint")]
    tokenizer: Option<PathBuf>,
}

#[derive(Args, Clone)]
struct SampleArgs {
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
}

#[derive(Subcommand)]
enum Command {
    /// Continue a prompt.
    Generate {
        #[arg(long)]
        prompt: String,
        #[command(flatten)]
        sample: SampleArgs,
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long)]
        json: bool,
    },
    /// Loss, accuracy and perplexity of next-token prediction over a corpus (.txt, .jsonl,
    /// .jsonl.zst, directories, globs).
    Evaluate {
        #[arg(long)]
        data: String,
        /// Tokens per evaluated sequence.
        #[arg(long, default_value_t = 256)]
        seq_len: usize,
        /// At most this many sequences.
        #[arg(long, default_value_t = 256)]
        max_sequences: usize,
        #[arg(long, value_enum, default_value = "skip")]
        on_bad_data: OnBadData,
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long)]
        json: bool,
    },
    /// An interactive prompt loop: each line you type is continued by the model.
    Chat {
        #[command(flatten)]
        sample: SampleArgs,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Train on a corpus with a progress bar, metrics, samples, charts and checkpoints.
    Train(TrainArgs),
    /// Tokenizer tools.
    Tokenizer {
        #[command(subcommand)]
        command: TokenizerCommand,
    },
    /// Adapter, limits, parameter count and memory estimate for the preset.
    Info {
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

#[derive(Subcommand)]
enum TokenizerCommand {
    /// Train a byte-level BPE tokenizer and write tokenizer.json.
    Train {
        #[arg(long)]
        data: String,
        #[arg(long)]
        vocab: usize,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args)]
struct TrainArgs {
    /// Corpus: .txt, .jsonl, .jsonl.zst files, directories or globs.
    #[arg(long)]
    data: String,
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// Stop after this many steps …
    #[arg(long, conflicts_with_all = ["tokens", "time"])]
    steps: Option<u64>,
    /// … or this many trained tokens …
    #[arg(long, conflicts_with = "time")]
    tokens: Option<u64>,
    /// … or this many seconds (default: 100 steps).
    #[arg(long)]
    time: Option<u64>,
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Tokens per training sequence (BOS included).
    #[arg(long, default_value_t = 64)]
    seq_len: usize,
    /// Run directory (metrics, samples, charts, checkpoints) [default: runs/<time>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in this directory (or from this checkpoint).
    #[arg(long, conflicts_with = "tokenizer")]
    resume: Option<PathBuf>,
    #[arg(long, default_value_t = 100)]
    checkpoint_every: u64,
    #[arg(long, default_value_t = 50)]
    sample_every: u64,
    /// Every N-th packed sequence is held out for evaluation.
    #[arg(long, default_value_t = 20)]
    held_out_every: usize,
    /// Sequences read from the corpus at most (it is streamed until then).
    #[arg(long, default_value_t = 100_000)]
    max_sequences: usize,
    #[arg(long, value_enum, default_value = "skip")]
    on_bad_data: OnBadData,
    /// Prompt of the text samples.
    #[arg(long, default_value = "the cat")]
    sample_prompt: String,
    /// One JSON object per step on stdout instead of the progress bar.
    #[arg(long)]
    json: bool,
}

fn base_config(cli: &Cli) -> ModelConfig {
    let mut cfg = ModelConfig::preset(cli.preset.unwrap_or(Preset::Tiny));
    if let Some(v) = cli.vocab {
        cfg.vocab = v;
    }
    cfg.ticks_per_token = cli.ticks_per_token;
    cfg
}

/// A model and its tokenizer: from a checkpoint, or fresh.
fn load_model(cli: &Cli, m: &ModelArgs) -> Result<(Engine, Tokenizer)> {
    let be = create_backend(cli.backend)?;
    if let Some(dir) = &m.checkpoint {
        let ck = checkpoint::load(dir)?;
        eprintln!("loaded {} (step {})", ck.dir.display(), ck.manifest.step);
        let eng = Engine::from_snapshot(be, ck.manifest.config.clone(), &ck.snapshot)?;
        return Ok((eng, ck.tokenizer));
    }
    let tok = match &m.tokenizer {
        Some(p) => Tokenizer::from_file(p)?,
        None => Tokenizer::bytes(),
    };
    let mut cfg = base_config(cli);
    if m.tokenizer.is_some() || cli.vocab.is_none() {
        tok.configure(&mut cfg);
    }
    Ok((Engine::new(be, cfg, cli.seed)?, tok))
}

fn rule(s: &SampleArgs) -> SamplingRule {
    let (k, p) = match s.strategy {
        Strategy::Greedy | Strategy::Temperature => (0, 1.0),
        Strategy::TopK => (s.top_k, 1.0),
        Strategy::TopP => (0, s.top_p),
        Strategy::TopKTopP => (s.top_k, s.top_p),
    };
    SamplingRule { greedy: matches!(s.strategy, Strategy::Greedy), temperature: s.temperature, top_k: k, top_p: p }
}

fn prompt_ids(tok: &Tokenizer, text: &str) -> Result<Vec<u32>> {
    Ok(std::iter::once(tok.bos()).chain(tok.encode(text)?).collect())
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
        Some(Command::Generate { prompt, sample, model, json }) => {
            let (mut eng, tok) = load_model(cli, model)?;
            let opts = GenerateOptions { max_new: sample.max_new, rule: rule(sample), seed: cli.seed };
            let out = eng.generate(&[prompt_ids(&tok, prompt)?], &opts)?;
            let ids = &out.tokens[0];
            let s = &out.stats;
            if *json {
                println!(
                    "{}",
                    json!({"tokens": ids, "text": tok.decode(ids), "seconds": s.seconds, "tokens_per_s": ids.len() as f64 / s.seconds,
                           "host_syncs": s.host_syncs, "dispatches": s.dispatches, "spike_rates": s.spike_rates})
                );
            } else {
                println!("{prompt}{}", tok.decode(ids));
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
        Some(Command::Evaluate { data, seq_len, max_sequences, on_bad_data, model, json }) => {
            let (mut eng, tok) = load_model(cli, model)?;
            let files = corpus::resolve(data)?;
            let (packer, problems) = corpus::load(files, &tok, *seq_len, 0, *max_sequences, *on_bad_data)?;
            let mut seqs = packer.train;
            if seqs.is_empty() {
                bail!("{data} holds less than one sequence of {seq_len} tokens");
            }
            seqs.truncate(*max_sequences);
            let out = eng.evaluate(&seqs)?;
            if *json {
                let mut v = serde_json::to_value(&out)?;
                v["sequences"] = json!(seqs.len());
                v["skipped"] = json!(problems.len());
                println!("{v}");
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
        Some(Command::Chat { sample, model }) => chat(cli, sample, model),
        Some(Command::Train(args)) => train(cli, args),
        Some(Command::Tokenizer { command: TokenizerCommand::Train { data, vocab, out } }) => {
            let files: Vec<String> = corpus::resolve(data)?.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            let tok = tokenizer::train_bpe(&files, *vocab, out)?;
            println!("wrote {} ({} tokens)", out.display(), tok.vocab_size());
            Ok(())
        }
        Some(Command::Info { json }) => info(cli, *json),
        Some(Command::Bench { train: false, batch, tokens, repeat, json }) => {
            bench(cli, *batch, *tokens, *repeat, *json)
        }
        Some(Command::Bench { train: true, batch, tokens, repeat, json }) => {
            bench_train(cli, *batch, *tokens, *repeat, *json)
        }
    }
}

fn chat(cli: &Cli, sample: &SampleArgs, model: &ModelArgs) -> Result<()> {
    let (mut eng, tok) = load_model(cli, model)?;
    let opts = GenerateOptions { max_new: sample.max_new, rule: rule(sample), seed: cli.seed };
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    eprintln!("type a prompt and press enter; an empty line or end of input quits");
    loop {
        write!(out, "> ")?;
        out.flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 || line.trim().is_empty() {
            return Ok(());
        }
        let text = line.trim_end_matches(['\n', '\r']);
        match eng.generate(&[prompt_ids(&tok, text)?], &opts) {
            Ok(g) => writeln!(out, "{text}{}", tok.decode(&g.tokens[0]))?,
            Err(e) => eprintln!("error: {e}"),
        }
    }
}

fn run_dir(out: &Option<PathBuf>) -> PathBuf {
    out.clone().unwrap_or_else(|| {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        PathBuf::from("runs").join(format!("run-{secs}"))
    })
}

fn train(cli: &Cli, a: &TrainArgs) -> Result<()> {
    let budget = match (a.steps, a.tokens, a.time) {
        (Some(s), _, _) => Budget::Steps(s),
        (_, Some(t), _) => Budget::Tokens(t),
        (_, _, Some(s)) => Budget::Time(Duration::from_secs(s)),
        _ => Budget::Steps(100),
    };
    let (engine, tok, start, out) = match &a.resume {
        Some(dir) => {
            let ck = checkpoint::load(dir)?;
            let out = a.out.clone().unwrap_or_else(|| run_dir_of(&ck.dir));
            eprintln!("resuming {} at step {}", ck.dir.display(), ck.manifest.train_steps);
            let eng = Engine::from_snapshot(create_backend(cli.backend)?, ck.manifest.config.clone(), &ck.snapshot)?;
            let resume = run::Resume::from_checkpoint(&ck);
            (eng, ck.tokenizer, Some(resume), out)
        }
        None => {
            let (eng, tok) = load_model(cli, &ModelArgs { checkpoint: None, tokenizer: a.tokenizer.clone() })?;
            (eng, tok, None, run_dir(&a.out))
        }
    };
    let files = corpus::resolve(&a.data)?;
    let (packer, problems) = corpus::load(files, &tok, a.seq_len, a.held_out_every, a.max_sequences, a.on_bad_data)?;
    if !problems.is_empty() {
        eprintln!("{} malformed lines or files were skipped", problems.len());
    }
    let opts = RunOptions {
        batch: a.batch,
        budget,
        out,
        seed: cli.seed,
        checkpoint_every: a.checkpoint_every,
        sample_every: a.sample_every,
        sample_prompt: a.sample_prompt.clone(),
        json: a.json,
    };
    let summary = run::train(engine, &tok, &packer.train, &packer.held_out, &opts, start)?;
    report(&summary, a.json);
    Ok(())
}

/// `<run>/checkpoints/<ckpt>` → `<run>`.
fn run_dir_of(ckpt: &Path) -> PathBuf {
    ckpt.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_else(|| ckpt.to_path_buf())
}

fn report(s: &run::RunSummary, as_json: bool) {
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

fn info(cli: &Cli, as_json: bool) -> Result<()> {
    let cfg = base_config(cli);
    cfg.validate()?;
    let be = create_backend(cli.backend)?;
    let i = neurogen::bench::model_info(&*be, &cfg);
    if as_json {
        println!("{}", serde_json::to_value(&i)?);
    } else {
        println!("backend   {} on {}", i.backend, i.device);
        println!("limits    buffer {} B, storage binding {} B", i.max_buffer_bytes, i.max_binding_bytes);
        println!(
            "preset    {} (V = {}, E = {}, {} neurons, {} recurrent synapses)",
            i.preset, i.vocab, i.embed, i.neurons, i.synapses
        );
        println!(
            "params    {} words; memory estimate {:.1} MiB at batch 1 (+{:.1} MiB per sequence)",
            i.parameters,
            i.memory_estimate_bytes_b1 as f64 / 1048576.0,
            i.state_bytes_per_sequence as f64 / 1048576.0
        );
        println!("fits      {}", i.fit_error.as_deref().unwrap_or("yes"));
    }
    Ok(())
}

fn bench_engine(cli: &Cli) -> Result<Engine> {
    Ok(Engine::new(create_backend(cli.backend)?, base_config(cli), cli.seed)?)
}

fn bench(cli: &Cli, batch: usize, tokens: usize, repeat: usize, as_json: bool) -> Result<()> {
    if batch == 0 || tokens == 0 {
        bail!("--batch and --tokens must be at least 1");
    }
    let mut eng = bench_engine(cli)?;
    // The CPU reference has no memory system worth comparing against.
    let measure_copy = cli.backend != BackendKind::Cpu;
    let r = neurogen::bench::generate_throughput(&mut eng, batch, tokens, repeat, cli.seed, measure_copy)?;
    if as_json {
        println!("{}", serde_json::to_value(&r)?);
    } else {
        println!(
            "{} {} preset {} batch {}: {} tokens/sequence in {:.3} s = {:.1} tokens/s ({} host sync, {} dispatches per call)",
            r.backend,
            r.device,
            r.preset,
            r.batch,
            r.tokens,
            r.seconds,
            r.tokens_per_s,
            r.host_syncs_per_call,
            r.dispatches_per_call
        );
        let gbps = r.model_gbytes_per_s;
        match r.copy_gbytes_per_s {
            Some(c) => println!(
                "model traffic {gbps:.1} GB/s = {:.1}% of the measured copy bandwidth {c:.0} GB/s",
                100.0 * gbps / c
            ),
            None => println!("model traffic {gbps:.2} GB/s"),
        }
    }
    Ok(())
}

fn bench_train(cli: &Cli, batch: usize, tokens: usize, repeat: usize, as_json: bool) -> Result<()> {
    if batch == 0 || tokens < 2 {
        bail!("--batch must be at least 1 and --tokens at least 2");
    }
    let mut eng = bench_engine(cli)?;
    let r = neurogen::bench::train_throughput(&mut eng, batch, tokens, repeat)?;
    if as_json {
        println!("{}", serde_json::to_value(&r)?);
    } else {
        println!(
            "train {} {} preset {} batch {} × {} tokens: {:.3} s/step = {:.0} tokens/s ({} host sync, {} dispatches); forward {:.0}%, decode {:.0}%, plasticity {:.0}%",
            r.backend,
            r.device,
            r.preset,
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
    }
    Ok(())
}

/// The embedded default: train on a corpus the project generates itself for a bounded time, then
/// print samples and where the run directory is.
fn main_job(cli: &Cli) -> Result<()> {
    let dir = run_dir(&None);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let corpus_path = dir.join("corpus.txt");
    std::fs::write(&corpus_path, run::embedded_corpus(20_000, cli.seed))?;
    let tok = Tokenizer::bytes();
    let mut cfg = base_config(cli);
    tok.configure(&mut cfg);
    eprintln!(
        "training the `{}` model on {:?} for {} s on a generated corpus ({})…",
        cfg.preset,
        cli.backend,
        cli.main_seconds,
        corpus_path.display()
    );
    let eng = Engine::new(create_backend(cli.backend)?, cfg, cli.seed)?;
    let (packer, _) = corpus::load(
        corpus::resolve(corpus_path.to_str().unwrap_or("corpus.txt"))?,
        &tok,
        64,
        20,
        100_000,
        OnBadData::Refuse,
    )?;
    let opts = RunOptions {
        batch: 8,
        budget: Budget::Time(Duration::from_secs(cli.main_seconds)),
        out: dir,
        seed: cli.seed,
        checkpoint_every: 200,
        sample_every: 0,
        sample_prompt: "the cat".into(),
        json: false,
    };
    let summary = run::train(eng, &tok, &packer.train, &packer.held_out, &opts, None)?;
    println!("trained {} steps", summary.steps);
    report(&summary, false);
    println!("point it at real data: neurogen --backend {:?} train --data 'slimpajama/*.jsonl.zst' --tokenizer tokenizer.json --time 3600", cli.backend);
    Ok(())
}
