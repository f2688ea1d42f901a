// loss_accum: adds -log softmax(logits)[target] and the argmax hit of position pos+1 to
// acc[b] = [sum nll, correct, count, _] when pos+1 < lens[b]. One block per sequence.
struct LossParams { u32 batch, vocab, tstride, pos; };

extern "C" __global__ void __launch_bounds__(256) loss_accum(const LossParams p, const float* __restrict__ logits,
        const u32* __restrict__ tokens, const u32* __restrict__ lens, float* acc) {
    __shared__ float red[256];
    __shared__ u32 rkey[256], rid[256];
    const u32 b = block_id(), lid = threadIdx.x;
    if (b >= p.batch) return;
    const float* row = logits + (size_t)b * p.vocab;
    const u32 best = block_argmax(row, p.vocab, rkey, rid);
    const float mx = row[best];
    float s = 0.0f;
    for (u32 i = lid; i < p.vocab; i += 256u) s += expf(row[i] - mx);
    const float lse = mx + logf(block_sum(s, red));
    const u32 next = p.pos + 1u;
    if (lid == 0u && next < lens[b]) {
        u32 tgt = tokens[b * p.tstride + next];
        acc[b * 4u] += lse - row[tgt];
        acc[b * 4u + 1u] += best == tgt ? 1.0f : 0.0f;
        acc[b * 4u + 2u] += 1.0f;
    }
}
