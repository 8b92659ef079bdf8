//! Line charts of metrics against the number of segments, as PNG and SVG (`plotters`).
//!
//! Text needs a TrueType font: `--font FILE`, else the first of a few usual system fonts
//! (DejaVu Sans, Liberation Sans, Arial).

use crate::output::{write_png, write_text};
use anyhow::{Context, Result, anyhow, bail};
use image::ExtendedColorType;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One line: a name and its `(segments, value)` points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// One panel of the figure.
pub struct Panel {
    pub title: String,
    pub y_label: String,
    /// Start the value axis at 0 (for times).
    pub from_zero: bool,
    pub series: Vec<Series>,
}

const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Registers the font used for all text, once per process.
fn register_font(font: Option<&Path>) -> Result<()> {
    static DONE: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    let done = DONE.get_or_init(|| {
        let candidates: Vec<PathBuf> = match font {
            Some(f) => vec![f.to_path_buf()],
            None => FONT_CANDIDATES.iter().map(PathBuf::from).collect(),
        };
        let Some(path) = candidates.into_iter().find(|p| p.is_file()) else {
            return Err("no TrueType font found: give one with --font FILE".to_string());
        };
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        // The font must live as long as the process: plotters keeps a reference.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .map_err(|_| format!("{} is not a TrueType font", path.display()))?;
        Ok(path)
    });
    done.as_ref().map(|_| ()).map_err(|e| anyhow!("{e}"))
}

fn plot_err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("cannot draw the chart: {e}")
}

/// Pads a value range by 5% on each side (and opens up an empty one).
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    (lo - 0.05 * span, hi + 0.05 * span)
}

fn draw_on<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, panels: &[Panel]) -> Result<()> {
    root.fill(&WHITE).map_err(plot_err)?;
    let cols = panels.len().clamp(1, 2);
    let rows = panels.len().div_ceil(cols);
    let areas = root.split_evenly((rows, cols));
    for (area, panel) in areas.iter().zip(panels) {
        let pts = || panel.series.iter().flat_map(|s| s.points.iter());
        let fold = |f: fn(&(f64, f64)) -> f64| {
            pts()
                .map(f)
                .filter(|v| v.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(v), b.max(v))
                })
        };
        let (x0, x1) = fold(|p| p.0);
        let (y0, y1) = fold(|p| p.1);
        if !(x0.is_finite() && y0.is_finite()) {
            continue;
        }
        let (x0, x1) = (0.0, x1.max(x0) * 1.05);
        let (y0, y1) = padded(if panel.from_zero { 0.0 } else { y0 }, y1);
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("segments (mean over images)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .x_labels(8)
            .y_labels(8)
            .light_line_style(RGBColor(238, 238, 238))
            .y_desc(panel.y_label.as_str())
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(plot_err)?;
        for (i, s) in panel.series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let points: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.1.is_finite())
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(plot_err)?
                .label(s.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 3, color.filled())),
                )
                .map_err(plot_err)?;
        }
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err)?;
    }
    root.present().map_err(plot_err)?;
    Ok(())
}

/// Draws the panels (two per row) into `<base>.png` and `<base>.svg`, atomically.
pub fn write_charts(base: &Path, panels: &[Panel], font: Option<&Path>) -> Result<()> {
    register_font(font)?;
    if panels.is_empty() {
        bail!("nothing to draw");
    }
    let rows = panels.len().div_ceil(2) as u32;
    let (w, h) = (1200u32, 450 * rows);
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    draw_on(
        BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area(),
        panels,
    )?;
    let png = base.with_extension("png");
    write_png(&png, &rgb, w, h, ExtendedColorType::Rgb8)?;
    let mut svg = String::new();
    draw_on(
        SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area(),
        panels,
    )?;
    write_text(&base.with_extension("svg"), &svg)
        .with_context(|| format!("cannot write the chart next to {}", png.display()))?;
    Ok(())
}
