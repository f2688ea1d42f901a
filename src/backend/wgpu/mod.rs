//! The portable GPU backend: WGSL compute shaders on wgpu (Vulkan, Metal, DX12, GL).
//!
//! Every pipeline is built once at start-up. A call is recorded as a list of dispatches; `submit`
//! writes all their parameter structs into one uniform buffer (bound with dynamic offsets),
//! encodes them into a single compute pass, appends one copy into one staging buffer, submits,
//! and maps that buffer: exactly one host synchronisation per call. A profiled call
//! ([`Backend::set_profiling`], where the adapter has timestamp queries) puts every dispatch in a
//! compute pass of its own with timestamps before and after it, and reads them back with the
//! call's outputs: still one synchronisation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::*;
use crate::error::NeuroError;

/// Bytes reserved for one op's parameter struct in the uniform buffer.
const PARAM_BINDING_BYTES: u64 = PARAM_BYTES as u64;

/// Launch shapes on GPUs, measured on an NVIDIA H100 80GB HBM3 through Vulkan (BENCHMARKS.md):
/// about 1024 `lif_kwta` workgroups fill it, tiles of fewer than 8 sequences lose to the
/// per-sequence path, and the `logits` GEMM needs about two workgroups per SM. Event-driven
/// propagation is not yet measured on a GPU through Vulkan: gathering, as before it existed.
const GPU_SHAPES: LaunchShapes =
    LaunchShapes { lif_min_groups: 1024, lif_min_tile: 8, logits_gemm_min_groups: 256, event_max_batch: 0 };

/// Launch shapes on a CPU adapter (lavapipe): a few workgroups per core keep every thread busy,
/// so tiles stay large and each weight is read once for more sequences; event-driven
/// propagation gains a few per cent up to 4 sequences and loses at 8. Measured with
/// `neurogen --backend wgpu bench` on the 2-core CI machine (BENCHMARKS.md).
const CPU_ADAPTER_SHAPES: LaunchShapes =
    LaunchShapes { lif_min_groups: 64, lif_min_tile: 8, logits_gemm_min_groups: 16, event_max_batch: 4 };

fn err(message: impl Into<String>) -> NeuroError {
    NeuroError::Backend { backend: "wgpu", message: message.into() }
}

struct Pipeline {
    pipeline: ::wgpu::ComputePipeline,
    layout: ::wgpu::BindGroupLayout,
}

struct Recorded {
    kind: OpKind,
    groups: u32,
    bind_group: Arc<::wgpu::BindGroup>,
    param_offset: u32,
}

pub struct WgpuBackend {
    device: ::wgpu::Device,
    queue: ::wgpu::Queue,
    adapter: ::wgpu::AdapterInfo,
    limits: ::wgpu::Limits,
    param_stride: u64,
    pipelines: HashMap<OpKind, Pipeline>,
    uniform_layout: ::wgpu::BindGroupLayout,
    /// The parameter buffer and its bind group, grown when a call needs more.
    uniform: Option<(::wgpu::Buffer, ::wgpu::BindGroup)>,
    staging: Option<::wgpu::Buffer>,
    bufs: Vec<Option<(::wgpu::Buffer, usize)>>,
    footprint: Footprint,
    bind_groups: HashMap<(OpKind, Vec<Buf>), Arc<::wgpu::BindGroup>>,
    /// Whether the device was opened with timestamp queries (profiling needs them).
    timestamps: bool,
    profiling: bool,
    last_profile: Option<Vec<KernelTime>>,
    recording: Option<(Vec<Recorded>, Vec<u8>)>,
    uncaptured: Arc<Mutex<Option<String>>>,
    shapes: LaunchShapes,
    stats: BackendStats,
}

/// Picks the adapter: `WGPU_ADAPTER_NAME` (substring) if set, else the best kind of device.
fn choose_adapter(
    instance: &::wgpu::Instance,
    backends: ::wgpu::Backends,
    hardware_only: bool,
) -> Result<::wgpu::Adapter> {
    let adapters = pollster::block_on(instance.enumerate_adapters(backends));
    if adapters.is_empty() {
        return Err(NeuroError::Unavailable(
            "wgpu found no GPU adapter. On Linux without a GPU install Mesa's software Vulkan driver \
             (`apt-get install mesa-vulkan-drivers`), or use --backend cpu"
                .into(),
        ));
    }
    let names: Vec<String> =
        adapters.iter().map(|a| format!("{} ({:?})", a.get_info().name, a.get_info().backend)).collect();
    if let Ok(want) = std::env::var("WGPU_ADAPTER_NAME") {
        let want = want.to_lowercase();
        return adapters.into_iter().find(|a| a.get_info().name.to_lowercase().contains(&want)).ok_or_else(|| {
            NeuroError::Unavailable(format!("WGPU_ADAPTER_NAME={want} matches none of: {}", names.join(", ")))
        });
    }
    let score = |a: &::wgpu::Adapter| {
        let i = a.get_info();
        let kind = match i.device_type {
            ::wgpu::DeviceType::DiscreteGpu => 4,
            ::wgpu::DeviceType::IntegratedGpu => 3,
            ::wgpu::DeviceType::VirtualGpu => 2,
            ::wgpu::DeviceType::Cpu => 1,
            ::wgpu::DeviceType::Other => 0,
        };
        // GL lacks the storage-buffer counts the fused ops need; prefer the modern APIs.
        let api = (i.backend != ::wgpu::Backend::Gl) as i32;
        api * 10 + kind
    };
    let best = adapters.into_iter().max_by_key(score).expect("non-empty");
    if hardware_only && best.get_info().device_type == ::wgpu::DeviceType::Cpu {
        return Err(NeuroError::Unavailable(format!(
            "the only adapter, {}, is a software rasteriser",
            best.get_info().name
        )));
    }
    Ok(best)
}

impl WgpuBackend {
    /// The best adapter, software rasterisers included.
    pub fn new() -> Result<WgpuBackend> {
        WgpuBackend::open(false)
    }

    /// The best adapter; with `hardware_only`, refuses a software rasteriser (lavapipe).
    pub fn open(hardware_only: bool) -> Result<WgpuBackend> {
        // Vulkan, Metal, DX12 by default (GL lacks what the fused ops need); WGPU_BACKEND overrides.
        let mut desc = ::wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = ::wgpu::Backends::PRIMARY;
        let desc = desc.with_env();
        let backends = desc.backends;
        let instance = ::wgpu::Instance::new(desc);
        let adapter = choose_adapter(&instance, backends, hardware_only)?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let needed = OpKind::ALL.iter().map(|k| k.bindings().len() as u32).max().unwrap_or(0);
        if limits.max_storage_buffers_per_shader_stage < needed {
            return Err(NeuroError::DoesNotFit(format!(
                "adapter {} allows {} storage buffers per shader stage; the fused ops need {needed}",
                info.name, limits.max_storage_buffers_per_shader_stage
            )));
        }
        // Timestamp queries cost nothing until a call is profiled; ask for them where they exist.
        let timestamps = adapter.features().contains(::wgpu::Features::TIMESTAMP_QUERY);
        let (device, queue) = pollster::block_on(adapter.request_device(&::wgpu::DeviceDescriptor {
            label: Some("neurogen"),
            required_features: if timestamps { ::wgpu::Features::TIMESTAMP_QUERY } else { ::wgpu::Features::empty() },
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| err(format!("could not open {}: {e}", info.name)))?;
        let uncaptured = Arc::new(Mutex::new(None));
        let sink = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: ::wgpu::Error| {
            log::error!("wgpu: {e}");
            sink.lock().expect("poisoned").get_or_insert_with(|| e.to_string());
        }));

        let uniform_layout = device.create_bind_group_layout(&::wgpu::BindGroupLayoutDescriptor {
            label: Some("params"),
            entries: &[::wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: ::wgpu::ShaderStages::COMPUTE,
                ty: ::wgpu::BindingType::Buffer {
                    ty: ::wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: true,
                    min_binding_size: ::wgpu::BufferSize::new(PARAM_BINDING_BYTES),
                },
                count: None,
            }],
        });
        let param_stride = (limits.min_uniform_buffer_offset_alignment as u64).max(PARAM_BINDING_BYTES);
        let shapes = if info.device_type == ::wgpu::DeviceType::Cpu { CPU_ADAPTER_SHAPES } else { GPU_SHAPES };
        let mut be = WgpuBackend {
            shapes,
            device,
            queue,
            adapter: info,
            limits,
            param_stride,
            pipelines: HashMap::new(),
            uniform_layout,
            uniform: None,
            staging: None,
            bufs: Vec::new(),
            footprint: Footprint::default(),
            bind_groups: HashMap::new(),
            recording: None,
            uncaptured,
            stats: BackendStats::default(),
            timestamps,
            profiling: false,
            last_profile: None,
        };
        for &kind in OpKind::ALL {
            let p = be.build_pipeline(kind)?;
            be.pipelines.insert(kind, p);
        }
        Ok(be)
    }

    fn build_pipeline(&self, kind: OpKind) -> Result<Pipeline> {
        let scope = self.device.push_error_scope(::wgpu::ErrorFilter::Validation);
        let module = self.device.create_shader_module(::wgpu::ShaderModuleDescriptor {
            label: Some(kind.name()),
            source: ::wgpu::ShaderSource::Wgsl(codegen::wgsl_source(kind).into()),
        });
        let entries: Vec<_> = kind
            .bindings()
            .iter()
            .enumerate()
            .map(|(i, b)| ::wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: ::wgpu::ShaderStages::COMPUTE,
                ty: ::wgpu::BindingType::Buffer {
                    ty: ::wgpu::BufferBindingType::Storage { read_only: b.access == Access::Read },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        let layout = self.device.create_bind_group_layout(&::wgpu::BindGroupLayoutDescriptor {
            label: Some(kind.name()),
            entries: &entries,
        });
        let pl = self.device.create_pipeline_layout(&::wgpu::PipelineLayoutDescriptor {
            label: Some(kind.name()),
            bind_group_layouts: &[Some(&self.uniform_layout), Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = self.device.create_compute_pipeline(&::wgpu::ComputePipelineDescriptor {
            label: Some(kind.name()),
            layout: Some(&pl),
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(err(format!("shader {}.wgsl failed to build: {e}", kind.name())));
        }
        Ok(Pipeline { pipeline, layout })
    }

    /// Query sets for timestamps around `dispatches` dispatches, and the buffer they resolve into.
    fn timestamp_sets(&self, dispatches: usize) -> (Vec<::wgpu::QuerySet>, ::wgpu::Buffer) {
        let queries = 2 * dispatches as u32;
        let per_set = ::wgpu::QUERY_SET_MAX_QUERIES;
        let sets = (0..queries.div_ceil(per_set))
            .map(|s| {
                self.device.create_query_set(&::wgpu::QuerySetDescriptor {
                    label: Some("profile"),
                    ty: ::wgpu::QueryType::Timestamp,
                    count: (queries - s * per_set).min(per_set),
                })
            })
            .collect();
        let resolve = self.device.create_buffer(&::wgpu::BufferDescriptor {
            label: Some("profile"),
            size: queries as u64 * 8,
            usage: ::wgpu::BufferUsages::QUERY_RESOLVE | ::wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        (sets, resolve)
    }

    fn raw(&self, b: Buf) -> &::wgpu::Buffer {
        &self.bufs[b.0 as usize].as_ref().expect("use of a freed buffer").0
    }

    fn take_uncaptured(&self) -> Result<()> {
        match self.uncaptured.lock().expect("poisoned").take() {
            Some(e) => Err(err(e)),
            None => Ok(()),
        }
    }

    /// Copies `reads` (then `extra`, a buffer of the backend's own) into one staging buffer after
    /// `enc`'s work, submits, waits once.
    fn finish(
        &mut self,
        mut enc: ::wgpu::CommandEncoder,
        reads: &[Buf],
        extra: Option<&::wgpu::Buffer>,
    ) -> Result<Vec<Vec<u32>>> {
        let mut sources: Vec<::wgpu::Buffer> = reads.iter().map(|&b| self.raw(b).clone()).collect();
        let mut sizes: Vec<u64> = reads.iter().map(|&b| self.len(b) as u64 * 4).collect();
        sources.extend(extra.cloned());
        sizes.extend(extra.map(|b| b.size()));
        let total: u64 = sizes.iter().sum::<u64>().max(4);
        if self.staging.as_ref().is_none_or(|s| s.size() < total) {
            self.staging = Some(self.device.create_buffer(&::wgpu::BufferDescriptor {
                label: Some("staging"),
                size: total.next_power_of_two(),
                usage: ::wgpu::BufferUsages::MAP_READ | ::wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
        }
        let staging = self.staging.as_ref().expect("just made");
        let mut off = 0;
        for (b, &size) in sources.iter().zip(&sizes) {
            enc.copy_buffer_to_buffer(b, 0, staging, off, size);
            off += size;
        }
        self.queue.submit([enc.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(::wgpu::MapMode::Read, 0..total, move |r| {
            let _ = tx.send(r);
        });
        self.device.poll(::wgpu::PollType::wait_indefinitely()).map_err(|e| err(format!("device poll failed: {e}")))?;
        self.stats.host_syncs += 1;
        rx.recv().map_err(|_| err("map callback never ran"))?.map_err(|e| err(format!("read-back failed: {e}")))?;
        let out = {
            let view = staging.get_mapped_range(0..total).map_err(|e| err(format!("mapping failed: {e}")))?;
            let words: &[u32] = bytemuck::cast_slice(&view);
            let mut at = 0;
            sizes
                .iter()
                .map(|&s| {
                    let n = (s / 4) as usize;
                    let v = words[at..at + n].to_vec();
                    at += n;
                    v
                })
                .collect()
        };
        staging.unmap();
        self.take_uncaptured()?;
        Ok(out)
    }

    fn bind_group(&mut self, op: &Op) -> Arc<::wgpu::BindGroup> {
        let key = (op.kind, op.bufs.clone());
        if let Some(bg) = self.bind_groups.get(&key) {
            return bg.clone();
        }
        let entries: Vec<_> = op
            .bufs
            .iter()
            .enumerate()
            .map(|(i, &b)| ::wgpu::BindGroupEntry { binding: i as u32, resource: self.raw(b).as_entire_binding() })
            .collect();
        let bg = Arc::new(self.device.create_bind_group(&::wgpu::BindGroupDescriptor {
            label: Some(op.kind.name()),
            layout: &self.pipelines[&op.kind].layout,
            entries: &entries,
        }));
        self.bind_groups.insert(key, bg.clone());
        bg
    }
}

impl Backend for WgpuBackend {
    fn info(&self) -> DeviceInfo {
        DeviceInfo {
            backend: "wgpu",
            device: format!("{} ({:?}, {:?})", self.adapter.name, self.adapter.backend, self.adapter.device_type),
            max_buffer_bytes: self.limits.max_buffer_size,
            max_binding_bytes: self.limits.max_storage_buffer_binding_size,
            memory_bytes: None,
            host_memory: false,
        }
    }

    fn alloc(&mut self, words: usize) -> Result<Buf> {
        let bytes = (words.max(1) * 4) as u64;
        let limit = self.limits.max_buffer_size.min(self.limits.max_storage_buffer_binding_size);
        if bytes > limit {
            return Err(NeuroError::DoesNotFit(format!(
                "a {bytes}-byte buffer exceeds the adapter's limit of {limit} bytes ({})",
                self.adapter.name
            )));
        }
        let scope = self.device.push_error_scope(::wgpu::ErrorFilter::OutOfMemory);
        let buf = self.device.create_buffer(&::wgpu::BufferDescriptor {
            label: None,
            size: bytes,
            usage: ::wgpu::BufferUsages::STORAGE | ::wgpu::BufferUsages::COPY_SRC | ::wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(NeuroError::DoesNotFit(format!("out of device memory allocating {bytes} bytes: {e}")));
        }
        self.footprint.alloc(words.max(1));
        self.bufs.push(Some((buf, words)));
        Ok(Buf(self.bufs.len() as u32 - 1))
    }

    fn free(&mut self, buf: Buf) {
        if let Some((b, words)) = self.bufs[buf.0 as usize].take() {
            self.footprint.free(words.max(1));
            b.destroy();
        }
        self.bind_groups.retain(|(_, bufs), _| !bufs.contains(&buf));
    }

    fn len(&self, buf: Buf) -> usize {
        self.bufs[buf.0 as usize].as_ref().expect("use of a freed buffer").1
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
        if !data.is_empty() {
            self.queue.write_buffer(self.raw(buf), offset as u64 * 4, bytemuck::cast_slice(data));
        }
        Ok(())
    }

    fn begin(&mut self) -> Result<()> {
        if self.recording.is_some() {
            return Err(NeuroError::Usage("begin while a call is already being recorded".into()));
        }
        self.recording = Some((Vec::new(), Vec::new()));
        Ok(())
    }

    fn enqueue(&mut self, op: Op) -> Result<()> {
        if self.recording.is_none() {
            return Err(NeuroError::Usage("enqueue outside begin/submit".into()));
        }
        let op = op.prepare(&self.shapes, |b| self.bufs.get(b.0 as usize).and_then(|d| d.as_ref()).map(|d| d.1))?;
        let bind_group = self.bind_group(&op);
        let stride = self.param_stride as usize;
        let (list, params) = self.recording.as_mut().expect("checked");
        let param_offset = params.len() as u32;
        params.extend_from_slice(bytemuck::cast_slice(&op.params));
        params.resize(params.len().next_multiple_of(stride), 0);
        list.push(Recorded { kind: op.kind, groups: op.groups, bind_group, param_offset });
        Ok(())
    }

    fn submit(&mut self, reads: &[Buf]) -> Result<Vec<Vec<u32>>> {
        let (list, params) = self.recording.take().ok_or_else(|| NeuroError::Usage("submit without begin".into()))?;
        let need = (params.len() as u64).max(self.param_stride);
        if self.uniform.as_ref().is_none_or(|(u, _)| u.size() < need) {
            let buf = self.device.create_buffer(&::wgpu::BufferDescriptor {
                label: Some("op params"),
                size: need.next_power_of_two(),
                usage: ::wgpu::BufferUsages::UNIFORM | ::wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let bg = self.device.create_bind_group(&::wgpu::BindGroupDescriptor {
                label: Some("op params"),
                layout: &self.uniform_layout,
                entries: &[::wgpu::BindGroupEntry {
                    binding: 0,
                    resource: ::wgpu::BindingResource::Buffer(::wgpu::BufferBinding {
                        buffer: &buf,
                        offset: 0,
                        size: ::wgpu::BufferSize::new(PARAM_BINDING_BYTES),
                    }),
                }],
            });
            self.uniform = Some((buf, bg));
        }
        let (ubuf, ubg) = self.uniform.as_ref().expect("just made");
        if !params.is_empty() {
            self.queue.write_buffer(ubuf, 0, &params);
        }
        let mut enc = self.device.create_command_encoder(&::wgpu::CommandEncoderDescriptor { label: Some("call") });
        let dispatch = |pass: &mut ::wgpu::ComputePass, r: &Recorded| {
            pass.set_pipeline(&self.pipelines[&r.kind].pipeline);
            pass.set_bind_group(0, ubg, &[r.param_offset]);
            pass.set_bind_group(1, &*r.bind_group, &[]);
            let (x, y) = grid(r.groups);
            pass.dispatch_workgroups(x, y, 1);
        };
        let timed = (self.profiling && !list.is_empty()).then(|| self.timestamp_sets(list.len()));
        match &timed {
            None => {
                let mut pass = enc
                    .begin_compute_pass(&::wgpu::ComputePassDescriptor { label: Some("call"), timestamp_writes: None });
                for r in &list {
                    dispatch(&mut pass, r);
                }
            }
            Some((sets, resolve)) => {
                for (i, r) in list.iter().enumerate() {
                    let (set, at) = timestamp_slot(sets, i);
                    let mut pass = enc.begin_compute_pass(&::wgpu::ComputePassDescriptor {
                        label: Some(r.kind.name()),
                        timestamp_writes: Some(::wgpu::ComputePassTimestampWrites {
                            query_set: set,
                            beginning_of_pass_write_index: Some(at),
                            end_of_pass_write_index: Some(at + 1),
                        }),
                    });
                    dispatch(&mut pass, r);
                }
                let per_set = ::wgpu::QUERY_SET_MAX_QUERIES as u64;
                for (s, set) in sets.iter().enumerate() {
                    let queries = (2 * list.len() as u64 - s as u64 * per_set).min(per_set) as u32;
                    enc.resolve_query_set(set, 0..queries, resolve, s as u64 * per_set * 8);
                }
            }
        }
        self.stats.calls += 1;
        self.stats.dispatches += list.len() as u64;
        self.stats.last_call_dispatches = list.len() as u64;
        let before = self.stats.host_syncs;
        let mut out = self.finish(enc, reads, timed.as_ref().map(|(_, resolve)| resolve))?;
        self.stats.last_call_syncs = self.stats.host_syncs - before;
        if timed.is_some() {
            let ticks = out.pop().expect("the timestamps were read back");
            let ns_per_tick = self.queue.get_timestamp_period() as f64;
            let ms = |i: usize| {
                let at = |q: usize| ticks[2 * q] as u64 | (ticks[2 * q + 1] as u64) << 32;
                at(2 * i + 1).saturating_sub(at(2 * i)) as f64 * ns_per_tick * 1e-6
            };
            self.last_profile = Some(kernel_times(list.iter().enumerate().map(|(i, r)| (r.kind.name(), ms(i)))));
        }
        Ok(out)
    }

    fn download(&mut self, buf: Buf) -> Result<Vec<u32>> {
        if self.recording.is_some() {
            return Err(NeuroError::Usage("download while a call is being recorded".into()));
        }
        let enc = self.device.create_command_encoder(&::wgpu::CommandEncoderDescriptor { label: Some("download") });
        Ok(self.finish(enc, &[buf], None)?.pop().expect("one read"))
    }

    fn stats(&self) -> BackendStats {
        self.stats
    }

    fn launch_shapes(&self) -> LaunchShapes {
        self.shapes
    }

    fn set_profiling(&mut self, on: bool) -> bool {
        self.profiling = on && self.timestamps;
        self.timestamps
    }

    fn last_profile(&self) -> Option<Vec<KernelTime>> {
        self.last_profile.clone()
    }
}

/// The query set and index of the timestamp before dispatch `i` (the one after it is next).
fn timestamp_slot(sets: &[::wgpu::QuerySet], i: usize) -> (&::wgpu::QuerySet, u32) {
    let q = 2 * i as u32;
    (&sets[(q / ::wgpu::QUERY_SET_MAX_QUERIES) as usize], q % ::wgpu::QUERY_SET_MAX_QUERIES)
}
