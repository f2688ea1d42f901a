//! Is every module alive on real text? Per module, over the bytes of the CI's Python-docs sample
//! fed one at a time: the spike rate (spikes per neuron and tick), that of its input neurons and
//! that of the rest (only recurrence drives those), and the mean fraction of its columns with at
//! least one spike per tick. The graded regime of docs/model.md §10 asks each module for a rate
//! between 1 % and 20 % and activity beyond its input neurons (here: the rest fire at ≥ 1 %).
//!     cargo run --release --example activity [-- --preset seed --backend cuda] [--tokens N] [--set FIELD=VALUE …]
use neurogen::backend::{unpack_spikes, COLUMN};
use neurogen::pipeline::corpus::{self, OnBadData};
use neurogen::*;

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let preset = match flag("--preset").as_deref() {
        Some("small") => Preset::Small,
        Some("seed") => Preset::Seed,
        _ => Preset::Tiny,
    };
    let backend = match flag("--backend").as_deref() {
        Some("cuda") => BackendKind::Cuda,
        Some("wgpu") => BackendKind::Wgpu,
        _ => BackendKind::Cpu,
    };
    let tokens: usize = flag("--tokens").map(|p| p.parse()).transpose()?.unwrap_or(256);
    let mut cfg = ModelConfig::preset(preset);
    for (i, a) in args.iter().enumerate() {
        if a == "--set" {
            cfg = cfg.with_field(&args[i + 1])?;
        }
    }
    let tok = Tokenizer::bytes();
    tok.configure(&mut cfg);
    let files = corpus::resolve(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/python-docs/train.jsonl"))?;
    let (packer, _) = corpus::load(files, &tok, tokens, 0, 1, OnBadData::Refuse)?;
    let text = packer.train[0].clone();
    let mut eng = Engine::new(create_backend(backend)?, cfg.clone(), 1)?;
    eng.reset(1)?;
    // Per module, averaged over the text: rate, input-neuron rate, rate of the rest, active columns.
    let mut sums = vec![[0.0f64; 4]; cfg.modules.len()];
    let frac = |bits: &[u32]| bits.iter().filter(|&&s| s == 1).count() as f64 / bits.len().max(1) as f64;
    for &t in &text {
        eng.forward(&[vec![t]])?;
        let parity = (eng.ticks() % 2) as usize;
        for (m, mc) in cfg.modules.iter().enumerate() {
            let spk = eng.state().expect("reset").modules[m].spk[parity];
            let bits = unpack_spikes(&eng.backend_mut().download(spk)?, 1, mc.n);
            let active: Vec<u32> = bits.chunks(COLUMN).map(|c| c.contains(&1) as u32).collect();
            let tick = [frac(&bits), frac(&bits[..mc.inputs]), frac(&bits[mc.inputs..]), frac(&active)];
            sums[m].iter_mut().zip(tick).for_each(|(s, x)| *s += x / text.len() as f64);
        }
    }
    println!("activity on {} bytes of real text, preset {preset:?}, {backend}", text.len());
    println!("{:<13} {:>7} {:>7} {:>7} {:>8} {:>7}  graded", "module", "rate", "inputs", "rest", "columns", "I/N");
    for (mc, [rate, inputs, rest, cols]) in cfg.modules.iter().zip(sums) {
        let graded = (0.01..=0.20).contains(&rate) && rest >= 0.01;
        let pct = |x: f64| format!("{:.2}%", 100.0 * x);
        println!(
            "{:<13} {:>7} {:>7} {:>7} {:>8} {:>7}  {}",
            mc.id.name(),
            pct(rate),
            pct(inputs),
            pct(rest),
            pct(cols),
            pct(mc.inputs as f64 / mc.n as f64),
            if graded { "yes" } else { "no" }
        );
    }
    Ok(())
}
