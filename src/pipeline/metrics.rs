//! One line of a run's `metrics.jsonl`: written by [`crate::pipeline::run`], read by
//! [`crate::pipeline::charts`].

use serde::{Deserialize, Serialize};

use crate::config::{ModuleId, NUM_MODULES};

/// The file beside `metrics.jsonl` with the n-gram baselines of the run's split (a JSON array
/// of `{"order", "bits_per_byte", "accuracy", …}`), written at the start of a run.
pub const BASELINES: &str = "baselines.json";

/// One line of `metrics.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Metrics {
    pub step: u64,
    /// Mean nats per predicted token of the step's batch.
    pub loss: f64,
    /// The same over the UTF-8 bytes of the batch's text, in bits (runs before it: 0).
    #[serde(default)]
    pub bits_per_byte: f64,
    pub accuracy: f64,
    pub tokens: u64,
    pub tokens_per_s: f64,
    pub seconds: f64,
    pub host_syncs_per_call: u64,
    pub grad_norm: f64,
    pub spike_rates: [f64; 6],
    pub dopamine: f64,
    pub serotonin: f64,
}

/// Names of the modules, in the order of [`Metrics::spike_rates`].
pub fn module_names() -> [&'static str; NUM_MODULES] {
    ModuleId::ALL.map(|m| m.name())
}
