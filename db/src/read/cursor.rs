//! [`Cursor`]: RocksDB's iterator, for code written against it.
//!
//! A cursor is on an entry or not ([`Cursor::valid`]); it moves both ways
//! from where it is, as RocksDB's `Iterator` and LevelDB's do. It is built
//! on the range scan ([`Iter`]): while it keeps moving one way it is that
//! scan's front (or back), and a change of direction restarts the scan on
//! the side of the current key it now moves to. The scan reads a
//! snapshot, so the restart sees exactly what the cursor saw before.

use super::iter::Iter;
use crate::error::Error;
use std::ops::Bound;

/// A cursor over a snapshot of the database, with RocksDB's semantics:
/// [`seek`](Cursor::seek), [`seek_for_prev`](Cursor::seek_for_prev),
/// [`seek_to_first`](Cursor::seek_to_first),
/// [`seek_to_last`](Cursor::seek_to_last), then [`next`](Cursor::next)
/// and [`prev`](Cursor::prev) from wherever it stands, with
/// [`valid`](Cursor::valid), [`key`](Cursor::key),
/// [`value`](Cursor::value) and [`status`](Cursor::status).
///
/// Unlike [`Iter`], which is a range walked from both ends, a cursor has
/// one position: after `seek_for_prev("dz")`, `next()` moves to the first
/// key after the one found, as in RocksDB. A new cursor is on no entry
/// until it is positioned. It reads the snapshot it was made from
/// ([`Db::cursor`](crate::Db::cursor),
/// [`Snapshot::cursor`](crate::Snapshot::cursor)): writes after that are
/// not seen.
///
/// A table read that finds damage leaves the cursor on no entry, and
/// [`status`](Cursor::status) returns the error until the cursor is
/// positioned again.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = tributary::Db::open(dir.path(), tributary::Options::default()).unwrap();
/// for k in ["a", "b", "c", "d"] {
///     db.put(k, "v")?;
/// }
/// let mut cursor = db.cursor();
/// cursor.seek_for_prev("bz");
/// assert_eq!(cursor.key(), Some(&b"b"[..]));
/// cursor.next();
/// assert_eq!(cursor.key(), Some(&b"c"[..]));
/// cursor.prev();
/// cursor.prev();
/// assert_eq!(cursor.key(), Some(&b"a"[..]));
/// cursor.prev();
/// assert!(!cursor.valid());
/// cursor.status()?;
///
/// // Every key from "b" on, as a RocksDB loop is written.
/// let mut keys = Vec::new();
/// cursor.seek("b");
/// while cursor.valid() {
///     keys.push(cursor.key().unwrap().to_vec());
///     cursor.next();
/// }
/// cursor.status()?;
/// assert_eq!(keys, [b"b", b"c", b"d"]);
/// # Ok::<(), tributary::Error>(())
/// ```
#[derive(Debug)]
pub struct Cursor {
    scan: Iter,
    /// The entry the cursor is on.
    current: Option<(Vec<u8>, Vec<u8>)>,
    /// Which end of `scan` continues from `current`: its front (the keys
    /// after it) or its back (the keys before it).
    direction: Direction,
    /// The error that left the cursor on no entry.
    error: Option<Error>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
}

impl Cursor {
    pub(crate) fn new(scan: Iter) -> Cursor {
        Cursor {
            scan,
            current: None,
            direction: Direction::Forward,
            error: None,
        }
    }

    /// Whether the cursor is on an entry.
    pub fn valid(&self) -> bool {
        self.current.is_some()
    }

    /// The key of the entry the cursor is on; `None` when not
    /// [`valid`](Cursor::valid).
    pub fn key(&self) -> Option<&[u8]> {
        self.current.as_ref().map(|(k, _)| k.as_slice())
    }

    /// The value of the entry the cursor is on; `None` when not
    /// [`valid`](Cursor::valid).
    pub fn value(&self) -> Option<&[u8]> {
        self.current.as_ref().map(|(_, v)| v.as_slice())
    }

    /// `Ok` unless a read failed since the cursor was last positioned (a
    /// damaged table): then the error, and the cursor is on no entry.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] naming the table and offset, or
    /// [`Error::Io`] if a table could not be opened.
    pub fn status(&self) -> Result<(), Error> {
        match &self.error {
            None => Ok(()),
            Some(e) => Err(e.clone()),
        }
    }

    /// Moves to the first entry of the database.
    pub fn seek_to_first(&mut self) {
        self.scan.restart(Bound::Unbounded, Bound::Unbounded);
        self.step(Direction::Forward);
    }

    /// Moves to the last entry of the database.
    pub fn seek_to_last(&mut self) {
        self.scan.restart(Bound::Unbounded, Bound::Unbounded);
        self.step(Direction::Backward);
    }

    /// Moves to the first entry whose key is at or after `key`; not valid
    /// if there is none.
    pub fn seek(&mut self, key: impl AsRef<[u8]>) {
        self.scan
            .restart(Bound::Included(key.as_ref().to_vec()), Bound::Unbounded);
        self.step(Direction::Forward);
    }

    /// Moves to the last entry whose key is at or before `key`; not valid
    /// if there is none.
    pub fn seek_for_prev(&mut self, key: impl AsRef<[u8]>) {
        self.scan
            .restart(Bound::Unbounded, Bound::Included(key.as_ref().to_vec()));
        self.step(Direction::Backward);
    }

    /// Moves to the entry after the current one; not valid past the last.
    /// Does nothing when not [`valid`](Cursor::valid) (RocksDB asserts).
    pub fn next(&mut self) {
        self.advance(Direction::Forward);
    }

    /// Moves to the entry before the current one; not valid before the
    /// first. Does nothing when not [`valid`](Cursor::valid) (RocksDB
    /// asserts).
    pub fn prev(&mut self) {
        self.advance(Direction::Backward);
    }

    fn advance(&mut self, direction: Direction) {
        let Some((key, _)) = &self.current else {
            return;
        };
        if direction != self.direction {
            // The scan continues the other way: restart it on the side of
            // the current key the cursor now moves to.
            let after_or_before = Bound::Excluded(key.clone());
            match direction {
                Direction::Forward => self.scan.restart(after_or_before, Bound::Unbounded),
                Direction::Backward => self.scan.restart(Bound::Unbounded, after_or_before),
            }
        }
        self.step(direction);
    }

    /// Takes the next entry of the scan's end for `direction`.
    fn step(&mut self, direction: Direction) {
        self.direction = direction;
        self.error = None;
        let item = match direction {
            Direction::Forward => self.scan.next(),
            Direction::Backward => self.scan.next_back(),
        };
        self.current = match item {
            Some(Ok(entry)) => Some(entry),
            Some(Err(e)) => {
                self.error = Some(e);
                None
            }
            None => None,
        };
    }
}
