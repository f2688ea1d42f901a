//! `neurogen tokenizer`: tokenizer tools.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use neurogen::pipeline::{corpus, tokenizer};

#[derive(Subcommand)]
pub enum TokenizerCommand {
    /// Train a byte-level BPE tokenizer and write tokenizer.json.
    Train {
        #[arg(long)]
        data: String,
        #[arg(long)]
        vocab: usize,
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(command: &TokenizerCommand) -> Result<()> {
    match command {
        TokenizerCommand::Train { data, vocab, out } => {
            let files: Vec<String> = corpus::resolve(data)?.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            let tok = tokenizer::train_bpe(&files, *vocab, out)?;
            println!("wrote {} ({} tokens)", out.display(), tok.vocab_size());
            Ok(())
        }
    }
}
