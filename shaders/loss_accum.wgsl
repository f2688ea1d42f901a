// loss_accum: adds -log softmax(logits)[tgt] and the argmax hit of position pos+1 to acc[b]
// = [sum nll, correct, count, unused] when pos+1 < lens[b]. One workgroup per sequence.

// Index of the largest value of the row, ties to the lower id.
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
    let b = wid.x + wid.y * nwg.x;
    if (b >= p.batch) { return; }
    let row = b * p.vocab;
    let best = argmax(lid, row);
    let mx = logits[row + best];
    var s = 0.0;
    for (var i = lid; i < p.vocab; i += COLUMN) { s += exp(logits[row + i] - mx); }
    let lse = mx + log(reduce_sum(lid, s));
    let next = p.pos + 1u;
    if (lid == 0u && next < lens[b]) {
        let tgt = tokens[b * p.tstride + next];
        acc[b * ACC_WORDS] += lse - logits[row + tgt];
        acc[b * ACC_WORDS + 1u] += select(0.0, 1.0, best == tgt);
        acc[b * ACC_WORDS + 2u] += 1.0;
    }
}
