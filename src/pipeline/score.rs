//! Scores that compare across models and tokenizers: next-token loss, accuracy and perplexity,
//! and bits per byte (the summed nats over the UTF-8 bytes of the text, / ln 2), beside smoothed
//! byte n-gram baselines of the same split (docs/model.md §5).

use serde::Serialize;

use crate::error::{NeuroError, Result};
use crate::orchestrator::Engine;
use crate::pipeline::ngram::{Ngram, NgramScore};
use crate::pipeline::tokenizer::Tokenizer;

/// Sequences one `evaluate` call scores at most.
pub const SCORE_BATCH: usize = 64;

#[derive(Clone, Debug, Serialize)]
pub struct Score {
    /// Mean nats per predicted token.
    pub loss: f64,
    pub accuracy: f64,
    pub perplexity: f64,
    /// Summed nats over every predicted token / ln 2 / the UTF-8 bytes of the predicted text.
    pub bits_per_byte: f64,
    pub positions: u64,
    pub bytes: u64,
    pub sequences: usize,
    pub seconds: f64,
    pub host_syncs: u64,
}

/// Scores `seqs` (each from rest, no learning) in calls of at most `batch` sequences.
pub fn score(eng: &mut Engine, tok: &Tokenizer, seqs: &[Vec<u32>], batch: usize) -> Result<Score> {
    if seqs.is_empty() {
        return Err(NeuroError::InvalidInput("nothing to score: a call needs at least one sequence".into()));
    }
    let (mut nats, mut correct, mut positions, mut seconds, mut syncs) = (0.0, 0.0, 0u64, 0.0, 0u64);
    for chunk in seqs.chunks(batch.max(1)) {
        let out = eng.evaluate(chunk)?;
        nats += out.loss * out.positions as f64;
        correct += out.accuracy * out.positions as f64;
        positions += out.positions;
        seconds += out.stats.seconds;
        syncs += out.stats.host_syncs;
    }
    let bytes = predicted_bytes(tok, seqs);
    let loss = nats / positions.max(1) as f64;
    Ok(Score {
        loss,
        accuracy: correct / positions.max(1) as f64,
        perplexity: loss.exp(),
        bits_per_byte: bits_per_byte(nats, bytes),
        positions,
        bytes,
        sequences: seqs.len(),
        seconds,
        host_syncs: syncs,
    })
}

/// UTF-8 bytes of the text `seqs` predict (every token after the first of each sequence).
pub fn predicted_bytes(tok: &Tokenizer, seqs: &[Vec<u32>]) -> u64 {
    seqs.iter().map(|s| tok.text_bytes(&s[1.min(s.len())..])).sum()
}

/// Bits per byte of `nats` summed over the predictions of `bytes` bytes of text.
pub fn bits_per_byte(nats: f64, bytes: u64) -> f64 {
    nats / std::f64::consts::LN_2 / bytes.max(1) as f64
}

/// The byte documents packed sequences hold, for n-gram baselines: each sequence's text after
/// its BOS, split at EOS (the model too starts every sequence from rest).
pub fn byte_documents(tok: &Tokenizer, seqs: &[Vec<u32>]) -> Vec<Vec<u8>> {
    let eos = tok.eos();
    let mut docs = Vec::new();
    for s in seqs {
        for part in s[1.min(s.len())..].split(|&t| t == eos) {
            docs.push(tok.text_of(part));
        }
    }
    docs
}

/// Interpolated Kneser–Ney byte n-grams of orders 1..=`order`, fitted on `train` and scored on
/// `held_out` (both packed sequences).
pub fn baselines(tok: &Tokenizer, train: &[Vec<u32>], held_out: &[Vec<u32>], order: usize) -> Result<Vec<NgramScore>> {
    let (tr, ho) = (byte_documents(tok, train), byte_documents(tok, held_out));
    let model = Ngram::fit(tr.iter().map(Vec::as_slice), order)?;
    model.evaluate(ho.iter().map(Vec::as_slice))
}
