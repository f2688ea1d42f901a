//! How much each module's readout says about the current token: the share of readout variance
//! explained by the token (between-class share) on random 12-symbol input, with spike rates.
//! The decoder can only learn what Broca's readout carries; this is the diagnostic for that.
//! Knobs (env): R (recurrent strength), PS (projection scale), IG (input gain per √E), K (kWTA
//! winners), GM (connection gain multiplier), TPT (ticks per token).
//!     cargo run --release --example token_information
use neurogen::*;
use rand::{Rng, SeedableRng};
fn main() {
    let mut cfg = ModelConfig::preset(Preset::Tiny);
    let e = |k: &str, d: f32| std::env::var(k).map(|v| v.parse().unwrap()).unwrap_or(d);
    cfg.init.recurrent_strength = e("R", 16.0);
    cfg.init.projection_scale = e("PS", 10.0);
    cfg.init.input_gain_per_sqrt_e = e("IG", 16.0);
    let k = e("K", 50.0) as usize;
    for m in cfg.modules.iter_mut() {
        m.k = k;
    }
    cfg.ticks_per_token = e("TPT", 1.0) as usize;
    let gm = e("GM", 1.0);
    for c in cfg.connections.iter_mut() {
        c.gain *= gm;
    }
    let mut eng = Engine::new(create_backend(BackendKind::Cpu).unwrap(), cfg.clone(), 1).unwrap();
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let toks: Vec<u32> = (0..300).map(|_| 97 + r.random_range(0..12)).collect();
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
        out += &format!("{}:{:.2}({:.1}%) ", &ModuleId::ALL[m].name()[..3], 1.0 - within / tot, rates[m] * 100.0);
    }
    println!("{out}");
}
