// grad_norm: one block; scalars = [scale, norm] with scale = min(1, clip / norm).
struct GradNormParams { u32 partials; float clip; u32 _p0, _p1; };

extern "C" __global__ void __launch_bounds__(256) grad_norm(const GradNormParams p, const float* __restrict__ partials,
        float* scalars) {
    __shared__ float red[256];
    float s = 0.0f;
    for (u32 i = threadIdx.x; i < p.partials; i += 256u) s += partials[i];
    const float norm = sqrtf(block_sum(s, red));
    if (threadIdx.x == 0u) {
        scalars[0] = norm > p.clip ? p.clip / norm : 1.0f;
        scalars[1] = norm;
    }
}
