//! The training loop around `Engine::train_step`: sleep every `sleep_interval` steps with replay of
//! the best sequences from a bounded buffer (docs/model.md §7).

use crate::config::Rule;
use crate::error::Result;
use crate::orchestrator::{Engine, SleepReport, TrainOutput};

/// Bounded buffer of past training sequences with the accuracy each reached.
#[derive(Clone, Debug, Default)]
pub struct ReplayBuffer {
    capacity: usize,
    items: Vec<(f64, Vec<u32>)>,
}

impl ReplayBuffer {
    pub fn new(capacity: usize) -> Self {
        ReplayBuffer { capacity, items: Vec::new() }
    }

    /// Keeps the `capacity` highest-reward sequences (ties: the newer one wins).
    pub fn push(&mut self, reward: f64, seq: Vec<u32>) {
        if self.capacity == 0 {
            return;
        }
        self.items.push((reward, seq));
        self.items.sort_by(|a, b| b.0.total_cmp(&a.0));
        self.items.truncate(self.capacity);
    }

    /// Every kept (reward, sequence), best first.
    pub fn items(&self) -> &[(f64, Vec<u32>)] {
        &self.items
    }

    /// A buffer holding `items` (a checkpoint's).
    pub fn from_items(capacity: usize, items: Vec<(f64, Vec<u32>)>) -> Self {
        let mut r = ReplayBuffer::new(capacity);
        for (reward, seq) in items {
            r.push(reward, seq);
        }
        r
    }

    /// The `n` highest-reward sequences.
    pub fn best(&self, n: usize) -> Vec<Vec<u32>> {
        self.items.iter().take(n).map(|(_, s)| s.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// What one `Trainer::step` did.
#[derive(Clone, Debug)]
pub struct StepReport {
    pub step: u64,
    pub train: TrainOutput,
    /// Set on steps that ended with a sleep: what it pruned, and the replay step's result.
    pub sleep: Option<(SleepReport, Option<TrainOutput>)>,
}

pub struct Trainer {
    pub engine: Engine,
    pub replay: ReplayBuffer,
    seed: u64,
    step: u64,
}

impl Trainer {
    pub fn new(engine: Engine, seed: u64) -> Trainer {
        let cap = engine.config().learn.replay_capacity;
        Trainer { engine, replay: ReplayBuffer::new(cap), seed, step: 0 }
    }

    /// Data steps taken (replays excluded).
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Continues a run that had taken `steps` data steps.
    pub fn resume_at(&mut self, steps: u64) {
        self.step = steps;
    }

    /// One train step on `batch`; every `sleep_interval` steps, sleep and replay.
    pub fn step(&mut self, batch: &[Vec<u32>]) -> Result<StepReport> {
        let train = self.engine.train_step(batch)?;
        for (seq, &acc) in batch.iter().zip(&train.sequence_accuracy) {
            self.replay.push(acc, seq.clone());
        }
        self.step += 1;
        let learn = self.engine.config().learn.clone();
        let mut sleep = None;
        // Sleep changes the network, which the decoder-only rule leaves as it was built.
        let sleeps = learn.rule == Rule::Reward && learn.sleep_interval > 0;
        if sleeps && self.step % learn.sleep_interval == 0 {
            let report = self.engine.sleep(self.seed)?;
            let best = self.replay.best(learn.replay_batch);
            let replayed = if best.is_empty() { None } else { Some(self.engine.train_step(&best)?) };
            sleep = Some((report, replayed));
        }
        Ok(StepReport { step: self.step, train, sleep })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_keeps_the_best() {
        let mut r = ReplayBuffer::new(2);
        r.push(0.1, vec![1]);
        r.push(0.9, vec![2]);
        r.push(0.5, vec![3]);
        assert_eq!(r.best(5), vec![vec![2], vec![3]]);
        assert_eq!(r.len(), 2);
    }
}
