//! The order of the runs: each cell's rounds with its engines rotated,
//! and the cells of a prep group run as a unit on one directory per
//! engine, so that their prep runs once.

use super::cells::{variants, workload_writes, Cell, Variant, BEYOND_ROUNDS, UNPIPELINED};
use super::Config;

/// One run of the plan.
pub(super) struct Planned<'a> {
    /// The cell it is a run of.
    pub(super) cell: &'a Cell,
    /// Who runs it, and what.
    pub(super) variant: Variant,
    /// Its round in its cell, from 0.
    pub(super) round: usize,
    /// Rounds of its cell.
    pub(super) rounds: usize,
    /// Its directory under `target/bench-data`.
    pub(super) dir: String,
    /// Whether it reads a directory an earlier run prepped
    /// (`--use-existing-db`).
    pub(super) use_existing: bool,
    /// Whether a later run reads its directory, which then stays.
    pub(super) keep_dir: bool,
}

/// Rounds of `cell`: `--runs` if given, else the cell's own or the
/// default.
pub(super) fn cell_rounds(cell: &Cell, config: &Config) -> usize {
    match cell.rounds {
        Some(r) if !config.runs_given => r.min(config.runs),
        _ => config.runs,
    }
}

/// What the header says about cells with fewer rounds than the others.
pub(super) fn rounds_note(cells: &[&Cell], config: &Config) -> String {
    let fewer = cells
        .iter()
        .filter(|c| cell_rounds(c, config) != config.runs)
        .count();
    if fewer == 0 {
        String::new()
    } else {
        format!(
            " ({fewer} beyond-memory cell(s) that write (disk-*, compressed-*, open-*): \
             {BEYOND_ROUNDS} round, to fit the time; --runs N overrides)"
        )
    }
}

/// Every run, in order. A cell runs its rounds, each with every variant
/// once, in an order rotated each round. The adjacent cells of one prep
/// group run as a unit: in each round, each engine (rotated) runs those
/// of them that have that round in turn on one directory, the first
/// prepping it. The directory lasts across rounds: a round preps it again
/// only after a round in which a cell wrote to it. A cell that only reads
/// runs in the unit's first rounds, one that writes in its last, so with
/// the default rounds the readers' three rounds and the writer's one
/// share a single prep per engine. Tributary's two settings, where a cell
/// runs both, run back to back ([`round_order`]).
pub(super) fn plan<'a>(cells: &[&'a Cell], config: &Config) -> Vec<Planned<'a>> {
    let mut units: Vec<Vec<&'a Cell>> = Vec::new();
    for &cell in cells {
        match units.last_mut() {
            Some(unit) if cell.prep_group.is_some() && unit[0].prep_group == cell.prep_group => {
                unit.push(cell)
            }
            _ => units.push(vec![cell]),
        }
    }
    let mut plan = Vec::new();
    for unit in units {
        let first = unit[0];
        let unit_rounds = unit
            .iter()
            .map(|c| cell_rounds(c, config))
            .max()
            .unwrap_or(0);
        // The cell's own round in `round` of the unit, if it runs then: a
        // reader's rounds are the unit's first, a writer's its last.
        let round_of = |cell: &Cell, round: usize| {
            let rounds = cell_rounds(cell, config);
            let first = if workload_writes(cell.workload) {
                unit_rounds - rounds
            } else {
                0
            };
            (first..first + rounds)
                .contains(&round)
                .then(|| round - first)
        };
        let wrote_in = |round: usize| {
            unit.iter()
                .any(|c| workload_writes(c.workload) && round_of(c, round).is_some())
        };
        let first_variants = variants(first, &config.engines);
        let start = plan.len();
        for round in 0..unit_rounds {
            let order = round_order(&first_variants, round);
            // Only a group's runs share a directory across rounds.
            let fresh = first.prep_group.is_none() || round == 0 || wrote_in(round - 1);
            for &i in &order {
                let engine = first_variants[i].engine.clone();
                let dir = format!(
                    "{}-{engine}",
                    first.prep_group.unwrap_or(first.id).replace('/', "-"),
                );
                let cells = unit.iter().filter_map(|&c| Some((c, round_of(c, round)?)));
                for (j, (cell, own_round)) in cells.enumerate() {
                    // The cells of a group have the same engines, and no
                    // device.
                    let variant = variants(cell, &config.engines)[i].clone();
                    debug_assert_eq!(variant.engine, engine);
                    plan.push(Planned {
                        cell,
                        variant,
                        round: own_round,
                        rounds: cell_rounds(cell, config),
                        dir: dir.clone(),
                        use_existing: j > 0 || !fresh,
                        keep_dir: true,
                    });
                }
            }
        }
        // A directory stays until its last run, or its next prep.
        let runs = &mut plan[start..];
        for k in 0..runs.len() {
            let next = runs[k + 1..].iter().find(|r| r.dir == runs[k].dir);
            runs[k].keep_dir = next.is_some_and(|r| r.use_existing);
        }
    }
    plan
}

/// The order of `variants` in round `round`: rotated by the round, and
/// with Tributary unpipelined ([`UNPIPELINED`]), if there, moved next to
/// Tributary: after it in even rounds, before it in odd ones. So the two
/// settings meet the device one right after the other, each first in
/// turn, and each follows the other in some round (with the rotation
/// alone, `unpipelined` always followed fjall, and Tributary followed
/// `unpipelined` in two rounds of three).
fn round_order(variants: &[Variant], round: usize) -> Vec<usize> {
    let n = variants.len();
    let mut order: Vec<usize> = (0..n).map(|i| (i + round) % n).collect();
    let at = |order: &[usize], name: &str| order.iter().position(|&i| variants[i].engine == name);
    if let (Some(_), Some(u)) = (at(&order, "tributary"), at(&order, UNPIPELINED)) {
        let unpipelined = order.remove(u);
        let t = at(&order, "tributary").expect("still there");
        order.insert(if round.is_multiple_of(2) { t + 1 } else { t }, unpipelined);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::cells::{BEYOND_READ_ROUNDS, CELLS};

    #[test]
    fn tributarys_two_settings_run_back_to_back_each_first_in_turn() {
        let fillsync = CELLS.iter().find(|c| c.id == "fillsync/16").unwrap();
        let engines: Vec<String> = ["tributary", "leveldb", "rocksdb", "fjall"]
            .map(str::to_owned)
            .to_vec();
        let all = variants(fillsync, &engines);
        for round in 0..4 {
            let order = round_order(&all, round);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..all.len()).collect::<Vec<_>>(), "each once");
            let names: Vec<&str> = order.iter().map(|&i| all[i].engine.as_str()).collect();
            let t = names.iter().position(|&e| e == "tributary").unwrap();
            let u = names.iter().position(|&e| e == UNPIPELINED).unwrap();
            let expected = if round.is_multiple_of(2) {
                t + 1
            } else {
                t - 1
            };
            assert_eq!(u, expected, "round {round}: {names:?}");
        }
        // Without the second setting, the plain rotation.
        let fillrandom = CELLS.iter().find(|c| c.id == "fillrandom/4").unwrap();
        let plain = variants(fillrandom, &engines);
        assert_eq!(round_order(&plain, 1), [1, 2, 3, 0]);
    }

    #[test]
    fn a_prep_group_runs_as_a_unit_per_engine() {
        // The cells of a group are adjacent, with one prep.
        for (i, c) in CELLS.iter().enumerate() {
            let Some(group) = c.prep_group else { continue };
            let prev = i.checked_sub(1).map(|j| &CELLS[j]);
            if prev.is_some_and(|p| p.prep_group == Some(group)) {
                assert_eq!(prev.unwrap().prep_keys, c.prep_keys, "{}", c.id);
            } else {
                assert!(!CELLS[i + 1..]
                    .iter()
                    .skip_while(|d| d.prep_group == Some(group))
                    .any(|d| d.prep_group == Some(group)));
            }
        }
        let config = |runs: usize, runs_given: bool| Config {
            quick: false,
            runs,
            runs_given,
            engines: vec!["tributary".to_owned(), "leveldb".to_owned()],
            only: Vec::new(),
            peers: true,
            install: false,
        };
        let cells: Vec<&Cell> = CELLS
            .iter()
            .filter(|c| c.prep_group == Some("disk-read") || c.id == "readrandom/1")
            .collect();
        let default = config(3, false);
        let plan_of = |config: &Config| plan(&cells, config);
        let plan = plan_of(&default);
        // readrandom/1: 3 rounds of 2 engines. The group: its four readers
        // 3 rounds of 2 engines, its writer 1 round, last.
        assert_eq!(plan.len(), 6 + 3 * 2 * 4 + 2);
        assert!(plan[..6].iter().all(|r| !r.use_existing && !r.keep_dir));
        let group = &plan[6..];
        assert!(group.iter().all(|r| r.variant.workload == r.cell.workload));
        for engine in ["tributary", "leveldb"] {
            let runs: Vec<&Planned> = group
                .iter()
                .filter(|r| r.variant.engine == engine)
                .collect();
            assert_eq!(runs.len(), 3 * 4 + 1);
            // One prep, by the first; the directory goes after the last.
            assert!(!runs[0].use_existing);
            assert!(runs[1..].iter().all(|r| r.use_existing));
            assert!(runs.iter().all(|r| r.dir == format!("disk-read-{engine}")));
            assert!(runs[..runs.len() - 1].iter().all(|r| r.keep_dir));
            let last = runs.last().unwrap();
            assert!(!last.keep_dir);
            assert_eq!(last.cell.workload, "readwhilewriting");
            assert_eq!((last.round, last.rounds), (0, BEYOND_ROUNDS));
            for (k, run) in runs[..12].iter().enumerate() {
                assert_eq!((run.round, run.rounds), (k / 4, BEYOND_READ_ROUNDS), "{k}");
                assert!(!workload_writes(run.cell.workload));
            }
        }
        // With --runs 3 the writer runs every round, so every round preps
        // afresh.
        let given = plan_of(&config(3, true));
        assert_eq!(given.len(), 6 + 3 * 2 * 5);
        for (k, run) in given[6..].iter().enumerate() {
            assert_eq!(run.use_existing, k % 5 != 0, "{k}");
            assert_eq!(run.keep_dir, k % 5 != 4, "{k}");
            assert_eq!(run.round, k / 10, "{k}");
        }
        // One round (--quick): one prep, five cells, per engine.
        assert_eq!(plan_of(&config(1, false)).len(), 2 + 2 * 5);
        assert!(rounds_note(&cells, &default).contains("1 beyond-memory"));
    }
}
