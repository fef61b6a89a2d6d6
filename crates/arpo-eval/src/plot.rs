//! Line charts as self-contained SVG: learning curves and metric traces for report folders,
//! viewable in any browser, with no plotting dependency.
//!
//! Axes get "nice" ticks (1, 2 or 5 × 10ⁿ), series get distinct colours and a legend; points
//! with a non-finite coordinate are skipped (a gap, not a crash).

use std::fmt::Write;

/// One named line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// `(x, y)` points, drawn in the given order.
    pub points: Vec<(f64, f64)>,
}

/// A chart: title, axis labels and the series to draw.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LinePlot {
    /// Title above the chart.
    pub title: String,
    /// Label under the x axis.
    pub x_label: String,
    /// Label left of the y axis.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
}

// Colour-blind-safe palette (Okabe–Ito).
const COLOURS: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

/// Ticks covering `[lo, hi]` at a step of 1, 2 or 5 × 10ⁿ, about `target` of them.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let span = (hi - lo).abs().max(f64::EPSILON);
    let raw = span / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).floor() as i64;
    let last = (hi / step).ceil() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

fn label(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e6 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl LinePlot {
    /// The chart as an SVG document. An empty chart (no finite point) still renders its frame
    /// and title, with "no data" in place of the lines.
    pub fn to_svg(&self) -> String {
        let finite: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let mut svg = String::new();
        let _ = write!(
            svg,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
             viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
            WIDTH / 2.0,
            escape(&self.title)
        );
        let (px0, px1, py0, py1) = (LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP);
        let _ = writeln!(
            svg,
            "<rect x=\"{px0}\" y=\"{py1}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>",
            px1 - px0,
            py0 - py1
        );
        if finite.is_empty() {
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data</text>",
                (px0 + px1) / 2.0,
                (py0 + py1) / 2.0
            );
            svg.push_str("</svg>\n");
            return svg;
        }
        let fold = |f: fn(f64, f64) -> f64, init: f64, pick: fn(&(f64, f64)) -> f64| {
            finite.iter().map(pick).fold(init, f)
        };
        let x_ticks = nice_ticks(
            fold(f64::min, f64::INFINITY, |p| p.0),
            fold(f64::max, f64::NEG_INFINITY, |p| p.0),
            6,
        );
        let y_ticks = nice_ticks(
            fold(f64::min, f64::INFINITY, |p| p.1),
            fold(f64::max, f64::NEG_INFINITY, |p| p.1),
            5,
        );
        let (x_lo, x_hi) = (x_ticks[0], *x_ticks.last().unwrap_or(&x_ticks[0]));
        let (y_lo, y_hi) = (y_ticks[0], *y_ticks.last().unwrap_or(&y_ticks[0]));
        let sx = |x: f64| px0 + (x - x_lo) / (x_hi - x_lo).max(f64::EPSILON) * (px1 - px0);
        let sy = |y: f64| py0 - (y - y_lo) / (y_hi - y_lo).max(f64::EPSILON) * (py0 - py1);
        for &t in &x_ticks {
            let x = sx(t);
            let _ = writeln!(
                svg,
                "<line x1=\"{x:.1}\" y1=\"{py0}\" x2=\"{x:.1}\" y2=\"{py1}\" stroke=\"#ddd\"/>\
                 <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                py0 + 16.0,
                label(t)
            );
        }
        for &t in &y_ticks {
            let y = sy(t);
            let _ = writeln!(
                svg,
                "<line x1=\"{px0}\" y1=\"{y:.1}\" x2=\"{px1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
                 <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                px0 - 6.0,
                y + 4.0,
                label(t)
            );
        }
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n\
             <text transform=\"translate(16 {}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            (px0 + px1) / 2.0,
            HEIGHT - 12.0,
            escape(&self.x_label),
            (py0 + py1) / 2.0,
            escape(&self.y_label)
        );
        for (i, series) in self.series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let points: Vec<String> = series
                .points
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
                .collect();
            let _ = writeln!(
                svg,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
                points.join(" ")
            );
            for p in &points {
                let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
                let _ = writeln!(
                    svg,
                    "<circle cx=\"{x}\" cy=\"{y}\" r=\"2.5\" fill=\"{colour}\"/>"
                );
            }
            let ly = py1 + 10.0 + 20.0 * i as f64;
            let _ = writeln!(
                svg,
                "<line x1=\"{}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{colour}\" stroke-width=\"3\"/>\
                 <text x=\"{}\" y=\"{}\">{}</text>",
                px1 + 12.0,
                px1 + 32.0,
                px1 + 38.0,
                ly + 4.0,
                escape(&series.name)
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice_and_cover_the_range() {
        let t = nice_ticks(0.13, 0.87, 5);
        assert_eq!(t.first().copied(), Some(0.0));
        assert!(*t.last().unwrap() >= 0.87);
        let step = t[1] - t[0];
        assert!((step - 0.2).abs() < 1e-12, "{t:?}");
        let t = nice_ticks(1.0, 12.0, 6);
        assert_eq!(t, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0]);
    }

    #[test]
    fn svg_has_one_line_per_series_and_escapes_labels() {
        let plot = LinePlot {
            title: "reward <train>".into(),
            x_label: "step".into(),
            y_label: "accuracy".into(),
            series: vec![
                Series {
                    name: "ARPO".into(),
                    points: vec![(1.0, 0.1), (2.0, 0.4), (3.0, f64::NAN)],
                },
                Series {
                    name: "GRPO & co".into(),
                    points: vec![(1.0, 0.2), (2.0, 0.3)],
                },
            ],
        };
        let svg = plot.to_svg();
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        // The NaN point is skipped: 2 + 2 markers.
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains("reward &lt;train&gt;"));
        assert!(svg.contains("GRPO &amp; co"));
    }

    #[test]
    fn empty_plot_renders_a_frame() {
        let svg = LinePlot::default().to_svg();
        assert!(svg.contains("no data"));
    }
}
