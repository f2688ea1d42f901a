//! `neurogen baseline`: bits/byte and accuracy of smoothed byte n-gram models (interpolated
//! modified Kneser–Ney, orders 1 to --order) fitted on one corpus and scored on another, to
//! compare the engine's bits/byte with. No backend and no model.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use neurogen::pipeline::corpus::{self, Documents, OnBadData};
use neurogen::pipeline::ngram::{Ngram, MAX_ORDER};
use serde_json::json;

#[derive(Args)]
pub struct BaselineArgs {
    /// Training corpus: .txt (a document per line), .jsonl (the `text` field of each line) or
    /// .jsonl.zst files, directories or globs.
    #[arg(long)]
    data: String,
    /// Held-out corpus scored by the fitted models, in the same forms as --data.
    #[arg(long)]
    held_out: String,
    /// Highest n-gram order (a context of N − 1 bytes), 1 to 8; every order from 1 up is scored.
    #[arg(long, default_value_t = 5)]
    order: usize,
    /// What to do with a malformed line or file: report and skip it, or stop.
    #[arg(long, value_enum, default_value = "skip")]
    on_bad_data: OnBadData,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(a: &BaselineArgs) -> Result<()> {
    if a.order == 0 || a.order > MAX_ORDER {
        bail!("--order {} is out of range: it must be 1 to {MAX_ORDER}", a.order);
    }
    let started = Instant::now();
    let (train, train_skipped) = read(&a.data, a.on_bad_data).with_context(|| format!("--data {}", a.data))?;
    let (held, held_skipped) =
        read(&a.held_out, a.on_bad_data).with_context(|| format!("--held-out {}", a.held_out))?;
    let train_bytes: u64 = train.iter().map(|d| d.len() as u64).sum();
    let held_bytes: u64 = held.iter().map(|d| d.len() as u64).sum();
    if train_bytes == 0 {
        bail!("--data {}: the training split holds no text", a.data);
    }
    if held_bytes == 0 {
        bail!("--held-out {}: the held-out split holds no text", a.held_out);
    }
    let model = Ngram::fit(train.iter().map(|d| d.as_bytes()), a.order)?;
    let scores = model.evaluate(held.iter().map(|d| d.as_bytes()))?;
    let seconds = started.elapsed().as_secs_f64();
    if a.json {
        let orders: Vec<_> = scores
            .iter()
            .map(|s| json!({"order": s.order, "bits_per_byte": s.bits_per_byte, "accuracy": s.accuracy}))
            .collect();
        let v = json!({
            "train_bytes": train_bytes,
            "held_out_bytes": held_bytes,
            "train_documents": train.len(),
            "held_out_documents": held.len(),
            "skipped": train_skipped + held_skipped,
            "seconds": seconds,
            "orders": orders,
        });
        println!("{v}");
    } else {
        println!(
            "interpolated Kneser-Ney byte n-grams fitted on {} bytes ({} documents), scored on {} bytes ({} documents) held out",
            thousands(train_bytes),
            thousands(train.len() as u64),
            thousands(held_bytes),
            thousands(held.len() as u64)
        );
        for s in &scores {
            println!(
                "order {}: {:.3} bits/byte, accuracy {:.2} % ({} bytes held out)",
                s.order,
                s.bits_per_byte,
                s.accuracy * 100.0,
                thousands(s.bytes)
            );
        }
        eprintln!("{seconds:.2} s");
    }
    Ok(())
}

/// Every document of a corpus spec, and how many malformed lines or files were skipped.
fn read(spec: &str, on_bad: OnBadData) -> Result<(Vec<String>, usize)> {
    let mut docs = Documents::new(corpus::resolve(spec)?, on_bad);
    let mut out = Vec::new();
    while let Some(d) = docs.next_document()? {
        out.push(d);
    }
    if !docs.problems.is_empty() {
        eprintln!("{spec}: {} malformed lines or files were skipped", docs.problems.len());
    }
    Ok((out, docs.problems.len()))
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_groups_digits() {
        for (n, want) in [(0, "0"), (999, "999"), (1000, "1,000"), (1234567, "1,234,567"), (100000, "100,000")] {
            assert_eq!(super::thousands(n), want);
        }
    }
}
