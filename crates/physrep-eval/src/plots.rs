//! PNG plots with plotters' bitmap backend. Text uses DejaVu Sans embedded in the binary
//! (`assets/DejaVuSans.ttf`, Bitstream Vera licence in `assets/DejaVuSans-LICENSE.txt`), registered
//! through plotters' ab_glyph font table, so no system fonts are needed.
//!
//! * [`scatter_pred_true`] — predicted vs true for one parameter, with the identity line.
//! * [`grouped_bars`] — methods × systems, bar = mean, whisker = ± error.
//! * [`line_curves`] — several (x, y) series (data efficiency, loss curves); optional log y.
//! * [`loss_curves_from_jsonl`] — [`line_curves`] of chosen keys of a metrics JSONL file.
//! * [`frame_strip`] — frames × channels grid of heatmaps (viridis, per-channel range).

use std::path::Path;
use std::sync::OnceLock;

use ndarray::Array3;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

use crate::error::EvalError;

const FONT: &str = "sans-serif";
static REGISTERED: OnceLock<bool> = OnceLock::new();

/// Register the embedded font once; false if it could not be parsed.
fn register_font() -> bool {
    *REGISTERED.get_or_init(|| plotters::style::register_font(FONT, FontStyle::Normal, include_bytes!("../assets/DejaVuSans.ttf")).is_ok())
}

fn plot_err(path: &Path) -> impl Fn(&dyn std::fmt::Display) -> EvalError + '_ {
    move |e| EvalError::Plot { path: path.to_path_buf(), reason: e.to_string() }
}

/// Run `draw`, turning plotters' errors into [`EvalError::Plot`].
fn with_plot<F>(path: &Path, draw: F) -> Result<(), EvalError>
where
    F: FnOnce() -> Result<(), Box<dyn std::error::Error>>,
{
    if !register_font() {
        return Err(EvalError::Plot { path: path.to_path_buf(), reason: "embedded DejaVuSans.ttf is not a valid font".into() });
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(EvalError::io(parent))?;
    }
    draw().map_err(|e| plot_err(path)(&e))
}

/// Finite min and max of values, padded; `(−1, 1)` when there is nothing finite.
fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-6);
    (lo - pad, hi + pad)
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Scatter of predicted vs true values of one parameter, with the y = x line.
pub fn scatter_pred_true(path: &Path, title: &str, truth: &[f32], pred: &[f32]) -> Result<(), EvalError> {
    if truth.len() != pred.len() {
        return Err(EvalError::shape("scatter points", truth.len(), pred.len()));
    }
    with_plot(path, || {
        let root = BitMapBackend::new(path, (640, 600)).into_drawing_area();
        root.fill(&WHITE)?;
        let (lo, hi) = padded_range(truth.iter().chain(pred).map(|v| *v as f64));
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(lo..hi, lo..hi)?;
        chart.configure_mesh().x_desc("true (z-scored)").y_desc("predicted (z-scored)").label_style((FONT, 13)).draw()?;
        chart.draw_series(LineSeries::new([(lo, lo), (hi, hi)], BLACK.stroke_width(1)))?;
        chart.draw_series(truth.iter().zip(pred).map(|(t, p)| Circle::new((*t as f64, *p as f64), 3, PALETTE[0].mix(0.5).filled())))?;
        root.present()?;
        Ok(())
    })
}

/// One bar series of [`grouped_bars`]: a method with (mean, error) per group.
pub struct BarSeries {
    pub name: String,
    /// Per group: the bar height and the whisker's `[low, high]` (e.g. mean ± std, or a 95 % interval).
    pub values: Vec<(f64, [f64; 2])>,
}

/// Grouped bar chart: one group per entry of `groups` (e.g. systems), one bar per series (methods),
/// with whiskers, and, when `floors` is given, a dashed reference line across each group (e.g. the
/// predict-the-mean floor).
pub fn grouped_bars(
    path: &Path,
    title: &str,
    y_label: &str,
    groups: &[String],
    series: &[BarSeries],
    floors: Option<&[f64]>,
) -> Result<(), EvalError> {
    if let Some(s) = series.iter().find(|s| s.values.len() != groups.len()) {
        return Err(EvalError::shape(format!("bar series {}", s.name), groups.len(), s.values.len()));
    }
    if let Some(f) = floors.filter(|f| f.len() != groups.len()) {
        return Err(EvalError::shape("bar chart floors".to_string(), groups.len(), f.len()));
    }
    with_plot(path, || {
        let root = BitMapBackend::new(path, (200 + 160 * groups.len() as u32, 520)).into_drawing_area();
        root.fill(&WHITE)?;
        let top = series
            .iter()
            .flat_map(|s| s.values.iter().map(|(m, [_, hi])| m.max(*hi)))
            .chain(floors.unwrap_or(&[]).iter().copied())
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max)
            .max(1e-6)
            * 1.15;
        let mut inner = ChartBuilder::on(&root)
            .caption(title, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..groups.len() as f64, 0.0..top)?;
        inner.configure_mesh().disable_x_mesh().x_labels(0).y_desc(y_label).label_style((FONT, 13)).draw()?;
        // Group names centred under their bars, in pixels below the x axis.
        let label = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        for (g, name) in groups.iter().enumerate() {
            let (px, py) = inner.backend_coord(&(g as f64 + 0.5, 0.0));
            root.draw(&Text::new(name.clone(), (px, py + 8), label.clone()))?;
        }
        let m = series.len().max(1) as f64;
        for (si, s) in series.iter().enumerate() {
            let color = PALETTE[si % PALETTE.len()];
            let width = 0.8 / m;
            let x0 = |g: usize| g as f64 + 0.1 + si as f64 * width;
            inner
                .draw_series(
                    s.values
                        .iter()
                        .enumerate()
                        .map(|(g, (mean, _))| Rectangle::new([(x0(g), 0.0), (x0(g) + width * 0.9, mean.max(0.0))], color.filled())),
                )?
                .label(s.name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
            inner.draw_series(s.values.iter().enumerate().filter(|(_, (_, [lo, hi]))| hi > lo).map(|(g, (_, [lo, hi]))| {
                let xc = x0(g) + width * 0.45;
                PathElement::new(vec![(xc, lo.max(0.0)), (xc, *hi)], BLACK.stroke_width(2))
            }))?;
        }
        if let Some(floors) = floors {
            let dashes = floors.iter().enumerate().filter(|(_, f)| f.is_finite()).flat_map(|(g, &f)| {
                (0..8).map(move |k| {
                    let x = g as f64 + 0.05 + k as f64 * 0.1125;
                    PathElement::new(vec![(x, f), (x + 0.07, f)], BLACK.stroke_width(2))
                })
            });
            inner
                .draw_series(dashes)?
                .label("predict-the-mean floor")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], BLACK.stroke_width(2)));
        }
        inner
            .configure_series_labels()
            .label_font((FONT, 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
        root.present()?;
        Ok(())
    })
}

/// One named line of [`line_curves`].
pub struct Curve {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Line plot of several curves with markers. With `log_y`, y is drawn on a log10 axis
/// (non-positive values are dropped).
pub fn line_curves(path: &Path, title: &str, x_label: &str, y_label: &str, curves: &[Curve], log_y: bool) -> Result<(), EvalError> {
    let tf = |y: f64| if log_y { y.log10() } else { y };
    let keep = |y: f64| y.is_finite() && (!log_y || y > 0.0);
    with_plot(path, || {
        let root = BitMapBackend::new(path, (720, 520)).into_drawing_area();
        root.fill(&WHITE)?;
        let pts = || curves.iter().flat_map(|c| c.points.iter()).filter(|(_, y)| keep(*y));
        let (x0, x1) = padded_range(pts().map(|(x, _)| *x));
        let (y0, y1) = padded_range(pts().map(|(_, y)| tf(*y)));
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        let fmt = |v: &f64| if log_y { format!("{:.3}", 10f64.powf(*v)) } else { format!("{v:.3}") };
        chart.configure_mesh().x_desc(x_label).y_desc(y_label).y_label_formatter(&fmt).label_style((FONT, 13)).draw()?;
        for (i, c) in curves.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let line: Vec<(f64, f64)> = c.points.iter().filter(|(_, y)| keep(*y)).map(|(x, y)| (*x, tf(*y))).collect();
            chart
                .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))?
                .label(c.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
            if line.len() <= 50 {
                chart.draw_series(line.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
            }
        }
        chart.configure_series_labels().label_font((FONT, 13)).background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
        root.present()?;
        Ok(())
    })
}

/// Curves of `keys` (y) against `x_key` from a metrics JSONL file (one JSON object per line);
/// lines without a key are skipped for that key.
pub fn loss_curves_from_jsonl(jsonl: &Path, x_key: &str, keys: &[&str], out: &Path, log_y: bool) -> Result<(), EvalError> {
    let text = std::fs::read_to_string(jsonl).map_err(EvalError::io(jsonl))?;
    let mut curves: Vec<Curve> = keys.iter().map(|k| Curve { name: k.to_string(), points: vec![] }).collect();
    for (lineno, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|source| EvalError::Json { path: jsonl.with_extension(format!("jsonl:{}", lineno + 1)), source })?;
        let Some(x) = v.get(x_key).and_then(|x| x.as_f64()) else { continue };
        for c in curves.iter_mut() {
            if let Some(y) = v.get(&c.name).and_then(|y| y.as_f64()) {
                c.points.push((x, y));
            }
        }
    }
    let title = jsonl.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    line_curves(out, &title, x_key, "value", &curves, log_y)
}

/// Frames × channels grid of heatmaps: one row per channel, one column per frame. Each channel is
/// `(frames, H, W)` and is coloured with viridis over its own finite min..max.
pub fn frame_strip(channels: &[(String, Array3<f32>)], path: &Path) -> Result<(), EvalError> {
    let first = channels.first().ok_or_else(|| EvalError::Data("frame_strip: no channels".into()))?;
    let (frames, h, w) = first.1.dim();
    if frames == 0 || h == 0 || w == 0 {
        return Err(EvalError::shape("frame_strip channel", "(frames ≥ 1, H ≥ 1, W ≥ 1)", first.1.dim()));
    }
    if let Some((name, a)) = channels.iter().find(|(_, a)| a.dim() != (frames, h, w)) {
        return Err(EvalError::shape(format!("frame_strip channel {name}"), (frames, h, w), a.dim()));
    }
    // Cell size: up to 128 px on the long side (at most 4× magnified), but at least 48 px.
    let long = h.max(w) as f64;
    let scale = (128.0 / long).min(4.0).max(48.0 / long);
    let (cw, ch) = (((w as f64 * scale).round() as u32).max(1), ((h as f64 * scale).round() as u32).max(1));
    let (label_w, header_h, gap) = (120u32, 24u32, 2u32);
    let width = label_w + frames as u32 * (cw + gap);
    let height = header_h + channels.len() as u32 * (ch + gap);
    with_plot(path, || {
        let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let text = (FONT, 13).into_font().color(&BLACK);
        for f in 0..frames {
            root.draw_text(&format!("t={f}"), &text, ((label_w + f as u32 * (cw + gap)) as i32 + 4, 4))?;
        }
        for (ci, (name, a)) in channels.iter().enumerate() {
            let y0 = header_h + ci as u32 * (ch + gap);
            root.draw_text(name, &text, (4, (y0 + ch / 2) as i32 - 7))?;
            let (lo, hi) = a.iter().filter(|v| v.is_finite()).fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
            let (lo, hi) = if lo.is_finite() && hi > lo { (lo, hi) } else { (lo.min(0.0), lo.max(0.0) + 1.0) };
            for f in 0..frames {
                let x0 = label_w + f as u32 * (cw + gap);
                for py in 0..ch {
                    let iy = ((py as f64 / scale) as usize).min(h - 1);
                    for px in 0..cw {
                        let ix = ((px as f64 / scale) as usize).min(w - 1);
                        let v = a[[f, iy, ix]];
                        let color = if v.is_finite() { ViridisRGB.get_color_normalized(v, lo, hi) } else { RGBColor(255, 0, 255) };
                        root.draw_pixel(((x0 + px) as i32, (y0 + py) as i32), &color)?;
                    }
                }
            }
        }
        root.present()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_png(path: &Path) -> bool {
        std::fs::read(path).map(|b| b.starts_with(&[0x89, b'P', b'N', b'G'])).unwrap_or(false)
    }

    #[test]
    fn every_plot_writes_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        scatter_pred_true(&d.join("s.png"), "alpha", &[0.0, 1.0, -1.0], &[0.1, 0.8, -1.2]).unwrap();
        let groups = vec!["AM".to_string(), "SF".to_string()];
        let series = vec![
            BarSeries { name: "jepa".into(), values: vec![(0.1, [0.09, 0.11]), (0.4, [0.3, 0.5])] },
            BarSeries { name: "mean".into(), values: vec![(1.0, [1.0, 1.0]), (1.0, [1.0, 1.0])] },
        ];
        grouped_bars(&d.join("b.png"), "probe MSE", "MSE", &groups, &series, Some(&[1.0, 0.9])).unwrap();
        let curves = vec![Curve { name: "attentive".into(), points: vec![(0.1, 0.5), (0.5, 0.3), (1.0, 0.2)] }];
        line_curves(&d.join("l.png"), "data efficiency", "fraction", "MSE", &curves, true).unwrap();
        std::fs::write(d.join("m.jsonl"), "{\"update\":0,\"loss\":2.0}\n{\"update\":1,\"loss\":1.5,\"lr\":0.001}\n").unwrap();
        loss_curves_from_jsonl(&d.join("m.jsonl"), "update", &["loss", "lr"], &d.join("c.png"), false).unwrap();
        let a = Array3::from_shape_fn((3, 8, 6), |(f, i, j)| (f + i * j) as f32);
        frame_strip(&[("u".into(), a.clone()), ("v".into(), -a)], &d.join("f.png")).unwrap();
        for f in ["s.png", "b.png", "l.png", "c.png", "f.png"] {
            assert!(is_png(&d.join(f)), "{f} is not a PNG");
        }
        assert!(scatter_pred_true(&d.join("x.png"), "", &[0.0], &[]).is_err());
        assert!(frame_strip(&[("u".into(), Array3::zeros((2, 3, 3))), ("v".into(), Array3::zeros((2, 3, 4)))], &d.join("y.png")).is_err());
    }
}
