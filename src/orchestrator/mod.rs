//! Turns a call (`generate`, `evaluate`, `forward`) into the recorded op sequence, identical for
//! every backend. Nothing here waits for the device except the one `submit` at the end of a call.

mod train;

pub use train::{train_words, SleepReport, TrainOutput, TrainPhase};

use std::time::Instant;

use crate::backend::*;
use crate::config::{Feature, ModelConfig, ModuleConfig, ModuleId, NeuronModel, Signal, Source, NUM_MODULES};
use crate::error::{invalid, NeuroError, Result};
use crate::model::{rec_state_words, HostParams, ParamBufs, StateBufs};
use crate::sampling::SamplingRule;

/// Constants of docs/model.md §3.2 and §3.6 that are not per-module (listed in §8.7).
const FAST_DECAY: f32 = 0.95;
const FAST_RATE: f32 = 0.1;
pub(crate) const FAST_CAP: f32 = 0.5;
const CONTEXT_DECAY: f32 = 0.9;
const HIDDEN_DECAY: f32 = 0.7;
const DA_DECAY: f32 = 0.95;
const HT_DECAY: f32 = 0.98;

/// Tokens one `generate` submission records at most; longer generations run in segments.
pub const GENERATE_SEGMENT: usize = 1024;
/// Tokens of one sequence a call reads at most (a prompt, an evaluated or trained sequence): a
/// call records every position's ops before it is submitted, so this bounds what it holds.
pub const MAX_SEQUENCE: usize = 4096;
/// New tokens one `generate` call makes at most (per sequence).
pub const MAX_GENERATE: usize = 1 << 20;

/// How `generate` continues a prompt.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GenerateOptions {
    pub max_new: usize,
    pub rule: SamplingRule,
    pub seed: u64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_new: 64,
            rule: SamplingRule { greedy: false, temperature: 1.0, top_k: 0, top_p: 1.0 },
            seed: 0,
        }
    }
}

/// What every call of docs/model.md §5 reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CallStats {
    pub seconds: f64,
    pub host_syncs: u64,
    pub dispatches: u64,
    pub ticks: u64,
    /// Mean spike rate per module over the call's ticks and sequences, in update order.
    pub spike_rates: [f64; NUM_MODULES],
}

impl CallStats {
    /// Statistics of no work.
    pub fn none() -> CallStats {
        CallStats { seconds: 0.0, host_syncs: 0, dispatches: 0, ticks: 0, spike_rates: [0.0; NUM_MODULES] }
    }

    /// The statistics of this call followed by `next` (spike rates weighted by ticks).
    pub fn then(&self, next: &CallStats) -> CallStats {
        let ticks = self.ticks + next.ticks;
        let w = |a: f64, b: f64| (a * self.ticks as f64 + b * next.ticks as f64) / ticks.max(1) as f64;
        CallStats {
            seconds: self.seconds + next.seconds,
            host_syncs: self.host_syncs + next.host_syncs,
            dispatches: self.dispatches + next.dispatches,
            ticks,
            spike_rates: std::array::from_fn(|m| w(self.spike_rates[m], next.spike_rates[m])),
        }
    }
}

#[derive(Clone, Debug)]
pub struct GenerateOutput {
    /// Per sequence: the generated ids, up to and including EOS.
    pub tokens: Vec<Vec<u32>>,
    pub stats: CallStats,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct EvalOutput {
    pub loss: f64,
    pub accuracy: f64,
    pub perplexity: f64,
    pub positions: u64,
    pub stats: CallStats,
}

/// Everything a checkpoint keeps of an engine: parameters, sleep bookkeeping, the per-slot state
/// that carries over between calls (DA/5HT, r̄), and the step count.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub params: HostParams,
    /// Spikes per neuron since the last sleep, per module.
    pub activity: Vec<Vec<u32>>,
    /// `(batch, neuromod [batch][6][2], rbar [batch])` when slots exist.
    pub slots: Option<(usize, Vec<f32>, Vec<f32>)>,
    pub steps: u64,
}

/// What a training tick's `lif_kwta` also writes for one module (docs/model.md §6 steps 1, 4e).
#[derive(Clone, Copy, Default)]
pub(crate) struct TickOutputs {
    /// The window statistics `(wc, we)`, the window and the position (windowed rules).
    pub window: Option<(Buf, Buf, u32, u32)>,
    /// e-prop's pseudo-derivatives `psi` and their first row (a position's last tick).
    pub psi: Option<(Buf, u32)>,
}

/// The engine: one model on one backend, with state for a batch of sequence slots.
pub struct Engine {
    be: Box<dyn Backend>,
    cfg: ModelConfig,
    params: ParamBufs,
    state: Option<StateBufs>,
    /// `[batch][capacity]` token ids of the current call.
    tokens: Option<(Buf, usize)>,
    /// Ticks since the last reset (spike ping-pong parity and the context's first tick).
    tick: u64,
    /// The state was just allocated: the next reset also clears neuromodulators and r̄, which
    /// otherwise carry over between calls per sequence slot (docs/model.md §2).
    fresh_state: bool,
    /// DA, 5HT (`[slot][module][2]`) and r̄ (`[slot]`) of every slot the engine has had, as of the
    /// last change of batch size: a smaller call (the sleep's replay) must not erase the slots it
    /// does not use.
    slot_memory: (Vec<u32>, Vec<u32>),
    /// Scratch of `train_step`, sized for (batch, positions).
    train: Option<train::TrainBufs>,
    /// Train steps since the engine was built (sleep scheduling, reproducible seeds).
    pub(crate) steps: u64,
    /// Calls of at most this many sequences propagate spikes event-driven (the backend's launch
    /// shapes, or `NEUROGEN_EVENT_MAX_BATCH`; either way the same bits, docs/model.md §3.4).
    event_max_batch: usize,
}

impl Engine {
    /// Builds a model with seeded random parameters.
    pub fn new(be: Box<dyn Backend>, cfg: ModelConfig, seed: u64) -> Result<Engine> {
        cfg.validate()?;
        check_fits(&*be, &cfg, 1)?;
        let params = HostParams::init(&cfg, seed);
        Engine::with_params(be, cfg, &params)
    }

    pub fn with_params(mut be: Box<dyn Backend>, cfg: ModelConfig, params: &HostParams) -> Result<Engine> {
        cfg.validate()?;
        check_fits(&*be, &cfg, 1)?;
        let event_max_batch = event_max_batch(&*be)?;
        let params = ParamBufs::upload(&mut *be, &cfg, params)?;
        Ok(Engine {
            be,
            cfg,
            params,
            state: None,
            tokens: None,
            tick: 0,
            fresh_state: false,
            slot_memory: Default::default(),
            event_max_batch,
            train: None,
            steps: 0,
        })
    }

    /// Reads the whole learnable state back (host syncs; outside calls).
    pub fn snapshot(&mut self) -> Result<Snapshot> {
        let params = self.params.download(&mut *self.be, &self.cfg)?;
        let activity = self.params.modules.iter().map(|m| self.be.download(m.activity)).collect::<Result<Vec<_>>>()?;
        let slots = match self.state.clone() {
            Some(st) if !self.fresh_state => {
                let nm = self.be.download(st.neuromod)?;
                let rb = self.be.download(st.rbar)?;
                Some((st.batch, bytemuck::cast_slice(&nm).to_vec(), bytemuck::cast_slice(&rb).to_vec()))
            }
            _ => None,
        };
        Ok(Snapshot { params, activity, slots, steps: self.steps })
    }

    /// Rebuilds an engine from a snapshot (the inverse of [`Engine::snapshot`]).
    pub fn from_snapshot(be: Box<dyn Backend>, cfg: ModelConfig, snap: &Snapshot) -> Result<Engine> {
        let mut eng = Engine::with_params(be, cfg, &snap.params)?;
        for (m, a) in snap.activity.iter().enumerate() {
            let buf = eng.params.modules[m].activity;
            eng.be.upload(buf, 0, a)?;
        }
        if let Some((batch, nm, rb)) = &snap.slots {
            let st = eng.ensure_state(*batch)?;
            eng.be.upload(st.neuromod, 0, bytemuck::cast_slice(nm))?;
            eng.be.upload(st.rbar, 0, bytemuck::cast_slice(rb))?;
            eng.fresh_state = false;
        }
        eng.steps = snap.steps;
        Ok(eng)
    }

    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    pub fn backend(&self) -> &dyn Backend {
        &*self.be
    }
    pub fn backend_mut(&mut self) -> &mut dyn Backend {
        &mut *self.be
    }
    pub fn params(&self) -> &ParamBufs {
        &self.params
    }
    pub fn state(&self) -> Option<&StateBufs> {
        self.state.as_ref()
    }
    /// Train steps applied since the model was initialised (restored from checkpoints).
    pub fn steps_taken(&self) -> u64 {
        self.steps
    }

    /// Ticks run since the last reset.
    pub fn ticks(&self) -> u64 {
        self.tick
    }

    /// Continues each prompt by up to `max_new` sampled tokens, starting from rest; a sequence
    /// stops at EOS. Recorded in segments of at most [`GENERATE_SEGMENT`] tokens, one submission
    /// each, until every sequence is done (docs/model.md §5).
    pub fn generate(&mut self, prompts: &[Vec<u32>], opts: &GenerateOptions) -> Result<GenerateOutput> {
        self.generate_streaming(prompts, opts, |_| {})
    }

    /// [`Engine::generate`], calling `on_segment` with every sequence's tokens so far after each
    /// segment (to print text as it is made).
    pub fn generate_streaming(
        &mut self,
        prompts: &[Vec<u32>],
        opts: &GenerateOptions,
        mut on_segment: impl FnMut(&[Vec<u32>]),
    ) -> Result<GenerateOutput> {
        self.check_batch(prompts, 1)?;
        let r = opts.rule;
        if !r.greedy && !(r.temperature.is_finite() && r.temperature > 0.0) {
            return invalid(format!("temperature must be a positive number, got {}", r.temperature));
        }
        if !(r.top_p > 0.0 && r.top_p <= 1.0) {
            return invalid(format!("top-p must be in (0, 1], got {}", r.top_p));
        }
        if opts.max_new > MAX_GENERATE {
            return invalid(format!("max_new {} exceeds the limit of {MAX_GENERATE} tokens per call", opts.max_new));
        }
        let batch = prompts.len();
        let mut tokens: Vec<Vec<u32>> = vec![Vec::new(); batch];
        let mut done = vec![opts.max_new == 0; batch];
        let mut inputs = prompts.to_vec();
        let mut stats: Option<CallStats> = None;
        for segment in 0u64.. {
            let left = (0..batch).filter(|&b| !done[b]).map(|b| opts.max_new - tokens[b].len()).max();
            let Some(left) = left else { break };
            // The first segment's seed is the caller's, so a short generation is one plain call.
            let seed = opts.seed ^ segment.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let (rows, s) = self.generate_segment(&inputs, left.min(GENERATE_SEGMENT), r, seed, segment == 0)?;
            for (b, row) in rows.iter().enumerate() {
                // The next segment starts by feeding the last token sampled here.
                inputs[b] = vec![*row.last().unwrap_or(&self.cfg.pad)];
                if done[b] {
                    continue;
                }
                let take = row.len().min(opts.max_new - tokens[b].len());
                let row = &row[..take];
                match row.iter().position(|&t| t == self.cfg.eos) {
                    Some(i) => {
                        tokens[b].extend_from_slice(&row[..=i]);
                        done[b] = true;
                    }
                    None => tokens[b].extend_from_slice(row),
                }
                done[b] |= tokens[b].len() >= opts.max_new;
            }
            stats = Some(match stats {
                None => s,
                Some(acc) => acc.then(&s),
            });
            on_segment(&tokens);
        }
        let stats = stats.unwrap_or_else(CallStats::none);
        Ok(GenerateOutput { tokens, stats })
    }

    /// One submission: feeds `inputs` (from rest with `reset`, else from the current state) and
    /// samples until every row is `steps` tokens past the longest input. Returns each sequence's
    /// sampled tokens (shorter inputs sample more, so all rows end at the same position).
    fn generate_segment(
        &mut self,
        inputs: &[Vec<u32>],
        steps: usize,
        r: SamplingRule,
        seed: u64,
        reset: bool,
    ) -> Result<(Vec<Vec<u32>>, CallStats)> {
        let batch = inputs.len();
        let max_in = inputs.iter().map(Vec::len).max().unwrap_or(0);
        let min_in = inputs.iter().map(Vec::len).min().unwrap_or(0);
        let total = max_in + steps;
        let (tokens, st) = self.prepare(inputs, total)?;
        let lens: Vec<u32> = inputs.iter().map(|p| p.len() as u32).collect();
        self.be.upload(st.lens, 0, &lens)?;

        let start = Instant::now();
        let first_tick = if reset { 0 } else { self.tick };
        self.be.begin()?;
        if reset {
            self.record_reset(&st)?;
        } else {
            self.be.enqueue(Op::fill(st.counts, batch * NUM_MODULES, 0))?;
        }
        let v = self.cfg.vocab as u32;
        for pos in 0..total.saturating_sub(1) {
            self.record_token(&st, tokens, total, pos)?;
            if pos + 1 < min_in {
                continue; // every sequence is still reading its input: nothing to decode
            }
            self.record_logits(&st)?;
            let p = sample::Params {
                batch: batch as u32,
                vocab: v,
                tstride: total as u32,
                pos: pos as u32,
                greedy: r.greedy as u32,
                top_k: r.top_k.min(v),
                top_p: r.top_p,
                inv_temperature: if r.greedy { 1.0 } else { 1.0 / r.temperature },
                seed_lo: seed as u32,
                seed_hi: (seed >> 32) as u32,
                eos: self.cfg.eos,
                pad: self.cfg.pad,
                ..Default::default()
            };
            let bufs = sample::Bufs { logits: st.logits, lens: st.lens, tokens, ctrl: st.ctrl };
            self.be.enqueue(Op::new(p, bufs))?;
        }
        let out = self.be.submit(&[tokens, st.counts])?;
        let stats = self.call_stats(start, &out[1], batch, first_tick);
        let rows =
            inputs.iter().enumerate().map(|(b, p)| out[0][b * total + p.len()..(b + 1) * total].to_vec()).collect();
        Ok((rows, stats))
    }

    /// Loss, accuracy and perplexity of next-token prediction over every position, starting
    /// from rest, with no learning. Sequences may differ in length. One submission.
    pub fn evaluate(&mut self, seqs: &[Vec<u32>]) -> Result<EvalOutput> {
        self.check_batch(seqs, 2)?;
        let batch = seqs.len();
        let total = seqs.iter().map(Vec::len).max().unwrap_or(0);
        let (tokens, st) = self.prepare(seqs, total)?;
        let lens: Vec<u32> = seqs.iter().map(|s| s.len() as u32).collect();
        self.be.upload(st.lens, 0, &lens)?;

        let start = Instant::now();
        self.be.begin()?;
        self.record_reset(&st)?;
        self.be.enqueue(Op::fill(st.acc, batch * ACC_WORDS, 0))?;
        for pos in 0..total - 1 {
            self.record_token(&st, tokens, total, pos)?;
            self.record_logits(&st)?;
            let p = loss_accum::Params {
                batch: batch as u32,
                vocab: self.cfg.vocab as u32,
                tstride: total as u32,
                pos: pos as u32,
                ..Default::default()
            };
            let bufs = loss_accum::Bufs { logits: st.logits, tokens, lens: st.lens, acc: st.acc };
            self.be.enqueue(Op::new(p, bufs))?;
        }
        let out = self.be.submit(&[st.acc, st.counts])?;
        let stats = self.call_stats(start, &out[1], batch, 0);
        let acc: &[f32] = bytemuck::cast_slice(&out[0]);
        let sum = |k: usize| (0..batch).map(|b| acc[b * ACC_WORDS + k] as f64).sum::<f64>();
        let (nll, correct, count) = (sum(0), sum(1), sum(2));
        let loss = nll / count;
        Ok(EvalOutput { loss, accuracy: correct / count, perplexity: loss.exp(), positions: count as u64, stats })
    }

    /// Clears the state of `batch` sequence slots to rest (one submission).
    pub fn reset(&mut self, batch: usize) -> Result<()> {
        let st = self.ensure_state(batch)?;
        self.be.begin()?;
        self.record_reset(&st)?;
        self.be.submit(&[])?;
        Ok(())
    }

    /// Runs the cognitive steps of equal-length token sequences from the current state, without
    /// decoding (one submission). Returns the call's statistics.
    pub fn forward(&mut self, seqs: &[Vec<u32>]) -> Result<CallStats> {
        self.check_batch(seqs, 1)?;
        let len = seqs[0].len();
        if seqs.iter().any(|s| s.len() != len) {
            return invalid("forward takes sequences of equal length");
        }
        if self.state.as_ref().map(|s| s.batch) != Some(seqs.len()) {
            return invalid("forward needs a reset to this batch size first");
        }
        let (tokens, st) = self.prepare(seqs, len)?;
        let start = Instant::now();
        let first_tick = self.tick;
        self.be.begin()?;
        self.be.enqueue(Op::fill(st.counts, st.batch * NUM_MODULES, 0))?;
        for pos in 0..len {
            self.record_token(&st, tokens, len, pos)?;
        }
        let out = self.be.submit(&[st.counts])?;
        Ok(self.call_stats(start, &out[0], seqs.len(), first_tick))
    }

    // ---- validation -------------------------------------------------------------------------

    /// Rejects empty batches, short sequences and out-of-range ids before any work.
    fn check_batch(&self, seqs: &[Vec<u32>], min_len: usize) -> Result<()> {
        if seqs.is_empty() {
            return invalid("a call needs at least one sequence");
        }
        for (b, s) in seqs.iter().enumerate() {
            if s.len() < min_len {
                return invalid(format!("sequence {b} has {} tokens; at least {min_len} needed", s.len()));
            }
            if s.len() > MAX_SEQUENCE {
                return invalid(format!(
                    "sequence {b} has {} tokens; a call reads at most {MAX_SEQUENCE} per sequence",
                    s.len()
                ));
            }
            if let Some((i, &t)) = s.iter().enumerate().find(|(_, &t)| t as usize >= self.cfg.vocab) {
                return invalid(format!(
                    "sequence {b}, position {i}: token id {t} is outside the vocabulary (V = {})",
                    self.cfg.vocab
                ));
            }
        }
        Ok(())
    }

    // ---- buffers ----------------------------------------------------------------------------

    fn ensure_state(&mut self, batch: usize) -> Result<StateBufs> {
        if let Some(st) = &self.state {
            if st.batch == batch {
                return Ok(st.clone());
            }
        }
        check_fits(&*self.be, &self.cfg, batch)?;
        // DA, 5HT and r̄ belong to sequence slots and outlive calls: every slot keeps its own across
        // changes of batch size, new ones start at 0 (outside any call, so these syncs are not a call's).
        let carried = match self.state.take() {
            Some(old) if !self.fresh_state => {
                let nm = self.be.download(old.neuromod)?;
                let rb = self.be.download(old.rbar)?;
                old.free(&mut *self.be);
                Some((old.batch, nm, rb))
            }
            Some(old) => {
                old.free(&mut *self.be);
                None
            }
            None => None,
        };
        let st = StateBufs::alloc(&mut *self.be, &self.cfg, batch)?;
        self.state = Some(st.clone());
        self.tick = 0;
        self.fresh_state = carried.is_none();
        if let Some((old_batch, nm, rb)) = carried {
            let per = NUM_MODULES * 2;
            let (mem_nm, mem_rb) = &mut self.slot_memory;
            let slots = old_batch.max(batch).max(mem_rb.len());
            mem_nm.resize(slots * per, 0);
            mem_rb.resize(slots, 0);
            mem_nm[..old_batch * per].copy_from_slice(&nm[..old_batch * per]);
            mem_rb[..old_batch].copy_from_slice(&rb[..old_batch]);
            self.be.upload(st.neuromod, 0, &mem_nm[..batch * per])?;
            self.be.upload(st.rbar, 0, &mem_rb[..batch])?;
        } else {
            self.slot_memory = Default::default();
        }
        Ok(st)
    }

    /// Allocates state and the token buffer, and uploads the token ids (padded) before recording.
    fn prepare(&mut self, seqs: &[Vec<u32>], stride: usize) -> Result<(Buf, StateBufs)> {
        let batch = seqs.len();
        let st = self.ensure_state(batch)?;
        let need = batch * stride;
        let buf = match self.tokens {
            Some((b, cap)) if cap >= need => b,
            other => {
                if let Some((b, _)) = other {
                    self.be.free(b);
                }
                let b = self.be.alloc(need)?;
                self.tokens = Some((b, need));
                b
            }
        };
        let mut flat = vec![self.cfg.pad; need];
        for (b, s) in seqs.iter().enumerate() {
            flat[b * stride..b * stride + s.len()].copy_from_slice(s);
        }
        self.be.upload(buf, 0, &flat)?;
        Ok((buf, st))
    }

    // ---- recording ----------------------------------------------------------------------------

    fn record_reset(&mut self, st: &StateBufs) -> Result<()> {
        let b = st.batch;
        let rest = self.cfg.lif.v_rest.to_bits();
        for (m, ms) in self.cfg.modules.iter().zip(&st.modules) {
            self.be.enqueue(Op::fill(ms.v, b * m.n, rest))?;
            for (buf, len) in [
                (ms.a, b * m.n),
                (ms.e, b * m.n),
                (ms.spk[0], spike_words(b, m.n)),
                (ms.spk[1], spike_words(b, m.n)),
                (ms.y, b * m.outputs),
                (ms.j, b * m.inputs),
                (ms.rec, rec_state_words(b, m.n)),
            ] {
                self.be.enqueue(Op::fill(buf, len, 0))?;
            }
        }
        let nc = self.cfg.connections.len();
        let o_thal = self.cfg.module(ModuleId::Thalamus).outputs;
        let o_pfc = self.cfg.module(ModuleId::Pfc).outputs;
        if std::mem::take(&mut self.fresh_state) {
            self.be.enqueue(Op::fill(st.neuromod, b * NUM_MODULES * 2, 0))?;
            self.be.enqueue(Op::fill(st.rbar, b, 0))?;
        }
        for (buf, len) in [
            (st.fast, b * nc),
            (st.acts, b * nc),
            (st.prev, b * self.cfg.embed),
            (st.context, b * o_thal),
            (st.pfc_hidden, b * o_pfc),
            (st.ctrl, b * CTRL_WORDS),
            (st.counts, b * NUM_MODULES),
        ] {
            self.be.enqueue(Op::fill(buf, len, 0))?;
        }
        for (m, line) in &st.delays {
            for &buf in line {
                self.be.enqueue(Op::fill(buf, b * self.cfg.module(*m).outputs, 0))?;
            }
        }
        self.tick = 0;
        Ok(())
    }

    fn source_buf(&self, st: &StateBufs, s: Source) -> Buf {
        match s {
            Source::Module(m) => st.modules[m as usize].y,
            Source::PfcHidden => st.pfc_hidden,
            Source::Context => st.context,
        }
    }

    /// `ticks_per_token` cognitive steps with the token at `pos` held.
    fn record_token(&mut self, st: &StateBufs, tokens: Buf, tstride: usize, pos: usize) -> Result<()> {
        self.record_delay_shift(st)?;
        for _ in 0..self.cfg.ticks_per_token {
            self.record_tick(st, tokens, tstride, pos, &[])?;
        }
        Ok(())
    }

    /// Before a position's ticks, every delay line moves one position on: its oldest entry drops
    /// out and the readout of the position before becomes entry 1 (docs/model.md §4).
    pub(crate) fn record_delay_shift(&mut self, st: &StateBufs) -> Result<()> {
        for (m, line) in &st.delays {
            let len = st.batch * self.cfg.module(*m).outputs;
            for k in (1..line.len()).rev() {
                self.be.enqueue(Op::copy(line[k - 1], line[k], len))?;
            }
            self.be.enqueue(Op::copy(st.modules[*m as usize].y, line[0], len))?;
        }
        Ok(())
    }

    /// One cognitive step of docs/model.md §3 for every sequence of the batch. In training,
    /// `outputs[m]` says what module m's step also writes for the learning rules (empty: nothing).
    fn record_tick(
        &mut self,
        st: &StateBufs,
        tokens: Buf,
        tstride: usize,
        pos: usize,
        outputs: &[TickOutputs],
    ) -> Result<()> {
        let cfg = &self.cfg;
        let batch = st.batch as u32;
        let nc = cfg.connections.len() as u32;
        let parity = (self.tick % 2) as usize;
        let mut ops = Vec::with_capacity(32);
        for mc in &cfg.modules {
            let m = mc.id;
            let ms = st.modules[m as usize];
            let mut overwrite = true;
            if m == ModuleId::Thalamus {
                let (emb, bf16) = self.params.forward(self.params.emb);
                let p = embed_gate::Params {
                    batch,
                    embed: cfg.embed as u32,
                    tstride: tstride as u32,
                    pos: pos as u32,
                    tau_att: mc.tau_att,
                    bf16,
                    ..Default::default()
                };
                ops.push(Op::new(p, embed_gate::Bufs { tokens, emb, prev: st.prev, j: ms.j }));
                overwrite = false;
            }
            for (c, cc) in cfg.connections.iter().enumerate().filter(|(_, cc)| cc.target == m) {
                let y_src = self.source_buf(st, cc.source);
                let o_src = cfg.source_width(cc.source) as u32;
                let pr = self.params.projections[c];
                let (p_val, bf16) = self.params.forward(pr.val);
                let pp = project::Params {
                    batch,
                    rows: mc.inputs as u32,
                    fanout: cfg.init.projection_fanout as u32,
                    o_src,
                    conn: c as u32,
                    n_conn: nc,
                    accumulate: !overwrite as u32,
                    inhibitory: cc.inhibitory as u32,
                    gate_threshold: cc.gate_threshold,
                    fast_decay: FAST_DECAY,
                    fast_rate: FAST_RATE,
                    fast_cap: FAST_CAP,
                    bf16,
                    ..Default::default()
                };
                let bufs = project::Bufs {
                    p_idx: pr.idx,
                    p_val,
                    y_src,
                    gains: self.params.gains,
                    fast: st.fast,
                    j: ms.j,
                    acts: st.acts,
                };
                ops.push(Op::new(pp, bufs));
                overwrite = false;
            }
            if m == ModuleId::Broca {
                let bg = cfg.module(ModuleId::BasalGanglia);
                let p = go_nogo::Params {
                    batch,
                    outputs: bg.outputs as u32,
                    max_depth: cfg.max_depth,
                    ..Default::default()
                };
                ops.push(Op::new(
                    p,
                    go_nogo::Bufs { y_bg: st.modules[ModuleId::BasalGanglia as usize].y, ctrl: st.ctrl },
                ));
            }
            let out = outputs.get(m as usize).copied().unwrap_or_default();
            ops.extend(self.neuron_step(mc, st, parity, out));
        }
        let p = context_update::Params {
            batch,
            o_thal: cfg.module(ModuleId::Thalamus).outputs as u32,
            o_pfc: cfg.module(ModuleId::Pfc).outputs as u32,
            first: (self.tick == 0) as u32,
            ctx_decay: CONTEXT_DECAY,
            hidden_decay: HIDDEN_DECAY,
            da_decay: DA_DECAY,
            ht_decay: HT_DECAY,
            n_conn: nc,
            fast_decay: FAST_DECAY,
            fast_rate: FAST_RATE,
            fast_cap: FAST_CAP,
            ..Default::default()
        };
        let bufs = context_update::Bufs {
            y_thal: st.modules[ModuleId::Thalamus as usize].y,
            y_pfc: st.modules[ModuleId::Pfc as usize].y,
            acts: st.acts,
            context: st.context,
            hidden: st.pfc_hidden,
            neuromod: st.neuromod,
            fast: st.fast,
        };
        ops.push(Op::new(p, bufs));
        for op in ops {
            self.be.enqueue(op)?;
        }
        self.tick += 1;
        Ok(())
    }

    /// Sets the largest batch that propagates event-driven (0: every call gathers). The result
    /// does not depend on it; tests compare both paths.
    pub fn set_event_max_batch(&mut self, batch: usize) {
        self.event_max_batch = batch;
    }

    /// Whether calls of `batch` sequences propagate spikes event-driven.
    fn event_driven(&self, batch: usize) -> bool {
        batch <= self.event_max_batch.min(EVENT_MAX_BATCH)
    }

    /// One module's tick under its neuron model: the ops that step its neurons from this tick's
    /// input current and last tick's spikes (`spk[parity]`) to this tick's (`spk[1 − parity]`).
    fn neuron_step(&self, mc: &ModuleConfig, st: &StateBufs, parity: usize, out: TickOutputs) -> Vec<Op> {
        let (cfg, m, batch) = (&self.cfg, mc.id, st.batch as u32);
        let ms = st.modules[m as usize];
        match mc.neuron {
            NeuronModel::LifAdaptive => {
                let l = &cfg.lif;
                let mp = self.params.modules[m as usize];
                let (w_val, bf16) = self.params.forward(mp.w_val);
                let p = lif_kwta::Params {
                    batch,
                    n: mc.n as u32,
                    inputs: mc.inputs as u32,
                    outputs: mc.outputs as u32,
                    fanout: mc.fanout as u32,
                    k: mc.k as u32,
                    module_id: m as u32,
                    use_go: (m == ModuleId::Broca) as u32,
                    excitability: mc.excitability,
                    s_da: mc.s_da,
                    s_5ht: mc.s_5ht,
                    inhibition: mc.inhibition,
                    go_bias: cfg.go_bias,
                    alpha: mc.alpha(l),
                    beta: l.beta,
                    delta_a: l.delta_a,
                    v_rest: l.v_rest,
                    v_reset: l.v_reset,
                    v_min: l.v_min,
                    trace_lambda: mc.trace_lambda(l),
                    seq_per_group: 0, // the backend's launch shapes choose
                    bf16,
                    event: self.event_driven(st.batch) as u32,
                    stats: out.window.is_some() as u32,
                    window: out.window.map_or(0, |w| w.2),
                    pos: out.window.map_or(0, |w| w.3),
                    derivative: out.psi.is_some() as u32,
                    psi_row0: out.psi.map_or(0, |d| d.1),
                    inv_width: 1.0 / cfg.learn.eprop_width,
                    ..Default::default()
                };
                let [unused_wc, unused_we, unused_psi] = st.unbound;
                let (wc, we) = out.window.map_or((unused_wc, unused_we), |w| (w.0, w.1));
                let psi = out.psi.map_or(unused_psi, |d| d.0);
                let bufs = lif_kwta::Bufs {
                    j: ms.j,
                    w_idx: mp.w_idx,
                    w_val,
                    theta: mp.theta,
                    neuromod: st.neuromod,
                    ctrl: st.ctrl,
                    spk_prev: ms.spk[parity],
                    v: ms.v,
                    a: ms.a,
                    e: ms.e,
                    spk_next: ms.spk[1 - parity],
                    y: ms.y,
                    counts: st.counts,
                    rec: ms.rec,
                    lens: st.lens,
                    wc,
                    we,
                    psi,
                };
                let mut ops = Vec::new();
                if p.event != 0 {
                    let pp = propagate::Params { batch, n: p.n, fanout: p.fanout, bf16, ..Default::default() };
                    let (out_start, out_syn, spk_prev) = (mp.out_start, mp.out_syn, ms.spk[parity]);
                    ops.push(Op::new(pp, propagate::Bufs { spk_prev, out_start, out_syn, w_val, rec: ms.rec }));
                }
                ops.push(Op::new(p, bufs));
                ops
            }
        }
    }

    /// Gathers the decoder features of the current position into rows `row0..row0 + B` of `dst`
    /// (`[rows][D]`), block after block in the order of `decoder_features` (docs/model.md §4).
    fn record_features(&mut self, st: &StateBufs, dst: Buf, row0: usize) -> Result<()> {
        for i in 0..self.cfg.decoder_features.len() {
            let op = signal_rows(&self.cfg, st, &self.cfg.decoder_features, i, dst, row0);
            self.be.enqueue(op)?;
        }
        Ok(())
    }

    fn record_logits(&mut self, st: &StateBufs) -> Result<()> {
        self.record_features(st, st.features, 0)?;
        let (dec_w, bf16) = self.params.forward(self.params.dec_w);
        let p = logits::Params {
            batch: st.batch as u32,
            vocab: self.cfg.vocab as u32,
            width: self.cfg.decoder_width() as u32,
            path: LOGITS_AUTO,
            bf16,
            ..Default::default()
        };
        let bufs = logits::Bufs { dec_w, dec_b: self.params.dec_b, y: st.features, logits: st.logits };
        self.be.enqueue(Op::new(p, bufs))
    }

    /// Statistics of the call that began at tick `first_tick` (0 for calls that reset).
    fn call_stats(&self, start: Instant, counts: &[u32], batch: usize, first_tick: u64) -> CallStats {
        let s = self.be.stats();
        let ticks = self.tick - first_tick;
        let mut spike_rates = [0.0; NUM_MODULES];
        for (m, mc) in self.cfg.modules.iter().enumerate() {
            let total: u64 = (0..batch).map(|b| counts[b * NUM_MODULES + m] as u64).sum();
            spike_rates[m] = total as f64 / (mc.n as f64 * ticks.max(1) as f64 * batch as f64);
        }
        CallStats {
            seconds: start.elapsed().as_secs_f64(),
            host_syncs: s.last_call_syncs,
            dispatches: s.last_call_dispatches,
            ticks,
            spike_rates,
        }
    }
}

/// Host memory a model of `cfg` needs at `batch` sequences: the host holds a copy of the
/// parameters while a model is built, loaded or saved, and on the CPU backend the device's
/// buffers are host memory too.
pub fn host_bytes(info: &DeviceInfo, cfg: &ModelConfig, batch: usize) -> u64 {
    4 * cfg.parameter_words() as u64 + if info.host_memory { cfg.memory_bytes(batch) } else { 0 }
}

/// The largest batch that propagates event-driven: `NEUROGEN_EVENT_MAX_BATCH` when set (0: always
/// gather; benchmarks compare the paths with it), else the backend's launch shapes.
fn event_max_batch(be: &dyn Backend) -> Result<usize> {
    match std::env::var("NEUROGEN_EVENT_MAX_BATCH") {
        Ok(v) => v.trim().parse().map_err(|_| {
            NeuroError::InvalidInput(format!(
                "NEUROGEN_EVENT_MAX_BATCH={v:?}: expected a number of sequences (0: always gather)"
            ))
        }),
        Err(_) => Ok(be.launch_shapes().event_max_batch),
    }
}

/// Refuses a model whose buffers exceed the device's limits, with the estimate and what fits.
pub fn check_fits(be: &dyn Backend, cfg: &ModelConfig, batch: usize) -> Result<()> {
    let info = be.info();
    let d = cfg.decoder_width();
    let largest_param = [cfg.vocab * d, cfg.vocab * cfg.embed]
        .into_iter()
        .chain(cfg.modules.iter().map(|m| m.n * m.fanout))
        .max()
        .unwrap_or(0) as u64
        * 4;
    let largest_state =
        cfg.modules.iter().map(|m| batch * m.n).chain([batch * cfg.vocab, batch * d]).max().unwrap_or(0) as u64 * 4;
    let largest = largest_param.max(largest_state);
    let limit = info.max_binding_bytes.min(info.max_buffer_bytes);
    let total = cfg.memory_bytes(batch);
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let host_need = host_bytes(&info, cfg, batch);
    if let Some(avail) = host_available_bytes() {
        if host_need > avail {
            return Err(NeuroError::DoesNotFit(format!(
                "preset {} (V = {}) with batch {batch} needs about {:.2} GiB of host memory, {:.2} GiB is available",
                cfg.preset,
                cfg.vocab,
                gib(host_need),
                gib(avail)
            )));
        }
    }
    if let Some(mem) = info.memory_bytes.filter(|_| !info.host_memory) {
        if total > mem {
            let per_seq = 4 * cfg.state_words_per_sequence() as u64;
            let fit = mem.saturating_sub(4 * cfg.parameter_words() as u64) / per_seq.max(1);
            return Err(NeuroError::DoesNotFit(format!(
                "preset {} with batch {batch} needs about {:.2} GiB, the device has {:.2} GiB; at most {fit} sequences would fit",
                cfg.preset,
                gib(total),
                gib(mem)
            )));
        }
    }
    if largest > limit {
        return Err(NeuroError::DoesNotFit(format!(
            "preset {} with batch {batch} needs a {:.2} GiB buffer, but {} on {} allows at most {:.2} GiB per buffer (model estimate {:.2} GiB in all)",
            cfg.preset,
            gib(largest),
            info.backend,
            info.device,
            gib(limit),
            gib(total)
        )));
    }
    Ok(())
}

/// The op that copies block `i` of `blocks` (a module's readout, or its trace scaled by `1 − λ`)
/// of each sequence into rows `row0 + b` of `dst`, whose rows hold all of `blocks` side by side.
pub(crate) fn signal_rows(
    cfg: &ModelConfig,
    st: &StateBufs,
    blocks: &[Feature],
    i: usize,
    dst: Buf,
    row0: usize,
) -> Op {
    let width = |f: &Feature| cfg.feature_width(f);
    let f = blocks[i];
    let ms = st.modules[f.module as usize];
    let (src, scale) = match f.signal {
        Signal::Readout => (ms.y, 1.0),
        Signal::Trace => (ms.e, 1.0 - cfg.module(f.module).trace_lambda(&cfg.lif)),
        Signal::ReadoutBefore(k) => {
            let line = &st.delays.iter().find(|(m, _)| *m == f.module).expect("a delay line per delayed readout").1;
            (line[k as usize - 1], 1.0)
        }
    };
    let p = gather_rows::Params {
        batch: st.batch as u32,
        width: width(&f) as u32,
        src_stride: width(&f) as u32,
        dst_stride: blocks.iter().map(width).sum::<usize>() as u32,
        dst_offset: blocks[..i].iter().map(width).sum::<usize>() as u32,
        row0: row0 as u32,
        scale,
        ..Default::default()
    };
    Op::new(p, gather_rows::Bufs { src, dst })
}
