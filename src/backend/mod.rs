//! The backend trait and the fused, model-level ops every backend implements.
//!
//! A call is *recorded* (`begin`, `enqueue` × n), *submitted once* and *read back once*
//! (`submit`). Ops never return host data. One op = one CPU function (`cpu.rs`) = one WGSL entry
//! point (`shaders/<name>.wgsl`) = one CUDA kernel (`kernels/<name>.cu`), all taking the same
//! `#[repr(C)]` parameter struct and the same buffers in the same order.

pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
#[cfg(feature = "wgpu")]
pub mod wgpu;

use bytemuck::{Pod, Zeroable};

use crate::config::COLUMN;
use crate::error::Result;

/// A device buffer of 32-bit words (f32 or u32), owned by the backend that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Buf(pub u32);

/// How an op uses one of its buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    ReadWrite,
}

/// Counters every backend keeps (SPEC §7).
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
}

pub trait Backend {
    fn info(&self) -> DeviceInfo;
    /// Allocates `words` 32-bit words. Contents are unspecified until written.
    fn alloc(&mut self, words: usize) -> Result<Buf>;
    fn free(&mut self, buf: Buf);
    fn len(&self, buf: Buf) -> usize;
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
}

/// The fused ops. The names are the shader and kernel file names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    Fill,
    Copy,
    EmbedGate,
    Project,
    LifKwta,
    GoNogo,
    ContextUpdate,
    Logits,
    Sample,
    LossAccum,
    // ---- learning (SPEC §5) ----
    WindowStats,
    LossGrad,
    Rewards,
    DecoderGrad,
    GradNorm,
    SgdStep,
    Plasticity,
    Homeostasis,
    HebbianGains,
    Health,
    Commit,
}

impl OpKind {
    pub const ALL: [OpKind; 21] = [
        OpKind::Fill,
        OpKind::Copy,
        OpKind::EmbedGate,
        OpKind::Project,
        OpKind::LifKwta,
        OpKind::GoNogo,
        OpKind::ContextUpdate,
        OpKind::Logits,
        OpKind::Sample,
        OpKind::LossAccum,
        OpKind::WindowStats,
        OpKind::LossGrad,
        OpKind::Rewards,
        OpKind::DecoderGrad,
        OpKind::GradNorm,
        OpKind::SgdStep,
        OpKind::Plasticity,
        OpKind::Homeostasis,
        OpKind::HebbianGains,
        OpKind::Health,
        OpKind::Commit,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OpKind::Fill => "fill",
            OpKind::Copy => "copy",
            OpKind::EmbedGate => "embed_gate",
            OpKind::Project => "project",
            OpKind::LifKwta => "lif_kwta",
            OpKind::GoNogo => "go_nogo",
            OpKind::ContextUpdate => "context_update",
            OpKind::Logits => "logits",
            OpKind::Sample => "sample",
            OpKind::LossAccum => "loss_accum",
            OpKind::WindowStats => "window_stats",
            OpKind::LossGrad => "loss_grad",
            OpKind::Rewards => "rewards",
            OpKind::DecoderGrad => "decoder_grad",
            OpKind::GradNorm => "grad_norm",
            OpKind::SgdStep => "sgd_step",
            OpKind::Plasticity => "plasticity",
            OpKind::Homeostasis => "homeostasis",
            OpKind::HebbianGains => "hebbian_gains",
            OpKind::Health => "health",
            OpKind::Commit => "commit",
        }
    }

    /// Buffer bindings in order (binding 0 is always the parameter struct).
    pub fn access(self) -> &'static [Access] {
        use Access::*;
        match self {
            OpKind::Fill => &[ReadWrite],
            // src, dst
            OpKind::Copy => &[Read, ReadWrite],
            // tokens, emb, prev, j
            OpKind::EmbedGate => &[Read, Read, ReadWrite, ReadWrite],
            // p_idx, p_val, y_src, gains, fast, j, acts
            OpKind::Project => &[Read, Read, Read, Read, Read, ReadWrite, ReadWrite],
            // j, w_idx, w_val, theta, neuromod, ctrl, spk_prev, v, a, e, spk_next, y, counts
            OpKind::LifKwta => &[
                Read, Read, Read, Read, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite, ReadWrite,
                ReadWrite,
            ],
            // y_bg, ctrl
            OpKind::GoNogo => &[Read, ReadWrite],
            // y_thal, y_pfc, acts, context, pfc_hidden, neuromod, fast
            OpKind::ContextUpdate => &[Read, Read, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite],
            // dec_w, dec_b, y, logits
            OpKind::Logits => &[Read, Read, Read, ReadWrite],
            // logits, lens, tokens, ctrl
            OpKind::Sample => &[Read, Read, ReadWrite, ReadWrite],
            // logits, tokens, lens, acc
            OpKind::LossAccum => &[Read, Read, Read, ReadWrite],
            // spk, e, lens, wc, we
            OpKind::WindowStats => &[Read, Read, Read, ReadWrite, ReadWrite],
            // tokens, lens, logits (→ gradients), row_stats
            OpKind::LossGrad => &[Read, Read, ReadWrite, ReadWrite],
            // row_stats, rbar, neuromod, mod_base, mfac, acc, totals
            OpKind::Rewards => &[Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite, ReadWrite, ReadWrite],
            // grads, readouts, totals, g_w, g_b, partials
            OpKind::DecoderGrad => &[Read, Read, Read, ReadWrite, ReadWrite, ReadWrite],
            // partials, scalars
            OpKind::GradNorm => &[Read, ReadWrite],
            // param, scalars, grad (→ next)
            OpKind::SgdStep => &[Read, Read, ReadWrite],
            // w_idx, w_val, wc, we, mod_base, mfac, w_next
            OpKind::Plasticity => &[Read, Read, Read, Read, Read, Read, ReadWrite],
            // theta, wc, theta_next, activity
            OpKind::Homeostasis => &[Read, Read, ReadWrite, ReadWrite],
            // meta, gains, counts, rbar, gains_next
            OpKind::HebbianGains => &[Read, Read, Read, Read, ReadWrite],
            // data, flags
            OpKind::Health => &[Read, ReadWrite],
            // src, flags, dst
            OpKind::Commit => &[Read, Read, ReadWrite],
        }
    }
}

/// The source file of each op (`shaders/<name>.wgsl`, `kernels/<name>.cu`), embedded at build time.
#[allow(unused_macros)]
macro_rules! op_source {
    ($kind:expr, $dir:literal, $ext:literal) => {
        match $kind {
            OpKind::Fill => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/fill.", $ext)),
            OpKind::Copy => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/copy.", $ext)),
            OpKind::EmbedGate => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/embed_gate.", $ext)),
            OpKind::Project => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/project.", $ext)),
            OpKind::LifKwta => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/lif_kwta.", $ext)),
            OpKind::GoNogo => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/go_nogo.", $ext)),
            OpKind::ContextUpdate => {
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/context_update.", $ext))
            }
            OpKind::Logits => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/logits.", $ext)),
            OpKind::Sample => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/sample.", $ext)),
            OpKind::LossAccum => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/loss_accum.", $ext)),
            OpKind::WindowStats => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/window_stats.", $ext)),
            OpKind::LossGrad => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/loss_grad.", $ext)),
            OpKind::Rewards => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/rewards.", $ext)),
            OpKind::DecoderGrad => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/decoder_grad.", $ext)),
            OpKind::GradNorm => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/grad_norm.", $ext)),
            OpKind::SgdStep => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/sgd_step.", $ext)),
            OpKind::Plasticity => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/plasticity.", $ext)),
            OpKind::Homeostasis => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/homeostasis.", $ext)),
            OpKind::HebbianGains => {
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/hebbian_gains.", $ext))
            }
            OpKind::Health => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/health.", $ext)),
            OpKind::Commit => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/commit.", $ext)),
        }
    };
}
#[allow(unused_imports)]
pub(crate) use op_source;

/// One recorded op: its kind, its parameter struct as words, its buffers and its grid.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Op {
    pub kind: OpKind,
    pub params: Vec<u32>,
    pub bufs: Vec<Buf>,
    /// Workgroups (thread blocks) of [`COLUMN`] threads, as a linear count.
    pub groups: u32,
}

fn words<P: Pod>(p: &P) -> Vec<u32> {
    bytemuck::cast_slice(bytemuck::bytes_of(p)).to_vec()
}

fn ceil_div(a: usize, b: usize) -> u32 {
    a.div_ceil(b) as u32
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

/// Sequences per `lif_kwta` workgroup for a module of `n` neurons and a batch: the most (up to
/// 32) that still leave about 1024 workgroups to fill the device, and 1 where that would share a
/// gather between fewer than 8 sequences (the per-sequence path is faster there; measured on H100).
pub fn lif_seq_per_group(n: usize, batch: usize) -> u32 {
    let cols = n / COLUMN;
    let mut spg = SPIKE_TILE;
    while spg > 1 && cols * batch.div_ceil(spg) < 1024 {
        spg /= 2;
    }
    if spg < 8 {
        1
    } else {
        spg as u32
    }
}

/// Words of one spike buffer for `batch` sequences of `n` neurons.
pub fn spike_words(batch: usize, n: usize) -> usize {
    batch.div_ceil(SPIKE_TILE) * n
}

/// A spike buffer as 0/1 per `[batch][n]`.
pub fn unpack_spikes(spk: &[u32], batch: usize, n: usize) -> Vec<u32> {
    (0..batch).flat_map(|b| (0..n).map(move |i| (spk[(b / SPIKE_TILE) * n + i] >> (b % SPIKE_TILE)) & 1)).collect()
}

/// Output tile of the decoder GEMMs (`decoder_grad` always, `logits` on its GEMM path): each
/// workgroup computes GEMM_TILE × GEMM_TILE outputs from 16-deep operand slices in shared memory.
/// The kernels and shaders hard-code the same 64.
pub const GEMM_TILE: usize = 64;

/// The `logits` row path: a workgroup decodes one vocabulary row for a tile of this many
/// sequences (a matrix-vector product, bound by reading W_dec).
pub const LOGITS_BATCH_TILE: usize = 8;

/// The `logits` GEMM path (GEMM_TILE × GEMM_TILE vocabulary × sequence tiles, each W_dec element
/// read once per 64 sequences) is taken for more than LOGITS_BATCH_TILE sequences when it yields
/// at least this many workgroups (about two per SM on an H100); a small vocabulary stays on the
/// row path, whose many workgroups fill the device better (measured: `small` B = 32, V = 259).
pub const GEMM_MIN_WORKGROUPS: usize = 256;

/// Whether `logits` takes the GEMM path, and its workgroup count.
pub fn logits_plan(batch: usize, vocab: usize) -> (bool, usize) {
    let gemm = vocab.div_ceil(GEMM_TILE) * batch.div_ceil(GEMM_TILE);
    if batch > LOGITS_BATCH_TILE && gemm >= GEMM_MIN_WORKGROUPS {
        (true, gemm)
    } else {
        (false, vocab * batch.div_ceil(LOGITS_BATCH_TILE))
    }
}

impl Op {
    pub fn params<P: Pod>(&self) -> P {
        bytemuck::pod_read_unaligned(bytemuck::cast_slice(&self.params))
    }

    /// Sets `len` words of `buf` to `value`.
    pub fn fill(buf: Buf, len: usize, value: u32) -> Op {
        let p = FillParams { len: len as u32, value, _pad: [0; 2] };
        Op { kind: OpKind::Fill, params: words(&p), bufs: vec![buf], groups: ceil_div(len, COLUMN) }
    }

    /// Copies `len` words of `src` into `dst`.
    pub fn copy(src: Buf, dst: Buf, len: usize) -> Op {
        Op::copy_at(src, 0, dst, 0, len)
    }

    /// Copies `src[src_offset..][..len]` into `dst[dst_offset..]`.
    pub fn copy_at(src: Buf, src_offset: usize, dst: Buf, dst_offset: usize, len: usize) -> Op {
        let p = CopyParams { len: len as u32, src_offset: src_offset as u32, dst_offset: dst_offset as u32, _pad: 0 };
        Op { kind: OpKind::Copy, params: words(&p), bufs: vec![src, dst], groups: ceil_div(len, COLUMN) }
    }

    pub fn embed_gate(p: EmbedGateParams, tokens: Buf, emb: Buf, prev: Buf, j: Buf) -> Op {
        Op { kind: OpKind::EmbedGate, params: words(&p), bufs: vec![tokens, emb, prev, j], groups: p.batch }
    }

    /// `bufs`: p_idx, p_val, y_src, gains, fast, j, acts.
    pub fn project(p: ProjectParams, bufs: [Buf; 7]) -> Op {
        let groups = ceil_div(p.rows as usize, COLUMN) * p.batch;
        Op { kind: OpKind::Project, params: words(&p), bufs: bufs.to_vec(), groups }
    }

    pub fn lif_kwta(p: LifParams, inputs: [Buf; 7], state: [Buf; 6]) -> Op {
        assert!(p.seq_per_group.is_power_of_two() && p.seq_per_group as usize <= SPIKE_TILE);
        let groups = (p.n as usize / COLUMN) as u32 * ceil_div(p.batch as usize, p.seq_per_group as usize);
        let mut bufs = inputs.to_vec();
        bufs.extend_from_slice(&state);
        Op { kind: OpKind::LifKwta, params: words(&p), bufs, groups }
    }

    pub fn go_nogo(p: GoNogoParams, y_bg: Buf, ctrl: Buf) -> Op {
        Op { kind: OpKind::GoNogo, params: words(&p), bufs: vec![y_bg, ctrl], groups: p.batch }
    }

    /// `bufs`: y_thal, y_pfc, acts, context, pfc_hidden, neuromod, fast.
    pub fn context_update(p: ContextParams, bufs: [Buf; 7]) -> Op {
        let width = (p.o_thal.max(p.o_pfc) as usize).max(2 * crate::config::NUM_MODULES).max(p.n_conn as usize);
        let groups = ceil_div(width, COLUMN) * p.batch;
        Op { kind: OpKind::ContextUpdate, params: words(&p), bufs: bufs.to_vec(), groups }
    }

    pub fn logits(p: LogitsParams, dec_w: Buf, dec_b: Buf, y: Buf, logits: Buf) -> Op {
        let (gemm, groups) = logits_plan(p.batch as usize, p.vocab as usize);
        let p = LogitsParams { gemm: gemm as u32, ..p };
        Op { kind: OpKind::Logits, params: words(&p), bufs: vec![dec_w, dec_b, y, logits], groups: groups as u32 }
    }

    pub fn sample(p: SampleParams, logits: Buf, lens: Buf, tokens: Buf, ctrl: Buf) -> Op {
        Op { kind: OpKind::Sample, params: words(&p), bufs: vec![logits, lens, tokens, ctrl], groups: p.batch }
    }

    pub fn loss_accum(p: LossParams, logits: Buf, tokens: Buf, lens: Buf, acc: Buf) -> Op {
        Op { kind: OpKind::LossAccum, params: words(&p), bufs: vec![logits, tokens, lens, acc], groups: p.batch }
    }

    pub fn window_stats(p: WindowStatsParams, spk: Buf, e: Buf, lens: Buf, wc: Buf, we: Buf) -> Op {
        let groups = ceil_div(p.n as usize, COLUMN) * p.batch;
        Op { kind: OpKind::WindowStats, params: words(&p), bufs: vec![spk, e, lens, wc, we], groups }
    }

    pub fn loss_grad(p: LossGradParams, tokens: Buf, lens: Buf, logits: Buf, row_stats: Buf) -> Op {
        Op { kind: OpKind::LossGrad, params: words(&p), bufs: vec![tokens, lens, logits, row_stats], groups: p.rows }
    }

    /// `bufs`: row_stats, rbar, neuromod, mod_base, mfac, acc, totals.
    pub fn rewards(p: RewardsParams, bufs: [Buf; 7]) -> Op {
        Op { kind: OpKind::Rewards, params: words(&p), bufs: bufs.to_vec(), groups: 1 }
    }

    /// `bufs`: grads, readouts, totals, g_w, g_b, partials.
    pub fn decoder_grad(p: DecoderGradParams, bufs: [Buf; 6]) -> Op {
        let groups = decoder_grad_partials(p.vocab as usize, p.width as usize) as u32;
        Op { kind: OpKind::DecoderGrad, params: words(&p), bufs: bufs.to_vec(), groups }
    }

    pub fn grad_norm(p: GradNormParams, partials: Buf, scalars: Buf) -> Op {
        Op { kind: OpKind::GradNorm, params: words(&p), bufs: vec![partials, scalars], groups: 1 }
    }

    pub fn sgd_step(p: SgdParams, param: Buf, scalars: Buf, grad: Buf) -> Op {
        Op {
            kind: OpKind::SgdStep,
            params: words(&p),
            bufs: vec![param, scalars, grad],
            groups: ceil_div(p.len as usize, COLUMN),
        }
    }

    /// `bufs`: w_idx, w_val, wc, we, mod_base, mfac, w_next.
    pub fn plasticity(p: PlasticityParams, bufs: [Buf; 7]) -> Op {
        Op { kind: OpKind::Plasticity, params: words(&p), bufs: bufs.to_vec(), groups: ceil_div(p.n as usize, COLUMN) }
    }

    pub fn homeostasis(p: HomeostasisParams, theta: Buf, wc: Buf, theta_next: Buf, activity: Buf) -> Op {
        let groups = ceil_div(p.n as usize, COLUMN);
        Op { kind: OpKind::Homeostasis, params: words(&p), bufs: vec![theta, wc, theta_next, activity], groups }
    }

    pub fn hebbian_gains(p: HebbianParams, meta: Buf, gains: Buf, counts: Buf, rbar: Buf, gains_next: Buf) -> Op {
        Op {
            kind: OpKind::HebbianGains,
            params: words(&p),
            bufs: vec![meta, gains, counts, rbar, gains_next],
            groups: 1,
        }
    }

    /// Sets `flags[slot]` when any of `len` words of `data` is NaN or ±Inf.
    pub fn health(data: Buf, len: usize, flags: Buf, slot: usize) -> Op {
        let p = HealthParams { len: len as u32, slot: slot as u32, _pad: [0; 2] };
        Op { kind: OpKind::Health, params: words(&p), bufs: vec![data, flags], groups: ceil_div(len, COLUMN) }
    }

    /// Copies `len` words of `src` into `dst` only when all `n_flags` health flags are clear.
    pub fn commit(src: Buf, flags: Buf, n_flags: usize, dst: Buf, len: usize) -> Op {
        let p = CommitParams { len: len as u32, n_flags: n_flags as u32, _pad: [0; 2] };
        Op { kind: OpKind::Commit, params: words(&p), bufs: vec![src, flags, dst], groups: ceil_div(len, COLUMN) }
    }
}

// ---- Parameter structs, mirrored field by field in shaders/*.wgsl and kernels/*.cu. ----
// All fields are 32-bit; every struct is a multiple of 16 bytes.

/// `copy`: `dst[dst_offset + i] = src[src_offset + i]` for `i < len`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct CopyParams {
    pub len: u32,
    pub src_offset: u32,
    pub dst_offset: u32,
    pub _pad: u32,
}

/// Parameters of `fill`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct FillParams {
    pub len: u32,
    pub value: u32,
    pub _pad: [u32; 2],
}

/// Thalamic input: embedding lookup of `tokens[b·tstride + pos]` and gating (SPEC §3.1–2).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct EmbedGateParams {
    pub batch: u32,
    pub embed: u32,
    pub tstride: u32,
    pub pos: u32,
    pub tau_att: f32,
    pub _pad: [u32; 3],
}

/// One connection (SPEC §3.3): `act = mean(y_src)`; the fast weight it will have after this tick,
/// `f' = min(decay·f + rate·|act|, cap)`; `G = g + f'` (`−|G|` if inhibitory), softly gated when
/// `|act·G| < threshold`; then the sparse projection `j[b, i] (+)= G · Σ_k P[i, k] · y_src[b, idx[i, k]]`.
/// `act` goes to `acts[b, conn]`; `context_update` stores `f'` at the end of the tick.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct ProjectParams {
    pub batch: u32,
    pub rows: u32,
    pub fanout: u32,
    pub o_src: u32,
    pub conn: u32,
    pub n_conn: u32,
    /// 0: overwrite `j` (first current into the module this tick); 1: add.
    pub accumulate: u32,
    pub inhibitory: u32,
    pub gate_threshold: f32,
    pub fast_decay: f32,
    pub fast_rate: f32,
    pub fast_cap: f32,
}

/// Fused neuromodulated input, recurrent SpMM on last tick's spikes, LIF-A, exact kWTA,
/// readout, traces and spike counts for one module (SPEC §3.4–6).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct LifParams {
    pub batch: u32,
    pub n: u32,
    pub inputs: u32,
    pub outputs: u32,
    pub fanout: u32,
    pub k: u32,
    pub _pad0: u32,
    pub module: u32,
    /// 1 for Broca: the inhibition bias follows the go/no-go decision.
    pub use_go: u32,
    pub excitability: f32,
    pub s_da: f32,
    pub s_5ht: f32,
    pub inhibition: f32,
    pub go_bias: f32,
    pub alpha: f32,
    pub beta: f32,
    pub delta_a: f32,
    pub v_rest: f32,
    pub v_reset: f32,
    pub v_min: f32,
    pub trace_lambda: f32,
    /// Sequences one workgroup steps together (a power of two ≤ 32): many for large modules, so
    /// gathers and weights serve several sequences; few for small ones, for parallelism.
    pub seq_per_group: u32,
    pub _pad: [u32; 2],
}

/// Basal-ganglia go/no-go (SPEC §3.7).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct GoNogoParams {
    pub batch: u32,
    pub outputs: u32,
    pub max_depth: u32,
    pub _pad: u32,
}

/// End of a tick: working-memory context, PFC hidden state, neuromodulator decay (SPEC §3.8–9)
/// and every connection's fast weight from this tick's activity (SPEC §3.3).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct ContextParams {
    pub batch: u32,
    pub o_thal: u32,
    pub o_pfc: u32,
    /// 1 on a sequence's first tick: the context is set, not blended.
    pub first: u32,
    pub ctx_decay: f32,
    pub hidden_decay: f32,
    pub da_decay: f32,
    pub ht_decay: f32,
    pub n_conn: u32,
    pub fast_decay: f32,
    pub fast_rate: f32,
    pub fast_cap: f32,
}

/// `logits[b, v] = b_dec[v] + Σ_d W_dec[v, d] · y[b, d]` (SPEC §4).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct LogitsParams {
    pub batch: u32,
    pub vocab: u32,
    pub width: u32,
    /// 1: the GEMM path; set by `Op::logits` from `logits_plan` (callers pass 0).
    pub gemm: u32,
}

/// Softmax sampling of the token at `pos + 1` (SPEC §4).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct SampleParams {
    pub batch: u32,
    pub vocab: u32,
    pub tstride: u32,
    pub pos: u32,
    /// 1: argmax (ties to the lower id); 0: sample.
    pub greedy: u32,
    /// 0 disables top-k.
    pub top_k: u32,
    /// ≥ 1 disables top-p.
    pub top_p: f32,
    pub inv_temperature: f32,
    pub seed_lo: u32,
    pub seed_hi: u32,
    pub eos: u32,
    pub pad: u32,
    /// Tokens a sequence may generate after its prompt.
    pub max_new: u32,
    pub _pad: [u32; 3],
}

/// Accumulates −log p(target) and argmax hits for position `pos` (evaluate).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct LossParams {
    pub batch: u32,
    pub vocab: u32,
    pub tstride: u32,
    pub pos: u32,
}

/// Partial squared norms `decoder_grad` writes: one per (vocabulary tile, column tile) workgroup,
/// vocabulary tile fastest.
pub fn decoder_grad_partials(vocab: usize, width: usize) -> usize {
    vocab.div_ceil(GEMM_TILE) * width.div_ceil(GEMM_TILE)
}

/// `window_stats`: after a module's tick, adds each neuron's spike and trace into window
/// `window` of `wc`/`we` (`[windows][batch][n]`), for sequences whose position `pos` is predicted.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct WindowStatsParams {
    pub batch: u32,
    pub n: u32,
    pub window: u32,
    pub _pad0: u32,
    pub pos: u32,
    pub _pad: [u32; 3],
}

/// `loss_grad`: rows `r = t·batch + b` of the logits. Writes `softmax − onehot(target)` (0 for
/// padded rows) over the logits and `row_stats[r] = [nll, correct, valid, argmax]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct LossGradParams {
    pub rows: u32,
    pub batch: u32,
    pub vocab: u32,
    pub tstride: u32,
}

/// `rewards` (SPEC §5.2 and §5.7): per sequence, in position order, reward ±`reward`, running mean
/// r̄, prediction error δ; window modulators (mean δ per window); the DA factor each module's
/// plasticity uses; DA/5HT for the next call; per-sequence loss sums and the last prediction;
/// batch totals `[Σ nll, Σ correct, count, 1/count]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct RewardsParams {
    pub batch: u32,
    pub positions: u32,
    pub windows: u32,
    pub window_ticks: u32,
    pub ticks_per_token: u32,
    pub reward: f32,
    pub rbar_decay: f32,
    pub ht_step: f32,
    pub s_da: [f32; 6],
    pub s_5ht: [f32; 6],
}

/// `decoder_grad`: `g_w[v, d] = Σ_r grads[r, v] · y[r, d] / count`, `g_b[v] = Σ_r grads[r, v] / count`,
/// and each workgroup's share of the squared norm in `partials`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct DecoderGradParams {
    pub rows: u32,
    pub vocab: u32,
    pub width: u32,
    pub _pad: u32,
}

/// `grad_norm`: `scalars = [scale, norm]` with `scale = min(1, clip / norm)`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct GradNormParams {
    pub partials: u32,
    pub clip: f32,
    pub _pad: [u32; 2],
}

/// `sgd_step`: `grad[i] ← param[i] − lr · scalars[0] · grad[i]` (the grad buffer becomes the next value).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct SgdParams {
    pub len: u32,
    pub lr: f32,
    pub _pad: [u32; 2],
}

/// `plasticity` (SPEC §5.4): `w_next = clip(w + rate/B · Σ_b Σ_w M (c_i ē_j − ē_i c_j), −1, 1)` over the
/// existing synapses, with `M = mod_base[b, w] · mfac[b, module]` and `ē = we / window_ticks`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct PlasticityParams {
    pub batch: u32,
    pub n: u32,
    pub fanout: u32,
    pub windows: u32,
    pub module: u32,
    pub rate: f32,
    pub inv_window_ticks: f32,
    pub _pad: u32,
}

/// `homeostasis` (SPEC §5.5): `θ_next = θ + eta · (rate_i − target)` with the batch-averaged rate
/// `Σ wc · inv_ticks`; adds each neuron's spikes to `activity` (for sleep).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct HomeostasisParams {
    pub batch: u32,
    pub n: u32,
    pub windows: u32,
    pub _pad0: u32,
    pub eta: f32,
    pub target: f32,
    pub inv_ticks: f32,
    pub _pad1: u32,
}

/// `hebbian_gains` (SPEC §5.6): per connection `g_next = clamp(g + rate · pre · post · (1 + r̄) · K, 0, 2)`
/// with pre/post the batch-averaged spike rates of the source/target modules this call.
/// `meta[c] = [source module, target module, rate bits, 0]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct HebbianParams {
    pub n_conn: u32,
    pub batch: u32,
    pub ticks: u32,
    pub window_ticks: u32,
    pub neurons: [u32; 6],
    pub _pad: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct HealthParams {
    pub len: u32,
    pub slot: u32,
    pub _pad: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct CommitParams {
    pub len: u32,
    pub n_flags: u32,
    pub _pad: [u32; 2],
}

/// Per-row words of `loss_grad`: `[nll (f32 bits), correct, valid, argmax]`.
pub const ROW_WORDS: usize = 4;

/// Per-sequence control words: `[depth, go, done, unused]`.
pub const CTRL_WORDS: usize = 4;
/// Per-sequence accumulator words of `loss_accum`: `[Σ nll, correct, count, unused]` as f32.
pub const ACC_WORDS: usize = 4;
