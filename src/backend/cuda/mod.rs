//! The NVIDIA backend: cudarc (driver API, loaded dynamically) and `kernels/*.cu` compiled once at
//! start-up with NVRTC.
//!
//! A call's ops are launched on one non-default stream, each kernel taking its parameter struct
//! by value (the launch carries it into the constant bank: no load on the kernel's critical
//! path). A call's *shape* (kernels, buffers, grids) decides its graph: the first time a shape is
//! seen the call runs directly, the second time it is built into a CUDA graph (one kernel node per
//! op, in order), and from then on that graph is replayed whatever the parameter values (seeds,
//! sampling options): a replay first gives the changed parameters to just the nodes they belong
//! to (`cuGraphExecKernelNodeSetParams`). Reading parameters from device memory instead cost
//! 7–16 % at `small`/`seed` B = 32 (BENCHMARKS.md). The read-back is one set of async copies into
//! pinned memory and one stream synchronisation: exactly one host sync per call.
//!
//! With `NEUROGEN_CUBLAS=tf32|f32` the decoder's large products (`logits` on its GEMM path,
//! `decoder_grad`, e-prop's `learning_signal`) run on cuBLAS instead of the hand-written tiles:
//! the backend expands those ops
//! into a cuBLAS SGEMM and a small kernel of the same op table (the bias broadcast by
//! `gather_rows`; `decoder_grad` with `product_given`), and a graph holds each SGEMM as a child
//! graph captured once. Off by default until measured on a GPU (BENCHMARKS.md).

use std::collections::HashMap;
use std::ffi::c_void;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use cudarc::cublas::sys as blas_sys;
use cudarc::driver::{result, sys, CudaContext, CudaFunction, CudaModule, CudaStream};
use cudarc::nvrtc::{compile_ptx_with_opts, CompileError, CompileOptions, Ptx};
use rayon::prelude::*;
use std::sync::Mutex;

use super::*;
use crate::error::NeuroError;

/// Calls whose shape repeats this often are replayed as graphs from then on.
const CAPTURE_AFTER: u32 = 2;
/// Graphs kept at once (the least recently used go first).
const MAX_GRAPHS: usize = 16;

fn err(message: impl Into<String>) -> NeuroError {
    NeuroError::Backend { backend: "cuda", message: message.into() }
}

fn driver(what: &str, e: result::DriverError) -> NeuroError {
    err(format!("{what}: {e}"))
}

/// Launch shapes measured on an NVIDIA H100 80GB HBM3 (BENCHMARKS.md): about 1024 `lif_kwta`
/// blocks fill its 132 SMs, tiles of fewer than 8 sequences lose to the per-sequence path, and
/// the `logits` GEMM needs about two blocks per SM (below that the row path is faster).
/// Event-driven propagation is not yet measured on a GPU: gathering, as before it existed.
const SHAPES: LaunchShapes =
    LaunchShapes { lif_min_groups: 1024, lif_min_tile: 8, logits_gemm_min_groups: 256, event_max_batch: 0 };

/// Whether NVRTC (libnvrtc.so) can be loaded; kernels compile without a device.
pub fn nvrtc_available() -> bool {
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// Compiles one kernel's full source (see [`codegen::cuda_source`]) to PTX; errors name the
/// kernel and carry NVRTC's log.
pub fn compile_kernel(name: &str, src: &str, arch: &'static str) -> Result<String> {
    let opts = CompileOptions { arch: Some(arch), name: Some(format!("{name}.cu")), ..Default::default() };
    compile_ptx_with_opts(src, opts).map(|p| p.to_src()).map_err(|e| match e {
        CompileError::CompileError { log, .. } => {
            err(format!("NVRTC failed to compile kernel {name} (kernels/{name}.cu):\n{}", log.to_string_lossy()))
        }
        other => err(format!("NVRTC failed on kernel {name}: {other}")),
    })
}

/// What one compiled kernel holds per thread and per block: what decides how many blocks fit on a
/// multiprocessor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelResources {
    pub registers: u32,
    /// Static shared memory per block, in bytes.
    pub shared_bytes: u32,
}

impl KernelResources {
    /// Resident blocks of `COLUMN` threads per multiprocessor of compute capability 9.0 (65,536
    /// registers allocated per warp in units of 256, 228 KB of shared memory, at most 2,048 threads).
    pub fn blocks_per_sm_90(&self) -> u32 {
        let per_warp = (self.registers * 32).div_ceil(256) * 256;
        let by_registers = 65_536 / (per_warp * (COLUMN as u32 / 32)).max(1);
        let by_shared = if self.shared_bytes == 0 { u32::MAX } else { 228 * 1024 / (self.shared_bytes + 1024) };
        by_registers.min(by_shared).min(2048 / COLUMN as u32)
    }
}

/// Compiles a kernel's source for a real architecture (`sm`, e.g. `sm_90`) with NVRTC's ptxas
/// and reads back its registers and shared memory (`--ptxas-options=-v`): no GPU needed.
pub fn kernel_resources(name: &str, src: &str, sm: &str) -> Result<KernelResources> {
    use cudarc::nvrtc::result as nvrtc;
    let fail = |e: cudarc::nvrtc::result::NvrtcError| err(format!("NVRTC on kernel {name}: {e:?}"));
    let src = std::ffi::CString::new(src).map_err(|_| err(format!("kernel {name}: a NUL in its source")))?;
    let prog = nvrtc::create_program(&src, None).map_err(fail)?;
    let opts = [format!("-arch={sm}"), "--ptxas-options=-v".to_string()];
    let compiled = unsafe { nvrtc::compile_program(prog, &opts) };
    let log = unsafe { nvrtc::get_program_log(prog) };
    unsafe {
        let _ = nvrtc::destroy_program(prog);
    }
    let log: Vec<u8> = log.map_err(fail)?.into_iter().map(|c| c as u8).take_while(|&c| c != 0).collect();
    let log = String::from_utf8_lossy(&log);
    compiled.map_err(|e| err(format!("NVRTC failed to compile kernel {name}: {e:?}\n{log}")))?;
    // "ptxas info : Used 76 registers, used 1 barriers, 2060 bytes smem"
    let number_before = |unit: &[&str]| {
        log.lines().filter(|l| l.contains("Used")).find_map(|l| {
            let words: Vec<&str> = l.split([' ', ',']).filter(|w| !w.is_empty()).collect();
            let n = unit.len();
            words.windows(n + 1).find(|w| w[1..] == *unit).and_then(|w| w[0].parse::<u32>().ok())
        })
    };
    let registers = number_before(&["registers"])
        .ok_or_else(|| err(format!("kernel {name}: no register count in NVRTC's log: {log}")))?;
    Ok(KernelResources { registers, shared_bytes: number_before(&["bytes", "smem"]).unwrap_or(0) })
}

/// A kernel compiled once more with a macro set to 1, for the launches whose parameters make one
/// of its paths the only one: the compiler drops the others and their registers, so more blocks
/// fit on a multiprocessor. Same results by construction (same body, a constant branch).
pub struct Specialization {
    pub kind: OpKind,
    pub define: &'static str,
    /// Whether a prepared op launches this variant.
    pub applies: fn(&Op) -> bool,
}

/// Kernels compiled again with a macro, for launches where one path of the body is the only one;
/// the first that applies is launched. Registers per thread on sm_90 (NVRTC `--ptxas-options=-v`,
/// `examples/kernel_registers`), against 80 for the general `lif_kwta` (3 resident blocks):
/// - `lif_kwta` reading `propagate`'s sums (`event = 1`, any sequences per block), without the
///   gathers and their per-sequence sums: 40, so 6 blocks;
/// - `lif_kwta` where every block steps one sequence (B = 1, or one sequence per group): 31, so 8.
pub const SPECIALIZATIONS: &[Specialization] = &[
    Specialization {
        kind: OpKind::LifKwta,
        define: "LIF_EVENT",
        applies: |op| op.params::<lif_kwta::Params>().event != 0,
    },
    Specialization {
        kind: OpKind::LifKwta,
        define: "LIF_ONE_SEQUENCE",
        applies: |op| {
            let p: lif_kwta::Params = op.params();
            p.seq_per_group == 1 || p.batch == 1
        },
    },
];

/// The source of a specialization: its macro, then the kernel's source.
pub fn specialized_source(s: &Specialization) -> String {
    format!("#define {} 1\n{}", s.define, codegen::cuda_source(s.kind))
}

/// PTX of every kernel for a compute capability, then of every specialization, compiled once per
/// process (in parallel).
fn compiled_kernels(major: i32, minor: i32) -> Result<Vec<String>> {
    static CACHE: Mutex<Option<((i32, i32), Vec<String>)>> = Mutex::new(None);
    let mut cache = CACHE.lock().expect("poisoned");
    if let Some((cc, ptx)) = cache.as_ref() {
        if *cc == (major, minor) {
            return Ok(ptx.clone());
        }
    }
    let arch: &'static str = Box::leak(format!("compute_{major}{minor}").into_boxed_str());
    let sources: Vec<(&str, String)> = OpKind::ALL
        .iter()
        .map(|&kind| (kind.name(), codegen::cuda_source(kind)))
        .chain(SPECIALIZATIONS.iter().map(|s| (s.kind.name(), specialized_source(s))))
        .collect();
    let ptx: Vec<String> =
        sources.par_iter().map(|(name, src)| compile_kernel(name, src, arch)).collect::<Result<_>>()?;
    *cache = Some(((major, minor), ptx.clone()));
    Ok(ptx)
}

/// Page-locked host memory for the one read-back of a call.
struct Pinned {
    ptr: *mut u32,
    len: usize,
}

// SAFETY: a `Pinned` owns its allocation alone (as a `Box` would) and is reached only through
// `&mut CudaBackend`, so moving it to another thread moves the only access. Pinned host memory is
// valid in every thread; it is freed with the backend's context bound (in `submit` or `Drop`).
unsafe impl Send for Pinned {}

impl Pinned {
    fn new(len: usize) -> Result<Pinned> {
        let ptr = unsafe { result::malloc_host(len.max(1) * 4, 0) }.map_err(|e| driver("pinned host allocation", e))?;
        Ok(Pinned { ptr: ptr as *mut u32, len })
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        unsafe {
            let _ = result::free_host(self.ptr as *mut c_void);
        }
    }
}

/// Which library computes the decoder's large products (`NEUROGEN_CUBLAS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VendorGemm {
    /// The default: TF32 where libcublas loads, else the op table's kernels (with a note).
    Auto,
    /// The op table's own kernels (the products the parity tests check against the CPU).
    Off,
    /// cuBLAS SGEMM in full f32.
    F32,
    /// cuBLAS SGEMM on TF32 tensor cores (10-bit mantissa inputs, f32 accumulation).
    Tf32,
}

impl VendorGemm {
    /// `NEUROGEN_CUBLAS`: unset or empty (auto); `0` or `off`; `f32`; `tf32`.
    pub fn from_env() -> Result<VendorGemm> {
        match std::env::var("NEUROGEN_CUBLAS").as_deref() {
            Err(_) | Ok("") => Ok(VendorGemm::Auto),
            Ok("0") | Ok("off") => Ok(VendorGemm::Off),
            Ok("f32") => Ok(VendorGemm::F32),
            Ok("tf32") => Ok(VendorGemm::Tf32),
            Ok(other) => Err(NeuroError::Usage(format!("NEUROGEN_CUBLAS={other}: expected off, f32 or tf32"))),
        }
    }
}

/// One cuBLAS product in its column-major terms: `C[m×n] = op(A)·op(B) + beta·C`, `beta` 0 or 1;
/// `A` and `B` f32 (SGEMM) or bf16 (tensor cores, f32 accumulation), `C` f32.
/// Every field is part of a call's shape, so a graph never needs to change one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Gemm {
    trans_a: bool,
    trans_b: bool,
    m: u32,
    n: u32,
    k: u32,
    a: Buf,
    /// Words into `a` where the matrix starts (a block of columns of a wider one).
    a_offset: u32,
    lda: u32,
    b: Buf,
    ldb: u32,
    c: Buf,
    ldc: u32,
    accumulate: bool,
    /// `A` and `B` hold bf16 values in the layout of [`Elem::Weights`] (a plain bf16 array).
    bf16: bool,
}

/// One launch of a call: a kernel of the op table, or a cuBLAS product.
#[derive(Clone, Debug)]
enum Step {
    Kernel(Op),
    Gemm(Gemm),
}

/// What decides a step's launch: a kernel's function, buffers, grid and parameter size, or the
/// whole product.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum StepShape {
    Kernel(OpKind, Vec<Buf>, u32, usize),
    Gemm(Gemm),
}

impl StepShape {
    fn of(step: &Step) -> StepShape {
        match step {
            Step::Kernel(op) => StepShape::Kernel(op.kind, op.bufs.clone(), op.groups, op.params.len()),
            Step::Gemm(g) => StepShape::Gemm(*g),
        }
    }

    fn uses(&self, buf: Buf) -> bool {
        match self {
            StepShape::Kernel(_, bufs, _, _) => bufs.contains(&buf),
            StepShape::Gemm(g) => [g.a, g.b, g.c].contains(&buf),
        }
    }
}

type Shape = Vec<StepShape>;

fn shape_of(steps: &[Step]) -> Shape {
    steps.iter().map(StepShape::of).collect()
}

/// The hash of a call's shape, without building it (calls repeat; shapes are built once).
fn shape_key(steps: &[Step]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for step in steps {
        match step {
            Step::Kernel(op) => (0u8, op.kind, &op.bufs, op.groups, op.params.len()).hash(&mut h),
            Step::Gemm(g) => (1u8, g).hash(&mut h),
        }
    }
    h.finish()
}

/// cuBLAS bytes of workspace: set by the backend so that capturing a product into a graph never
/// allocates.
const BLAS_WORKSPACE_BYTES: usize = 32 << 20;

/// A cuBLAS handle with its workspace and the stream products are captured on.
struct Blas {
    handle: blas_sys::cublasHandle_t,
    workspace: sys::CUdeviceptr,
    capture: Arc<CudaStream>,
    mode: VendorGemm,
}

// SAFETY: as for `Graph`: the handle and workspace are owned by this value alone, used only
// through `&mut CudaBackend`, which binds the context to the calling thread before any use.
unsafe impl Send for Blas {}

fn blas_err(what: &str, e: impl std::fmt::Debug) -> NeuroError {
    err(format!("cuBLAS {what}: {e:?}"))
}

impl Blas {
    fn new(ctx: &Arc<CudaContext>, stream: &Arc<CudaStream>, mode: VendorGemm) -> Result<Blas> {
        if !unsafe { blas_sys::is_culib_present() } {
            return Err(NeuroError::Unavailable(format!(
                "NEUROGEN_CUBLAS={mode:?} asks for cuBLAS, but libcublas could not be loaded (put the CUDA \
                 toolkit's lib64 on LD_LIBRARY_PATH, or set NEUROGEN_CUBLAS=off)"
            )));
        }
        ctx.bind_to_thread().map_err(|e| driver("binding the context", e))?;
        let handle = cudarc::cublas::result::create_handle().map_err(|e| blas_err("creating a handle", e))?;
        let workspace =
            unsafe { result::malloc_sync(BLAS_WORKSPACE_BYTES) }.map_err(|e| driver("cuBLAS workspace", e))?;
        let blas =
            Blas { handle, workspace, capture: ctx.new_stream().map_err(|e| driver("a capture stream", e))?, mode };
        let math = match mode {
            VendorGemm::Tf32 => blas_sys::cublasMath_t::CUBLAS_TF32_TENSOR_OP_MATH,
            _ => blas_sys::cublasMath_t::CUBLAS_DEFAULT_MATH,
        };
        unsafe {
            blas_sys::cublasSetStream_v2(handle, stream.cu_stream() as _)
                .result()
                .map_err(|e| blas_err("stream", e))?;
            blas_sys::cublasSetMathMode(handle, math).result().map_err(|e| blas_err("math mode", e))?;
            blas_sys::cublasSetWorkspace_v2(handle, workspace as *mut c_void, BLAS_WORKSPACE_BYTES)
                .result()
                .map_err(|e| blas_err("workspace", e))?;
        }
        Ok(blas)
    }
}

impl Drop for Blas {
    fn drop(&mut self) {
        unsafe {
            let _ = cudarc::cublas::result::destroy_handle(self.handle);
            let _ = result::free_sync(self.workspace);
        }
    }
}

fn same_shape(shape: &Shape, steps: &[Step]) -> bool {
    shape.len() == steps.len() && shape.iter().zip(steps).all(|(s, step)| *s == StepShape::of(step))
}

/// A kernel's arguments as the driver takes them: the parameter struct by value, then one
/// device pointer per buffer; `pointers` lists where each value lives.
struct KernelArgs {
    params: Vec<u32>,
    ptrs: Vec<sys::CUdeviceptr>,
}

impl KernelArgs {
    fn pointers(&mut self) -> Vec<*mut c_void> {
        let mut list = vec![self.params.as_mut_ptr() as *mut c_void];
        list.extend(self.ptrs.iter_mut().map(|p| p as *mut sys::CUdeviceptr as *mut c_void));
        list
    }
}

/// An instantiated call graph: one node per step (a kernel node, or a child graph holding a cuBLAS
/// product), each depending on the one before, and the parameters each kernel node holds now.
struct Graph {
    graph: sys::CUgraph,
    exec: sys::CUgraphExec,
    nodes: Vec<sys::CUgraphNode>,
    params: Vec<Vec<u32>>,
}

// SAFETY: the handles are the driver's, owned by this value alone and used only through
// `&mut CudaBackend`. The driver API may be called from any thread once the context is current
// there, and every `CudaBackend` method that reaches the driver (`alloc`, `free`, `upload`,
// `submit`, `download`, `Drop`) binds the context to the calling thread first, before a graph is
// launched, updated or destroyed.
unsafe impl Send for Graph {}

impl Drop for Graph {
    fn drop(&mut self) {
        unsafe {
            let _ = sys::cuGraphExecDestroy(self.exec);
            let _ = sys::cuGraphDestroy(self.graph);
        }
    }
}

struct Cached {
    shape: Shape,
    seen: u32,
    graph: Option<Graph>,
    last_use: u64,
}

pub struct CudaBackend {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    _modules: Vec<Arc<CudaModule>>,
    funcs: HashMap<OpKind, CudaFunction>,
    /// One function per entry of [`SPECIALIZATIONS`].
    specialized: Vec<CudaFunction>,
    bufs: Vec<Option<(sys::CUdeviceptr, usize)>>,
    footprint: Footprint,
    recording: Option<Vec<Step>>,
    /// cuBLAS for the decoder's products (`NEUROGEN_CUBLAS`), or none.
    blas: Option<Blas>,
    /// Buffers the expansion of an op into products needs (bf16 copies of activations), by size;
    /// kept for the backend's life so that graphs that name them stay valid.
    scratch: HashMap<usize, Buf>,
    graphs: HashMap<u64, Cached>,
    staging: Option<Pinned>,
    name: String,
    total_mem: u64,
    clock: u64,
    /// Time every kernel with events (no graphs): `NEUROGEN_PROFILE=1` (which also prints each
    /// call's summary) or [`Backend::set_profiling`].
    profile: bool,
    print_profile: bool,
    last_profile: Option<Vec<KernelTime>>,
    stats: BackendStats,
}

impl CudaBackend {
    /// The CUDA device `NEUROGEN_CUDA_DEVICE` names (default 0).
    pub fn new() -> Result<CudaBackend> {
        let ordinal: usize = std::env::var("NEUROGEN_CUDA_DEVICE").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
        CudaBackend::on_device(ordinal)
    }

    /// CUDA device `ordinal`, numbered from 0 in the driver's order (after `CUDA_VISIBLE_DEVICES`),
    /// with the decoder's products as `NEUROGEN_CUBLAS` says.
    pub fn on_device(ordinal: usize) -> Result<CudaBackend> {
        CudaBackend::with_vendor_gemm(ordinal, VendorGemm::from_env()?)
    }

    /// CUDA device `ordinal` with the decoder's products on `gemm`.
    pub fn with_vendor_gemm(ordinal: usize, gemm: VendorGemm) -> Result<CudaBackend> {
        if !unsafe { sys::is_culib_present() } {
            return Err(NeuroError::Unavailable(
                "no NVIDIA driver: the CUDA driver library (libcuda.so) could not be loaded; use --backend wgpu or --backend cpu".into(),
            ));
        }
        let count = CudaContext::device_count().map_err(|e| driver("cuInit / device count", e))?;
        if count <= 0 {
            return Err(NeuroError::Unavailable("the NVIDIA driver is loaded but reports no CUDA device".into()));
        }
        if ordinal >= count as usize {
            return Err(NeuroError::Unavailable(format!(
                "CUDA device {ordinal} does not exist: {count} CUDA device(s), numbered from 0"
            )));
        }
        let ctx = CudaContext::new(ordinal).map_err(|e| driver("creating the CUDA context", e))?;
        let stream = ctx.new_stream().map_err(|e| driver("creating a stream", e))?;
        let name = ctx.name().unwrap_or_else(|_| "CUDA device".into());
        let total_mem = ctx.total_mem().map_err(|e| driver("device memory", e))? as u64;
        let (major, minor) = ctx.compute_capability().map_err(|e| driver("compute capability", e))?;
        if !nvrtc_available() {
            return Err(NeuroError::Unavailable(
                "NVRTC (libnvrtc.so) is missing: install the CUDA toolkit's runtime compiler, or use --backend wgpu"
                    .into(),
            ));
        }
        let blas = match gemm {
            VendorGemm::Off => None,
            VendorGemm::Auto if !unsafe { blas_sys::is_culib_present() } => {
                eprintln!(
                    "note: libcublas could not be loaded; the decoder's products run on neurogen's own kernels \
                     (put the CUDA toolkit's lib64 on LD_LIBRARY_PATH for tensor cores; NEUROGEN_CUBLAS=off silences this)"
                );
                None
            }
            VendorGemm::Auto => Some(Blas::new(&ctx, &stream, VendorGemm::Tf32)?),
            mode => Some(Blas::new(&ctx, &stream, mode)?),
        };
        let ptx = compiled_kernels(major, minor)?;
        let mut modules = Vec::new();
        let mut functions = Vec::new();
        let kinds = OpKind::ALL.iter().chain(SPECIALIZATIONS.iter().map(|s| &s.kind));
        for (kind, ptx) in kinds.zip(ptx) {
            let m = ctx
                .load_module(Ptx::from_src(ptx))
                .map_err(|e| driver(&format!("loading kernel {}", kind.name()), e))?;
            let f = m.load_function(kind.name()).map_err(|e| driver(&format!("finding kernel {}", kind.name()), e))?;
            functions.push((*kind, f));
            modules.push(m);
        }
        let specialized = functions.split_off(OpKind::ALL.len()).into_iter().map(|(_, f)| f).collect();
        Ok(CudaBackend {
            ctx,
            stream,
            _modules: modules,
            funcs: functions.into_iter().collect(),
            specialized,
            bufs: Vec::new(),
            footprint: Footprint::default(),
            recording: None,
            blas,
            scratch: HashMap::new(),
            graphs: HashMap::new(),
            staging: None,
            name,
            total_mem,
            clock: 0,
            profile: std::env::var("NEUROGEN_PROFILE").is_ok_and(|v| v == "1"),
            print_profile: std::env::var("NEUROGEN_PROFILE").is_ok_and(|v| v == "1"),
            last_profile: None,
            stats: BackendStats::default(),
        })
    }

    fn bind(&self) -> Result<()> {
        self.ctx.bind_to_thread().map_err(|e| driver("binding the context", e))
    }

    /// The function an op launches: a specialization where one applies, else its kernel.
    fn function(&self, op: &Op) -> sys::CUfunction {
        SPECIALIZATIONS
            .iter()
            .zip(&self.specialized)
            .find(|(s, _)| s.kind == op.kind && (s.applies)(op))
            .map_or_else(|| self.funcs[&op.kind].cu_function(), |(_, f)| f.cu_function())
    }

    fn ptr(&self, b: Buf) -> sys::CUdeviceptr {
        self.bufs[b.0 as usize].expect("use of a freed buffer").0
    }

    fn args(&self, op: &Op) -> KernelArgs {
        KernelArgs { params: op.params.clone(), ptrs: op.bufs.iter().map(|&b| self.ptr(b)).collect() }
    }

    /// The kernel node an op becomes: its function, grid, block and arguments (which the driver
    /// copies when the node is added or set).
    fn node_params(&self, op: &Op, args: &mut [*mut c_void]) -> sys::CUDA_KERNEL_NODE_PARAMS {
        let (x, y) = grid(op.groups);
        sys::CUDA_KERNEL_NODE_PARAMS {
            func: self.function(op),
            gridDimX: x,
            gridDimY: y,
            gridDimZ: 1,
            blockDimX: COLUMN as u32,
            blockDimY: 1,
            blockDimZ: 1,
            sharedMemBytes: 0,
            kernelParams: args.as_mut_ptr(),
            extra: std::ptr::null_mut(),
            kern: std::ptr::null_mut(),
            ctx: std::ptr::null_mut(),
        }
    }

    fn launch(&self, op: &Op) -> Result<()> {
        let mut args = self.args(op);
        let mut list = args.pointers();
        let (x, y) = grid(op.groups);
        let f = self.function(op);
        unsafe { result::launch_kernel(f, (x, y, 1), (COLUMN as u32, 1, 1), 0, self.stream.cu_stream(), &mut list) }
            .map_err(|e| driver(&format!("launching {}", op.kind.name()), e))
    }

    /// Enqueues one cuBLAS product on `stream`.
    fn gemm(&self, g: &Gemm, stream: sys::CUstream) -> Result<()> {
        let blas = self.blas.as_ref().expect("a product step exists only with cuBLAS");
        let op = |t: bool| {
            if t {
                blas_sys::cublasOperation_t::CUBLAS_OP_T
            } else {
                blas_sys::cublasOperation_t::CUBLAS_OP_N
            }
        };
        let (alpha, beta) = (1.0f32, if g.accumulate { 1.0f32 } else { 0.0 });
        unsafe {
            blas_sys::cublasSetStream_v2(blas.handle, stream as _).result().map_err(|e| blas_err("stream", e))?;
            // Setting the stream resets the workspace to cuBLAS's own pool, whose allocations a
            // captured product would carry as memory nodes (which a child graph may not hold).
            blas_sys::cublasSetWorkspace_v2(blas.handle, blas.workspace as *mut c_void, BLAS_WORKSPACE_BYTES)
                .result()
                .map_err(|e| blas_err("workspace", e))?;
            let (a, b, c) = (self.ptr(g.a), self.ptr(g.b), self.ptr(g.c));
            let status = if g.bf16 {
                let bf16 = cudarc::cublas::sys::cudaDataType::CUDA_R_16BF;
                blas_sys::cublasGemmEx(
                    blas.handle,
                    op(g.trans_a),
                    op(g.trans_b),
                    g.m as i32,
                    g.n as i32,
                    g.k as i32,
                    &alpha as *const f32 as *const c_void,
                    (a + 2 * g.a_offset as u64) as *const c_void,
                    bf16,
                    g.lda as i32,
                    b as *const c_void,
                    bf16,
                    g.ldb as i32,
                    &beta as *const f32 as *const c_void,
                    c as *mut c_void,
                    cudarc::cublas::sys::cudaDataType::CUDA_R_32F,
                    g.ldc as i32,
                    blas_sys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
                    blas_sys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
                )
            } else {
                blas_sys::cublasSgemm_v2(
                    blas.handle,
                    op(g.trans_a),
                    op(g.trans_b),
                    g.m as i32,
                    g.n as i32,
                    g.k as i32,
                    &alpha,
                    (a + 4 * g.a_offset as u64) as *const f32,
                    g.lda as i32,
                    b as *const f32,
                    g.ldb as i32,
                    &beta,
                    c as *mut f32,
                    g.ldc as i32,
                )
            };
            let kind = if g.bf16 { "bf16 GEMM" } else { "SGEMM" };
            status.result().map_err(|e| blas_err(&format!("{kind} {}×{}×{} ({:?})", g.m, g.n, g.k, blas.mode), e))
        }
    }

    /// A graph node holding one cuBLAS product: captured on the side stream into a child graph.
    fn gemm_node(
        &self,
        g: &Gemm,
        graph: sys::CUgraph,
        deps: *const sys::CUgraphNode,
        n: usize,
    ) -> Result<sys::CUgraphNode> {
        let cs = self.blas.as_ref().expect("a product step exists only with cuBLAS").capture.cu_stream();
        let mode = sys::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_RELAXED;
        unsafe { sys::cuStreamBeginCapture_v2(cs, mode) }
            .result()
            .map_err(|e| driver("capturing a cuBLAS product", e))?;
        let enqueued = self.gemm(g, cs);
        let mut child: sys::CUgraph = std::ptr::null_mut();
        let ended = unsafe { sys::cuStreamEndCapture(cs, &mut child) }.result();
        enqueued?;
        ended.map_err(|e| driver("capturing a cuBLAS product", e))?;
        let mut node: sys::CUgraphNode = std::ptr::null_mut();
        let added = unsafe { sys::cuGraphAddChildGraphNode(&mut node, graph, deps, n, child) }.result();
        unsafe {
            let _ = sys::cuGraphDestroy(child); // the parent holds a copy
        }
        added.map_err(|e| driver("adding a cuBLAS product to the call graph", e))?;
        Ok(node)
    }

    /// Launches one step directly on the call's stream.
    fn launch_step(&self, step: &Step) -> Result<()> {
        match step {
            Step::Kernel(op) => self.launch(op),
            Step::Gemm(g) => self.gemm(g, self.stream.cu_stream()),
        }
    }

    /// A live buffer's length in words (none for a freed or unknown one).
    fn buf_len(&self, b: Buf) -> Option<usize> {
        self.bufs.get(b.0 as usize).copied().flatten().map(|(_, n)| n)
    }

    /// The scratch buffer of `words` words, allocated on first use.
    fn scratch(&mut self, words: usize) -> Result<Buf> {
        if let Some(&b) = self.scratch.get(&words) {
            return Ok(b);
        }
        let b = self.alloc(words)?;
        self.scratch.insert(words, b);
        Ok(b)
    }

    /// The steps an op becomes: itself, or with cuBLAS the decoder's products as an SGEMM and the
    /// op table's kernel for the rest (column-major views of the row-major buffers).
    fn expand(&mut self, op: Op) -> Result<Vec<Step>> {
        if self.blas.is_none() {
            return Ok(vec![Step::Kernel(op)]);
        }
        match op.kind {
            OpKind::Logits => {
                let p: logits::Params = op.params();
                // cuBLAS where the row path would read the decoder more than once (more sequences
                // than a row tile), or where the launch shapes chose the tiled GEMM. At bf16 the
                // weights are a bf16 array already; the readouts get a bf16 copy (a tensor-core
                // product takes both operands in one type).
                let rereads = p.batch as usize > LOGITS_BATCH_TILE;
                if !(p.path == LOGITS_GEMM || rereads) {
                    return Ok(vec![Step::Kernel(op)]);
                }
                let [dec_w, dec_b, y, out] = op.bufs[..] else { unreachable!("logits has four buffers") };
                let mut steps = Vec::new();
                let y = if p.bf16 != 0 {
                    let values = p.batch * p.width;
                    let copy = self.scratch(values.div_ceil(2) as usize)?;
                    let pack = Op::new(
                        pack_bf16::Params { len: values, ..Default::default() },
                        pack_bf16::Bufs { src: y, dst: copy },
                    );
                    steps.push(Step::Kernel(pack.prepare(&SHAPES, |b| self.buf_len(b))?));
                    copy
                } else {
                    y
                };
                // logits = bias broadcast, then += W_dec · y: (V × B) = (D × V)ᵀ · (D × B).
                let bias = gather_rows::Params {
                    batch: p.batch,
                    width: p.vocab,
                    src_stride: 0,
                    dst_stride: p.vocab,
                    scale: 1.0,
                    ..Default::default()
                };
                let bias =
                    Op::new(bias, gather_rows::Bufs { src: dec_b, dst: out }).prepare(&SHAPES, |b| self.buf_len(b))?;
                let (v, b, d) = (p.vocab, p.batch, p.width);
                let gemm = Gemm {
                    trans_a: true,
                    trans_b: false,
                    m: v,
                    n: b,
                    k: d,
                    a: dec_w,
                    a_offset: 0,
                    lda: d,
                    b: y,
                    ldb: d,
                    c: out,
                    ldc: v,
                    accumulate: true,
                    bf16: p.bf16 != 0,
                };
                steps.extend([Step::Kernel(bias), Step::Gemm(gemm)]);
                Ok(steps)
            }
            OpKind::DecoderGrad => {
                let mut p: decoder_grad::Params = op.params();
                if p.product_given != 0 {
                    return Ok(vec![Step::Kernel(op)]);
                }
                let [grads, y, ..] = op.bufs[..] else { unreachable!("decoder_grad has six buffers") };
                let g_w = op.bufs[3];
                // g_w = yᵀ-major product: (D × V) = (D × rows) · (V × rows)ᵀ, then the kernel scales it.
                let (r, v, d) = (p.rows, p.vocab, p.width);
                let gemm = Gemm {
                    trans_a: false,
                    trans_b: true,
                    m: d,
                    n: v,
                    k: r,
                    a: y,
                    a_offset: 0,
                    lda: d,
                    b: grads,
                    ldb: v,
                    c: g_w,
                    ldc: d,
                    accumulate: false,
                    bf16: false,
                };
                p.product_given = 1;
                let rest = Op { params: bytemuck::cast_slice(bytemuck::bytes_of(&p)).to_vec(), ..op };
                Ok(vec![Step::Gemm(gemm), Step::Kernel(rest)])
            }
            OpKind::LearningSignal => {
                let p: learning_signal::Params = op.params();
                let [grads, dec_w, signal] = op.bufs[..] else { unreachable!("learning_signal has three buffers") };
                // signal: (n × rows) = columns offset.. of the (width × V) weights · (V × rows).
                let gemm = Gemm {
                    trans_a: false,
                    trans_b: false,
                    m: p.n,
                    n: p.rows,
                    k: p.vocab,
                    a: dec_w,
                    a_offset: p.offset,
                    lda: p.width,
                    b: grads,
                    ldb: p.vocab,
                    c: signal,
                    ldc: p.n,
                    accumulate: false,
                    bf16: false,
                };
                Ok(vec![Step::Gemm(gemm)])
            }
            _ => Ok(vec![Step::Kernel(op)]),
        }
    }

    /// Builds and instantiates the graph of a call: one node per step, in order.
    fn build_graph(&self, steps: &[Step]) -> Result<Graph> {
        let mut graph: sys::CUgraph = std::ptr::null_mut();
        unsafe { sys::cuGraphCreate(&mut graph, 0) }.result().map_err(|e| driver("creating a graph", e))?;
        let mut g =
            Graph { graph, exec: std::ptr::null_mut(), nodes: Vec::with_capacity(steps.len()), params: Vec::new() };
        for step in steps {
            let (deps, n) = match g.nodes.last() {
                Some(prev) => (prev as *const sys::CUgraphNode, 1),
                None => (std::ptr::null(), 0),
            };
            let op = match step {
                Step::Kernel(op) => op,
                Step::Gemm(gemm) => {
                    let node = self.gemm_node(gemm, g.graph, deps, n)?;
                    g.nodes.push(node);
                    g.params.push(Vec::new());
                    continue;
                }
            };
            let mut args = self.args(op);
            let mut list = args.pointers();
            let np = self.node_params(op, &mut list);
            let mut node: sys::CUgraphNode = std::ptr::null_mut();
            unsafe { sys::cuGraphAddKernelNode_v2(&mut node, g.graph, deps, n, &np) }
                .result()
                .map_err(|e| driver(&format!("adding {} to the call graph", op.kind.name()), e))?;
            g.nodes.push(node);
            g.params.push(op.params.clone());
        }
        unsafe { sys::cuGraphInstantiateWithFlags(&mut g.exec, g.graph, 0) }
            .result()
            .map_err(|e| driver("instantiating the call graph", e))?;
        Ok(g)
    }

    /// Gives every kernel node whose op's parameters changed since its last launch the new ones
    /// (a product's every field is in the shape).
    fn update_graph(&self, g: &mut Graph, steps: &[Step]) -> Result<u64> {
        let mut updated = 0;
        for (i, step) in steps.iter().enumerate() {
            let Step::Kernel(op) = step else { continue };
            if g.params[i] != op.params {
                let mut args = self.args(op);
                let mut list = args.pointers();
                let np = self.node_params(op, &mut list);
                unsafe { sys::cuGraphExecKernelNodeSetParams_v2(g.exec, g.nodes[i], &np) }
                    .result()
                    .map_err(|e| driver(&format!("updating {} in the call graph", op.kind.name()), e))?;
                g.params[i].clone_from(&op.params);
                updated += 1;
            }
        }
        Ok(updated)
    }

    fn launch_graph(&self, g: &Graph) -> Result<()> {
        unsafe { sys::cuGraphLaunch(g.exec, self.stream.cu_stream()) }
            .result()
            .map_err(|e| driver("launching the call graph", e))
    }

    /// Runs a call's steps: directly, by building a graph, or by replaying one.
    fn run_ops(&mut self, ops: Vec<Step>) -> Result<()> {
        let key = shape_key(&ops);
        self.clock += 1;
        let mut entry = match self.graphs.remove(&key) {
            Some(c) if same_shape(&c.shape, &ops) => c,
            _ => Cached { shape: shape_of(&ops), seen: 0, graph: None, last_use: 0 },
        };
        entry.seen += 1;
        entry.last_use = self.clock;
        let result = if let Some(g) = entry.graph.as_mut() {
            let updated = self.update_graph(g, &ops);
            self.stats.replayed_calls += 1;
            updated.and_then(|n| {
                self.stats.graph_node_updates += n;
                self.launch_graph(g)
            })
        } else if entry.seen >= CAPTURE_AFTER {
            self.build_graph(&ops).and_then(|g| {
                self.stats.captured_graphs += 1;
                let launched = self.launch_graph(&g);
                entry.graph = Some(g);
                launched
            })
        } else {
            ops.iter().try_for_each(|step| self.launch_step(step))
        };
        if self.graphs.len() >= MAX_GRAPHS {
            let oldest = self.graphs.iter().min_by_key(|(_, c)| c.last_use).map(|(k, _)| *k).expect("non-empty");
            self.graphs.remove(&oldest);
        }
        self.graphs.insert(key, entry);
        result
    }

    /// Async copies of `reads` into pinned memory, then the call's one synchronisation.
    fn read_back(&mut self, reads: &[Buf]) -> Result<Vec<Vec<u32>>> {
        let lens: Vec<usize> = reads.iter().map(|&b| self.len(b)).collect();
        let total: usize = lens.iter().sum();
        if self.staging.as_ref().is_none_or(|s| s.len < total) {
            self.staging = Some(Pinned::new(total.next_power_of_two())?);
        }
        let staging = self.staging.as_ref().expect("just made");
        let host = unsafe { std::slice::from_raw_parts_mut(staging.ptr, staging.len) };
        let mut at = 0;
        for (&b, &n) in reads.iter().zip(&lens) {
            unsafe { result::memcpy_dtoh_async(&mut host[at..at + n], self.ptr(b), self.stream.cu_stream()) }
                .map_err(|e| driver("read-back copy", e))?;
            at += n;
        }
        self.stream.synchronize().map_err(|e| driver("running the call (device error)", e))?;
        self.stats.host_syncs += 1;
        let mut at = 0;
        Ok(lens
            .iter()
            .map(|&n| {
                let v = host[at..at + n].to_vec();
                at += n;
                v
            })
            .collect())
    }
}

impl Backend for CudaBackend {
    fn info(&self) -> DeviceInfo {
        DeviceInfo {
            backend: "cuda",
            // Which products run on cuBLAS shows wherever the device is named (bench rows, info).
            device: match &self.blas {
                Some(b) => {
                    format!("{} (cuBLAS {})", self.name, if b.mode == VendorGemm::Tf32 { "TF32" } else { "f32" })
                }
                None => self.name.clone(),
            },
            max_buffer_bytes: self.total_mem,
            // Kernels index words with 32-bit integers.
            max_binding_bytes: 4 * u32::MAX as u64,
            memory_bytes: Some(self.total_mem),
            host_memory: false,
        }
    }

    fn alloc(&mut self, words: usize) -> Result<Buf> {
        self.bind()?;
        let bytes = words.max(1) * 4;
        let ptr = unsafe { result::malloc_sync(bytes) }.map_err(|e| {
            let (free, total) = result::mem_get_info().unwrap_or((0, 0));
            NeuroError::DoesNotFit(format!(
                "out of device memory allocating {bytes} bytes ({free} of {total} bytes free): {e}"
            ))
        })?;
        // Poison: a NaN pattern, so anything read before it is written shows up.
        unsafe { sys::cuMemsetD32Async(ptr, 0x7fc0_dead, words.max(1), self.stream.cu_stream()) }
            .result()
            .map_err(|e| driver("poisoning a new buffer", e))?;
        self.footprint.alloc(words.max(1));
        self.bufs.push(Some((ptr, words)));
        Ok(Buf(self.bufs.len() as u32 - 1))
    }

    fn free(&mut self, buf: Buf) {
        if let Some((ptr, words)) = self.bufs[buf.0 as usize].take() {
            self.footprint.free(words.max(1));
            let _ = self.bind();
            let _ = self.stream.synchronize();
            self.graphs.retain(|_, c| !c.shape.iter().any(|s| s.uses(buf)));
            unsafe {
                let _ = result::free_sync(ptr);
            }
        }
    }

    fn len(&self, buf: Buf) -> usize {
        self.bufs[buf.0 as usize].expect("use of a freed buffer").1
    }

    fn peak_bytes(&self) -> u64 {
        self.footprint.peak_bytes()
    }

    fn upload(&mut self, buf: Buf, offset: usize, data: &[u32]) -> Result<()> {
        if self.recording.is_some() {
            return Err(NeuroError::Usage("upload while a call is being recorded".into()));
        }
        if offset + data.len() > self.len(buf) {
            return Err(NeuroError::Usage("upload past the end of a buffer".into()));
        }
        self.bind()?;
        let dst = self.ptr(buf) + offset as u64 * 4;
        unsafe { result::memcpy_htod_async(dst, data, self.stream.cu_stream()) }.map_err(|e| driver("upload", e))
    }

    fn begin(&mut self) -> Result<()> {
        if self.recording.is_some() {
            return Err(NeuroError::Usage("begin while a call is already being recorded".into()));
        }
        self.recording = Some(Vec::new());
        Ok(())
    }

    fn enqueue(&mut self, op: Op) -> Result<()> {
        if self.recording.is_none() {
            return Err(NeuroError::Usage("enqueue outside begin/submit".into()));
        }
        let op = op.prepare(&SHAPES, |b| self.buf_len(b))?;
        let steps = self.expand(op)?;
        self.recording.as_mut().expect("checked").extend(steps);
        Ok(())
    }

    fn submit(&mut self, reads: &[Buf]) -> Result<Vec<Vec<u32>>> {
        let ops = self.recording.take().ok_or_else(|| NeuroError::Usage("submit without begin".into()))?;
        self.bind()?;
        let n = ops.len() as u64;
        let start = self.ctx.new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT)).map_err(|e| driver("event", e))?;
        let end = self.ctx.new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT)).map_err(|e| driver("event", e))?;
        start.record(&self.stream).map_err(|e| driver("event", e))?;
        let mut timed = Vec::new();
        if self.profile {
            for step in &ops {
                let ev =
                    || self.ctx.new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT)).map_err(|e| driver("event", e));
                let (a, b) = (ev()?, ev()?);
                a.record(&self.stream).map_err(|e| driver("event", e))?;
                self.launch_step(step)?;
                b.record(&self.stream).map_err(|e| driver("event", e))?;
                let name = match step {
                    Step::Kernel(op) => op.kind.name(),
                    Step::Gemm(g) if g.bf16 => "cublas_gemm_bf16",
                    Step::Gemm(_) => "cublas_sgemm",
                };
                timed.push((name, a, b));
            }
        } else {
            self.run_ops(ops)?;
        }
        end.record(&self.stream).map_err(|e| driver("event", e))?;
        let before = self.stats.host_syncs;
        let out = self.read_back(reads)?;
        self.stats.calls += 1;
        self.stats.dispatches += n;
        self.stats.last_call_dispatches = n;
        self.stats.last_call_syncs = self.stats.host_syncs - before;
        self.stats.last_call_device_seconds = start.elapsed_ms(&end).ok().map(|ms| ms as f64 / 1e3);
        if self.profile {
            let rows = kernel_times(timed.iter().map(|(name, a, b)| (*name, a.elapsed_ms(b).unwrap_or(0.0) as f64)));
            if self.print_profile {
                let line: Vec<String> =
                    rows.iter().map(|k| format!("{} {:.2} ms/{}", k.name, k.ms, k.launches)).collect();
                eprintln!("profile: {}", line.join(", "));
            }
            self.last_profile = Some(rows);
        }
        Ok(out)
    }

    fn download(&mut self, buf: Buf) -> Result<Vec<u32>> {
        if self.recording.is_some() {
            return Err(NeuroError::Usage("download while a call is being recorded".into()));
        }
        self.bind()?;
        Ok(self.read_back(&[buf])?.pop().expect("one read"))
    }

    fn stats(&self) -> BackendStats {
        self.stats
    }

    fn launch_shapes(&self) -> LaunchShapes {
        SHAPES
    }

    fn set_profiling(&mut self, on: bool) -> bool {
        self.profile = on || self.print_profile;
        true
    }

    fn last_profile(&self) -> Option<Vec<KernelTime>> {
        self.last_profile.clone()
    }
}

impl Drop for CudaBackend {
    fn drop(&mut self) {
        let _ = self.bind();
        let _ = self.stream.synchronize();
        self.graphs.clear();
        self.blas = None;
        for (ptr, _) in self.bufs.iter().flatten() {
            unsafe {
                let _ = result::free_sync(*ptr);
            }
        }
    }
}
