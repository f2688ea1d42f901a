//! What each module's state says about the recent past, on real text: per module, the held-out
//! accuracy of a ridge-regression probe that recovers the byte at lags 0..=8 (lag 0 = the byte
//! being read) and the next byte, from the module's spike traces `e` (every neuron) after the
//! byte's last tick. Fitted on the first 2/3 of the positions, tested on the rest; the text is
//! `tests/data/python-docs/train.jsonl` (the CI sample). The decoder can only learn what its
//! features carry; this is the diagnostic for that (docs/model.md §4, LEARNING.md).
//!     cargo run --release --example token_information [-- --preset small] [--set FIELD=VALUE …]
//! Knobs: `--preset tiny|small`, `--positions N` (default 6000), and `--set` as on the CLI.
use neurogen::pipeline::corpus::{self, OnBadData};
use neurogen::*;

const LAGS: usize = 9;
/// Token classes of the byte tokenizer (bytes, BOS, EOS, PAD).
const CLASSES: usize = 259;

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let preset = match flag("--preset").as_deref() {
        Some("small") => Preset::Small,
        _ => Preset::Tiny,
    };
    let positions: usize = flag("--positions").map(|p| p.parse()).transpose()?.unwrap_or(6000);
    let mut cfg = ModelConfig::preset(preset);
    for (i, a) in args.iter().enumerate() {
        if a == "--set" {
            cfg = cfg.with_field(&args[i + 1])?;
        }
    }
    let tok = Tokenizer::bytes();
    let files = corpus::resolve(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/python-docs/train.jsonl"))?;
    let (packer, _) = corpus::load(files, &tok, positions + 1, 0, 1, OnBadData::Refuse)?;
    let text: Vec<u32> = packer.train[0][1..].to_vec();
    let mut eng = Engine::new(create_backend(BackendKind::Cpu)?, cfg.clone(), 1)?;
    eng.reset(1)?;
    let mut traces: Vec<Vec<Vec<f32>>> = vec![Vec::new(); cfg.modules.len()];
    let mut rates = vec![0.0; cfg.modules.len()];
    for &t in &text {
        let s = eng.forward(&[vec![t]])?;
        for (m, rate) in rates.iter_mut().enumerate() {
            *rate += s.spike_rates[m] / text.len() as f64;
            let e = eng.state().expect("reset").modules[m].e;
            traces[m].push(bytemuck::cast_slice(&eng.backend_mut().download(e)?).to_vec());
        }
    }
    println!("probe accuracy from each module's traces ({} positions of real text, preset {preset:?})", text.len());
    println!("{:<13} {:>6}  lag 0..8 | next", "module", "rate");
    for (m, mc) in cfg.modules.iter().enumerate() {
        // Targets: lag k = the byte k positions back (k = 0: the byte just read), then the next one.
        let first = LAGS; // positions with every lag defined
        let last = text.len() - 1; // … and a next byte
        let rows: Vec<usize> = (first..last).collect();
        let target = |t: usize, k: usize| if k < LAGS { text[t - k] } else { text[t + 1] } as usize;
        let acc = ridge_accuracy(&traces[m], &rows, LAGS + 1, target);
        let cells: Vec<String> = acc.iter().map(|a| format!("{:>4.0}%", 100.0 * a)).collect();
        println!("{:<13} {:>5.1}%  {} | {}", mc.id.name(), 100.0 * rates[m], cells[..LAGS].join(" "), cells[LAGS]);
    }
    Ok(())
}

/// Held-out accuracy of ridge-regression read-outs (one-hot targets, one per task), fitted on the
/// first 2/3 of `rows` of `x` and tested on the rest.
fn ridge_accuracy(x: &[Vec<f32>], rows: &[usize], tasks: usize, target: impl Fn(usize, usize) -> usize) -> Vec<f64> {
    let d = x[0].len() + 1;
    let n_fit = rows.len() * 2 / 3;
    let feat = |t: usize, i: usize| if i + 1 == d { 1.0 } else { x[t][i] as f64 };
    let cols = tasks * CLASSES;
    let mut a = vec![0.0f64; d * d];
    let mut b = vec![0.0f64; d * cols];
    for &t in &rows[..n_fit] {
        let f: Vec<f64> = (0..d).map(|i| feat(t, i)).collect();
        for i in 0..d {
            if f[i] == 0.0 {
                continue;
            }
            for j in 0..d {
                a[i * d + j] += f[i] * f[j];
            }
            for k in 0..tasks {
                b[i * cols + k * CLASSES + target(t, k)] += f[i];
            }
        }
    }
    for i in 0..d {
        a[i * d + i] += 1e-2 * n_fit as f64;
    }
    // Gauss–Jordan on [a | b] (a is symmetric positive definite).
    for c in 0..d {
        let p = a[c * d + c];
        for j in 0..d {
            a[c * d + j] /= p;
        }
        for j in 0..cols {
            b[c * cols + j] /= p;
        }
        for r in 0..d {
            let f = a[r * d + c];
            if r == c || f == 0.0 {
                continue;
            }
            for j in 0..d {
                a[r * d + j] -= f * a[c * d + j];
            }
            for j in 0..cols {
                b[r * cols + j] -= f * b[c * cols + j];
            }
        }
    }
    let tested = &rows[n_fit..];
    (0..tasks)
        .map(|k| {
            let ok = tested
                .iter()
                .filter(|&&t| {
                    let score = |c: usize| (0..d).map(|i| feat(t, i) * b[i * cols + k * CLASSES + c]).sum::<f64>();
                    let best = (0..CLASSES).max_by(|&p, &q| score(p).total_cmp(&score(q))).unwrap_or(0);
                    best == target(t, k)
                })
                .count();
            ok as f64 / tested.len().max(1) as f64
        })
        .collect()
}
