// pseudo_derivative: e-prop's surrogate d(spike)/dv of this tick into row row0 + b of psi
// ([rows][n]): 1 for a neuron that spiked, else max(0, 1 - |v - theta| * inv_width).

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let chunks = (p.n + COLUMN - 1u) / COLUMN;
    let b = g / chunks;
    let i = (g % chunks) * COLUMN + lid;
    if (b >= p.batch || i >= p.n) { return; }
    let spiked = ((spk[(b / SPIKE_TILE) * p.n + i] >> (b % SPIKE_TILE)) & 1u) == 1u;
    let near = max(0.0, 1.0 - abs(v[b * p.n + i] - theta[i]) * p.inv_width);
    psi[(p.row0 + b) * p.n + i] = select(near, 1.0, spiked);
}
