//! What the manifest says, as a value: the tables of each level and the
//! counters, built by applying edits in order. A pure function of the
//! edits; the manifest's replay and every commit go through
//! [`Catalog::apply`], so the two cannot disagree.

use super::edit::{Field, FileMeta};
use std::collections::BTreeMap;
use std::fmt;

/// Levels of the LSM tree (LevelDB's `kNumLevels`).
pub const NUM_LEVELS: usize = 7;

/// The files and counters a sequence of edits leaves.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalog {
    /// Tables by level, each keyed by number.
    pub levels: [BTreeMap<u64, FileMeta>; NUM_LEVELS],
    /// Journals numbered below this hold nothing that is not in tables.
    pub log_number: u64,
    /// The next unused file number (for every kind of file).
    pub next_file_number: u64,
    /// The highest sequence number in tables.
    pub last_seq: u64,
    /// Where the next compaction of each level starts.
    pub compact_pointers: BTreeMap<u8, Vec<u8>>,
    /// Closed journals at or above `log_number` and their synced lengths.
    pub synced_journals: BTreeMap<u64, u64>,
}

/// An edit that does not apply to the catalog it meets: the manifest
/// contradicts itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inconsistent(pub String);

impl fmt::Display for Inconsistent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How to take back one field of an edit that failed part way.
enum Undo {
    LogNumber(u64),
    NextFileNumber(u64),
    LastSeq(u64),
    CompactPointer(u8, Option<Vec<u8>>),
    Added(usize, u64),
    Deleted(usize, FileMeta),
    Synced(u64, Option<u64>),
}

fn level_index(level: u8) -> Result<usize, Inconsistent> {
    let i = usize::from(level);
    if i < NUM_LEVELS {
        Ok(i)
    } else {
        Err(Inconsistent(format!(
            "level {level} is past the last level"
        )))
    }
}

impl Catalog {
    /// Applies one edit, whole: on an error the catalog is unchanged.
    ///
    /// Counters only move forward (an edit that would move one back keeps
    /// the larger: an older edit replayed after a newer one changes
    /// nothing). A table is added to one level at most once and deleted
    /// only from the level that holds it.
    pub fn apply(&mut self, edit: &[Field]) -> Result<(), Inconsistent> {
        self.apply_checked(edit, true)
    }

    /// As [`apply`](Catalog::apply), but the tables added are not checked
    /// against the next file number: a LevelDB manifest lists a
    /// snapshot's tables in one record and the counters in the next. The
    /// caller checks with [`check_numbers`](Catalog::check_numbers) once
    /// every edit is in.
    pub fn apply_unnumbered(&mut self, edit: &[Field]) -> Result<(), Inconsistent> {
        self.apply_checked(edit, false)
    }

    /// Checks that every table's number is below the next file number.
    pub fn check_numbers(&self) -> Result<(), Inconsistent> {
        match self
            .tables()
            .find(|(_, f)| f.number >= self.next_file_number)
        {
            Some((_, f)) => Err(Inconsistent(format!(
                "table {} is not below the next file number {}",
                f.number, self.next_file_number
            ))),
            None => Ok(()),
        }
    }

    fn apply_checked(&mut self, edit: &[Field], numbered: bool) -> Result<(), Inconsistent> {
        // In place, with an undo log: replaying a manifest applies one
        // edit per flush and compaction, and copying the whole catalog
        // for each made a reopen's replay quadratic in the tables.
        let mut undo = Vec::new();
        if let Err(e) = self.apply_fields(edit, numbered, &mut undo) {
            self.roll_back(undo);
            return Err(e);
        }
        // Journals below the log number are obsolete: no longer tracked.
        let log_number = self.log_number;
        self.synced_journals.retain(|&n, _| n >= log_number);
        Ok(())
    }

    /// Applies `edit`'s fields in order, noting in `undo` how to take each
    /// back, then checks the tables it added against the next file number
    /// (the number only moves forward, so the others still pass).
    fn apply_fields(
        &mut self,
        edit: &[Field],
        numbered: bool,
        undo: &mut Vec<Undo>,
    ) -> Result<(), Inconsistent> {
        let mut added = Vec::new();
        for field in edit {
            match field {
                Field::LogNumber(n) => {
                    undo.push(Undo::LogNumber(self.log_number));
                    self.log_number = self.log_number.max(*n);
                }
                Field::NextFileNumber(n) => {
                    undo.push(Undo::NextFileNumber(self.next_file_number));
                    self.next_file_number = self.next_file_number.max(*n);
                }
                Field::LastSeq(s) => {
                    undo.push(Undo::LastSeq(self.last_seq));
                    self.last_seq = self.last_seq.max(*s);
                }
                Field::CompactPointer { level, key } => {
                    level_index(*level)?;
                    let old = self.compact_pointers.insert(*level, key.clone());
                    undo.push(Undo::CompactPointer(*level, old));
                }
                Field::AddFile { level, file } => {
                    let i = level_index(*level)?;
                    if self.levels.iter().any(|l| l.contains_key(&file.number)) {
                        return Err(Inconsistent(format!(
                            "table {} is added twice",
                            file.number
                        )));
                    }
                    self.levels[i].insert(file.number, file.clone());
                    undo.push(Undo::Added(i, file.number));
                    added.push(file.number);
                }
                Field::DeleteFile { level, number } => {
                    let i = level_index(*level)?;
                    let Some(file) = self.levels[i].remove(number) else {
                        return Err(Inconsistent(format!(
                            "table {number} is deleted from level {level}, which does not hold it"
                        )));
                    };
                    undo.push(Undo::Deleted(i, file));
                }
                Field::Continues => {
                    return Err(Inconsistent(
                        "a continuation mark inside an edit (it may only end a record)".to_owned(),
                    ))
                }
                Field::JournalSynced { number, len } => {
                    let old = self.synced_journals.get(number).copied();
                    undo.push(Undo::Synced(*number, old));
                    let recorded = self.synced_journals.entry(*number).or_insert(0);
                    *recorded = (*recorded).max(*len);
                }
            }
        }
        for number in added {
            // Still listed: a later field of the edit may have deleted it.
            let listed = self.levels.iter().any(|l| l.contains_key(&number));
            if numbered && listed && number >= self.next_file_number {
                return Err(Inconsistent(format!(
                    "table {number} is not below the next file number {}",
                    self.next_file_number
                )));
            }
        }
        Ok(())
    }

    /// Takes back what [`apply_fields`](Catalog::apply_fields) did, newest
    /// first.
    fn roll_back(&mut self, undo: Vec<Undo>) {
        for step in undo.into_iter().rev() {
            match step {
                Undo::LogNumber(n) => self.log_number = n,
                Undo::NextFileNumber(n) => self.next_file_number = n,
                Undo::LastSeq(s) => self.last_seq = s,
                Undo::CompactPointer(level, old) => match old {
                    Some(key) => {
                        self.compact_pointers.insert(level, key);
                    }
                    None => {
                        self.compact_pointers.remove(&level);
                    }
                },
                Undo::Added(i, number) => {
                    self.levels[i].remove(&number);
                }
                Undo::Deleted(i, file) => {
                    self.levels[i].insert(file.number, file);
                }
                Undo::Synced(number, old) => match old {
                    Some(len) => {
                        self.synced_journals.insert(number, len);
                    }
                    None => {
                        self.synced_journals.remove(&number);
                    }
                },
            }
        }
    }

    /// One edit that rebuilds this catalog from nothing: what a new
    /// manifest starts with.
    pub fn full_edit(&self) -> Vec<Field> {
        let mut edit = vec![
            Field::LogNumber(self.log_number),
            Field::NextFileNumber(self.next_file_number),
            Field::LastSeq(self.last_seq),
        ];
        for (&level, key) in &self.compact_pointers {
            edit.push(Field::CompactPointer {
                level,
                key: key.clone(),
            });
        }
        for (level, files) in self.levels.iter().enumerate() {
            for file in files.values() {
                edit.push(Field::AddFile {
                    level: level as u8,
                    file: file.clone(),
                });
            }
        }
        for (&number, &len) in &self.synced_journals {
            edit.push(Field::JournalSynced { number, len });
        }
        edit
    }

    /// Every table, with its level.
    pub fn tables(&self) -> impl Iterator<Item = (usize, &FileMeta)> {
        self.levels
            .iter()
            .enumerate()
            .flat_map(|(level, files)| files.values().map(move |f| (level, f)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(number: u64) -> FileMeta {
        FileMeta {
            number,
            size: 100,
            entries: 1,
            smallest: b"a\0\0\0\0\0\0\0\0".to_vec(),
            largest: b"b\0\0\0\0\0\0\0\0".to_vec(),
        }
    }

    #[test]
    fn edits_apply_in_order_and_full_edit_rebuilds() {
        let mut c = Catalog::default();
        c.apply(&[
            Field::NextFileNumber(10),
            Field::AddFile {
                level: 0,
                file: file(3),
            },
        ])
        .unwrap();
        c.apply(&[
            Field::AddFile {
                level: 1,
                file: file(4),
            },
            Field::DeleteFile {
                level: 0,
                number: 3,
            },
            Field::LogNumber(5),
            Field::LastSeq(77),
            Field::JournalSynced { number: 4, len: 10 },
            Field::JournalSynced { number: 6, len: 20 },
        ])
        .unwrap();
        assert!(c.levels[0].is_empty());
        assert_eq!(c.levels[1].keys().copied().collect::<Vec<_>>(), [4]);
        // Journal 4 is below the log number: no longer tracked.
        assert_eq!(c.synced_journals.iter().collect::<Vec<_>>(), [(&6, &20)]);
        let mut rebuilt = Catalog::default();
        rebuilt.apply(&c.full_edit()).unwrap();
        assert_eq!(rebuilt, c);
    }

    #[test]
    fn contradictions_are_refused_and_change_nothing() {
        let mut c = Catalog::default();
        c.apply(&[
            Field::NextFileNumber(10),
            Field::AddFile {
                level: 0,
                file: file(3),
            },
        ])
        .unwrap();
        let before = c.clone();
        for bad in [
            vec![Field::AddFile {
                level: 2,
                file: file(3),
            }],
            vec![Field::DeleteFile {
                level: 1,
                number: 3,
            }],
            vec![Field::AddFile {
                level: 7,
                file: file(5),
            }],
            vec![Field::AddFile {
                level: 1,
                file: file(12),
            }],
            vec![
                Field::DeleteFile {
                    level: 0,
                    number: 3,
                },
                Field::DeleteFile {
                    level: 0,
                    number: 3,
                },
            ],
            // Every kind of field taken back when a later one fails.
            vec![
                Field::LogNumber(4),
                Field::NextFileNumber(20),
                Field::LastSeq(99),
                Field::CompactPointer {
                    level: 1,
                    key: b"k".to_vec(),
                },
                Field::JournalSynced { number: 5, len: 7 },
                Field::DeleteFile {
                    level: 0,
                    number: 3,
                },
                Field::AddFile {
                    level: 1,
                    file: file(3),
                },
                Field::AddFile {
                    level: 2,
                    file: file(30),
                },
            ],
        ] {
            assert!(c.apply(&bad).is_err(), "{bad:?}");
            assert_eq!(c, before);
        }
    }
}
