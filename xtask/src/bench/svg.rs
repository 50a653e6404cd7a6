//! The fillsync curve as a hand-written SVG: synced writes per second
//! against writer threads, both axes logarithmic, one polyline per engine,
//! and the device's append+fdatasync loop as a dashed line.

use std::fmt::Write;

/// One engine's curve: `(threads, ops_per_sec)` points in thread order.
pub struct Series {
    pub engine: String,
    pub points: Vec<(f64, f64)>,
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
        "leveldb" => ("#e07b00", 2.0),
        "rocksdb" => ("#2a9d3a", 2.0),
        "fjall" => ("#c0392b", 2.0),
        _ => ("#7b3fa0", 2.0),
    }
}

/// Draws the curve. `device` is the raw append+fdatasync loop's ops/s, drawn
/// as a horizontal dashed line; `subtitle` says where and when.
pub fn fillsync(series: &[Series], device: Option<f64>, subtitle: &str) -> String {
    let all_y: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(device)
        .filter(|y| *y > 0.0)
        .collect();
    let max_threads = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(1.0f64, f64::max)
        .max(2.0);
    let (y_min, y_max) = if all_y.is_empty() {
        (1.0, 10.0)
    } else {
        let lo = all_y.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = all_y.iter().copied().fold(0.0, f64::max);
        (nice_floor(lo * 0.8), nice_ceil(hi * 1.25))
    };
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x_of = |t: f64| LEFT + plot_w * t.log2() / max_threads.log2();
    let y_of = |v: f64| TOP + plot_h * (1.0 - (v.ln() - y_min.ln()) / (y_max.ln() - y_min.ln()));

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="26" font-size="18" font-weight="bold" text-anchor="middle">fillsync: synced 100-byte puts per second</text>"#,
        LEFT + plot_w / 2.0
    );
    let _ = writeln!(
        s,
        r##"<text x="{}" y="46" font-size="12" fill="#555" text-anchor="middle">{}</text>"##,
        LEFT + plot_w / 2.0,
        escape(subtitle)
    );

    // Grid and y ticks at 1, 2, 5 times powers of ten.
    let mut decade = 10f64.powf(y_min.log10().floor());
    while decade <= y_max {
        for m in [1.0, 2.0, 5.0] {
            let v = decade * m;
            if v < y_min * 0.999 || v > y_max * 1.001 {
                continue;
            }
            let y = y_of(v);
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
        decade *= 10.0;
    }
    // X ticks at powers of two.
    let mut t = 1.0;
    while t <= max_threads * 1.001 {
        let x = x_of(t);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#eee" stroke-width="1"/>"##,
            TOP + plot_h
        );
        let _ = writeln!(
            s,
            r#"<text x="{x:.1}" y="{:.1}" font-size="12" text-anchor="middle">{t}</text>"#,
            TOP + plot_h + 18.0
        );
        t *= 2.0;
    }
    // Axes and their labels.
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333" stroke-width="1"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" font-size="14" text-anchor="middle">writer threads (log scale)</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 16.0
    );
    let _ = writeln!(
        s,
        r#"<text x="22" y="{:.1}" font-size="14" text-anchor="middle" transform="rotate(-90 22 {:.1})">synced writes per second (log scale)</text>"#,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0
    );

    // The device limit.
    let mut legend: Vec<(String, &str, f64, bool)> = Vec::new();
    if let Some(d) = device.filter(|d| *d > 0.0) {
        let y = y_of(d);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#444" stroke-width="2" stroke-dasharray="8 5"/>"##,
            LEFT + plot_w
        );
        legend.push((
            format!("device: raw fdatasync loop, {}/s", si(d)),
            "#444",
            2.0,
            true,
        ));
    }
    // One line per engine, Tributary last so it is drawn on top.
    let mut order: Vec<&Series> = series.iter().collect();
    order.sort_by_key(|s| s.engine == "tributary");
    for serie in order {
        let (colour, width) = style(&serie.engine);
        let pts: Vec<String> = serie
            .points
            .iter()
            .filter(|p| p.1 > 0.0)
            .map(|&(t, v)| format!("{:.1},{:.1}", x_of(t), y_of(v)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="{width}" stroke-linejoin="round"/>"#,
            pts.join(" ")
        );
        for &(t, v) in serie.points.iter().filter(|p| p.1 > 0.0) {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="{:.1}" fill="{colour}"><title>{} {} threads: {:.0} ops/s</title></circle>"#,
                x_of(t),
                y_of(v),
                width + 1.5,
                serie.engine,
                t,
                v
            );
        }
        legend.push((serie.engine.clone(), colour, width, false));
    }
    legend.sort_by_key(|l| (l.3, l.0 != "tributary"));
    for (i, (name, colour, width, dashed)) in legend.iter().enumerate() {
        let y = TOP + 20.0 + 24.0 * i as f64;
        let x = LEFT + plot_w + 16.0;
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
    s.push_str("</svg>\n");
    s
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
        assert!(svg.contains("stroke-dasharray"));
    }
}
