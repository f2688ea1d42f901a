// hebbian_gains (docs/model.md §6, step 7): a thread per connection c, conn_meta[c] = [source module, target module,
// rate bits, 0]: g_next = clamp(g + rate * pre * post * (1 + mean rbar) * K, 0, 2), with pre/post the
// batch-averaged spike rates of the source and target modules during this call.

fn rate(m: u32) -> f32 {
    let n = p_neurons(m);
    var s = 0.0;
    for (var b = 0u; b < p.batch; b++) { s += f32(counts[b * MODULES + m]); }
    return s / (f32(n) * f32(p.ticks) * f32(p.batch));
}

@compute @workgroup_size(COLUMN)
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
