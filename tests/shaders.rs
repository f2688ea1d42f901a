//! Every shader parses and validates with naga as the wgpu backend compiles it (generated
//! declarations + common prelude + body), so a broken WGSL file fails CI with no adapter; the
//! generated parameter structs have exactly the Rust layout; no shader or kernel declares by hand
//! what the op table generates. Where NVRTC is installed, every kernel compiles too.

use neurogen::backend::codegen::{cuda_source, wgsl_members, wgsl_source};
use neurogen::backend::{Access, OpKind, PARAM_BYTES};

fn parse(kind: OpKind) -> Result<naga::Module, String> {
    let src = wgsl_source(kind);
    let path = format!("shaders/{}.wgsl", kind.name());
    let module = naga::front::wgsl::parse_str(&src).map_err(|e| e.emit_to_string_with_path(&src, &path))?;
    let mut v = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::default());
    v.validate(&module).map_err(|e| e.emit_to_string_with_path(&src, &path))?;
    Ok(module)
}

#[test]
fn every_shader_validates_with_naga() {
    let mut failures = Vec::new();
    for &kind in OpKind::ALL {
        match parse(kind) {
            Ok(m) => assert!(m.entry_points.iter().any(|e| e.name == "main"), "{} has no `main`", kind.name()),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// naga's reflection of each generated `Params` against the Rust struct: every member at the
/// Rust offset, same scalar type, same size. (Catches WGSL layout rules the generator got wrong.)
#[test]
fn wgsl_parameter_structs_have_the_rust_layout() {
    for &kind in OpKind::ALL {
        let module = parse(kind).unwrap_or_else(|e| panic!("{e}"));
        let (_, ty) = module
            .types
            .iter()
            .find(|(_, t)| t.name.as_deref() == Some("Params"))
            .unwrap_or_else(|| panic!("{}: no Params struct", kind.name()));
        let naga::TypeInner::Struct { members, span } = &ty.inner else { panic!("Params is not a struct") };
        let bytes = kind.param_words() * 4;
        assert_eq!(*span as usize, bytes, "{}: WGSL Params is {span} bytes, Rust {bytes}", kind.name());
        assert!(bytes <= PARAM_BYTES && bytes % 16 == 0);
        let want = wgsl_members(kind);
        assert_eq!(members.len(), want.len(), "{}: member count", kind.name());
        for (m, (name, scalar, offset)) in members.iter().zip(&want) {
            assert_eq!(m.name.as_deref(), Some(name.as_str()), "{}", kind.name());
            assert_eq!(m.offset as usize, *offset, "{}: {name} offset", kind.name());
            let naga::TypeInner::Scalar(s) = module.types[m.ty].inner else { panic!("{name} is not a scalar") };
            let kind_ok = match scalar {
                neurogen::backend::Scalar::U32 => s.kind == naga::ScalarKind::Uint,
                neurogen::backend::Scalar::F32 => s.kind == naga::ScalarKind::Float,
            };
            assert!(kind_ok && s.width == 4, "{}: {name} has type {s:?}", kind.name());
        }
        // The bindings follow the declaration: group 1, in order, with its access.
        for (i, b) in kind.bindings().iter().enumerate() {
            let var = module
                .global_variables
                .iter()
                .map(|(_, v)| v)
                .find(|v| v.name.as_deref() == Some(b.name))
                .unwrap_or_else(|| panic!("{}: no binding {}", kind.name(), b.name));
            let rb = var.binding.as_ref().expect("bound");
            assert_eq!((rb.group, rb.binding), (1, i as u32), "{} {}", kind.name(), b.name);
            let writable = matches!(var.space, naga::AddressSpace::Storage { access } if access.contains(naga::StorageAccess::STORE));
            assert_eq!(writable, b.access == Access::ReadWrite, "{} {}", kind.name(), b.name);
        }
    }
}

#[test]
fn no_shader_or_kernel_declares_what_the_table_generates() {
    for &kind in OpKind::ALL {
        let wgsl = kind.wgsl_body();
        for banned in ["struct Params", "@group(", "@binding("] {
            assert!(!wgsl.contains(banned), "shaders/{}.wgsl declares `{banned}` by hand", kind.name());
        }
        let cu = kind.cuda_body();
        for banned in ["struct Params", "__global__", "Params p,"] {
            assert!(!cu.contains(banned), "kernels/{}.cu declares `{banned}` by hand", kind.name());
        }
        assert!(cu.contains("KERNEL"), "kernels/{}.cu does not use the generated KERNEL signature", kind.name());
        for (name, _) in neurogen::backend::codegen::shared_constants() {
            for src in [wgsl, cu] {
                let defines = [format!("const {name}:"), format!("#define {name} "), format!("constexpr u32 {name} =")];
                assert!(
                    !defines.iter().any(|d| src.contains(d.as_str())),
                    "{} redefines the shared constant {name}",
                    kind.name()
                );
            }
        }
    }
}

#[test]
fn every_op_has_a_shader_and_a_kernel_file() {
    for &kind in OpKind::ALL {
        for (dir, ext) in [("shaders", "wgsl"), ("kernels", "cu")] {
            let path = format!("{}/{dir}/{}.{ext}", env!("CARGO_MANIFEST_DIR"), kind.name());
            assert!(std::path::Path::new(&path).exists(), "missing {path}");
        }
    }
}

/// Whether NVRTC can be loaded; if not, says what is skipped (and fails on the GPU machine,
/// NEUROGEN_GPU=1, where it must be there).
#[cfg(feature = "cuda")]
fn nvrtc_present(skipped: &str) -> bool {
    let present = neurogen::backend::cuda::nvrtc_available();
    assert!(present || std::env::var("NEUROGEN_GPU").as_deref() != Ok("1"), "NVRTC missing with NEUROGEN_GPU=1");
    if !present {
        eprintln!("note: NVRTC (libnvrtc.so) not found; {skipped}");
    }
    present
}

/// Compiles every kernel with NVRTC where the library is installed (no GPU needed); skips with a
/// note elsewhere, and fails on the GPU machine (NEUROGEN_GPU=1) if NVRTC is missing. The
/// generated `static_assert`s hold each CUDA `Params` to the Rust size.
#[cfg(feature = "cuda")]
#[test]
fn every_kernel_compiles_with_nvrtc() {
    if !nvrtc_present("kernels not compiled") {
        return;
    }
    let mut failures = Vec::new();
    for &kind in OpKind::ALL {
        if let Err(e) = neurogen::backend::cuda::compile_kernel(kind.name(), &cuda_source(kind), "compute_90") {
            failures.push(e.to_string());
        }
    }
    for s in neurogen::backend::cuda::SPECIALIZATIONS {
        let src = neurogen::backend::cuda::specialized_source(s);
        if let Err(e) = neurogen::backend::cuda::compile_kernel(s.kind.name(), &src, "compute_90") {
            failures.push(format!("{} with {}: {e}", s.kind.name(), s.define));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Each CUDA specialization exists to hold fewer registers than its kernel (so that more blocks
/// fit on a multiprocessor); NVRTC's ptxas reports both without a GPU.
#[cfg(feature = "cuda")]
#[test]
fn cuda_specializations_use_fewer_registers() {
    use neurogen::backend::cuda::{kernel_resources, specialized_source, SPECIALIZATIONS};
    if !nvrtc_present("registers not counted") {
        return;
    }
    for s in SPECIALIZATIONS {
        let name = s.kind.name();
        let general = kernel_resources(name, &cuda_source(s.kind), "sm_90").unwrap();
        let special = kernel_resources(name, &specialized_source(s), "sm_90").unwrap();
        eprintln!("{name}: {general:?} → with {}: {special:?}", s.define);
        assert!(
            special.blocks_per_sm_90() > general.blocks_per_sm_90(),
            "{name} with {}: {special:?} fits no more blocks than {general:?}",
            s.define
        );
    }
}
