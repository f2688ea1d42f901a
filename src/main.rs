//! The `neurogen` command line: parse, then run one command (`src/commands/`, one module each),
//! which calls the library.

mod commands;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use commands::{bench, chat, evaluate, generate, info, main_job, tokenizer, train, GlobalArgs};

#[derive(Parser)]
#[command(name = "neurogen", version, about = "Run and train a bio-inspired spiking language model on GPUs")]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(flatten)]
    main_job: main_job::MainJobArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Continue a prompt.
    Generate(generate::GenerateArgs),
    /// Loss, accuracy and perplexity of next-token prediction over a corpus (.txt, .jsonl,
    /// .jsonl.zst, directories, globs).
    Evaluate(evaluate::EvaluateArgs),
    /// An interactive prompt loop: each line you type is continued by the model.
    Chat(chat::ChatArgs),
    /// Train on a corpus with a progress bar, metrics, samples, charts and checkpoints.
    Train(train::TrainArgs),
    /// Tokenizer tools.
    Tokenizer {
        #[command(subcommand)]
        command: tokenizer::TokenizerCommand,
    },
    /// Adapter, limits, parameter count and memory estimate for the preset.
    Info(info::InfoArgs),
    /// Throughput of one-submission generation (or training, with --train).
    Bench(bench::BenchArgs),
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
    let g = &cli.global;
    match &cli.command {
        None => main_job::run(g, &cli.main_job),
        Some(Command::Generate(a)) => generate::run(g, a),
        Some(Command::Evaluate(a)) => evaluate::run(g, a),
        Some(Command::Chat(a)) => chat::run(g, a),
        Some(Command::Train(a)) => train::run(g, a),
        Some(Command::Tokenizer { command }) => tokenizer::run(command),
        Some(Command::Info(a)) => info::run(g, a),
        Some(Command::Bench(a)) => bench::run(g, a),
    }
}
