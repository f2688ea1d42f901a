// sgd_step: grad[i] <- param[i] - lr * scalars[0] * grad[i] (the gradient becomes the next value).
struct SgdParams { u32 len; float lr; u32 _p0, _p1; };

extern "C" __global__ void __launch_bounds__(256) sgd_step(const SgdParams p, const float* __restrict__ param,
        const float* __restrict__ scalars, float* grad) {
    const u32 i = block_id() * 256u + threadIdx.x;
    if (i < p.len) grad[i] = param[i] - p.lr * scalars[0] * grad[i];
}
