//! Is every module alive on real text? Per module, over the bytes of the CI's Python-docs sample
//! fed one at a time: the spike rate (spikes per neuron and tick), the mean fraction of its
//! columns with at least one spike per tick, and the same for the columns past its input neurons
//! (only recurrence drives those). The graded regime of docs/model.md §10 asks each module for a
//! rate between 1 % and 20 % with more columns active than it has input columns.
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
    let nm = cfg.modules.len();
    let (mut rate, mut cols, mut beyond) = (vec![0.0; nm], vec![0.0; nm], vec![0.0; nm]);
    for &t in &text {
        let s = eng.forward(&[vec![t]])?;
        let parity = (eng.ticks() % 2) as usize;
        for (m, mc) in cfg.modules.iter().enumerate() {
            rate[m] += s.spike_rates[m] / text.len() as f64;
            let spk = eng.state().expect("reset").modules[m].spk[parity];
            let bits = unpack_spikes(&eng.backend_mut().download(spk)?, 1, mc.n);
            let active: Vec<bool> = bits.chunks(COLUMN).map(|c| c.iter().any(|&s| s == 1)).collect();
            let first = mc.inputs.div_ceil(COLUMN); // columns holding input neurons
            cols[m] += active.iter().filter(|&&a| a).count() as f64 / active.len() as f64 / text.len() as f64;
            let rest = active.len() - first.min(active.len());
            if rest > 0 {
                beyond[m] += active[first..].iter().filter(|&&a| a).count() as f64 / rest as f64 / text.len() as f64;
            }
        }
    }
    println!("activity on {} bytes of real text, preset {preset:?}, {backend}", text.len());
    println!("{:<13} {:>7} {:>9} {:>14} {:>8}  graded", "module", "rate", "columns", "past inputs", "inputs");
    for (m, mc) in cfg.modules.iter().enumerate() {
        let input_cols = mc.inputs.div_ceil(COLUMN) as f64 / (mc.n / COLUMN) as f64;
        let graded = (0.01..=0.20).contains(&rate[m]) && cols[m] > input_cols;
        println!(
            "{:<13} {:>6.2}% {:>8.1}% {:>13.1}% {:>7.1}%  {}",
            mc.id.name(),
            100.0 * rate[m],
            100.0 * cols[m],
            100.0 * beyond[m],
            100.0 * input_cols,
            if graded { "yes" } else { "no" }
        );
    }
    Ok(())
}
