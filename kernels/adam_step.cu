// adam_step: Adam with decoupled weight decay on the clipped gradient, in place, in two passes
// (docs/model.md §6, step 4): apply == 0 flags a step whose new weight or moments would not be
// finite; apply == 1 writes them unless any health flag is set.
KERNEL {
    const u32 i = block_id() * COLUMN + threadIdx.x;
    if (i >= p.len) return;
    const float g = scalars[0] * grad[i];
    const float m1 = p.beta1 * m[i] + (1.0f - p.beta1) * g;
    const float v1 = p.beta2 * v[i] + (1.0f - p.beta2) * g * g;
    const float w = param[i];
    const float w1 = w - p.lr * (p.c1 * m1 / (sqrtf(p.c2 * v1) + p.eps) + p.weight_decay * w);
    if (p.apply == 0u) {
        if (!is_finite(w1) || !is_finite(m1) || !is_finite(v1)) atomicOr(&flags[p.slot], 1u);
        return;
    }
    for (u32 k = 0u; k < p.n_flags; k++)
        if (flags[k] != 0u) return;
    param[i] = w1;
    m[i] = m1;
    v[i] = v1;
}
