//! The benchmark's charts as hand-written SVG: one polyline per engine on
//! a plot whose axes are logarithmic or linear, with an optional dashed
//! reference line. Two charts use it:
//!
//! - [`fillsync`]: synced writes per second against writer threads, both
//!   axes logarithmic, one marker per point, and the device's
//!   append+fdatasync loop as the reference.
//! - [`timeline`]: ops per second against seconds into a run, both axes
//!   linear from zero, so that a stall storm shows as a dip to the floor.

use std::fmt::Write;

/// One engine's line: `(x, y)` points in x order.
pub struct Series {
    pub engine: String,
    pub points: Vec<(f64, f64)>,
}

/// How an axis maps values.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Powers of two, as thread counts are (ticks at each).
    Log2,
    /// Powers of ten, ticks at 1, 2 and 5 times each.
    Log10,
    /// From zero, ticks at a round step.
    Linear,
}

/// An axis: its label and scale.
pub struct Axis<'a> {
    pub label: &'a str,
    pub scale: Scale,
}

/// What to draw.
pub struct Chart<'a> {
    pub title: &'a str,
    /// Where and when, under the title.
    pub subtitle: &'a str,
    pub x: Axis<'a>,
    pub y: Axis<'a>,
    pub series: &'a [Series],
    /// A horizontal dashed line at this y, with its legend text.
    pub reference: Option<(f64, String)>,
    /// A marker on each point, with a tooltip naming the point in
    /// `x_unit` (for few points; a long series is a bare line).
    pub markers: Option<&'a str>,
}

const WIDTH: f64 = 940.0;
const HEIGHT: f64 = 520.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 280.0;
const TOP: f64 = 60.0;
const BOTTOM: f64 = 60.0;

/// Colour and stroke width of an engine's line; Tributary stands out.
fn style(engine: &str) -> (&'static str, f64) {
    match engine {
        "tributary" => ("#1f5fbf", 3.5),
        "tributary, unpipelined" => ("#7fb2f0", 2.5),
        "leveldb" => ("#e07b00", 2.0),
        "rocksdb" => ("#2a9d3a", 2.0),
        "fjall" => ("#c0392b", 2.0),
        _ => ("#7b3fa0", 2.0),
    }
}

/// The fillsync curve. `device` is the raw append+fdatasync loop's ops/s,
/// drawn as a horizontal dashed line; `subtitle` says where and when.
pub fn fillsync(series: &[Series], device: Option<f64>, subtitle: &str) -> String {
    draw(&Chart {
        title: "fillsync: synced 100-byte puts per second",
        subtitle,
        x: Axis {
            label: "writer threads (log scale)",
            scale: Scale::Log2,
        },
        y: Axis {
            label: "synced writes per second (log scale)",
            scale: Scale::Log10,
        },
        series,
        reference: device
            .filter(|d| *d > 0.0)
            .map(|d| (d, format!("device: raw fdatasync loop, {}/s", si(d)))),
        markers: Some("threads"),
    })
}

/// Throughput over time during one run per engine: `series` points are
/// (seconds since the start, ops per second over the interval ending then).
pub fn timeline(title: &str, series: &[Series], subtitle: &str) -> String {
    draw(&Chart {
        title,
        subtitle,
        x: Axis {
            label: "seconds into the run",
            scale: Scale::Linear,
        },
        y: Axis {
            label: "ops per second",
            scale: Scale::Linear,
        },
        series,
        reference: None,
        markers: None,
    })
}

/// An axis's value range and its mapping onto `[0, 1]`.
struct Mapping {
    scale: Scale,
    lo: f64,
    hi: f64,
    /// The tick step of a linear scale.
    step: f64,
}

impl Mapping {
    /// The range that holds `values` (positive ones only on a log scale).
    fn fit(scale: Scale, values: impl Iterator<Item = f64>) -> Mapping {
        let values: Vec<f64> = values
            .filter(|v| v.is_finite() && (scale == Scale::Linear || *v > 0.0))
            .collect();
        let max = values.iter().copied().fold(0.0, f64::max);
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        // A linear scale: at most six round steps, the last just above the
        // data.
        let top = max.max(1e-9) * 1.05;
        let step = nice_ceil(top / 6.0);
        let (lo, hi) = match scale {
            Scale::Log2 => (1.0, max.max(2.0)),
            Scale::Log10 if values.is_empty() => (1.0, 10.0),
            Scale::Log10 => (nice_floor(min * 0.8), nice_ceil(max * 1.25)),
            Scale::Linear => (0.0, step * (top / step).ceil()),
        };
        Mapping {
            scale,
            lo,
            hi,
            step,
        }
    }

    /// Where `v` falls, 0 at `lo` and 1 at `hi`.
    fn frac(&self, v: f64) -> f64 {
        match self.scale {
            Scale::Log2 | Scale::Log10 => (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln()),
            Scale::Linear => (v - self.lo) / (self.hi - self.lo),
        }
    }

    /// Whether `v` can be drawn (log scales have no zero).
    fn drawable(&self, v: f64) -> bool {
        v.is_finite() && (self.scale == Scale::Linear || v > 0.0)
    }

    /// The tick values.
    fn ticks(&self) -> Vec<f64> {
        let mut ticks = Vec::new();
        match self.scale {
            Scale::Log2 => {
                let mut t = 1.0;
                while t <= self.hi * 1.001 {
                    ticks.push(t);
                    t *= 2.0;
                }
            }
            Scale::Log10 => {
                let mut decade = 10f64.powf(self.lo.log10().floor());
                while decade <= self.hi {
                    for m in [1.0, 2.0, 5.0] {
                        let v = decade * m;
                        if v >= self.lo * 0.999 && v <= self.hi * 1.001 {
                            ticks.push(v);
                        }
                    }
                    decade *= 10.0;
                }
            }
            Scale::Linear => {
                let mut i = 0.0;
                while self.lo + i * self.step <= self.hi * 1.001 {
                    ticks.push(self.lo + i * self.step);
                    i += 1.0;
                }
            }
        }
        ticks
    }
}

/// Where a chart's plot area lies inside the margins, and how its values
/// map onto it.
struct Plot {
    x: Mapping,
    y: Mapping,
    /// The plot area's width.
    w: f64,
    /// The plot area's height.
    h: f64,
}

impl Plot {
    /// The plot that holds `chart`'s points and its reference line.
    fn fit(chart: &Chart) -> Plot {
        let x = Mapping::fit(
            chart.x.scale,
            chart
                .series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.0)),
        );
        let y = Mapping::fit(
            chart.y.scale,
            chart
                .series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .chain(chart.reference.as_ref().map(|r| r.0)),
        );
        Plot {
            x,
            y,
            w: WIDTH - LEFT - RIGHT,
            h: HEIGHT - TOP - BOTTOM,
        }
    }

    /// The horizontal position of `v`.
    fn x_of(&self, v: f64) -> f64 {
        LEFT + self.w * self.x.frac(v)
    }

    /// The vertical position of `v`.
    fn y_of(&self, v: f64) -> f64 {
        TOP + self.h * (1.0 - self.y.frac(v))
    }

    /// Whether the point can be drawn on both axes.
    fn drawable(&self, p: &(f64, f64)) -> bool {
        self.x.drawable(p.0) && self.y.drawable(p.1)
    }
}

/// A line of the legend: its text, colour, stroke width, and whether it
/// is dashed.
type LegendEntry = (String, &'static str, f64, bool);

/// Draws `chart`.
pub fn draw(chart: &Chart) -> String {
    let plot = Plot::fit(chart);
    let mut s = String::new();
    draw_titles(&mut s, chart, &plot);
    draw_axes(&mut s, chart, &plot);
    let mut legend: Vec<LegendEntry> = Vec::new();
    legend.extend(draw_reference(&mut s, chart, &plot));
    legend.extend(draw_series(&mut s, chart, &plot));
    draw_legend(&mut s, legend, &plot);
    s.push_str("</svg>\n");
    s
}

/// The opening tag, the white background, the title and the subtitle.
fn draw_titles(s: &mut String, chart: &Chart, plot: &Plot) {
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="26" font-size="18" font-weight="bold" text-anchor="middle">{}</text>"#,
        LEFT + plot.w / 2.0,
        escape(chart.title)
    );
    let _ = writeln!(
        s,
        r##"<text x="{}" y="46" font-size="12" fill="#555" text-anchor="middle">{}</text>"##,
        LEFT + plot.w / 2.0,
        escape(chart.subtitle)
    );
}

/// The grid with the ticks of both axes, the frame, and the axes' labels.
fn draw_axes(s: &mut String, chart: &Chart, plot: &Plot) {
    let (plot_w, plot_h) = (plot.w, plot.h);
    // Grid and y ticks.
    for v in plot.y.ticks() {
        let y = plot.y_of(v);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd" stroke-width="1"/>"##,
            LEFT + plot_w
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end">{}</text>"#,
            LEFT - 8.0,
            y + 4.0,
            si(v)
        );
    }
    // X ticks.
    for t in plot.x.ticks() {
        let x = plot.x_of(t);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#eee" stroke-width="1"/>"##,
            TOP + plot_h
        );
        let _ = writeln!(
            s,
            r#"<text x="{x:.1}" y="{:.1}" font-size="12" text-anchor="middle">{}</text>"#,
            TOP + plot_h + 18.0,
            si(t)
        );
    }
    // Axes and their labels.
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333" stroke-width="1"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" font-size="14" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 16.0,
        escape(chart.x.label)
    );
    let _ = writeln!(
        s,
        r#"<text x="22" y="{:.1}" font-size="14" text-anchor="middle" transform="rotate(-90 22 {:.1})">{}</text>"#,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0,
        escape(chart.y.label)
    );
}

/// The reference line, if it has one that can be drawn; its legend line.
fn draw_reference(s: &mut String, chart: &Chart, plot: &Plot) -> Option<LegendEntry> {
    let (v, text) = chart.reference.as_ref().filter(|r| plot.y.drawable(r.0))?;
    let y = plot.y_of(*v);
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#444" stroke-width="2" stroke-dasharray="8 5"/>"##,
        LEFT + plot.w
    );
    Some((text.clone(), "#444", 2.0, true))
}

/// One line per engine, with its markers if the chart has them; their
/// legend lines.
fn draw_series(s: &mut String, chart: &Chart, plot: &Plot) -> Vec<LegendEntry> {
    let mut legend = Vec::new();
    // Tributary last so it is drawn on top; long series thinner, so the
    // others show through.
    let mut order: Vec<&Series> = chart.series.iter().collect();
    order.sort_by_key(|s| s.engine == "tributary");
    for serie in order {
        let (colour, width) = style(&serie.engine);
        let width = if chart.markers.is_some() {
            width
        } else {
            (width * 0.5).max(1.0)
        };
        let pts: Vec<String> = serie
            .points
            .iter()
            .filter(|p| plot.drawable(p))
            .map(|&(x, y)| format!("{:.1},{:.1}", plot.x_of(x), plot.y_of(y)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="{width}" stroke-linejoin="round"><title>{}</title></polyline>"#,
            pts.join(" "),
            escape(&serie.engine)
        );
        if let Some(unit) = chart.markers {
            for &(x, y) in serie.points.iter().filter(|p| plot.drawable(p)) {
                let _ = writeln!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="{:.1}" fill="{colour}"><title>{} {} {unit}: {:.0} ops/s</title></circle>"#,
                    plot.x_of(x),
                    plot.y_of(y),
                    width + 1.5,
                    escape(&serie.engine),
                    x,
                    y
                );
            }
        }
        legend.push((serie.engine.clone(), colour, width.max(2.0), false));
    }
    legend
}

/// The legend right of the plot: Tributary first, the reference last.
fn draw_legend(s: &mut String, mut legend: Vec<LegendEntry>, plot: &Plot) {
    legend.sort_by_key(|l| (l.3, l.0 != "tributary"));
    for (i, (name, colour, width, dashed)) in legend.iter().enumerate() {
        let y = TOP + 20.0 + 24.0 * i as f64;
        let x = LEFT + plot.w + 16.0;
        let dash = if *dashed {
            r#" stroke-dasharray="8 5""#
        } else {
            ""
        };
        let _ = writeln!(
            s,
            r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{colour}" stroke-width="{width}"{dash}/>"#,
            x + 28.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="12">{}</text>"#,
            x + 34.0,
            y + 4.0,
            escape(name)
        );
    }
}

/// The largest 1, 2 or 5 times a power of ten at or below `v`.
fn nice_floor(v: f64) -> f64 {
    let p = 10f64.powf(v.max(1e-9).log10().floor());
    [5.0, 2.0, 1.0]
        .into_iter()
        .map(|m| m * p)
        .find(|c| *c <= v)
        .unwrap_or(p)
}

/// The smallest 1, 2 or 5 times a power of ten at or above `v`.
fn nice_ceil(v: f64) -> f64 {
    let p = 10f64.powf(v.max(1e-9).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

/// `v` with a k or M suffix.
pub fn si(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if v >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    if v >= 100.0 || (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_bounds() {
        assert_eq!(nice_floor(340.0), 200.0);
        assert_eq!(nice_ceil(340.0), 500.0);
        assert_eq!(nice_ceil(1000.0), 1000.0);
        assert_eq!(si(12_345.0), "12.3k");
        assert_eq!(si(2_000_000.0), "2M");
        let linear = Mapping::fit(Scale::Linear, [0.0, 470_000.0].into_iter());
        assert_eq!(linear.hi, 500_000.0);
        assert_eq!(linear.ticks().len(), 6);
        let linear = Mapping::fit(Scale::Linear, [0.0, 700_000.0].into_iter());
        assert_eq!((linear.hi, linear.ticks().len()), (800_000.0, 5));
    }

    #[test]
    fn draws_every_engine() {
        let series = vec![
            Series {
                engine: "tributary".into(),
                points: vec![(1.0, 300.0), (64.0, 15_000.0)],
            },
            Series {
                engine: "leveldb".into(),
                points: vec![(1.0, 290.0), (64.0, 9_000.0)],
            },
        ];
        let svg = fillsync(&series, Some(320.0), "test");
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains("stroke-dasharray"));
    }

    #[test]
    fn draws_a_timeline_with_its_dips() {
        let series = vec![Series {
            engine: "leveldb".into(),
            points: vec![(0.1, 400_000.0), (0.2, 0.0), (0.3, 380_000.0)],
        }];
        let svg = timeline("fillrandom", &series, "test");
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 0);
        // The zero sample is drawn on the floor of the plot: x 0.2 of a
        // 0..0.4 axis, y at the bottom.
        assert!(svg.contains("375.0,460.0"), "{svg}");
    }
}
