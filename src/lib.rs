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
pub use config::{ModelConfig, ModuleId, Preset};
pub use error::{NeuroError, Result};
pub use orchestrator::{
    CallStats, Engine, EvalOutput, GenerateOptions, GenerateOutput, SleepReport, Snapshot, TrainOutput, TrainPhase,
};
pub use pipeline::tokenizer::Tokenizer;
pub use sampling::SamplingRule;

/// Which implementation of the backend trait to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum BackendKind {
    Cpu,
    Wgpu,
    Cuda,
}

/// Creates a backend, or says clearly why it cannot.
pub fn create_backend(kind: BackendKind) -> Result<Box<dyn Backend>> {
    match kind {
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
