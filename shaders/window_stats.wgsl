// window_stats: after a module's tick, adds each neuron's spike and trace into window `window` of
// wc/we ([windows][batch][n]) for sequences whose position pos is predicted (pos + 1 < lens[b]).

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let chunks = (p.n + COLUMN - 1u) / COLUMN;
    let b = g / chunks;
    let i = (g % chunks) * COLUMN + lid;
    if (b >= p.batch || i >= p.n || p.pos + 1u >= lens[b]) { return; }
    let o = (p.window * p.batch + b) * p.n + i;
    wc[o] += f32((spk[(b / 32u) * p.n + i] >> (b % 32u)) & 1u);
    we[o] += e[b * p.n + i];
}
