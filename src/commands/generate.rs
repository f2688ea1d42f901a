//! `neurogen generate`: continue a prompt.

use anyhow::Result;
use clap::Args;
use neurogen::GenerateOptions;
use serde_json::json;

use super::{prompt_ids, GlobalArgs, ModelArgs, SampleArgs};

#[derive(Args)]
pub struct GenerateArgs {
    #[arg(long)]
    prompt: String,
    #[command(flatten)]
    sample: SampleArgs,
    #[command(flatten)]
    model: ModelArgs,
    #[arg(long)]
    json: bool,
}

pub fn run(g: &GlobalArgs, a: &GenerateArgs) -> Result<()> {
    let (mut eng, tok) = a.model.load(g)?;
    let opts = GenerateOptions { max_new: a.sample.max_new, rule: a.sample.rule(), seed: g.seed };
    let out = eng.generate(&[prompt_ids(&tok, &a.prompt)?], &opts)?;
    let ids = &out.tokens[0];
    let s = &out.stats;
    if a.json {
        println!(
            "{}",
            json!({"tokens": ids, "text": tok.decode(ids), "seconds": s.seconds, "tokens_per_s": ids.len() as f64 / s.seconds,
                   "host_syncs": s.host_syncs, "dispatches": s.dispatches, "spike_rates": s.spike_rates})
        );
    } else {
        println!("{}{}", a.prompt, tok.decode(ids));
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
