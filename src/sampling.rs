//! Randomness and token choice shared by every backend (docs/model.md §4).
//!
//! Philox4x32-10 keyed by the seed, with counter `(sequence, position, 0, 0)`; the first output
//! word gives one uniform in [0, 1) with 24 bits. `shaders/sample.wgsl` and `kernels/sample.cu`
//! implement the same stream bit for bit; `choose_token` is the reference choice rule they follow.

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Philox4x32 with 10 rounds (Salmon et al., SC'11).
pub fn philox4x32_10(mut ctr: [u32; 4], mut key: [u32; 2]) -> [u32; 4] {
    for round in 0..10 {
        if round > 0 {
            key[0] = key[0].wrapping_add(W0);
            key[1] = key[1].wrapping_add(W1);
        }
        let p0 = (M0 as u64) * (ctr[0] as u64);
        let p1 = (M1 as u64) * (ctr[2] as u64);
        let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
        let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
        ctr = [hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0];
    }
    ctr
}

/// The uniform in [0, 1) for sequence `seq` at position `pos` under `seed`.
pub fn uniform(seed: u64, seq: u32, pos: u32) -> f32 {
    let r = philox4x32_10([seq, pos, 0, 0], [seed as u32, (seed >> 32) as u32]);
    (r[0] >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Maps an f32 to a u32 whose unsigned order is the float order (−0 just below +0).
pub fn ordered_key(x: f32) -> u32 {
    let b = x.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// How the next token is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplingRule {
    pub greedy: bool,
    pub temperature: f32,
    /// 0 disables top-k.
    pub top_k: u32,
    /// ≥ 1 disables top-p.
    pub top_p: f32,
}

/// The sampling defaults of `generate`, `chat`, a run's samples and the Python binding.
pub const DEFAULT_TEMPERATURE: f32 = 0.8;
pub const DEFAULT_TOP_K: u32 = 40;
pub const DEFAULT_TOP_P: f32 = 0.9;

/// How the next token is chosen from the decoded distribution (the names the CLI's `--strategy`
/// and the Python binding's `strategy=` take).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    /// The most probable token.
    Greedy,
    /// Sampled from the softmax at --temperature.
    Temperature,
    /// Sampled among the --top-k most probable.
    TopK,
    /// Sampled among the most probable tokens whose probabilities sum to --top-p (nucleus).
    TopP,
    /// Top-k, then top-p over what top-k kept.
    TopKTopP,
}

impl Strategy {
    /// The token-choice rule of the strategy with these parameters (those it does not use are
    /// ignored).
    pub fn rule(self, temperature: f32, top_k: u32, top_p: f32) -> SamplingRule {
        let (k, p) = match self {
            Strategy::Greedy | Strategy::Temperature => (0, 1.0),
            Strategy::TopK => (top_k, 1.0),
            Strategy::TopP => (0, top_p),
            Strategy::TopKTopP => (top_k, top_p),
        };
        SamplingRule { greedy: self == Strategy::Greedy, temperature, top_k: k, top_p: p }
    }

    /// Top-k, then top-p, at the default temperature, k and p.
    pub fn default_rule() -> SamplingRule {
        Strategy::TopKTopP.rule(DEFAULT_TEMPERATURE, DEFAULT_TOP_K, DEFAULT_TOP_P)
    }
}

/// Argmax with ties to the lower id.
pub fn argmax(x: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if ordered_key(v) > ordered_key(x[best]) {
            best = i;
        }
    }
    best
}

/// Reference token choice: temperature softmax, top-k (largest logits, ties to the lower id),
/// top-p over what top-k kept (smallest highest-probability set reaching mass p, ties by id),
/// then the inverse CDF of `u` over the kept tokens in id order.
pub fn choose_token(logits: &[f32], rule: SamplingRule, u: f32) -> u32 {
    if rule.greedy {
        return argmax(logits) as u32;
    }
    let inv_t = 1.0 / rule.temperature;
    let x: Vec<f32> = logits.iter().map(|&l| l * inv_t).collect();
    let max = x[argmax(&x)];
    let w: Vec<f32> = x.iter().map(|&xi| (xi - max).exp()).collect();
    let v = x.len();
    let mut kept = vec![true; v];
    let by_rank = |key: &dyn Fn(usize) -> u32, keep: &[bool]| {
        let mut ids: Vec<usize> = (0..v).filter(|&i| keep[i]).collect();
        ids.sort_by(|&a, &b| key(b).cmp(&key(a)).then(a.cmp(&b)));
        ids
    };
    if rule.top_k > 0 && (rule.top_k as usize) < v {
        let ranked = by_rank(&|i| ordered_key(x[i]), &kept);
        kept = vec![false; v];
        for &i in &ranked[..rule.top_k as usize] {
            kept[i] = true;
        }
    }
    if rule.top_p < 1.0 {
        let total: f64 = (0..v).filter(|&i| kept[i]).map(|i| w[i] as f64).sum();
        let goal = rule.top_p as f64 * total;
        let ranked = by_rank(&|i| w[i].to_bits(), &kept);
        let mut mass = 0.0;
        let mut keep_p = vec![false; v];
        for &i in &ranked {
            keep_p[i] = true;
            mass += w[i] as f64;
            if mass >= goal {
                break;
            }
        }
        kept = keep_p;
    }
    let total: f64 = (0..v).filter(|&i| kept[i]).map(|i| w[i] as f64).sum();
    let target = u as f64 * total;
    let mut cum = 0.0;
    let mut last = 0;
    for i in (0..v).filter(|&i| kept[i]) {
        cum += w[i] as f64;
        last = i;
        if cum > target {
            return i as u32;
        }
    }
    last as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known-answer vectors of Random123's kat_vectors for philox4x32_10.
    #[test]
    fn philox_known_answers() {
        assert_eq!(philox4x32_10([0; 4], [0; 2]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
        assert_eq!(philox4x32_10([u32::MAX; 4], [u32::MAX; 2]), [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
        assert_eq!(
            philox4x32_10([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]),
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
        );
    }

    #[test]
    fn ordered_key_is_monotone() {
        let xs = [-f32::INFINITY, -3.5, -1e-30, -0.0, 0.0, 1e-30, 2.0, f32::INFINITY];
        for w in xs.windows(2) {
            assert!(ordered_key(w[0]) < ordered_key(w[1]), "{w:?}");
        }
    }

    #[test]
    fn choice_rules() {
        let logits = [1.0, 3.0, 3.0, -2.0, 0.5];
        let rule = |greedy, top_k, top_p| SamplingRule { greedy, temperature: 1.0, top_k, top_p };
        assert_eq!(choose_token(&logits, rule(true, 0, 1.0), 0.9), 1);
        // top-1 keeps the lower id of the tie whatever u is.
        for u in [0.0, 0.5, 0.999] {
            assert_eq!(choose_token(&logits, rule(false, 1, 1.0), u), 1);
            // a tiny p keeps one token
            assert_eq!(choose_token(&logits, rule(false, 0, 1e-3), u), 1);
        }
        // top-2 keeps ids 1 and 2 with equal mass.
        assert_eq!(choose_token(&logits, rule(false, 2, 1.0), 0.25), 1);
        assert_eq!(choose_token(&logits, rule(false, 2, 1.0), 0.75), 2);
        // u = 0 gives the first kept id; u close to 1 the last.
        assert_eq!(choose_token(&logits, rule(false, 0, 1.0), 0.0), 0);
        assert_eq!(choose_token(&logits, rule(false, 0, 1.0), 0.999_999), 4);
    }
}
