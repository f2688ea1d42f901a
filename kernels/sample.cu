// sample: chooses the token at position pos+1 of sequence b (docs/model.md §4); the same algorithm as
// shaders/sample.wgsl: argmax for greedy; otherwise top-k by a 4-pass radix select over the
// float keys (ties to the lower id), top-p by a binary search over the weight bits (ties by id),
// and the inverse CDF of one Philox4x32-10 uniform over the kept tokens in id order.
// Top-k selects 8 bits a pass: one histogram bin per thread (RADIX == COLUMN).
constexpr u32 RADIX = 256u;
static_assert(RADIX == COLUMN, "one histogram bin per thread");
struct Shared {
    float red[COLUMN];
    float scan[COLUMN];
    u32 rkey[COLUMN];
    u32 rid[COLUMN];
    u32 hist[RADIX];
    u32 found;
    u32 last_kept;
};

__device__ uint4 philox(uint4 c, uint2 k) {
    for (u32 r = 0u; r < 10u; r++) {
        if (r > 0u) { k.x += 0x9E3779B9u; k.y += 0xBB67AE85u; }
        u32 hi0 = __umulhi(0xD2511F53u, c.x), lo0 = 0xD2511F53u * c.x;
        u32 hi1 = __umulhi(0xCD9E8D57u, c.z), lo1 = 0xCD9E8D57u * c.z;
        c = make_uint4(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}

// Inclusive prefix sum over the block; also leaves the block total in sh.scan[COLUMN - 1u].
__device__ float scan_incl(float x, Shared& sh) {
    const u32 lid = threadIdx.x;
    sh.scan[lid] = x;
    __syncthreads();
    for (u32 s = 1u; s < COLUMN; s <<= 1u) {
        float t = sh.scan[lid];
        if (lid >= s) t += sh.scan[lid - s];
        __syncthreads();
        sh.scan[lid] = t;
        __syncthreads();
    }
    return sh.scan[lid];
}

__device__ __forceinline__ bool topk_kept(u32 key, u32 i, u32 tk, u32 ck) { return key > tk || (key == tk && i <= ck); }

struct Row {
    const float* x;
    float inv_t, mx;
    u32 n;
    __device__ float scaled(u32 i) const { return x[i] * inv_t; }
    __device__ float weight(u32 i) const { return expf(scaled(i) - mx); }
};

// The n-th (1-based) id in id order whose flag holds: kind 0 flags key == key0; kind 1 flags
// top-k-kept ids whose weight bits equal key0. NONE if there are fewer.
__device__ u32 nth_flagged(const Row& row, u32 n, u32 kind, u32 key0, u32 tk, u32 ck, Shared& sh) {
    const u32 lid = threadIdx.x;
    if (lid == 0u) sh.found = NONE;
    __syncthreads();
    u32 seen = 0u;
    for (u32 base = 0u; base < row.n; base += COLUMN) {
        u32 i = base + lid;
        float flag = 0.0f;
        if (i < row.n) {
            float x = row.scaled(i);
            if (kind == 0u) flag = okey(x) == key0 ? 1.0f : 0.0f;
            else flag = topk_kept(okey(x), i, tk, ck) && __float_as_uint(expf(x - row.mx)) == key0 ? 1.0f : 0.0f;
        }
        u32 incl = (u32)scan_incl(flag, sh);
        if (flag > 0.0f && seen + incl == n) atomicMin(&sh.found, i);
        seen += (u32)sh.scan[COLUMN - 1u];
        __syncthreads();
    }
    return sh.found;
}

KERNEL {
    __shared__ Shared sh;
    const u32 b = block_id(), lid = threadIdx.x;
    if (b >= p.batch) return;
    const float* lrow = logits + (size_t)b * p.vocab;
    const u32 best = block_argmax(lrow, p.vocab, sh.rkey, sh.rid);
    u32 choice = best;
    if (p.greedy == 0u) {
        const Row row{lrow, p.inv_temperature, lrow[best] * p.inv_temperature, p.vocab};

        // Top-k threshold key tk; ck is the last kept id among keys equal to tk.
        u32 tk = 0u, ck = NONE;
        if (p.top_k > 0u && p.top_k < p.vocab) {
            u32 prefix = 0u, mask = 0u, remaining = p.top_k, equal = 0u;
            for (u32 pass = 0u; pass < 4u; pass++) {
                const u32 shift = 24u - 8u * pass;
                sh.hist[lid] = 0u;
                __syncthreads();
                for (u32 i = lid; i < p.vocab; i += COLUMN) {
                    u32 key = okey(row.scaled(i));
                    if ((key & mask) == prefix) atomicAdd(&sh.hist[(key >> shift) & (RADIX - 1u)], 1u);
                }
                __syncthreads();
                if (lid == 0u) {
                    u32 above = 0u, d = RADIX - 1u;
                    while (true) {
                        u32 h = sh.hist[d];
                        if (above + h >= remaining || d == 0u) {
                            sh.rid[0] = d; sh.rid[1] = remaining - above; sh.rid[2] = h;
                            break;
                        }
                        above += h;
                        d--;
                    }
                }
                __syncthreads();
                const u32 digit = sh.rid[0];
                remaining = sh.rid[1];
                equal = sh.rid[2];
                __syncthreads();
                prefix |= digit << shift;
                mask |= (RADIX - 1u) << shift;
            }
            tk = prefix;
            ck = p.vocab;
            if (equal != remaining) ck = nth_flagged(row, remaining, 0u, tk, 0u, 0u, sh);
        }

        float s = 0.0f;
        for (u32 i = lid; i < p.vocab; i += COLUMN) {
            float x = row.scaled(i);
            if (topk_kept(okey(x), i, tk, ck)) s += expf(x - row.mx);
        }
        const float wk = block_sum(s, sh.red);

        // Top-p: the largest weight bit pattern tp with mass(w >= tp) >= p * wk; cp cuts the ties.
        u32 tp = 0u, cp = NONE;
        if (p.top_p < 1.0f) {
            const float goal = p.top_p * wk;
            u32 lo = 0u, hi = 0x3f800001u;
            for (u32 it = 0u; it < 31u; it++) {
                u32 mid = lo + (hi - lo) / 2u;
                float m = 0.0f;
                for (u32 i = lid; i < p.vocab; i += COLUMN) {
                    float x = row.scaled(i), w = expf(x - row.mx);
                    if (topk_kept(okey(x), i, tk, ck) && __float_as_uint(w) >= mid) m += w;
                }
                float mass = block_sum(m, sh.red);
                if (hi - lo > 1u) { if (mass >= goal) lo = mid; else hi = mid; }
            }
            tp = lo;
            float gsum = 0.0f;
            for (u32 i = lid; i < p.vocab; i += COLUMN) {
                float x = row.scaled(i), w = expf(x - row.mx);
                if (topk_kept(okey(x), i, tk, ck) && __float_as_uint(w) > tp) gsum += w;
            }
            const float above = block_sum(gsum, sh.red);
            const float need = fmaxf(ceilf((goal - above) / __uint_as_float(tp)), 1.0f);
            const u32 needu = need >= 4294967040.0f ? NONE : (u32)need;
            cp = nth_flagged(row, needu, 1u, tp, tk, ck, sh);
        }

        // Inverse CDF over the kept tokens in id order.
        const uint4 rnd = philox(make_uint4(b, p.pos + 1u, 0u, 0u), make_uint2(p.seed_lo, p.seed_hi));
        const float u = (float)(rnd.x >> 8u) * (1.0f / 16777216.0f);
        float tot = 0.0f;
        for (u32 i = lid; i < p.vocab; i += COLUMN) {
            float x = row.scaled(i), w = expf(x - row.mx);
            u32 wb = __float_as_uint(w);
            if (topk_kept(okey(x), i, tk, ck) && (wb > tp || (wb == tp && i <= cp))) tot += w;
        }
        const float goal_mass = u * block_sum(tot, sh.red);
        if (lid == 0u) { sh.found = NONE; sh.last_kept = 0u; }
        __syncthreads();
        float run = 0.0f;
        for (u32 base = 0u; base < p.vocab; base += COLUMN) {
            u32 i = base + lid;
            float w = 0.0f;
            if (i < p.vocab) {
                float x = row.scaled(i), wi = expf(x - row.mx);
                u32 wb = __float_as_uint(wi);
                if (topk_kept(okey(x), i, tk, ck) && (wb > tp || (wb == tp && i <= cp))) {
                    w = wi;
                    atomicMax(&sh.last_kept, i);
                }
            }
            float incl = scan_incl(w, sh);
            if (w > 0.0f && run + incl > goal_mass) atomicMin(&sh.found, i);
            run += sh.scan[COLUMN - 1u];
            __syncthreads();
        }
        choice = sh.found;
        if (choice == NONE) choice = sh.last_kept;
    }

    const u32 next = p.pos + 1u, plen = lens[b];
    if (lid == 0u && next < p.tstride && next >= plen) {
        const u32 o = b * p.tstride + next;
        if (ctrl[b * CTRL_WORDS + 2u] != 0u) {
            tokens[o] = p.pad;
        } else {
            tokens[o] = choice;
            if (choice == p.eos) ctrl[b * CTRL_WORDS + 2u] = 1u;
        }
    }
}
