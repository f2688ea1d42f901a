// commit: dst[i] = src[i] for i < len, only when all n_flags health flags are clear (a step with a
// NaN or Inf anywhere applies none of its updates).
struct Params { len: u32, n_flags: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(1) @binding(0) var<storage, read> src: array<u32>;
@group(1) @binding(1) var<storage, read> flags: array<u32>;
@group(1) @binding(2) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * 256u + lid;
    if (i >= p.len) { return; }
    for (var k = 0u; k < p.n_flags; k++) { if (flags[k] != 0u) { return; } }
    dst[i] = src[i];
}
