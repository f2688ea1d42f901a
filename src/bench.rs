//! Measurement helpers for `neurogen bench`: the device's copy bandwidth and the bytes a tick
//! must move (ARCHITECTURE's performance model), so throughput can be stated as a fraction of
//! what the memory system allows.

use std::time::Instant;

use crate::backend::{Backend, Op};
use crate::config::ModelConfig;
use crate::error::Result;

/// Achieved bandwidth of the `copy` op (bytes read + written per second) on up to 1 GiB,
/// best of five one-submission calls after a warm-up.
pub fn copy_bandwidth(be: &mut dyn Backend) -> Result<f64> {
    let info = be.info();
    let bytes = (1u64 << 30).min(info.max_binding_bytes).min(info.max_buffer_bytes) & !3;
    let words = (bytes / 4) as usize;
    let (src, dst) = (be.alloc(words)?, be.alloc(words)?);
    be.begin()?;
    be.enqueue(Op::fill(src, words, 0x3f80_0000))?;
    be.enqueue(Op::copy(src, dst, words))?;
    be.submit(&[])?;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        be.begin()?;
        be.enqueue(Op::copy(src, dst, words))?;
        be.submit(&[])?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    be.free(src);
    be.free(dst);
    Ok(2.0 * words as f64 * 4.0 / best)
}

/// Bytes one cognitive step must move for `batch` sequences: the recurrent and projection
/// weights with their indices (once, shared by the batch), each sequence's neuron state (read
/// and written), and, when decoding, the decoder.
pub fn bytes_per_tick(cfg: &ModelConfig, batch: usize, decode: bool) -> u64 {
    let weights: usize = cfg.modules.iter().map(|m| m.n * m.fanout * 8 + m.n * 4).sum::<usize>()
        + cfg.connections.iter().map(|c| cfg.module(c.target).inputs * cfg.init.projection_fanout * 8).sum::<usize>();
    // v, a, e read and written, the spike read and written, the readout written.
    let state: usize = cfg.modules.iter().map(|m| m.n * 4 * 8 + m.outputs * 4).sum();
    let decoder = if decode { cfg.vocab * (cfg.decoder_width() + 1) * 4 } else { 0 };
    (weights + decoder + batch * state) as u64
}
