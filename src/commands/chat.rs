//! `neurogen chat`: an interactive prompt loop; each line typed is continued by the model.

use std::io::{BufRead, Write};

use anyhow::Result;
use clap::Args;
use neurogen::GenerateOptions;

use super::{prompt_ids, GlobalArgs, ModelArgs, SampleArgs};

#[derive(Args)]
pub struct ChatArgs {
    #[command(flatten)]
    sample: SampleArgs,
    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(g: &GlobalArgs, a: &ChatArgs) -> Result<()> {
    let (mut eng, tok) = a.model.load(g)?;
    let opts = GenerateOptions { max_new: a.sample.max_new, rule: a.sample.rule(), seed: g.seed };
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
