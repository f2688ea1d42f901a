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
    ConnGain,
    Project,
    LifKwta,
    GoNogo,
    ContextUpdate,
    Logits,
    Sample,
    LossAccum,
}

impl OpKind {
    pub const ALL: [OpKind; 11] = [
        OpKind::Fill,
        OpKind::Copy,
        OpKind::EmbedGate,
        OpKind::ConnGain,
        OpKind::Project,
        OpKind::LifKwta,
        OpKind::GoNogo,
        OpKind::ContextUpdate,
        OpKind::Logits,
        OpKind::Sample,
        OpKind::LossAccum,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OpKind::Fill => "fill",
            OpKind::Copy => "copy",
            OpKind::EmbedGate => "embed_gate",
            OpKind::ConnGain => "conn_gain",
            OpKind::Project => "project",
            OpKind::LifKwta => "lif_kwta",
            OpKind::GoNogo => "go_nogo",
            OpKind::ContextUpdate => "context_update",
            OpKind::Logits => "logits",
            OpKind::Sample => "sample",
            OpKind::LossAccum => "loss_accum",
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
            // y_src, gains, fast, geff
            OpKind::ConnGain => &[Read, Read, ReadWrite, ReadWrite],
            // p_idx, p_val, y_src, geff, j
            OpKind::Project => &[Read, Read, Read, Read, ReadWrite],
            // j, w_idx, w_val, theta, neuromod, ctrl, v, a, e, spk, y, counts
            OpKind::LifKwta => {
                &[Read, Read, Read, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite, ReadWrite, ReadWrite]
            }
            // y_bg, ctrl
            OpKind::GoNogo => &[Read, ReadWrite],
            // y_thal, y_pfc, context, pfc_hidden, neuromod
            OpKind::ContextUpdate => &[Read, Read, ReadWrite, ReadWrite, ReadWrite],
            // dec_w, dec_b, y, logits
            OpKind::Logits => &[Read, Read, Read, ReadWrite],
            // logits, lens, tokens, ctrl
            OpKind::Sample => &[Read, Read, ReadWrite, ReadWrite],
            // logits, tokens, lens, acc
            OpKind::LossAccum => &[Read, Read, Read, ReadWrite],
        }
    }
}

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

/// Sequences a `logits` workgroup decodes at once (its register tile).
pub const LOGITS_BATCH_TILE: usize = 8;

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
        let p = FillParams { len: len as u32, value: 0, _pad: [0; 2] };
        Op { kind: OpKind::Copy, params: words(&p), bufs: vec![src, dst], groups: ceil_div(len, COLUMN) }
    }

    pub fn embed_gate(p: EmbedGateParams, tokens: Buf, emb: Buf, prev: Buf, j: Buf) -> Op {
        Op { kind: OpKind::EmbedGate, params: words(&p), bufs: vec![tokens, emb, prev, j], groups: p.batch }
    }

    pub fn conn_gain(p: ConnGainParams, y_src: Buf, gains: Buf, fast: Buf, geff: Buf) -> Op {
        Op { kind: OpKind::ConnGain, params: words(&p), bufs: vec![y_src, gains, fast, geff], groups: p.batch }
    }

    pub fn project(p: ProjectParams, p_idx: Buf, p_val: Buf, y_src: Buf, geff: Buf, j: Buf) -> Op {
        let groups = ceil_div(p.rows as usize, COLUMN) * p.batch;
        Op { kind: OpKind::Project, params: words(&p), bufs: vec![p_idx, p_val, y_src, geff, j], groups }
    }

    pub fn lif_kwta(p: LifParams, inputs: [Buf; 6], state: [Buf; 6]) -> Op {
        let groups = (p.n as usize / COLUMN) as u32 * p.batch;
        let mut bufs = inputs.to_vec();
        bufs.extend_from_slice(&state);
        Op { kind: OpKind::LifKwta, params: words(&p), bufs, groups }
    }

    pub fn go_nogo(p: GoNogoParams, y_bg: Buf, ctrl: Buf) -> Op {
        Op { kind: OpKind::GoNogo, params: words(&p), bufs: vec![y_bg, ctrl], groups: p.batch }
    }

    pub fn context_update(p: ContextParams, y_thal: Buf, y_pfc: Buf, context: Buf, hidden: Buf, neuromod: Buf) -> Op {
        let width = (p.o_thal.max(p.o_pfc) as usize).max(2 * crate::config::NUM_MODULES);
        let groups = ceil_div(width, COLUMN) * p.batch;
        Op {
            kind: OpKind::ContextUpdate,
            params: words(&p),
            bufs: vec![y_thal, y_pfc, context, hidden, neuromod],
            groups,
        }
    }

    pub fn logits(p: LogitsParams, dec_w: Buf, dec_b: Buf, y: Buf, logits: Buf) -> Op {
        let groups = p.vocab * ceil_div(p.batch as usize, LOGITS_BATCH_TILE);
        Op { kind: OpKind::Logits, params: words(&p), bufs: vec![dec_w, dec_b, y, logits], groups }
    }

    pub fn sample(p: SampleParams, logits: Buf, lens: Buf, tokens: Buf, ctrl: Buf) -> Op {
        Op { kind: OpKind::Sample, params: words(&p), bufs: vec![logits, lens, tokens, ctrl], groups: p.batch }
    }

    pub fn loss_accum(p: LossParams, logits: Buf, tokens: Buf, lens: Buf, acc: Buf) -> Op {
        Op { kind: OpKind::LossAccum, params: words(&p), bufs: vec![logits, tokens, lens, acc], groups: p.batch }
    }
}

// ---- Parameter structs, mirrored field by field in shaders/*.wgsl and kernels/*.cu. ----
// All fields are 32-bit; every struct is a multiple of 16 bytes.

/// Parameters of `fill` and `copy` (`value` unused by `copy`).
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

/// Fast weight and soft gating of connection `conn` (SPEC §3.3).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct ConnGainParams {
    pub batch: u32,
    pub o_src: u32,
    pub conn: u32,
    pub n_conn: u32,
    pub inhibitory: u32,
    pub gate_threshold: f32,
    pub fast_decay: f32,
    pub fast_rate: f32,
    pub fast_cap: f32,
    pub _pad: [u32; 3],
}

/// Sparse projection `j[b, i] (+)= geff[b, conn] · Σ_k P[i, k] · y_src[b, idx[i, k]]`.
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
    pub _pad: u32,
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
    /// Which half of the spike buffer holds last tick's spikes; this tick writes the other.
    pub read_half: u32,
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
    pub _pad: [u32; 3],
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

/// Working-memory context, PFC hidden state and neuromodulator decay (SPEC §3.8–9).
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
}

/// `logits[b, v] = b_dec[v] + Σ_d W_dec[v, d] · y[b, d]` (SPEC §4).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct LogitsParams {
    pub batch: u32,
    pub vocab: u32,
    pub width: u32,
    pub _pad: u32,
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

/// Per-sequence control words: `[depth, go, done, unused]`.
pub const CTRL_WORDS: usize = 4;
/// Per-sequence accumulator words of `loss_accum`: `[Σ nll, correct, count, unused]` as f32.
pub const ACC_WORDS: usize = 4;
