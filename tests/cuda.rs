//! CUDA-specific behaviour: graph replay, NVRTC diagnostics, device-memory errors. Skipped with a
//! note where no CUDA device exists (CI), required on the GPU machine (NEUROGEN_GPU=1).

mod common;

use common::*;
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
