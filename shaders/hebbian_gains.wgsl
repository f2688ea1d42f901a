// hebbian_gains (SPEC §5.6): a thread per connection c, conn_meta[c] = [source module, target module,
// rate bits, 0]: g_next = clamp(g + rate * pre * post * (1 + mean rbar) * K, 0, 2), with pre/post the
// batch-averaged spike rates of the source and target modules during this call.
struct Params {
    n_conn: u32, batch: u32, ticks: u32, window_ticks: u32,
    n0: u32, n1: u32, n2: u32, n3: u32, n4: u32, n5: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(1) @binding(0) var<storage, read> conn_meta: array<u32>;
@group(1) @binding(1) var<storage, read> gains: array<f32>;
@group(1) @binding(2) var<storage, read> counts: array<u32>;
@group(1) @binding(3) var<storage, read> rbar: array<f32>;
@group(1) @binding(4) var<storage, read_write> gains_next: array<f32>;

fn rate(m: u32) -> f32 {
    let n = array<u32, 6>(p.n0, p.n1, p.n2, p.n3, p.n4, p.n5)[m];
    var s = 0.0;
    for (var b = 0u; b < p.batch; b++) { s += f32(counts[b * 6u + m]); }
    return s / (f32(n) * f32(p.ticks) * f32(p.batch));
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let c = lid;
    if (c >= p.n_conn) { return; }
    var rb = 0.0;
    for (var b = 0u; b < p.batch; b++) { rb += rbar[b]; }
    rb /= f32(p.batch);
    let pre = rate(conn_meta[c * 4u]);
    let post = rate(conn_meta[c * 4u + 1u]);
    let eta = bitcast<f32>(conn_meta[c * 4u + 2u]);
    gains_next[c] = clamp(gains[c] + eta * pre * post * (1.0 + rb) * f32(p.window_ticks), 0.0, 2.0);
}
