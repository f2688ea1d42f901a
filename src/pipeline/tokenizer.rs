//! Tokenizers: byte-level (the embedded default: 256 bytes + BOS, EOS, PAD), any Hugging Face
//! `tokenizer.json` through the `tokenizers` crate, or token ids without text; and BPE training.
//! The model's V follows the tokenizer.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::AddedToken;

use crate::config::{ModelConfig, BYTE_BOS, BYTE_EOS, BYTE_PAD, BYTE_VOCAB};
use crate::error::{NeuroError, Result};

/// Special tokens a trained BPE tokenizer gets (and that a loaded one is searched for).
const BOS_NAMES: [&str; 4] = ["<s>", "<bos>", "<|begin_of_text|>", "<|endoftext|>"];
const EOS_NAMES: [&str; 4] = ["</s>", "<eos>", "<|end_of_text|>", "<|endoftext|>"];
const PAD_NAMES: [&str; 3] = ["<pad>", "<|pad|>", "[PAD]"];

fn tok_err(what: impl std::fmt::Display) -> NeuroError {
    NeuroError::InvalidInput(format!("tokenizer: {what}"))
}

/// How a checkpoint names its tokenizer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenizerSpec {
    Bytes,
    /// A `tokenizer.json` stored beside the checkpoint's manifest.
    File {
        file: String,
    },
    /// Token ids only, no text, V = `vocab`.
    Ids {
        vocab: usize,
    },
}

pub enum Tokenizer {
    Bytes,
    Hf {
        tk: Box<tokenizers::Tokenizer>,
        bos: u32,
        eos: u32,
        pad: u32,
        json: String,
    },
    /// Token ids without text: a model whose V was given without a tokenizer, trained and run on
    /// ids a tokenizer elsewhere made (the Python binding's `vocab=` and `NeuroGenModel`). BOS, EOS
    /// and PAD are the byte tokenizer's ids; encoding text is refused, and ids decode to no text.
    Ids {
        vocab: usize,
    },
}

impl Tokenizer {
    pub fn bytes() -> Tokenizer {
        Tokenizer::Bytes
    }

    /// Token ids `0..vocab` without text.
    pub fn ids(vocab: usize) -> Tokenizer {
        Tokenizer::Ids { vocab }
    }

    /// Loads a `tokenizer.json` and finds its BOS/EOS/PAD tokens.
    pub fn from_file(path: &Path) -> Result<Tokenizer> {
        let json = std::fs::read_to_string(path).map_err(|e| tok_err(format!("reading {}: {e}", path.display())))?;
        Tokenizer::from_json(&json).map_err(|e| match e {
            NeuroError::InvalidInput(m) => {
                tok_err(format!("{}: {}", path.display(), m.trim_start_matches("tokenizer: ")))
            }
            e => e,
        })
    }

    pub fn from_json(json: &str) -> Result<Tokenizer> {
        let tk: tokenizers::Tokenizer = json.parse().map_err(|e| tok_err(format!("not a tokenizer.json: {e}")))?;
        let find = |names: &[&str]| names.iter().find_map(|n| tk.token_to_id(n));
        let bos = find(&BOS_NAMES).ok_or_else(|| tok_err(format!("no BOS token (looked for {BOS_NAMES:?})")))?;
        let eos = find(&EOS_NAMES).ok_or_else(|| tok_err(format!("no EOS token (looked for {EOS_NAMES:?})")))?;
        let pad = find(&PAD_NAMES).unwrap_or(eos);
        Ok(Tokenizer::Hf { tk: Box::new(tk), bos, eos, pad, json: json.to_string() })
    }

    /// The tokenizer a checkpoint names, reading its file from `dir`.
    pub fn from_spec(spec: &TokenizerSpec, dir: &Path) -> Result<Tokenizer> {
        match spec {
            TokenizerSpec::Bytes => Ok(Tokenizer::Bytes),
            TokenizerSpec::File { file } => Tokenizer::from_file(&dir.join(file)),
            TokenizerSpec::Ids { vocab } => Ok(Tokenizer::Ids { vocab: *vocab }),
        }
    }

    pub fn spec(&self) -> TokenizerSpec {
        match self {
            Tokenizer::Bytes => TokenizerSpec::Bytes,
            Tokenizer::Hf { .. } => TokenizerSpec::File { file: "tokenizer.json".into() },
            Tokenizer::Ids { vocab } => TokenizerSpec::Ids { vocab: *vocab },
        }
    }

    /// Writes the `tokenizer.json` atomically (the byte tokenizer has none to write).
    pub fn save(&self, path: &Path) -> Result<()> {
        match self.json() {
            Some(json) => crate::pipeline::checkpoint::write_atomic(path, json.as_bytes()),
            None => Err(tok_err("only a tokenizer loaded from a tokenizer.json has one to write")),
        }
    }

    /// The `tokenizer.json` text, for tokenizers that have one.
    pub fn json(&self) -> Option<&str> {
        match self {
            Tokenizer::Hf { json, .. } => Some(json),
            Tokenizer::Bytes | Tokenizer::Ids { .. } => None,
        }
    }

    /// Whether ids stand for text (false for [`Tokenizer::Ids`]).
    pub fn has_text(&self) -> bool {
        !matches!(self, Tokenizer::Ids { .. })
    }

    pub fn vocab_size(&self) -> usize {
        match self {
            Tokenizer::Bytes => BYTE_VOCAB,
            Tokenizer::Hf { tk, .. } => tk.get_vocab_size(true),
            Tokenizer::Ids { vocab } => *vocab,
        }
    }

    pub fn bos(&self) -> u32 {
        match self {
            Tokenizer::Bytes | Tokenizer::Ids { .. } => BYTE_BOS,
            Tokenizer::Hf { bos, .. } => *bos,
        }
    }

    pub fn eos(&self) -> u32 {
        match self {
            Tokenizer::Bytes | Tokenizer::Ids { .. } => BYTE_EOS,
            Tokenizer::Hf { eos, .. } => *eos,
        }
    }

    pub fn pad(&self) -> u32 {
        match self {
            Tokenizer::Bytes | Tokenizer::Ids { .. } => BYTE_PAD,
            Tokenizer::Hf { pad, .. } => *pad,
        }
    }

    /// Sets V and the special tokens of a model configuration.
    pub fn configure(&self, cfg: &mut ModelConfig) {
        cfg.vocab = self.vocab_size();
        cfg.bos = self.bos();
        cfg.eos = self.eos();
        cfg.pad = self.pad();
    }

    /// Token ids of `text` (no BOS/EOS added).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        match self {
            Tokenizer::Bytes => Ok(text.bytes().map(u32::from).collect()),
            Tokenizer::Hf { tk, .. } => Ok(tk.encode(text, false).map_err(tok_err)?.get_ids().to_vec()),
            Tokenizer::Ids { vocab } => Err(tok_err(format!(
                "this model has token ids only (V = {vocab}), no tokenizer to encode text: pass token ids, or build the model with a tokenizer"
            ))),
        }
    }

    /// A prompt's ids: BOS, then the text's tokens.
    pub fn prompt(&self, text: &str) -> Result<Vec<u32>> {
        Ok(std::iter::once(self.bos()).chain(self.encode(text)?).collect())
    }

    /// UTF-8 bytes of the text `ids` stand for (special tokens count none): the denominator of
    /// bits per byte, so that models with different tokenizers compare.
    pub fn text_bytes(&self, ids: &[u32]) -> u64 {
        self.text_of(ids).len() as u64
    }

    /// The bytes of the text `ids` stand for (special tokens dropped; the byte tokenizer's bytes
    /// as they are, valid UTF-8 or not).
    pub fn text_of(&self, ids: &[u32]) -> Vec<u8> {
        match self {
            Tokenizer::Bytes => ids.iter().filter(|&&t| t < 256).map(|&t| t as u8).collect(),
            Tokenizer::Hf { .. } => self.decode(ids).into_bytes(),
            Tokenizer::Ids { .. } => Vec::new(),
        }
    }

    /// Text of `ids`, special tokens dropped; invalid UTF-8 is replaced (no text for
    /// [`Tokenizer::Ids`]).
    pub fn decode(&self, ids: &[u32]) -> String {
        match self {
            Tokenizer::Bytes => {
                let bytes: Vec<u8> = ids.iter().filter(|&&t| t < 256).map(|&t| t as u8).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            }
            Tokenizer::Hf { tk, .. } => tk.decode(ids, true).unwrap_or_default(),
            Tokenizer::Ids { .. } => String::new(),
        }
    }
}

/// Trains a byte-level BPE tokenizer of `vocab` tokens on documents (the corpus readers' text,
/// see [`crate::pipeline::corpus::DocumentStream`]); [`Tokenizer::save`] writes it.
pub fn train_bpe<I>(docs: I, vocab: usize) -> Result<Tokenizer>
where
    I: Iterator<Item = String> + Send,
{
    if vocab < 260 {
        return Err(tok_err(format!("a BPE vocabulary needs at least 260 tokens (256 bytes + specials), got {vocab}")));
    }
    let specials: Vec<AddedToken> = ["<s>", "</s>", "<pad>"].iter().map(|s| AddedToken::from(*s, true)).collect();
    let alphabet: HashSet<char> = ByteLevel::alphabet().into_iter().collect();
    let mut trainer: TrainerWrapper = BpeTrainerBuilder::new()
        .vocab_size(vocab)
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(specials)
        .initial_alphabet(alphabet)
        .build()
        .into();
    let mut tk = tokenizers::Tokenizer::new(BPE::default());
    tk.with_pre_tokenizer(Some(ByteLevel::default().add_prefix_space(false)));
    tk.with_decoder(Some(ByteLevel::default()));
    tk.train(&mut trainer, docs).map_err(|e| tok_err(format!("training failed: {e}")))?;
    let json = tk.to_string(false).map_err(|e| tok_err(format!("serialising: {e}")))?;
    Tokenizer::from_json(&json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip() {
        let t = Tokenizer::bytes();
        let s = "Grüße, brain!";
        assert_eq!(t.decode(&t.encode(s).unwrap()), s);
        assert_eq!(t.vocab_size(), 259);
        assert_eq!((t.bos(), t.eos(), t.pad()), (256, 257, 258));
    }

    #[test]
    fn ids_have_no_text() {
        let t = Tokenizer::ids(1000);
        assert_eq!(t.vocab_size(), 1000);
        assert!(t.encode("x").unwrap_err().to_string().contains("token ids only (V = 1000)"));
        assert_eq!((t.decode(&[65, 999]), t.text_bytes(&[65])), (String::new(), 0));
        let back = Tokenizer::from_spec(&t.spec(), Path::new(".")).unwrap();
        assert_eq!((back.spec(), back.has_text()), (TokenizerSpec::Ids { vocab: 1000 }, false));
    }
}
