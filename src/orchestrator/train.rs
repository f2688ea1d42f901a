//! Learning (docs/model.md §6–7): `train_step` recorded as one submission with one host sync, and `sleep`
//! (pruning with regrowth, silent-neuron thresholds) between calls.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{check_fits, CallStats, Engine, TickOutputs, FAST_CAP};
use crate::backend::*;
use crate::config::{Feature, ModelConfig, ModuleId, Rule, Signal, Source, NUM_MODULES};
use crate::error::{NeuroError, Result};
use crate::model::{outgoing_synapses, StateBufs};

/// Scratch of one `train_step`, sized for (batch, positions).
pub struct TrainBufs {
    batch: usize,
    positions: usize,
    /// Decoder features of every predicted position, rows `t·B + b`.
    features: Buf,
    /// Logits of every row, then their gradients.
    logits: Buf,
    row_stats: Buf,
    /// Per module `[windows][batch][N]` spike counts and trace sums (the reward rule's; empty
    /// under the other rules, which then record no window statistics).
    pub(crate) wc: Vec<Buf>,
    pub(crate) we: Vec<Buf>,
    /// One module's `wc` and `we` neuron-major (`[N][windows·batch]`), for its `plasticity` SDDMM;
    /// sized for the largest module and reused by each in turn (the ops run in order).
    stats_t: Option<(Buf, Buf)>,
    mod_base: Buf,
    mfac: Buf,
    totals: Buf,
    partials: Buf,
    scalars: Buf,
    /// The decoder's gradient (weights and bias); its optimizer step updates it in place.
    g_w: Buf,
    g_b: Buf,
    w_next: Vec<Buf>,
    theta_next: Vec<Buf>,
    gains_next: Buf,
    flags: Buf,
    /// e-prop (one per module of [`EpropPlan::modules`]): pseudo-derivatives and learning signals,
    /// `[rows][N]`; and the next weights of each projection of [`EpropPlan::connections`].
    psi: Vec<Buf>,
    signal: Vec<Buf>,
    /// e-prop's update operands, neuron-major so that the `eprop` SDDMM reads them contiguously:
    /// per learner `ψ·L̃` as `[N][rows]`, and the decoder features and extra rows transposed.
    q_t: Vec<Buf>,
    features_t: Option<Buf>,
    extra_t: Option<Buf>,
    p_next: Vec<Buf>,
    /// e-prop's rows of [`EpropPlan::extra`] (`[rows][extra width]`) and its fixed random feedback
    /// weights (`[V][feedback width]`), if the plan has any.
    extra: Option<Buf>,
    feedback: Option<Buf>,
    /// What e-prop learns (the buffers above follow it).
    plan: EpropPlan,
}

/// The stream of the fixed random feedback weights: the same for every model of a config, so a
/// resumed run keeps them.
const FEEDBACK_SEED: u64 = 0x5eed_feed;

/// A readout at rest, `σ(−1)` (docs/model.md §3.4), plus a margin for the backends' `exp`: above
/// it the readout's derivative is not zero (`readout_derivative`).
const READOUT_REST: f32 = 0.268_941_43 + 1e-6;

/// What e-prop learns under a config (docs/model.md §6, step 4e): each module whose spike trace the
/// decoder reads (its learning signal comes through the decoder's weights of that trace) and, with
/// `learn.random_feedback`, every other module (its signal through fixed random weights); their
/// recurrent weights, and each projection into them from a module whose readout is recorded per
/// position. With `learn.readout_eprop`, also each module left whose readout the decoder reads,
/// through that readout: the projections into it. Empty unless the rule is e-prop.
struct EpropPlan {
    modules: Vec<Learner>,
    /// (connection, where its source's readout rows are, positions the source lags).
    connections: Vec<(usize, Rows, u32)>,
    /// Signals the decoder does not read that e-prop needs per position (`TrainBufs::extra`).
    extra: Vec<Feature>,
    /// Columns of the random feedback matrix `[V][feedback_width]`.
    feedback_width: usize,
}

/// One module e-prop learns.
struct Learner {
    module: usize,
    /// The first column of its learning signal's weights: in the decoder, or in the random
    /// feedback matrix.
    feedback: Feedback,
    post: Post,
}

/// What a learner's postsynaptic factor is.
#[derive(Clone, Copy)]
enum Post {
    /// Spikes, through the pseudo-derivative and the module's trace; its trace rows are the
    /// recurrent weights' presynaptic activity.
    Spikes { trace: Rows },
    /// The readout (its first `outputs` neurons), through the readout's derivative, with no
    /// memory: the projections into the module learn, its recurrent weights do not.
    Readout,
}

impl Learner {
    /// Neurons with a learning signal.
    fn width(&self, cfg: &ModelConfig) -> usize {
        let mc = &cfg.modules[self.module];
        match self.post {
            Post::Spikes { .. } => mc.n,
            Post::Readout => mc.outputs,
        }
    }

    /// Rows of its neuron-major factor `q_t`: every postsynaptic row a matrix into it has (zeros
    /// past `width`).
    fn q_rows(&self, cfg: &ModelConfig) -> usize {
        let mc = &cfg.modules[self.module];
        match self.post {
            Post::Spikes { .. } => mc.n,
            Post::Readout => mc.outputs.max(mc.inputs),
        }
    }
}

#[derive(Clone, Copy)]
enum Feedback {
    Decoder(usize),
    Random(usize),
}

/// A block of per-position rows: at this column of the decoder features, or of `TrainBufs::extra`.
#[derive(Clone, Copy)]
enum Rows {
    Features(usize),
    Extra(usize),
}

impl EpropPlan {
    fn of(cfg: &ModelConfig) -> EpropPlan {
        let mut plan = EpropPlan { modules: Vec::new(), connections: Vec::new(), extra: Vec::new(), feedback_width: 0 };
        if cfg.learn.rule != Rule::Eprop {
            return plan;
        }
        let random = cfg.learn.random_feedback;
        for m in ModuleId::ALL {
            let n = cfg.module(m).n;
            let learner = match cfg.feature_offset(m, Signal::Trace) {
                Some(o) => Learner {
                    module: m as usize,
                    feedback: Feedback::Decoder(o),
                    post: Post::Spikes { trace: Rows::Features(o) },
                },
                None if random => {
                    let trace = plan.extra_rows(cfg, Feature { module: m, signal: Signal::Trace });
                    plan.feedback_width += n;
                    let feedback = Feedback::Random(plan.feedback_width - n);
                    Learner { module: m as usize, feedback, post: Post::Spikes { trace } }
                }
                None => match cfg.feature_offset(m, Signal::Readout) {
                    Some(o) if cfg.learn.readout_eprop => {
                        Learner { module: m as usize, feedback: Feedback::Decoder(o), post: Post::Readout }
                    }
                    _ => continue,
                },
            };
            plan.modules.push(learner);
        }
        for (c, cc) in cfg.connections.iter().enumerate() {
            let Source::Module(src) = cc.source else { continue };
            if plan.learner(cc.target as usize).is_none() {
                continue;
            }
            let rows = match cfg.feature_offset(src, Signal::Readout) {
                Some(o) => Rows::Features(o),
                None if random => plan.extra_rows(cfg, Feature { module: src, signal: Signal::Readout }),
                None => continue,
            };
            plan.connections.push((c, rows, cfg.is_feedback(cc) as u32));
        }
        plan
    }

    /// The rows of `f` in `extra`, added there if new.
    fn extra_rows(&mut self, cfg: &ModelConfig, f: Feature) -> Rows {
        let offset = |fs: &[Feature]| fs.iter().map(|f| cfg.feature_width(f)).sum();
        match self.extra.iter().position(|&g| g == f) {
            Some(i) => Rows::Extra(offset(&self.extra[..i])),
            None => {
                let o = offset(&self.extra);
                self.extra.push(f);
                Rows::Extra(o)
            }
        }
    }

    fn extra_width(&self, cfg: &ModelConfig) -> usize {
        self.extra.iter().map(|f| cfg.feature_width(f)).sum()
    }

    /// The index in `modules` of module `m`'s learner.
    fn learner(&self, m: usize) -> Option<usize> {
        self.modules.iter().position(|l| l.module == m)
    }

    /// Words of e-prop scratch for `rows` predicted positions.
    fn words(&self, cfg: &ModelConfig, rows: usize) -> usize {
        let m: usize = self.modules.iter().map(|l| rows * (2 * l.width(cfg) + l.q_rows(cfg))).sum();
        let p: usize = self
            .connections
            .iter()
            .map(|&(c, _, _)| cfg.module(cfg.connections[c].target).inputs * cfg.init.projection_fanout)
            .sum();
        m + p + rows * self.extra_width(cfg) + cfg.vocab * self.feedback_width
    }
}

/// How far `train_step_until` records a step (benchmarks time the phases separately).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TrainPhase {
    /// Forward over all positions with window statistics.
    Forward,
    /// … plus the batched decode, loss, rewards and the decoder update (not applied).
    Decode,
    /// The whole step, updates applied.
    All,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct TrainOutput {
    pub loss: f64,
    pub accuracy: f64,
    /// Predicted positions (targets) in the batch.
    pub positions: u64,
    /// Per sequence: the argmax prediction at its last position, and its accuracy.
    pub predictions: Vec<u32>,
    pub sequence_accuracy: Vec<f64>,
    /// Decoder gradient norm before clipping.
    pub grad_norm: f64,
    /// Mean dopamine and serotonin over sequences and modules after the step.
    pub dopamine: f64,
    pub serotonin: f64,
    pub stats: CallStats,
}

/// What `sleep` changed.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct SleepReport {
    pub pruned: usize,
    pub silent_neurons: usize,
}

fn windows(cfg: &ModelConfig, positions: usize) -> usize {
    (positions * cfg.ticks_per_token).div_ceil(cfg.learn.window_ticks)
}

/// Words of training scratch for (batch, positions).
pub fn train_words(cfg: &ModelConfig, batch: usize, positions: usize) -> usize {
    let rows = batch * positions;
    let (v, d) = (cfg.vocab, cfg.decoder_width());
    let neurons = cfg.neurons();
    rows * (d + v + ROW_WORDS)
        + if cfg.learn.rule == Rule::Reward { 2 * windows(cfg, positions) * batch * neurons } else { 0 }
        + v * (d + 1)
        + cfg.synapses()
        + neurons
        + batch * (windows(cfg, positions) + NUM_MODULES)
        + decoder_grad_partials(v, d)
        + EpropPlan::of(cfg).words(cfg, rows)
        + 64
}

/// What a health flag watches: one slot each in the flags buffer; a set flag names the tensor in
/// the NaN report and stops every update of the step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flag {
    Membrane(ModuleId),
    DecoderFeatures,
    DecoderWeights,
    DecoderBias,
    ConnectionGains,
    Projections,
    RecurrentWeights(ModuleId),
    Thresholds(ModuleId),
}

impl Flag {
    const COUNT: usize = 5 + 3 * NUM_MODULES;

    fn slot(self) -> usize {
        match self {
            Flag::Membrane(m) => m as usize,
            Flag::DecoderFeatures => NUM_MODULES,
            Flag::DecoderWeights => NUM_MODULES + 1,
            Flag::DecoderBias => NUM_MODULES + 2,
            Flag::ConnectionGains => NUM_MODULES + 3,
            Flag::Projections => NUM_MODULES + 4,
            Flag::RecurrentWeights(m) => NUM_MODULES + 5 + m as usize,
            Flag::Thresholds(m) => 2 * NUM_MODULES + 5 + m as usize,
        }
    }

    fn all() -> Vec<Flag> {
        let mut all: Vec<Flag> = ModuleId::ALL.iter().map(|&m| Flag::Membrane(m)).collect();
        all.extend([
            Flag::DecoderFeatures,
            Flag::DecoderWeights,
            Flag::DecoderBias,
            Flag::ConnectionGains,
            Flag::Projections,
        ]);
        all.extend(ModuleId::ALL.iter().map(|&m| Flag::RecurrentWeights(m)));
        all.extend(ModuleId::ALL.iter().map(|&m| Flag::Thresholds(m)));
        all
    }

    fn name(self) -> String {
        match self {
            Flag::Membrane(m) => format!("{} membrane potentials", m.name()),
            Flag::DecoderFeatures => "decoder features".into(),
            Flag::DecoderWeights => "decoder weights".into(),
            Flag::DecoderBias => "decoder bias".into(),
            Flag::ConnectionGains => "connection gains".into(),
            Flag::Projections => "connection projections".into(),
            Flag::RecurrentWeights(m) => format!("{} recurrent weights", m.name()),
            Flag::Thresholds(m) => format!("{} thresholds", m.name()),
        }
    }
}

impl TrainBufs {
    fn alloc(be: &mut dyn Backend, cfg: &ModelConfig, batch: usize, positions: usize) -> Result<TrainBufs> {
        let rows = batch * positions;
        let (v, d, w) = (cfg.vocab, cfg.decoder_width(), windows(cfg, positions));
        let per_module = |be: &mut dyn Backend, len: &dyn Fn(usize) -> usize| -> Result<Vec<Buf>> {
            (0..NUM_MODULES).map(|m| be.alloc(len(m))).collect()
        };
        let plan = EpropPlan::of(cfg);
        let reward = cfg.learn.rule == Rule::Reward;
        let per_learner = |be: &mut dyn Backend, len: &dyn Fn(&Learner) -> usize| -> Result<Vec<Buf>> {
            plan.modules.iter().map(|l| be.alloc(rows * len(l))).collect()
        };
        let extra_width = plan.extra_width(cfg);
        let extra = if extra_width > 0 { Some(be.alloc(rows * extra_width)?) } else { None };
        let extra_t = if extra_width > 0 { Some(be.alloc(rows * extra_width)?) } else { None };
        let features_t = if plan.modules.is_empty() { None } else { Some(be.alloc(rows * d)?) };
        let feedback = match plan.feedback_width {
            0 => None,
            f => {
                let w = crate::model::random_feedback(FEEDBACK_SEED, v, f, cfg.learn.feedback_std);
                let buf = be.alloc(v * f)?;
                be.upload(buf, 0, bytemuck::cast_slice(&w))?;
                Some(buf)
            }
        };
        Ok(TrainBufs {
            batch,
            positions,
            features: be.alloc(rows * d)?,
            logits: be.alloc(rows * v)?,
            row_stats: be.alloc(rows * ROW_WORDS)?,
            wc: if reward { per_module(be, &|m| w * batch * cfg.modules[m].n)? } else { Vec::new() },
            we: if reward { per_module(be, &|m| w * batch * cfg.modules[m].n)? } else { Vec::new() },
            stats_t: if reward {
                let len = w * batch * cfg.modules.iter().map(|m| m.n).max().unwrap_or(0);
                Some((be.alloc(len)?, be.alloc(len)?))
            } else {
                None
            },
            mod_base: be.alloc(batch * w)?,
            mfac: be.alloc(batch * NUM_MODULES)?,
            totals: be.alloc(4)?,
            partials: be.alloc(decoder_grad_partials(v, d))?,
            scalars: be.alloc(4)?,
            g_w: be.alloc(v * d)?,
            g_b: be.alloc(v)?,
            w_next: per_module(be, &|m| cfg.modules[m].n * cfg.modules[m].fanout)?,
            theta_next: per_module(be, &|m| cfg.modules[m].n)?,
            gains_next: be.alloc(cfg.connections.len())?,
            flags: be.alloc(Flag::COUNT)?,
            psi: per_learner(be, &|l| l.width(cfg))?,
            signal: per_learner(be, &|l| l.width(cfg))?,
            q_t: per_learner(be, &|l| l.q_rows(cfg))?,
            features_t,
            extra_t,
            p_next: plan
                .connections
                .iter()
                .map(|&(c, _, _)| be.alloc(cfg.module(cfg.connections[c].target).inputs * cfg.init.projection_fanout))
                .collect::<Result<_>>()?,
            extra,
            feedback,
            plan,
        })
    }

    fn free(&self, be: &mut dyn Backend) {
        let singles = [
            self.features,
            self.logits,
            self.row_stats,
            self.mod_base,
            self.mfac,
            self.totals,
            self.partials,
            self.scalars,
            self.g_w,
            self.g_b,
            self.gains_next,
            self.flags,
        ];
        for b in singles.into_iter().chain(
            self.wc
                .iter()
                .chain(&self.we)
                .chain(&self.w_next)
                .chain(&self.theta_next)
                .chain(&self.psi)
                .chain(&self.signal)
                .chain(self.stats_t.iter().flat_map(|(c, e)| [c, e]))
                .chain(&self.q_t)
                .chain(&self.features_t)
                .chain(&self.extra_t)
                .chain(&self.p_next)
                .chain(&self.extra)
                .chain(&self.feedback)
                .copied(),
        ) {
            be.free(b);
        }
    }
}

impl Engine {
    /// One learning step over a batch of token sequences (lengths may differ; padding is masked),
    /// docs/model.md §6, recorded as one submission with one host sync. Each sequence starts
    /// from rest; DA, 5HT and r̄ carry over per sequence slot. If any NaN or Inf appears, no update
    /// is applied and the error names the tensors it was found in.
    pub fn train_step(&mut self, seqs: &[Vec<u32>]) -> Result<TrainOutput> {
        self.train_step_until(seqs, TrainPhase::All)
    }

    /// `train_step` recorded only up to `phase` (for timing the phases; nothing is applied
    /// before `TrainPhase::All`).
    pub fn train_step_until(&mut self, seqs: &[Vec<u32>], phase: TrainPhase) -> Result<TrainOutput> {
        self.check_batch(seqs, 2)?;
        let batch = seqs.len();
        let total = seqs.iter().map(Vec::len).max().unwrap_or(0);
        let positions = total - 1;
        self.check_train_fits(batch, positions)?;
        let (tokens, st) = self.prepare(seqs, total)?;
        let lens: Vec<u32> = seqs.iter().map(|s| s.len() as u32).collect();
        self.be.upload(st.lens, 0, &lens)?;
        let tb = self.ensure_train(batch, positions)?;

        let start = Instant::now();
        self.be.begin()?;
        self.record_reset(&st)?;
        self.record_train(&st, &tb, tokens, total, &lens, phase)?;
        let out = self.be.submit(&[st.acc, tb.totals, tb.scalars, tb.flags, st.counts, st.neuromod])?;
        self.train = Some(tb);
        let stats = self.call_stats(start, &out[4], batch, 0);
        if phase == TrainPhase::All {
            self.steps += 1;
        }

        let bad: Vec<String> = Flag::all().into_iter().filter(|f| out[3][f.slot()] != 0).map(Flag::name).collect();
        if phase >= TrainPhase::Decode && !bad.is_empty() {
            return Err(NeuroError::NonFinite(bad));
        }
        let acc: &[f32] = bytemuck::cast_slice(&out[0]);
        let totals: &[f32] = bytemuck::cast_slice(&out[1]);
        let scalars: &[f32] = bytemuck::cast_slice(&out[2]);
        let count = totals[2] as f64;
        let nm: &[f32] = bytemuck::cast_slice(&out[5]);
        let level =
            |k: usize| nm.iter().skip(k).step_by(2).map(|&x| x as f64).sum::<f64>() / (nm.len() / 2).max(1) as f64;
        Ok(TrainOutput {
            loss: totals[0] as f64 / count.max(1.0),
            accuracy: totals[1] as f64 / count.max(1.0),
            positions: count as u64,
            predictions: (0..batch).map(|b| acc[b * ACC_WORDS + 3] as u32).collect(),
            sequence_accuracy: (0..batch)
                .map(|b| acc[b * ACC_WORDS + 1] as f64 / (acc[b * ACC_WORDS + 2] as f64).max(1.0))
                .collect(),
            grad_norm: scalars[1] as f64,
            dopamine: level(0),
            serotonin: level(1),
            stats,
        })
    }

    fn check_train_fits(&self, batch: usize, positions: usize) -> Result<()> {
        check_fits(&*self.be, &self.cfg, batch)?;
        let info = self.be.info();
        let need = 4 * (train_words(&self.cfg, batch, positions) as u64);
        let largest = 4 * (batch * positions * self.cfg.vocab.max(self.cfg.decoder_width())) as u64;
        let limit = info.max_binding_bytes.min(info.max_buffer_bytes);
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        if largest > limit {
            return Err(NeuroError::DoesNotFit(format!(
                "training {batch} sequences of {positions} predicted positions needs a {:.2} GiB logits buffer; {} allows {:.2} GiB",
                gib(largest),
                info.device,
                gib(limit)
            )));
        }
        if let Some(mem) = info.memory_bytes {
            let total = self.cfg.memory_bytes(batch) + need;
            if total > mem {
                return Err(NeuroError::DoesNotFit(format!(
                    "training preset {} with batch {batch} × {positions} positions needs about {:.2} GiB, the device has {:.2} GiB; use a smaller batch or sequence length",
                    self.cfg.preset,
                    gib(total),
                    gib(mem)
                )));
            }
        }
        Ok(())
    }

    fn ensure_train(&mut self, batch: usize, positions: usize) -> Result<TrainBufs> {
        if let Some(tb) = self.train.take() {
            if tb.batch == batch && tb.positions == positions {
                return Ok(tb);
            }
            tb.free(&mut *self.be);
        }
        TrainBufs::alloc(&mut *self.be, &self.cfg, batch, positions)
    }

    fn record_train(
        &mut self,
        st: &StateBufs,
        tb: &TrainBufs,
        tokens: Buf,
        tstride: usize,
        lens: &[u32],
        phase: TrainPhase,
    ) -> Result<()> {
        let cfg = self.cfg.clone();
        let l = &cfg.learn;
        let (batch, positions) = (st.batch, tb.positions);
        let (v, d, nw) = (cfg.vocab, cfg.decoder_width(), windows(&cfg, positions));
        let rows = batch * positions;

        // 1. Forward over every position with weights held fixed, recording readouts and window stats.
        if !tb.wc.is_empty() {
            for (m, mc) in cfg.modules.iter().enumerate() {
                self.be.enqueue(Op::fill(tb.wc[m], nw * batch * mc.n, 0))?;
                self.be.enqueue(Op::fill(tb.we[m], nw * batch * mc.n, 0))?;
            }
        }
        self.be.enqueue(Op::fill(tb.flags, Flag::COUNT, 0))?;
        for pos in 0..positions {
            self.record_delay_shift(st)?;
            for t in 0..cfg.ticks_per_token {
                // The window statistics of every tick (windowed rules) and, on the position's last
                // tick, e-prop's pseudo-derivatives of the modules it learns through their spikes.
                let window = (self.tick / l.window_ticks as u64) as u32;
                let last = t + 1 == cfg.ticks_per_token;
                let outputs: Vec<TickOutputs> = (0..cfg.modules.len())
                    .map(|m| TickOutputs {
                        window: (!tb.wc.is_empty()).then(|| (tb.wc[m], tb.we[m], window, pos as u32)),
                        psi: tb
                            .plan
                            .learner(m)
                            .filter(|&k| last && matches!(tb.plan.modules[k].post, Post::Spikes { .. }))
                            .map(|k| (tb.psi[k], (pos * batch) as u32)),
                    })
                    .collect();
                self.record_tick(st, tokens, tstride, pos, &outputs)?;
            }
            self.record_features(st, tb.features, pos * batch)?;
            if let Some(extra) = tb.extra {
                for i in 0..tb.plan.extra.len() {
                    self.be.enqueue(super::signal_rows(&cfg, st, &tb.plan.extra, i, extra, pos * batch))?;
                }
            }
            // e-prop through a readout: its derivative after the position's last tick.
            for (k, learner) in tb.plan.modules.iter().enumerate() {
                if let Post::Readout = learner.post {
                    let p = readout_derivative::Params {
                        batch: batch as u32,
                        outputs: cfg.modules[learner.module].outputs as u32,
                        row0: (pos * batch) as u32,
                        rest: READOUT_REST,
                        ..Default::default()
                    };
                    let y = st.modules[learner.module].y;
                    self.be.enqueue(Op::new(p, readout_derivative::Bufs { y, psi: tb.psi[k] }))?;
                }
            }
        }
        for (m, mc) in cfg.modules.iter().enumerate() {
            self.be.enqueue(Op::health(st.modules[m].v, batch * mc.n, tb.flags, Flag::Membrane(mc.id).slot()))?;
        }
        self.be.enqueue(Op::health(tb.features, rows * d, tb.flags, Flag::DecoderFeatures.slot()))?;
        if phase == TrainPhase::Forward {
            return Ok(());
        }

        // 2. Decode every predicted position in one batched product; loss, rewards, modulators.
        let (dec_read, bf16) = self.params.forward(self.params.dec_w);
        let lp = logits::Params {
            batch: rows as u32,
            vocab: v as u32,
            width: d as u32,
            path: LOGITS_AUTO,
            bf16,
            ..Default::default()
        };
        let (dec_w, dec_b) = (self.params.dec_w, self.params.dec_b);
        self.be.enqueue(Op::new(lp, logits::Bufs { dec_w: dec_read, dec_b, y: tb.features, logits: tb.logits }))?;
        let gp = loss_grad::Params {
            rows: rows as u32,
            batch: batch as u32,
            vocab: v as u32,
            tstride: tstride as u32,
            ..Default::default()
        };
        let bufs = loss_grad::Bufs { tokens, lens: st.lens, logits: tb.logits, row_stats: tb.row_stats };
        self.be.enqueue(Op::new(gp, bufs))?;
        let mut s_da = [0f32; NUM_MODULES];
        let mut s_5ht = [0f32; NUM_MODULES];
        for (m, mc) in cfg.modules.iter().enumerate() {
            s_da[m] = mc.s_da;
            s_5ht[m] = mc.s_5ht;
        }
        let rp = rewards::Params {
            batch: batch as u32,
            positions: positions as u32,
            windows: nw as u32,
            window_ticks: l.window_ticks as u32,
            ticks_per_token: cfg.ticks_per_token as u32,
            reward: l.reward,
            rbar_decay: l.rbar_decay,
            ht_step: l.serotonin_step,
            s_da,
            s_5ht,
            ..Default::default()
        };
        let bufs = rewards::Bufs {
            row_stats: tb.row_stats,
            rbar: st.rbar,
            neuromod: st.neuromod,
            mod_base: tb.mod_base,
            mfac: tb.mfac,
            acc: st.acc,
            totals: tb.totals,
        };
        self.be.enqueue(Op::new(rp, bufs))?;

        // 3. Decoder SGD with the gradient norm clipped.
        let dp = decoder_grad::Params { rows: rows as u32, vocab: v as u32, width: d as u32, ..Default::default() };
        let bufs = decoder_grad::Bufs {
            grads: tb.logits,
            y: tb.features,
            totals: tb.totals,
            g_w: tb.g_w,
            g_b: tb.g_b,
            partials: tb.partials,
        };
        self.be.enqueue(Op::new(dp, bufs))?;
        let np = grad_norm::Params {
            n_partials: decoder_grad_partials(v, d) as u32,
            clip: l.grad_clip,
            ..Default::default()
        };
        self.be.enqueue(Op::new(np, grad_norm::Bufs { partials: tb.partials, scalars: tb.scalars }))?;
        let t = self.steps + 1;
        let lr = l.decoder_rate_at(t);
        // The decoder's optimizer step, in place in two passes over the same inputs: `apply = 0`
        // flags a non-finite result now; `apply = 1`, after every other update is checked, writes
        // it unless any flag is set (so the decoder needs no next copy and no commit).
        let adam = self.params.adam;
        let decoder_step = |apply: u32| -> Vec<Op> {
            let tensors = [(v * d, dec_w, tb.g_w, Flag::DecoderWeights), (v, dec_b, tb.g_b, Flag::DecoderBias)];
            tensors
                .into_iter()
                .enumerate()
                .map(|(k, (len, param, grad, flag))| {
                    let (slot, n_flags) = (flag.slot() as u32, Flag::COUNT as u32);
                    // The parameters hold Adam's moments exactly when the config asks for Adam.
                    match adam {
                        Some(a) => {
                            let (b1, b2) = (l.adam_beta1, l.adam_beta2);
                            let exp = t.min(i32::MAX as u64) as i32;
                            let p = adam_step::Params {
                                len: len as u32,
                                lr,
                                beta1: b1,
                                beta2: b2,
                                eps: l.adam_eps,
                                weight_decay: if k == 0 { l.decoder_weight_decay } else { 0.0 },
                                c1: 1.0 / (1.0 - b1.powi(exp)),
                                c2: 1.0 / (1.0 - b2.powi(exp)),
                                apply,
                                slot,
                                n_flags,
                                ..Default::default()
                            };
                            let (m, v) = if k == 0 { (a.m_w, a.v_w) } else { (a.m_b, a.v_b) };
                            Op::new(p, adam_step::Bufs { param, scalars: tb.scalars, m, v, grad, flags: tb.flags })
                        }
                        None => {
                            let p =
                                sgd_step::Params { len: len as u32, lr, apply, slot, n_flags, ..Default::default() };
                            Op::new(p, sgd_step::Bufs { param, scalars: tb.scalars, grad, flags: tb.flags })
                        }
                    }
                })
                .collect()
        };
        for op in decoder_step(0) {
            self.be.enqueue(op)?;
        }
        if phase == TrainPhase::Decode {
            return Ok(());
        }

        // The network's rules write their next values to scratch, listed here for the commit.
        let mut updates = Vec::new();
        match l.rule {
            Rule::DecoderOnly => {}
            Rule::Reward => self.record_network_rules(st, tb, lens, &mut updates)?,
            Rule::Eprop => self.record_eprop(tb, batch, &mut updates)?,
        }

        // Numerical safety: check every update, then apply all of them or none.
        for &(next, _, len, flag) in &updates {
            self.be.enqueue(Op::health(next, len, tb.flags, flag.slot()))?;
        }
        for op in decoder_step(1) {
            self.be.enqueue(op)?;
        }
        for &(next, dst, len, _) in &updates {
            self.be.enqueue(Op::commit(next, tb.flags, Flag::COUNT, dst, len))?;
        }
        // The forward's bf16 copies follow whatever the steps and commits left (docs/model.md §2,
        // "Precision").
        self.params.record_repack(&mut *self.be, dec_w, v * d)?;
        for &(_, dst, len, _) in &updates {
            self.params.record_repack(&mut *self.be, dst, len)?;
        }
        Ok(())
    }

    /// The e-prop rule (docs/model.md §6): per learning module, the learning signal through the
    /// decoder's weights, then its recurrent weights and the projections into it, written to
    /// scratch and listed in `updates` for the commit.
    fn record_eprop(&mut self, tb: &TrainBufs, batch: usize, updates: &mut Vec<(Buf, Buf, usize, Flag)>) -> Result<()> {
        let cfg = self.cfg.clone();
        let (l, plan) = (&cfg.learn, &tb.plan);
        if plan.modules.is_empty() {
            return Ok(()); // no module's trace is read (e.g. seed's readout features): nothing learns
        }
        let (rows, d) = (batch * tb.positions, cfg.decoder_width());
        let extra_width = plan.extra_width(&cfg);
        // The presynaptic rows, neuron-major: (transposed buffer, column) of a block.
        let features_t = tb.features_t.expect("planned e-prop operands");
        let transpose = |src: Buf, width: usize, dst: Buf| {
            Op::new(
                transpose::Params { rows: rows as u32, width: width as u32, ..Default::default() },
                transpose::Bufs { src, dst },
            )
        };
        self.be.enqueue(transpose(tb.features, d, features_t))?;
        if let (Some(extra), Some(extra_t)) = (tb.extra, tb.extra_t) {
            self.be.enqueue(transpose(extra, extra_width, extra_t))?;
        }
        let locate = |r: Rows| match r {
            Rows::Features(o) => (features_t, o),
            Rows::Extra(o) => (tb.extra_t.expect("planned extra rows"), o),
        };
        // (w_idx, w_val, w_next) of one matrix into the k-th learner.
        let eprop_op =
            |w: (Buf, Buf, Buf), k: usize, n: usize, fanout: usize, pre: (Rows, u32, f32), learn: (f32, f32)| {
                let (pre_rows, pre_lag, pre_scale) = pre;
                let (x_t, pre_offset) = locate(pre_rows);
                let (rate, bound) = learn;
                let p = eprop::Params {
                    rows: rows as u32,
                    n: n as u32,
                    fanout: fanout as u32,
                    pre_offset: pre_offset as u32,
                    lag_rows: pre_lag * batch as u32,
                    pre_scale,
                    rate,
                    bound,
                    ..Default::default()
                };
                let (w_idx, w_val, w_next) = w;
                Op::new(p, eprop::Bufs { w_idx, w_val, q_t: tb.q_t[k], x_t, totals: tb.totals, w_next })
            };
        for (k, learner) in plan.modules.iter().enumerate() {
            let m = learner.module;
            let mc = &cfg.modules[m];
            let (dec_w, width, offset) = match learner.feedback {
                Feedback::Decoder(o) => (self.params.dec_w, d, o),
                Feedback::Random(o) => (tb.feedback.expect("planned feedback"), plan.feedback_width, o),
            };
            let n = learner.width(&cfg);
            let p = learning_signal::Params {
                rows: rows as u32,
                vocab: cfg.vocab as u32,
                width: width as u32,
                offset: offset as u32,
                n: n as u32,
                ..Default::default()
            };
            let bufs = learning_signal::Bufs { grads: tb.logits, dec_w, signal: tb.signal[k] };
            self.be.enqueue(Op::new(p, bufs))?;
            // The eligibility trace filters ψ·pre forward with the post module's λ; summed
            // against L it equals ψ times L filtered backward, per neuron (docs/model.md §6). A
            // readout has no memory of its own here (λ = 0), and the rows of q_t past its readout
            // neurons are zero.
            let lambda = match learner.post {
                Post::Spikes { .. } => mc.trace_lambda(&cfg.lif),
                Post::Readout => 0.0,
            };
            if learner.q_rows(&cfg) > n {
                self.be.enqueue(Op::fill(tb.q_t[k], rows * learner.q_rows(&cfg), 0))?;
            }
            let p = eprop_filter::Params {
                batch: batch as u32,
                positions: tb.positions as u32,
                n: n as u32,
                lambda,
                ..Default::default()
            };
            let bufs = eprop_filter::Bufs { psi: tb.psi[k], signal: tb.signal[k], q_t: tb.q_t[k] };
            self.be.enqueue(Op::new(p, bufs))?;
            // Recurrent: the presynaptic trace of last position (its 1 − λ scale cancels the
            // learning signal's, which is through the scaled trace feature).
            let Post::Spikes { trace } = learner.post else { continue };
            let mp = self.params.modules[m];
            let w = (mp.w_idx, mp.w_val, tb.w_next[m]);
            self.be.enqueue(eprop_op(w, k, mc.n, mc.fanout, (trace, 1, 1.0), (l.eprop_rate, 1.0)))?;
            updates.push((tb.w_next[m], mp.w_val, mc.n * mc.fanout, Flag::RecurrentWeights(mc.id)));
        }
        for (q, &(c, pre_rows, lag)) in plan.connections.iter().enumerate() {
            let cc = &cfg.connections[c];
            let k = plan.learner(cc.target as usize).expect("planned target");
            let mc = cfg.module(cc.target);
            // ∂v/∂P: the input gain at rest times the connection's gain with its fast weight at
            // the cap (docs/model.md §3.2–3.3), and the trace feature's 1 − λ (a readout's
            // derivative is in its ψ).
            let gain = mc.excitability * (1.0 - mc.inhibition) * (cc.gain + FAST_CAP);
            let sign = if cc.inhibitory { -1.0 } else { 1.0 };
            let feature = match plan.modules[k].post {
                Post::Spikes { .. } => 1.0 - mc.trace_lambda(&cfg.lif),
                Post::Readout => 1.0,
            };
            let scale = sign * gain * feature;
            let pr = self.params.projections[c];
            let fanout = cfg.init.projection_fanout;
            let w = (pr.idx, pr.val, tb.p_next[q]);
            let learn = (l.eprop_projection_rate, f32::MAX);
            self.be.enqueue(eprop_op(w, k, mc.inputs, fanout, (pre_rows, lag, scale), learn))?;
            updates.push((tb.p_next[q], pr.val, mc.inputs * fanout, Flag::Projections));
        }
        Ok(())
    }

    /// Steps 5–7 of docs/model.md §6 (the reward rule): three-factor plasticity, homeostasis and
    /// connection Hebbian gains, written to scratch and listed in `updates` for the commit.
    fn record_network_rules(
        &mut self,
        st: &StateBufs,
        tb: &TrainBufs,
        lens: &[u32],
        updates: &mut Vec<(Buf, Buf, usize, Flag)>,
    ) -> Result<()> {
        let cfg = self.cfg.clone();
        let l = &cfg.learn;
        let (batch, positions) = (st.batch, tb.positions);
        let nw = windows(&cfg, positions);
        // 4–6. Three-factor plasticity, homeostasis, connection Hebbian gains.
        let valid_ticks: u64 = lens.iter().map(|&n| (n as u64 - 1) * cfg.ticks_per_token as u64).sum();
        let (wc_t, we_t) = tb.stats_t.expect("reward-rule scratch");
        for (m, mc) in cfg.modules.iter().enumerate() {
            let mp = self.params.modules[m];
            for (stats, stats_t) in [(tb.wc[m], wc_t), (tb.we[m], we_t)] {
                let p = transpose::Params { rows: (nw * batch) as u32, width: mc.n as u32, ..Default::default() };
                self.be.enqueue(Op::new(p, transpose::Bufs { src: stats, dst: stats_t }))?;
            }
            let pp = plasticity::Params {
                batch: batch as u32,
                n: mc.n as u32,
                fanout: mc.fanout as u32,
                windows: nw as u32,
                module_id: m as u32,
                rate: mc.plasticity_rate,
                inv_window_ticks: 1.0 / l.window_ticks as f32,
                ..Default::default()
            };
            let bufs = plasticity::Bufs {
                w_idx: mp.w_idx,
                w_val: mp.w_val,
                wc_t,
                we_t,
                mod_base: tb.mod_base,
                mfac: tb.mfac,
                w_next: tb.w_next[m],
            };
            self.be.enqueue(Op::new(pp, bufs))?;
            let hp = homeostasis::Params {
                batch: batch as u32,
                n: mc.n as u32,
                windows: nw as u32,
                eta: l.theta_rate,
                target_rate: l.target_rate,
                inv_ticks: 1.0 / valid_ticks.max(1) as f32,
                ..Default::default()
            };
            let bufs = homeostasis::Bufs {
                theta: mp.theta,
                wc: tb.wc[m],
                theta_next: tb.theta_next[m],
                activity: mp.activity,
            };
            self.be.enqueue(Op::new(hp, bufs))?;
        }
        let mut neurons = [0u32; NUM_MODULES];
        for (m, mc) in cfg.modules.iter().enumerate() {
            neurons[m] = mc.n as u32;
        }
        let hp = hebbian_gains::Params {
            n_conn: cfg.connections.len() as u32,
            batch: batch as u32,
            ticks: (positions * cfg.ticks_per_token) as u32,
            window_ticks: l.window_ticks as u32,
            neurons,
            ..Default::default()
        };
        let bufs = hebbian_gains::Bufs {
            conn_meta: self.params.conn_meta,
            gains: self.params.gains,
            counts: st.counts,
            rbar: st.rbar,
            gains_next: tb.gains_next,
        };
        self.be.enqueue(Op::new(hp, bufs))?;

        let nc = cfg.connections.len();
        updates.push((tb.gains_next, self.params.gains, nc, Flag::ConnectionGains));
        for (m, mc) in cfg.modules.iter().enumerate() {
            let mp = self.params.modules[m];
            updates.push((tb.w_next[m], mp.w_val, mc.n * mc.fanout, Flag::RecurrentWeights(mc.id)));
            updates.push((tb.theta_next[m], mp.theta, mc.n, Flag::Thresholds(mc.id)));
        }
        Ok(())
    }

    /// Sleep (docs/model.md §7) between calls: synapses with |w| below the pruning threshold are regrown at
    /// fresh random presynaptic indices (fanout stays fixed; no self-synapses, no duplicates) with
    /// the regrowth weight; neurons silent since the last sleep get θ lowered; activity restarts.
    /// Seeded by `seed` and the step count, so reproducible.
    pub fn sleep(&mut self, seed: u64) -> Result<SleepReport> {
        let cfg = self.cfg.clone();
        let l = &cfg.learn;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ self.steps.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let mut report = SleepReport::default();
        for (m, mc) in cfg.modules.iter().enumerate() {
            let mp = self.params.modules[m];
            let (n, fan) = (mc.n, mc.fanout);
            let mut idx = self.be.download(mp.w_idx)?;
            let mut val: Vec<f32> = bytemuck::cast_slice(&self.be.download(mp.w_val)?).to_vec();
            for i in 0..n {
                let row: Vec<u32> = (0..fan).map(|f| idx[f * n + i]).collect();
                let mut pairs: Vec<(u32, f32)> = (0..fan).map(|f| (idx[f * n + i], val[f * n + i])).collect();
                let mut changed = false;
                for k in 0..fan {
                    if pairs[k].1.abs() < l.prune_threshold {
                        let free = |j: u32| j as usize != i && !row.contains(&j) && !pairs.iter().any(|p| p.0 == j);
                        // Random tries, then a scan; a row with no free index keeps its partner.
                        let fresh = (0..64)
                            .map(|_| rng.random_range(0..n) as u32)
                            .find(|&j| free(j))
                            .or_else(|| (0..n as u32).find(|&j| free(j)))
                            .unwrap_or(pairs[k].0);
                        pairs[k] = (fresh, l.regrow_weight);
                        changed = true;
                        report.pruned += 1;
                    }
                }
                if changed {
                    pairs.sort_unstable_by_key(|p| p.0);
                    for (f, (j, w)) in pairs.into_iter().enumerate() {
                        idx[f * n + i] = j;
                        val[f * n + i] = w;
                    }
                }
            }
            let activity = self.be.download(mp.activity)?;
            let mut theta: Vec<f32> = bytemuck::cast_slice(&self.be.download(mp.theta)?).to_vec();
            for (t, &a) in theta.iter_mut().zip(&activity) {
                if a == 0 {
                    *t -= l.silent_theta_drop;
                    report.silent_neurons += 1;
                }
            }
            self.be.upload(mp.w_idx, 0, &idx)?;
            let (start, syn) = outgoing_synapses(&idx, n);
            self.be.upload(mp.out_start, 0, &start)?;
            self.be.upload(mp.out_syn, 0, &syn)?;
            self.params.upload_values(&mut *self.be, mp.w_val, &val)?;
            self.be.upload(mp.theta, 0, bytemuck::cast_slice(&theta))?;
            self.be.upload(mp.activity, 0, &vec![0; n])?;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_has_its_own_slot() {
        let mut slots: Vec<usize> = Flag::all().into_iter().map(Flag::slot).collect();
        assert_eq!(slots.len(), Flag::COUNT);
        slots.sort_unstable();
        assert_eq!(slots, (0..Flag::COUNT).collect::<Vec<_>>());
    }
}
