// go_nogo: basal-ganglia gate decided on the device (docs/model.md §3.5). One workgroup per sequence.
// ctrl[b] = [depth, go, done, unused].

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let b = wid.x + wid.y * nwg.x;
    if (b >= p.batch) { return; }
    var s = 0.0;
    for (var i = lid; i < p.outputs; i += COLUMN) { s += y_bg[b * p.outputs + i]; }
    let m = reduce_sum(lid, s) / f32(p.outputs);
    if (lid == 0u) {
        var depth = ctrl[b * CTRL_WORDS] + 1u;
        let go = m > 0.5 || depth >= p.max_depth;
        if (go) { depth = 0u; }
        ctrl[b * CTRL_WORDS] = depth;
        ctrl[b * CTRL_WORDS + 1u] = select(0u, 1u, go);
    }
}
