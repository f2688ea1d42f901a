//! Streaming corpus readers: plain text, JSON Lines with a `text` field, `.jsonl.zst` (as
//! SlimPajama ships its chunks), directories and globs of those. Documents are tokenized, joined
//! with EOS and packed into training sequences of a fixed length (BOS first); every
//! `held_out_every`-th sequence goes to the held-out split. A malformed line or file is reported
//! with its file and line, then skipped or refused per [`OnBadData`].

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::error::{NeuroError, Result};
use crate::pipeline::tokenizer::Tokenizer;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OnBadData {
    /// Report the problem on stderr and go on.
    Skip,
    /// Stop with an error naming the file and line.
    Refuse,
}

fn data_err(msg: String) -> NeuroError {
    NeuroError::InvalidInput(msg)
}

/// The files a data argument names: a file, a directory (recursively), or a glob pattern.
pub fn resolve(spec: &str) -> Result<Vec<PathBuf>> {
    let path = Path::new(spec);
    let mut files = Vec::new();
    if path.is_dir() {
        collect_dir(path, &mut files)?;
    } else if path.is_file() {
        files.push(path.to_path_buf());
    } else {
        let paths = glob::glob(spec).map_err(|e| data_err(format!("{spec}: not a file, directory or glob ({e})")))?;
        for p in paths {
            let p = p.map_err(|e| data_err(format!("{spec}: {e}")))?;
            if p.is_dir() {
                collect_dir(&p, &mut files)?;
            } else {
                files.push(p);
            }
        }
    }
    files.retain(|f| is_data_file(f));
    files.sort();
    if files.is_empty() {
        return Err(data_err(format!("{spec}: no .txt, .jsonl or .jsonl.zst files found")));
    }
    Ok(files)
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| data_err(format!("{}: {e}", dir.display())))?;
    for e in entries {
        let p = e.map_err(|e| data_err(format!("{}: {e}", dir.display())))?.path();
        if p.is_dir() {
            collect_dir(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

fn is_data_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".txt") || name.ends_with(".jsonl") || name.ends_with(".jsonl.zst") || name.ends_with(".md")
}

/// Streams the documents of the files in order.
pub struct Documents {
    files: Vec<PathBuf>,
    next_file: usize,
    current: Option<(PathBuf, Box<dyn BufRead>, bool, usize)>,
    on_bad: OnBadData,
    /// Problems met so far (file:line: what), for the caller to show.
    pub problems: Vec<String>,
}

impl Documents {
    pub fn new(files: Vec<PathBuf>, on_bad: OnBadData) -> Documents {
        Documents { files, next_file: 0, current: None, on_bad, problems: Vec::new() }
    }

    fn open(&self, path: &Path) -> std::io::Result<(Box<dyn BufRead>, bool)> {
        let f = File::open(path)?;
        let name = path.to_string_lossy();
        if name.ends_with(".zst") {
            Ok((Box::new(BufReader::new(zstd::Decoder::new(f)?)), true))
        } else {
            Ok((Box::new(BufReader::new(f)), name.ends_with(".jsonl")))
        }
    }

    fn problem(&mut self, msg: String) -> Result<()> {
        match self.on_bad {
            OnBadData::Refuse => Err(data_err(msg)),
            OnBadData::Skip => {
                eprintln!("warning: skipped: {msg}");
                self.problems.push(msg);
                Ok(())
            }
        }
    }

    /// The next document (a JSON Lines record's `text`, or a paragraph of plain text), or None.
    pub fn next_document(&mut self) -> Result<Option<String>> {
        loop {
            if self.current.is_none() {
                let Some(path) = self.files.get(self.next_file).cloned() else { return Ok(None) };
                self.next_file += 1;
                match self.open(&path) {
                    Ok((r, jsonl)) => self.current = Some((path, r, jsonl, 0)),
                    Err(e) => {
                        self.problem(format!("{}: {e}", path.display()))?;
                        continue;
                    }
                }
            }
            let (path, reader, jsonl, line_no) = self.current.as_mut().expect("open");
            let mut buf = Vec::new();
            let n = match reader.read_until(b'\n', &mut buf) {
                Ok(n) => n,
                Err(e) => {
                    let msg = format!("{}:{}: {e}", path.display(), *line_no + 1);
                    self.current = None;
                    self.problem(msg)?;
                    continue;
                }
            };
            if n == 0 {
                self.current = None;
                continue;
            }
            *line_no += 1;
            let at = format!("{}:{}", path.display(), line_no);
            let jsonl = *jsonl;
            let line = match String::from_utf8(buf) {
                Ok(s) => s,
                Err(_) => {
                    self.problem(format!("{at}: not valid UTF-8"))?;
                    continue;
                }
            };
            let line = line.trim_end_matches(['\n', '\r']);
            if line.trim().is_empty() {
                continue;
            }
            if !jsonl {
                return Ok(Some(line.to_string()));
            }
            match serde_json::from_str::<serde_json::Value>(line) {
                Ok(v) => match v.get("text").and_then(|t| t.as_str()) {
                    Some(t) => return Ok(Some(t.to_string())),
                    None => self.problem(format!("{at}: no string field \"text\""))?,
                },
                Err(e) => self.problem(format!("{at}: malformed JSON ({e})"))?,
            }
        }
    }
}

/// Packs a token stream into sequences of `seq_len` tokens, each starting with BOS; documents are
/// separated by EOS. Every `held_out_every`-th sequence (0: none) goes to the held-out split.
pub struct Packer {
    pub seq_len: usize,
    pub held_out_every: usize,
    bos: u32,
    eos: u32,
    buf: Vec<u32>,
    made: usize,
    pub train: Vec<Vec<u32>>,
    pub held_out: Vec<Vec<u32>>,
}

impl Packer {
    pub fn new(tok: &Tokenizer, seq_len: usize, held_out_every: usize) -> Packer {
        Packer {
            seq_len,
            held_out_every,
            bos: tok.bos(),
            eos: tok.eos(),
            buf: Vec::new(),
            made: 0,
            train: Vec::new(),
            held_out: Vec::new(),
        }
    }

    /// Emits what is left as one shorter sequence (if it has anything to predict).
    pub fn finish(&mut self) {
        if !self.buf.is_empty() {
            let seq: Vec<u32> = std::iter::once(self.bos).chain(self.buf.drain(..)).collect();
            self.made += 1;
            if self.held_out_every > 0 && self.made % self.held_out_every == 0 {
                self.held_out.push(seq);
            } else {
                self.train.push(seq);
            }
        }
    }

    pub fn push_document(&mut self, ids: &[u32]) {
        self.buf.extend_from_slice(ids);
        self.buf.push(self.eos);
        let body = self.seq_len - 1;
        while self.buf.len() >= body {
            let seq: Vec<u32> = std::iter::once(self.bos).chain(self.buf.drain(..body)).collect();
            self.made += 1;
            if self.held_out_every > 0 && self.made % self.held_out_every == 0 {
                self.held_out.push(seq);
            } else {
                self.train.push(seq);
            }
        }
    }
}

/// Reads, tokenizes and packs up to `max_sequences` training sequences from `files`.
pub fn load(
    files: Vec<PathBuf>,
    tok: &Tokenizer,
    seq_len: usize,
    held_out_every: usize,
    max_sequences: usize,
    on_bad: OnBadData,
) -> Result<(Packer, Vec<String>)> {
    if seq_len < 2 {
        return Err(data_err(format!("sequence length {seq_len} is below 2")));
    }
    let mut docs = Documents::new(files, on_bad);
    let mut packer = Packer::new(tok, seq_len, held_out_every);
    while packer.train.len() < max_sequences {
        let Some(doc) = docs.next_document()? else {
            packer.finish();
            break;
        };
        packer.push_document(&tok.encode(&doc)?);
    }
    Ok((packer, docs.problems))
}
