//! CUDA-specific behaviour: graph replay, NVRTC diagnostics, device-memory errors. Skipped with a
//! note where no CUDA device exists (CI), required on the GPU machine (NEUROGEN_GPU=1).

mod common;

use common::*;
use neurogen::backend::{
    decoder_grad, decoder_grad_partials, learning_signal, logits, Buf, Op, LOGITS_GEMM, LOGITS_ROWS,
};
use neurogen::{create_backend, BackendKind, Engine, GenerateOptions, ModelConfig, NeuroError, Preset, SamplingRule};

fn cuda() -> Option<Box<dyn neurogen::Backend>> {
    match create_backend(BackendKind::Cuda) {
        Ok(be) => Some(be),
        Err(e) => {
            assert!(!gpu_required(), "CUDA unavailable with NEUROGEN_GPU=1: {e}");
            eprintln!("note: skipping CUDA tests: {e}");
            None
        }
    }
}

#[test]
fn repeated_calls_replay_a_graph_with_identical_results() {
    let Some(be) = cuda() else { return };
    let mut eng = Engine::new(be, ModelConfig::preset(Preset::Tiny), 3).unwrap();
    let prompts = vec![vec![256, 1, 2], vec![256, 7]];
    let opts = GenerateOptions { max_new: 20, ..Default::default() };
    let first = eng.generate(&prompts, &opts).unwrap().tokens;
    // Call 1 also clears fresh neuromodulator state, so calls 2–5 share one op list: call 2 runs
    // directly, call 3 is captured, calls 4 and 5 replay.
    for _ in 0..4 {
        let out = eng.generate(&prompts, &opts).unwrap();
        assert_eq!(out.tokens, first);
        assert_eq!(out.stats.host_syncs, 1);
    }
    let s = eng.backend().stats();
    assert!(s.replayed_calls >= 2, "calls 4 and 5 replay the captured graph: {s:?}");
    assert!(s.last_call_device_seconds.is_some_and(|t| t > 0.0));
    // A different shape is a different graph, and still right.
    let other = eng.generate(&prompts, &GenerateOptions { max_new: 5, ..opts }).unwrap().tokens;
    assert_eq!(other.iter().map(Vec::len).collect::<Vec<_>>(), vec![5, 5]);
}

/// A call's graph depends on its shape only: the graph built for one seed serves every seed and
/// sampling rule of the same shape (a replay updates just the `sample` nodes), and replays give
/// each seed its own, reproducible tokens.
#[test]
fn generate_with_other_seeds_and_rules_replays_one_graph() {
    let Some(be) = cuda() else { return };
    let mut eng = Engine::new(be, ModelConfig::preset(Preset::Tiny), 3).unwrap();
    let prompts = vec![vec![256, 1, 2], vec![256, 7]];
    let opts = |seed| GenerateOptions { max_new: 20, seed, ..Default::default() };
    eng.generate(&prompts, &opts(0)).unwrap(); // the call that also clears fresh state
    let s0 = eng.backend().stats();
    let a = eng.generate(&prompts, &opts(1)).unwrap().tokens; // runs directly
    let b = eng.generate(&prompts, &opts(2)).unwrap().tokens; // captured
    assert_ne!(a, b, "two seeds sampled the same 40 tokens");
    assert_eq!(eng.generate(&prompts, &opts(1)).unwrap().tokens, a, "seed 1 replayed");
    assert_eq!(eng.generate(&prompts, &opts(2)).unwrap().tokens, b, "seed 2 replayed");
    let rule = SamplingRule { greedy: false, temperature: 0.7, top_k: 5, top_p: 0.9 };
    let c = eng.generate(&prompts, &GenerateOptions { rule, ..opts(9) }).unwrap();
    assert!(c.tokens.iter().all(|t| !t.is_empty()));
    let s = eng.backend().stats();
    assert_eq!(s.captured_graphs - s0.captured_graphs, 1, "one graph for every seed and rule: {s:?}");
    assert_eq!(s.replayed_calls - s0.replayed_calls, 3, "{s:?}");
    // Each replay re-parameterised the sampling nodes only, not the whole call.
    let updated = s.graph_node_updates - s0.graph_node_updates;
    assert!(updated > 0 && updated <= 3 * 22, "{updated} nodes updated over 3 replays: {s:?}");
}

#[cfg(feature = "cuda")]
#[test]
fn nvrtc_errors_name_the_kernel_and_carry_the_log() {
    if cuda().is_none() {
        return;
    }
    let broken = "extern \"C\" __global__ void broken(unsigned int* x) { x[0] = undefined_name; }";
    let e = neurogen::backend::cuda::compile_kernel("broken", broken, "compute_90").unwrap_err().to_string();
    assert!(e.contains("kernel broken") && e.contains("undefined_name"), "{e}");
}

#[test]
fn a_batch_beyond_device_memory_is_refused_with_what_fits() {
    let Some(be) = cuda() else { return };
    let mut eng = Engine::new(be, ModelConfig::preset(Preset::Seed), 0).unwrap();
    let seqs = vec![vec![1, 2]; 8000]; // 8000 × 23 MB of state > 80 GB
    let before = eng.backend().stats();
    match eng.evaluate(&seqs) {
        Err(NeuroError::DoesNotFit(msg)) => assert!(msg.contains("would fit") && msg.contains("GiB"), "{msg}"),
        other => panic!("expected DoesNotFit, got {other:?}"),
    }
    assert_eq!(eng.backend().stats().calls, before.calls, "nothing was submitted");
    // The engine still works afterwards.
    let out = eng.generate(&[vec![256]], &GenerateOptions { max_new: 2, ..Default::default() }).unwrap();
    assert_eq!(out.tokens[0].len(), 2);
}

/// Runs `ops` (over buffers holding `data`) in `calls` calls and returns every buffer after each.
fn run_calls(be: &mut dyn neurogen::Backend, ops: &[Op], data: &[Vec<u32>], calls: usize) -> Vec<Vec<Vec<u32>>> {
    let bufs: Vec<Buf> = data.iter().map(|d| be.alloc(d.len()).unwrap()).collect();
    let mut outs = Vec::new();
    for _ in 0..calls {
        for (b, d) in bufs.iter().zip(data) {
            be.upload(*b, 0, d).unwrap();
        }
        be.begin().unwrap();
        for op in ops {
            let mut op = op.clone();
            op.bufs = op.bufs.iter().map(|b| bufs[b.0 as usize]).collect();
            be.enqueue(op).unwrap();
        }
        outs.push(be.submit(&bufs).unwrap());
        assert_eq!(be.stats().last_call_syncs, 1, "one host sync per call");
    }
    outs
}

/// The largest |got − want| over the largest |want| (a normwise error: TF32 rounds each input).
fn normwise_error(got: &[u32], want: &[u32]) -> f64 {
    let (g, w): (&[f32], &[f32]) = (bytemuck::cast_slice(got), bytemuck::cast_slice(want));
    assert!(g.iter().all(|x| x.is_finite()), "a non-finite output");
    let scale = w.iter().fold(0f64, |m, &x| m.max(x.abs() as f64)).max(1e-30);
    g.iter().zip(w).fold(0f64, |m, (&a, &b)| m.max((a as f64 - b as f64).abs())) / scale
}

/// The decoder's products on cuBLAS (`NEUROGEN_CUBLAS=f32|tf32`): `logits` on its GEMM path,
/// `decoder_grad` and `learning_signal` (a block of the weights' columns), in one call, run directly, captured into a graph and replayed, against the CPU
/// reference (odd sizes). The normwise error is printed; bounds: f32 1e-5, TF32 4e-3.
#[test]
fn cublas_products_match_the_cpu_reference() {
    use neurogen::backend::cuda::{CudaBackend, VendorGemm};
    use rand::{Rng, SeedableRng};
    let Some(_) = cuda() else { return };
    let (rows, vocab, width) = (300usize, 517usize, 1031usize);
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut uniform =
        |n: usize, lo: f32, hi: f32| -> Vec<u32> { (0..n).map(|_| r.random_range(lo..hi).to_bits()).collect() };
    let poison = |n: usize| vec![POISON; n];
    let dec_w = uniform(vocab * width, -0.5, 0.5);
    let dec_w_bf16 = neurogen::backend::to_bf16_words(bytemuck::cast_slice(&dec_w));
    let data = vec![
        dec_w,                                                                               // 0 dec_w
        uniform(vocab, -0.1, 0.1),                                                           // 1 dec_b
        uniform(rows * width, 0.0, 1.0),                                                     // 2 y
        poison(rows * vocab),                                                                // 3 logits
        uniform(rows * vocab, -1.0, 1.0),                                                    // 4 grads
        [0.0f32, 0.0, rows as f32, 1.0 / rows as f32].iter().map(|x| x.to_bits()).collect(), // 5 totals
        poison(vocab * width),                                                               // 6 g_w
        poison(vocab),                                                                       // 7 g_b
        poison(decoder_grad_partials(vocab, width)),                                         // 8 partials
        poison(rows * 301),   // 9 learning signal of 301 neurons from column 17
        poison(rows * vocab), // 10 logits asked on the row path (cuBLAS takes it: B > 8)
        dec_w_bf16,           // 11 dec_w as bf16
        poison(rows * vocab), // 12 logits from the bf16 weights
    ];
    let b = Buf;
    let (v, d, n) = (vocab as u32, width as u32, rows as u32);
    let ops = [
        Op::new(
            logits::Params { batch: n, vocab: v, width: d, path: LOGITS_GEMM, ..Default::default() },
            logits::Bufs { dec_w: b(0), dec_b: b(1), y: b(2), logits: b(3) },
        ),
        Op::new(
            decoder_grad::Params { rows: n, vocab: v, width: d, ..Default::default() },
            decoder_grad::Bufs { grads: b(4), y: b(2), totals: b(5), g_w: b(6), g_b: b(7), partials: b(8) },
        ),
        Op::new(
            logits::Params { batch: n, vocab: v, width: d, path: LOGITS_ROWS, ..Default::default() },
            logits::Bufs { dec_w: b(0), dec_b: b(1), y: b(2), logits: b(10) },
        ),
        Op::new(
            learning_signal::Params { rows: n, vocab: v, width: d, offset: 17, n: 301, ..Default::default() },
            learning_signal::Bufs { grads: b(4), dec_w: b(0), signal: b(9) },
        ),
        // At bf16 the readouts are rounded to bf16 too (one operand type for the tensor cores).
        Op::new(
            logits::Params { batch: n, vocab: v, width: d, path: LOGITS_GEMM, bf16: 1, ..Default::default() },
            logits::Bufs { dec_w: b(11), dec_b: b(1), y: b(2), logits: b(12) },
        ),
    ];
    let want = run_calls(&mut *cpu(), &ops, &data, 1).pop().unwrap();
    // Normwise error bounds: f32 SGEMM, TF32 (10-bit mantissa inputs), bf16 readouts (8-bit).
    let bf16_bound = 8e-3;
    for (mode, bound) in [(VendorGemm::F32, 1e-5), (VendorGemm::Tf32, 4e-3)] {
        let mut be = match CudaBackend::with_vendor_gemm(0, mode) {
            Ok(be) => be,
            Err(e) => {
                assert!(!gpu_required(), "cuBLAS ({mode:?}) unavailable with NEUROGEN_GPU=1: {e}");
                eprintln!("note: skipping cuBLAS {mode:?}: {e}");
                return;
            }
        };
        for (call, got) in run_calls(&mut be, &ops, &data, 3).iter().enumerate() {
            for (buf, name) in [
                (3, "logits"),
                (6, "g_w"),
                (7, "g_b"),
                (8, "partials"),
                (9, "learning signal"),
                (10, "logits, row path"),
                (12, "logits, bf16 weights and readouts"),
            ] {
                let bound = if buf == 12 { bf16_bound } else { bound };
                let e = normwise_error(&got[buf], &want[buf]);
                eprintln!("cuBLAS {mode:?} call {call} {name}: normwise error {e:.2e}");
                assert!(e <= bound, "cuBLAS {mode:?} call {call} {name}: error {e:.2e} over {bound:.0e}");
            }
        }
        let s = neurogen::Backend::stats(&be);
        assert!(s.captured_graphs >= 1 && s.replayed_calls >= 1, "direct, captured and replayed: {s:?}");
    }
}
