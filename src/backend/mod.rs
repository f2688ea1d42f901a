//! The backend trait and the fused, model-level ops every backend implements.
//!
//! A call is *recorded* (`begin`, `enqueue` × n), *submitted once* and *read back once*
//! (`submit`). Ops never return host data. Each op is declared once, in the table of `ops.rs`:
//! one CPU function (`cpu.rs`) = one WGSL entry point (`shaders/<name>.wgsl`) = one CUDA kernel
//! (`kernels/<name>.cu`), all taking the same parameter struct and the same named buffers.

pub mod codegen;
pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod ops;
#[cfg(feature = "wgpu")]
pub mod wgpu;

use bytemuck::Pod;

pub use crate::config::COLUMN;
use crate::error::{NeuroError, Result};
pub use ops::*;

/// A device buffer of 32-bit words (f32 or u32), owned by the backend that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Buf(pub u32);

/// Counters every backend keeps (docs/model.md, "Calls").
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BackendStats {
    /// Calls submitted.
    pub calls: u64,
    /// Times the host waited for the device (submits plus explicit downloads).
    pub host_syncs: u64,
    /// Kernel dispatches enqueued.
    pub dispatches: u64,
    /// Host syncs and dispatches of the last submitted call.
    pub last_call_syncs: u64,
    pub last_call_dispatches: u64,
    /// Device time of the last call in seconds, where the backend can time.
    pub last_call_device_seconds: Option<f64>,
    /// Calls served by replaying a captured command graph (CUDA graphs).
    pub replayed_calls: u64,
    /// Command graphs built (CUDA graphs), one per call shape seen often enough.
    pub captured_graphs: u64,
    /// Graph nodes given new parameters before a replay (a replay with another seed or
    /// sampling rule updates just the nodes whose parameters changed).
    pub graph_node_updates: u64,
}

/// The time one kind of launch took over a profiled call ([`Backend::set_profiling`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct KernelTime {
    /// The op's name (`cublas_sgemm` or `cublas_gemm_bf16` for a cuBLAS product).
    pub name: String,
    pub launches: u32,
    pub ms: f64,
}

/// Per-kind totals of `(name, milliseconds)` launches, longest first.
pub fn kernel_times<'a>(timed: impl IntoIterator<Item = (&'a str, f64)>) -> Vec<KernelTime> {
    let mut per: std::collections::HashMap<&str, (u32, f64)> = std::collections::HashMap::new();
    for (name, ms) in timed {
        let e = per.entry(name).or_default();
        e.0 += 1;
        e.1 += ms;
    }
    let mut rows: Vec<KernelTime> =
        per.into_iter().map(|(name, (launches, ms))| KernelTime { name: name.to_string(), launches, ms }).collect();
    rows.sort_by(|x, y| y.ms.total_cmp(&x.ms).then_with(|| x.name.cmp(&y.name)));
    rows
}

/// What a backend says about its device.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DeviceInfo {
    pub backend: &'static str,
    pub device: String,
    /// Largest single buffer, in bytes.
    pub max_buffer_bytes: u64,
    /// Largest storage binding, in bytes.
    pub max_binding_bytes: u64,
    /// Device memory in bytes where known.
    pub memory_bytes: Option<u64>,
    /// Whether the device's buffers live in host memory (the CPU backend).
    pub host_memory: bool,
}

/// Host memory a new allocation can have now (Linux: `MemAvailable`), where known.
pub fn host_available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Bytes of buffers held now and at most, kept by each backend as it allocates and frees.
#[derive(Clone, Copy, Debug, Default)]
pub struct Footprint {
    live: u64,
    peak: u64,
}

impl Footprint {
    pub fn alloc(&mut self, words: usize) {
        self.live += 4 * words as u64;
        self.peak = self.peak.max(self.live);
    }
    pub fn free(&mut self, words: usize) {
        self.live -= 4 * words as u64;
    }
    pub fn peak_bytes(&self) -> u64 {
        self.peak
    }
}

/// `Send`: an engine may move between threads (the Python binding runs each call with the GIL
/// released); it is used from one thread at a time.
pub trait Backend: Send {
    fn info(&self) -> DeviceInfo;
    /// Allocates `words` 32-bit words. Contents are unspecified until written.
    fn alloc(&mut self, words: usize) -> Result<Buf>;
    fn free(&mut self, buf: Buf);
    fn len(&self, buf: Buf) -> usize;
    /// The most bytes of buffers this backend has held at once (its allocations only: not the
    /// driver's, graphs' or pipelines' own memory).
    fn peak_bytes(&self) -> u64;
    /// Copies host data into a buffer at a word offset. Not allowed while recording.
    fn upload(&mut self, buf: Buf, offset: usize, data: &[u32]) -> Result<()>;
    /// Starts recording a call.
    fn begin(&mut self) -> Result<()>;
    /// Records one op. Never waits for the device.
    fn enqueue(&mut self, op: Op) -> Result<()>;
    /// Submits the recorded call, waits once, and returns the contents of `reads`.
    fn submit(&mut self, reads: &[Buf]) -> Result<Vec<Vec<u32>>>;
    /// Reads a buffer outside a call (diagnostics, tests, checkpoints): one host sync.
    fn download(&mut self, buf: Buf) -> Result<Vec<u32>>;
    fn stats(&self) -> BackendStats;
    /// The launch choices this backend makes for this device.
    fn launch_shapes(&self) -> LaunchShapes;
    /// Times every launch of the calls that follow (CUDA: events around each kernel, without
    /// graphs; the CPU reference: each op's wall time). Returns false where the backend cannot.
    fn set_profiling(&mut self, on: bool) -> bool {
        let _ = on;
        false
    }
    /// Per-kernel totals of the last call submitted while profiling, longest first.
    fn last_profile(&self) -> Option<Vec<KernelTime>> {
        None
    }
}

/// One recorded op: its kind, its parameter struct as words, its buffers and its grid.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Op {
    pub kind: OpKind,
    pub params: Vec<u32>,
    pub bufs: Vec<Buf>,
    /// Workgroups (thread blocks) of [`COLUMN`] threads, as a linear count: 0 until the backend
    /// shapes the op at `enqueue` ([`Op::prepare`]).
    pub groups: u32,
}

/// Sparse fixed-fanout matrices (recurrent `W`, projections `P`) live on the device
/// *slot-major*: entry `(row i, slot f)` is at `f · rows + i`, so neighbouring threads (rows) read
/// neighbouring words. Host-side [`crate::model::FixedFanout`] is row-major; `to_slot_major`
/// converts at upload.
pub fn to_slot_major<T: Copy>(row_major: &[T], rows: usize, fanout: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(row_major.len());
    for f in 0..fanout {
        out.extend((0..rows).map(|i| row_major[i * fanout + f]));
    }
    out
}

/// Largest workgroup (block) count in one grid dimension (the WebGPU default limit).
const MAX_GROUPS_PER_DIM: u32 = 65535;

/// Splits a linear workgroup count into a 2-D grid within the per-dimension limit.
/// Kernels rebuild the linear index as `x + y · width` and drop the overhang.
pub fn grid(groups: u32) -> (u32, u32) {
    let x = groups.clamp(1, MAX_GROUPS_PER_DIM);
    (x, groups.div_ceil(x).max(1))
}

/// Spikes are bits: word `[b / 32][i]` holds bit `b % 32` for neuron `i` of sequence `b`, so one
/// gather of a presynaptic neuron's word serves 32 sequences. Each module has two such buffers,
/// last tick's (read) and this tick's (written), swapped every tick.
pub const SPIKE_TILE: usize = 32;

/// Words of one spike buffer for `batch` sequences of `n` neurons.
pub fn spike_words(batch: usize, n: usize) -> usize {
    batch.div_ceil(SPIKE_TILE) * n
}

/// The recurrent input is summed in fixed point, REC_SCALE units per mV (docs/model.md §3.4):
/// integer sums do not depend on their order, so gathering a neuron's synapses and scattering a
/// spike's outgoing ones (`propagate`) give the same bits on every backend.
pub const REC_SCALE: u32 = 1 << 16;

/// The largest fixed-point weight of a module of this fanout: `(2³¹ − 1) / fanout`, so that a
/// neuron's sum cannot overflow.
pub fn rec_limit(fanout: u32) -> i32 {
    (0x7fff_ffff / fanout.max(1)) as i32
}

/// A recurrent weight in fixed-point units: `round(w · REC_SCALE)` (ties to even), at most `lim`
/// ([`rec_limit`]) in magnitude. `w` must be finite (a non-finite weight of a spiking synapse
/// makes the sum NaN instead).
pub fn rec_units(w: f32, lim: i32) -> i32 {
    ((w * REC_SCALE as f32).clamp(-1_073_741_824.0, 1_073_741_824.0).round_ties_even() as i32).clamp(-lim, lim)
}

/// A fixed-point recurrent sum in mV; NaN where a spiking synapse's weight was not finite.
pub fn rec_mv(sum: i32, bad: bool) -> f32 {
    if bad {
        f32::NAN
    } else {
        sum as f32 * (1.0 / REC_SCALE as f32)
    }
}

/// The most sequences a call propagates event-driven (one spike tile): `propagate` scatters each
/// sequence's spikes on its own, so its cost grows with the batch, while a gather of a spike word
/// serves a whole tile. Above it, and wherever a backend's [`LaunchShapes::event_max_batch`] says
/// so, `lif_kwta` gathers.
pub const EVENT_MAX_BATCH: usize = SPIKE_TILE;

/// Words of `propagate`'s sums per sequence of a module of `n` neurons: `n` sums, then `n / 32`
/// words of non-finite bits (bit `i % 32` of word `n + i / 32` for neuron `i`).
pub fn rec_words(n: usize) -> usize {
    n + n / 32 // n is a multiple of COLUMN
}

/// A spike buffer as 0/1 per `[batch][n]`.
pub fn unpack_spikes(spk: &[u32], batch: usize, n: usize) -> Vec<u32> {
    (0..batch).flat_map(|b| (0..n).map(move |i| (spk[(b / SPIKE_TILE) * n + i] >> (b % SPIKE_TILE)) & 1)).collect()
}

/// The bf16 bits of `x` (round to nearest, ties to even; a NaN stays a quiet NaN), as the
/// `pack_bf16` op computes them.
pub fn bf16_bits(x: f32) -> u32 {
    let b = x.to_bits();
    if b & 0x7fff_ffff > 0x7f80_0000 {
        return (b >> 16) | 0x40;
    }
    (b + 0x7fff + ((b >> 16) & 1)) >> 16
}

/// `values` as a bf16 weights buffer ([`ops::Elem::Weights`]): two per word, even index low.
pub fn to_bf16_words(values: &[f32]) -> Vec<u32> {
    values.chunks(2).map(|c| bf16_bits(c[0]) | c.get(1).map_or(0, |&h| bf16_bits(h) << 16)).collect()
}

/// Values `range` of a weights buffer ([`ops::Elem::Weights`]) as f32: the words themselves, or
/// with `bf16 != 0` each half widened.
pub fn weight_values(words: &[u32], range: std::ops::Range<usize>, bf16: u32) -> std::borrow::Cow<'_, [f32]> {
    if bf16 == 0 {
        return std::borrow::Cow::Borrowed(bytemuck::cast_slice(&words[range]));
    }
    std::borrow::Cow::Owned(range.map(|i| weight_at(words, i, 1)).collect())
}

/// Value `i` of a weight buffer ([`weight_values`] of one element).
pub fn weight_at(words: &[u32], i: usize, bf16: u32) -> f32 {
    f32::from_bits(match (bf16, i % 2) {
        (0, _) => words[i],
        (_, 0) => words[i / 2] << 16,
        _ => words[i / 2] & 0xffff_0000,
    })
}

/// Output tile of the decoder GEMMs (`decoder_grad` always, `logits` on its GEMM path): each
/// workgroup of COLUMN threads computes GEMM_TILE × GEMM_TILE outputs, 4 × 4 per thread, from
/// GEMM_DEPTH-deep operand slices in shared memory (so the kernels' thread mapping assumes
/// GEMM_TILE² = 16 · COLUMN).
pub const GEMM_TILE: usize = 64;
pub const GEMM_DEPTH: usize = 16;
const _: () = assert!(GEMM_TILE * GEMM_TILE == 16 * COLUMN);

/// Side of the square tile a `transpose` workgroup stages in shared memory (COLUMN threads move
/// TRANSPOSE_TILE² / COLUMN elements each).
pub const TRANSPOSE_TILE: usize = 32;
const _: () = assert!(TRANSPOSE_TILE * TRANSPOSE_TILE % COLUMN == 0);
/// Threads that share one synapse's dot product in `eprop` (a warp on CUDA): a workgroup learns
/// COLUMN / EPROP_LANES synapses of its postsynaptic row at a time.
pub const EPROP_LANES: usize = 32;
const _: () = assert!(COLUMN % EPROP_LANES == 0);

/// The `logits` row path: a workgroup decodes one vocabulary row for a tile of this many
/// sequences (a matrix-vector product, bound by reading W_dec).
pub const LOGITS_BATCH_TILE: usize = 8;

/// `logits` paths (`logits::Params::path`): the backend chooses, one workgroup per vocabulary row
/// and sequence tile, or the tiled GEMM (each W_dec element read once per GEMM_TILE sequences).
pub const LOGITS_AUTO: u32 = 0;
pub const LOGITS_ROWS: u32 = 1;
pub const LOGITS_GEMM: u32 = 2;

/// Launch choices an op leaves to the backend (fields set to "auto" in its parameters), tuned per
/// device where the backend lives. Only launch shapes: every choice computes the same result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaunchShapes {
    /// `lif_kwta`: a module's tick should have at least this many workgroups; the sequences per
    /// workgroup halve (from SPIKE_TILE) until it does.
    pub lif_min_groups: usize,
    /// `lif_kwta`: fewer sequences than this sharing a gather take the per-sequence path.
    pub lif_min_tile: usize,
    /// `logits`: the GEMM path for more than LOGITS_BATCH_TILE sequences when it yields at least
    /// this many workgroups; otherwise the row path, whose many workgroups fill the device better.
    pub logits_gemm_min_groups: usize,
    /// Calls of at most this many sequences (capped at [`EVENT_MAX_BATCH`]) propagate spikes
    /// event-driven (`propagate`, then `lif_kwta` with `event = 1`); larger ones gather.
    pub event_max_batch: usize,
}

impl LaunchShapes {
    /// Sequences per `lif_kwta` workgroup for a module of `n` neurons and a batch: the most (up to
    /// SPIKE_TILE) that still leave `lif_min_groups` workgroups, and 1 where that would share a
    /// gather between fewer than `lif_min_tile` sequences.
    pub fn lif_seq_per_group(&self, n: usize, batch: usize) -> u32 {
        let cols = n / COLUMN;
        let mut spg = SPIKE_TILE;
        while spg > 1 && cols * batch.div_ceil(spg) < self.lif_min_groups {
            spg /= 2;
        }
        if spg < self.lif_min_tile {
            1
        } else {
            spg as u32
        }
    }

    /// Whether `logits` of `batch` sequences over `vocab` takes the GEMM path.
    pub fn logits_gemm(&self, batch: usize, vocab: usize) -> bool {
        let tiles = vocab.div_ceil(GEMM_TILE) * batch.div_ceil(GEMM_TILE);
        batch > LOGITS_BATCH_TILE && tiles >= self.logits_gemm_min_groups
    }
}

/// Partial squared norms `decoder_grad` writes: one per (vocabulary tile, column tile) workgroup,
/// vocabulary tile fastest.
pub fn decoder_grad_partials(vocab: usize, width: usize) -> usize {
    vocab.div_ceil(GEMM_TILE) * width.div_ceil(GEMM_TILE)
}

/// Per-row words of `loss_grad`: `[nll (f32 bits), correct, valid, argmax]`.
pub const ROW_WORDS: usize = 4;

/// Per-sequence control words: `[depth, go, done, unused]`.
pub const CTRL_WORDS: usize = 4;
/// Per-sequence accumulator words of `loss_accum`: `[Σ nll, correct, count, unused]` as f32.
pub const ACC_WORDS: usize = 4;

impl Op {
    /// An op from its parameters and named buffers; the backend shapes its launch at `enqueue`.
    pub fn new<P: OpParams>(params: P, bufs: P::Bufs) -> Op {
        let params = bytemuck::cast_slice(bytemuck::bytes_of(&params)).to_vec();
        Op { kind: P::KIND, params, bufs: bufs.list(), groups: 0 }
    }

    pub fn params<P: Pod>(&self) -> P {
        bytemuck::pod_read_unaligned(bytemuck::cast_slice(&self.params))
    }

    /// Checks the op against its declaration before anything is recorded: one live buffer per
    /// binding (`len` says how long a buffer is, `None` if freed or unknown), no buffer bound twice
    /// where either binding writes it, parameters of the declared size. Then resolves the launch
    /// choices left to the backend (`shapes`) and sets the workgroup count.
    pub fn prepare(mut self, shapes: &LaunchShapes, len: impl Fn(Buf) -> Option<usize>) -> Result<Op> {
        let name = self.kind.name();
        let bindings = self.kind.bindings();
        let usage = |m: String| Err(NeuroError::Usage(format!("op {name}: {m}")));
        if self.bufs.len() != bindings.len() {
            let names: Vec<&str> = bindings.iter().map(|b| b.name).collect();
            return usage(format!(
                "{} buffers given, {} declared ({})",
                self.bufs.len(),
                names.len(),
                names.join(", ")
            ));
        }
        if self.params.len() != self.kind.param_words() {
            return usage(format!("{} parameter words given, {} declared", self.params.len(), self.kind.param_words()));
        }
        for (i, (&buf, bi)) in self.bufs.iter().zip(bindings).enumerate() {
            if len(buf).is_none() {
                return usage(format!("buffer `{}` ({buf:?}) is not allocated", bi.name));
            }
            for (&other, bj) in self.bufs[i + 1..].iter().zip(&bindings[i + 1..]) {
                if other == buf && (bi.access == Access::ReadWrite || bj.access == Access::ReadWrite) {
                    return usage(format!(
                        "buffer {buf:?} is bound as both `{}` and `{}`, and one writes it",
                        bi.name, bj.name
                    ));
                }
            }
        }
        self.groups = self.kind.shape(&mut self.params, shapes);
        Ok(self)
    }

    /// Sets `len` words of `buf` to `value`.
    pub fn fill(buf: Buf, len: usize, value: u32) -> Op {
        Op::new(fill::Params { len: len as u32, value, ..Default::default() }, fill::Bufs { out: buf })
    }

    /// Copies `len` words of `src` into `dst`.
    pub fn copy(src: Buf, dst: Buf, len: usize) -> Op {
        Op::copy_at(src, 0, dst, 0, len)
    }

    /// Copies `src[src_offset..][..len]` into `dst[dst_offset..]`.
    pub fn copy_at(src: Buf, src_offset: usize, dst: Buf, dst_offset: usize, len: usize) -> Op {
        let p = copy::Params {
            len: len as u32,
            src_offset: src_offset as u32,
            dst_offset: dst_offset as u32,
            ..Default::default()
        };
        Op::new(p, copy::Bufs { src, dst })
    }

    /// Sets `flags[flag]` when any of `len` words of `data` is NaN or ±Inf.
    pub fn health(data: Buf, len: usize, flags: Buf, slot: usize) -> Op {
        Op::new(
            health::Params { len: len as u32, slot: slot as u32, ..Default::default() },
            health::Bufs { data, flags },
        )
    }

    /// Copies `len` words of `src` into `dst` only when all `n_flags` health flags are clear.
    pub fn commit(src: Buf, flags: Buf, n_flags: usize, dst: Buf, len: usize) -> Op {
        let p = commit::Params { len: len as u32, n_flags: n_flags as u32, ..Default::default() };
        Op::new(p, commit::Bufs { src, flags, dst })
    }
}
