//! The `neurogen` Python module: [`Model`] (train, evaluate, generate, save, load), [`PyTokenizer`],
//! [`Corpus`] and the results they return; `NeuroGenModel`, the predecessor's interface, is in
//! `compat.rs`. Every call into the engine runs with the GIL released; bad input raises
//! `neurogen.Error` (a `ValueError`) with the engine's message before any device work.

mod compat;
mod ids;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use clap::ValueEnum;
use neurogen::config::BYTE_VOCAB;
use neurogen::pipeline::checkpoint::{self, Progress};
use neurogen::pipeline::corpus::{self, OnBadData, SequenceStream};
use neurogen::pipeline::run::Resume;
use neurogen::pipeline::score;
use neurogen::pipeline::tokenizer::TokenizerSpec;
use neurogen::pipeline::trainer::Trainer;
use neurogen::sampling::{Strategy, DEFAULT_TEMPERATURE, DEFAULT_TOP_K, DEFAULT_TOP_P};
use neurogen::{
    bench, create_backend, Backend, BackendKind, Engine, GenerateOptions, ModelConfig, NeuroError, Precision, Preset,
    Tokenizer, MAX_SEQUENCE,
};
use numpy::PyArray2;
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyString;

create_exception!(
    neurogen,
    Error,
    PyValueError,
    "Bad input or an engine error, with the engine's message. A subclass of ValueError."
);

pub(crate) fn error(msg: impl std::fmt::Display) -> PyErr {
    Error::new_err(msg.to_string())
}

/// The value of `T` (a backend, preset, strategy …) the CLI calls `name`.
pub(crate) fn parse<T: ValueEnum>(what: &str, name: &str) -> PyResult<T> {
    T::from_str(name, false).map_err(|_| {
        let names: Vec<String> = T::value_variants().iter().map(name_of).collect();
        error(format!("unknown {what} {name:?}; expected one of: {}", names.join(", ")))
    })
}

pub(crate) fn name_of<T: ValueEnum>(v: &T) -> String {
    v.to_possible_value().map(|p| p.get_name().to_string()).unwrap_or_default()
}

/// An integer argument as `T` (arguments are taken as i128 so that a negative value is a
/// `neurogen.Error` like any other bad input, not an `OverflowError`).
pub(crate) fn unsigned<T: TryFrom<i128>>(what: &str, v: i128) -> PyResult<T> {
    T::try_from(v).map_err(|_| error(format!("{what} = {v} is out of range (negative or too large)")))
}

/// The tokenizer of a model given V and no tokenizer: token ids only.
pub(crate) fn ids_tokenizer(vocab: usize) -> PyResult<Tokenizer> {
    if vocab < BYTE_VOCAB {
        return Err(error(format!(
            "vocab {vocab} is too small: a model without a tokenizer keeps ids 256, 257 and 258 for BOS, EOS and PAD, so V is at least {BYTE_VOCAB}"
        )));
    }
    Ok(Tokenizer::ids(vocab))
}

/// A `tokenizer=` argument: a `neurogen.Tokenizer` or the path of a `tokenizer.json`.
fn tokenizer_arg(obj: &Bound<'_, PyAny>) -> PyResult<Arc<Tokenizer>> {
    if let Ok(t) = obj.cast::<PyTokenizer>() {
        return Ok(t.get().0.clone());
    }
    let path: PathBuf =
        obj.extract().map_err(|_| error("tokenizer must be a neurogen.Tokenizer or the path of a tokenizer.json"))?;
    Ok(Arc::new(Tokenizer::from_file(&path).map_err(error)?))
}

// ---- tokenizer --------------------------------------------------------------------------------

/// A tokenizer: `Tokenizer.bytes()` (256 bytes, then BOS = 256, EOS = 257, PAD = 258) or
/// `Tokenizer.from_file(path)` (a Hugging Face tokenizer.json, e.g. one `neurogen tokenizer train`
/// wrote). A model's tokenizer sets its vocabulary size V.
#[pyclass(name = "Tokenizer", module = "neurogen", frozen)]
pub struct PyTokenizer(pub Arc<Tokenizer>);

#[pymethods]
impl PyTokenizer {
    /// The byte-level tokenizer (V = 259).
    #[staticmethod]
    fn bytes() -> PyTokenizer {
        PyTokenizer(Arc::new(Tokenizer::bytes()))
    }

    /// A tokenizer.json; its BOS, EOS and PAD are found by name.
    #[staticmethod]
    fn from_file(py: Python<'_>, path: PathBuf) -> PyResult<PyTokenizer> {
        let tok = py.detach(|| Tokenizer::from_file(&path)).map_err(error)?;
        Ok(PyTokenizer(Arc::new(tok)))
    }

    /// The token ids of `text` (no BOS or EOS added).
    fn encode(&self, py: Python<'_>, text: &str) -> PyResult<Vec<u32>> {
        py.detach(|| self.0.encode(text)).map_err(error)
    }

    /// BOS, then the token ids of `text`: what `Model.generate` makes of a text prompt.
    fn prompt(&self, py: Python<'_>, text: &str) -> PyResult<Vec<u32>> {
        py.detach(|| self.0.prompt(text)).map_err(error)
    }

    /// The text of `ids` (a list or 1-D array); special tokens are dropped.
    fn decode(&self, ids: &Bound<'_, PyAny>) -> PyResult<String> {
        Ok(self.0.decode(&ids::one_row(ids, "ids")?))
    }

    #[getter]
    fn vocab_size(&self) -> usize {
        self.0.vocab_size()
    }
    #[getter]
    fn bos(&self) -> u32 {
        self.0.bos()
    }
    #[getter]
    fn eos(&self) -> u32 {
        self.0.eos()
    }
    #[getter]
    fn pad(&self) -> u32 {
        self.0.pad()
    }
    /// False for a model built from `vocab=` alone: its ids stand for no text.
    #[getter]
    fn has_text(&self) -> bool {
        self.0.has_text()
    }

    fn __repr__(&self) -> String {
        let kind = match self.0.spec() {
            TokenizerSpec::Bytes => "bytes",
            TokenizerSpec::File { .. } => "tokenizer.json",
            TokenizerSpec::Ids { .. } => "ids only",
        };
        format!("Tokenizer({kind}, vocab_size={})", self.0.vocab_size())
    }
}

// ---- results ----------------------------------------------------------------------------------

/// What `Model.train_step` did: mean loss (nats per predicted token) and accuracy over the batch,
/// bits per byte where the tokenizer knows the text, and the engine's host syncs (1 per train
/// step) and seconds.
#[pyclass(module = "neurogen", frozen, get_all)]
pub struct TrainResult {
    pub loss: f64,
    pub accuracy: f64,
    pub bits_per_byte: Option<f64>,
    /// Predicted positions (targets) in the batch.
    pub positions: u64,
    /// Training steps taken so far, this one included.
    pub step: u64,
    /// The decoder's gradient norm before clipping.
    pub grad_norm: f64,
    /// Whether the step ended with a sleep and a replay step (the `reward` rule), counted in
    /// `host_syncs` and `seconds`.
    pub slept: bool,
    pub host_syncs: u64,
    pub seconds: f64,
}

#[pymethods]
impl TrainResult {
    fn __repr__(&self) -> String {
        format!(
            "TrainResult(loss={:.4}, accuracy={:.4}, bits_per_byte={}, step={}, host_syncs={}, seconds={:.3})",
            self.loss,
            self.accuracy,
            opt(self.bits_per_byte),
            self.step,
            self.host_syncs,
            self.seconds
        )
    }
}

/// What `Model.evaluate` measured (from rest, no learning): as `neurogen evaluate` reports it.
#[pyclass(module = "neurogen", frozen, get_all)]
pub struct EvalResult {
    pub loss: f64,
    pub accuracy: f64,
    pub perplexity: f64,
    pub bits_per_byte: Option<f64>,
    pub positions: u64,
    /// UTF-8 bytes of the predicted text.
    pub bytes: u64,
    pub sequences: usize,
    pub host_syncs: u64,
    pub seconds: f64,
}

#[pymethods]
impl EvalResult {
    fn __repr__(&self) -> String {
        format!(
            "EvalResult(loss={:.4}, accuracy={:.4}, bits_per_byte={}, positions={}, host_syncs={}, seconds={:.3})",
            self.loss,
            self.accuracy,
            opt(self.bits_per_byte),
            self.positions,
            self.host_syncs,
            self.seconds
        )
    }
}

/// What `Model.generate` made: per prompt the new token ids (up to and including EOS), their text
/// (None for a model without text), and the engine's host syncs (1 per 1024 new tokens) and seconds.
#[pyclass(module = "neurogen", frozen)]
pub struct GenerateResult {
    #[pyo3(get)]
    pub tokens: Vec<Vec<u32>>,
    #[pyo3(get)]
    pub text: Option<Vec<String>>,
    #[pyo3(get)]
    pub host_syncs: u64,
    #[pyo3(get)]
    pub seconds: f64,
    pad: u32,
}

#[pymethods]
impl GenerateResult {
    /// The new tokens as a 2-D int64 array, shorter rows padded with PAD.
    fn array<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let width = self.tokens.iter().map(Vec::len).max().unwrap_or(0);
        let rows: Vec<Vec<i64>> = self
            .tokens
            .iter()
            .map(|r| r.iter().map(|&t| t as i64).chain(std::iter::repeat(self.pad as i64)).take(width).collect())
            .collect();
        PyArray2::from_vec2(py, &rows).map_err(error)
    }

    fn __repr__(&self) -> String {
        format!(
            "GenerateResult({} sequence(s), {} tokens, host_syncs={}, seconds={:.3})",
            self.tokens.len(),
            self.tokens.iter().map(Vec::len).sum::<usize>(),
            self.host_syncs,
            self.seconds
        )
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or("None".into(), |x| format!("{x:.4}"))
}

// ---- model ------------------------------------------------------------------------------------

// `generate`'s defaults are written out so that Python's help shows them; they are the CLI's.
const _: () = assert!(DEFAULT_TEMPERATURE == 0.8 && DEFAULT_TOP_K == 40 && DEFAULT_TOP_P == 0.9);

/// Prompts as the caller gave them: texts (each becomes BOS + its tokens) or token ids.
pub(crate) enum Prompts {
    Text(Vec<String>),
    Ids(Vec<Vec<u32>>),
}

/// A model and what goes with it; a `Model` holds it behind a mutex, so that a call runs with
/// the GIL released while no other call touches the engine.
pub(crate) struct State {
    trainer: Trainer,
    tokenizer: Arc<Tokenizer>,
    /// Of initialisation, training's sleeps and, by default, sampling.
    pub(crate) seed: u64,
}

impl State {
    fn fresh(
        be: Box<dyn Backend>,
        preset: Preset,
        tokenizer: Arc<Tokenizer>,
        seed: u64,
        precision: Precision,
    ) -> neurogen::Result<State> {
        let mut cfg = ModelConfig { precision, ..ModelConfig::preset(preset) };
        tokenizer.configure(&mut cfg);
        let engine = Engine::new(be, cfg, seed)?;
        Ok(State { trainer: Trainer::new(engine, seed), tokenizer, seed })
    }

    /// A checkpoint (or a run's latest) as `neurogen train --resume` would continue it, at
    /// `precision` where given; the backend is opened after the checkpoint has been read and
    /// verified.
    fn load(
        path: &Path,
        open: impl FnOnce() -> neurogen::Result<Box<dyn Backend>>,
        precision: Option<Precision>,
    ) -> neurogen::Result<State> {
        let ck = checkpoint::load(path)?;
        let mut cfg = ck.manifest.config.clone();
        if let Some(p) = precision {
            cfg.precision = p;
        }
        let engine = Engine::from_snapshot(open()?, cfg, &ck.snapshot)?;
        let resume = Resume::from_checkpoint(&ck);
        let mut trainer = Trainer::new(engine, ck.manifest.seed);
        trainer.replay = resume.replay;
        trainer.resume_at(resume.steps);
        Ok(State { trainer, tokenizer: Arc::new(ck.tokenizer), seed: ck.manifest.seed })
    }

    fn save(&mut self, path: &Path) -> neurogen::Result<()> {
        let snapshot = self.trainer.engine.snapshot()?;
        let at = Progress {
            seed: self.seed,
            train_steps: self.trainer.steps(),
            data_position: 0,
            replay: self.trainer.replay.items(),
            run: None,
        };
        checkpoint::save(path, &snapshot, self.trainer.engine.config(), &self.tokenizer, &at)
    }

    /// Bits per byte of `nats` over the text `seqs` predict, where the tokenizer knows any.
    fn bits_per_byte(&self, nats: f64, seqs: &[Vec<u32>]) -> Option<f64> {
        let bytes = score::predicted_bytes(&self.tokenizer, seqs);
        (bytes > 0).then(|| score::bits_per_byte(nats, bytes))
    }

    pub(crate) fn train_step(&mut self, seqs: &[Vec<u32>]) -> neurogen::Result<TrainResult> {
        let rep = self.trainer.step(seqs)?;
        let t = &rep.train;
        let stats = match &rep.sleep {
            Some((_, Some(replayed))) => t.stats.then(&replayed.stats),
            _ => t.stats.clone(),
        };
        Ok(TrainResult {
            loss: t.loss,
            accuracy: t.accuracy,
            bits_per_byte: self.bits_per_byte(t.loss * t.positions as f64, seqs),
            positions: t.positions,
            step: rep.step,
            grad_norm: t.grad_norm,
            slept: rep.sleep.is_some(),
            host_syncs: stats.host_syncs,
            seconds: stats.seconds,
        })
    }

    pub(crate) fn generate(&mut self, prompts: Prompts, opts: &GenerateOptions) -> neurogen::Result<GenerateResult> {
        let ids = match prompts {
            Prompts::Ids(ids) => ids,
            Prompts::Text(texts) => texts.iter().map(|t| self.tokenizer.prompt(t)).collect::<neurogen::Result<_>>()?,
        };
        let out = self.trainer.engine.generate(&ids, opts)?;
        let text = self.tokenizer.has_text().then(|| out.tokens.iter().map(|t| self.tokenizer.decode(t)).collect());
        Ok(GenerateResult {
            tokens: out.tokens,
            text,
            host_syncs: out.stats.host_syncs,
            seconds: out.stats.seconds,
            pad: self.trainer.engine.config().pad,
        })
    }
}

/// A NeuroGen model on one backend.
///
/// `Model(preset="tiny", backend="wgpu", seed=0, vocab=None, tokenizer=None, precision="f32")` builds a fresh one:
/// `preset` is tiny (E = 64), small (E = 512) or seed (E = 1536); `backend` is auto, cpu, wgpu or
/// cuda, as the CLI's `--backend`; `tokenizer` (a `Tokenizer` or a tokenizer.json path, default
/// bytes) sets V. `vocab` alone makes a model of V token ids without text, for ids a tokenizer
/// elsewhere made. `precision` is f32 or bf16 (the forward reads bf16 copies of the weights;
/// learning and checkpoints stay f32; docs/model.md §2, "Precision"). `Model.load(path,
/// precision=None)` reads a checkpoint or run directory the CLI or `save` wrote (at the precision
/// it was saved with, unless given).
#[pyclass(module = "neurogen", frozen)]
pub struct Model {
    state: Mutex<State>,
}

impl Model {
    pub(crate) fn fresh(
        py: Python<'_>,
        open: impl FnOnce() -> neurogen::Result<Box<dyn Backend>> + Send,
        preset: Preset,
        tokenizer: Arc<Tokenizer>,
        seed: u64,
        precision: Precision,
    ) -> PyResult<Model> {
        let state = py.detach(|| State::fresh(open()?, preset, tokenizer, seed, precision)).map_err(error)?;
        Ok(Model { state: Mutex::new(state) })
    }

    /// Runs `f` on the model's state with the GIL released.
    pub(crate) fn run<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut State) -> neurogen::Result<T> + Send,
    ) -> PyResult<T> {
        py.detach(|| {
            // A poisoned lock means a call panicked halfway (PyO3 raised it as a PanicException):
            // the engine may hold half a recorded call.
            let mut state = self.state.lock().map_err(|_| {
                NeuroError::Usage("an earlier call on this model panicked; its state is unknown: load it again".into())
            })?;
            f(&mut state)
        })
        .map_err(error)
    }

    /// Replaces the model by the checkpoint at `path` (kept as it was if that fails).
    pub(crate) fn load_into(
        &self,
        py: Python<'_>,
        path: &Path,
        open: impl FnOnce() -> neurogen::Result<Box<dyn Backend>> + Send,
    ) -> PyResult<()> {
        let loaded = py.detach(|| State::load(path, open, None)).map_err(error)?;
        self.run(py, move |state| {
            *state = loaded;
            Ok(())
        })
    }

    pub(crate) fn save_to(&self, py: Python<'_>, path: &Path) -> PyResult<()> {
        self.run(py, |state| state.save(path))
    }
}

#[pymethods]
impl Model {
    #[new]
    #[pyo3(signature = (preset="tiny", backend="wgpu", seed=0, vocab=None, tokenizer=None, precision="f32"))]
    fn new(
        py: Python<'_>,
        preset: &str,
        backend: &str,
        seed: i128,
        vocab: Option<i128>,
        tokenizer: Option<&Bound<'_, PyAny>>,
        precision: &str,
    ) -> PyResult<Model> {
        let preset: Preset = parse("preset", preset)?;
        let precision: Precision = parse("precision", precision)?;
        let kind: BackendKind = parse("backend", backend)?;
        let seed = unsigned("seed", seed)?;
        let tokenizer = match (tokenizer, vocab) {
            (Some(t), vocab) => {
                let t = tokenizer_arg(t)?;
                if let Some(v) = vocab.filter(|&v| v != t.vocab_size() as i128) {
                    return Err(error(format!(
                        "vocab {v} differs from the tokenizer's {}: the tokenizer sets V; drop vocab",
                        t.vocab_size()
                    )));
                }
                t
            }
            (None, Some(v)) => Arc::new(ids_tokenizer(unsigned("vocab", v)?)?),
            (None, None) => Arc::new(Tokenizer::bytes()),
        };
        Model::fresh(py, move || create_backend(kind), preset, tokenizer, seed, precision)
    }

    /// A checkpoint directory or a run directory (its latest checkpoint), as `neurogen train`
    /// or `Model.save` wrote it; training continues where it stopped.
    #[staticmethod]
    #[pyo3(signature = (path, backend="wgpu", precision=None))]
    fn load(py: Python<'_>, path: PathBuf, backend: &str, precision: Option<&str>) -> PyResult<Model> {
        let kind: BackendKind = parse("backend", backend)?;
        let precision: Option<Precision> = precision.map(|p| parse("precision", p)).transpose()?;
        let state = py.detach(|| State::load(&path, || create_backend(kind), precision)).map_err(error)?;
        Ok(Model { state: Mutex::new(state) })
    }

    /// Writes a checkpoint directory at `path` (manifest.json, tensors.safetensors and the
    /// tokenizer.json if any), which `neurogen … --checkpoint path` and `Model.load` read.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        self.save_to(py, &path)
    }

    /// One training step (one submission, one host sync) on `batch`: token-id sequences (a list
    /// of lists, a 2-D integer array, or one sequence) of at least 2 tokens; the engine predicts
    /// every next token. Uneven lengths are padded and masked.
    fn train_step(&self, py: Python<'_>, batch: &Bound<'_, PyAny>) -> PyResult<TrainResult> {
        let seqs = ids::rows(batch, "batch")?.rows;
        self.run(py, move |state| state.train_step(&seqs))
    }

    /// Next-token scores of `seqs` (token-id sequences as for `train_step`), each from rest and
    /// without learning, in one call (one host sync), or in calls of `batch` sequences.
    #[pyo3(signature = (seqs, batch=None))]
    fn evaluate(&self, py: Python<'_>, seqs: &Bound<'_, PyAny>, batch: Option<i128>) -> PyResult<EvalResult> {
        let seqs = ids::rows(seqs, "seqs")?.rows;
        let batch = match batch.map(|b| unsigned::<usize>("batch", b)).transpose()? {
            Some(0) => return Err(error("batch must be at least 1")),
            Some(b) => b,
            None => seqs.len().max(1),
        };
        self.run(py, move |state| {
            let s = score::score(&mut state.trainer.engine, &state.tokenizer, &seqs, batch)?;
            Ok(EvalResult {
                loss: s.loss,
                accuracy: s.accuracy,
                perplexity: s.perplexity,
                bits_per_byte: (s.bytes > 0).then_some(s.bits_per_byte),
                positions: s.positions,
                bytes: s.bytes,
                sequences: s.sequences,
                host_syncs: s.host_syncs,
                seconds: s.seconds,
            })
        })
    }

    /// Continues each prompt by up to `max_new` tokens, stopping at EOS. `prompts` is a text or a
    /// list of texts (each becomes BOS + its tokens), or token ids (a sequence, a list of them,
    /// or a 2-D array). `strategy` is greedy, temperature, top-k, top-p or top-k-top-p, as the
    /// CLI's `--strategy`; `seed` defaults to the model's.
    #[pyo3(signature = (prompts, max_new=64, strategy="top-k-top-p", temperature=0.8, top_k=40, top_p=0.9, seed=None))]
    #[allow(clippy::too_many_arguments)]
    fn generate(
        &self,
        py: Python<'_>,
        prompts: &Bound<'_, PyAny>,
        max_new: i128,
        strategy: &str,
        temperature: f32,
        top_k: i128,
        top_p: f32,
        seed: Option<i128>,
    ) -> PyResult<GenerateResult> {
        let prompts = match texts(prompts) {
            Some(t) => Prompts::Text(t),
            None => Prompts::Ids(ids::rows(prompts, "prompts")?.rows),
        };
        let strategy: Strategy = parse("strategy", strategy)?;
        let rule = strategy.rule(temperature, unsigned("top_k", top_k)?, top_p);
        let max_new = unsigned("max_new", max_new)?;
        let seed: Option<u64> = seed.map(|s| unsigned("seed", s)).transpose()?;
        self.run(py, move |state| {
            let opts = GenerateOptions { max_new, rule, seed: seed.unwrap_or(state.seed) };
            state.generate(prompts, &opts)
        })
    }

    /// What `neurogen info --json` reports for this model (backend, device, limits, sizes,
    /// memory, the whole config), plus its steps, seed and tokenizer.
    fn info(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let json = self.run(py, |state| {
            let eng = &state.trainer.engine;
            let json_err = |e: serde_json::Error| NeuroError::Usage(format!("info as JSON: {e}"));
            let mut v = serde_json::to_value(bench::model_info(eng.backend(), eng.config())).map_err(json_err)?;
            v["config"] = serde_json::to_value(eng.config()).map_err(json_err)?;
            v["tokenizer"] = serde_json::to_value(state.tokenizer.spec()).map_err(json_err)?;
            v["steps"] = eng.steps_taken().into();
            v["train_steps"] = state.trainer.steps().into();
            v["seed"] = state.seed.into();
            Ok(v.to_string())
        })?;
        Ok(py.import("json")?.call_method1("loads", (json,))?.unbind())
    }

    /// The backend it runs on: cpu, wgpu or cuda (what `auto` chose).
    #[getter]
    fn backend(&self, py: Python<'_>) -> PyResult<&'static str> {
        self.run(py, |state| Ok(state.trainer.engine.backend().info().backend))
    }
    #[getter]
    fn preset(&self, py: Python<'_>) -> PyResult<String> {
        self.run(py, |state| Ok(state.trainer.engine.config().preset.clone()))
    }
    /// The vocabulary size V.
    #[getter]
    fn vocab(&self, py: Python<'_>) -> PyResult<usize> {
        self.run(py, |state| Ok(state.trainer.engine.config().vocab))
    }
    /// Training steps taken (replays excluded), across saves and loads.
    #[getter]
    fn steps(&self, py: Python<'_>) -> PyResult<u64> {
        self.run(py, |state| Ok(state.trainer.steps()))
    }
    #[getter]
    fn seed(&self, py: Python<'_>) -> PyResult<u64> {
        self.run(py, |state| Ok(state.seed))
    }
    #[getter]
    fn tokenizer(&self, py: Python<'_>) -> PyResult<PyTokenizer> {
        self.run(py, |state| Ok(PyTokenizer(state.tokenizer.clone())))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        self.run(py, |state| {
            let (eng, steps) = (&state.trainer.engine, state.trainer.steps());
            let cfg = eng.config();
            Ok(format!(
                "Model(preset={:?}, backend={:?}, vocab={}, steps={steps})",
                cfg.preset,
                eng.backend().info().backend,
                cfg.vocab
            ))
        })
    }
}

/// `prompts` as texts, when it is a string or a non-empty list of strings.
fn texts(prompts: &Bound<'_, PyAny>) -> Option<Vec<String>> {
    if let Ok(s) = prompts.cast::<PyString>() {
        return Some(vec![s.to_string()]);
    }
    let items: Vec<Bound<'_, PyAny>> = prompts.extract().ok()?;
    let all_text = !items.is_empty() && items.iter().all(|x| x.is_instance_of::<PyString>());
    all_text.then(|| items.iter().map(|x| x.to_string()).collect())
}

// ---- corpus -----------------------------------------------------------------------------------

/// The packed sequences of a corpus, read as they are needed: `data` is a .txt (a document per
/// line), .jsonl (a `text` field per line) or .jsonl.zst file, a directory or a glob; documents
/// are tokenized, joined with EOS and cut into sequences of `seq_len` tokens, BOS first — the
/// sequences `neurogen evaluate --data data --seq-len seq_len --max-sequences 0` scores.
/// Iterating yields lists of token ids; `on_bad_data` is skip (report on stderr) or refuse.
#[pyclass(module = "neurogen", frozen)]
pub struct Corpus {
    stream: Mutex<SequenceStream<Arc<Tokenizer>>>,
    tokenizer: Arc<Tokenizer>,
}

#[pymethods]
impl Corpus {
    #[new]
    #[pyo3(signature = (data, tokenizer=None, seq_len=64, on_bad_data="skip"))]
    fn new(data: PathBuf, tokenizer: Option<&Bound<'_, PyAny>>, seq_len: i128, on_bad_data: &str) -> PyResult<Corpus> {
        let tokenizer = match tokenizer {
            Some(t) => tokenizer_arg(t)?,
            None => Arc::new(Tokenizer::bytes()),
        };
        let seq_len: usize = unsigned("seq_len", seq_len)?;
        if seq_len > MAX_SEQUENCE {
            return Err(error(format!("seq_len {seq_len} exceeds the limit of {MAX_SEQUENCE} tokens per sequence")));
        }
        let on_bad: OnBadData = parse("on_bad_data", on_bad_data)?;
        let files = corpus::resolve(&data.to_string_lossy()).map_err(error)?;
        let stream = SequenceStream::new(files, tokenizer.clone(), seq_len, on_bad).map_err(error)?;
        Ok(Corpus { stream: Mutex::new(stream), tokenizer })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Vec<u32>>> {
        py.detach(|| match self.stream.lock() {
            Ok(mut s) => s.next_sequence(),
            Err(_) => Err(NeuroError::Usage("an earlier read of this corpus panicked".into())),
        })
        .map_err(error)
    }

    /// Malformed lines and files skipped so far (file:line: what).
    #[getter]
    fn problems(&self) -> Vec<String> {
        self.stream.lock().map(|s| s.problems().to_vec()).unwrap_or_default()
    }

    /// The tokenizer the sequences were made with.
    #[getter]
    fn tokenizer(&self) -> PyTokenizer {
        PyTokenizer(self.tokenizer.clone())
    }
}

/// NeuroGen: a bio-inspired spiking language model on the CPU, wgpu or CUDA.
#[pymodule(name = "neurogen")]
mod module {
    #[pymodule_export]
    use super::compat::NeuroGenModel;
    #[pymodule_export]
    use super::{Corpus, Error, EvalResult, GenerateResult, Model, PyTokenizer, TrainResult};

    #[pymodule_init]
    fn init(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        use pyo3::types::PyModuleMethods;
        m.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
