//! The median of each number over a cell's runs by one engine, and
//! lookups in them for the report.

use super::cells::{variants, Cell};
use super::run::RunOutcome;
use super::Object;
use serde_json::Value;

/// The median of a cell's runs by one engine.
pub(super) struct Median {
    /// The cell's id.
    pub(super) cell: &'static str,
    /// The engine, or `device`.
    pub(super) engine: String,
    /// The first run's JSON line with each number replaced by its median,
    /// and `runs`, how many runs there were.
    pub(super) obj: Object,
}

/// Per cell and engine, the median of each numeric field over the runs
/// (the upper median for an even count); other fields from the first run.
pub(super) fn medians(cells: &[&Cell], engines: &[String], outcomes: &[RunOutcome]) -> Vec<Median> {
    let mut out = Vec::new();
    for cell in cells {
        for engine in variants(cell, engines).into_iter().map(|v| v.engine) {
            let runs: Vec<&Object> = outcomes
                .iter()
                .filter(|o| o.cell == cell.id && o.engine == engine)
                .map(|o| &o.obj)
                .collect();
            let Some(first) = runs.first() else { continue };
            let mut obj = (*first).clone();
            for (key, value) in obj.iter_mut() {
                if value.is_u64() {
                    // Counts stay integers.
                    let mut xs: Vec<u64> =
                        runs.iter().filter_map(|r| r.get(key)?.as_u64()).collect();
                    xs.sort_unstable();
                    *value = Value::from(xs[xs.len() / 2]);
                } else if value.is_number() {
                    let mut xs: Vec<f64> =
                        runs.iter().filter_map(|r| r.get(key)?.as_f64()).collect();
                    xs.sort_by(f64::total_cmp);
                    *value = Value::from(xs[xs.len() / 2]);
                }
            }
            obj.insert("runs".to_owned(), Value::from(runs.len()));
            out.push(Median {
                cell: cell.id,
                engine,
                obj,
            });
        }
    }
    out
}

/// The median line of `cell` by `engine`, if it ran.
pub(super) fn find<'a>(medians: &'a [Median], cell: &str, engine: &str) -> Option<&'a Object> {
    medians
        .iter()
        .find(|m| m.cell == cell && m.engine == engine)
        .map(|m| &m.obj)
}
