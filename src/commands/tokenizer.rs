//! `neurogen tokenizer`: tokenizer tools.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Subcommand;
use neurogen::pipeline::corpus::{self, DocumentStream, OnBadData};
use neurogen::pipeline::tokenizer;

#[derive(Subcommand)]
pub enum TokenizerCommand {
    /// Train a byte-level BPE tokenizer on a corpus's text and write tokenizer.json.
    Train {
        /// Corpus: .txt, .jsonl (the `text` field of each line) or .jsonl.zst files, directories
        /// or globs, read as `train` reads them.
        #[arg(long)]
        data: String,
        /// Tokens in the vocabulary (at least 260: 256 bytes, BOS, EOS, PAD and merges).
        #[arg(long)]
        vocab: usize,
        /// The tokenizer.json to write (it must not exist unless --force).
        #[arg(long)]
        out: PathBuf,
        /// What to do with a malformed line or file: report and skip it, or stop.
        #[arg(long, value_enum, default_value = "skip")]
        on_bad_data: OnBadData,
        /// Overwrite --out if it exists.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(command: &TokenizerCommand) -> Result<()> {
    match command {
        TokenizerCommand::Train { data, vocab, out, on_bad_data, force } => {
            if out.exists() && !force {
                bail!("{} exists; pass --force to overwrite it", out.display());
            }
            let files = corpus::resolve(data)?;
            let mut docs = DocumentStream::new(files, *on_bad_data);
            let trained = tokenizer::train_bpe(docs.by_ref(), *vocab);
            // A refused line stops the stream: nothing is written.
            let problems = docs.finish()?;
            let tok = trained?;
            tok.save(out)?;
            if !problems.is_empty() {
                eprintln!("{} malformed lines or files were skipped", problems.len());
            }
            println!("wrote {} ({} tokens)", out.display(), tok.vocab_size());
            Ok(())
        }
    }
}
