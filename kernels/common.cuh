// Shared by every kernel (prepended by the CUDA backend before NVRTC compiles a kernel file).
// Blocks have COLUMN threads; grids are 2-D splits of a linear block count, as in the WGSL shaders.

__device__ __forceinline__ u32 block_id() { return blockIdx.x + blockIdx.y * gridDim.x; }

// Sum over the block (all COLUMN threads must call it).
__device__ float block_sum(float x, float* red) {
    const u32 lid = threadIdx.x;
    red[lid] = x;
    __syncthreads();
    for (u32 s = COLUMN / 2u; s > 0u; s >>= 1u) {
        if (lid < s) red[lid] += red[lid + s];
        __syncthreads();
    }
    float r = red[0];
    __syncthreads();
    return r;
}

// Float order as unsigned order (-0 just below +0).
__device__ __forceinline__ u32 okey(float x) {
    u32 b = __float_as_uint(x);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

// Index of the largest x[0..n), ties to the lower index (all threads must call it).
__device__ u32 block_argmax(const float* x, u32 n, u32* rkey, u32* rid) {
    const u32 lid = threadIdx.x;
    u32 bk = 0u, bi = NONE;
    for (u32 i = lid; i < n; i += COLUMN) {
        u32 k = okey(x[i]);
        if (bi == NONE || k > bk) { bk = k; bi = i; }
    }
    rkey[lid] = bk;
    rid[lid] = bi;
    __syncthreads();
    for (u32 s = COLUMN / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            u32 ok = rkey[lid + s], oi = rid[lid + s];
            if (oi != NONE && (rid[lid] == NONE || ok > rkey[lid] || (ok == rkey[lid] && oi < rid[lid]))) {
                rkey[lid] = ok;
                rid[lid] = oi;
            }
        }
        __syncthreads();
    }
    u32 r = rid[0];
    __syncthreads();
    return r;
}

// Value i of a weights buffer (ops.rs, Elem::Weights): f32 words, or with bf16 two values per
// word, even i in the low half. Kernels call it as <name>_at(i).
__device__ __forceinline__ float weight_at(const u32* __restrict__ w, size_t i, u32 bf16) {
    if (bf16 == 0u) return __uint_as_float(w[i]);
    const u32 word = w[i >> 1];
    return __uint_as_float((i & 1u) ? (word & 0xffff0000u) : (word << 16));
}

// Neither NaN nor +-Inf (exponent bits not all ones; as the CPU reference's is_finite).
__device__ __forceinline__ bool is_finite(float x) { return (__float_as_uint(x) & 0x7f800000u) != 0x7f800000u; }

// A recurrent weight in the recurrent input's fixed point (docs/model.md §3.4, as the CPU
// reference's rec_units): round(w * 2^16) to even, at most (2^31 - 1) / fanout in magnitude, so a
// neuron's sum of fanout of them cannot overflow and integer adds make it independent of order.
// `lim` is rec_limit(fanout), computed once per kernel.
__device__ __forceinline__ int rec_limit(u32 fanout) { return (int)(0x7fffffffu / max(fanout, 1u)); }
__device__ __forceinline__ int rec_units(float w, int lim) {
    return min(max(__float2int_rn(fminf(fmaxf(w * (float)REC_SCALE, -1073741824.0f), 1073741824.0f)), -lim), lim);
}

// A fixed-point recurrent sum in mV; NaN where a spiking synapse's weight was not finite.
__device__ __forceinline__ float rec_mv(int sum, bool bad) {
    return bad ? __int_as_float(0x7fc00000) : (float)sum * (1.0f / (float)REC_SCALE);
}
