//! PNG charts of a run's metrics (plotters, bitmap backend, an embedded DejaVu Sans Mono font so
//! no system font is needed): loss, accuracy, throughput, module activity, neuromodulators.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::{NeuroError, Result};
use crate::pipeline::metrics::{module_names, Metrics};

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSansMono.ttf");

fn chart_err(path: &Path, e: impl std::fmt::Display) -> NeuroError {
    NeuroError::InvalidInput(format!("chart {}: {e}", path.display()))
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            let _ = plotters::style::register_font("sans-serif", style, FONT);
        }
    });
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// One line chart with several named series over the training step.
fn line_chart(path: &Path, title: &str, y_label: &str, series: &[(&str, Vec<(f64, f64)>)]) -> Result<()> {
    register_font();
    let root = BitMapBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| chart_err(path, e))?;
    let xs = series.iter().flat_map(|(_, s)| s.iter().map(|p| p.0));
    let ys = series.iter().flat_map(|(_, s)| s.iter().map(|p| p.1)).filter(|y| y.is_finite());
    let (x0, x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (y0, y1) = ys.fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(y), b.max(y)));
    let (x0, x1) = if x0 <= x1 { (x0, x1.max(x0 + 1.0)) } else { (0.0, 1.0) };
    let pad = ((y1 - y0) * 0.05).max(1e-6);
    let (y0, y1) = if y0 <= y1 { (y0 - pad, y1 + pad) } else { (0.0, 1.0) };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| chart_err(path, e))?;
    chart.configure_mesh().x_desc("step").y_desc(y_label).draw().map_err(|e| chart_err(path, e))?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
            .map_err(|e| chart_err(path, e))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| chart_err(path, e))?;
    }
    root.present().map_err(|e| chart_err(path, e))
}

/// Reads `metrics.jsonl` and writes the run's charts into `dir`.
pub fn draw_all(metrics: &Path, dir: &Path) -> Result<()> {
    let text = std::fs::read_to_string(metrics).map_err(|e| chart_err(metrics, e))?;
    let rows: Vec<Metrics> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    if rows.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| chart_err(dir, e))?;
    let s = |f: &dyn Fn(&Metrics) -> f64| rows.iter().map(|m| (m.step as f64, f(m))).collect::<Vec<_>>();
    line_chart(&dir.join("loss.png"), "training loss", "nats / token", &[("loss", s(&|m| m.loss))])?;
    line_chart(&dir.join("accuracy.png"), "next-token accuracy", "accuracy", &[("accuracy", s(&|m| m.accuracy))])?;
    line_chart(&dir.join("throughput.png"), "throughput", "tokens / s", &[("tokens/s", s(&|m| m.tokens_per_s))])?;
    let names = module_names();
    let rates: Vec<(&str, Vec<(f64, f64)>)> = (0..6).map(|i| (names[i], s(&|m| m.spike_rates[i]))).collect();
    line_chart(&dir.join("activity.png"), "module spike rates", "spikes / neuron / tick", &rates)?;
    line_chart(
        &dir.join("neuromodulators.png"),
        "neuromodulators (mean over sequences and modules)",
        "level",
        &[("dopamine", s(&|m| m.dopamine)), ("serotonin", s(&|m| m.serotonin))],
    )
}
