//! One error type for the library; the CLI wraps it with anyhow.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum NeuroError {
    /// The caller's input is invalid (token ids, batch shapes, options). Nothing was queued.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The model configuration is inconsistent.
    #[error("invalid model configuration: {0}")]
    Config(String),
    /// The model does not fit the device (buffer limits or memory).
    #[error("does not fit the device: {0}")]
    DoesNotFit(String),
    /// The backend could not be created or failed while running.
    #[error("{backend} backend: {message}")]
    Backend { backend: &'static str, message: String },
    /// The requested backend is not available in this build or on this machine.
    #[error("{0}")]
    Unavailable(String),
    /// A train step produced NaN or Inf; none of its updates were applied.
    #[error("non-finite values in {}: the step's updates were not applied", .0.join(", "))]
    NonFinite(Vec<String>),
    /// A call was used out of order (e.g. an upload while recording).
    #[error("usage error: {0}")]
    Usage(String),
}

pub type Result<T> = std::result::Result<T, NeuroError>;

pub(crate) fn invalid<T>(msg: impl Into<String>) -> Result<T> {
    Err(NeuroError::InvalidInput(msg.into()))
}
