// go_nogo: basal-ganglia gate decided on the device (SPEC §3.7). ctrl[b] = [depth, go, done, _].
struct GoNogoParams { u32 batch, outputs, max_depth, _p0; };

extern "C" __global__ void __launch_bounds__(256) go_nogo(const GoNogoParams p, const float* __restrict__ y_bg, u32* ctrl) {
    __shared__ float red[256];
    const u32 b = block_id(), lid = threadIdx.x;
    if (b >= p.batch) return;
    float s = 0.0f;
    for (u32 i = lid; i < p.outputs; i += 256u) s += y_bg[b * p.outputs + i];
    float m = block_sum(s, red) / (float)p.outputs;
    if (lid == 0u) {
        u32 depth = ctrl[b * 4u] + 1u;
        bool go = m > 0.5f || depth >= p.max_depth;
        if (go) depth = 0u;
        ctrl[b * 4u] = depth;
        ctrl[b * 4u + 1u] = go ? 1u : 0u;
    }
}
