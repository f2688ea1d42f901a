//! Smoothed byte n-gram baselines: interpolated modified Kneser–Ney (Chen & Goodman, 1998) over
//! 257 symbols, the 256 byte values and an end-of-document symbol ([`END`]), for orders 1 to
//! [`MAX_ORDER`]. They give the bits/byte a simple count-based model reaches on a corpus, to
//! compare the engine's with.
//!
//! **What is predicted.** A document is a byte slice; each of its bytes is predicted, then
//! [`END`], each from the preceding bytes of the same document only. An order-`n` model sees the
//! last `n − 1` of them; nearer the document's start than that, the context is padded on the left
//! with a start symbol (one that is never predicted), so `"ab"` at order 4 predicts `b` from
//! `[start, start, a]`. Training counts the same padded n-grams.
//!
//! **The recursion.** With `c` the counts of the level and `D(c)` its discount,
//!
//! ```text
//! p_k(w | h) = (max(c(h w) − D(c(h w)), 0) + γ(h) · p_{k−1}(w | h′)) / c(h •)
//! γ(h) = D₁ N₁(h •) + D₂ N₂(h •) + D₃₊ N₃₊(h •)
//! ```
//!
//! where `h′` is `h` without its oldest symbol, `N_i(h •)` the number of symbols that follow `h`
//! exactly `i` times (3 or more for `N₃₊`), and a context never seen in training (`c(h •) = 0`)
//! passes `p_{k−1}` through unchanged. Below the level `k` of the model, the counts are
//! continuation counts: `c(h w)` is the number of distinct symbols seen before `h w`, the start
//! symbol included (so no level needs a special case at the document's start). Under level 1
//! (the empty context) is the uniform distribution over the 257 symbols, so no probability is
//! ever 0. Each level has three discounts for raw counts and three for continuation counts,
//! estimated from that level's count-of-counts `n₁ … n₄`: `Y = n₁ / (n₁ + 2 n₂)`,
//! `D₁ = 1 − 2Y n₂/n₁`, `D₂ = 2 − 3Y n₃/n₂`, `D₃₊ = 3 − 4Y n₄/n₃` (`Y` where a denominator is 0),
//! each clamped to `[0.01, i − 0.01]` for `D_i`. Probabilities are exact in f64: every
//! distribution sums to 1.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::error::{NeuroError, Result};

/// Symbols of the alphabet: the 256 byte values, then [`END`].
pub const SYMBOLS: usize = 257;
/// The end-of-document symbol.
pub const END: usize = 256;
/// The highest order [`Ngram::fit`] accepts (a context of 7 bytes).
pub const MAX_ORDER: usize = 8;

/// The smallest discount, and the margin below each discount's upper bound `i`.
const MIN_DISCOUNT: f64 = 0.01;
/// A context key holds up to 7 bytes in its low 56 bits, most recent lowest, and its number of
/// start symbols from this bit on.
const PAD_SHIFT: u32 = 60;
const BYTES_MASK: u64 = (1 << 56) - 1;

/// How one order did on held-out text.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct NgramScore {
    /// The model's order `n` (a context of `n − 1` bytes).
    pub order: usize,
    /// Σ −log₂ p over every predicted symbol (end-of-document ones included), divided by the
    /// held-out bytes (end-of-document symbols are not bytes).
    pub bits_per_byte: f64,
    /// The fraction of predicted symbols that are the distribution's argmax (ties go to the
    /// lower symbol).
    pub accuracy: f64,
    /// Bytes of held-out text.
    pub bytes: u64,
    /// Predicted symbols: the bytes plus one end-of-document per document.
    pub predictions: u64,
}

/// Interpolated modified Kneser–Ney byte models of every order `1..=max_order`, fitted together
/// (module docs). Built by [`Ngram::fit`].
pub struct Ngram {
    max_order: usize,
    /// `levels[k − 1]`: the contexts of `k − 1` symbols.
    levels: Vec<Level>,
}

/// One level of the recursion: every context of one length seen in training, and per context its
/// observed continuations with both their raw and continuation terms, already divided by the
/// context's total.
struct Level {
    contexts: Map<u64, u32>,
    /// Context `i`'s continuations are `start[i]..start[i + 1]`.
    start: Vec<u32>,
    /// `γ(h) / c(h •)` with raw counts, and with continuation counts.
    raw_backoff: Vec<f64>,
    cont_backoff: Vec<f64>,
    sym: Vec<u16>,
    /// `(c − D(c)) / c(h •)` with raw counts, and with continuation counts (0 at the top level,
    /// which has no continuation counts).
    raw: Vec<f64>,
    cont: Vec<f64>,
}

/// Which counts a level is used with: raw at the model's own order, continuation below it.
#[derive(Clone, Copy)]
enum Counts {
    Raw,
    Continuation,
}

impl Level {
    /// `out = p_k(· | h)` from `lower = p_{k−1}(· | h′)`, where `ctx` is `h`'s index (None: unseen,
    /// `out = lower`).
    fn apply(&self, ctx: Option<u32>, counts: Counts, lower: &[f64; SYMBOLS], out: &mut [f64; SYMBOLS]) {
        let Some(c) = ctx else {
            out.copy_from_slice(lower);
            return;
        };
        let c = c as usize;
        let (backoff, terms) = match counts {
            Counts::Raw => (self.raw_backoff[c], &self.raw),
            Counts::Continuation => (self.cont_backoff[c], &self.cont),
        };
        for (o, l) in out.iter_mut().zip(lower) {
            *o = backoff * l;
        }
        let range = self.start[c] as usize..self.start[c + 1] as usize;
        for (&s, &t) in self.sym[range.clone()].iter().zip(&terms[range]) {
            out[s as usize] += t;
        }
    }
}

impl Ngram {
    /// Counts every n-gram of orders `1..=max_order` in `docs` and estimates the discounts.
    /// Errors when `max_order` is not in `1..=8` or the documents hold no byte.
    pub fn fit<'a>(docs: impl IntoIterator<Item = &'a [u8]>, max_order: usize) -> Result<Ngram> {
        if max_order == 0 || max_order > MAX_ORDER {
            return Err(NeuroError::InvalidInput(format!(
                "n-gram order {max_order} is out of range: it must be 1 to {MAX_ORDER}"
            )));
        }
        let docs: Vec<&[u8]> = docs.into_iter().collect();
        if docs.iter().all(|d| d.is_empty()) {
            return Err(NeuroError::InvalidInput(
                "the n-gram training text is empty: it needs at least one byte".into(),
            ));
        }
        let mut levels = Vec::with_capacity(max_order);
        // From the top order down: each order's continuation counts come from the distinct
        // n-grams one order up.
        let mut upper: Vec<u128> = Vec::new();
        for k in (1..=max_order).rev() {
            let mut counts: Map<u128, [u32; 2]> = Map::default();
            for &key in &upper {
                let short = shorten((key >> 16) as u64, k);
                counts.entry(ngram_key(short, (key & 0xffff) as usize)).or_default()[1] += 1;
            }
            for doc in &docs {
                let mut history = 0u64;
                for i in 0..=doc.len() {
                    let w = doc.get(i).map_or(END, |&b| b as usize);
                    counts.entry(ngram_key(context_key(history, i, k), w)).or_default()[0] += 1;
                    if i < doc.len() {
                        history = (history << 8) | doc[i] as u64;
                    }
                }
            }
            let mut entries: Vec<(u128, [u32; 2])> = counts.into_iter().collect();
            entries.sort_unstable_by_key(|e| e.0);
            upper = entries.iter().map(|e| e.0).collect();
            levels.push(Level::build(&entries, k < max_order));
        }
        levels.reverse();
        Ok(Ngram { max_order, levels })
    }

    /// The highest order fitted.
    pub fn max_order(&self) -> usize {
        self.max_order
    }

    /// The order-`order` model's distribution over the 257 symbols (index [`END`]: end of
    /// document) after `context`, the bytes of the document so far (only the last `order − 1`
    /// matter; fewer are padded with the start symbol).
    pub fn distribution(&self, order: usize, context: &[u8]) -> Result<Vec<f64>> {
        if order == 0 || order > self.max_order {
            return Err(NeuroError::InvalidInput(format!(
                "n-gram order {order} is out of range: this model has orders 1 to {}",
                self.max_order
            )));
        }
        let mut history = 0u64;
        for &b in context.iter().rev().take(MAX_ORDER - 1).rev() {
            history = (history << 8) | b as u64;
        }
        let mut lower = [1.0 / SYMBOLS as f64; SYMBOLS];
        let mut next = [0.0; SYMBOLS];
        for k in 1..=order {
            let level = &self.levels[k - 1];
            let ctx = level.contexts.get(&context_key(history, context.len(), k)).copied();
            let counts = if k == order { Counts::Raw } else { Counts::Continuation };
            level.apply(ctx, counts, &lower, &mut next);
            std::mem::swap(&mut lower, &mut next);
        }
        Ok(lower.to_vec())
    }

    /// Scores of every order `1..=max_order` on held-out documents, in one pass. Errors when the
    /// documents hold no byte.
    pub fn evaluate<'a>(&self, docs: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<NgramScore>> {
        let n = self.max_order;
        // lower[j] = the continuation-count chain up to level j (lower[0]: uniform).
        let mut lower = vec![[1.0 / SYMBOLS as f64; SYMBOLS]; n];
        let mut p = [0.0; SYMBOLS];
        let mut bits = vec![0.0f64; n];
        let mut correct = vec![0u64; n];
        let (mut bytes, mut predictions) = (0u64, 0u64);
        for doc in docs {
            bytes += doc.len() as u64;
            predictions += doc.len() as u64 + 1;
            let mut history = 0u64;
            for i in 0..=doc.len() {
                let w = doc.get(i).map_or(END, |&b| b as usize);
                for k in 1..=n {
                    let level = &self.levels[k - 1];
                    let Some(ctx) = level.contexts.get(&context_key(history, i, k)).copied() else {
                        // Unseen here, so unseen at every higher order too: orders k..=n all
                        // predict with the chain below.
                        let (b, hit) = score(&lower[k - 1], w);
                        for o in k - 1..n {
                            bits[o] += b;
                            correct[o] += hit as u64;
                        }
                        break;
                    };
                    level.apply(Some(ctx), Counts::Raw, &lower[k - 1], &mut p);
                    let (b, hit) = score(&p, w);
                    bits[k - 1] += b;
                    correct[k - 1] += hit as u64;
                    if k < n {
                        let (below, above) = lower.split_at_mut(k);
                        level.apply(Some(ctx), Counts::Continuation, &below[k - 1], &mut above[0]);
                    }
                }
                if i < doc.len() {
                    history = (history << 8) | doc[i] as u64;
                }
            }
        }
        if bytes == 0 {
            return Err(NeuroError::InvalidInput("the held-out text is empty: it needs at least one byte".into()));
        }
        Ok((0..n)
            .map(|o| NgramScore {
                order: o + 1,
                bits_per_byte: bits[o] / bytes as f64,
                accuracy: correct[o] as f64 / predictions as f64,
                bytes,
                predictions,
            })
            .collect())
    }
}

/// `(−log₂ p[w], whether w is the argmax)`, ties going to the lower symbol.
fn score(p: &[f64; SYMBOLS], w: usize) -> (f64, bool) {
    let mut best = 0;
    for (s, &v) in p.iter().enumerate().skip(1) {
        if v > p[best] {
            best = s;
        }
    }
    (-p[w].log2(), best == w)
}

impl Level {
    /// A level from its `(n-gram key, [raw count, continuation count])` entries sorted by key (so
    /// each context's entries are adjacent). `lower`: a level below the top, which has
    /// continuation counts.
    fn build(entries: &[(u128, [u32; 2])], lower: bool) -> Level {
        let raw_d = discounts(entries.iter().map(|e| e.1[0]));
        let cont_d = if lower { discounts(entries.iter().map(|e| e.1[1])) } else { [0.0; 3] };
        let mut level = Level {
            contexts: Map::default(),
            start: Vec::new(),
            raw_backoff: Vec::new(),
            cont_backoff: Vec::new(),
            sym: Vec::with_capacity(entries.len()),
            raw: Vec::with_capacity(entries.len()),
            cont: Vec::with_capacity(entries.len()),
        };
        level.contexts.reserve(entries.len() / 4);
        let mut i = 0;
        while i < entries.len() {
            let ctx = (entries[i].0 >> 16) as u64;
            let mut j = i;
            while j < entries.len() && (entries[j].0 >> 16) as u64 == ctx {
                j += 1;
            }
            let group = &entries[i..j];
            level.contexts.insert(ctx, level.start.len() as u32);
            level.start.push(i as u32);
            let (raw_total, raw_gamma) = totals(group.iter().map(|e| e.1[0]), &raw_d);
            let (cont_total, cont_gamma) = totals(group.iter().map(|e| e.1[1]), &cont_d);
            level.raw_backoff.push(raw_gamma / raw_total);
            level.cont_backoff.push(if lower { cont_gamma / cont_total } else { 0.0 });
            for &(key, [raw, cont]) in group {
                debug_assert!(!lower || (raw > 0) == (cont > 0), "padding gives every n-gram a left extension");
                level.sym.push((key & 0xffff) as u16);
                level.raw.push((raw as f64 - discount(raw, &raw_d)) / raw_total);
                level.cont.push(if lower { (cont as f64 - discount(cont, &cont_d)) / cont_total } else { 0.0 });
            }
            i = j;
        }
        level.start.push(entries.len() as u32);
        level
    }
}

/// The discount of an n-gram seen `c` times: 0 for an unseen one (`c = 0`).
fn discount(c: u32, d: &[f64; 3]) -> f64 {
    match c {
        0 => 0.0,
        1 => d[0],
        2 => d[1],
        _ => d[2],
    }
}

/// A context's total count and its backoff mass `γ` before dividing by the total.
fn totals(counts: impl Iterator<Item = u32>, d: &[f64; 3]) -> (f64, f64) {
    let (mut total, mut gamma) = (0.0, 0.0);
    for c in counts {
        total += c as f64;
        gamma += discount(c, d);
    }
    (total, gamma)
}

/// Chen & Goodman's `D₁, D₂, D₃₊` from the count-of-counts (module docs), clamped.
fn discounts(counts: impl Iterator<Item = u32>) -> [f64; 3] {
    let mut n = [0u64; 5];
    for c in counts {
        if (1..=4).contains(&c) {
            n[c as usize] += 1;
        }
    }
    let n = n.map(|x| x as f64);
    let y = if n[1] + 2.0 * n[2] > 0.0 { n[1] / (n[1] + 2.0 * n[2]) } else { 0.5 };
    let mut d = [0.0; 3];
    for i in 1..=3 {
        let fi = i as f64;
        let raw = if n[i] > 0.0 { fi - (fi + 1.0) * y * n[i + 1] / n[i] } else { y };
        d[i - 1] = raw.clamp(MIN_DISCOUNT, fi - MIN_DISCOUNT);
    }
    d
}

/// The key of the order-`k` context at position `seen` of a document (`seen` bytes before it,
/// the last 7 of them in `history`, most recent lowest): its last `k − 1` symbols, start symbols
/// filling in before the document's first byte.
fn context_key(history: u64, seen: usize, k: usize) -> u64 {
    let len = k - 1;
    let m = len.min(seen);
    let bytes = if m == 0 { 0 } else { history & (u64::MAX >> (64 - 8 * m)) };
    bytes | (((len - m) as u64) << PAD_SHIFT)
}

/// An order-`k + 1` context key (`k` symbols) without its oldest symbol: the order-`k` one.
fn shorten(key: u64, k: usize) -> u64 {
    let pads = key >> PAD_SHIFT;
    let bytes = key & BYTES_MASK;
    if pads > 0 {
        ((pads - 1) << PAD_SHIFT) | bytes
    } else if k <= 1 {
        0
    } else {
        bytes & (u64::MAX >> (64 - 8 * (k - 1)))
    }
}

fn ngram_key(context: u64, w: usize) -> u128 {
    ((context as u128) << 16) | w as u128
}

/// A fast hasher for the integer keys above: multiply-rotate per word, then a full 64-bit
/// finaliser so that the low bits (the bucket) depend on every key bit.
#[derive(Default)]
struct Mix(u64);

type Map<K, V> = HashMap<K, V, BuildHasherDefault<Mix>>;

impl Hasher for Mix {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0 ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    }

    fn write_u128(&mut self, x: u128) {
        self.write_u64(x as u64);
        self.write_u64((x >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn fit(docs: &[&[u8]], order: usize) -> Ngram {
        Ngram::fit(docs.iter().copied(), order).unwrap()
    }

    fn some_text() -> Vec<Vec<u8>> {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let words = ["the ", "cat ", "sat ", "on ", "a ", "mat", ". ", "dog ", "ran\n", "zebra "];
        (0..40)
            .map(|_| {
                (0..rng.random_range(0..30)).flat_map(|_| words[rng.random_range(0..words.len())].bytes()).collect()
            })
            .collect()
    }

    #[test]
    fn every_distribution_sums_to_one_at_every_order() {
        let docs = some_text();
        let m = Ngram::fit(docs.iter().map(|d| d.as_slice()), MAX_ORDER).unwrap();
        // Start padding gives every n-gram below the top order a left extension, so raw and
        // continuation counts have the same n-grams.
        for level in &m.levels[..MAX_ORDER - 1] {
            assert!(level.raw.iter().zip(&level.cont).all(|(r, c)| *r > 0.0 && *c > 0.0));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for trial in 0..200 {
            // Seen contexts (prefixes of training documents) and random bytes, of every length.
            let context: Vec<u8> = if trial % 2 == 0 {
                let d = &docs[rng.random_range(0..docs.len())];
                d[..rng.random_range(0..=d.len())].to_vec()
            } else {
                (0..rng.random_range(0..12)).map(|_| rng.random()).collect()
            };
            for order in 1..=MAX_ORDER {
                let p = m.distribution(order, &context).unwrap();
                assert_eq!(p.len(), SYMBOLS);
                let sum: f64 = p.iter().sum();
                assert!((sum - 1.0).abs() < 1e-9, "order {order}, context {context:?}: sums to {sum}");
                assert!(p.iter().all(|&x| x > 0.0 && x.is_finite()), "order {order}: a zero or non-finite probability");
            }
        }
    }

    /// "aab" and "b": raw unigram counts a 2, b 2, END 2 (total 6); each seen twice, so
    /// n₁ = 0, n₂ = 3: Y = 0, D₂ = 2 − 0 = 2 clamped to 1.99.
    #[test]
    fn order_one_is_the_hand_computed_kneser_ney_unigram() {
        let m = fit(&[b"aab", b"b"], 1);
        let d2 = 2.0 - MIN_DISCOUNT;
        let gamma = 3.0 * d2 / 6.0;
        let u = 1.0 / 257.0;
        let p = m.distribution(1, b"").unwrap();
        for (s, want) in [(b'a' as usize, (2.0 - d2) / 6.0 + gamma * u), (b'b' as usize, (2.0 - d2) / 6.0 + gamma * u)]
        {
            assert!((p[s] - want).abs() < 1e-12, "p[{s}] = {} want {want}", p[s]);
        }
        assert!((p[END] - ((2.0 - d2) / 6.0 + gamma * u)).abs() < 1e-12);
        assert!((p[b'z' as usize] - gamma * u).abs() < 1e-12);
        // The context does not matter at order 1.
        assert_eq!(p, m.distribution(1, b"xyz").unwrap());
    }

    /// "abca": counts a 2, b 1, c 1, END 1 (total 5): n₁ = 3, n₂ = 1, so Y = 3/5,
    /// D₁ = 1 − 2·(3/5)·(1/3) = 0.6, D₂ = 2 − 3·(3/5)·0 = 2 → 1.99; D₃₊ has n₃ = 0, so Y.
    /// The bigram level below order 2 uses continuation counts: distinct left neighbours of
    /// each symbol (the start symbol included): a ← {start, c}, b ← {a}, c ← {b}, END ← {a}.
    #[test]
    fn order_one_and_two_follow_the_formulas() {
        let m = fit(&[b"abca"], 2);
        let u = 1.0 / 257.0;
        let (d1, d2) = (0.6, 2.0 - MIN_DISCOUNT);
        let raw = m.distribution(1, b"").unwrap();
        let gamma = (3.0 * d1 + d2) / 5.0;
        assert!((raw[b'a' as usize] - ((2.0 - d2) / 5.0 + gamma * u)).abs() < 1e-12);
        assert!((raw[b'b' as usize] - ((1.0 - d1) / 5.0 + gamma * u)).abs() < 1e-12);
        // Continuation unigram: a 2, b 1, c 1, END 1 — the same counts here, so the same
        // discounts and the same distribution.
        // Order 2 after "a": raw bigrams a→b 1, a→END 1 (total 2); the bigram level's raw
        // count-of-counts: (start a) 1, (a b) 1, (b c) 1, (c a) 1, (a END) 1 → n₁ = 5, n₂ = 0:
        // Y = 1, D₁ = 1 − 0 = 1 → 0.99.
        let d = 1.0 - MIN_DISCOUNT;
        let p = m.distribution(2, b"xa").unwrap();
        let back = 2.0 * d / 2.0;
        assert!((p[b'b' as usize] - ((1.0 - d) / 2.0 + back * raw[b'b' as usize])).abs() < 1e-12);
        assert!((p[b'c' as usize] - back * raw[b'c' as usize]).abs() < 1e-12);
        // An unseen context passes the level below through.
        assert_eq!(m.distribution(2, b"q").unwrap(), raw);
    }

    #[test]
    fn evaluate_agrees_with_distribution() {
        let docs = some_text();
        let (train, held) = docs.split_at(30);
        let m = Ngram::fit(train.iter().map(|d| d.as_slice()), 4).unwrap();
        let scores = m.evaluate(held.iter().map(|d| d.as_slice())).unwrap();
        let bytes: usize = held.iter().map(|d| d.len()).sum();
        for s in &scores {
            let mut bits = 0.0;
            let mut hits = 0;
            for d in held {
                for i in 0..=d.len() {
                    let p = m.distribution(s.order, &d[..i]).unwrap();
                    let w = d.get(i).map_or(END, |&b| b as usize);
                    bits -= p[w].log2();
                    let best = (0..SYMBOLS).fold(0, |b, x| if p[x] > p[b] { x } else { b });
                    hits += (best == w) as u64;
                }
            }
            assert!((s.bits_per_byte - bits / bytes as f64).abs() < 1e-9, "order {}: {s:?} vs {bits}", s.order);
            assert_eq!(s.accuracy, hits as f64 / s.predictions as f64, "order {}", s.order);
            assert_eq!(s.bytes, bytes as u64);
            assert_eq!(s.predictions, (bytes + held.len()) as u64);
        }
    }

    #[test]
    fn higher_orders_learn_a_repetitive_text() {
        let text = b"abcabcabcabcabcabcabcabcabcabcabc".repeat(50);
        let m = fit(&[&text], 5);
        let held = b"abc".repeat(300);
        let s = m.evaluate([held.as_slice()]).unwrap();
        assert_eq!(s.len(), 5);
        assert!(s[0].bits_per_byte > 1.4, "order 1: {:?}", s[0]);
        for o in &s[2..] {
            assert!(o.bits_per_byte < 0.1 * s[0].bits_per_byte, "order {}: {o:?} vs order 1 {:?}", o.order, s[0]);
            assert!(o.accuracy > 0.95, "{o:?}");
        }
    }

    #[test]
    fn random_bytes_stay_near_eight_bits() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let train: Vec<u8> = (0..200_000).map(|_| rng.random()).collect();
        let held: Vec<u8> = (0..20_000).map(|_| rng.random()).collect();
        let m = fit(&[&train], 4);
        for s in m.evaluate([held.as_slice()]).unwrap() {
            assert!(s.bits_per_byte > 7.9 && s.bits_per_byte.is_finite(), "{s:?}");
        }
    }

    #[test]
    fn held_out_text_never_gives_nan_or_inf() {
        let m = fit(&[b"hello world", b"hello there"], 6);
        let docs: [&[u8]; 4] = [b"hello", b"\xff\x00 unseen bytes \xfe", b"h", b""];
        for s in m.evaluate(docs).unwrap() {
            assert!(s.bits_per_byte.is_finite() && s.bits_per_byte > 0.0, "{s:?}");
            assert!((0.0..=1.0).contains(&s.accuracy), "{s:?}");
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        let docs: [&[u8]; 1] = [b"abc"];
        for order in [0, MAX_ORDER + 1] {
            let e = Ngram::fit(docs, order).err().expect("out of range").to_string();
            assert!(e.contains("out of range"), "{e}");
        }
        let e = Ngram::fit([b"".as_slice()], 3).err().expect("empty").to_string();
        assert!(e.contains("empty"), "{e}");
        let e = Ngram::fit(std::iter::empty(), 3).err().expect("empty").to_string();
        assert!(e.contains("empty"), "{e}");
        let m = fit(&docs, 3);
        let e = m.evaluate([b"".as_slice()]).err().expect("empty held out").to_string();
        assert!(e.contains("held-out text is empty"), "{e}");
        assert!(m.distribution(4, b"").is_err() && m.distribution(0, b"").is_err());
    }
}
