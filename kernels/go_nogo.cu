// go_nogo: basal-ganglia gate decided on the device (docs/model.md §3.5). ctrl[b] = [depth, go, done, _].
KERNEL {
    __shared__ float red[COLUMN];
    const u32 b = block_id(), lid = threadIdx.x;
    if (b >= p.batch) return;
    float s = 0.0f;
    for (u32 i = lid; i < p.outputs; i += COLUMN) s += y_bg[b * p.outputs + i];
    float m = block_sum(s, red) / (float)p.outputs;
    if (lid == 0u) {
        u32 depth = ctrl[b * CTRL_WORDS] + 1u;
        bool go = m > 0.5f || depth >= p.max_depth;
        if (go) depth = 0u;
        ctrl[b * CTRL_WORDS] = depth;
        ctrl[b * CTRL_WORDS + 1u] = go ? 1u : 0u;
    }
}
