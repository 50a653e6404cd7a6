//! The manifest file: its replay, its appends, and `CURRENT`.
//!
//! # Reading
//!
//! The records are read in the journal's strict mode. A last record that
//! does not read (torn, or damaged with nothing readable after it) *may*
//! be an edit whose sync never returned, so that no caller was told it
//! committed: [`replay`] drops it and reports it as [`Replayed::torn`].
//! Whether a crash explains it is for recovery to judge against the rest
//! of the directory (`recovery`: a committed edit deletes what it made
//! obsolete, and that absence is proof). Damage anywhere before the end
//! refuses the manifest: later edits may already have deleted the inputs
//! of earlier ones, so no prefix is safe to guess at. So does a tear in the
//! full-state edit a manifest begins with: `CURRENT` names a manifest only
//! once that edit is synced, so no crash tears it.
//!
//! # Installing a new manifest (at each open)
//!
//! 1. write `MANIFEST-NNNNNN`: the header and one full-state edit; `fdatasync`;
//! 2. fsync the directory (the new name is durable);
//! 3. write `NNNNNN.dbtmp` holding `MANIFEST-NNNNNN\n`; `fdatasync`;
//! 4. rename it over `CURRENT`; fsync the directory (LevelDB skips this
//!    fsync; the ALICE study found the bug);
//! 5. only then may the old manifest be deleted.
//!
//! A crash before step 4's rename leaves the old `CURRENT` naming the old
//! manifest, which is untouched; after it, the new one, which is complete
//! and synced. Either way recovery reads a whole manifest.

use super::catalog::{Catalog, Inconsistent};
use super::edit::{edit_records, Field, Header, Record, RecordError, MAX_RECORD};
use crate::fs::{Fs, WritableFile};
use journal::{ReadError, Reader, Recovery};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

// The names are the directory's business (`files`); re-exported here,
// where a reader of the manifest looks for them.
pub use crate::files::{manifest_name, parse_current, set_current};

/// Why a manifest cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestError {
    /// The framing is damaged (the journal reader's report).
    Damaged {
        /// Offset of the damaged chunk.
        offset: u64,
        /// What the journal reader found.
        reason: String,
    },
    /// A record does not decode.
    BadRecord {
        /// Offset of the record.
        offset: u64,
        /// Why.
        reason: RecordError,
    },
    /// The first record is not a header this code reads.
    BadHeader(String),
    /// An edit contradicts the edits before it.
    Inconsistent {
        /// Offset of the edit.
        offset: u64,
        /// Why.
        reason: Inconsistent,
    },
    /// The manifest holds no header at all.
    Empty,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestError::Damaged { offset, reason } => {
                write!(f, "damaged at offset {offset}: {reason}")
            }
            ManifestError::BadRecord { offset, reason } => {
                write!(f, "record at offset {offset}: {reason}")
            }
            ManifestError::BadHeader(why) => write!(f, "bad header: {why}"),
            ManifestError::Inconsistent { offset, reason } => {
                write!(
                    f,
                    "edit at offset {offset} contradicts the edits before it: {reason}"
                )
            }
            ManifestError::Empty => f.write_str("no header record"),
        }
    }
}

/// A manifest read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// What its edits leave.
    pub catalog: Catalog,
    /// Edits applied (the header not counted).
    pub edits: usize,
    /// Bytes up to the end of the last whole record.
    pub good_len: u64,
    /// Bytes after `good_len` that do not read: a last record a crash may
    /// have torn, dropped (recovery decides whether a crash explains it).
    pub torn: u64,
}

/// The next record of the manifest `bytes` that `reader` reads, or `None`
/// at its end. Damage that no readable record follows is the last append,
/// torn by a crash (the journal's own rule for a torn tail): its edit
/// never returned from its sync, and it ends the manifest too.
///
/// # Errors
///
/// [`ManifestError::Damaged`] for damage with a record after it.
pub(crate) fn next_record<'a>(
    reader: &'a mut Reader<&[u8]>,
    bytes: &[u8],
) -> Result<Option<&'a [u8]>, ManifestError> {
    match reader.next_record() {
        Ok(Some(record)) => Ok(Some(record)),
        Ok(None) => Ok(None),
        Err(ReadError::Corrupt { offset, reason }) => {
            match journal::record_start_at_or_after(bytes, offset + 1) {
                Ok(None) => Ok(None),
                _ => Err(ManifestError::Damaged {
                    offset,
                    reason: reason.to_string(),
                }),
            }
        }
        // Reading from memory has no I/O error; anything else the reader
        // reports is damage too.
        Err(e) => Err(ManifestError::Damaged {
            offset: 0,
            reason: e.to_string(),
        }),
    }
}

/// Replays a manifest's bytes.
pub fn replay(bytes: &[u8]) -> Result<Replayed, ManifestError> {
    let mut reader = Reader::new(bytes, Recovery::Strict);
    let mut catalog = Catalog::default();
    let mut edits = 0;
    let mut header_seen = false;
    // Just past the last record applied.
    let mut last_good = 0;
    // The fields of an edit split over records, and where it starts.
    let mut continued: Vec<Field> = Vec::new();
    let mut continued_at = 0;
    while let Some(record) = next_record(&mut reader, bytes)? {
        let record = Record::decode(record);
        let offset = reader.record_offset();
        let record = record.map_err(|reason| ManifestError::BadRecord { offset, reason })?;
        match (header_seen, record) {
            (false, Record::Header(header)) => {
                check_header(&header)?;
                header_seen = true;
            }
            (false, Record::Edit(_)) => {
                return Err(ManifestError::BadHeader(
                    "the first record is an edit".into(),
                ))
            }
            (true, Record::Header(_)) => {
                return Err(ManifestError::BadRecord {
                    offset,
                    reason: RecordError::Decode("a second header".into()),
                })
            }
            (true, Record::Edit(mut fields)) => {
                if fields.last() == Some(&Field::Continues) {
                    // Part of an edit split over records: applied with
                    // its last record, or not at all.
                    fields.pop();
                    if continued.is_empty() {
                        continued_at = offset;
                    }
                    continued.append(&mut fields);
                    continue;
                }
                let (edit, at) = if continued.is_empty() {
                    (fields, offset)
                } else {
                    continued.append(&mut fields);
                    (std::mem::take(&mut continued), continued_at)
                };
                catalog
                    .apply(&edit)
                    .map_err(|reason| ManifestError::Inconsistent { offset: at, reason })?;
                edits += 1;
            }
        }
        last_good = reader.offset();
    }
    if !header_seen {
        return Err(ManifestError::Empty);
    }
    let good_len = last_good;
    if edits == 0 && good_len < bytes.len() as u64 {
        return Err(ManifestError::Damaged {
            offset: good_len,
            reason: "the full-state edit does not read (it was synced before CURRENT named \
                     this manifest, so no crash tears it)"
                .to_owned(),
        });
    }
    Ok(Replayed {
        catalog,
        edits,
        good_len,
        torn: bytes.len() as u64 - good_len,
    })
}

fn check_header(header: &Header) -> Result<(), ManifestError> {
    let want = Header::current();
    if header.magic != want.magic {
        return Err(ManifestError::BadHeader(format!(
            "magic {:?}",
            header.magic
        )));
    }
    if header.format != want.format {
        return Err(ManifestError::BadHeader(format!(
            "format {} (this build reads {})",
            header.format, want.format
        )));
    }
    if header.comparator != want.comparator {
        return Err(ManifestError::BadHeader(format!(
            "comparator {:?} (this build orders keys by {:?})",
            header.comparator, want.comparator
        )));
    }
    Ok(())
}

/// The open manifest, taking edits.
///
/// After an append or sync error it stays failed (the journal writer's
/// rule): the caller must stop committing, since whether the edit is
/// durable is unknown.
pub struct ManifestWriter {
    journal: journal::Writer<Box<dyn WritableFile>>,
    path: PathBuf,
    number: u64,
}

impl fmt::Debug for ManifestWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManifestWriter")
            .field("path", &self.path)
            .field("size", &self.journal.size())
            .finish()
    }
}

impl ManifestWriter {
    /// Creates manifest `number` in `dir` holding the header and `catalog`
    /// as one edit, synced; then fsyncs the directory (steps 1 and 2).
    pub fn create(
        fs: &dyn Fs,
        dir: &Path,
        number: u64,
        catalog: &Catalog,
    ) -> io::Result<ManifestWriter> {
        let path = dir.join(manifest_name(number));
        let file = fs.create(&path)?;
        let mut writer = ManifestWriter {
            journal: journal::Writer::new(file),
            path,
            number,
        };
        let result = (|| {
            writer
                .journal
                .append(&Record::Header(Header::current()).encode())?;
            writer.append(&catalog.full_edit())?;
            writer.journal.sync()?;
            fs.sync_dir(dir)
        })();
        match result {
            Ok(()) => Ok(writer),
            Err(e) => {
                // Not named by CURRENT, so nothing reads it: remove it.
                let _ = fs.remove(&writer.path);
                Err(e)
            }
        }
    }

    /// Appends an edit and syncs it: the commit point of a flush or a
    /// compaction.
    pub fn commit(&mut self, edit: &[Field]) -> io::Result<()> {
        self.append(edit)?;
        self.journal.sync()
    }

    /// Appends `edit` as the records [`edit_records`] makes of it, each
    /// within the reader's limit.
    fn append(&mut self, edit: &[Field]) -> io::Result<()> {
        let records = edit_records(edit).map_err(|len| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a manifest field of {len} bytes does not fit in a record of at most {MAX_RECORD}"
                ),
            )
        })?;
        for record in records {
            self.journal.append(&record)?;
        }
        Ok(())
    }

    /// The manifest's number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The manifest's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written.
    pub fn size(&self) -> u64 {
        self.journal.size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::edit::FileMeta;

    fn framed(records: &[Record]) -> Vec<u8> {
        let mut w = journal::Writer::new(Vec::new());
        for r in records {
            w.append(&r.encode()).unwrap();
        }
        w.flush().unwrap();
        w.into_inner()
    }

    fn add(number: u64) -> Field {
        Field::AddFile {
            level: 0,
            file: FileMeta {
                number,
                size: 1,
                entries: 1,
                smallest: vec![0; 9],
                largest: vec![1; 9],
            },
        }
    }

    #[test]
    fn replay_applies_edits_and_drops_a_torn_last_one() {
        let bytes = framed(&[
            Record::Header(Header::current()),
            Record::Edit(vec![Field::NextFileNumber(10), add(3)]),
            Record::Edit(vec![add(4)]),
        ]);
        let r = replay(&bytes).unwrap();
        assert_eq!((r.edits, r.torn), (2, 0));
        assert_eq!(r.catalog.levels[0].len(), 2);
        // Cut inside the last record: a torn tail, the edit never committed.
        let cut = &bytes[..bytes.len() - 3];
        let r = replay(cut).unwrap();
        assert_eq!(r.edits, 1);
        assert!(r.torn > 0);
        // The full-state edit is never a torn tail: it was synced before
        // the manifest was named.
        let snapshot_only = framed(&[
            Record::Header(Header::current()),
            Record::Edit(vec![Field::NextFileNumber(10), add(3)]),
        ]);
        let cut = &snapshot_only[..snapshot_only.len() - 3];
        assert!(matches!(replay(cut), Err(ManifestError::Damaged { .. })));
    }

    /// An edit larger than a record's share is split into records of
    /// whole fields, applied together; cut before its last record, none of
    /// it applies (and when it is the full-state edit, the manifest is
    /// refused).
    #[test]
    fn a_large_edit_is_split_and_applied_whole() {
        let big = |number: u64| Field::AddFile {
            level: 1,
            file: FileMeta {
                number,
                size: 1,
                entries: 1,
                smallest: [
                    vec![b'a'; 64 << 10],
                    number.to_be_bytes().to_vec(),
                    vec![0; 8],
                ]
                .concat(),
                largest: [
                    vec![b'a'; 64 << 10],
                    number.to_be_bytes().to_vec(),
                    vec![1; 8],
                ]
                .concat(),
            },
        };
        let mut edit = vec![Field::NextFileNumber(1000)];
        edit.extend((1..140).map(big));
        let records = edit_records(&edit).unwrap();
        assert!(records.len() >= 2, "{} records", records.len());
        assert!(records.iter().all(|r| r.len() <= MAX_RECORD));
        let mut w = journal::Writer::new(Vec::new());
        w.append(&Record::Header(Header::current()).encode())
            .unwrap();
        for r in &records {
            w.append(r).unwrap();
        }
        w.append(&Record::Edit(vec![add(500)]).encode()).unwrap();
        w.flush().unwrap();
        let bytes = w.into_inner();
        let r = replay(&bytes).unwrap();
        assert_eq!((r.edits, r.torn), (2, 0));
        assert_eq!(r.catalog.levels[1].len(), 139);
        // The full-state edit cut after its first record: refused.
        let mut reader = Reader::new(&bytes[..], Recovery::Strict);
        reader.next_record().unwrap();
        reader.next_record().unwrap();
        let after_first = reader.offset() as usize;
        assert!(matches!(
            replay(&bytes[..after_first]),
            Err(ManifestError::Damaged { .. })
        ));
        // A split edit after the first, cut before its last record: not
        // applied, and reported as a tail to judge.
        let mut w = journal::Writer::new(Vec::new());
        w.append(&Record::Header(Header::current()).encode())
            .unwrap();
        w.append(&Record::Edit(vec![Field::NextFileNumber(10), add(3)]).encode())
            .unwrap();
        let good = w.size();
        w.append(&records[0]).unwrap();
        w.flush().unwrap();
        let r = replay(&w.into_inner()).unwrap();
        assert_eq!((r.edits, r.good_len), (1, good));
        assert!(r.torn > 0);
        assert!(r.catalog.levels[1].is_empty());
    }

    #[test]
    fn damage_before_the_end_refuses() {
        let mut bytes = framed(&[
            Record::Header(Header::current()),
            Record::Edit(vec![Field::NextFileNumber(10), add(3)]),
            Record::Edit(vec![add(4)]),
        ]);
        bytes[12] ^= 1;
        assert!(matches!(replay(&bytes), Err(ManifestError::Damaged { .. })));
        assert_eq!(replay(&[]), Err(ManifestError::Empty));
        let no_header = framed(&[Record::Edit(vec![])]);
        assert!(matches!(
            replay(&no_header),
            Err(ManifestError::BadHeader(_))
        ));
        let mut foreign = Header::current();
        foreign.comparator = "other".into();
        assert!(matches!(
            replay(&framed(&[Record::Header(foreign)])),
            Err(ManifestError::BadHeader(_))
        ));
        let twice = framed(&[
            Record::Header(Header::current()),
            Record::Edit(vec![Field::NextFileNumber(10), add(3)]),
            Record::Edit(vec![add(3)]),
        ]);
        assert!(matches!(
            replay(&twice),
            Err(ManifestError::Inconsistent { .. })
        ));
    }

    #[test]
    fn current_parses_only_its_exact_form() {
        assert_eq!(parse_current(b"MANIFEST-000012\n"), Some(12));
        for bad in [
            &b"MANIFEST-000012"[..],
            b"MANIFEST-\n",
            b"MANIFEST-12a\n",
            b"manifest-1\n",
            b"\xff\n",
        ] {
            assert_eq!(parse_current(bad), None, "{bad:?}");
        }
    }
}
