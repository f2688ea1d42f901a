//! `neurogen evaluate`: bits per byte, loss, accuracy and perplexity of next-token prediction
//! over a corpus.

use anyhow::{bail, Result};
use clap::Args;
use neurogen::pipeline::corpus::{self, OnBadData};
use neurogen::pipeline::score::{score, SCORE_BATCH};
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
    /// At most this many sequences (0: the whole corpus).
    #[arg(long, default_value_t = 256)]
    max_sequences: usize,
    /// Sequences scored per call (one submission and one host sync each).
    #[arg(long, default_value_t = SCORE_BATCH)]
    batch: usize,
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
    if a.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let files = corpus::resolve(&a.data)?;
    let (mut eng, tok) = a.model.load(g)?;
    let max = if a.max_sequences == 0 { usize::MAX } else { a.max_sequences };
    let (packer, problems) = corpus::load(files, &tok, a.seq_len, 0, max, a.on_bad_data)?;
    let seqs = packer.train;
    let out = score(&mut eng, &tok, &seqs, a.batch)?;
    if a.json {
        let mut v = serde_json::to_value(&out)?;
        v["skipped"] = json!(problems.len());
        println!("{v}");
    } else {
        println!(
            "{:.4} bits/byte  loss {:.4} nats/token  accuracy {:.2}%  perplexity {:.2}  over {} positions ({} bytes) in {} sequences ({:.2} s, {} host syncs)",
            out.bits_per_byte,
            out.loss,
            out.accuracy * 100.0,
            out.perplexity,
            out.positions,
            out.bytes,
            out.sequences,
            out.seconds,
            out.host_syncs
        );
    }
    Ok(())
}
