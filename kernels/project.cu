// project: sparse connection projection, one thread per (target input neuron, sequence):
// j[b, i] (+)= geff[b, conn] * sum_k P[i, k] * y_src[b, idx[i, k]] (slot-major P).
struct ProjectParams { u32 batch, rows, fanout, o_src, conn, n_conn, accumulate, _p0; };

extern "C" __global__ void __launch_bounds__(256) project(const ProjectParams p, const u32* __restrict__ p_idx,
        const float* __restrict__ p_val, const float* __restrict__ y_src, const float* __restrict__ geff, float* j) {
    const u32 g = block_id(), chunks = (p.rows + 255u) / 256u;
    const u32 b = g / chunks, i = (g % chunks) * 256u + threadIdx.x;
    if (b >= p.batch || i >= p.rows) return;
    float s = 0.0f;
    for (u32 k = 0u; k < p.fanout; k++) {
        u32 slot = k * p.rows + i;
        s += p_val[slot] * y_src[b * p.o_src + p_idx[slot]];
    }
    float v = geff[b * p.n_conn + p.conn] * s;
    u32 o = b * p.rows + i;
    j[o] = p.accumulate != 0u ? j[o] + v : v;
}
