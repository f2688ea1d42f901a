// sgd_step: grad[i] <- param[i] - lr * scalars[0] * grad[i] (the gradient becomes the next value).
struct Params { len: u32, lr: f32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(1) @binding(0) var<storage, read> param: array<f32>;
@group(1) @binding(1) var<storage, read> scalars: array<f32>;
@group(1) @binding(2) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * 256u + lid;
    if (i < p.len) { grad[i] = param[i] - p.lr * scalars[0] * grad[i]; }
}
