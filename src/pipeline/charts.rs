//! PNG charts of a run's metrics (plotters, bitmap backend, an embedded DejaVu Sans Mono font so
//! no system font is needed): loss, accuracy, throughput, module activity, neuromodulators.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::{NeuroError, Result};
use crate::pipeline::metrics::{module_names, Metrics, BASELINES};

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

/// A chart's pixel size.
pub const CHART_SIZE: (u32, u32) = (900, 500);

/// One named series: (step, value) points.
pub type Series<'a> = (&'a str, Vec<(f64, f64)>);

/// The trailing moving average of `pts` over `window` points (non-finite points skipped).
pub fn moving_average(pts: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    let finite: Vec<(f64, f64)> = pts.iter().copied().filter(|p| p.1.is_finite()).collect();
    let w = window.max(1);
    let mut sum = 0.0;
    finite
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            sum += y;
            if i >= w {
                sum -= finite[i - w].1;
            }
            (x, sum / (i + 1).min(w) as f64)
        })
        .collect()
}

/// Runs of consecutive finite points: a NaN or Inf breaks the line instead of sending it off the
/// chart.
fn finite_runs(pts: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    pts.split(|p| !(p.0.is_finite() && p.1.is_finite())).filter(|r| !r.is_empty()).map(<[_]>::to_vec).collect()
}

/// Draws a line chart with several named series over the training step onto `root`; returns the
/// plotting area's pixel ranges (x, y), inside which every line stays.
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    y_label: &str,
    series: &[Series],
) -> std::result::Result<(std::ops::Range<i32>, std::ops::Range<i32>), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let finite = || series.iter().flat_map(|(_, s)| s.iter()).filter(|p| p.0.is_finite() && p.1.is_finite());
    let (x0, x1) = finite().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = finite().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    // Both ranges are padded, so no stroke (2 px wide) touches an axis or leaves the plot.
    let (x0, x1) = if x0 <= x1 { (x0, x1.max(x0 + 1.0)) } else { (0.0, 1.0) };
    let xpad = (x1 - x0) * 0.02;
    let (x0, x1) = (x0 - xpad, x1 + xpad);
    let pad = ((y1 - y0) * 0.05).max(1e-6);
    let (y0, y1) = if y0 <= y1 { (y0 - pad, y1 + pad) } else { (0.0, 1.0) };
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(90)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(e)?;
    chart.configure_mesh().x_desc("step").y_desc(y_label).draw().map_err(e)?;
    let area = chart.plotting_area().get_pixel_range();
    for (i, (name, pts)) in series.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        let mut first = true;
        for run in finite_runs(pts) {
            let drawn = chart.draw_series(LineSeries::new(run, c.stroke_width(2))).map_err(e)?;
            if std::mem::take(&mut first) {
                drawn.label(*name).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
            }
        }
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(area)
}

/// One line chart as a PNG file.
fn line_chart(path: &Path, title: &str, y_label: &str, series: &[Series]) -> Result<()> {
    register_font();
    let root = BitMapBackend::new(path, CHART_SIZE).into_drawing_area();
    draw(&root, title, y_label, series).map(|_| ()).map_err(|e| chart_err(path, e))
}

/// One line chart as RGB pixels, with its plotting area's pixel ranges (for tests).
pub fn render_rgb(title: &str, series: &[Series]) -> Result<(Vec<u8>, std::ops::Range<i32>, std::ops::Range<i32>)> {
    register_font();
    let mut buf = vec![0u8; (CHART_SIZE.0 * CHART_SIZE.1 * 3) as usize];
    let (xs, ys) = {
        let root = BitMapBackend::with_buffer(&mut buf, CHART_SIZE).into_drawing_area();
        draw(&root, title, "value", series).map_err(|e| chart_err(Path::new(title), e))?
    };
    Ok((buf, xs, ys))
}

/// The series colours, in order ([`render_rgb`]'s first series is drawn in `SERIES_COLORS[0]`).
pub const SERIES_COLORS: [(u8, u8, u8); 6] = {
    let mut out = [(0, 0, 0); 6];
    let mut i = 0;
    while i < 6 {
        out[i] = (COLORS[i].0, COLORS[i].1, COLORS[i].2);
        i += 1;
    }
    out
};

/// A raw series and its moving average (window: a tenth of the run, 5 to 100 steps).
fn with_average<'a>(name: &'a str, avg_name: &'a str, pts: Vec<(f64, f64)>) -> [Series<'a>; 2] {
    let window = (pts.len() / 10).clamp(5, 100);
    let avg = moving_average(&pts, window);
    [(name, pts), (avg_name, avg)]
}

/// `(order, bits per byte)` of a run's `baselines.json`; none if it is missing or unreadable.
fn baselines(path: &Path) -> Vec<(usize, f64)> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    let Ok(serde_json::Value::Array(rows)) = serde_json::from_str(&text) else { return Vec::new() };
    rows.iter()
        .filter_map(|r| Some((r.get("order")?.as_u64()? as usize, r.get("bits_per_byte")?.as_f64()?)))
        .filter(|p| p.1.is_finite())
        .collect()
}

/// Reads `metrics.jsonl` (and `baselines.json` beside it) and writes the run's charts into `dir`.
pub fn draw_all(metrics: &Path, dir: &Path) -> Result<()> {
    let text = std::fs::read_to_string(metrics).map_err(|e| chart_err(metrics, e))?;
    let mut rows: Vec<Metrics> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    rows.sort_by_key(|m| m.step);
    if rows.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| chart_err(dir, e))?;
    let s = |f: &dyn Fn(&Metrics) -> f64| rows.iter().map(|m| (m.step as f64, f(m))).collect::<Vec<_>>();
    // Bits per byte beside the n-gram baselines of the run's split (older runs: nats per token).
    let in_bits = rows.iter().all(|m| m.bits_per_byte > 0.0);
    let mut loss: Vec<Series> = if in_bits {
        with_average("train bits/byte", "moving average", s(&|m| m.bits_per_byte)).into()
    } else {
        with_average("loss", "moving average", s(&|m| m.loss)).into()
    };
    let names: Vec<String> = (2..=5).map(|n| format!("{n}-gram (held out)")).collect();
    if in_bits {
        let (first, last) = (rows[0].step as f64, rows[rows.len() - 1].step as f64);
        for (order, bits) in baselines(&metrics.with_file_name(BASELINES)) {
            if (2..=5).contains(&order) {
                loss.push((&names[order - 2], vec![(first, bits), (last, bits)]));
            }
        }
    }
    let unit = if in_bits { "bits / byte" } else { "nats / token" };
    line_chart(&dir.join("loss.png"), "training loss", unit, &loss)?;
    line_chart(
        &dir.join("accuracy.png"),
        "next-token accuracy",
        "accuracy",
        &with_average("accuracy", "moving average", s(&|m| m.accuracy)),
    )?;
    line_chart(&dir.join("throughput.png"), "throughput", "tokens / s", &[("tokens/s", s(&|m| m.tokens_per_s))])?;
    let names = module_names();
    let rates: Vec<Series> = (0..6).map(|i| (names[i], s(&|m| m.spike_rates[i]))).collect();
    line_chart(&dir.join("activity.png"), "module spike rates", "spikes / neuron / tick", &rates)?;
    line_chart(
        &dir.join("neuromodulators.png"),
        "neuromodulators (mean over sequences and modules)",
        "level",
        &[("dopamine", s(&|m| m.dopamine)), ("serotonin", s(&|m| m.serotonin))],
    )
}
