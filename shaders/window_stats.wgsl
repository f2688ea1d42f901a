// window_stats: after a module's tick, adds each neuron's spike and trace into window `window` of
// wc/we ([windows][batch][n]) for sequences whose position pos is predicted (pos + 1 < lens[b]).
struct Params { batch: u32, n: u32, window: u32, _p3: u32, pos: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(1) @binding(0) var<storage, read> spk: array<u32>;
@group(1) @binding(1) var<storage, read> e: array<f32>;
@group(1) @binding(2) var<storage, read> lens: array<u32>;
@group(1) @binding(3) var<storage, read_write> wc: array<f32>;
@group(1) @binding(4) var<storage, read_write> we: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let chunks = (p.n + 255u) / 256u;
    let b = g / chunks;
    let i = (g % chunks) * 256u + lid;
    if (b >= p.batch || i >= p.n || p.pos + 1u >= lens[b]) { return; }
    let o = (p.window * p.batch + b) * p.n + i;
    wc[o] += f32((spk[(b / 32u) * p.n + i] >> (b % 32u)) & 1u);
    we[o] += e[b * p.n + i];
}
