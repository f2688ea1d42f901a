// health: sets flags[slot] when any of len words of data is NaN or +-Inf (exponent bits all ones).
struct Params { len: u32, slot: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(1) @binding(0) var<storage, read> data: array<u32>;
@group(1) @binding(1) var<storage, read_write> flags: array<atomic<u32>>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * 256u + lid;
    if (i < p.len && (data[i] & 0x7f800000u) == 0x7f800000u) { atomicOr(&flags[p.slot], 1u); }
}
