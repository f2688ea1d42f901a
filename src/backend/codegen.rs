//! The declarations every shader and kernel gets from the op table (`ops.rs`), written in WGSL
//! and CUDA C++ and prepended to the hand-written bodies when they are compiled: the shared
//! constants, the op's `Params` struct and its buffer bindings (WGSL) or kernel signature (CUDA).
//! No `.wgsl` or `.cu` file declares these itself.

use std::fmt::Write;

use super::ops::{Access, Elem, Scalar, PARAM_BYTES};
use super::OpKind;

/// Constants shared by the Rust side, every shader and every kernel.
pub fn shared_constants() -> Vec<(&'static str, u32)> {
    use super::*;
    vec![
        ("COLUMN", COLUMN as u32),
        ("MODULES", crate::config::NUM_MODULES as u32),
        ("SPIKE_TILE", SPIKE_TILE as u32),
        ("GEMM_TILE", GEMM_TILE as u32),
        ("GEMM_DEPTH", GEMM_DEPTH as u32),
        ("TRANSPOSE_TILE", TRANSPOSE_TILE as u32),
        ("EPROP_LANES", EPROP_LANES as u32),
        ("LOGITS_BATCH_TILE", LOGITS_BATCH_TILE as u32),
        ("LOGITS_ROWS", LOGITS_ROWS),
        ("LOGITS_GEMM", LOGITS_GEMM),
        ("CTRL_WORDS", CTRL_WORDS as u32),
        ("ROW_WORDS", ROW_WORDS as u32),
        ("ACC_WORDS", ACC_WORDS as u32),
        ("REC_SCALE", REC_SCALE),
        ("NONE", u32::MAX),
    ]
}

/// Helpers every shader shares (`shaders/common.wgsl`).
const COMMON_WGSL: &str = include_str!("../../shaders/common.wgsl");
/// Helpers every kernel shares (`kernels/common.cuh`).
const COMMON_CUH: &str = include_str!("../../kernels/common.cuh");

fn scalar_wgsl(s: Scalar) -> &'static str {
    match s {
        Scalar::U32 => "u32",
        Scalar::F32 => "f32",
    }
}

fn scalar_cuda(s: Scalar) -> &'static str {
    match s {
        Scalar::U32 => "u32",
        Scalar::F32 => "float",
    }
}

/// Names of the WGSL struct members a field becomes: arrays are unrolled (`s_da_0` …), since
/// uniform arrays need a 16-byte element stride.
pub fn wgsl_members(kind: OpKind) -> Vec<(String, Scalar, usize)> {
    let mut out = Vec::new();
    for f in kind.fields() {
        if f.len == 1 {
            out.push((f.name.to_string(), f.scalar, f.offset));
        } else {
            out.extend((0..f.len).map(|i| (format!("{}_{i}", f.name), f.scalar, f.offset + 4 * i)));
        }
    }
    let end = kind.param_words() * 4;
    for i in 0..kind.pad_words() {
        out.push((format!("_pad{i}"), Scalar::U32, end - 4 * (kind.pad_words() - i)));
    }
    out
}

/// The generated WGSL declarations of an op.
pub fn wgsl_prelude(kind: OpKind) -> String {
    let mut s = format!("// Generated from the op table (src/backend/ops.rs) for `{}`.\n", kind.name());
    for (name, value) in shared_constants() {
        let _ = writeln!(s, "const {name}: u32 = {value}u;");
    }
    s.push_str("\nstruct Params {\n");
    for (name, scalar, _) in wgsl_members(kind) {
        let _ = writeln!(s, "    {name}: {},", scalar_wgsl(scalar));
    }
    s.push_str("}\n\n@group(0) @binding(0) var<uniform> p: Params;\n");
    for (i, b) in kind.bindings().iter().enumerate() {
        let access = match b.access {
            Access::Read => "read",
            Access::ReadWrite => "read_write",
        };
        let elem = match b.elem {
            Elem::F32 => "f32",
            Elem::AtomicU32 => "atomic<u32>",
            Elem::U32 | Elem::Weights => "u32",
        };
        let _ = writeln!(s, "@group(1) @binding({i}) var<storage, {access}> {}: array<{elem}>;", b.name);
    }
    // Weights read as `<name>_at(i)`: a storage array cannot be passed to a function, so each
    // buffer gets its own reader.
    for b in kind.bindings().iter().filter(|b| b.elem == Elem::Weights) {
        let n = b.name;
        let _ = writeln!(
            s,
            "fn {n}_at(i: u32) -> f32 {{\n    if (p.bf16 == 0u) {{ return bitcast<f32>({n}[i]); }}\n    \
             let w = {n}[i >> 1u];\n    return bitcast<f32>(select(w << 16u, w & 0xffff0000u, (i & 1u) == 1u));\n}}"
        );
    }
    // Array fields read as `p_<name>(i)`.
    for f in kind.fields().iter().filter(|f| f.len > 1) {
        let ty = scalar_wgsl(f.scalar);
        let items: Vec<String> = (0..f.len).map(|i| format!("p.{}_{i}", f.name)).collect();
        let _ = writeln!(
            s,
            "fn p_{}(i: u32) -> {ty} {{ return array<{ty}, {}>({})[i]; }}",
            f.name,
            f.len,
            items.join(", ")
        );
    }
    s
}

/// The WGSL source of an op as compiled: generated declarations, `common.wgsl`, the body.
pub fn wgsl_source(kind: OpKind) -> String {
    format!("{}\n{COMMON_WGSL}\n{}", wgsl_prelude(kind), kind.wgsl_body())
}

/// The generated CUDA declarations of an op: constants, `struct Params` with its size asserted
/// against the Rust struct, and `KERNEL`, the kernel's signature: `p` by value, then the buffers
/// in binding order.
pub fn cuda_prelude(kind: OpKind) -> String {
    let mut s = format!("// Generated from the op table (src/backend/ops.rs) for `{}`.\n", kind.name());
    s.push_str("typedef unsigned int u32;\n");
    for (name, value) in shared_constants() {
        let _ = writeln!(s, "#define {name} {value}u");
    }
    s.push_str("\nstruct Params {\n");
    for f in kind.fields() {
        let ty = scalar_cuda(f.scalar);
        if f.len == 1 {
            let _ = writeln!(s, "    {ty} {};", f.name);
        } else {
            let _ = writeln!(s, "    {ty} {}[{}];", f.name, f.len);
        }
    }
    if kind.pad_words() > 0 {
        let _ = writeln!(s, "    u32 _pad[{}];", kind.pad_words());
    }
    s.push_str("};\n");
    let bytes = kind.param_words() * 4;
    // Every field is a 4-byte scalar or array of them, in the Rust order, so equal sizes mean
    // equal offsets (NVRTC has no `offsetof` for a field-by-field check).
    let _ = writeln!(s, "static_assert(sizeof(Params) == {bytes}, \"Params differs from the Rust struct\");");
    let _ = writeln!(s, "static_assert(sizeof(Params) <= {PARAM_BYTES}, \"Params over the parameter budget\");");
    let mut args = vec!["const Params p".to_string()];
    for b in kind.bindings() {
        let ty = match b.elem {
            Elem::F32 => "float",
            Elem::U32 | Elem::AtomicU32 | Elem::Weights => "u32",
        };
        args.push(match b.access {
            Access::Read => format!("const {ty}* __restrict__ {}", b.name),
            Access::ReadWrite => format!("{ty}* {}", b.name),
        });
        if b.elem == Elem::Weights {
            // Expands where `p` and the buffer are in scope (the kernel, or a helper taking both).
            let _ = writeln!(s, "#define {0}_at(i) weight_at({0}, (size_t)(i), p.bf16)", b.name);
        }
    }
    let _ = writeln!(
        s,
        "#define KERNEL extern \"C\" __global__ void __launch_bounds__(COLUMN) {}({})",
        kind.name(),
        args.join(", ")
    );
    s
}

/// The CUDA source of an op as compiled: generated declarations, `common.cuh`, the body (with a
/// `#line` so NVRTC's messages name the kernel file's own lines).
pub fn cuda_source(kind: OpKind) -> String {
    format!(
        "{}\n#line 1 \"kernels/common.cuh\"\n{COMMON_CUH}\n#line 1 \"kernels/{}.cu\"\n{}",
        cuda_prelude(kind),
        kind.name(),
        kind.cuda_body()
    )
}
