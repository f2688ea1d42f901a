// sample: chooses the token at position pos+1 of sequence b (docs/model.md §4). One workgroup per sequence.
// greedy: argmax (ties to the lower id). Otherwise: x = logits / T, w = exp(x - max x);
// top-k keeps the k largest x (ties to the lower id) via an exact 4-pass radix select;
// top-p keeps, of those, the smallest highest-w set whose mass reaches p (ties by id) via a
// binary search on w's bit pattern; then u = Philox4x32-10(seed; b, pos+1) picks the token by
// the inverse CDF over the kept tokens in id order.

// Top-k selects 8 bits a pass: one histogram bin per invocation (RADIX == COLUMN).
const RADIX: u32 = 256u;
const_assert RADIX == COLUMN;
var<workgroup> hist: array<atomic<u32>, RADIX>;
var<workgroup> scan: array<f32, COLUMN>;
var<workgroup> shared_u: array<u32, 2>;
var<workgroup> found: atomic<u32>;
var<workgroup> last_kept: atomic<u32>;
var<workgroup> done_flag: u32;

// Inclusive prefix sum over the workgroup (Hillis-Steele).
fn scan_incl(lid: u32, x: f32) -> f32 {
    scan[lid] = x;
    workgroupBarrier();
    for (var s = 1u; s < COLUMN; s <<= 1u) {
        var t = scan[lid];
        if (lid >= s) { t += scan[lid - s]; }
        workgroupBarrier();
        scan[lid] = t;
        workgroupBarrier();
    }
    return scan[lid];
}

fn argmax(lid: u32, row: u32) -> u32 {
    var bk = 0u;
    var bi = NONE;
    for (var i = lid; i < p.vocab; i += COLUMN) {
        let k = okey(logits[row + i]);
        if (bi == NONE || k > bk) { bk = k; bi = i; }
    }
    return argmax_reduce(lid, bk, bi);
}

// 32 x 32 -> 64-bit product as (hi, lo) without 64-bit integers.
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
    let al = a & 0xffffu; let ah = a >> 16u;
    let bl = b & 0xffffu; let bh = b >> 16u;
    let ll = al * bl; let hl = ah * bl; let lh = al * bh; let hh = ah * bh;
    let cross = (ll >> 16u) + (hl & 0xffffu) + lh;
    return vec2<u32>(hh + (hl >> 16u) + (cross >> 16u), a * b);
}

fn philox(c_in: vec4<u32>, k_in: vec2<u32>) -> vec4<u32> {
    var c = c_in;
    var k = k_in;
    for (var r = 0u; r < 10u; r++) {
        if (r > 0u) { k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u); }
        let p0 = mulhilo(0xD2511F53u, c.x);
        let p1 = mulhilo(0xCD9E8D57u, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    }
    return c;
}

// The j-th (1-based) id in id order whose flag is set, or NONE.
fn nth_flagged(lid: u32, row: u32, n: u32, kind: u32, key: u32, tk: u32, ck: u32) -> u32 {
    var seen = 0u;
    atomicStore(&found, NONE);
    workgroupBarrier();
    for (var base = 0u; base < p.vocab; base += COLUMN) {
        let i = base + lid;
        var flag = 0.0;
        if (i < p.vocab) {
            let x = logits[row + i] * p.inv_temperature;
            if (kind == 0u) {
                flag = select(0.0, 1.0, okey(x) == key);
            } else {
                let kept = topk_kept(okey(x), i, tk, ck);
                flag = select(0.0, 1.0, kept && bitcast<u32>(exp(x - bitcast<f32>(shared_u[0]))) == key);
            }
        }
        let incl = u32(scan_incl(lid, flag));
        if (flag > 0.0 && seen + incl == n) { atomicMin(&found, i); }
        seen += u32(workgroupUniformLoad(&scan[COLUMN - 1u]));
        workgroupBarrier();
    }
    return atomicLoad(&found);
}

fn topk_kept(key: u32, i: u32, tk: u32, ck: u32) -> bool {
    return key > tk || (key == tk && i <= ck);
}

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let b = wid.x + wid.y * nwg.x;
    if (b >= p.batch) { return; }
    let row = b * p.vocab;
    let best = argmax(lid, row);
    var choice = best;
    if (p.greedy == 0u) {
        let mx = logits[row + best] * p.inv_temperature;
        if (lid == 0u) { shared_u[0] = bitcast<u32>(mx); }
        workgroupBarrier();

        // Top-k threshold key tk and the last kept id ck among keys equal to tk.
        var tk = 0u;
        var ck = NONE;
        if (p.top_k > 0u && p.top_k < p.vocab) {
            var prefix = 0u;
            var mask = 0u;
            var remaining = p.top_k;
            var equal = 0u;
            for (var pass_i = 0u; pass_i < 4u; pass_i++) {
                let shift = 24u - 8u * pass_i;
                atomicStore(&hist[lid], 0u);
                workgroupBarrier();
                for (var i = lid; i < p.vocab; i += COLUMN) {
                    let key = okey(logits[row + i] * p.inv_temperature);
                    if ((key & mask) == prefix) { atomicAdd(&hist[(key >> shift) & (RADIX - 1u)], 1u); }
                }
                workgroupBarrier();
                if (lid == 0u) {
                    var above = 0u;
                    var d = RADIX - 1u;
                    loop {
                        let h = atomicLoad(&hist[d]);
                        if (above + h >= remaining || d == 0u) {
                            rid[0] = d;
                            rid[1] = remaining - above;
                            rid[2] = h;
                            break;
                        }
                        above += h;
                        d -= 1u;
                    }
                }
                let digit = workgroupUniformLoad(&rid[0]);
                remaining = workgroupUniformLoad(&rid[1]);
                equal = workgroupUniformLoad(&rid[2]);
                workgroupBarrier();
                prefix |= digit << shift;
                mask |= (RADIX - 1u) << shift;
            }
            tk = prefix;
            ck = p.vocab;
            if (equal != remaining) {
                ck = nth_flagged(lid, row, remaining, 0u, tk, 0u, 0u);
            }
        }

        // Mass of the top-k set (the whole vocabulary without top-k).
        var s = 0.0;
        for (var i = lid; i < p.vocab; i += COLUMN) {
            let x = logits[row + i] * p.inv_temperature;
            if (topk_kept(okey(x), i, tk, ck)) { s += exp(x - mx); }
        }
        let wk = reduce_sum(lid, s);

        // Top-p: largest weight bit pattern tp with mass(w >= tp) >= p * wk; cp cuts the ties.
        var tp = 0u;
        var cp = NONE;
        if (p.top_p < 1.0) {
            let goal = p.top_p * wk;
            var lo = 0u;
            var hi = 0x3f800001u;
            for (var it = 0u; it < 31u; it++) {
                let mid = lo + (hi - lo) / 2u;
                var m = 0.0;
                for (var i = lid; i < p.vocab; i += COLUMN) {
                    let x = logits[row + i] * p.inv_temperature;
                    let w = exp(x - mx);
                    if (topk_kept(okey(x), i, tk, ck) && bitcast<u32>(w) >= mid) { m += w; }
                }
                let mass = reduce_sum(lid, m);
                if (hi - lo > 1u) {
                    if (mass >= goal) { lo = mid; } else { hi = mid; }
                }
            }
            tp = lo;
            var g = 0.0;
            for (var i = lid; i < p.vocab; i += COLUMN) {
                let x = logits[row + i] * p.inv_temperature;
                let w = exp(x - mx);
                if (topk_kept(okey(x), i, tk, ck) && bitcast<u32>(w) > tp) { g += w; }
            }
            let above = reduce_sum(lid, g);
            // Ties at tp are taken in id order until the mass reaches the goal.
            let need = u32(max(ceil((goal - above) / bitcast<f32>(tp)), 1.0));
            cp = nth_flagged(lid, row, need, 1u, tp, tk, ck);
        }

        // Inverse CDF over the kept tokens in id order.
        let r = philox(vec4<u32>(b, p.pos + 1u, 0u, 0u), vec2<u32>(p.seed_lo, p.seed_hi));
        let u = f32(r.x >> 8u) * (1.0 / 16777216.0);
        var tot = 0.0;
        for (var i = lid; i < p.vocab; i += COLUMN) {
            let x = logits[row + i] * p.inv_temperature;
            let w = exp(x - mx);
            let wb = bitcast<u32>(w);
            if (topk_kept(okey(x), i, tk, ck) && (wb > tp || (wb == tp && i <= cp))) { tot += w; }
        }
        let goal_mass = u * reduce_sum(lid, tot);
        atomicStore(&found, NONE);
        atomicStore(&last_kept, 0u);
        workgroupBarrier();
        var run = 0.0;
        for (var base = 0u; base < p.vocab; base += COLUMN) {
            let i = base + lid;
            var w = 0.0;
            if (i < p.vocab) {
                let x = logits[row + i] * p.inv_temperature;
                let wi = exp(x - mx);
                let wb = bitcast<u32>(wi);
                if (topk_kept(okey(x), i, tk, ck) && (wb > tp || (wb == tp && i <= cp))) {
                    w = wi;
                    atomicMax(&last_kept, i);
                }
            }
            let incl = scan_incl(lid, w);
            if (w > 0.0 && run + incl > goal_mass) { atomicMin(&found, i); }
            run += workgroupUniformLoad(&scan[COLUMN - 1u]);
            workgroupBarrier();
        }
        choice = atomicLoad(&found);
        if (choice == NONE) { choice = atomicLoad(&last_kept); }
    }

    let next = p.pos + 1u;
    let plen = lens[b];
    if (lid == 0u && next < p.tstride && next >= plen) {
        let o = b * p.tstride + next;
        if (ctrl[b * CTRL_WORDS + 2u] != 0u) {
            tokens[o] = p.pad;
        } else {
            tokens[o] = choice;
            if (choice == p.eos) { ctrl[b * CTRL_WORDS + 2u] = 1u; }
        }
    }
}
