//! `neurogen evaluate`: loss, accuracy and perplexity of next-token prediction over a corpus.

use anyhow::{bail, Result};
use clap::Args;
use neurogen::pipeline::corpus::{self, OnBadData};
use neurogen::MAX_SEQUENCE;
use serde_json::json;

use super::{GlobalArgs, ModelArgs};

#[derive(Args)]
pub struct EvaluateArgs {
    /// Corpus: .txt (a document per line), .jsonl (the `text` field of each line) or .jsonl.zst
    /// files, directories or globs.
    #[arg(long)]
    data: String,
    /// Tokens per evaluated sequence, BOS included.
    #[arg(long, default_value_t = 256)]
    seq_len: usize,
    /// At most this many sequences (all evaluated in one call).
    #[arg(long, default_value_t = 256)]
    max_sequences: usize,
    /// What to do with a malformed line or file: report and skip it, or stop.
    #[arg(long, value_enum, default_value = "skip")]
    on_bad_data: OnBadData,
    #[command(flatten)]
    model: ModelArgs,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pub global: GlobalArgs,
}

pub fn run(g: &GlobalArgs, a: &EvaluateArgs) -> Result<()> {
    if a.seq_len > MAX_SEQUENCE {
        bail!("--seq-len {} exceeds the limit of {MAX_SEQUENCE} tokens per sequence", a.seq_len);
    }
    let files = corpus::resolve(&a.data)?;
    let (mut eng, tok) = a.model.load(g)?;
    let (packer, problems) = corpus::load(files, &tok, a.seq_len, 0, a.max_sequences, a.on_bad_data)?;
    let seqs = packer.train;
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
