// adam_step: Adam with decoupled weight decay on the clipped gradient; the gradient buffer becomes
// the next parameter, the moments go to m_next / v_next (docs/model.md §6, step 4).

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * COLUMN + lid;
    if (i < p.len) {
        let g = scalars[0] * grad[i];
        let m1 = p.beta1 * m[i] + (1.0 - p.beta1) * g;
        let v1 = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
        let w = param[i];
        grad[i] = w - p.lr * (p.c1 * m1 / (sqrt(p.c2 * v1) + p.eps) + p.weight_decay * w);
        m_next[i] = m1;
        v_next[i] = v1;
    }
}
