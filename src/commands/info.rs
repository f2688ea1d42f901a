//! `neurogen info`: adapter, limits, parameter count and memory estimate for the preset.

use anyhow::Result;
use clap::Args;
use neurogen::bench;

use super::GlobalArgs;

#[derive(Args)]
pub struct InfoArgs {
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pub global: GlobalArgs,
}

pub fn run(g: &GlobalArgs, a: &InfoArgs) -> Result<()> {
    let cfg = g.base_config()?;
    cfg.validate()?;
    let be = g.create_backend()?;
    let i = bench::model_info(&*be, &cfg);
    if a.json {
        // The whole configuration too: its field paths are what `--set` takes.
        let mut v = serde_json::to_value(&i)?;
        v["config"] = serde_json::to_value(&cfg)?;
        println!("{v}");
    } else {
        let mib = |b: u64| b as f64 / 1048576.0;
        println!("backend   {} on {}", i.backend, i.device);
        println!("limits    buffer {} B, storage binding {} B", i.max_buffer_bytes, i.max_binding_bytes);
        println!(
            "preset    {} (V = {}, E = {}, {} neurons, {} recurrent synapses)",
            i.preset, i.vocab, i.embed, i.neurons, i.synapses
        );
        println!(
            "params    {} words ({} weights read by the forward); device memory {:.1} MiB at batch 1 (+{:.1} MiB per sequence); host memory {:.1} MiB",
            i.parameters,
            i.precision.name(),
            mib(i.memory_estimate_bytes_b1),
            mib(i.state_bytes_per_sequence as u64),
            mib(i.host_estimate_bytes_b1)
        );
        println!("decoder   D = {} features: {}", cfg.decoder_width(), features(&cfg));
        println!(
            "learning  rule {:?}, decoder {:?} at {}",
            cfg.learn.rule, cfg.learn.decoder_optimizer, cfg.learn.decoder_rate
        );
        println!("fits      {}", i.fit_error.as_deref().unwrap_or("yes"));
    }
    Ok(())
}

/// The decoder's feature blocks, e.g. "Thalamus readout (128), Wernicke trace (1024)".
fn features(cfg: &neurogen::ModelConfig) -> String {
    let blocks: Vec<String> = cfg
        .decoder_features
        .iter()
        .map(|f| format!("{} {:?} ({})", f.module.name(), f.signal, cfg.feature_width(f)).to_lowercase())
        .collect();
    blocks.join(", ")
}
