//! Shared test helpers: the backends under test, poisoning, tolerant comparison, the CLI.
#![allow(dead_code)]

use neurogen::backend::cpu::CpuBackend;
use neurogen::backend::{Backend, Buf, Op};
use neurogen::{create_backend, BackendKind};

/// The poison written into pure outputs before a run: a NaN, so an unwritten element fails.
pub const POISON: u32 = 0x7fc0_dead;

/// `NEUROGEN_GPU=1` (set on the GPU machine) turns a missing GPU backend into a failure.
pub fn gpu_required() -> bool {
    std::env::var("NEUROGEN_GPU").is_ok_and(|v| v == "1")
}

/// Every GPU backend this build has and this machine can open. Missing ones are reported on
/// stderr (and fail the test when `NEUROGEN_GPU=1`). CUDA runs the op table's own kernels, the
/// subject of the parity tests; its cuBLAS products (the default) have their own test in tests/cuda.rs.
pub fn gpu_backends() -> Vec<(BackendKind, Box<dyn Backend>)> {
    let mut out = Vec::new();
    for kind in [BackendKind::Wgpu, BackendKind::Cuda] {
        match open_for_parity(kind) {
            Ok(be) => out.push((kind, be)),
            Err(e) => {
                assert!(!gpu_required(), "{kind:?} backend unavailable with NEUROGEN_GPU=1: {e}");
                eprintln!("note: skipping the {kind:?} backend: {e}");
            }
        }
    }
    out
}

fn open_for_parity(kind: BackendKind) -> neurogen::Result<Box<dyn Backend>> {
    #[cfg(feature = "cuda")]
    if kind == BackendKind::Cuda {
        use neurogen::backend::cuda::{CudaBackend, VendorGemm};
        return Ok(Box::new(CudaBackend::with_vendor_gemm(0, VendorGemm::Off)?));
    }
    create_backend(kind)
}

pub fn cpu() -> Box<dyn Backend> {
    Box::new(CpuBackend::new())
}

/// Uploads `data` into fresh buffers, runs `op` (whose bufs index into `data`) as one call and
/// returns every buffer's contents afterwards.
pub fn run_op(be: &mut dyn Backend, op: &Op, data: &[Vec<u32>]) -> Vec<Vec<u32>> {
    let bufs: Vec<Buf> = data
        .iter()
        .map(|d| {
            let b = be.alloc(d.len()).unwrap();
            be.upload(b, 0, d).unwrap();
            b
        })
        .collect();
    let mut op = op.clone();
    op.bufs = op.bufs.iter().map(|b| bufs[b.0 as usize]).collect();
    be.begin().unwrap();
    be.enqueue(op).unwrap();
    let out = be.submit(&bufs).unwrap();
    assert_eq!(be.stats().last_call_syncs, 1, "one host sync per call");
    for b in bufs {
        be.free(b);
    }
    out
}

/// `|got − want| ≤ atol + rtol·|want|` elementwise; NaN or Inf never passes.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut bad = Vec::new();
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = g.is_finite() && w.is_finite() && (g - w).abs() <= atol + rtol * w.abs();
        if !ok {
            bad.push(format!("[{i}] got {g} want {w}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{what}: {} of {} differ: {}",
        bad.len(),
        got.len(),
        bad.iter().take(8).cloned().collect::<Vec<_>>().join(", ")
    );
}

pub fn as_f32(x: &[u32]) -> &[f32] {
    bytemuck::cast_slice(x)
}

pub fn f32_words(x: &[f32]) -> Vec<u32> {
    bytemuck::cast_slice(x).to_vec()
}

/// The binary under test: cargo's build, or `NEUROGEN_BIN` where the test binary was copied to
/// another machine (the GPU machine runs staged binaries).
pub fn binary() -> String {
    std::env::var("NEUROGEN_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_neurogen").to_string())
}

/// Runs the CLI: (success, stdout, stderr).
pub fn neurogen(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(binary()).args(args).output().expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The first line of `stdout`, parsed as JSON.
pub fn json_line(stdout: &str) -> serde_json::Value {
    let line = stdout.lines().next().expect("one JSON line");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// A fresh, empty temporary directory for one test.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("neurogen-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
