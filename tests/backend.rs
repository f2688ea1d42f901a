//! The backend contract every backend keeps: `enqueue` checks an op against its declaration
//! (buffer count, liveness, no aliasing of a written buffer) before anything is recorded, and the
//! same recording still submits afterwards with one host sync.

mod common;

use common::*;
use neurogen::backend::*;
use neurogen::NeuroError;

fn backends() -> Vec<(String, Box<dyn Backend>)> {
    let mut all = vec![("cpu".to_string(), cpu())];
    all.extend(gpu_backends().into_iter().map(|(k, be)| (format!("{k:?}"), be)));
    all
}

fn usage(r: neurogen::Result<()>) -> String {
    match r {
        Err(NeuroError::Usage(m)) => m,
        other => panic!("expected a usage error, got {other:?}"),
    }
}

#[test]
fn enqueue_checks_each_op_against_its_declaration() {
    for (name, mut be) in backends() {
        let (a, b, c) = (be.alloc(64).unwrap(), be.alloc(64).unwrap(), be.alloc(64).unwrap());
        let freed = be.alloc(8).unwrap();
        be.free(freed);
        be.begin().unwrap();

        let mut short = Op::copy(a, b, 64);
        short.bufs.pop();
        let m = usage(be.enqueue(short));
        assert!(m.contains("copy") && m.contains("1 buffers given, 2 declared (src, dst)"), "{name}: {m}");

        let m = usage(be.enqueue(Op::copy(a, a, 64)));
        assert!(m.contains("bound as both `src` and `dst`"), "{name}: {m}");

        let m = usage(be.enqueue(Op::fill(freed, 8, 0)));
        assert!(m.contains("`out`") && m.contains("not allocated"), "{name}: {m}");

        let mut bad_params = Op::fill(a, 64, 0);
        bad_params.params.pop();
        let m = usage(be.enqueue(bad_params));
        assert!(m.contains("parameter words"), "{name}: {m}");

        // Reading one buffer through two read-only bindings is fine.
        be.enqueue(Op::commit(a, a, 1, c, 64)).unwrap();

        // Nothing refused was recorded: the call runs the good ops with one sync.
        be.enqueue(Op::fill(a, 64, 1.0f32.to_bits())).unwrap();
        be.enqueue(Op::copy(a, b, 64)).unwrap();
        let out = be.submit(&[b]).unwrap();
        assert_eq!(out[0], vec![1.0f32.to_bits(); 64], "{name}");
        let s = be.stats();
        assert_eq!((s.last_call_syncs, s.last_call_dispatches), (1, 3), "{name}");
    }
}

#[test]
fn every_backend_reports_its_peak_of_buffers() {
    for (name, mut be) in backends() {
        let base = be.peak_bytes();
        let a = be.alloc(1000).unwrap();
        let b = be.alloc(3000).unwrap();
        assert_eq!(be.peak_bytes(), base + 16_000, "{name}");
        be.free(b);
        let c = be.alloc(500).unwrap();
        assert_eq!(be.peak_bytes(), base + 16_000, "{name}: a smaller buffer after a free keeps the peak");
        be.free(a);
        be.free(c);
        let d = be.alloc(5000).unwrap();
        assert_eq!(be.peak_bytes(), base + 20_000, "{name}");
        be.free(d);
    }
}
