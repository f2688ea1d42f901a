//! `neurogen chat`: an interactive prompt loop with line editing and history (rustyline); each
//! line typed is continued by the model.

use anyhow::{Context, Result};
use clap::Args;
use neurogen::GenerateOptions;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::Editor;

use super::{GlobalArgs, ModelArgs, SampleArgs};

#[derive(Args)]
pub struct ChatArgs {
    #[command(flatten)]
    sample: SampleArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Where the line history is kept across sessions [default: ~/.neurogen_history; none if
    /// there is no home directory].
    #[arg(long)]
    history: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub global: GlobalArgs,
}

pub fn run(g: &GlobalArgs, a: &ChatArgs) -> Result<()> {
    let (mut eng, tok) = a.model.load(g)?;
    let opts = GenerateOptions { max_new: a.sample.max_new, rule: a.sample.rule(), seed: g.seed() };
    let history = a
        .history
        .clone()
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".neurogen_history")));
    let mut ed: Editor<(), FileHistory> = Editor::new().context("starting the line editor")?;
    if let Some(h) = &history {
        let _ = ed.load_history(h); // a first session has none
    }
    eprintln!("type a prompt and press enter (arrows edit and recall); Ctrl-D or Ctrl-C quits");
    let mut turn = 0u64;
    loop {
        let line = match ed.readline("> ") {
            Ok(l) => l,
            Err(ReadlineError::Eof | ReadlineError::Interrupted) => break,
            Err(e) => return Err(e).context("reading a line"),
        };
        if line.trim().is_empty() {
            continue;
        }
        let _ = ed.add_history_entry(line.as_str());
        // Each turn samples with its own seed, so repeating a prompt gives a new continuation.
        let opts = GenerateOptions { seed: opts.seed.wrapping_add(turn), ..opts };
        turn += 1;
        match tok.prompt(&line).and_then(|ids| eng.generate(&[ids], &opts)) {
            Ok(out) => println!("{line}{}", tok.decode(&out.tokens[0])),
            Err(e) => eprintln!("error: {e:#}"),
        }
    }
    if let Some(h) = &history {
        if let Err(e) = ed.save_history(h) {
            eprintln!("warning: history not saved to {}: {e}", h.display());
        }
    }
    Ok(())
}
