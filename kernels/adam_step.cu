// adam_step: Adam with decoupled weight decay on the clipped gradient; the gradient buffer becomes
// the next parameter, the moments go to m_next / v_next (docs/model.md §6, step 4).
KERNEL {
    const u32 i = block_id() * COLUMN + threadIdx.x;
    if (i >= p.len) return;
    const float g = scalars[0] * grad[i];
    const float m1 = p.beta1 * m[i] + (1.0f - p.beta1) * g;
    const float v1 = p.beta2 * v[i] + (1.0f - p.beta2) * g * g;
    const float w = param[i];
    grad[i] = w - p.lr * (p.c1 * m1 / (sqrtf(p.c2 * v1) + p.eps) + p.weight_decay * w);
    m_next[i] = m1;
    v_next[i] = v1;
}
