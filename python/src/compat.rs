//! `NeuroGenModel`: the interface of the predecessor's binding (`libneurogen`), so that a script
//! written for it runs with its import changed. It is a [`Model`] underneath (`.model`), whose
//! checkpoints the CLI reads.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use clap::ValueEnum;
use neurogen::backend::cuda::CudaBackend;
use neurogen::sampling::Strategy;
use neurogen::{create_backend, Backend, BackendKind, GenerateOptions, ModelConfig, NeuroError, Precision, Preset};
use pyo3::prelude::*;

use crate::{error, ids, ids_tokenizer, name_of, parse, unsigned, Model, Prompts};

/// Where the model runs: a backend (gpu_device 0) or a CUDA device by id.
#[derive(Clone, Copy)]
enum Device {
    Backend(BackendKind),
    Cuda(usize),
}

impl Device {
    fn open(self) -> neurogen::Result<Box<dyn Backend>> {
        match self {
            Device::Backend(kind) => create_backend(kind),
            Device::Cuda(n) => match CudaBackend::on_device(n) {
                Ok(be) => Ok(Box::new(be)),
                Err(e) => Err(NeuroError::Unavailable(format!(
                    "gpu_device {n} selects CUDA device {n}, which cannot be opened: {e}; gpu_device=0 runs on the backend auto-choice"
                ))),
            },
        }
    }
}

/// The predecessor's interface: `NeuroGenModel(vocab_size, embedding_dim, gpu_device=0)`.
///
/// `embedding_dim` picks the preset whose E it is: 64 (tiny), 512 (small) or 1536 (seed).
/// `vocab_size` is V (at least 259): the model takes token ids a tokenizer elsewhere made.
/// `gpu_device=0` runs on the backend auto-choice (CUDA where an NVIDIA device exists, else a
/// hardware GPU through wgpu, else the CPU); another id runs on that CUDA device, and is refused
/// where CUDA cannot open it. Keyword-only extras: `backend` (auto, cpu, wgpu, cuda) and `seed`.
#[pyclass(module = "neurogen", frozen)]
pub struct NeuroGenModel {
    model: Py<Model>,
    device: Device,
    /// `generate` calls so far: each samples with its own seed, as the predecessor's did.
    turns: AtomicU64,
}

#[pymethods]
impl NeuroGenModel {
    #[new]
    #[pyo3(signature = (vocab_size, embedding_dim, gpu_device=0, *, backend="auto", seed=0))]
    fn new(
        py: Python<'_>,
        vocab_size: i128,
        embedding_dim: i128,
        gpu_device: i128,
        backend: &str,
        seed: i128,
    ) -> PyResult<NeuroGenModel> {
        let preset = preset_of(embedding_dim)?;
        let kind: BackendKind = parse("backend", backend)?;
        let device = match gpu_device {
            0 => Device::Backend(kind),
            n if n > 0 && matches!(kind, BackendKind::Auto | BackendKind::Cuda) => {
                Device::Cuda(unsigned("gpu_device", n)?)
            }
            n if n > 0 => {
                return Err(error(format!(
                "gpu_device {n} names a CUDA device, but backend is {kind}, which has no device ids; pass gpu_device=0"
            )))
            }
            n => {
                return Err(error(format!(
                    "gpu_device must be 0 (the backend auto-choice) or a CUDA device id, got {n}"
                )))
            }
        };
        let tokenizer = Arc::new(ids_tokenizer(unsigned("vocab_size", vocab_size)?)?);
        let model =
            Model::fresh(py, move || device.open(), preset, tokenizer, unsigned("seed", seed)?, Precision::F32)?;
        Ok(NeuroGenModel { model: Py::new(py, model)?, device, turns: AtomicU64::new(0) })
    }

    /// One training step; returns (loss, accuracy). `target_ids` must be `input_ids` shifted by
    /// one (`target[i] == input[i + 1]`): the engine trains on the sequence
    /// `input_ids + [target_ids[-1]]`, predicting each next token. One sequence (1-D) or a batch
    /// (2-D) of them, as lists or integer arrays.
    fn train_step(
        &self,
        py: Python<'_>,
        input_ids: &Bound<'_, PyAny>,
        target_ids: &Bound<'_, PyAny>,
    ) -> PyResult<(f64, f64)> {
        let (inputs, targets) = (ids::rows(input_ids, "input_ids")?, ids::rows(target_ids, "target_ids")?);
        if inputs.one != targets.one || inputs.rows.len() != targets.rows.len() {
            return Err(error(
                "input_ids and target_ids must have the same shape: one sequence each, or batches of as many sequences",
            ));
        }
        let mut seqs = Vec::with_capacity(inputs.rows.len());
        for (b, (x, y)) in inputs.rows.iter().zip(&targets.rows).enumerate() {
            if x.len() != y.len() {
                return Err(error(format!(
                    "sequence {b}: input_ids has {} tokens and target_ids {}; they must be as long",
                    x.len(),
                    y.len()
                )));
            }
            let Some(&last) = y.last() else { return Err(error(format!("sequence {b} is empty"))) };
            if let Some(i) = (1..x.len()).find(|&i| y[i - 1] != x[i]) {
                return Err(error(format!(
                    "target_ids must be input_ids shifted by one (target[i] == input[i+1]): the engine predicts each next token of one sequence, input_ids + [target_ids[-1]]; in sequence {b}, target_ids[{}] = {} but input_ids[{i}] = {}",
                    i - 1,
                    y[i - 1],
                    x[i]
                )));
            }
            seqs.push(x.iter().copied().chain([last]).collect::<Vec<u32>>());
        }
        let r = self.model.get().run(py, move |state| state.train_step(&seqs))?;
        Ok((r.loss, r.accuracy))
    }

    /// The prompt followed by up to `max_length` new tokens (fewer if EOS comes), as the
    /// predecessor returned them; sampled top-k-top-p at the engine's defaults.
    #[pyo3(signature = (prompt_ids, max_length=100))]
    fn generate(&self, py: Python<'_>, prompt_ids: &Bound<'_, PyAny>, max_length: i128) -> PyResult<Vec<u32>> {
        let prompt = ids::one_row(prompt_ids, "prompt_ids")?;
        let max_new = unsigned("max_length", max_length)?;
        let turn = self.turns.fetch_add(1, Ordering::Relaxed);
        let out = self.model.get().run(py, {
            let prompt = prompt.clone();
            move |state| {
                let opts =
                    GenerateOptions { max_new, rule: Strategy::default_rule(), seed: state.seed.wrapping_add(turn) };
                state.generate(Prompts::Ids(vec![prompt]), &opts)
            }
        })?;
        Ok(prompt.into_iter().chain(out.tokens.into_iter().flatten()).collect())
    }

    /// Writes a checkpoint directory at `path` (what `neurogen … --checkpoint path` reads).
    fn save_checkpoint(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        self.model.get().save_to(py, &path)
    }

    /// Replaces the model by the checkpoint (or run directory) at `path`, on the same device; it
    /// may be one the CLI wrote.
    fn load_checkpoint(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let device = self.device;
        self.model.get().load_into(py, &path, move || device.open())
    }

    /// The `neurogen.Model` underneath (evaluate, info, the full generate …).
    #[getter]
    fn model(&self, py: Python<'_>) -> Py<Model> {
        self.model.clone_ref(py)
    }
}

/// The preset whose embedding width E is `e`.
fn preset_of(e: i128) -> PyResult<Preset> {
    let width = |p: &Preset| ModelConfig::preset(*p).embed as i128;
    if let Some(p) = Preset::value_variants().iter().find(|p| width(p) == e) {
        return Ok(*p);
    }
    let valid: Vec<String> =
        Preset::value_variants().iter().map(|p| format!("{} ({})", width(p), name_of(p))).collect();
    Err(error(format!("embedding_dim {e} matches no preset; the engine's presets have E = {}", valid.join(", "))))
}
