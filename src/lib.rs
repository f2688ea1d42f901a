//! NeuroGen: a GPU engine that runs a bio-inspired spiking language model.
//!
//! A call (`generate`, `evaluate`, `forward`) is recorded as one op sequence, submitted once and
//! read back once; see [`orchestrator::Engine`] and the [`backend::Backend`] trait. Around that
//! core, [`pipeline`] takes text to a trained checkpoint, and [`bench`] measures throughput.

pub mod backend;
pub mod bench;
pub mod config;
pub mod error;
pub mod model;
pub mod orchestrator;
pub mod pipeline;
pub mod sampling;

pub use backend::{Backend, BackendStats};
pub use config::{ModelConfig, ModuleId, Precision, Preset};
pub use error::{NeuroError, Result};
pub use orchestrator::{
    CallStats, Engine, EvalOutput, GenerateOptions, GenerateOutput, SleepReport, Snapshot, TrainOutput, TrainPhase,
    GENERATE_SEGMENT, MAX_GENERATE, MAX_SEQUENCE,
};
pub use pipeline::tokenizer::Tokenizer;
pub use sampling::SamplingRule;

/// Which implementation of the backend trait to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// CUDA where an NVIDIA device exists, else a hardware GPU through wgpu, else the CPU.
    Auto,
    /// The multi-threaded CPU reference (the test oracle).
    Cpu,
    /// wgpu: Vulkan, Metal or DX12, on any GPU (or Mesa's software lavapipe).
    Wgpu,
    /// CUDA through the driver API and NVRTC.
    Cuda,
}

impl std::fmt::Display for BackendKind {
    /// The name the CLI accepts (`--backend cpu`), so hints print valid commands.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clap::ValueEnum;
        let v = self.to_possible_value().expect("no variant is skipped");
        f.write_str(v.get_name())
    }
}

/// Creates a backend, or says clearly why it cannot. `Auto` is resolved by [`choose_backend`].
pub fn create_backend(kind: BackendKind) -> Result<Box<dyn Backend>> {
    match kind {
        BackendKind::Auto => choose_backend().map(|c| c.backend),
        BackendKind::Cpu => Ok(Box::new(backend::cpu::CpuBackend::new())),
        #[cfg(feature = "wgpu")]
        BackendKind::Wgpu => Ok(Box::new(backend::wgpu::WgpuBackend::new()?)),
        #[cfg(not(feature = "wgpu"))]
        BackendKind::Wgpu => {
            Err(NeuroError::Unavailable("this build has no wgpu backend (enable the `wgpu` feature)".into()))
        }
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => Ok(Box::new(backend::cuda::CudaBackend::new()?)),
        #[cfg(not(feature = "cuda"))]
        BackendKind::Cuda => {
            Err(NeuroError::Unavailable("this build has no CUDA backend (enable the `cuda` feature)".into()))
        }
    }
}

/// What `--backend auto` chose, and why the faster ones were passed over.
pub struct BackendChoice {
    pub kind: BackendKind,
    pub backend: Box<dyn Backend>,
    /// One line per backend tried before the chosen one: `cuda: <why not>`.
    pub passed_over: Vec<String>,
}

/// CUDA where a device exists, else a hardware wgpu adapter (a software rasteriser such as
/// lavapipe is slower than the CPU backend), else the CPU backend.
pub fn choose_backend() -> Result<BackendChoice> {
    let mut passed_over = Vec::new();
    #[cfg(feature = "cuda")]
    match backend::cuda::CudaBackend::new() {
        Ok(b) => return Ok(BackendChoice { kind: BackendKind::Cuda, backend: Box::new(b), passed_over }),
        Err(e) => passed_over.push(format!("cuda: {e}")),
    }
    #[cfg(feature = "wgpu")]
    match backend::wgpu::WgpuBackend::open(true) {
        Ok(b) => return Ok(BackendChoice { kind: BackendKind::Wgpu, backend: Box::new(b), passed_over }),
        Err(e) => passed_over.push(format!("wgpu: {e}")),
    }
    Ok(BackendChoice { kind: BackendKind::Cpu, backend: Box::new(backend::cpu::CpuBackend::new()), passed_over })
}
