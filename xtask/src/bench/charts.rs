//! The charts of the medians, as SVG files beside the results: the
//! fillsync curve, and [`TIMELINE_CELL`]'s throughput over time.

use super::cells::UNPIPELINED;
use super::medians::{find, Median};
use super::num_field;
use super::svg;
use super::Session;
use anyhow::Result;
use std::fmt::Write as _;

/// The cell whose throughput over time is drawn.
const TIMELINE_CELL: &str = "disk-fillrandom/1";
/// The file it is drawn to, in `bench-results`.
const TIMELINE_SVG: &str = "fillrandom-10m.svg";

/// Draws each chart whose cells ran to its file in the results' directory;
/// returns the report's lines that say where they are.
pub(super) fn write(session: &Session, medians: &[Median]) -> Result<String> {
    let Session {
        config,
        stamp,
        machine,
        results_dir,
        ..
    } = session;
    let mut lines = String::new();
    let svg_path = results_dir.join("fillsync.svg");
    if let Some(svg) = fillsync_svg(&config.engines, medians, stamp, machine, config.quick) {
        std::fs::write(&svg_path, svg)?;
        let _ = writeln!(lines, "\nfillsync curve: {}", svg_path.display());
    }
    let svg_path = results_dir.join(TIMELINE_SVG);
    if let Some(svg) = timeline_svg(&config.engines, medians, stamp, machine, config.quick) {
        std::fs::write(&svg_path, svg)?;
        let _ = writeln!(
            lines,
            "{TIMELINE_CELL} ops/s over time: {}",
            svg_path.display()
        );
    }
    Ok(lines)
}

/// The fillsync curve from the medians, if any fillsync cell ran.
fn fillsync_svg(
    engines: &[String],
    medians: &[Median],
    stamp: &str,
    machine: &str,
    quick: bool,
) -> Option<String> {
    let curve = |engine: &str, cells: &str, label: String| svg::Series {
        engine: label,
        points: medians
            .iter()
            .filter(|m| m.engine == engine && m.cell.starts_with(cells))
            .filter_map(|m| {
                Some((
                    num_field(&m.obj, "threads")?,
                    num_field(&m.obj, "ops_per_sec")?,
                ))
            })
            .collect(),
    };
    let unpipelined = curve(
        UNPIPELINED,
        "fillsync/",
        "tributary, unpipelined".to_owned(),
    );
    let series: Vec<svg::Series> = engines
        .iter()
        .map(|e| curve(e, "fillsync/", e.clone()))
        .chain([unpipelined])
        .filter(|s| !s.points.is_empty())
        .collect();
    if series.is_empty() {
        return None;
    }
    let device = find(medians, "fillsync/1", "device").and_then(|o| num_field(o, "ops_per_sec"));
    let subtitle = format!(
        "{stamp}{}, medians; {machine}",
        if quick { " (--quick)" } else { "" }
    );
    Some(svg::fillsync(&series, device, &subtitle))
}

/// [`TIMELINE_CELL`]'s throughput over time, one line per engine, if it
/// ran: each interval's ops as ops per second, at the interval's end.
fn timeline_svg(
    engines: &[String],
    medians: &[Median],
    stamp: &str,
    machine: &str,
    quick: bool,
) -> Option<String> {
    let mut num = None;
    let series: Vec<svg::Series> = engines
        .iter()
        .filter_map(|e| {
            let obj = find(medians, TIMELINE_CELL, e)?;
            let interval_ms = num_field(obj, "interval_ms").filter(|ms| *ms > 0.0)?;
            num = num.or(num_field(obj, "num"));
            let points = obj
                .get("ops_per_interval")?
                .as_array()?
                .iter()
                .enumerate()
                .filter_map(|(i, n)| {
                    let secs = (i + 1) as f64 * interval_ms / 1e3;
                    Some((secs, n.as_f64()? * 1e3 / interval_ms))
                })
                .collect();
            Some(svg::Series {
                engine: e.clone(),
                points,
            })
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    if series.is_empty() {
        return None;
    }
    let title = format!(
        "fillrandom: {} random puts by one thread, ops/s per 100 ms",
        num.map_or("?".to_owned(), svg::si)
    );
    let subtitle = format!(
        "{TIMELINE_CELL}, {stamp}{}, one run; {machine}",
        if quick { " (--quick)" } else { "" }
    );
    Some(svg::timeline(&title, &series, &subtitle))
}
