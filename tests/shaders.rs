//! Every shader parses and validates with naga, so a broken WGSL file fails CI with no adapter.

use neurogen::backend::OpKind;

#[test]
fn every_shader_validates_with_naga() {
    let mut failures = Vec::new();
    for kind in OpKind::ALL {
        let path = format!("{}/shaders/{}.wgsl", env!("CARGO_MANIFEST_DIR"), kind.name());
        let common = std::fs::read_to_string(format!("{}/shaders/common.wgsl", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let own = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // As the wgpu backend compiles it: the common prelude first.
        let src = format!("{common}\n{own}");
        let module = match naga::front::wgsl::parse_str(&src) {
            Ok(m) => m,
            Err(e) => {
                failures.push(e.emit_to_string_with_path(&src, &path));
                continue;
            }
        };
        let mut v =
            naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::default());
        if let Err(e) = v.validate(&module) {
            failures.push(e.emit_to_string_with_path(&src, &path));
            continue;
        }
        assert!(module.entry_points.iter().any(|e| e.name == "main"), "{path} has no `main` entry point");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_op_has_a_shader_and_a_kernel_file() {
    for kind in OpKind::ALL {
        for (dir, ext) in [("shaders", "wgsl"), ("kernels", "cu")] {
            let path = format!("{}/{dir}/{}.{ext}", env!("CARGO_MANIFEST_DIR"), kind.name());
            assert!(std::path::Path::new(&path).exists(), "missing {path}");
        }
    }
}
