//! The decision of recovery, as a pure function of the journal scans: how
//! much history to replay, what was dropped and why, whether acknowledged
//! writes may be lost, and the repair that makes the choice stable.
//!
//! # The rules
//!
//! Journals are taken oldest first. Sequence numbers are dense, so they say
//! whether anything is missing: the first journal holding records must
//! begin at sequence number 1, and each later one right after the last
//! record before it.
//!
//! "Oldest first" is file number order: recovery relies on each new journal
//! taking a larger number than every file before it (`files::FileNumbers`),
//! not on journal numbers being consecutive: journals, tables, manifests
//! and temporaries take numbers from one counter, so journal numbers have
//! gaps. A missing journal is found by the gap it leaves in sequence
//! numbers, never by its number.
//!
//! - A journal that ends *torn* (inside a record, or with nothing readable
//!   after damage) is what a crash leaves. Whether it lost anything is told
//!   by the next journal holding records: if there is none, the tail was the
//!   newest write and is dropped quietly in every mode (the one damage
//!   strict recovery accepts); if it begins exactly where the torn journal's
//!   good part ends, the torn bytes held no record and nothing is lost; if
//!   it begins anywhere else, records are missing between them.
//! - A journal *damaged* in a way no crash leaves (a readable record after
//!   the damage, a record that is not a well-formed batch, sequence numbers
//!   out of order), or one that begins anywhere but where the history
//!   expects, breaks the history there.
//!
//! A break is possible loss of acknowledged writes. Strict recovery refuses
//! to open; point-in-time recovery keeps the prefix before it, and the
//! repair sets the rest aside whole.
//!
//! # Why the repair steps come in this order
//!
//! A crash can stop a repair after any step. Each order below keeps, after
//! every step but the last, the very fact the decision rested on, so the
//! next open makes the same decision (the same refusal in strict mode, the
//! same prefix in point-in-time mode) and finishes the repair:
//!
//! - A break *inside* journal `i` rests on `i`'s own bytes: the journals
//!   after it are set aside first, newest first, and `i` is cut last.
//! - A break at the *start* of journal `i` rests on `i`'s first sequence
//!   number: `i` and the journals after it are set aside newest first, so
//!   `i` goes last.
//! - A break at the torn end of journal `p` rests on the first sequence
//!   number of the next journal holding records, which setting journals
//!   aside would hide: `p` is cut first (its good part, and with it the
//!   expected sequence number, is unchanged by the cut), then the journals
//!   after it are set aside newest first, except that the next one holding
//!   records goes last (journals between them hold none).
//!
//! A torn tail accepted as the newest write needs no repair. New writes go
//! to a new journal that begins exactly where the tail's good part ends, so
//! at the next open the torn bytes are followed by a journal that continues
//! the history: bytes that provably held no record, accepted by both modes
//! as before. (Cutting it instead would copy a whole journal into `lost/`
//! at every open after a crash.)
//!
//! A cut keeps the journal's whole original in `lost/` before replacing it
//! (see `repair`). A journal whose good part is empty is set aside whole
//! instead of cut to nothing.
//!
//! Last, the zeros after the last written byte of every journal that stays
//! are cut ([`Step::TrimZeros`]): they are the unwritten part of a
//! zero-filled journal, they change no decision, and left in place every
//! later open would read them again.

use super::scan::{Ending, JournalScan};
use super::{Damage, DropKind, DroppedRange};
use crate::error::CorruptionKind;
use batch::SeqNum;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What recovery does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The first `replayed` journals are replayed, each up to the end of
    /// its good part.
    pub replayed: usize,
    /// The last sequence number replayed.
    pub last_seq: SeqNum,
    /// Bytes not replayed, in journal order.
    pub dropped: Vec<DroppedRange>,
    /// The break in the history, if any.
    pub damage: Option<Damage>,
    /// The repair, in the order it must run.
    pub steps: Vec<Step>,
}

/// One step of a repair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Move the file into `lost/`, whole.
    SetAside {
        /// The file.
        path: PathBuf,
    },
    /// Cut the zeros at the end of a journal that stays, from `len` on.
    TrimZeros {
        /// The journal.
        path: PathBuf,
        /// The length it keeps: its good part and any non-zero byte.
        len: u64,
    },
    /// Keep the journal's original in `lost/`, then replace it with its
    /// first `len` bytes.
    Cut {
        /// The journal.
        path: PathBuf,
        /// Its number.
        number: u64,
        /// The length it keeps.
        len: u64,
    },
}

/// Where the history breaks.
enum Break {
    /// Inside journal `i`, after its good part.
    Inside(usize),
    /// Inside journal `i`, before the length the manifest recorded as
    /// synced (the second field): synced data is lost.
    LostSynced(usize, u64),
    /// Before journal `i` (or after the last, `scans.len()`): a journal
    /// the manifest recorded as synced, numbered the second field, is
    /// missing.
    Missing(usize, u64),
    /// At the start of journal `i`.
    AtStart(usize),
    /// At the torn end of journal `p`.
    TornEnd(usize),
}

/// What the manifest says of the journals at or above its log number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expect<'a> {
    /// The sequence number the first journal holding records must begin
    /// at: one past the newest record in tables.
    pub first_seq: SeqNum,
    /// Closed journals and the lengths they were synced to (issue #13,
    /// journal tracking). Damage before that length is lost synced data in
    /// every mode; damage after it is an ordinary crash tail.
    pub synced: &'a BTreeMap<u64, u64>,
    /// Whether a manifest tracks the journals' syncs. Then a journal it
    /// does not record as synced was never synced, or was synced a moment
    /// before the crash and is whole: a torn end in it is a crash tail,
    /// even with records in a later journal (a synced write there would
    /// have synced this one first). Without a manifest (a directory of
    /// journals only) nothing tells, and such a tear breaks the history.
    pub tracking: bool,
}

/// Decides recovery over `scans`, oldest journal first, for a database
/// with no tables (every journal from sequence number 1, none tracked).
#[cfg(test)]
pub(crate) fn plan(scans: &[JournalScan]) -> Plan {
    plan_with(
        scans,
        Expect {
            first_seq: SeqNum(1),
            synced: &BTreeMap::new(),
            tracking: false,
        },
    )
}

/// Decides recovery over `scans`, oldest journal first.
pub(crate) fn plan_with(scans: &[JournalScan], expect: Expect<'_>) -> Plan {
    let mut plan = decide(scans, expect);
    // Zeros after the last written byte of each journal that stays are
    // the unwritten part of a zero-filled journal: cut, so that later
    // opens do not read them again. Removing zeros changes no decision.
    let stays = |path: &PathBuf| {
        !plan.steps.iter().any(|s| match s {
            Step::SetAside { path: p } | Step::Cut { path: p, .. } => p == path,
            Step::TrimZeros { .. } => false,
        })
    };
    let trims: Vec<Step> = scans
        .iter()
        .filter(|scan| stays(&scan.path))
        .filter_map(|scan| {
            let keep = scan.data_end.max(scan.good_end);
            (keep < scan.len).then(|| Step::TrimZeros {
                path: scan.path.clone(),
                len: keep,
            })
        })
        .collect();
    plan.steps.extend(trims);
    plan
}

fn decide(scans: &[JournalScan], expect: Expect<'_>) -> Plan {
    let mut expected = expect.first_seq;
    let mut last_seq = SeqNum(expect.first_seq.0.saturating_sub(1));
    // Tracked journals with bytes synced that no scan describes.
    let mut missing = expect
        .synced
        .iter()
        .filter(|&(n, &len)| len > 0 && !scans.iter().any(|s| s.number == *n))
        .map(|(&n, _)| n)
        .peekable();
    // Journals ending torn, waiting for the next journal with records to
    // tell whether their tails lost anything.
    let mut torn: Vec<usize> = Vec::new();
    let mut dropped = Vec::new();
    let mut found = None;
    for (i, scan) in scans.iter().enumerate() {
        if let Some(&n) = missing.peek().filter(|&&n| n < scan.number) {
            found = Some((Break::Missing(i, n), i));
            break;
        }
        let synced = expect.synced.get(&scan.number).copied();
        if scan.holds_records() {
            let first = scan.seqs.map(|s| s.first);
            if first == Some(expected) {
                for &t in &torn {
                    dropped.push(tail(
                        &scans[t],
                        DropKind::TornTail,
                        &format!(
                            "no record lost: {} continues at {expected}",
                            scan.path.display()
                        ),
                    ));
                }
                torn.clear();
            } else if let Some(&p) = torn.first() {
                found = Some((Break::TornEnd(p), i));
                break;
            } else if let Some(p) = clean_before(scans, i)
                .filter(|_| expect.tracking && first.is_some_and(|f| f > expected))
            {
                found = Some((Break::TornEnd(p), i));
                break;
            } else {
                found = Some((Break::AtStart(i), i));
                break;
            }
        }
        if let Some(seqs) = scan.seqs {
            last_seq = seqs.last;
            expected = SeqNum(seqs.last.0.saturating_add(1));
        }
        if let Some(len) = synced.filter(|&len| scan.good_end < len) {
            found = Some((Break::LostSynced(i, len), i));
            break;
        }
        match scan.ending {
            Ending::Clean => {}
            Ending::Torn { .. } => torn.push(i),
            // Past the length synced: what a crash leaves, however it looks.
            Ending::Damaged { .. } if synced.is_some() => torn.push(i),
            Ending::Damaged { .. } => {
                found = Some((Break::Inside(i), i));
                break;
            }
        }
    }

    if found.is_none() {
        if let Some(n) = missing.next() {
            found = Some((Break::Missing(scans.len(), n), scans.len()));
        }
    }
    let Some((found, next)) = found else {
        // No break: every torn tail was the newest write. It stays where it
        // is: the next journal will begin exactly where its good part ends,
        // which makes it bytes that held no record (above), so every later
        // open decides the same without a repair.
        for &t in &torn {
            dropped.push(tail(&scans[t], DropKind::TornTail, "the newest write"));
        }
        return Plan {
            replayed: scans.len(),
            last_seq,
            dropped,
            damage: None,
            steps: Vec::new(),
        };
    };

    let newest_first = |from: usize| {
        (from..scans.len())
            .rev()
            .map(|j| Step::SetAside {
                path: scans[j].path.clone(),
            })
            .collect::<Vec<_>>()
    };
    let missing_path = |n: u64| {
        let dir = scans
            .first()
            .and_then(|s| s.path.parent())
            .unwrap_or(std::path::Path::new(""));
        crate::files::journal_path(dir, n)
    };
    let mut crash_tail = false;
    let (replayed, damage, steps) = match found {
        Break::LostSynced(i, len) => {
            let scan = &scans[i];
            let what = match &scan.ending {
                Ending::Clean => format!("the journal ends at offset {}", scan.len),
                Ending::Torn { offset, reason } | Ending::Damaged { offset, reason, .. } => {
                    format!("{reason} at offset {offset}")
                }
            };
            let reason =
                format!("lost synced data: the manifest records {len} bytes synced, but {what}");
            let damage = Damage {
                kind: CorruptionKind::Journal,
                path: scan.path.clone(),
                offset: scan.good_end,
                reason: reason.clone(),
            };
            if scan.good_end < scan.len {
                dropped.push(tail(scan, DropKind::Damage, &reason));
            }
            let mut steps = newest_first(i + 1);
            if scan.good_end < scan.len {
                steps.push(shorten(scan));
            }
            (i + 1, damage, steps)
        }
        Break::Missing(i, n) => {
            let damage = Damage {
                kind: CorruptionKind::Journal,
                path: missing_path(n),
                offset: 0,
                reason: "lost synced data: the manifest records this journal as synced, but it is missing"
                    .to_owned(),
            };
            (i, damage, newest_first(i))
        }
        Break::Inside(i) => {
            let scan = &scans[i];
            let Ending::Damaged {
                offset,
                reason,
                kind,
            } = &scan.ending
            else {
                unreachable!("a break inside a journal is its damage")
            };
            let damage = Damage {
                kind: *kind,
                path: scan.path.clone(),
                offset: *offset,
                reason: reason.clone(),
            };
            dropped.push(tail(scan, DropKind::Damage, reason));
            let mut steps = newest_first(i + 1);
            steps.push(shorten(scan));
            (i + 1, damage, steps)
        }
        Break::AtStart(i) => {
            let scan = &scans[i];
            let (at_start_kind, reason) = match (scan.seqs, &scan.ending) {
                (Some(s), _) => (
                    CorruptionKind::Sequence,
                    format!(
                        "journal begins at sequence number {} where {expected} was expected",
                        s.first
                    ),
                ),
                (
                    None,
                    Ending::Damaged {
                        offset,
                        reason,
                        kind,
                    },
                ) => (
                    *kind,
                    format!("damaged before its first record, at offset {offset}: {reason}"),
                ),
                (None, _) => unreachable!("a journal holding records has a batch or damage"),
            };
            let damage = Damage {
                kind: at_start_kind,
                path: scan.path.clone(),
                offset: 0,
                reason: format!("{reason}: acknowledged writes may be lost"),
            };
            (i, damage, newest_first(i))
        }
        Break::TornEnd(p) => {
            let scan = &scans[p];
            let zeros = format!(
                "a clean end after its last record, at offset {}, where a crash may have lost \
                 its last writes whole",
                scan.good_end
            );
            let (offset, reason) = match &scan.ending {
                Ending::Torn { offset, reason } | Ending::Damaged { offset, reason, .. } => {
                    (offset, reason)
                }
                Ending::Clean => (&scan.good_end, &zeros),
            };
            // Torn past the length the manifest recorded as synced (or in a
            // journal it never recorded as synced): the bytes lost were
            // never synced, and neither were the later journals' records (a
            // synced write syncs every journal before its own), so this is
            // what a crash leaves, in every mode (see `Expect::tracking`).
            crash_tail = match expect.synced.get(&scan.number) {
                Some(&len) => scan.good_end >= len,
                None => expect.tracking,
            };
            let later = &scans[next];
            let begins = match later.seqs {
                Some(s) => format!(
                    "begins at sequence number {} where {expected} was expected",
                    s.first
                ),
                None => "is damaged before its first record".to_owned(),
            };
            let consequence = if crash_tail {
                "past the length the manifest records as synced, so only unsynced writes are lost, as in any crash"
            } else {
                "acknowledged writes may be lost"
            };
            let reason = format!(
                "{reason}, while {} holds later records and {begins}: {consequence}",
                later.path.display()
            );
            let damage = Damage {
                kind: CorruptionKind::Journal,
                path: scan.path.clone(),
                offset: *offset,
                reason: reason.clone(),
            };
            let kind = if crash_tail {
                DropKind::TornTail
            } else {
                DropKind::Damage
            };
            // A journal that ends clean where its good part does (its last
            // write lost whole) has nothing to drop or cut.
            let cut = scan.good_end < scan.len;
            if cut {
                dropped.push(tail(scan, kind, &reason));
            }
            // The decision rests on `next`: it goes last. The journals
            // between `p` and `next` hold no record, so they change
            // nothing, but they too go before it.
            let mut steps: Vec<Step> = cut.then(|| shorten(scan)).into_iter().collect();
            steps.extend(
                newest_first(p + 1)
                    .into_iter()
                    .filter(|s| !matches!(s, Step::SetAside { path } if *path == later.path)),
            );
            steps.push(Step::SetAside {
                path: later.path.clone(),
            });
            (p + 1, damage, steps)
        }
    };
    // Whole journals past the break, in journal order.
    for scan in &scans[replayed..] {
        if scan.len > 0 {
            let reason = if scan.path == damage.path {
                damage.reason.clone()
            } else {
                format!("after the damage in {}", damage.path.display())
            };
            dropped.push(DroppedRange {
                path: scan.path.clone(),
                offset: 0,
                len: scan.len,
                kind: if crash_tail {
                    DropKind::TornTail
                } else {
                    DropKind::Damage
                },
                reason,
            });
        }
    }
    Plan {
        replayed,
        last_seq,
        dropped,
        damage: (!crash_tail).then_some(damage),
        steps,
    }
}

/// What in the directory shows that the manifest's edits went past what
/// its catalog says, if anything does: a journal at or above the log
/// number that is gone although it was not set aside (`set_aside` says
/// whether `lost/` holds a journal). A journal is deleted only after an
/// edit that moves the log number past it has committed, and its name was
/// made durable before any edit named it, so no crash explains the
/// absence: the journal the log number names, or one the manifest records
/// as synced.
///
/// (A table the catalog lists that is missing is proof too; the caller
/// finds it when it opens them. Sequence numbers are not: a crash that
/// keeps a later journal's unsynced block and loses an earlier one's
/// leaves the same gap.)
pub(crate) fn committed_past(
    catalog: &crate::version::Catalog,
    scans: &[JournalScan],
    set_aside: &dyn Fn(u64) -> bool,
) -> Option<String> {
    let present = |n: u64| scans.iter().any(|s| s.number == n) || set_aside(n);
    if catalog.log_number > 0 && !present(catalog.log_number) {
        return Some(format!(
            "journal {:06}.log, the first live one by the records before it, is gone \
             (journals are deleted only once a committed edit moves past them)",
            catalog.log_number
        ));
    }
    catalog
        .synced_journals
        .iter()
        .find(|&(&n, &len)| n >= catalog.log_number && len > 0 && !present(n))
        .map(|(n, len)| {
            format!(
                "journal {n:06}.log, recorded as synced to {len} bytes by the records \
                 before it, is gone (journals are deleted only once a committed edit moves \
                 past them)"
            )
        })
}

/// The journal before `i` holding records, if it ends clean (`i` itself
/// beginning with a readable record past the expected sequence number,
/// not with damage): a crash can
/// lose a journal's last unsynced writes whole (an append cut at a record
/// boundary, or zeros left where a zero-filled journal was to be
/// overwritten), leaving an end that reads as clean, while a later journal
/// keeps unsynced records of its own (a crash keeps or loses each file's
/// unsynced writes on its own). Where a manifest tracks syncs, such an end
/// is judged as a torn end is: a crash tail unless the journal was
/// recorded as synced past it (see [`Expect::tracking`]).
fn clean_before(scans: &[JournalScan], i: usize) -> Option<usize> {
    let p = scans[..i].iter().rposition(|s| s.seqs.is_some())?;
    (scans[p].ending == Ending::Clean).then_some(p)
}

/// The bytes of `scan` after its good part, dropped for `reason`.
fn tail(scan: &JournalScan, kind: DropKind, why: &str) -> DroppedRange {
    let what = match &scan.ending {
        Ending::Clean => String::new(),
        Ending::Torn { offset, reason } | Ending::Damaged { offset, reason, .. } => {
            format!("{reason} (at offset {offset})")
        }
    };
    DroppedRange {
        path: scan.path.clone(),
        offset: scan.good_end,
        len: scan.len - scan.good_end,
        kind,
        reason: if what.is_empty() || what == why {
            why.to_owned()
        } else {
            format!("{what}: {why}")
        },
    }
}

/// The step that ends `scan` at its good part: a cut, or setting it aside
/// whole when its good part is empty.
fn shorten(scan: &JournalScan) -> Step {
    if scan.good_end == 0 {
        Step::SetAside {
            path: scan.path.clone(),
        }
    } else {
        Step::Cut {
            path: scan.path.clone(),
            number: scan.number,
            len: scan.good_end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::scan::SeqRange;
    use super::*;

    /// A journal of batches `first..=last` (none if `first` is 0), ending
    /// as `ending` says: "clean", "torn" or "damaged".
    fn journal(number: u64, first: u64, last: u64, ending: &str) -> JournalScan {
        let seqs = (first > 0).then_some(SeqRange {
            first: SeqNum(first),
            last: SeqNum(last),
        });
        let good_end = if first > 0 {
            100 * (last - first + 1)
        } else {
            0
        };
        let at = |reason: &str| (good_end, reason.to_owned());
        JournalScan {
            path: PathBuf::from(format!("/db/{number:06}.log")),
            number,
            len: good_end + 50,
            seqs,
            batches: 0,
            records: 0,
            good_end,
            good: Vec::new(),
            data_end: good_end + 50,
            ending: match ending {
                "clean" => Ending::Clean,
                "torn" => {
                    let (offset, reason) = at("torn tail");
                    Ending::Torn { offset, reason }
                }
                "damaged" => {
                    let (offset, reason) = at("checksum mismatch");
                    Ending::Damaged {
                        offset,
                        reason,
                        kind: CorruptionKind::Journal,
                    }
                }
                other => panic!("{other}"),
            },
        }
    }

    fn aside(number: u64) -> Step {
        Step::SetAside {
            path: PathBuf::from(format!("/db/{number:06}.log")),
        }
    }

    fn cut(number: u64, len: u64) -> Step {
        Step::Cut {
            path: PathBuf::from(format!("/db/{number:06}.log")),
            number,
            len,
        }
    }

    /// Zeros after the last written byte are cut from every journal that
    /// stays, never below its good part; journals set aside or cut keep
    /// theirs.
    #[test]
    fn zero_tails_of_journals_that_stay_are_trimmed() {
        let mut zeroed = journal(1, 1, 10, "clean");
        zeroed.data_end = 990; // The last record ends in zero bytes.
        let mut torn = journal(2, 11, 20, "torn");
        torn.data_end = 1020;
        torn.len = 5000;
        let plan = plan(&[zeroed, torn]);
        let trim = |number: u64, len: u64| Step::TrimZeros {
            path: PathBuf::from(format!("/db/{number:06}.log")),
            len,
        };
        assert_eq!(plan.steps, vec![trim(1, 1000), trim(2, 1020)]);

        let mut damaged = journal(1, 1, 10, "damaged");
        damaged.data_end = 1000;
        let plan = super::plan(&[damaged, journal(2, 21, 30, "clean")]);
        assert!(
            plan.steps
                .iter()
                .all(|s| !matches!(s, Step::TrimZeros { .. })),
            "{plan:?}"
        );
    }

    /// A journal whose last write a crash lost whole reads as a clean end
    /// (an append cut at a record boundary, or the zeros of a zero-filled
    /// journal); a later journal kept its unsynced records. With a
    /// manifest tracking syncs, that is a crash tail (the D1 test met it:
    /// strict refused a state a power loss leaves); without one, nothing
    /// tells, and the history breaks as before.
    #[test]
    fn a_journal_that_lost_its_last_write_whole_is_a_crash_tail() {
        let mut ended = journal(1, 1, 10, "clean");
        ended.data_end = ended.good_end;
        ended.len = ended.good_end;
        let scans = [ended, journal(2, 12, 20, "clean")];
        let tracked = plan_with(
            &scans,
            Expect {
                first_seq: SeqNum(1),
                synced: &BTreeMap::new(),
                tracking: true,
            },
        );
        assert_eq!((tracked.replayed, tracked.last_seq), (1, SeqNum(10)));
        assert_eq!(tracked.damage, None);
        assert_eq!(tracked.steps, vec![aside(2)]);
        assert_eq!(
            plan(&scans).damage.map(|d| d.path),
            Some(PathBuf::from("/db/000002.log"))
        );
        // Recorded as synced past its good part: synced data is lost.
        let synced = BTreeMap::from([(1, 2000)]);
        let lost = plan_with(
            &scans,
            Expect {
                first_seq: SeqNum(1),
                synced: &synced,
                tracking: true,
            },
        );
        assert!(lost.damage.is_some());
    }

    /// Each row: the journals, then the expected replayed count, last
    /// sequence number, whether the history breaks (and where), and the
    /// repair.
    #[test]
    fn the_decision_table() {
        struct Row {
            what: &'static str,
            journals: Vec<JournalScan>,
            replayed: usize,
            last_seq: u64,
            damage_in: Option<u64>,
            steps: Vec<Step>,
        }
        let rows = vec![
            Row {
                what: "whole history",
                journals: vec![journal(1, 1, 10, "clean"), journal(2, 11, 20, "clean")],
                replayed: 2,
                last_seq: 20,
                damage_in: None,
                steps: vec![],
            },
            Row {
                what: "torn tail of the newest journal",
                journals: vec![journal(1, 1, 10, "clean"), journal(2, 11, 20, "torn")],
                replayed: 2,
                last_seq: 20,
                damage_in: None,
                steps: vec![],
            },
            Row {
                what: "torn tail, then empty journals",
                journals: vec![
                    journal(1, 1, 10, "torn"),
                    journal(2, 0, 0, "clean"),
                    journal(3, 0, 0, "torn"),
                ],
                replayed: 3,
                last_seq: 10,
                damage_in: None,
                steps: vec![],
            },
            Row {
                what: "torn bytes that held no record: the next journal continues",
                journals: vec![journal(1, 1, 10, "torn"), journal(2, 11, 20, "clean")],
                replayed: 2,
                last_seq: 20,
                damage_in: None,
                steps: vec![],
            },
            Row {
                what: "torn end of an older journal, a later one past a gap",
                journals: vec![
                    journal(1, 1, 10, "torn"),
                    journal(2, 0, 0, "clean"),
                    journal(3, 15, 20, "clean"),
                    journal(4, 21, 30, "clean"),
                ],
                replayed: 1,
                last_seq: 10,
                damage_in: Some(1),
                steps: vec![cut(1, 1000), aside(4), aside(2), aside(3)],
            },
            Row {
                what: "the first journal missing",
                journals: vec![journal(2, 11, 20, "clean"), journal(3, 21, 30, "clean")],
                replayed: 0,
                last_seq: 0,
                damage_in: Some(2),
                steps: vec![aside(3), aside(2)],
            },
            Row {
                what: "a middle journal missing",
                journals: vec![
                    journal(1, 1, 10, "clean"),
                    journal(3, 21, 30, "clean"),
                    journal(4, 31, 40, "clean"),
                ],
                replayed: 1,
                last_seq: 10,
                damage_in: Some(3),
                steps: vec![aside(4), aside(3)],
            },
            Row {
                what: "a journal repeating history (a copy)",
                journals: vec![journal(1, 1, 10, "clean"), journal(2, 1, 10, "clean")],
                replayed: 1,
                last_seq: 10,
                damage_in: Some(2),
                steps: vec![aside(2)],
            },
            Row {
                what: "damage inside a middle journal",
                journals: vec![
                    journal(1, 1, 10, "clean"),
                    journal(2, 11, 15, "damaged"),
                    journal(3, 21, 30, "clean"),
                ],
                replayed: 2,
                last_seq: 15,
                damage_in: Some(2),
                steps: vec![aside(3), cut(2, 500)],
            },
            Row {
                what: "damage before the first record of the newest journal",
                journals: vec![journal(1, 1, 10, "clean"), journal(2, 0, 0, "damaged")],
                replayed: 1,
                last_seq: 10,
                damage_in: Some(2),
                steps: vec![aside(2)],
            },
            Row {
                what: "damage inside the newest journal, records after it",
                journals: vec![journal(1, 1, 10, "damaged")],
                replayed: 1,
                last_seq: 10,
                damage_in: Some(1),
                steps: vec![cut(1, 1000)],
            },
        ];
        for row in rows {
            let plan = plan(&row.journals);
            assert_eq!(plan.replayed, row.replayed, "{}", row.what);
            assert_eq!(plan.last_seq, SeqNum(row.last_seq), "{}", row.what);
            let damage_in = plan.damage.as_ref().map(|d| {
                let name = d.path.file_name().unwrap().to_str().unwrap();
                crate::files::parse_journal_name(name).unwrap()
            });
            assert_eq!(damage_in, row.damage_in, "{}: {plan:?}", row.what);
            assert_eq!(plan.steps, row.steps, "{}", row.what);
            // Every byte not replayed is accounted for, once.
            let replayed: u64 = row.journals[..plan.replayed]
                .iter()
                .map(|j| j.good_end)
                .sum();
            let dropped: u64 = plan.dropped.iter().map(|d| d.len).sum();
            let total: u64 = row.journals.iter().map(|j| j.len).sum();
            let unused_clean: u64 = row.journals[..plan.replayed]
                .iter()
                .filter(|j| j.ending == Ending::Clean)
                .map(|j| j.len - j.good_end)
                .sum();
            assert_eq!(
                replayed + dropped + unused_clean,
                total,
                "{}: {plan:?}",
                row.what
            );
        }
    }
}
