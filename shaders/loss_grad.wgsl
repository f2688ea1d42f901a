// loss_grad: one workgroup per row r = t * batch + b of the logits. Overwrites the row with
// softmax - onehot(target) (zeros for padded rows) and writes row_stats[r] = [nll, correct, valid, argmax].

fn argmax(lid: u32, row: u32) -> u32 {
    var bk = 0u;
    var bi = NONE;
    for (var i = lid; i < p.vocab; i += COLUMN) {
        let k = okey(logits[row + i]);
        if (bi == NONE || k > bk) { bk = k; bi = i; }
    }
    return argmax_reduce(lid, bk, bi);
}

@compute @workgroup_size(COLUMN)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let r = wid.x + wid.y * nwg.x;
    if (r >= p.rows) { return; }
    let t = r / p.batch;
    let b = r % p.batch;
    let row = r * p.vocab;
    let best = argmax(lid, row);
    let mx = logits[row + best];
    var s = 0.0;
    for (var i = lid; i < p.vocab; i += COLUMN) { s += exp(logits[row + i] - mx); }
    let sum = reduce_sum(lid, s);
    let valid = t + 1u < lens[b];
    var tgt = 0u;
    var nll = 0.0;
    if (valid) {
        tgt = tokens[b * p.tstride + t + 1u];
        nll = mx + log(sum) - logits[row + tgt];
    }
    workgroupBarrier();
    for (var i = lid; i < p.vocab; i += COLUMN) {
        let prob = exp(logits[row + i] - mx) / sum;
        logits[row + i] = select(0.0, prob - select(0.0, 1.0, i == tgt), valid);
    }
    if (lid == 0u) {
        let o = r * ROW_WORDS;
        row_stats[o] = bitcast<u32>(nll);
        row_stats[o + 1u] = select(0u, 1u, valid && best == tgt);
        row_stats[o + 2u] = select(0u, 1u, valid);
        row_stats[o + 3u] = best;
    }
}
