// loss_accum: adds -log softmax(logits)[tgt] and the argmax hit of position pos+1 to acc[b]
// = [sum nll, correct, count, unused] when pos+1 < lens[b]. One workgroup per sequence.
struct Params { batch: u32, vocab: u32, tstride: u32, pos: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(1) @binding(0) var<storage, read> logits: array<f32>;
@group(1) @binding(1) var<storage, read> tokens: array<u32>;
@group(1) @binding(2) var<storage, read> lens: array<u32>;
@group(1) @binding(3) var<storage, read_write> acc: array<f32>;

var<workgroup> red: array<f32, 256>;
var<workgroup> rkey: array<u32, 256>;
var<workgroup> rid: array<u32, 256>;

// Float order as unsigned order.
fn okey(x: f32) -> u32 {
    let b = bitcast<u32>(x);
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn reduce_sum(lid: u32, x: f32) -> f32 {
    red[lid] = x;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid < s) { red[lid] += red[lid + s]; }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

// Index of the largest value of the row, ties to the lower id.
fn argmax(lid: u32, row: u32) -> u32 {
    var bk = 0u;
    var bi = 0xffffffffu;
    for (var i = lid; i < p.vocab; i += 256u) {
        let k = okey(logits[row + i]);
        if (bi == 0xffffffffu || k > bk) { bk = k; bi = i; }
    }
    rkey[lid] = bk;
    rid[lid] = bi;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid < s) {
            let ok = rkey[lid + s];
            let oi = rid[lid + s];
            if (oi != 0xffffffffu && (rid[lid] == 0xffffffffu || ok > rkey[lid] || (ok == rkey[lid] && oi < rid[lid]))) {
                rkey[lid] = ok;
                rid[lid] = oi;
            }
        }
        workgroupBarrier();
    }
    let r = rid[0];
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let b = wid.x + wid.y * nwg.x;
    if (b >= p.batch) { return; }
    let row = b * p.vocab;
    let best = argmax(lid, row);
    let mx = logits[row + best];
    var s = 0.0;
    for (var i = lid; i < p.vocab; i += 256u) { s += exp(logits[row + i] - mx); }
    let lse = mx + log(reduce_sum(lid, s));
    let next = p.pos + 1u;
    if (lid == 0u && next < lens[b]) {
        let tgt = tokens[b * p.tstride + next];
        acc[b * 4u] += lse - logits[row + tgt];
        acc[b * 4u + 1u] += select(0.0, 1.0, best == tgt);
        acc[b * 4u + 2u] += 1.0;
    }
}
