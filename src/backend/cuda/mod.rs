//! The NVIDIA backend: cudarc (driver API, loaded dynamically) and `kernels/*.cu` compiled once at
//! start-up with NVRTC.
//!
//! A call's parameter structs are copied in one transfer into a device arena, then its ops are
//! launched on one non-default stream, each kernel reading its parameters from the arena. So a
//! call's *shape* (kernels, buffers, grids) alone decides its launches: the first time a shape is
//! seen it runs directly, the second time it is captured into a CUDA graph, and from then on the
//! graph is replayed, whatever the parameter values (seeds, positions, sampling options). The
//! read-back is one set of async copies into pinned memory and one stream synchronisation:
//! exactly one host sync per call.

use std::collections::HashMap;
use std::ffi::c_void;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use cudarc::driver::{result, sys, CudaContext, CudaFunction, CudaGraph, CudaModule, CudaStream};
use cudarc::nvrtc::{compile_ptx_with_opts, CompileError, CompileOptions, Ptx};
use rayon::prelude::*;
use std::sync::Mutex;

use super::*;
use crate::error::NeuroError;

/// Calls whose exact op list repeats this often are replayed as graphs from then on.
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

/// Word alignment of each op's parameters in the arena (16 bytes).
const PARAM_ALIGN_WORDS: usize = 4;

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

/// Word offset of each op's parameters in the arena, and the words in all.
fn param_offsets(ops: &[Op]) -> (Vec<usize>, usize) {
    let mut at = 0;
    let offsets = ops
        .iter()
        .map(|op| {
            let o = at;
            at += op.params.len().next_multiple_of(PARAM_ALIGN_WORDS);
            o
        })
        .collect();
    (offsets, at)
}

struct Cached {
    shape: Shape,
    seen: u32,
    graph: Option<CudaGraph>,
    last_use: u64,
}

pub struct CudaBackend {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    _modules: Vec<Arc<CudaModule>>,
    funcs: HashMap<OpKind, CudaFunction>,
    bufs: Vec<Option<(sys::CUdeviceptr, usize)>>,
    recording: Option<Vec<Op>>,
    graphs: HashMap<u64, Cached>,
    staging: Option<Pinned>,
    /// The call's parameters: written on the host (pinned), copied into the device arena.
    params_host: Option<Pinned>,
    params_dev: Option<(sys::CUdeviceptr, usize)>,
    name: String,
    total_mem: u64,
    clock: u64,
    /// `NEUROGEN_PROFILE=1`: time every kernel with events (no graphs) and print a summary.
    profile: bool,
    stats: BackendStats,
}

impl CudaBackend {
    pub fn new() -> Result<CudaBackend> {
        if !unsafe { sys::is_culib_present() } {
            return Err(NeuroError::Unavailable(
                "no NVIDIA driver: the CUDA driver library (libcuda.so) could not be loaded; use --backend wgpu or --backend cpu".into(),
            ));
        }
        let count = CudaContext::device_count().map_err(|e| driver("cuInit / device count", e))?;
        let ordinal: usize = std::env::var("NEUROGEN_CUDA_DEVICE").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
        if count <= 0 {
            return Err(NeuroError::Unavailable("the NVIDIA driver is loaded but reports no CUDA device".into()));
        }
        if ordinal >= count as usize {
            return Err(NeuroError::Unavailable(format!(
                "NEUROGEN_CUDA_DEVICE={ordinal}, but only {count} CUDA device(s) exist"
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
            recording: None,
            graphs: HashMap::new(),
            staging: None,
            params_host: None,
            params_dev: None,
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

    /// Launches one op whose parameters are at word `offset` of the arena.
    fn launch(&self, op: &Op, offset: usize) -> Result<()> {
        let f = &self.funcs[&op.kind];
        let (arena, _) = self.params_dev.expect("the arena is written before launches");
        let mut params = arena + offset as u64 * 4;
        let mut ptrs: Vec<sys::CUdeviceptr> = op.bufs.iter().map(|&b| self.ptr(b)).collect();
        let mut args: Vec<*mut c_void> = Vec::with_capacity(1 + ptrs.len());
        args.push(&mut params as *mut sys::CUdeviceptr as *mut c_void);
        args.extend(ptrs.iter_mut().map(|p| p as *mut sys::CUdeviceptr as *mut c_void));
        let (x, y) = grid(op.groups);
        unsafe {
            result::launch_kernel(
                f.cu_function(),
                (x, y, 1),
                (COLUMN as u32, 1, 1),
                0,
                self.stream.cu_stream(),
                &mut args,
            )
        }
        .map_err(|e| driver(&format!("launching {}", op.kind.name()), e))
    }

    /// Copies every op's parameters into the device arena (one transfer, ordered on the stream
    /// before the launches) and returns their offsets. A grown arena invalidates the graphs,
    /// which hold its address.
    fn write_params(&mut self, ops: &[Op]) -> Result<Vec<usize>> {
        let (offsets, words) = param_offsets(ops);
        if self.params_dev.is_none_or(|(_, n)| n < words) {
            let n = words.next_power_of_two().max(1024);
            self.graphs.clear();
            if let Some((old, _)) = self.params_dev.take() {
                self.stream.synchronize().map_err(|e| driver("before growing the parameter arena", e))?;
                unsafe { result::free_sync(old) }.map_err(|e| driver("freeing the parameter arena", e))?;
            }
            let ptr = unsafe { result::malloc_sync(n * 4) }.map_err(|e| driver("allocating the parameter arena", e))?;
            self.params_dev = Some((ptr, n));
            self.params_host = Some(Pinned::new(n)?);
        }
        let host = self.params_host.as_ref().expect("made with the arena");
        let host = unsafe { std::slice::from_raw_parts_mut(host.ptr, host.len) };
        for (op, &o) in ops.iter().zip(&offsets) {
            host[o..o + op.params.len()].copy_from_slice(&op.params);
        }
        let (arena, _) = self.params_dev.expect("just made");
        unsafe { result::memcpy_htod_async(arena, &host[..words], self.stream.cu_stream()) }
            .map_err(|e| driver("copying the call's parameters", e))?;
        Ok(offsets)
    }

    /// Runs a call's ops: directly, by capturing them into a graph, or by replaying one.
    fn run_ops(&mut self, ops: Vec<Op>) -> Result<()> {
        let offsets = self.write_params(&ops)?;
        let shape = shape_of(&ops);
        let mut h = std::collections::hash_map::DefaultHasher::new();
        shape.hash(&mut h);
        let key = h.finish();
        self.clock += 1;
        let clock = self.clock;
        let entry = self.graphs.entry(key).or_insert_with(|| Cached {
            shape: Vec::new(),
            seen: 0,
            graph: None,
            last_use: clock,
        });
        if entry.shape != shape {
            *entry = Cached { shape, seen: 0, graph: None, last_use: clock };
        }
        entry.seen += 1;
        entry.last_use = clock;
        if let Some(g) = &entry.graph {
            self.stats.replayed_calls += 1;
            return g.launch().map_err(|e| driver("replaying the call graph", e));
        }
        let capture = entry.seen >= CAPTURE_AFTER;
        let launch_all = |be: &Self| ops.iter().zip(&offsets).try_for_each(|(op, &o)| be.launch(op, o));
        if !capture {
            return launch_all(self);
        }
        self.stream
            .begin_capture(sys::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
            .map_err(|e| driver("beginning graph capture", e))?;
        let launched = launch_all(self);
        let graph = self
            .stream
            .end_capture(sys::CUgraphInstantiate_flags(0))
            .map_err(|e| driver("instantiating the call graph", e));
        launched?;
        let graph = graph?.ok_or_else(|| err("graph capture recorded nothing"))?;
        graph.launch().map_err(|e| driver("launching the call graph", e))?;
        self.stats.captured_graphs += 1;
        if self.graphs.len() > MAX_GRAPHS {
            let oldest = self.graphs.iter().min_by_key(|(_, c)| c.last_use).map(|(k, _)| *k).expect("non-empty");
            self.graphs.remove(&oldest);
        }
        if let Some(c) = self.graphs.get_mut(&key) {
            c.graph = Some(graph);
        }
        Ok(())
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
        self.bufs.push(Some((ptr, words)));
        Ok(Buf(self.bufs.len() as u32 - 1))
    }

    fn free(&mut self, buf: Buf) {
        if let Some((ptr, _)) = self.bufs[buf.0 as usize].take() {
            self.graphs.retain(|_, c| !c.shape.iter().any(|(_, bufs, _, _)| bufs.contains(&buf)));
            let _ = self.bind();
            let _ = self.stream.synchronize();
            unsafe {
                let _ = result::free_sync(ptr);
            }
        }
    }

    fn len(&self, buf: Buf) -> usize {
        self.bufs[buf.0 as usize].expect("use of a freed buffer").1
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
            let offsets = self.write_params(&ops)?;
            for (op, &offset) in ops.iter().zip(&offsets) {
                let ev =
                    || self.ctx.new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT)).map_err(|e| driver("event", e));
                let (a, b) = (ev()?, ev()?);
                a.record(&self.stream).map_err(|e| driver("event", e))?;
                self.launch(op, offset)?;
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
        if let Some((ptr, _)) = self.params_dev.take() {
            unsafe {
                let _ = result::free_sync(ptr);
            }
        }
        for (ptr, _) in self.bufs.iter().flatten() {
            unsafe {
                let _ = result::free_sync(*ptr);
            }
        }
    }
}
