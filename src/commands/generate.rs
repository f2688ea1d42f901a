//! `neurogen generate`: continue a prompt.

use std::io::Write;

use anyhow::Result;
use clap::Args;
use neurogen::GenerateOptions;
use serde_json::json;

use super::{GlobalArgs, ModelArgs, SampleArgs};

#[derive(Args)]
pub struct GenerateArgs {
    /// The text to continue (BOS is put before it).
    #[arg(long)]
    prompt: String,
    #[command(flatten)]
    sample: SampleArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// One JSON object (tokens, text, timing, host syncs, spike rates) instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pub global: GlobalArgs,
}

pub fn run(g: &GlobalArgs, a: &GenerateArgs) -> Result<()> {
    let (mut eng, tok) = a.model.load(g)?;
    let opts = GenerateOptions { max_new: a.sample.max_new, rule: a.sample.rule(), seed: g.seed() };
    let prompt = tok.prompt(&a.prompt)?;
    let mut stdout = std::io::stdout();
    if !a.json {
        print!("{}", a.prompt);
    }
    // Text is printed as each segment finishes: the decoded text so far, less what was printed.
    let mut printed = String::new();
    let out = eng.generate_streaming(&[prompt], &opts, |so_far| {
        if a.json {
            return;
        }
        let text = tok.decode(&so_far[0]);
        // A segment can end inside a multi-byte character: hold back an unfinished tail.
        let stable = text.trim_end_matches('\u{FFFD}');
        if let Some(new) = stable.strip_prefix(printed.as_str()) {
            print!("{new}");
            let _ = stdout.flush();
            printed = stable.to_string();
        }
    })?;
    let ids = &out.tokens[0];
    let s = &out.stats;
    if a.json {
        println!(
            "{}",
            json!({"tokens": ids, "text": tok.decode(ids), "seconds": s.seconds, "tokens_per_s": ids.len() as f64 / s.seconds,
                   "host_syncs": s.host_syncs, "dispatches": s.dispatches, "spike_rates": s.spike_rates})
        );
    } else {
        let text = tok.decode(ids);
        println!("{}", text.strip_prefix(printed.as_str()).unwrap_or(""));
        eprintln!(
            "{} tokens in {:.3} s ({:.1} tokens/s), {} host sync(s), {} dispatches",
            ids.len(),
            s.seconds,
            ids.len() as f64 / s.seconds.max(1e-9),
            s.host_syncs,
            s.dispatches
        );
    }
    Ok(())
}
