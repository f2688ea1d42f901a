//! Parameters and state: host-side initialisation (backend-agnostic) and their device layout.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;

use crate::backend::{
    rec_words, spike_words, to_bf16_words, to_slot_major, Backend, Buf, Op, ACC_WORDS, CTRL_WORDS, EVENT_MAX_BATCH,
};
use crate::config::{ModelConfig, ModuleId, Optimizer, Precision, Source, NUM_MODULES};
use crate::error::Result;

/// A fixed-fanout sparse matrix: row `i` reads columns `idx[i·F..(i+1)·F]` (sorted, distinct).
#[derive(Clone, Debug, PartialEq)]
pub struct FixedFanout {
    pub rows: usize,
    pub fanout: usize,
    pub idx: Vec<u32>,
    pub val: Vec<f32>,
}

/// All parameters, on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct HostParams {
    pub emb: Vec<f32>,
    pub recurrent: Vec<FixedFanout>,
    pub theta: Vec<Vec<f32>>,
    pub projections: Vec<FixedFanout>,
    pub gains: Vec<f32>,
    pub dec_w: Vec<f32>,
    pub dec_b: Vec<f32>,
    /// The decoder optimizer's moments, when it keeps any (Adam; docs/model.md §6, step 4).
    pub adam: Option<AdamState>,
}

/// Adam's first and second moments of the decoder weights and bias.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamState {
    pub m_w: Vec<f32>,
    pub v_w: Vec<f32>,
    pub m_b: Vec<f32>,
    pub v_b: Vec<f32>,
}

impl AdamState {
    /// Zero moments for a `vocab × width` decoder.
    pub fn zeros(vocab: usize, width: usize) -> AdamState {
        AdamState {
            m_w: vec![0.0; vocab * width],
            v_w: vec![0.0; vocab * width],
            m_b: vec![0.0; vocab],
            v_b: vec![0.0; vocab],
        }
    }
}

/// Rows generated from one RNG stream; streams are keyed by (seed, tensor, block), so
/// initialisation is identical whatever the number of threads.
const ROWS_PER_STREAM: usize = 1024;

fn rng_for(seed: u64, tensor: u64, block: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed ^ tensor.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    r.set_stream(block);
    r
}

/// Draws `fanout` distinct sorted indices in `0..cols`, never `exclude`.
fn distinct_indices(rng: &mut ChaCha8Rng, cols: usize, fanout: usize, exclude: Option<usize>, out: &mut Vec<u32>) {
    let avail = cols - exclude.is_some() as usize;
    assert!(fanout <= avail);
    out.clear();
    while out.len() < fanout {
        while out.len() < fanout {
            let mut j = rng.random_range(0..avail);
            if let Some(x) = exclude {
                if j >= x {
                    j += 1;
                }
            }
            out.push(j as u32);
        }
        out.sort_unstable();
        out.dedup();
    }
}

/// Fills a fixed-fanout matrix: distinct columns per row, weights drawn by `weight`.
fn fixed_fanout(
    seed: u64,
    tensor: u64,
    rows: usize,
    cols: usize,
    fanout: usize,
    no_self: bool,
    weight: impl Fn(&mut ChaCha8Rng) -> f32 + Sync,
) -> FixedFanout {
    let mut idx = vec![0u32; rows * fanout];
    let mut val = vec![0f32; rows * fanout];
    idx.par_chunks_mut(ROWS_PER_STREAM * fanout)
        .zip(val.par_chunks_mut(ROWS_PER_STREAM * fanout))
        .enumerate()
        .for_each(|(block, (ic, vc))| {
            let mut rng = rng_for(seed, tensor, block as u64);
            let mut row = Vec::with_capacity(fanout);
            for (r, (ir, vr)) in ic.chunks_mut(fanout).zip(vc.chunks_mut(fanout)).enumerate() {
                let i = block * ROWS_PER_STREAM + r;
                distinct_indices(&mut rng, cols, fanout, no_self.then_some(i), &mut row);
                ir.copy_from_slice(&row);
                for w in vr.iter_mut() {
                    *w = weight(&mut rng);
                }
            }
        });
    FixedFanout { rows, fanout, idx, val }
}

/// A dense matrix of normal samples, generated in parallel blocks of rows.
fn normal_rows(seed: u64, tensor: u64, rows: usize, cols: usize, std: f32) -> Vec<f32> {
    let normal = Normal::new(0.0f32, std).expect("finite std");
    let mut out = vec![0f32; rows * cols];
    out.par_chunks_mut(ROWS_PER_STREAM * cols).enumerate().for_each(|(block, chunk)| {
        let mut rng = rng_for(seed, tensor, block as u64);
        for x in chunk.iter_mut() {
            *x = normal.sample(&mut rng);
        }
    });
    out
}

/// Fixed random weights `N(0, std²)` of `rows × cols` (e-prop's random feedback, docs/model.md §6).
pub fn random_feedback(seed: u64, rows: usize, cols: usize, std: f32) -> Vec<f32> {
    normal_rows(seed, 0, rows, cols, std)
}

impl HostParams {
    /// Seeded initialisation per docs/model.md §2 with the magnitudes of `cfg.init`.
    pub fn init(cfg: &ModelConfig, seed: u64) -> HostParams {
        let ini = &cfg.init;
        let (v, e, d) = (cfg.vocab, cfg.embed, cfg.decoder_width());

        let mut emb = normal_rows(seed, 1, v, e, 1.0);
        let norm_goal = ini.input_gain_per_sqrt_e * (e as f32).sqrt();
        for row in emb.chunks_mut(e) {
            let n = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            row.iter_mut().for_each(|x| *x *= norm_goal / n);
        }

        let recurrent = cfg
            .modules
            .iter()
            .enumerate()
            .map(|(m, mc)| {
                let mean = mc.recurrent_strength(ini) / mc.fanout as f32;
                let w = Normal::new(mean, ini.recurrent_spread * mean).expect("finite");
                fixed_fanout(seed, 10 + m as u64, mc.n, mc.n, mc.fanout, true, |r| w.sample(r).clamp(-1.0, 1.0))
            })
            .collect();
        let theta = cfg.modules.iter().map(|m| vec![cfg.lif.theta0; m.n]).collect();

        let fan = ini.projection_fanout;
        let projections = cfg
            .connections
            .iter()
            .enumerate()
            .map(|(c, cc)| {
                let rows = cfg.module(cc.target).inputs;
                let scale = if cfg.is_feedback(cc) { ini.feedback_projection_scale } else { ini.projection_scale };
                let pw = Normal::new(0.0f32, scale / (fan as f32).sqrt()).expect("finite");
                let mut p =
                    fixed_fanout(seed, 100 + c as u64, rows, cfg.source_width(cc.source), fan, false, |r| pw.sample(r));
                // Zero-sum rows: a source at rest drives nothing (see `InitConfig`).
                for row in p.val.chunks_mut(fan) {
                    let mean = row.iter().sum::<f32>() / fan as f32;
                    row.iter_mut().for_each(|w| *w -= mean);
                }
                p
            })
            .collect();
        let gains = cfg.connections.iter().map(|c| c.gain).collect();

        let dec_std = ini.logit_std / (ini.typical_readout_rms * (d as f32).sqrt());
        let dec_w = normal_rows(seed, 2, v, d, dec_std);
        let dec_b = normal_rows(seed, 3, v, 1, ini.decoder_bias_std);
        let adam = (cfg.learn.decoder_optimizer == Optimizer::Adam).then(|| AdamState::zeros(v, d));
        HostParams { emb, recurrent, theta, projections, gains, dec_w, dec_b, adam }
    }
}

fn words(x: &[f32]) -> &[u32] {
    bytemuck::cast_slice(x)
}

/// Uploads a host tensor into a fresh device buffer.
fn upload_new(be: &mut dyn Backend, data: &[u32]) -> Result<Buf> {
    let b = be.alloc(data.len())?;
    be.upload(b, 0, data)?;
    Ok(b)
}

/// Per-module parameter buffers.
#[derive(Clone, Copy, Debug)]
pub struct ModuleParamBufs {
    pub w_idx: Buf,
    pub w_val: Buf,
    pub theta: Buf,
    /// Spikes per neuron since the last sleep, summed over sequences (u32).
    pub activity: Buf,
    /// The same synapses by presynaptic neuron, for `propagate` ([`outgoing_synapses`]): derived
    /// from `w_idx` whenever it changes (upload, sleep), never stored in a checkpoint.
    pub out_start: Buf,
    pub out_syn: Buf,
}

/// The outgoing synapses of every presynaptic neuron of a slot-major fixed-fanout matrix of `n`
/// rows: `(start, syn)` with neuron `j`'s synapse indices (`f·n + i`) in
/// `syn[start[j]..start[j + 1]]`, ascending (a counting sort by presynaptic index).
pub fn outgoing_synapses(idx: &[u32], n: usize) -> (Vec<u32>, Vec<u32>) {
    let mut start = vec![0u32; n + 1];
    for &j in idx {
        start[j as usize + 1] += 1;
    }
    for j in 0..n {
        start[j + 1] += start[j];
    }
    let mut next = start.clone();
    let mut syn = vec![0u32; idx.len()];
    for (s, &j) in idx.iter().enumerate() {
        syn[next[j as usize] as usize] = s as u32;
        next[j as usize] += 1;
    }
    (start, syn)
}

/// Per-connection projection buffers.
#[derive(Clone, Copy, Debug)]
pub struct ProjectionBufs {
    pub idx: Buf,
    pub val: Buf,
}

/// Parameters on the device, shared by every sequence of a batch.
#[derive(Clone, Debug)]
pub struct ParamBufs {
    pub emb: Buf,
    pub modules: Vec<ModuleParamBufs>,
    pub projections: Vec<ProjectionBufs>,
    pub gains: Buf,
    pub dec_w: Buf,
    pub dec_b: Buf,
    pub adam: Option<AdamBufs>,
    /// Per connection `[source module, target module, Hebbian rate bits, 0]` (`hebbian_gains`).
    pub conn_meta: Buf,
    /// At `precision = bf16`: (f32 tensor, its bf16 copy) for the embedding, every recurrent
    /// matrix, every projection and the decoder's weights (the forward reads the copies).
    pub bf16_copies: Vec<(Buf, Buf)>,
}

/// Adam's moments on the device (see [`AdamState`]).
#[derive(Clone, Copy, Debug)]
pub struct AdamBufs {
    pub m_w: Buf,
    pub v_w: Buf,
    pub m_b: Buf,
    pub v_b: Buf,
}

impl AdamBufs {
    fn upload(be: &mut dyn Backend, a: &AdamState) -> Result<AdamBufs> {
        Ok(AdamBufs {
            m_w: upload_new(be, words(&a.m_w))?,
            v_w: upload_new(be, words(&a.v_w))?,
            m_b: upload_new(be, words(&a.m_b))?,
            v_b: upload_new(be, words(&a.v_b))?,
        })
    }

    fn download(&self, be: &mut dyn Backend) -> Result<AdamState> {
        let mut f32s = |b: Buf| -> Result<Vec<f32>> { Ok(bytemuck::cast_slice(&be.download(b)?).to_vec()) };
        Ok(AdamState { m_w: f32s(self.m_w)?, v_w: f32s(self.v_w)?, m_b: f32s(self.m_b)?, v_b: f32s(self.v_b)? })
    }
}

/// The module whose spike rate stands for a connection source's activity.
pub fn source_module(s: Source) -> ModuleId {
    match s {
        Source::Module(m) => m,
        Source::PfcHidden => ModuleId::Pfc,
        Source::Context => ModuleId::Thalamus,
    }
}

fn from_slot_major<T: Copy>(slot_major: &[T], rows: usize, fanout: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(slot_major.len());
    for i in 0..rows {
        out.extend((0..fanout).map(|f| slot_major[f * rows + i]));
    }
    out
}

impl ParamBufs {
    /// The buffer the forward reads for the f32 tensor `master`, and the ops' `bf16` flag.
    pub fn forward(&self, master: Buf) -> (Buf, u32) {
        match self.bf16_copies.iter().find(|(m, _)| *m == master) {
            Some(&(_, copy)) => (copy, 1),
            None => (master, 0),
        }
    }

    /// Enqueues the rebuild of `master`'s bf16 copy (`len` values), if it has one: after every
    /// change of the tensor on the device, in the same submission.
    pub fn record_repack(&self, be: &mut dyn Backend, master: Buf, len: usize) -> Result<()> {
        match self.forward(master) {
            (copy, 1) => be.enqueue(Op::new(
                crate::backend::pack_bf16::Params { len: len as u32, ..Default::default() },
                crate::backend::pack_bf16::Bufs { src: master, dst: copy },
            )),
            _ => Ok(()),
        }
    }

    /// Uploads new values of a whole f32 tensor and of its bf16 copy (host-side edits: sleep).
    pub fn upload_values(&self, be: &mut dyn Backend, master: Buf, values: &[f32]) -> Result<()> {
        be.upload(master, 0, words(values))?;
        match self.forward(master) {
            (copy, 1) => be.upload(copy, 0, &to_bf16_words(values)),
            _ => Ok(()),
        }
    }

    /// Reads every parameter back to the host (one host sync per tensor; outside calls).
    pub fn download(&self, be: &mut dyn Backend, cfg: &ModelConfig) -> Result<HostParams> {
        let f32s = |v: Vec<u32>| -> Vec<f32> { bytemuck::cast_slice(&v).to_vec() };
        let mut recurrent = Vec::new();
        let mut theta = Vec::new();
        for (mc, mb) in cfg.modules.iter().zip(&self.modules) {
            let (idx, val) = (be.download(mb.w_idx)?, f32s(be.download(mb.w_val)?));
            recurrent.push(FixedFanout {
                rows: mc.n,
                fanout: mc.fanout,
                idx: from_slot_major(&idx, mc.n, mc.fanout),
                val: from_slot_major(&val, mc.n, mc.fanout),
            });
            theta.push(f32s(be.download(mb.theta)?));
        }
        let fan = cfg.init.projection_fanout;
        let mut projections = Vec::new();
        for (cc, pb) in cfg.connections.iter().zip(&self.projections) {
            let rows = cfg.module(cc.target).inputs;
            let (idx, val) = (be.download(pb.idx)?, f32s(be.download(pb.val)?));
            projections.push(FixedFanout {
                rows,
                fanout: fan,
                idx: from_slot_major(&idx, rows, fan),
                val: from_slot_major(&val, rows, fan),
            });
        }
        Ok(HostParams {
            emb: f32s(be.download(self.emb)?),
            recurrent,
            theta,
            projections,
            gains: f32s(be.download(self.gains)?),
            dec_w: f32s(be.download(self.dec_w)?),
            dec_b: f32s(be.download(self.dec_b)?),
            adam: self.adam.map(|a| a.download(be)).transpose()?,
        })
    }

    pub fn upload(be: &mut dyn Backend, cfg: &ModelConfig, p: &HostParams) -> Result<ParamBufs> {
        let modules = p
            .recurrent
            .iter()
            .zip(&p.theta)
            .map(|(w, th)| {
                let idx = to_slot_major(&w.idx, w.rows, w.fanout);
                let (start, syn) = outgoing_synapses(&idx, w.rows);
                Ok(ModuleParamBufs {
                    w_idx: upload_new(be, &idx)?,
                    w_val: upload_new(be, words(&to_slot_major(&w.val, w.rows, w.fanout)))?,
                    theta: upload_new(be, words(th))?,
                    activity: upload_new(be, &vec![0; th.len()])?,
                    out_start: upload_new(be, &start)?,
                    out_syn: upload_new(be, &syn)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let projections = p
            .projections
            .iter()
            .map(|pr| {
                Ok(ProjectionBufs {
                    idx: upload_new(be, &to_slot_major(&pr.idx, pr.rows, pr.fanout))?,
                    val: upload_new(be, words(&to_slot_major(&pr.val, pr.rows, pr.fanout)))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let meta: Vec<u32> = cfg
            .connections
            .iter()
            .flat_map(|c| [source_module(c.source) as u32, c.target as u32, c.hebbian_rate.to_bits(), 0])
            .collect();
        let emb = upload_new(be, words(&p.emb))?;
        let dec_w = upload_new(be, words(&p.dec_w))?;
        let mut bf16_copies = Vec::new();
        if cfg.precision == Precision::Bf16 {
            let mut tensors = vec![(emb, p.emb.clone()), (dec_w, p.dec_w.clone())];
            for (m, w) in modules.iter().zip(&p.recurrent) {
                tensors.push((m.w_val, to_slot_major(&w.val, w.rows, w.fanout)));
            }
            for (b, pr) in projections.iter().zip(&p.projections) {
                tensors.push((b.val, to_slot_major(&pr.val, pr.rows, pr.fanout)));
            }
            for (master, values) in tensors {
                bf16_copies.push((master, upload_new(be, &to_bf16_words(&values))?));
            }
        }
        Ok(ParamBufs {
            emb,
            modules,
            projections,
            gains: upload_new(be, words(&p.gains))?,
            dec_w,
            dec_b: upload_new(be, words(&p.dec_b))?,
            // Adam exactly when the config asks for it; parameters without moments (an SGD
            // checkpoint) start them at zero.
            adam: match (cfg.learn.decoder_optimizer, &p.adam) {
                (Optimizer::Sgd, _) => None,
                (Optimizer::Adam, Some(a)) => Some(AdamBufs::upload(be, a)?),
                (Optimizer::Adam, None) => {
                    Some(AdamBufs::upload(be, &AdamState::zeros(cfg.vocab, cfg.decoder_width()))?)
                }
            },
            conn_meta: upload_new(be, &meta)?,
            bf16_copies,
        })
    }
}

/// Per-module state buffers, each `[batch][…]`; spikes are `[2][batch][N]` (ping-pong halves).
#[derive(Clone, Copy, Debug)]
pub struct ModuleStateBufs {
    pub v: Buf,
    pub a: Buf,
    pub e: Buf,
    /// Spike bits, swapped every tick: `spk[tick % 2]` holds last tick's.
    pub spk: [Buf; 2],
    pub y: Buf,
    /// Input current scratch `[batch][I]`.
    pub j: Buf,
    /// `propagate`'s fixed-point sums, `[batch][rec_words(N)]`, zero between ticks; one word
    /// (unused) above [`EVENT_MAX_BATCH`] sequences.
    pub rec: Buf,
}

/// Words of a module's `rec` for `batch` sequences of `n` neurons.
pub fn rec_state_words(batch: usize, n: usize) -> usize {
    if batch <= EVENT_MAX_BATCH {
        batch * rec_words(n)
    } else {
        1
    }
}

/// Per-sequence state for `batch` slots, plus per-call scratch.
#[derive(Clone, Debug)]
pub struct StateBufs {
    pub batch: usize,
    pub modules: Vec<ModuleStateBufs>,
    /// DA and 5HT per (sequence, module): `[batch][6][2]`.
    pub neuromod: Buf,
    /// Fast weights, and this tick's source activity, per (sequence, connection).
    pub fast: Buf,
    pub acts: Buf,
    pub prev: Buf,
    pub context: Buf,
    pub pfc_hidden: Buf,
    /// `[batch][CTRL_WORDS]`: depth, go, done.
    pub ctrl: Buf,
    /// Spike counts per (sequence, module) since the call began.
    pub counts: Buf,
    /// `[batch][D]` decoder features of the current position.
    pub features: Buf,
    /// `[batch][V]` logits of the current position.
    pub logits: Buf,
    /// `[batch][ACC_WORDS]` loss accumulators.
    pub acc: Buf,
    /// Per-sequence lengths (prompt lengths for generate, sequence lengths for evaluate).
    pub lens: Buf,
    /// Running mean reward r̄ per sequence slot (docs/model.md §6, step 3).
    pub rbar: Buf,
    /// Delay lines of the readouts the decoder reads earlier positions of: per module,
    /// `[k − 1]` holds `[batch][O]` as it was k positions before.
    pub delays: Vec<(ModuleId, Vec<Buf>)>,
    /// One word each, bound as `lif_kwta`'s training outputs (window statistics `wc`, `we`, the
    /// pseudo-derivatives `psi`) where a tick writes none.
    pub unbound: [Buf; 3],
}

impl StateBufs {
    pub fn alloc(be: &mut dyn Backend, cfg: &ModelConfig, batch: usize) -> Result<StateBufs> {
        let modules = cfg
            .modules
            .iter()
            .map(|m| {
                Ok(ModuleStateBufs {
                    v: be.alloc(batch * m.n)?,
                    a: be.alloc(batch * m.n)?,
                    e: be.alloc(batch * m.n)?,
                    spk: [be.alloc(spike_words(batch, m.n))?, be.alloc(spike_words(batch, m.n))?],
                    y: be.alloc(batch * m.outputs)?,
                    j: be.alloc(batch * m.inputs)?,
                    rec: be.alloc(rec_state_words(batch, m.n))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let nc = cfg.connections.len();
        Ok(StateBufs {
            batch,
            modules,
            neuromod: be.alloc(batch * NUM_MODULES * 2)?,
            fast: be.alloc(batch * nc)?,
            acts: be.alloc(batch * nc)?,
            prev: be.alloc(batch * cfg.embed)?,
            context: be.alloc(batch * cfg.module(ModuleId::Thalamus).outputs)?,
            pfc_hidden: be.alloc(batch * cfg.module(ModuleId::Pfc).outputs)?,
            ctrl: be.alloc(batch * CTRL_WORDS)?,
            counts: be.alloc(batch * NUM_MODULES)?,
            features: be.alloc(batch * cfg.decoder_width())?,
            logits: be.alloc(batch * cfg.vocab)?,
            acc: be.alloc(batch * ACC_WORDS)?,
            lens: be.alloc(batch)?,
            rbar: be.alloc(batch)?,
            delays: cfg
                .readout_delays()
                .into_iter()
                .map(|(m, depth)| {
                    let o = cfg.module(m).outputs;
                    Ok((m, (0..depth).map(|_| be.alloc(batch * o)).collect::<Result<Vec<_>>>()?))
                })
                .collect::<Result<_>>()?,
            unbound: [be.alloc(1)?, be.alloc(1)?, be.alloc(1)?],
        })
    }

    pub fn free(&self, be: &mut dyn Backend) {
        for m in &self.modules {
            for b in [m.v, m.a, m.e, m.spk[0], m.spk[1], m.y, m.j, m.rec] {
                be.free(b);
            }
        }
        for b in [
            self.neuromod,
            self.fast,
            self.acts,
            self.prev,
            self.context,
            self.pfc_hidden,
            self.ctrl,
            self.counts,
            self.features,
            self.logits,
            self.acc,
            self.lens,
            self.unbound[0],
            self.unbound[1],
            self.unbound[2],
            self.rbar,
        ] {
            be.free(b);
        }
        for b in self.delays.iter().flat_map(|(_, line)| line) {
            be.free(*b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Preset;

    #[test]
    fn init_is_seeded_and_well_formed() {
        let cfg = ModelConfig::preset(Preset::Tiny);
        let a = HostParams::init(&cfg, 7);
        assert_eq!(a, HostParams::init(&cfg, 7));
        assert_ne!(a.emb, HostParams::init(&cfg, 8).emb);
        for (m, w) in cfg.modules.iter().zip(&a.recurrent) {
            for (i, row) in w.idx.chunks(w.fanout).enumerate() {
                assert!(row.windows(2).all(|p| p[0] < p[1]), "indices sorted and distinct");
                assert!(row.iter().all(|&j| (j as usize) < m.n && j as usize != i), "in range, no self-synapse");
            }
            assert!(w.val.iter().all(|x| x.abs() <= 1.0));
        }
        let e = cfg.embed as f32;
        let n0 = a.emb[..cfg.embed].iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((n0 - 16.0 * e.sqrt()).abs() < 1e-2 * n0);
    }
}
