// adam_step: Adam with decoupled weight decay on the clipped gradient, in place, in two passes
// (docs/model.md §6, step 4): apply == 0 flags a step whose new weight or moments would not be
// finite; apply == 1 writes them unless any health flag is set.

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * COLUMN + lid;
    if (i >= p.len) { return; }
    let g = scalars[0] * grad[i];
    let m1 = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let v1 = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    let w = param[i];
    let w1 = w - p.lr * (p.c1 * m1 / (sqrt(p.c2 * v1) + p.eps) + p.weight_decay * w);
    if (p.apply == 0u) {
        if (!is_finite(w1) || !is_finite(m1) || !is_finite(v1)) { atomicOr(&flags[p.slot], 1u); }
        return;
    }
    for (var k = 0u; k < p.n_flags; k++) { if (atomicLoad(&flags[k]) != 0u) { return; } }
    param[i] = w1;
    m[i] = m1;
    v[i] = v1;
}
