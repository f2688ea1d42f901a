// loss_grad: one block per row r = t * batch + b of the logits. Overwrites the row with
// softmax - onehot(target) (zeros for padded rows); row_stats[r] = [nll, correct, valid, argmax].
KERNEL {
    __shared__ float red[COLUMN];
    __shared__ u32 rkey[COLUMN], rid[COLUMN];
    const u32 r = block_id(), lid = threadIdx.x;
    if (r >= p.rows) return;
    const u32 t = r / p.batch, b = r % p.batch;
    float* row = logits + (size_t)r * p.vocab;
    const u32 best = block_argmax(row, p.vocab, rkey, rid);
    const float mx = row[best];
    float s = 0.0f;
    for (u32 i = lid; i < p.vocab; i += COLUMN) s += expf(row[i] - mx);
    const float sum = block_sum(s, red);
    const bool valid = t + 1u < lens[b];
    const u32 tgt = valid ? tokens[b * p.tstride + t + 1u] : 0u;
    const float nll = valid ? mx + logf(sum) - row[tgt] : 0.0f;
    __syncthreads();
    for (u32 i = lid; i < p.vocab; i += COLUMN) {
        float prob = expf(row[i] - mx) / sum;
        row[i] = valid ? prob - (i == tgt ? 1.0f : 0.0f) : 0.0f;
    }
    if (lid == 0u) {
        u32* o = row_stats + (size_t)r * ROW_WORDS;
        o[0] = __float_as_uint(nll);
        o[1] = valid && best == tgt ? 1u : 0u;
        o[2] = valid ? 1u : 0u;
        o[3] = best;
    }
}
