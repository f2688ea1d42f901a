//! The op table: every fused op declared once.
//!
//! A row names the op (its CPU function, `shaders/<name>.wgsl` and `kernels/<name>.cu`), its
//! parameter struct, its buffers by name with their access and element type, and its launch
//! grid. Everything else follows from the row: [`OpKind`] and [`OpKind::ALL`], names, bindings,
//! the op's module `<name>` with `Params`, `Bufs` (buffers by name) and `Io` (the CPU function's
//! views), the WGSL and CUDA declarations prepended to the shader and kernel bodies
//! ([`super::codegen`]), and the CPU backend's dispatch.
//!
//! Parameter fields are 32-bit scalars (`u32`, `f32`) or arrays of them; the struct is padded to
//! a multiple of 16 bytes and must fit [`PARAM_BYTES`], both checked at compile time.

use bytemuck::{Pod, Zeroable};

use super::{Buf, LaunchShapes, COLUMN, GEMM_TILE, LOGITS_BATCH_TILE, TRANSPOSE_TILE};
use crate::config::NUM_MODULES;

/// The largest parameter struct an op may have, in bytes (one uniform slot on wgpu).
pub const PARAM_BYTES: usize = 128;

/// How an op uses one of its buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    ReadWrite,
}

/// What a buffer holds, as the shader and kernel see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    F32,
    U32,
    /// `u32` updated with atomics on the GPU.
    AtomicU32,
    /// Weights the forward reads (docs/model.md §2, "Precision"): f32 values, or, when the op's `bf16`
    /// parameter is 1, bf16 values two per `u32` word (value `i` in word `i / 2`, even `i` in the
    /// low half). Shaders and kernels read value `i` as `<name>_at(i)`, the CPU reference through
    /// [`super::weight_values`]. Read-only.
    Weights,
}

/// One buffer of an op, in binding order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    pub name: &'static str,
    pub access: Access,
    pub elem: Elem,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    U32,
    F32,
}

/// One field of a parameter struct: `len` scalars at byte `offset` (`len > 1` for arrays).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub scalar: Scalar,
    pub len: usize,
    pub offset: usize,
}

/// A parameter struct and the op it belongs to.
pub trait OpParams: Pod {
    const KIND: OpKind;
    type Bufs: BufList;
}

/// A named-buffer struct, as the op's bindings in order.
pub trait BufList {
    fn list(&self) -> Vec<Buf>;
}

fn ceil_div(a: u32, b: usize) -> u32 {
    a.div_ceil(b as u32)
}

macro_rules! field_words {
    (u32) => {
        1
    };
    (f32) => {
        1
    };
    ([$t:tt; $n:expr]) => {
        $n
    };
}

macro_rules! field_desc {
    ($p:ident, $f:ident, u32) => {
        Field { name: stringify!($f), scalar: Scalar::U32, len: 1, offset: core::mem::offset_of!($p, $f) }
    };
    ($p:ident, $f:ident, f32) => {
        Field { name: stringify!($f), scalar: Scalar::F32, len: 1, offset: core::mem::offset_of!($p, $f) }
    };
    ($p:ident, $f:ident, [u32; $n:expr]) => {
        Field { name: stringify!($f), scalar: Scalar::U32, len: $n, offset: core::mem::offset_of!($p, $f) }
    };
    ($p:ident, $f:ident, [f32; $n:expr]) => {
        Field { name: stringify!($f), scalar: Scalar::F32, len: $n, offset: core::mem::offset_of!($p, $f) }
    };
}

macro_rules! elem {
    (f32) => {
        Elem::F32
    };
    (u32) => {
        Elem::U32
    };
    (atomic) => {
        Elem::AtomicU32
    };
    (weights) => {
        Elem::Weights
    };
}

macro_rules! io_type {
    ($l:lifetime, Read, f32) => { &$l [f32] };
    ($l:lifetime, Read, u32) => { &$l [u32] };
    ($l:lifetime, Read, weights) => { &$l [u32] };
    ($l:lifetime, ReadWrite, f32) => { &$l mut [f32] };
    ($l:lifetime, ReadWrite, $e:ident) => { &$l mut [u32] };
}

/// The CPU view of the next binding: a shared slice of the store, or the next taken writable one.
macro_rules! io_view {
    (Read, f32, $bufs:ident, $read:ident, $write:ident) => {
        bytemuck::cast_slice::<u32, f32>($read($bufs.next().expect("checked count")))
    };
    (Read, u32, $bufs:ident, $read:ident, $write:ident) => {
        $read($bufs.next().expect("checked count"))
    };
    (Read, weights, $bufs:ident, $read:ident, $write:ident) => {
        $read($bufs.next().expect("checked count"))
    };
    (ReadWrite, f32, $bufs:ident, $read:ident, $write:ident) => {{
        $bufs.next();
        bytemuck::cast_slice_mut::<u32, f32>($write.next().expect("checked count"))
    }};
    (ReadWrite, $e:ident, $bufs:ident, $read:ident, $write:ident) => {{
        $bufs.next();
        $write.next().expect("checked count")
    }};
}

macro_rules! declare_ops {
    ($(
        $(#[$doc:meta])*
        $name:ident: $Kind:ident {
            params { $( $(#[$fdoc:meta])* $field:ident: $fty:tt ),* $(,)? }
            bufs { $( $(#[$bdoc:meta])* $buf:ident: $acc:ident $elem:ident ),* $(,)? }
            groups |$p:ident, $s:tt| $groups:expr;
        }
    )*) => {
        /// The fused ops, one per row of the table in `src/backend/ops.rs`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum OpKind { $($Kind),* }

        impl OpKind {
            pub const ALL: &'static [OpKind] = &[$(OpKind::$Kind),*];

            /// The CPU function, shader and kernel file name.
            pub fn name(self) -> &'static str {
                match self { $(OpKind::$Kind => stringify!($name)),* }
            }

            /// Buffers in binding order (binding 0 of group 0 is the parameter struct).
            pub fn bindings(self) -> &'static [Binding] {
                match self { $(OpKind::$Kind => $name::BINDINGS),* }
            }

            /// The parameter struct's fields, in memory order.
            pub fn fields(self) -> &'static [Field] {
                match self { $(OpKind::$Kind => $name::FIELDS),* }
            }

            /// Words of the parameter struct.
            pub fn param_words(self) -> usize {
                match self { $(OpKind::$Kind => core::mem::size_of::<$name::Params>() / 4),* }
            }

            /// Padding words at the end of the parameter struct.
            pub fn pad_words(self) -> usize {
                match self { $(OpKind::$Kind => $name::PAD),* }
            }

            /// `shaders/<name>.wgsl` without its generated declarations.
            pub fn wgsl_body(self) -> &'static str {
                match self {
                    $(OpKind::$Kind => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", stringify!($name), ".wgsl"))),*
                }
            }

            /// `kernels/<name>.cu` without its generated declarations.
            pub fn cuda_body(self) -> &'static str {
                match self {
                    $(OpKind::$Kind => include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/kernels/", stringify!($name), ".cu"))),*
                }
            }

            /// Resolves launch choices left to the backend and returns the workgroup count.
            pub(crate) fn shape(self, params: &mut [u32], shapes: &LaunchShapes) -> u32 {
                match self {
                    $(OpKind::$Kind => {
                        let mut value: $name::Params = bytemuck::pod_read_unaligned(bytemuck::cast_slice(params));
                        let groups = {
                            let $p = &mut value;
                            let $s: &LaunchShapes = shapes;
                            $groups
                        };
                        params.copy_from_slice(bytemuck::cast_slice(bytemuck::bytes_of(&value)));
                        groups
                    })*
                }
            }
        }

        /// The CPU reference of `op`: `read` lends a read-only buffer, `write` yields the op's
        /// writable buffers in binding order (taken out of the store, so never aliased).
        pub(crate) fn run_reference<'a>(
            op: &super::Op,
            read: &dyn Fn(Buf) -> &'a [u32],
            write: &mut dyn Iterator<Item = &'a mut [u32]>,
        ) {
            let mut bufs = op.bufs.iter().copied();
            match op.kind {
                $(OpKind::$Kind => {
                    let io = $name::Io { $($buf: io_view!($acc, $elem, bufs, read, write)),* };
                    super::cpu::$name(&op.params::<$name::Params>(), io);
                })*
            }
        }

        $(
            $(#[$doc])*
            pub mod $name {
                use super::*;

                const WORDS: usize = 0 $(+ field_words!($fty))*;
                /// Padding words that make the struct a multiple of 16 bytes.
                pub const PAD: usize = (4 - WORDS % 4) % 4;

                $(#[$doc])*
                #[repr(C)]
                #[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
                pub struct Params {
                    $( $(#[$fdoc])* pub $field: $fty, )*
                    pub _pad: [u32; PAD],
                }

                const _: () = assert!(core::mem::size_of::<Params>() % 16 == 0, "parameter structs are 16-byte multiples");
                const _: () = assert!(core::mem::size_of::<Params>() <= PARAM_BYTES, "parameter struct over PARAM_BYTES");
                const _: () = assert!(core::mem::align_of::<Params>() == 4, "parameter fields are 32-bit");

                pub const FIELDS: &[Field] = &[$(field_desc!(Params, $field, $fty)),*];

                pub const BINDINGS: &[Binding] = &[
                    $(Binding { name: stringify!($buf), access: Access::$acc, elem: elem!($elem) }),*
                ];

                /// The op's buffers by name.
                #[derive(Clone, Copy, Debug, PartialEq, Eq)]
                pub struct Bufs { $( $(#[$bdoc])* pub $buf: Buf, )* }

                impl BufList for Bufs {
                    fn list(&self) -> Vec<Buf> { vec![$(self.$buf),*] }
                }

                impl OpParams for Params {
                    const KIND: OpKind = OpKind::$Kind;
                    type Bufs = Bufs;
                }

                /// The buffers as the CPU reference sees them.
                pub struct Io<'a> { $( $(#[$bdoc])* pub $buf: io_type!('a, $acc, $elem), )* }
            }
        )*
    };
}

declare_ops! {
    /// `fill`: `out[i] = value` for `i < len` (resets state inside a call, no upload).
    fill: Fill {
        params { len: u32, value: u32 }
        bufs { out: ReadWrite u32 }
        groups |p, _| ceil_div(p.len, COLUMN);
    }

    /// `copy`: `dst[dst_offset + i] = src[src_offset + i]` for `i < len`.
    copy: Copy {
        params { len: u32, src_offset: u32, dst_offset: u32 }
        bufs { src: Read u32, dst: ReadWrite u32 }
        groups |p, _| ceil_div(p.len, COLUMN);
    }

    /// `gather_rows`: `dst[(row0 + b)·dst_stride + dst_offset + i] = scale · src[b·src_stride + i]`
    /// for `b < batch`, `i < width` (a module's signal into its columns of the decoder features).
    gather_rows: GatherRows {
        params { batch: u32, width: u32, src_stride: u32, dst_stride: u32, dst_offset: u32, row0: u32, scale: f32 }
        bufs { src: Read f32, dst: ReadWrite f32 }
        groups |p, _| ceil_div(p.width, COLUMN) * p.batch;
    }

    /// `embed_gate`: thalamic input, the embedding of `tokens[b·tstride + pos]` gated by its
    /// change since the last tick (model.md, "Input").
    embed_gate: EmbedGate {
        params { batch: u32, embed: u32, tstride: u32, pos: u32, tau_att: f32, bf16: u32 }
        bufs {
            tokens: Read u32,
            emb: Read weights,
            /// Last tick's embedding per sequence.
            prev: ReadWrite f32,
            /// Input current of the Thalamus.
            j: ReadWrite f32,
        }
        groups |p, _| p.batch;
    }

    /// `project`: one connection. `act = mean(y_src)`; the fast weight after this tick
    /// `f' = min(decay·f + rate·|act|, cap)`; `G = g + f'` (`−|G|` if inhibitory), softly gated
    /// when `|act·G| < gate_threshold`; then `j[b, i] (+)= G · Σ_k P[i, k] · y_src[b, idx[i, k]]`.
    project: Project {
        params {
            batch: u32,
            rows: u32,
            fanout: u32,
            o_src: u32,
            conn: u32,
            n_conn: u32,
            /// 0: overwrite `j` (the module's first current this tick); 1: add.
            accumulate: u32,
            inhibitory: u32,
            gate_threshold: f32,
            fast_decay: f32,
            fast_rate: f32,
            fast_cap: f32,
            bf16: u32,
        }
        bufs {
            p_idx: Read u32,
            p_val: Read weights,
            y_src: Read f32,
            gains: Read f32,
            fast: Read f32,
            j: ReadWrite f32,
            /// Source activity per (sequence, connection), for `context_update`.
            acts: ReadWrite f32,
        }
        groups |p, _| ceil_div(p.rows, COLUMN) * p.batch;
    }

    /// `propagate`: event-driven recurrent input (docs/model.md §3.4). For each sequence and each
    /// presynaptic neuron that spiked last tick, adds its outgoing synapses' weights, in fixed
    /// point ([`super::rec_units`]), into the targets' sums of `rec` (integer adds: the order
    /// does not matter); a non-finite weight sets its target's bit instead. `lif_kwta` with
    /// `event = 1` reads the sums and clears them.
    propagate: Propagate {
        params {
            batch: u32,
            n: u32,
            fanout: u32,
            bf16: u32,
        }
        bufs {
            /// Last tick's spike bits.
            spk_prev: Read u32,
            /// The outgoing synapses of presynaptic neuron `j`: `out_syn[out_start[j]..out_start[j + 1]]`.
            out_start: Read u32,
            /// Synapse indices `f·N + i` into `w_val` (target `i`), by presynaptic neuron.
            out_syn: Read u32,
            w_val: Read weights,
            /// Per sequence ([`super::rec_words`]): N sums, then N / 32 words of non-finite bits.
            rec: ReadWrite atomic,
        }
        groups |p, _| ceil_div(p.n, COLUMN) * p.batch.div_ceil(super::SPIKE_TILE as u32);
    }

    /// `lif_kwta`: one module's tick. Neuromodulated input, recurrent input from last tick's
    /// spikes (gathered over each neuron's synapses, or with `event = 1` read from `rec`, which
    /// `propagate` filled), LIF with adaptation, exact kWTA per column, readout, traces, spike counts,
    /// and in training what the learning rules read: window statistics, e-prop's pseudo-derivative.
    lif_kwta: LifKwta {
        params {
            batch: u32,
            n: u32,
            inputs: u32,
            outputs: u32,
            fanout: u32,
            k: u32,
            module_id: u32,
            /// 1 for Broca: the inhibition bias follows the go/no-go decision.
            use_go: u32,
            excitability: f32,
            s_da: f32,
            s_5ht: f32,
            inhibition: f32,
            go_bias: f32,
            alpha: f32,
            beta: f32,
            delta_a: f32,
            v_rest: f32,
            v_reset: f32,
            v_min: f32,
            trace_lambda: f32,
            /// Sequences one workgroup steps together (a power of two ≤ SPIKE_TILE); 0 (or any
            /// other value) lets the backend choose ([`LaunchShapes::lif_seq_per_group`]).
            seq_per_group: u32,
            bf16: u32,
            /// 1: the recurrent input is `rec`'s (event-driven), read and cleared; 0: gathered.
            event: u32,
            /// 1 (training): add each neuron's spike and new trace into window `window` of
            /// `wc`/`we` for the sequences whose position `pos` is predicted (`pos + 1 < lens[b]`).
            stats: u32,
            window: u32,
            pos: u32,
            /// 1 (e-prop, a position's last tick): write each neuron's surrogate ∂spike/∂v into row
            /// `psi_row0 + b` of `psi` (`[rows][n]`): 1 if it spiked, else
            /// `max(0, 1 − |v − θ| · inv_width)` with v after the tick (a suppressed candidate sits
            /// at θ, so 1).
            derivative: u32,
            psi_row0: u32,
            inv_width: f32,
        }
        bufs {
            j: Read f32,
            w_idx: Read u32,
            w_val: Read weights,
            theta: Read f32,
            neuromod: Read f32,
            ctrl: Read u32,
            /// Last tick's spike bits.
            spk_prev: Read u32,
            v: ReadWrite f32,
            a: ReadWrite f32,
            e: ReadWrite f32,
            /// This tick's spike bits.
            spk_next: ReadWrite atomic,
            y: ReadWrite f32,
            counts: ReadWrite atomic,
            /// `propagate`'s sums (read with `event = 1`, else unused).
            rec: ReadWrite atomic,
            /// Sequence lengths and the window statistics `[windows][batch][n]` (with `stats = 1`).
            lens: Read u32,
            wc: ReadWrite f32,
            we: ReadWrite f32,
            /// e-prop's pseudo-derivatives (with `derivative = 1`).
            psi: ReadWrite f32,
        }
        groups |p, s| {
            // Any other value than a power of two ≤ SPIKE_TILE is a launch shape the kernels cannot
            // run, so it is treated as "auto" (the result does not depend on it).
            if !p.seq_per_group.is_power_of_two() || p.seq_per_group as usize > super::SPIKE_TILE {
                p.seq_per_group = s.lif_seq_per_group(p.n as usize, p.batch as usize);
            }
            p.n / COLUMN as u32 * p.batch.div_ceil(p.seq_per_group)
        };
    }

    /// `go_nogo`: the basal ganglia's go/no-go decision per sequence.
    go_nogo: GoNogo {
        params { batch: u32, outputs: u32, max_depth: u32 }
        bufs { y_bg: Read f32, ctrl: ReadWrite u32 }
        groups |p, _| p.batch;
    }

    /// `context_update`: end of a tick. Working-memory context, PFC hidden state,
    /// neuromodulator decay, and every connection's fast weight from this tick's activity.
    context_update: ContextUpdate {
        params {
            batch: u32,
            o_thal: u32,
            o_pfc: u32,
            /// 1 on a sequence's first tick: the context is set, not blended.
            first: u32,
            ctx_decay: f32,
            hidden_decay: f32,
            da_decay: f32,
            ht_decay: f32,
            n_conn: u32,
            fast_decay: f32,
            fast_rate: f32,
            fast_cap: f32,
        }
        bufs {
            y_thal: Read f32,
            y_pfc: Read f32,
            acts: Read f32,
            context: ReadWrite f32,
            hidden: ReadWrite f32,
            neuromod: ReadWrite f32,
            fast: ReadWrite f32,
        }
        groups |p, _| {
            let width = p.o_thal.max(p.o_pfc).max(2 * NUM_MODULES as u32).max(p.n_conn);
            ceil_div(width, COLUMN) * p.batch
        };
    }

    /// `logits`: `logits[b, v] = dec_b[v] + Σ_d dec_w[v, d] · y[b, d]`.
    logits: Logits {
        params {
            batch: u32,
            vocab: u32,
            width: u32,
            /// [`super::LOGITS_ROWS`] or [`super::LOGITS_GEMM`]; [`super::LOGITS_AUTO`] lets the
            /// backend choose ([`LaunchShapes::logits_gemm`]).
            path: u32,
            bf16: u32,
        }
        bufs { dec_w: Read weights, dec_b: Read f32, y: Read f32, logits: ReadWrite f32 }
        groups |p, s| {
            if p.path == super::LOGITS_AUTO {
                let gemm = s.logits_gemm(p.batch as usize, p.vocab as usize);
                p.path = if gemm { super::LOGITS_GEMM } else { super::LOGITS_ROWS };
            }
            if p.path == super::LOGITS_GEMM {
                ceil_div(p.vocab, GEMM_TILE) * ceil_div(p.batch, GEMM_TILE)
            } else {
                p.vocab * ceil_div(p.batch, LOGITS_BATCH_TILE)
            }
        };
    }

    /// `sample`: softmax sampling of the token at `pos + 1` (greedy, temperature, top-k, top-p).
    sample: Sample {
        params {
            batch: u32,
            vocab: u32,
            tstride: u32,
            pos: u32,
            /// 1: argmax (ties to the lower id); 0: sample.
            greedy: u32,
            /// 0 disables top-k.
            top_k: u32,
            /// ≥ 1 disables top-p.
            top_p: f32,
            inv_temperature: f32,
            seed_lo: u32,
            seed_hi: u32,
            eos: u32,
            /// A sequence samples every position after its prompt up to `tstride`; the caller
            /// keeps what it asked for (docs/model.md §5).
            pad: u32,
        }
        bufs { logits: Read f32, lens: Read u32, tokens: ReadWrite u32, ctrl: ReadWrite u32 }
        groups |p, _| p.batch;
    }

    /// `loss_accum`: adds −log p(target) and argmax hits of position `pos` (evaluate).
    loss_accum: LossAccum {
        params { batch: u32, vocab: u32, tstride: u32, pos: u32 }
        bufs { logits: Read f32, tokens: Read u32, lens: Read u32, acc: ReadWrite f32 }
        groups |p, _| p.batch;
    }

    /// `loss_grad`: rows `r = t·batch + b` of the logits. Writes `softmax − onehot(target)`
    /// (0 for padded rows) over the logits and `row_stats[r] = [nll, correct, valid, argmax]`.
    loss_grad: LossGrad {
        params { rows: u32, batch: u32, vocab: u32, tstride: u32 }
        bufs { tokens: Read u32, lens: Read u32, logits: ReadWrite f32, row_stats: ReadWrite u32 }
        groups |p, _| p.rows;
    }

    /// `rewards`: per sequence, in position order, reward ±`reward`, running mean r̄, prediction
    /// error δ; window modulators (mean δ per window); the DA factor each module's plasticity
    /// uses; DA/5HT for the next call; per-sequence sums and the last prediction; batch totals
    /// `[Σ nll, Σ correct, count, 1/count]`.
    rewards: Rewards {
        params {
            batch: u32,
            positions: u32,
            windows: u32,
            window_ticks: u32,
            ticks_per_token: u32,
            reward: f32,
            rbar_decay: f32,
            ht_step: f32,
            s_da: [f32; NUM_MODULES],
            s_5ht: [f32; NUM_MODULES],
        }
        bufs {
            row_stats: Read u32,
            rbar: ReadWrite f32,
            neuromod: ReadWrite f32,
            mod_base: ReadWrite f32,
            mfac: ReadWrite f32,
            acc: ReadWrite f32,
            totals: ReadWrite f32,
        }
        groups |_p, _| 1;
    }

    /// `decoder_grad`: `g_w[v, d] = Σ_r grads[r, v] · y[r, d] / count`, `g_b[v] = Σ_r grads[r, v] / count`,
    /// and each workgroup's share of the squared norm in `partials` (a tiled GEMM).
    decoder_grad: DecoderGrad {
        params {
            rows: u32,
            vocab: u32,
            width: u32,
            /// 1: `g_w` already holds `Σ_r grads[r, v] · y[r, d]` (a vendor GEMM wrote it); the op
            /// scales it by `1 / count` and adds the bias and the partials.
            product_given: u32,
        }
        bufs {
            grads: Read f32,
            y: Read f32,
            totals: Read f32,
            g_w: ReadWrite f32,
            g_b: ReadWrite f32,
            partials: ReadWrite f32,
        }
        groups |p, _| super::decoder_grad_partials(p.vocab as usize, p.width as usize) as u32;
    }

    /// `grad_norm`: `scalars = [scale, norm]` with `scale = min(1, clip / norm)`.
    grad_norm: GradNorm {
        params { n_partials: u32, clip: f32 }
        bufs { partials: Read f32, scalars: ReadWrite f32 }
        groups |_p, _| 1;
    }

    /// `sgd_step`: `param[i] ← param[i] − lr · scalars[0] · grad[i]`, in two passes over the
    /// same inputs (see `adam_step`): `apply = 0` sets `flags[slot]` when any new value would be
    /// NaN or ±Inf and writes nothing else; `apply = 1` writes in place unless any of the
    /// `n_flags` flags is set.
    sgd_step: SgdStep {
        params { len: u32, lr: f32, apply: u32, slot: u32, n_flags: u32 }
        bufs { param: ReadWrite f32, scalars: Read f32, grad: Read f32, flags: ReadWrite atomic }
        groups |p, _| ceil_div(p.len, COLUMN);
    }

    /// `adam_step`: Adam with decoupled weight decay on the clipped gradient `g = scalars[0] ·
    /// grad[i]`: `m' = β1·m + (1−β1)·g`, `v' = β2·v + (1−β2)·g²`, `w' = param[i] − lr ·
    /// (c1·m' / (√(c2·v') + eps) + weight_decay · param[i])` with the bias corrections
    /// `c1 = 1/(1−β1^t)`, `c2 = 1/(1−β2^t)`. Two passes over the same inputs, so that the
    /// decoder and its moments update in place and a refused step still changes nothing:
    /// `apply = 0` sets `flags[slot]` when any of `w'`, `m'`, `v'` would be NaN or ±Inf (and
    /// writes nothing else); `apply = 1` writes `w'`, `m'`, `v'` over `param`, `m`, `v` unless any
    /// of the `n_flags` flags is set.
    adam_step: AdamStep {
        params {
            len: u32, lr: f32, beta1: f32, beta2: f32, eps: f32, weight_decay: f32, c1: f32, c2: f32,
            apply: u32, slot: u32, n_flags: u32,
        }
        bufs {
            param: ReadWrite f32,
            scalars: Read f32,
            m: ReadWrite f32,
            v: ReadWrite f32,
            grad: Read f32,
            flags: ReadWrite atomic,
        }
        groups |p, _| ceil_div(p.len, COLUMN);
    }

    /// `plasticity`: `w_next = clip(w + rate/B · Σ_b Σ_w M (c_i ē_j − ē_i c_j), −1, 1)` over the
    /// existing synapses, with `M = mod_base[b, w] · mfac[b, module]` and `ē = we / window_ticks`;
    /// the window statistics neuron-major (`wc_t[i·R + w·batch + b]`, `R = windows·batch`, from
    /// `transpose`), so that each synapse is a dot product over contiguous rows (an SDDMM).
    plasticity: Plasticity {
        params { batch: u32, n: u32, fanout: u32, windows: u32, module_id: u32, rate: f32, inv_window_ticks: f32 }
        bufs {
            w_idx: Read u32,
            w_val: Read f32,
            wc_t: Read f32,
            we_t: Read f32,
            mod_base: Read f32,
            mfac: Read f32,
            w_next: ReadWrite f32,
        }
        groups |p, _| p.n;
    }

    /// `readout_derivative`: e-prop through a readout, `∂y/∂v*` of this tick into row `row0 + b` of
    /// `psi` (`[rows][outputs]`): `0.1 · y · (1 − y)` where the readout is above its resting value
    /// (`y > rest`, i.e. v* above v_rest), else 0 (docs/model.md §3.4: `y = σ(0.1 · (max(0, v* − v_rest) − 10))`).
    readout_derivative: ReadoutDerivative {
        params { batch: u32, outputs: u32, row0: u32, rest: f32 }
        bufs { y: Read f32, psi: ReadWrite f32 }
        groups |p, _| ceil_div(p.outputs, COLUMN) * p.batch;
    }

    /// `learning_signal`: e-prop's per-neuron learning signal through the decoder's own weights,
    /// `signal[r, i] = Σ_k grads[r, k] · dec_w[k, offset + i]` for `r < rows`, `i < n` (`grads`
    /// holds `p − onehot` per row; a tiled GEMM).
    learning_signal: LearningSignal {
        params { rows: u32, vocab: u32, width: u32, offset: u32, n: u32 }
        bufs { grads: Read f32, dec_w: Read f32, signal: ReadWrite f32 }
        groups |p, _| ceil_div(p.n, GEMM_TILE) * ceil_div(p.rows, GEMM_TILE);
    }

    /// `transpose`: `dst[c·rows + r] = src[r·width + c]` for `r < rows`, `c < width` (row-major
    /// `[rows][width]` to `[width][rows]`, so that one column's values over all rows are contiguous).
    transpose: Transpose {
        params { rows: u32, width: u32 }
        bufs { src: Read f32, dst: ReadWrite f32 }
        groups |p, _| ceil_div(p.width, TRANSPOSE_TILE) * ceil_div(p.rows, TRANSPOSE_TILE);
    }

    /// `eprop_filter`: e-prop's per-neuron factor of the update, neuron-major. Per sequence b and
    /// neuron i, backward over positions t (row `r = t·batch + b`):
    /// `L̃ ← signal[r, i] + lambda·L̃` (`L̃[t] = Σ_{t' ≥ t} λ^{t'−t} L[t']`), `q_t[i·rows + r] = psi[r, i]·L̃`
    /// (`psi`, `signal`: `[rows][n]`; `rows = batch·positions`).
    eprop_filter: EpropFilter {
        params { batch: u32, positions: u32, n: u32, lambda: f32 }
        bufs { psi: Read f32, signal: Read f32, q_t: ReadWrite f32 }
        groups |p, _| ceil_div(p.n * p.batch, COLUMN);
    }

    /// `eprop`: one fixed-fanout matrix (post row i, slot f at `f·n + i`, presynaptic index
    /// `j = w_idx[f·n + i]`) learns by e-prop, as a sampled dense–dense product (SDDMM) over the
    /// neuron-major operands: `acc = Σ_{r ≥ lag_rows} q_t[i·rows + r] · x_t[(pre_offset + j)·rows + r − lag_rows]`
    /// (`q_t` from `eprop_filter`, `x_t` the transposed presynaptic rows);
    /// `w_next = clamp(w − rate · pre_scale · totals[3] · acc, −bound, bound)`.
    eprop: Eprop {
        params {
            rows: u32,
            n: u32,
            fanout: u32,
            pre_offset: u32,
            lag_rows: u32,
            pre_scale: f32,
            rate: f32,
            bound: f32,
        }
        bufs {
            w_idx: Read u32,
            w_val: Read f32,
            q_t: Read f32,
            x_t: Read f32,
            totals: Read f32,
            w_next: ReadWrite f32,
        }
        groups |p, _| p.n;
    }

    /// `homeostasis`: `θ_next = θ + eta · (rate_i − target_rate)` with the batch-averaged rate
    /// `Σ wc · inv_ticks`; adds each neuron's spikes to `activity` (for sleep).
    homeostasis: Homeostasis {
        params { batch: u32, n: u32, windows: u32, eta: f32, target_rate: f32, inv_ticks: f32 }
        bufs { theta: Read f32, wc: Read f32, theta_next: ReadWrite f32, activity: ReadWrite u32 }
        groups |p, _| ceil_div(p.n, COLUMN);
    }

    /// `hebbian_gains`: per connection `g_next = clamp(g + rate · pre · post · (1 + r̄) · K, 0, 2)`
    /// with pre/post the batch-averaged spike rates of the source/target modules this call.
    hebbian_gains: HebbianGains {
        params { n_conn: u32, batch: u32, ticks: u32, window_ticks: u32, neurons: [u32; NUM_MODULES] }
        bufs {
            /// Per connection `[source module, target module, rate bits, 0]`.
            conn_meta: Read u32,
            gains: Read f32,
            counts: Read u32,
            rbar: Read f32,
            gains_next: ReadWrite f32,
        }
        groups |_p, _| 1;
    }

    /// `pack_bf16`: `dst` holds the `len` f32 values of `src` (read as bits, so that a NaN's
    /// payload cannot change on the way) as bf16 (round to nearest even, NaN stays NaN), two per
    /// word in the layout of [`Elem::Weights`]; an odd last word's high half is 0.
    pack_bf16: PackBf16 {
        params { len: u32 }
        bufs { src: Read u32, dst: ReadWrite u32 }
        groups |p, _| ceil_div(p.len.div_ceil(2), COLUMN);
    }

    /// `health`: sets `flags[slot]` when any of `len` words of `data` is NaN or ±Inf.
    health: Health {
        params { len: u32, slot: u32 }
        bufs { data: Read u32, flags: ReadWrite atomic }
        groups |p, _| ceil_div(p.len, COLUMN);
    }

    /// `commit`: copies `len` words of `src` into `dst` only when all `n_flags` flags are clear.
    commit: Commit {
        params { len: u32, n_flags: u32 }
        bufs { src: Read u32, flags: Read u32, dst: ReadWrite u32 }
        groups |p, _| ceil_div(p.len, COLUMN);
    }
}
