//! LevelDB's manifest records, read into this crate's edits and written
//! from a catalog: the format half of opening a LevelDB or goleveldb
//! directory in place and of handing one back (INTEROP.md §3, issue #25).
//!
//! A LevelDB manifest is a log (the `journal` crate reads it) of
//! `VersionEdit` records, each a sequence of tagged fields (LevelDB's
//! `db/version_edit.cc`; goleveldb's `leveldb/session_record.go` uses the
//! same numbers):
//!
//! ```text
//! tag 1  comparator        varint32 length | bytes
//! tag 2  log number        varint64
//! tag 3  next file number  varint64
//! tag 4  last sequence     varint64
//! tag 5  compact pointer   varint32 level | varint32 length | internal key
//! tag 6  deleted file      varint32 level | varint64 number
//! tag 7  new file          varint32 level | varint64 number | varint64 size
//!                          | varint32 length | smallest | varint32 length | largest
//! tag 9  previous log      varint64
//! ```
//!
//! Tag 8 (large value references) has been obsolete since LevelDB 1.0;
//! it and every unknown tag are errors, never skipped: a field not
//! understood may be one that deletes a table. Internal keys are this
//! crate's (`user key | u64 LE seq << 8 | kind`). LevelDB records no entry
//! count, so a table read from a LevelDB manifest has `entries` 0. Fields
//! with no LevelDB
//! counterpart ([`Field::JournalSynced`], [`Field::Continues`]) are left
//! out when writing.

use super::catalog::{Catalog, NUM_LEVELS};
use super::edit::{Field, FileMeta, RecordError};
use super::manifest::{next_record, ManifestError, Replayed};
use crate::fs::Fs;
use crate::table::format::{get_varint32, get_varint64, put_varint};
use std::fmt;
use std::io;
use std::path::Path;

/// The comparator every LevelDB manifest this crate reads must name: its
/// internal keys order as this crate's.
pub const BYTEWISE_COMPARATOR: &str = "leveldb.BytewiseComparator";

/// One LevelDB `VersionEdit`, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LevelDbEdit {
    /// The comparator it names (tag 1), if it names one.
    pub comparator: Option<Vec<u8>>,
    /// Its fields, as this crate's edit fields, in record order.
    pub fields: Vec<Field>,
    /// The previous log number (tag 9), if recorded: journals at or above
    /// it are live too (LevelDB stopped writing it in 1.4).
    pub prev_log_number: Option<u64>,
}

/// Why a LevelDB manifest record does not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LevelDbEditError {
    /// A field runs past the end of the record, at this offset in it.
    Truncated {
        /// Where the field starts.
        offset: usize,
    },
    /// A tag this reader does not know (8 is obsolete), at this offset.
    UnknownTag {
        /// The tag.
        tag: u32,
        /// Where it is.
        offset: usize,
    },
    /// A level past the last, at this offset.
    BadLevel {
        /// The level.
        level: u32,
        /// Where its field starts.
        offset: usize,
    },
}

impl fmt::Display for LevelDbEditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LevelDbEditError::Truncated { offset } => {
                write!(
                    f,
                    "a field at offset {offset} runs past the end of the record"
                )
            }
            LevelDbEditError::UnknownTag { tag, offset } => {
                write!(f, "unknown field tag {tag} at offset {offset}")
            }
            LevelDbEditError::BadLevel { level, offset } => write!(
                f,
                "level {level} at offset {offset} is past the last level ({})",
                NUM_LEVELS - 1
            ),
        }
    }
}

impl std::error::Error for LevelDbEditError {}

/// Reads the fields of one record.
struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Where the field being read starts.
    field: usize,
}

impl Fields<'_> {
    fn truncated(&self) -> LevelDbEditError {
        LevelDbEditError::Truncated { offset: self.field }
    }

    fn varint32(&mut self) -> Result<u32, LevelDbEditError> {
        let (v, n) = get_varint32(&self.bytes[self.at..]).ok_or_else(|| self.truncated())?;
        self.at += n;
        Ok(v)
    }

    fn varint64(&mut self) -> Result<u64, LevelDbEditError> {
        let (v, n) = get_varint64(&self.bytes[self.at..]).ok_or_else(|| self.truncated())?;
        self.at += n;
        Ok(v)
    }

    fn bytes(&mut self) -> Result<Vec<u8>, LevelDbEditError> {
        let len = self.varint32()? as usize;
        let end = self.at.checked_add(len).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| self.truncated())?;
        let out = self.bytes[self.at..end].to_vec();
        self.at = end;
        Ok(out)
    }

    fn level(&mut self) -> Result<u8, LevelDbEditError> {
        let level = self.varint32()?;
        match u8::try_from(level) {
            Ok(l) if usize::from(l) < NUM_LEVELS => Ok(l),
            _ => Err(LevelDbEditError::BadLevel {
                level,
                offset: self.field,
            }),
        }
    }
}

/// Decodes one LevelDB manifest record.
///
/// # Errors
///
/// [`LevelDbEditError`] naming the offset in the record of a field that
/// runs past its end, has an unknown tag, or names a level past the last.
pub fn decode_edit(record: &[u8]) -> Result<LevelDbEdit, LevelDbEditError> {
    let mut edit = LevelDbEdit::default();
    let mut r = Fields {
        bytes: record,
        at: 0,
        field: 0,
    };
    while r.at < record.len() {
        r.field = r.at;
        let tag = r.varint32()?;
        let field = match tag {
            1 => {
                edit.comparator = Some(r.bytes()?);
                continue;
            }
            2 => Field::LogNumber(r.varint64()?),
            3 => Field::NextFileNumber(r.varint64()?),
            4 => Field::LastSeq(r.varint64()?),
            5 => Field::CompactPointer {
                level: r.level()?,
                key: r.bytes()?,
            },
            6 => Field::DeleteFile {
                level: r.level()?,
                number: r.varint64()?,
            },
            7 => {
                let level = r.level()?;
                let number = r.varint64()?;
                let size = r.varint64()?;
                let smallest = r.bytes()?;
                let largest = r.bytes()?;
                Field::AddFile {
                    level,
                    file: FileMeta {
                        number,
                        size,
                        entries: 0,
                        smallest,
                        largest,
                    },
                }
            }
            9 => {
                edit.prev_log_number = Some(r.varint64()?);
                continue;
            }
            tag => {
                return Err(LevelDbEditError::UnknownTag {
                    tag,
                    offset: r.field,
                })
            }
        };
        edit.fields.push(field);
    }
    Ok(edit)
}

/// Whether the manifest `bytes` is LevelDB's: its first record is a
/// `VersionEdit` that begins with a comparator (tag 1), as LevelDB's and
/// goleveldb's first records do, where this crate's begins with its
/// header (bincode variant 0).
pub fn is_leveldb_manifest(bytes: &[u8]) -> bool {
    let mut reader = journal::Reader::new(bytes, journal::Recovery::Strict);
    matches!(reader.next_record(), Ok(Some(record)) if record.first() == Some(&1))
}

/// Replays a LevelDB manifest's bytes into a catalog, as
/// [`manifest::replay`](super::manifest::replay) does this crate's, with
/// the same rule for a torn last record.
///
/// The catalog's `last_seq` is LevelDB's: the last sequence number used
/// when the last edit was written, which may count records that are only
/// in the live journals (recovery takes that into account).
///
/// # Errors
///
/// [`ManifestError`]: damage before the end, a record that does not
/// decode, an edit that contradicts the ones before, a comparator other
/// than [`BYTEWISE_COMPARATOR`] (naming it), or a previous log number
/// (LevelDB before 1.4), whose journals this reader does not replay.
pub fn replay(bytes: &[u8]) -> Result<Replayed, ManifestError> {
    let mut reader = journal::Reader::new(bytes, journal::Recovery::Strict);
    let mut catalog = Catalog::default();
    let mut edits = 0;
    let mut last_good = 0;
    while let Some(record) = next_record(&mut reader, bytes)? {
        let edit = decode_edit(record);
        let offset = reader.record_offset();
        let bad = |reason: String| ManifestError::BadRecord {
            offset,
            reason: RecordError::Decode(reason),
        };
        let edit = edit.map_err(|e| bad(format!("LevelDB edit: {e}")))?;
        if let Some(name) = edit.comparator.as_deref() {
            if name != BYTEWISE_COMPARATOR.as_bytes() {
                return Err(ManifestError::BadHeader(format!(
                    "LevelDB comparator {:?}: only {BYTEWISE_COMPARATOR} orders keys as this \
                     database does",
                    String::from_utf8_lossy(name)
                )));
            }
        }
        if let Some(prev) = edit.prev_log_number.filter(|&p| p != 0) {
            return Err(bad(format!(
                "a previous log number ({prev}): journals of LevelDB before 1.4 are not read"
            )));
        }
        // LevelDB writes a snapshot's tables a record before the next
        // file number: the numbers are checked once every edit is in.
        catalog
            .apply_unnumbered(&edit.fields)
            .map_err(|reason| ManifestError::Inconsistent { offset, reason })?;
        edits += 1;
        last_good = reader.offset();
    }
    if edits == 0 {
        return Err(ManifestError::Empty);
    }
    catalog
        .check_numbers()
        .map_err(|reason| ManifestError::Inconsistent {
            offset: last_good,
            reason,
        })?;
    Ok(Replayed {
        catalog,
        edits,
        good_len: last_good,
        torn: bytes.len() as u64 - last_good,
    })
}

/// Encodes `fields` as one LevelDB manifest record, naming `comparator`
/// first if given. Fields LevelDB has no tag for are left out.
pub fn encode_edit(comparator: Option<&str>, fields: &[Field]) -> Vec<u8> {
    let mut out = Vec::new();
    let put_bytes = |out: &mut Vec<u8>, bytes: &[u8]| {
        put_varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    };
    if let Some(name) = comparator {
        put_varint(&mut out, 1);
        put_bytes(&mut out, name.as_bytes());
    }
    for field in fields {
        match field {
            Field::LogNumber(n) => {
                put_varint(&mut out, 2);
                put_varint(&mut out, *n);
            }
            Field::NextFileNumber(n) => {
                put_varint(&mut out, 3);
                put_varint(&mut out, *n);
            }
            Field::LastSeq(s) => {
                put_varint(&mut out, 4);
                put_varint(&mut out, *s);
            }
            Field::CompactPointer { level, key } => {
                put_varint(&mut out, 5);
                put_varint(&mut out, u64::from(*level));
                put_bytes(&mut out, key);
            }
            Field::DeleteFile { level, number } => {
                put_varint(&mut out, 6);
                put_varint(&mut out, u64::from(*level));
                put_varint(&mut out, *number);
            }
            Field::AddFile { level, file } => {
                put_varint(&mut out, 7);
                put_varint(&mut out, u64::from(*level));
                put_varint(&mut out, file.number);
                put_varint(&mut out, file.size);
                put_bytes(&mut out, &file.smallest);
                put_bytes(&mut out, &file.largest);
            }
            Field::JournalSynced { .. } | Field::Continues => {}
        }
    }
    out
}

/// The whole of `catalog` as one LevelDB manifest record, naming the
/// bytewise comparator: what a LevelDB manifest written from this
/// database starts with (LevelDB's `VersionSet::WriteSnapshot`).
pub fn encode_catalog(catalog: &Catalog) -> Vec<u8> {
    encode_edit(Some(BYTEWISE_COMPARATOR), &catalog.full_edit())
}

/// Writes `path`, a new LevelDB manifest holding `catalog` whole as one
/// record ([`encode_catalog`]), synced, its directory `dir` synced too;
/// removes it on an error. `CURRENT` is the caller's to point at it.
pub fn write_manifest(fs: &dyn Fs, dir: &Path, path: &Path, catalog: &Catalog) -> io::Result<()> {
    let result = (|| {
        let mut journal = journal::Writer::new(fs.create(path)?);
        journal.append(&encode_catalog(catalog))?;
        journal.sync()?;
        fs.sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs.remove(path);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(number: u64) -> FileMeta {
        FileMeta {
            number,
            size: 4096 + number,
            entries: 0,
            smallest: [b"a".as_slice(), &(number << 8 | 1).to_le_bytes()].concat(),
            largest: [b"z".as_slice(), &(number << 8 | 1).to_le_bytes()].concat(),
        }
    }

    #[test]
    fn every_field_round_trips() {
        let fields = vec![
            Field::LogNumber(7),
            Field::NextFileNumber(300),
            Field::LastSeq(1 << 40),
            Field::CompactPointer {
                level: 2,
                key: b"k\x01\0\0\0\0\0\0\0".to_vec(),
            },
            Field::DeleteFile {
                level: 1,
                number: 9,
            },
            Field::AddFile {
                level: 6,
                file: file(12),
            },
        ];
        let bytes = encode_edit(Some(BYTEWISE_COMPARATOR), &fields);
        let edit = decode_edit(&bytes).unwrap();
        assert_eq!(
            edit.comparator.as_deref(),
            Some(BYTEWISE_COMPARATOR.as_bytes())
        );
        assert_eq!(edit.fields, fields);
        assert_eq!(edit.prev_log_number, None);
    }

    /// The bytes LevelDB's `VersionEdit::EncodeTo` writes for a
    /// comparator, a log number of 3, a next file number of 5, a last
    /// sequence of 9 and table 4 (1234 bytes, "a"@1 to "b"@2) at level 0.
    #[test]
    fn leveldb_bytes_decode() {
        let mut bytes = vec![1, 26];
        bytes.extend_from_slice(b"leveldb.BytewiseComparator");
        bytes.extend_from_slice(&[2, 3, 3, 5, 4, 9]);
        bytes.extend_from_slice(&[7, 0, 4, 0xd2, 0x09, 9, b'a']);
        bytes.extend_from_slice(&(1u64 << 8 | 1).to_le_bytes());
        bytes.extend_from_slice(&[9, b'b']);
        bytes.extend_from_slice(&(2u64 << 8 | 1).to_le_bytes());
        bytes.extend_from_slice(&[9, 11]);
        let edit = decode_edit(&bytes).unwrap();
        assert_eq!(
            edit.comparator.as_deref(),
            Some(&b"leveldb.BytewiseComparator"[..])
        );
        assert_eq!(edit.prev_log_number, Some(11));
        assert_eq!(
            edit.fields[..3],
            [
                Field::LogNumber(3),
                Field::NextFileNumber(5),
                Field::LastSeq(9)
            ]
        );
        let Field::AddFile { level: 0, file } = &edit.fields[3] else {
            panic!("{:?}", edit.fields[3]);
        };
        assert_eq!((file.number, file.size, file.entries), (4, 1234, 0));
        assert_eq!(&file.smallest[..1], b"a");
        assert_eq!(&file.largest[..1], b"b");
        // Written back, it reads the same (tag 9 is not written).
        let again = decode_edit(&encode_edit(Some(BYTEWISE_COMPARATOR), &edit.fields)).unwrap();
        assert_eq!(again.fields, edit.fields);
    }

    #[test]
    fn every_truncation_and_unknown_tags_are_errors() {
        let bytes = encode_edit(
            Some(BYTEWISE_COMPARATOR),
            &[
                Field::LogNumber(700),
                Field::AddFile {
                    level: 3,
                    file: file(5),
                },
            ],
        );
        let mut boundaries = vec![0];
        let mut at = 0;
        // Field boundaries: the comparator, the log number, the file.
        for len in [28, 3, bytes.len() - 31] {
            at += len;
            boundaries.push(at);
        }
        for cut in 0..bytes.len() {
            let result = decode_edit(&bytes[..cut]);
            if boundaries.contains(&cut) {
                assert!(result.is_ok(), "cut at a field boundary {cut}: {result:?}");
            } else {
                assert!(
                    matches!(result, Err(LevelDbEditError::Truncated { .. })),
                    "cut {cut}: {result:?}"
                );
            }
        }
        for tag in [0u8, 8, 10, 127] {
            assert_eq!(
                decode_edit(&[2, 1, tag, 0]),
                Err(LevelDbEditError::UnknownTag {
                    tag: u32::from(tag),
                    offset: 2
                })
            );
        }
        assert_eq!(
            decode_edit(&[6, 7, 1]),
            Err(LevelDbEditError::BadLevel {
                level: 7,
                offset: 0
            })
        );
    }

    #[test]
    fn a_catalog_is_written_whole() {
        let mut catalog = Catalog::default();
        catalog
            .apply(&[
                Field::NextFileNumber(20),
                Field::LogNumber(10),
                Field::LastSeq(99),
                Field::AddFile {
                    level: 0,
                    file: file(11),
                },
                Field::AddFile {
                    level: 2,
                    file: file(12),
                },
                Field::JournalSynced { number: 10, len: 5 },
            ])
            .unwrap();
        let edit = decode_edit(&encode_catalog(&catalog)).unwrap();
        let mut back = Catalog::default();
        back.apply(&edit.fields).unwrap();
        assert_eq!(back.levels, catalog.levels);
        assert_eq!(
            (back.log_number, back.next_file_number, back.last_seq),
            (10, 20, 99)
        );
        assert!(back.synced_journals.is_empty(), "LevelDB has no such field");
    }
}
