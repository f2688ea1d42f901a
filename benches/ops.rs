//! Per-op and whole-call throughput on every available backend (`cargo bench`).
//! Whole-call numbers for BENCHMARKS.md come from `neurogen bench`, which prints tokens/s,
//! host syncs and dispatches per call; this harness tracks regressions op by op.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use neurogen::backend::*;
use neurogen::{create_backend, BackendKind, Engine, GenerateOptions, ModelConfig, Preset};

fn backends() -> Vec<(BackendKind, Box<dyn Backend>)> {
    [BackendKind::Cpu, BackendKind::Wgpu, BackendKind::Cuda]
        .into_iter()
        .filter_map(|k| match create_backend(k) {
            Ok(be) => Some((k, be)),
            Err(e) => {
                eprintln!("bench: skipping {k:?}: {e}");
                None
            }
        })
        .collect()
}

/// Times one op recorded `reps` times in one call (so per-call overhead is amortised).
fn time_op(c: &mut Criterion, name: &str, bytes: u64, make: &dyn Fn(&mut dyn Backend) -> Op) {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(10);
    for (kind, mut be) in backends() {
        let op = make(&mut *be);
        let reps = if kind == BackendKind::Cpu { 1 } else { 16 };
        g.bench_function(BenchmarkId::from_parameter(format!("{kind:?}")), |bn| {
            bn.iter_custom(|iters| {
                let t = std::time::Instant::now();
                for _ in 0..iters {
                    be.begin().unwrap();
                    for _ in 0..reps {
                        be.enqueue(op.clone()).unwrap();
                    }
                    be.submit(&[]).unwrap();
                }
                t.elapsed() / reps
            })
        });
    }
    g.finish();
}

fn zeroed(be: &mut dyn Backend, words: usize) -> Buf {
    let b = be.alloc(words).unwrap();
    be.upload(b, 0, &vec![0; words]).unwrap();
    b
}

fn ops(c: &mut Criterion) {
    // Wernicke of the `small` preset, batch 4.
    let (batch, n, fanout, inputs, outputs) = (4u32, 16384u32, 64u32, 2048u32, 2048u32);
    let lif_bytes = (n * fanout * 8 + batch * n * 24) as u64;
    time_op(c, "lif_kwta small/Wernicke b4", lif_bytes, &|be| {
        let p = lif_kwta::Params {
            seq_per_group: 0, // the backend's launch shapes choose
            batch,
            n,
            inputs,
            outputs,
            fanout,
            k: 50,
            excitability: 1.0,
            alpha: 0.95,
            beta: 0.9,
            v_rest: -65.0,
            v_reset: -65.0,
            v_min: -90.0,
            trace_lambda: 0.9,
            ..Default::default()
        };
        let idx: Vec<u32> = (0..n * fanout).map(|i| (i * 7919) % n).collect();
        let w_idx = be.alloc(idx.len()).unwrap();
        be.upload(w_idx, 0, &idx).unwrap();
        let bufs = lif_kwta::Bufs {
            j: zeroed(be, (batch * inputs) as usize),
            w_idx,
            w_val: zeroed(be, (n * fanout) as usize),
            theta: zeroed(be, n as usize),
            neuromod: zeroed(be, batch as usize * 12),
            ctrl: zeroed(be, batch as usize * 4),
            spk_prev: zeroed(be, spike_words(batch as usize, n as usize)),
            v: zeroed(be, (batch * n) as usize),
            a: zeroed(be, (batch * n) as usize),
            e: zeroed(be, (batch * n) as usize),
            spk_next: zeroed(be, spike_words(batch as usize, n as usize)),
            y: zeroed(be, (batch * outputs) as usize),
            counts: zeroed(be, batch as usize * 6),
            rec: zeroed(be, 1),
            lens: zeroed(be, batch as usize),
            wc: zeroed(be, 1),
            we: zeroed(be, 1),
            psi: zeroed(be, 1),
        };
        Op::new(p, bufs)
    });
    // The same module's event-driven input: one neuron in 20 spiked in each of the 4 sequences.
    let spiking = (n / 20 * fanout * 4) as u64; // outgoing synapses visited, about fanout each
    time_op(c, "propagate small/Wernicke b4 5% spiking", spiking * 12 + (n * 4) as u64, &|be| {
        let p = propagate::Params { batch, n, fanout, ..Default::default() };
        let idx: Vec<u32> = (0..n * fanout).map(|i| (i * 7919) % n).collect();
        let (start, syn) = neurogen::model::outgoing_synapses(&idx, n as usize);
        let spikes: Vec<u32> = (0..n).map(|j| if j % 20 == 0 { 0xf } else { 0 }).collect();
        let bufs = propagate::Bufs {
            spk_prev: zeroed(be, spikes.len()),
            out_start: zeroed(be, start.len()),
            out_syn: zeroed(be, syn.len()),
            w_val: zeroed(be, (n * fanout) as usize),
            rec: zeroed(be, batch as usize * rec_words(n as usize)),
        };
        for (buf, data) in [(bufs.spk_prev, &spikes), (bufs.out_start, &start), (bufs.out_syn, &syn)] {
            be.upload(buf, 0, data).unwrap();
        }
        Op::new(p, bufs)
    });
    let (vocab, width) = (32000u32, 1024u32); // fits lavapipe's 128 MiB binding limit
    time_op(c, "logits V32000 D1024 b4", (vocab * width * 4) as u64, &|be| {
        let p = logits::Params { batch, vocab, width, path: LOGITS_AUTO, ..Default::default() };
        let bufs = logits::Bufs {
            dec_w: zeroed(be, (vocab * width) as usize),
            dec_b: zeroed(be, vocab as usize),
            y: zeroed(be, (batch * width) as usize),
            logits: zeroed(be, (batch * vocab) as usize),
        };
        Op::new(p, bufs)
    });
    time_op(c, "sample V32000 top-k+top-p b4", (batch * vocab * 4) as u64, &|be| {
        let p = sample::Params {
            batch,
            vocab,
            tstride: 4,
            pos: 0,
            top_k: 40,
            top_p: 0.9,
            inv_temperature: 1.25,
            ..Default::default()
        };
        let bufs = sample::Bufs {
            logits: zeroed(be, (batch * vocab) as usize),
            lens: zeroed(be, batch as usize),
            tokens: zeroed(be, batch as usize * 4),
            ctrl: zeroed(be, batch as usize * 4),
        };
        Op::new(p, bufs)
    });
}

fn whole_call(c: &mut Criterion) {
    let mut g = c.benchmark_group("generate tiny 64 tokens b1");
    g.sample_size(10);
    g.throughput(Throughput::Elements(64));
    for (kind, be) in backends() {
        let mut eng = Engine::new(be, ModelConfig::preset(Preset::Tiny), 0).unwrap();
        let opts = GenerateOptions { max_new: 64, ..Default::default() };
        g.bench_function(BenchmarkId::from_parameter(format!("{kind:?}")), |bn| {
            bn.iter(|| {
                let out = eng.generate(&[vec![256]], &opts).unwrap();
                assert_eq!(out.stats.host_syncs, 1);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, ops, whole_call);
criterion_main!(benches);
