// grad_norm: one workgroup; scalars = [scale, norm] with scale = min(1, clip / norm).
struct Params { partials: u32, clip: f32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(1) @binding(0) var<storage, read> partials: array<f32>;
@group(1) @binding(1) var<storage, read_write> scalars: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    var s = 0.0;
    for (var i = lid; i < p.partials; i += 256u) { s += partials[i]; }
    let norm = sqrt(reduce_sum(lid, s));
    if (lid == 0u) {
        scalars[0] = select(1.0, p.clip / norm, norm > p.clip);
        scalars[1] = norm;
    }
}
