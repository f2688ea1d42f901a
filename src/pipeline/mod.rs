//! The user's pipeline around the engine: text → tokens → packed sequences → training run →
//! checkpoints, metrics and charts. Nothing in the engine core (`backend`, `model`,
//! `orchestrator`) depends on it.

/// PNG charts of a run's `metrics.jsonl`.
pub mod charts;
/// Versioned, checksummed safetensors checkpoints written atomically, and loading them back.
pub mod checkpoint;
/// Corpus readers (.txt, .jsonl, .jsonl.zst, directories, globs), bad-data policy and packing.
pub mod corpus;
/// One line of `metrics.jsonl`, shared by the run that writes it and the charts that read it.
pub mod metrics;
/// Interpolated Kneser–Ney byte n-gram baselines: the bits/byte to compare the engine's with.
pub mod ngram;
/// A training run: budget, progress bar, metrics, samples, checkpoints, held-out evaluation.
pub mod run;
/// Bits per byte and next-token scores over a corpus, beside n-gram baselines of the same split.
pub mod score;
/// Byte-level and `tokenizer.json` tokenizers, and byte-level BPE training.
pub mod tokenizer;
/// The training loop around `Engine::train_step`: sleep scheduling and the replay buffer.
pub mod trainer;
