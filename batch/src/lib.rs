//! Write batches in LevelDB's wire format, byte for byte.
//!
//! A [`Batch`] is an ordered list of puts and deletes that is applied
//! atomically.
//! It is the unit of the write path: writers hand batches to the group-commit
//! leader, the leader concatenates them into one batch, and that batch is one
//! journal record and one memtable apply.
//! This crate owns the format and nothing else: it does no I/O.
//!
//! # Format
//!
//! ```text
//! batch   := header record*
//! header  := seq: u64 LE | count: u32 LE                     (12 bytes)
//! record  := kind: u8 | key_len: varint32 | key
//!            [| value_len: varint32 | value]                 (put only)
//! kind    := 0x00 delete | 0x01 put
//! ```
//!
//! Record `i` of a batch takes sequence number `seq + i`.
//! The [`internal_len`](Batch::internal_len) of a record is
//! `key.len() + value.len() + 8`: the bytes it will take in the memtable,
//! counting the 8-byte internal-key trailer. The write-merge limits are in
//! these units.
//!
//! # Invariants
//!
//! A `Batch` always holds a well-formed encoding: its header count equals the
//! number of records, and every record parses.
//! Bytes from outside (a journal, a network) become a `Batch` only through
//! [`Batch::decode`], which checks all of it and reports the first fault with
//! its offset; so iterating a `Batch` cannot fail.
//!
//! # Example
//!
//! ```
//! use batch::{Batch, Record, SeqNum};
//!
//! let mut b = Batch::new();
//! b.put(b"foo", b"bar");
//! b.delete(b"k");
//! b.set_seq(SeqNum(1));
//! assert_eq!(b.len(), 2);
//! assert_eq!(b.internal_len(), (3 + 3 + 8) + (1 + 8));
//!
//! // The encoding is LevelDB's, so it decodes back to the same batch.
//! let decoded = Batch::decode(b.as_bytes()).unwrap();
//! assert_eq!(decoded, b);
//! let records: Vec<Record<'_>> = decoded.records().collect();
//! assert_eq!(records[0], Record::Put { key: b"foo", value: b"bar" });
//! assert_eq!(records[1], Record::Delete { key: b"k" });
//! ```

mod codec;
mod error;
mod format;
pub mod key;

pub use error::{DecodeError, DecodeErrorKind};
pub use format::{Kind, HEADER_LEN, MAX_SEQ, TRAILER_LEN};

use std::fmt;

/// A sequence number: the position of a record in the database's history.
///
/// Sequence numbers are dense: the records of a batch written at `s` take
/// `s, s + 1, ...`, and the next batch starts right after.
/// Only the low 56 bits are usable (see [`MAX_SEQ`]); the trailer of an
/// internal key packs the sequence number with the record kind in 64 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SeqNum(pub u64);

impl SeqNum {
    /// The sequence number before any write: an empty database has last
    /// sequence number zero and its first record takes one.
    pub const ZERO: SeqNum = SeqNum(0);

    /// The sequence number `n` places after this one, or `None` past
    /// [`MAX_SEQ`].
    pub fn checked_add(self, n: u64) -> Option<SeqNum> {
        match self.0.checked_add(n) {
            Some(s) if s <= MAX_SEQ => Some(SeqNum(s)),
            _ => None,
        }
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One record of a batch, borrowing its key and value from the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Record<'a> {
    /// Sets `key` to `value`.
    Put {
        /// The user key.
        key: &'a [u8],
        /// The value.
        value: &'a [u8],
    },
    /// Removes `key`.
    Delete {
        /// The user key.
        key: &'a [u8],
    },
}

impl<'a> Record<'a> {
    /// The record's user key.
    pub fn key(&self) -> &'a [u8] {
        match *self {
            Record::Put { key, .. } | Record::Delete { key } => key,
        }
    }

    /// The record's value: `Some` for a put, `None` for a delete.
    pub fn value(&self) -> Option<&'a [u8]> {
        match *self {
            Record::Put { value, .. } => Some(value),
            Record::Delete { .. } => None,
        }
    }

    /// The record's kind, as stored in the wire format and the internal key.
    pub fn kind(&self) -> Kind {
        match self {
            Record::Put { .. } => Kind::Put,
            Record::Delete { .. } => Kind::Delete,
        }
    }

    /// Bytes this record takes in the memtable: key, value and the 8-byte
    /// internal-key trailer. The write-merge limits count in these units.
    pub fn internal_len(&self) -> usize {
        self.key().len() + self.value().map_or(0, <[u8]>::len) + TRAILER_LEN
    }
}

/// An atomic list of puts and deletes in LevelDB's wire format.
///
/// See the [crate docs](crate) for the format and invariants.
///
/// # Examples
///
/// A database applies a batch all or nothing (`tributary::Batch`, written
/// with `Db::write`, is this type). Keys and values are any bytes, as
/// rust-rocksdb's `WriteBatch` takes them:
///
/// ```
/// use batch::{Batch, Record};
///
/// let mut batch = Batch::new();
/// batch.put("apple", "red");
/// batch.put(String::from("pear"), String::from("green"));
/// batch.delete(b"plum");
/// assert_eq!(batch.len(), 3);
///
/// // Its records, in order (rust-rocksdb's `WriteBatch::iterate`).
/// for record in &batch {
///     match record {
///         Record::Put { key, value } => println!("put {key:?} = {value:?}"),
///         Record::Delete { key } => println!("delete {key:?}"),
///     }
/// }
/// assert_eq!(batch.records().nth(2), Some(Record::Delete { key: b"plum" }));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Batch {
    /// The encoded batch, header included.
    // Invariant: `rep.len() >= HEADER_LEN`, the header's count equals the
    // number of records in `rep[HEADER_LEN..]`, and every record parses.
    rep: Vec<u8>,
    /// Cached sum of the records' `internal_len`.
    // Invariant: equals the sum over `self.records()`.
    internal_len: usize,
    /// Cached length of the longest key, so that a database can refuse an
    /// over-long key without walking the records.
    // Invariant: equals the maximum over `self.records()` (0 if none).
    max_key_len: usize,
}

impl Batch {
    /// An empty batch with sequence number zero.
    pub fn new() -> Batch {
        Batch::with_capacity(0)
    }

    /// An empty batch whose buffer holds `bytes` bytes of records before it
    /// grows.
    pub fn with_capacity(bytes: usize) -> Batch {
        let mut rep = Vec::with_capacity(HEADER_LEN + bytes);
        rep.resize(HEADER_LEN, 0);
        Batch {
            rep,
            internal_len: 0,
            max_key_len: 0,
        }
    }

    /// Adds a put of `key` to `value` (anything that is bytes: `&str`,
    /// `String`, `Vec<u8>`, byte arrays, as `Db::put` takes them).
    ///
    /// # Panics
    ///
    /// If `key` or `value` is 4 GiB or longer (their lengths are varint32 on
    /// the wire), or if the batch already holds `u32::MAX` records.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut batch = batch::Batch::new();
    /// batch.put("apple", "red");
    /// batch.put(String::from("pear"), vec![0xff, 0x00]);
    /// batch.delete(b"plum");
    /// assert_eq!(batch.len(), 3);
    /// ```
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.push(Record::Put {
            key: key.as_ref(),
            value: value.as_ref(),
        });
    }

    /// Adds a delete of `key`.
    ///
    /// # Panics
    ///
    /// As [`put`](Batch::put).
    pub fn delete(&mut self, key: impl AsRef<[u8]>) {
        self.push(Record::Delete { key: key.as_ref() });
    }

    /// Adds one record, copying its key and value.
    ///
    /// This is how a group-commit leader merges a single put or delete
    /// without building a batch for it.
    ///
    /// # Panics
    ///
    /// As [`put`](Batch::put).
    pub fn push(&mut self, record: Record<'_>) {
        let count = self
            .len_u32()
            .checked_add(1)
            .expect("batch: too many records");
        codec::encode_record(&mut self.rep, record);
        self.set_count(count);
        self.internal_len += record.internal_len();
        self.max_key_len = self.max_key_len.max(record.key().len());
    }

    /// Appends every record of `other`, in order, after this batch's records.
    /// This batch keeps its own sequence number.
    ///
    /// # Panics
    ///
    /// If the total count would exceed `u32::MAX` records.
    pub fn append(&mut self, other: &Batch) {
        let count = self
            .len_u32()
            .checked_add(other.len_u32())
            .expect("batch: too many records");
        self.rep.extend_from_slice(other.records_bytes());
        self.set_count(count);
        self.internal_len += other.internal_len;
        self.max_key_len = self.max_key_len.max(other.max_key_len);
    }

    /// Removes every record and resets the sequence number to zero, keeping
    /// the buffer's capacity.
    pub fn clear(&mut self) {
        self.rep.clear();
        self.rep.resize(HEADER_LEN, 0);
        self.internal_len = 0;
        self.max_key_len = 0;
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.len_u32() as usize
    }

    /// Whether the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sum of the records' [`Record::internal_len`].
    pub fn internal_len(&self) -> usize {
        self.internal_len
    }

    /// The length of the longest key (0 for an empty batch): what a
    /// database's key limit is checked against, without a walk of the
    /// records.
    pub fn max_key_len(&self) -> usize {
        self.max_key_len
    }

    /// The sequence number of the first record, as stored in the header.
    pub fn seq(&self) -> SeqNum {
        SeqNum(u64::from_le_bytes(self.rep[..8].try_into().unwrap()))
    }

    /// Sets the sequence number of the first record.
    pub fn set_seq(&mut self, seq: SeqNum) {
        self.rep[..8].copy_from_slice(&seq.0.to_le_bytes());
    }

    /// The whole encoding, header included: what goes into the journal.
    pub fn as_bytes(&self) -> &[u8] {
        &self.rep
    }

    /// The records' encoding without the header (goleveldb's `Dump`).
    pub fn records_bytes(&self) -> &[u8] {
        &self.rep[HEADER_LEN..]
    }

    /// Writes the whole encoding to the end of `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.rep);
    }

    /// The records in order. Each record's sequence number is
    /// [`seq`](Batch::seq) plus its index.
    pub fn records(&self) -> Records<'_> {
        Records {
            rest: self.records_bytes(),
            remaining: self.len_u32(),
        }
    }

    /// Checks and copies an encoded batch, header included, from untrusted
    /// bytes.
    ///
    /// It never panics and allocates only a copy of `bytes`.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] naming the offset and the fault: a header shorter
    /// than 12 bytes, an unknown record kind, a truncated or over-long varint,
    /// a length running past the end, or a count that does not match the
    /// records present.
    pub fn decode(bytes: &[u8]) -> Result<Batch, DecodeError> {
        let (internal_len, max_key_len) = codec::validate(bytes)?;
        Ok(Batch {
            rep: bytes.to_vec(),
            internal_len,
            max_key_len,
        })
    }

    fn len_u32(&self) -> u32 {
        u32::from_le_bytes(self.rep[8..HEADER_LEN].try_into().unwrap())
    }

    fn set_count(&mut self, count: u32) {
        self.rep[8..HEADER_LEN].copy_from_slice(&count.to_le_bytes());
    }
}

impl Default for Batch {
    fn default() -> Batch {
        Batch::new()
    }
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("seq", &self.seq())
            .field("records", &self.records().collect::<Vec<_>>())
            .finish()
    }
}

impl<'a> IntoIterator for &'a Batch {
    type Item = Record<'a>;
    type IntoIter = Records<'a>;

    fn into_iter(self) -> Records<'a> {
        self.records()
    }
}

/// Iterator over the records of a [`Batch`], from [`Batch::records`].
#[derive(Debug, Clone)]
pub struct Records<'a> {
    /// Encoded records not yet returned.
    // Invariant: holds exactly `remaining` well-formed records.
    rest: &'a [u8],
    remaining: u32,
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let (record, used) = codec::decode_record(self.rest, 0)
            .expect("batch invariant: records were validated when the batch was built");
        self.rest = &self.rest[used..];
        Some(record)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining as usize, Some(self.remaining as usize))
    }
}

impl ExactSizeIterator for Records<'_> {}
