//! The `neurogen` command line: parse, then run one command (`src/commands/`, one module each),
//! which calls the library.

mod commands;

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use commands::{baseline, bench, chat, evaluate, generate, info, main_job, tokenizer, train, GlobalArgs};

const ABOUT: &str = "Run and train a bio-inspired spiking language model on GPUs";

const LONG_ABOUT: &str = "Run and train a bio-inspired spiking language model on GPUs.

With no command, `neurogen` runs the main job: it writes a small generated English-like corpus into \
a new run directory (runs/run-<time>), trains the chosen preset (default tiny) on it for \
--main-seconds (default 120) with a progress bar, then prints a sample, the held-out loss and where \
the run directory is (metrics.jsonl, samples.json, charts/, checkpoints/). Point `train` at real \
data afterwards.";

#[derive(Parser)]
#[command(name = "neurogen", version, about = ABOUT, long_about = LONG_ABOUT)]
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
    /// An interactive prompt loop with line editing and history: each line you type is
    /// continued by the model.
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
    /// Bits/byte and accuracy of smoothed byte n-gram models (interpolated Kneser–Ney, orders 1
    /// to --order) fitted on one corpus and scored on another: baselines for the model's bits/byte.
    Baseline(baseline::BaselineArgs),
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    quiet_display_probes();
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Vulkan drivers probe for a Wayland display while enumerating adapters, and libwayland prints
/// `error: XDG_RUNTIME_DIR is invalid or not set` when it is unset (containers, CI, ssh). We use
/// no display; a private empty runtime directory silences the probe.
fn quiet_display_probes() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
        return;
    }
    #[cfg(unix)]
    let made = {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        // One directory per user (the owner of /proc/self is this process's user), reused.
        let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("neurogen-runtime-{uid}"));
        let ok = dir.is_dir() || std::fs::DirBuilder::new().mode(0o700).create(&dir).is_ok();
        ok.then_some(dir)
    };
    #[cfg(not(unix))]
    let made: Option<std::path::PathBuf> = None;
    if let Some(dir) = made {
        // Set before any thread starts: nothing else reads the environment concurrently.
        std::env::set_var("XDG_RUNTIME_DIR", dir);
    }
}

fn run(cli: &Cli) -> Result<()> {
    let before = &cli.global;
    match &cli.command {
        None => main_job::run(before, &cli.main_job),
        Some(Command::Generate(a)) => generate::run(&a.global.over(before), a),
        Some(Command::Evaluate(a)) => evaluate::run(&a.global.over(before), a),
        Some(Command::Chat(a)) => chat::run(&a.global.over(before), a),
        Some(Command::Train(a)) => train::run(&a.global.over(before), a),
        Some(Command::Tokenizer { command }) => {
            if !before.given().is_empty() {
                bail!("{} do not apply to `tokenizer`", before.given().join(", "));
            }
            tokenizer::run(command)
        }
        Some(Command::Info(a)) => info::run(&a.global.over(before), a),
        Some(Command::Bench(a)) => bench::run(&a.global.over(before), a),
        Some(Command::Baseline(a)) => {
            if !before.given().is_empty() {
                bail!("{} do not apply to `baseline`: it uses no model and no backend", before.given().join(", "));
            }
            baseline::run(a)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every flag of every command says what it does (many had no help line).
    #[test]
    fn every_flag_of_every_command_has_a_help_line() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let builtin = matches!(a.get_id().as_str(), "help" | "version");
                if !builtin && a.get_help().is_none() {
                    missing.push(format!("{path} --{}", a.get_long().unwrap_or(a.get_id().as_str())));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(format!("{path} {} (no about)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        let mut missing = Vec::new();
        walk(&cmd, "neurogen", &mut missing);
        assert!(missing.is_empty(), "flags without help: {missing:?}");
        let help = cmd.render_long_help().to_string();
        for want in ["main job", "4,352 neurons", "65,536 neurons", "1,182,720 neurons", "--main-seconds"] {
            assert!(help.contains(want), "`neurogen --help` lacks {want:?}");
        }
    }
}
