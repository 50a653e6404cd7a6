//! The manifest's records: serde + bincode 2 (`config::standard()`), each
//! one journal record.
//!
//! ```text
//! manifest := Header Edit*        (journal records, LevelDB log format)
//! Header   := magic "TRIBMANI" | format 1 | comparator name
//! Edit     := Field*              applied in order, atomically
//! ```
//!
//! The variants of [`Record`] and [`Field`] are append-only: bincode names
//! a variant by its index, so a new field goes at the end and an old
//! reader refuses it as unknown rather than misreading it. The golden test
//! below pins the bytes.

use serde::{Deserialize, Serialize};

/// The first eight bytes of every manifest's header.
pub const MAGIC: [u8; 8] = *b"TRIBMANI";
/// The manifest format this code writes and reads.
pub const FORMAT: u32 = 1;
/// The user-key order of every table (LevelDB's name for it).
pub const COMPARATOR: &str = "leveldb.BytewiseComparator";
/// The largest record a reader decodes: a full-state edit of 10^5 tables
/// is about 10 MiB.
pub const MAX_RECORD: usize = 64 << 20;
/// The size past which a writer splits an edit into several records (see
/// [`Field::Continues`]): a quarter of [`MAX_RECORD`], so that a record
/// of whole fields that starts below it stays below the reader's limit
/// (a table's entry, with keys of at most `MAX_KEY_SIZE`, is about
/// 128 KiB).
pub const SPLIT_AT: usize = MAX_RECORD / 4;

/// One manifest record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    /// The first record: what wrote the manifest.
    Header(Header),
    /// A change to the database's files, applied whole or not at all.
    Edit(Vec<Field>),
}

/// What wrote a manifest, and for which key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`FORMAT`].
    pub format: u32,
    /// [`COMPARATOR`].
    pub comparator: String,
}

impl Header {
    /// The header this code writes.
    pub fn current() -> Header {
        Header {
            magic: MAGIC,
            format: FORMAT,
            comparator: COMPARATOR.to_owned(),
        }
    }
}

/// A table file as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    /// Its number: the file is `NNNNNN.ldb`.
    pub number: u64,
    /// Its length in bytes; recovery checks it.
    pub size: u64,
    /// Entries it holds.
    pub entries: u64,
    /// Its first internal key.
    pub smallest: Vec<u8>,
    /// Its last internal key.
    pub largest: Vec<u8>,
}

/// One change of an edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Field {
    /// Journals numbered below this hold nothing that is not in tables.
    LogNumber(u64),
    /// The next unused file number.
    NextFileNumber(u64),
    /// The highest sequence number in tables.
    LastSeq(u64),
    /// Where the next compaction of a level starts (round robin).
    CompactPointer {
        /// The level.
        level: u8,
        /// The largest internal key of the last compaction there.
        key: Vec<u8>,
    },
    /// A table joins a level.
    AddFile {
        /// The level.
        level: u8,
        /// The table.
        file: FileMeta,
    },
    /// A table leaves a level.
    DeleteFile {
        /// The level.
        level: u8,
        /// Its number.
        number: u64,
    },
    /// A closed journal was synced to this length: recovery must find at
    /// least these bytes intact (RocksDB's `track_and_verify_wals`).
    JournalSynced {
        /// The journal's number.
        number: u64,
        /// Its synced length in bytes.
        len: u64,
    },
    /// Ends a record whose edit goes on in the next record: an edit too
    /// large for one record (over [`SPLIT_AT`]) is written as several, and
    /// applied whole once its last record (the one without this mark) is
    /// read. An edit cut off before that record never committed.
    Continues,
}

/// Why a record did not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// bincode refused the bytes (an unknown variant, a length past the
    /// limit, a truncated value).
    Decode(String),
    /// The value ended before the record did.
    TrailingBytes {
        /// Bytes the value took.
        used: usize,
        /// Bytes in the record.
        len: usize,
    },
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordError::Decode(e) => write!(f, "manifest record does not decode: {e}"),
            RecordError::TrailingBytes { used, len } => {
                write!(f, "manifest record of {len} bytes holds a value of {used}")
            }
        }
    }
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_RECORD>()
}

/// The records that carry `edit`: one, or, if it encodes to more than
/// [`SPLIT_AT`] bytes, several of whole fields, each but the last ending
/// with [`Field::Continues`]. The writer checks what the reader will:
/// every record is at most [`MAX_RECORD`] bytes.
///
/// # Errors
///
/// The size of a single field that does not fit in a record (a key far
/// beyond `MAX_KEY_SIZE`, from a table written elsewhere).
pub fn edit_records(edit: &[Field]) -> Result<Vec<Vec<u8>>, usize> {
    let whole = Record::Edit(edit.to_vec()).encode();
    if whole.len() <= SPLIT_AT {
        return Ok(vec![whole]);
    }
    let mut records = Vec::new();
    let mut chunk: Vec<Field> = Vec::new();
    let mut chunk_len = 0;
    for field in edit {
        let len = bincode::serde::encode_to_vec(field, config())
            .map(|b| b.len())
            .unwrap_or(usize::MAX);
        if len > MAX_RECORD - 64 {
            return Err(len);
        }
        if chunk_len + len > SPLIT_AT && !chunk.is_empty() {
            chunk.push(Field::Continues);
            records.push(Record::Edit(std::mem::take(&mut chunk)).encode());
            chunk_len = 0;
        }
        chunk.push(field.clone());
        chunk_len += len;
    }
    records.push(Record::Edit(chunk).encode());
    debug_assert!(records.iter().all(|r| r.len() <= MAX_RECORD));
    Ok(records)
}

impl Record {
    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        bincode::serde::encode_to_vec(self, config())
            .expect("a record always encodes within the limit")
    }

    /// Decodes one whole record.
    pub fn decode(bytes: &[u8]) -> Result<Record, RecordError> {
        let (record, used) = bincode::serde::decode_from_slice::<Record, _>(bytes, config())
            .map_err(|e| RecordError::Decode(e.to_string()))?;
        if used != bytes.len() {
            return Err(RecordError::TrailingBytes {
                used,
                len: bytes.len(),
            });
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The bytes of each record kind, pinned: a change here is a format
    /// change and needs a new [`FORMAT`].
    #[test]
    fn golden_bytes() {
        let header = Record::Header(Header::current());
        assert_eq!(
            hex(&header.encode()),
            "00545249424d414e49011a6c6576656c64622e4279746577697365436f6d70617261746f72"
        );
        let edit = Record::Edit(vec![
            Field::LogNumber(7),
            Field::NextFileNumber(300),
            Field::LastSeq(1 << 40),
            Field::CompactPointer {
                level: 1,
                key: b"k\x01".to_vec(),
            },
            Field::AddFile {
                level: 0,
                file: FileMeta {
                    number: 9,
                    size: 70_000,
                    entries: 2,
                    smallest: b"a".to_vec(),
                    largest: b"b".to_vec(),
                },
            },
            Field::DeleteFile {
                level: 2,
                number: 5,
            },
            Field::JournalSynced {
                number: 6,
                len: 4096,
            },
        ]);
        assert_eq!(
            hex(&edit.encode()),
            "0107000701fb2c0102fd00000000000100000301026b01040009fc7011010002016101620502050606fb0010"
        );
        for record in [header, edit] {
            assert_eq!(Record::decode(&record.encode()), Ok(record));
        }
    }

    #[test]
    fn decode_refuses_trailing_bytes_and_unknown_variants() {
        let mut bytes = Record::Edit(vec![Field::LogNumber(1)]).encode();
        bytes.push(0);
        assert!(matches!(
            Record::decode(&bytes),
            Err(RecordError::TrailingBytes { .. })
        ));
        assert!(matches!(Record::decode(&[9]), Err(RecordError::Decode(_))));
        assert!(matches!(
            Record::decode(&[1, 1, 99]),
            Err(RecordError::Decode(_))
        ));
        // A length far past the limit is refused before anything is
        // allocated for it.
        assert!(matches!(
            Record::decode(&[1, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
            Err(RecordError::Decode(_))
        ));
    }
}
