// project: sparse connection projection, one thread per (target input neuron, sequence):
// j[b, i] (+)= geff[b, conn] * sum_k P[i, k] * y_src[b, idx[i, k]].
struct Params { batch: u32, rows: u32, fanout: u32, o_src: u32, conn: u32, n_conn: u32, accumulate: u32, _p0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(1) @binding(0) var<storage, read> p_idx: array<u32>;
@group(1) @binding(1) var<storage, read> p_val: array<f32>;
@group(1) @binding(2) var<storage, read> y_src: array<f32>;
@group(1) @binding(3) var<storage, read> geff: array<f32>;
@group(1) @binding(4) var<storage, read_write> j: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let chunks = (p.rows + 255u) / 256u;
    let b = g / chunks;
    let i = (g % chunks) * 256u + lid;
    if (b >= p.batch || i >= p.rows) { return; }
    var s = 0.0;
    for (var k = 0u; k < p.fanout; k++) {
        let slot = k * p.rows + i; // slot-major: a warp reads contiguous words
        s += p_val[slot] * y_src[b * p.o_src + p_idx[slot]];
    }
    let v = geff[b * p.n_conn + p.conn] * s;
    let o = b * p.rows + i;
    if (p.accumulate != 0u) { j[o] = j[o] + v; } else { j[o] = v; }
}
