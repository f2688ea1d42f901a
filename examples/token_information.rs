//! How much each module's readout says about the current token, on random 12-symbol input:
//! `share/accuracy(rate)` per module, where share is the part of the readout variance explained by
//! the token, accuracy that of a ridge-regression read-out of the token fitted on the first 2/3 of
//! the ticks and tested on the rest (chance 8 %), and rate the mean spike rate. The decoder can
//! only learn what Broca's readout carries; this is the diagnostic for that.
//! Knobs (env): R (recurrent strength), PS (feed-forward projection scale), IG (input gain per
//! √E), K (kWTA winners), GM (connection gain multiplier), CG ("index:gain,…" per connection),
//! TPT (ticks per token), ALPHA (membrane leak; the model fixes 0.95, docs/model.md §8.4 — for diagnosis only).
//!     cargo run --release --example token_information
use neurogen::*;
use rand::{Rng, SeedableRng};
fn main() {
    let mut cfg = ModelConfig::preset(Preset::Tiny);
    let e = |k: &str, d: f32| std::env::var(k).map(|v| v.parse().unwrap()).unwrap_or(d);
    cfg.init.recurrent_strength = e("R", cfg.init.recurrent_strength);
    cfg.init.projection_scale = e("PS", cfg.init.projection_scale);
    cfg.init.input_gain_per_sqrt_e = e("IG", cfg.init.input_gain_per_sqrt_e);
    cfg.init.projection_fanout = e("PF", 16.0) as usize;
    cfg.init.recurrent_spread = e("RS", cfg.init.recurrent_spread);
    let k = e("K", 50.0) as usize;
    for m in cfg.modules.iter_mut() {
        m.k = k;
    }
    cfg.ticks_per_token = e("TPT", 1.0) as usize;
    cfg.lif.alpha = e("ALPHA", cfg.lif.alpha);
    let gm = e("GM", 1.0);
    for c in cfg.connections.iter_mut() {
        c.gain *= gm;
    }
    if let Ok(v) = std::env::var("CG") {
        for kv in v.split(',') {
            let (i, g) = kv.split_once(':').unwrap();
            cfg.connections[i.parse::<usize>().unwrap()].gain = g.parse().unwrap();
        }
    }
    let mut eng = Engine::new(create_backend(BackendKind::Cpu).unwrap(), cfg.clone(), 1).unwrap();
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let toks: Vec<u32> = (0..3000).map(|_| 97 + r.random_range(0..12)).collect();
    eng.reset(1).unwrap();
    let mut ys: Vec<Vec<Vec<f32>>> = vec![vec![]; 6];
    let mut rates = [0.0; 6];
    for &t in &toks {
        let s = eng.forward(&[vec![t]]).unwrap();
        for m in 0..6 {
            rates[m] += s.spike_rates[m] / toks.len() as f64;
        }
        for m in 0..6 {
            let b = eng.state().unwrap().modules[m].y;
            ys[m].push(bytemuck::cast_slice(&eng.backend_mut().download(b).unwrap()).to_vec());
        }
    }
    let mut out = String::new();
    for m in 0..6 {
        let y = &ys[m][20..];
        let tk = &toks[20..];
        let d = y[0].len();
        let mean: Vec<f64> = (0..d).map(|i| y.iter().map(|v| v[i] as f64).sum::<f64>() / y.len() as f64).collect();
        let tot: f64 = y.iter().map(|v| (0..d).map(|i| (v[i] as f64 - mean[i]).powi(2)).sum::<f64>()).sum();
        let mut within = 0.0;
        for c in 97..109u32 {
            let cls: Vec<&Vec<f32>> = y.iter().zip(tk).filter(|(_, &t)| t == c).map(|(v, _)| v).collect();
            if cls.is_empty() {
                continue;
            }
            let cm: Vec<f64> =
                (0..d).map(|i| cls.iter().map(|v| v[i] as f64).sum::<f64>() / cls.len() as f64).collect();
            within += cls.iter().map(|v| (0..d).map(|i| (v[i] as f64 - cm[i]).powi(2)).sum::<f64>()).sum::<f64>();
        }
        let acc = ridge_accuracy(y, tk);
        out += &format!(
            "{}:{:.2}/{:.2}({:.1}%) ",
            &ModuleId::ALL[m].name()[..3],
            1.0 - within / tot,
            acc,
            rates[m] * 100.0
        );
    }
    println!("{out}");
}

/// Held-out accuracy of a ridge-regression read-out of the current token (fit on the first 2/3).
fn ridge_accuracy(y: &[Vec<f32>], tk: &[u32]) -> f64 {
    let d = y[0].len() + 1;
    let n_fit = y.len() * 2 / 3;
    let x = |t: usize, i: usize| if i + 1 == d { 1.0 } else { y[t][i] as f64 };
    let mut a = vec![0.0f64; d * d];
    let mut b = vec![0.0f64; d * 12];
    for t in 0..n_fit {
        for i in 0..d {
            let xi = x(t, i);
            for j in 0..d {
                a[i * d + j] += xi * x(t, j);
            }
            b[i * 12 + (tk[t] - 97) as usize] += xi;
        }
    }
    for i in 0..d {
        a[i * d + i] += 1e-3 * n_fit as f64;
    }
    // Gauss-Jordan solve a * w = b.
    for c in 0..d {
        let p = a[c * d + c];
        for j in 0..d {
            a[c * d + j] /= p;
        }
        for j in 0..12 {
            b[c * 12 + j] /= p;
        }
        for r in 0..d {
            if r != c {
                let f = a[r * d + c];
                if f != 0.0 {
                    for j in 0..d {
                        a[r * d + j] -= f * a[c * d + j];
                    }
                    for j in 0..12 {
                        b[r * 12 + j] -= f * b[c * 12 + j];
                    }
                }
            }
        }
    }
    let mut ok = 0;
    for t in n_fit..y.len() {
        let sc: Vec<f64> = (0..12).map(|k| (0..d).map(|i| x(t, i) * b[i * 12 + k]).sum()).collect();
        let best = (0..12).max_by(|&p, &q| sc[p].partial_cmp(&sc[q]).unwrap()).unwrap();
        ok += (best as u32 + 97 == tk[t]) as usize;
    }
    ok as f64 / (y.len() - n_fit) as f64
}
