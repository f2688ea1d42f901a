// loss_accum: adds -log softmax(logits)[target] and the argmax hit of position pos+1 to
// acc[b] = [sum nll, correct, count, _] when pos+1 < lens[b]. One block per sequence.
KERNEL {
    __shared__ float red[COLUMN];
    __shared__ u32 rkey[COLUMN], rid[COLUMN];
    const u32 b = block_id(), lid = threadIdx.x;
    if (b >= p.batch) return;
    const float* row = logits + (size_t)b * p.vocab;
    const u32 best = block_argmax(row, p.vocab, rkey, rid);
    const float mx = row[best];
    float s = 0.0f;
    for (u32 i = lid; i < p.vocab; i += COLUMN) s += expf(row[i] - mx);
    const float lse = mx + logf(block_sum(s, red));
    const u32 next = p.pos + 1u;
    if (lid == 0u && next < lens[b]) {
        u32 tgt = tokens[b * p.tstride + next];
        acc[b * ACC_WORDS] += lse - row[tgt];
        acc[b * ACC_WORDS + 1u] += best == tgt ? 1.0f : 0.0f;
        acc[b * ACC_WORDS + 2u] += 1.0f;
    }
}
