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

use std::collections::HashMap;
use std::ffi::c_void;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

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
const SHAPES: LaunchShapes = LaunchShapes { lif_min_groups: 1024, lif_min_tile: 8, logits_gemm_min_groups: 256 };

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

/// PTX of every kernel for a compute capability, compiled once per process (in parallel).
fn compiled_kernels(major: i32, minor: i32) -> Result<Vec<String>> {
    static CACHE: Mutex<Option<((i32, i32), Vec<String>)>> = Mutex::new(None);
    let mut cache = CACHE.lock().expect("poisoned");
    if let Some((cc, ptx)) = cache.as_ref() {
        if *cc == (major, minor) {
            return Ok(ptx.clone());
        }
    }
    let arch: &'static str = Box::leak(format!("compute_{major}{minor}").into_boxed_str());
    let ptx: Vec<String> = OpKind::ALL
        .par_iter()
        .map(|&kind| compile_kernel(kind.name(), &codegen::cuda_source(kind), arch))
        .collect::<Result<_>>()?;
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

/// What decides a call's launches: per op its kernel, buffers, grid and parameter size.
type Shape = Vec<(OpKind, Vec<Buf>, u32, usize)>;

fn shape_of(ops: &[Op]) -> Shape {
    ops.iter().map(|op| (op.kind, op.bufs.clone(), op.groups, op.params.len())).collect()
}

/// The hash of a call's shape, without building it (calls repeat; shapes are built once).
fn shape_key(ops: &[Op]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for op in ops {
        (op.kind, &op.bufs, op.groups, op.params.len()).hash(&mut h);
    }
    h.finish()
}

fn same_shape(shape: &Shape, ops: &[Op]) -> bool {
    shape.len() == ops.len()
        && shape.iter().zip(ops).all(|((kind, bufs, groups, words), op)| {
            *kind == op.kind && *bufs == op.bufs && *groups == op.groups && *words == op.params.len()
        })
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

/// An instantiated call graph: one kernel node per op, each depending on the one before, and
/// the parameters each node holds now.
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
    bufs: Vec<Option<(sys::CUdeviceptr, usize)>>,
    footprint: Footprint,
    recording: Option<Vec<Op>>,
    graphs: HashMap<u64, Cached>,
    staging: Option<Pinned>,
    name: String,
    total_mem: u64,
    clock: u64,
    /// `NEUROGEN_PROFILE=1`: time every kernel with events (no graphs) and print a summary.
    profile: bool,
    stats: BackendStats,
}

impl CudaBackend {
    /// The CUDA device `NEUROGEN_CUDA_DEVICE` names (default 0).
    pub fn new() -> Result<CudaBackend> {
        let ordinal: usize = std::env::var("NEUROGEN_CUDA_DEVICE").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
        CudaBackend::on_device(ordinal)
    }

    /// CUDA device `ordinal`, numbered from 0 in the driver's order (after `CUDA_VISIBLE_DEVICES`).
    pub fn on_device(ordinal: usize) -> Result<CudaBackend> {
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
        let ptx = compiled_kernels(major, minor)?;
        let mut modules = Vec::new();
        let mut funcs = HashMap::new();
        for (kind, ptx) in OpKind::ALL.iter().zip(ptx) {
            let m = ctx
                .load_module(Ptx::from_src(ptx))
                .map_err(|e| driver(&format!("loading kernel {}", kind.name()), e))?;
            let f = m.load_function(kind.name()).map_err(|e| driver(&format!("finding kernel {}", kind.name()), e))?;
            funcs.insert(*kind, f);
            modules.push(m);
        }
        Ok(CudaBackend {
            ctx,
            stream,
            _modules: modules,
            funcs,
            bufs: Vec::new(),
            footprint: Footprint::default(),
            recording: None,
            graphs: HashMap::new(),
            staging: None,
            name,
            total_mem,
            clock: 0,
            profile: std::env::var("NEUROGEN_PROFILE").is_ok_and(|v| v == "1"),
            stats: BackendStats::default(),
        })
    }

    fn bind(&self) -> Result<()> {
        self.ctx.bind_to_thread().map_err(|e| driver("binding the context", e))
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
            func: self.funcs[&op.kind].cu_function(),
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
        let f = self.funcs[&op.kind].cu_function();
        unsafe { result::launch_kernel(f, (x, y, 1), (COLUMN as u32, 1, 1), 0, self.stream.cu_stream(), &mut list) }
            .map_err(|e| driver(&format!("launching {}", op.kind.name()), e))
    }

    /// Builds and instantiates the graph of a call: one kernel node per op, in order.
    fn build_graph(&self, ops: &[Op]) -> Result<Graph> {
        let mut graph: sys::CUgraph = std::ptr::null_mut();
        unsafe { sys::cuGraphCreate(&mut graph, 0) }.result().map_err(|e| driver("creating a graph", e))?;
        let mut g =
            Graph { graph, exec: std::ptr::null_mut(), nodes: Vec::with_capacity(ops.len()), params: Vec::new() };
        for op in ops {
            let mut args = self.args(op);
            let mut list = args.pointers();
            let np = self.node_params(op, &mut list);
            let mut node: sys::CUgraphNode = std::ptr::null_mut();
            let (deps, n) = match g.nodes.last() {
                Some(prev) => (prev as *const sys::CUgraphNode, 1),
                None => (std::ptr::null(), 0),
            };
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

    /// Gives every node whose op's parameters changed since its last launch the new ones.
    fn update_graph(&self, g: &mut Graph, ops: &[Op]) -> Result<u64> {
        let mut updated = 0;
        for (i, op) in ops.iter().enumerate() {
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

    /// Runs a call's ops: directly, by building a graph, or by replaying one.
    fn run_ops(&mut self, ops: Vec<Op>) -> Result<()> {
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
            ops.iter().try_for_each(|op| self.launch(op))
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
            device: self.name.clone(),
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
            self.graphs.retain(|_, c| !c.shape.iter().any(|(_, bufs, _, _)| bufs.contains(&buf)));
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
        let op = op.prepare(&SHAPES, |b| self.bufs.get(b.0 as usize).copied().flatten().map(|(_, n)| n))?;
        self.recording.as_mut().expect("checked").push(op);
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
            for op in &ops {
                let ev =
                    || self.ctx.new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT)).map_err(|e| driver("event", e));
                let (a, b) = (ev()?, ev()?);
                a.record(&self.stream).map_err(|e| driver("event", e))?;
                self.launch(op)?;
                b.record(&self.stream).map_err(|e| driver("event", e))?;
                timed.push((op.kind, a, b));
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
        if !timed.is_empty() {
            let mut per: HashMap<OpKind, (u32, f64)> = HashMap::new();
            for (kind, a, b) in &timed {
                let e = per.entry(*kind).or_default();
                e.0 += 1;
                e.1 += a.elapsed_ms(b).unwrap_or(0.0) as f64;
            }
            let mut rows: Vec<_> = per.into_iter().collect();
            rows.sort_by(|x, y| y.1 .1.total_cmp(&x.1 .1));
            let line: Vec<String> = rows.iter().map(|(k, (n, ms))| format!("{} {ms:.2} ms/{n}", k.name())).collect();
            eprintln!("profile: {}", line.join(", "));
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
}

impl Drop for CudaBackend {
    fn drop(&mut self) {
        let _ = self.bind();
        let _ = self.stream.synchronize();
        self.graphs.clear();
        for (ptr, _) in self.bufs.iter().flatten() {
            unsafe {
                let _ = result::free_sync(*ptr);
            }
        }
    }
}
