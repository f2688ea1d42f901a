// Prepended to every shader by the wgpu backend (and the naga test), as kernels/common.cuh is to
// every kernel: block reductions shared by the ops. Workgroups have COLUMN invocations.

var<workgroup> red: array<f32, COLUMN>;
var<workgroup> rkey: array<u32, COLUMN>;
var<workgroup> rid: array<u32, COLUMN>;

// Sum over the workgroup (every invocation must call it).
fn reduce_sum(lid: u32, x: f32) -> f32 {
    red[lid] = x;
    workgroupBarrier();
    for (var s = COLUMN / 2u; s > 0u; s >>= 1u) {
        if (lid < s) { red[lid] += red[lid + s]; }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

// Sum over each group of EPROP_LANES consecutive invocations, returned to every invocation of
// the group (every invocation of the workgroup must call it; the SDDMM ops' per-synapse sums).
fn lane_group_sum(lid: u32, x: f32) -> f32 {
    let lane = lid % EPROP_LANES;
    red[lid] = x;
    workgroupBarrier();
    for (var s = EPROP_LANES / 2u; s > 0u; s >>= 1u) {
        if (lane < s) { red[lid] += red[lid + s]; }
        workgroupBarrier();
    }
    let r = red[lid - lane];
    workgroupBarrier();
    return r;
}

// Float order as unsigned order (-0 just below +0).
fn okey(x: f32) -> u32 {
    let b = bitcast<u32>(x);
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

// The id of the largest key over the workgroup, ties to the lower id; each invocation brings its
// best (key, id) so far (id NONE for none). Every invocation must call it.
fn argmax_reduce(lid: u32, key: u32, id: u32) -> u32 {
    rkey[lid] = key;
    rid[lid] = id;
    workgroupBarrier();
    for (var s = COLUMN / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            let ok = rkey[lid + s];
            let oi = rid[lid + s];
            if (oi != NONE && (rid[lid] == NONE || ok > rkey[lid] || (ok == rkey[lid] && oi < rid[lid]))) {
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

// Neither NaN nor ±Inf (exponent bits not all ones; as the CPU reference's is_finite).
fn is_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// A recurrent weight in the recurrent input's fixed point (docs/model.md §3.4, as the CPU
// reference's rec_units): round(w · 2^16) to even, at most (2^31 − 1) / fanout in magnitude, so a
// neuron's sum of fanout of them cannot overflow and integer adds make it independent of order.
// `lim` is rec_limit(fanout), computed once per shader invocation.
fn rec_limit(fanout: u32) -> i32 { return i32(0x7fffffffu / max(fanout, 1u)); }
fn rec_units(w: f32, lim: i32) -> i32 {
    return clamp(i32(round(clamp(w * f32(REC_SCALE), -1073741824.0, 1073741824.0))), -lim, lim);
}

// A fixed-point recurrent sum in mV; NaN where a spiking synapse's weight was not finite.
fn rec_mv(sum: i32, bad: bool) -> f32 {
    return select(f32(sum) * (1.0 / f32(REC_SCALE)), bitcast<f32>(0x7fc00000u), bad);
}
