//! `neurogen evaluate`: loss, accuracy and perplexity of next-token prediction over a corpus.

use anyhow::{bail, Result};
use clap::Args;
use neurogen::pipeline::corpus::{self, OnBadData};
use serde_json::json;

use super::{GlobalArgs, ModelArgs};

#[derive(Args)]
pub struct EvaluateArgs {
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
}

pub fn run(g: &GlobalArgs, a: &EvaluateArgs) -> Result<()> {
    let (mut eng, tok) = a.model.load(g)?;
    let files = corpus::resolve(&a.data)?;
    let (packer, problems) = corpus::load(files, &tok, a.seq_len, 0, a.max_sequences, a.on_bad_data)?;
    let mut seqs = packer.train;
    if seqs.is_empty() {
        bail!("{} holds less than one sequence of {} tokens", a.data, a.seq_len);
    }
    seqs.truncate(a.max_sequences);
    let out = eng.evaluate(&seqs)?;
    if a.json {
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
