//! The write-ahead journal, in LevelDB's log format byte for byte.
//!
//! Every database write is first appended to the journal as one record (one
//! encoded batch from the `batch` crate), then applied to the memtable.
//! After a crash, replaying the journal rebuilds the memtable.
//! This crate frames and checks records; it knows nothing of batches, and it
//! does I/O only through the [`SyncWrite`] and [`std::io::Read`] it is given.
//! A journal written here decodes in LevelDB and goleveldb, and theirs decode
//! here.
//!
//! # Format
//!
//! ```text
//! file    := block* [last block, possibly short]          (32 KiB blocks)
//! block   := chunk* [trailer: 1..=6 zero bytes]
//! chunk   := checksum: u32 LE | length: u16 LE | type: u8 | data: length bytes
//! type    := 1 full | 2 first | 3 middle | 4 last
//! checksum:= mask(crc32c(type byte ++ data))
//! mask(c) := ((c >> 15) | (c << 17)) + 0xa282ead8        (wrapping, on u32)
//! record  := full | first middle* last
//! ```
//!
//! A chunk never crosses a block boundary, so a reader can resynchronise at
//! the next block after damage.
//! When fewer than 7 bytes remain in a block the writer zero-fills them; when
//! exactly 7 remain, a record that does not fit starts there with an empty
//! `first` chunk.
//! The constants are in [`BLOCK_SIZE`], [`HEADER_LEN`] and [`ChunkType`].
//!
//! # Invariants
//!
//! - A record is returned whole or not at all: [`Reader::next_record`] never
//!   returns bytes that were not appended as one record, in order.
//! - A torn tail (the file ends inside a chunk or record, or in zeros) ends
//!   the journal quietly in every mode; damage in the middle stops a
//!   [`Recovery::Strict`] reader with an error naming the offset, and is
//!   skipped to the next block and reported by a [`Recovery::Tolerant`] one.
//!   [`Reader`] states the exact rule.
//! - The reader never panics and never sizes an allocation from a length it
//!   read: memory is one 32 KiB block plus the largest record.
//! - The writer hands bytes over only with `write_all`; after any I/O error
//!   it is failed for good and writes nothing more, so the journal never has
//!   a hole followed by data.
//!
//! # Example
//!
//! ```
//! use journal::{Reader, Recovery, Writer};
//!
//! let mut writer = Writer::new(Vec::new());
//! writer.append(b"first record")?;
//! writer.append(b"")?;
//! writer.append(&vec![7u8; 100_000])?; // four chunks across four blocks
//! writer.sync()?;
//! assert_eq!(writer.size(), writer.get_ref().len() as u64);
//! let bytes = writer.into_inner();
//!
//! let mut reader = Reader::new(&bytes[..], Recovery::Strict);
//! assert_eq!(reader.next_record()?, Some(&b"first record"[..]));
//! assert_eq!(reader.next_record()?, Some(&b""[..]));
//! assert_eq!(reader.next_record()?.map(<[u8]>::len), Some(100_000));
//! assert_eq!(reader.next_record()?, None);
//! assert_eq!(reader.torn_tail(), None);
//!
//! // A crash in the middle of a write leaves a torn tail: it ends the journal
//! // quietly, and the reader says where the good part ends.
//! let mut reader = Reader::new(&bytes[..bytes.len() - 10], Recovery::Strict);
//! assert_eq!(reader.next_record()?.map(<[u8]>::len), Some(12));
//! assert_eq!(reader.next_record()?.map(<[u8]>::len), Some(0));
//! assert_eq!(reader.next_record()?, None);
//! assert_eq!(reader.offset(), 7 + 12 + 7);
//! assert_eq!(reader.torn_tail().unwrap().offset, reader.offset());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod format;
mod reader;
mod search;
mod writer;

pub use error::{Corruption, Dropped, ReadError};
pub use format::{
    correct_one_bit, mask, unmask, ChunkType, FlippedBit, BLOCK_SIZE, HEADER_LEN, MAX_CHUNK_DATA,
};
pub use reader::{Reader, Recovery};
pub use search::record_start_at_or_after;
pub use writer::{SyncHandle, SyncWrite, Writer};
