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
        let mut next = self.clone();
        for field in edit {
            match field {
                Field::LogNumber(n) => next.log_number = next.log_number.max(*n),
                Field::NextFileNumber(n) => next.next_file_number = next.next_file_number.max(*n),
                Field::LastSeq(s) => next.last_seq = next.last_seq.max(*s),
                Field::CompactPointer { level, key } => {
                    level_index(*level)?;
                    next.compact_pointers.insert(*level, key.clone());
                }
                Field::AddFile { level, file } => {
                    let i = level_index(*level)?;
                    if next.levels.iter().any(|l| l.contains_key(&file.number)) {
                        return Err(Inconsistent(format!(
                            "table {} is added twice",
                            file.number
                        )));
                    }
                    next.levels[i].insert(file.number, file.clone());
                }
                Field::DeleteFile { level, number } => {
                    let i = level_index(*level)?;
                    if next.levels[i].remove(number).is_none() {
                        return Err(Inconsistent(format!(
                            "table {number} is deleted from level {level}, which does not hold it"
                        )));
                    }
                }
                Field::JournalSynced { number, len } => {
                    let recorded = next.synced_journals.entry(*number).or_insert(0);
                    *recorded = (*recorded).max(*len);
                }
            }
        }
        // Journals below the log number are obsolete: no longer tracked.
        let log_number = next.log_number;
        next.synced_journals.retain(|&n, _| n >= log_number);
        for file in next.levels.iter().flat_map(|l| l.values()) {
            if file.number >= next.next_file_number {
                return Err(Inconsistent(format!(
                    "table {} is not below the next file number {}",
                    file.number, next.next_file_number
                )));
            }
        }
        *self = next;
        Ok(())
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
        ] {
            assert!(c.apply(&bad).is_err(), "{bad:?}");
            assert_eq!(c, before);
        }
    }
}
