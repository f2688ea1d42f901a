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

/// The file names a corpus may hold (what `--data` reads), for messages and help.
pub const DATA_FILES: &str = ".txt, .jsonl or .jsonl.zst";

/// The files a data argument names: a file, a directory (recursively), or a glob pattern.
pub fn resolve(spec: &str) -> Result<Vec<PathBuf>> {
    let path = Path::new(spec);
    let mut files = Vec::new();
    let is_pattern = spec.contains(['*', '?', '[']);
    if path.is_dir() {
        collect_dir(path, &mut files)?;
    } else if path.is_file() {
        if !is_data_file(path) {
            return Err(data_err(format!("{spec}: not a {DATA_FILES} file")));
        }
        files.push(path.to_path_buf());
    } else if !is_pattern {
        return Err(data_err(format!("{spec} does not exist")));
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
    if files.is_empty() && is_pattern {
        return Err(data_err(format!("{spec} matches no file")));
    }
    files.retain(|f| is_data_file(f));
    files.sort();
    if files.is_empty() {
        return Err(data_err(format!("{spec}: holds no {DATA_FILES} file")));
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
    name.ends_with(".txt") || name.ends_with(".jsonl") || name.ends_with(".jsonl.zst")
}

/// Streams the documents of the files in order.
pub struct Documents {
    files: Vec<PathBuf>,
    next_file: usize,
    current: Option<(PathBuf, Box<dyn BufRead + Send>, bool, usize)>,
    on_bad: OnBadData,
    /// Problems met so far (file:line: what), for the caller to show.
    pub problems: Vec<String>,
}

impl Documents {
    pub fn new(files: Vec<PathBuf>, on_bad: OnBadData) -> Documents {
        Documents { files, next_file: 0, current: None, on_bad, problems: Vec::new() }
    }

    fn open(&self, path: &Path) -> std::io::Result<(Box<dyn BufRead + Send>, bool)> {
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
/// Packing stops once `max_train` training sequences exist ([`Packer::full`]).
pub struct Packer {
    pub seq_len: usize,
    pub held_out_every: usize,
    max_train: usize,
    bos: u32,
    eos: u32,
    /// Tokens not yet packed are `buf[start..]`; the packed prefix is dropped now and then, so a
    /// long document costs time linear in its length.
    buf: Vec<u32>,
    start: usize,
    made: usize,
    pub train: Vec<Vec<u32>>,
    pub held_out: Vec<Vec<u32>>,
}

impl Packer {
    pub fn new(tok: &Tokenizer, seq_len: usize, held_out_every: usize, max_train: usize) -> Packer {
        Packer {
            seq_len,
            held_out_every,
            max_train,
            bos: tok.bos(),
            eos: tok.eos(),
            buf: Vec::new(),
            start: 0,
            made: 0,
            train: Vec::new(),
            held_out: Vec::new(),
        }
    }

    /// Whether `max_train` training sequences exist: the rest of the corpus is not needed.
    pub fn full(&self) -> bool {
        self.train.len() >= self.max_train
    }

    fn emit(&mut self, end: usize) {
        let seq: Vec<u32> = std::iter::once(self.bos).chain(self.buf[self.start..end].iter().copied()).collect();
        self.start = end;
        self.made += 1;
        if self.held_out_every > 0 && self.made % self.held_out_every == 0 {
            self.held_out.push(seq);
        } else {
            self.train.push(seq);
        }
    }

    /// Emits what is left as one shorter sequence (if it has anything to predict).
    pub fn finish(&mut self) {
        if self.start < self.buf.len() && !self.full() {
            self.emit(self.buf.len());
        }
        self.buf.clear();
        self.start = 0;
    }

    /// Appends tokens of a document (in as many pieces as the caller likes) and packs them.
    pub fn push_tokens(&mut self, ids: &[u32]) {
        let body = self.seq_len - 1;
        self.buf.extend_from_slice(ids);
        while self.buf.len() - self.start >= body && !self.full() {
            self.emit(self.start + body);
        }
        if self.full() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// A whole document, then EOS.
    pub fn push_document(&mut self, ids: &[u32]) {
        self.push_tokens(ids);
        self.push_tokens(&[self.eos]);
    }

    /// A document's text, tokenized in pieces only as far as the packer needs, then EOS.
    /// Returns the tokens read.
    pub fn push_text(&mut self, tok: &Tokenizer, doc: &str) -> Result<usize> {
        let mut tokens = 0;
        for piece in pieces(doc) {
            let ids = tok.encode(piece)?;
            tokens += ids.len();
            self.push_tokens(&ids);
            if self.full() {
                break;
            }
        }
        self.push_tokens(&[self.eos]);
        Ok(tokens)
    }
}

/// Text is tokenized in pieces of about this many bytes, so a single huge document (one 50 MB
/// line) is read only as far as the packer needs.
const ENCODE_PIECE: usize = 1 << 16;

/// `doc` cut before whitespace into pieces of about [`ENCODE_PIECE`] bytes (byte-level BPE starts
/// a new pre-token at whitespace, so the cuts do not change the tokens).
fn pieces(doc: &str) -> impl Iterator<Item = &str> {
    let mut rest = doc;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut cut = rest.len();
        if rest.len() > ENCODE_PIECE {
            let mut at = ENCODE_PIECE;
            while !rest.is_char_boundary(at) {
                at += 1;
            }
            cut = rest[at..].find(char::is_whitespace).map_or(rest.len(), |i| at + i);
        }
        let (piece, tail) = rest.split_at(cut);
        rest = tail;
        Some(piece)
    })
}

/// The packed sequences of `files`, read as they are needed: what [`load`] packs with no held-out
/// split and no limit, one at a time (the Python binding's `Corpus`). `T` holds the tokenizer
/// (`Tokenizer`, `&Tokenizer`, `Arc<Tokenizer>` …).
pub struct SequenceStream<T> {
    tok: T,
    docs: Documents,
    packer: Packer,
    ready: std::collections::VecDeque<Vec<u32>>,
    ended: bool,
}

impl<T: std::borrow::Borrow<Tokenizer>> SequenceStream<T> {
    pub fn new(files: Vec<PathBuf>, tok: T, seq_len: usize, on_bad: OnBadData) -> Result<SequenceStream<T>> {
        if seq_len < 2 {
            return Err(data_err(format!("sequence length {seq_len} is below 2")));
        }
        let packer = Packer::new(tok.borrow(), seq_len, 0, usize::MAX);
        Ok(SequenceStream { tok, docs: Documents::new(files, on_bad), packer, ready: Default::default(), ended: false })
    }

    /// The next sequence, or None at the end of the corpus.
    pub fn next_sequence(&mut self) -> Result<Option<Vec<u32>>> {
        while self.ready.is_empty() && !self.ended {
            match self.docs.next_document()? {
                Some(doc) => {
                    self.packer.push_text(self.tok.borrow(), &doc)?;
                }
                None => {
                    self.packer.finish();
                    self.ended = true;
                }
            }
            self.ready.extend(self.packer.train.drain(..));
        }
        Ok(self.ready.pop_front())
    }

    /// Malformed lines and files skipped so far (file:line: what).
    pub fn problems(&self) -> &[String] {
        &self.docs.problems
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
    if max_sequences == 0 {
        return Err(data_err("--max-sequences must be at least 1".into()));
    }
    if held_out_every == 1 {
        return Err(data_err(
            "--held-out-every 1 would hold out every sequence and train on none; use 2 or more, or 0 for no held-out split"
                .into(),
        ));
    }
    let mut docs = Documents::new(files, on_bad);
    let mut packer = Packer::new(tok, seq_len, held_out_every, max_sequences);
    let mut tokens = 0usize;
    while !packer.full() {
        let Some(doc) = docs.next_document()? else {
            packer.finish();
            break;
        };
        tokens += packer.push_text(tok, &doc)?;
    }
    if packer.train.is_empty() {
        return Err(data_err(format!(
            "the corpus holds {tokens} tokens: too few for one training sequence of {seq_len} tokens{}",
            if held_out_every > 0 {
                format!(" beside the held-out split (every {held_out_every}th)")
            } else {
                String::new()
            }
        )));
    }
    Ok((packer, docs.problems))
}

/// Documents of `files` through the same readers as training (text fields, decompression,
/// bad-line handling), for tokenizer training. Problems go to `problems` per `on_bad`; a refusal
/// ends the stream and is returned by [`DocumentStream::finish`].
pub struct DocumentStream {
    docs: Documents,
    error: Option<NeuroError>,
}

impl DocumentStream {
    pub fn new(files: Vec<PathBuf>, on_bad: OnBadData) -> DocumentStream {
        DocumentStream { docs: Documents::new(files, on_bad), error: None }
    }

    /// The problems skipped, or the error that stopped the stream.
    pub fn finish(self) -> Result<Vec<String>> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.docs.problems),
        }
    }
}

impl Iterator for DocumentStream {
    type Item = String;
    fn next(&mut self) -> Option<String> {
        if self.error.is_some() {
            return None;
        }
        match self.docs.next_document() {
            Ok(d) => d,
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}
