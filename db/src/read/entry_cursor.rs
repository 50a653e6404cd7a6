//! [`EntryCursor`]: one view of every sorted source of internal-key entries a
//! read walks (a memtable, a table), so that the walk over visible
//! versions is written once ([`super::iter`]'s `visible_versions`), as
//! LevelDB's and Pebble's iterators share one internal interface.
//!
//! A cursor is on an entry or invalid; the entries are in internal-key
//! order (user key ascending, then sequence number descending). A cursor
//! that meets damage becomes invalid and says so ([`EntryCursor::failed`]); its
//! owner asks it for the error afterwards. [`LevelCursor`] reads a level's
//! tables as one source, for reads and compaction alike (LevelDB's
//! `MakeInputIterator` builds compaction inputs from the iterators reads
//! use).

use crate::error::{table_err, Error};
use crate::table::TableIter;
use crate::version::TableFile;
use batch::{key, Kind, SeqNum};

/// A position in a sorted source of internal-key entries.
pub(crate) trait EntryCursor {
    /// Whether it is on an entry.
    fn valid(&self) -> bool;
    /// Moves to the first entry.
    fn seek_to_first(&mut self);
    /// Moves to the last entry.
    fn seek_to_last(&mut self);
    /// Moves to the first entry at or after version `seq` of `user_key`
    /// in internal-key order (`seq` at the maximum: every version).
    fn seek(&mut self, user_key: &[u8], seq: SeqNum);
    /// Moves to the next entry.
    fn next(&mut self);
    /// Moves to the previous entry.
    fn prev(&mut self);
    /// The entry's user key, sequence number and kind. Only while valid.
    fn entry(&self) -> (&[u8], SeqNum, Kind);
    /// The entry's value. Only while valid.
    fn value(&self) -> &[u8];
    /// Whether it stopped on damage (then it is invalid, and moving it
    /// again would forget why).
    fn failed(&self) -> bool;
}

impl EntryCursor for memdb::Iter<'_> {
    fn valid(&self) -> bool {
        memdb::Iter::valid(self)
    }
    fn seek_to_first(&mut self) {
        memdb::Iter::seek_to_first(self);
    }
    fn seek_to_last(&mut self) {
        memdb::Iter::seek_to_last(self);
    }
    fn seek(&mut self, user_key: &[u8], seq: SeqNum) {
        memdb::Iter::seek(self, user_key, seq);
    }
    fn next(&mut self) {
        memdb::Iter::next(self);
    }
    fn prev(&mut self) {
        memdb::Iter::prev(self);
    }
    fn entry(&self) -> (&[u8], SeqNum, Kind) {
        (self.user_key(), self.seq(), self.kind())
    }
    fn value(&self) -> &[u8] {
        memdb::Iter::value(self)
    }
    fn failed(&self) -> bool {
        false
    }
}

impl EntryCursor for TableIter {
    fn valid(&self) -> bool {
        TableIter::valid(self)
    }
    fn seek_to_first(&mut self) {
        TableIter::seek_to_first(self);
    }
    fn seek_to_last(&mut self) {
        TableIter::seek_to_last(self);
    }
    fn seek(&mut self, user_key: &[u8], seq: SeqNum) {
        TableIter::seek(self, &key::seek_target(user_key, key::lookup_trailer(seq)));
    }
    fn next(&mut self) {
        TableIter::next(self);
    }
    fn prev(&mut self) {
        TableIter::prev(self);
    }
    fn entry(&self) -> (&[u8], SeqNum, Kind) {
        // A valid table cursor is on a key that parses: the reader checks
        // every key it decodes.
        key::parse(self.key()).expect("the table cursor checked its key")
    }
    fn value(&self) -> &[u8] {
        TableIter::value(self)
    }
    fn failed(&self) -> bool {
        self.error().is_some()
    }
}

/// Whether a [`LevelCursor`] checks each block's checksum again on
/// entering it, though a read checked it before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recheck {
    /// Reads: a block checked once stays checked (it is mapped, read-only).
    No,
    /// Compaction: every block it copies is checked as it is read.
    Always,
}

/// The tables of one level (or one level-0 table) read as one sorted
/// source: they do not overlap and are in key order (LevelDB's
/// concatenating iterator). A table is opened only when the cursor enters
/// it, so a read or a compaction that covers part of a level opens only
/// the tables of that part. Reads and compaction both walk levels with it.
pub(crate) struct LevelCursor<'a, F> {
    files: &'a [F],
    /// The table `it` reads.
    at: usize,
    it: Option<TableIter>,
    recheck: Recheck,
    /// A table that could not be opened, or the damage `it` met, naming
    /// the table.
    failure: Option<Error>,
}

impl<'a, F: AsRef<TableFile>> LevelCursor<'a, F> {
    /// A cursor over `files` (in key order, not overlapping), on no entry
    /// until it is positioned.
    pub fn new(files: &'a [F], recheck: Recheck) -> LevelCursor<'a, F> {
        LevelCursor {
            files,
            at: 0,
            it: None,
            recheck,
            failure: None,
        }
    }

    /// A cursor over `files` standing where `it`, a cursor over
    /// `files[0]` that [`into_position`](LevelCursor::into_position) gave
    /// back, stands: a scan's source kept from one refill to the next
    /// instead of sought again.
    pub fn resume(files: &'a [F], it: TableIter, recheck: Recheck) -> LevelCursor<'a, F> {
        LevelCursor {
            it: Some(it),
            ..LevelCursor::new(files, recheck)
        }
    }

    /// The table the cursor is in (its index in `files`) and its cursor
    /// there, if it is on an entry and met no damage: what
    /// [`resume`](LevelCursor::resume) takes.
    pub fn into_position(self) -> Option<(usize, TableIter)> {
        match (self.it, self.failure) {
            (Some(it), None) if it.valid() => Some((self.at, it)),
            _ => None,
        }
    }

    /// The entry's internal key. Only while valid.
    pub fn key(&self) -> &[u8] {
        self.it.as_ref().map_or(&[], |it| it.key())
    }

    /// The table the cursor is in, if any.
    pub fn table(&self) -> Option<&TableFile> {
        self.it.as_ref().map(|_| self.files[self.at].as_ref())
    }

    /// The damage that stopped the cursor, naming the table, if any.
    pub fn take_error(&mut self) -> Option<Error> {
        self.failure.take()
    }

    /// Enters table `i`, placed by `place`; past either end, none.
    fn enter(&mut self, i: usize, place: impl FnOnce(&mut TableIter)) {
        self.it = None;
        let Some(file) = self.files.get(i) else {
            return;
        };
        let file = file.as_ref();
        let mut it = match file.table() {
            Ok(table) => match self.recheck {
                Recheck::No => table.iter(),
                Recheck::Always => table.iter_rechecked(),
            },
            Err(e) => {
                self.failure = Some(e);
                return;
            }
        };
        place(&mut it);
        self.at = i;
        self.it = Some(it);
        self.note_damage();
    }

    /// Keeps the damage the table cursor met, naming the table.
    fn note_damage(&mut self) {
        if let Some(e) = self.it.as_ref().and_then(TableIter::error) {
            self.failure = Some(table_err(self.files[self.at].as_ref().path())(e.clone()));
        }
    }

    /// Past the end of a table, into the first entry of the next.
    fn skip_forward(&mut self) {
        while self.failure.is_none() && self.it.as_ref().is_some_and(|it| !it.valid()) {
            self.enter(self.at + 1, TableIter::seek_to_first);
        }
    }

    /// Before the start of a table, into the last entry of the one before.
    fn skip_backward(&mut self) {
        while self.failure.is_none() && self.it.as_ref().is_some_and(|it| !it.valid()) {
            match self.at.checked_sub(1) {
                Some(before) => self.enter(before, TableIter::seek_to_last),
                None => self.it = None,
            }
        }
    }
}

impl<F: AsRef<TableFile>> EntryCursor for LevelCursor<'_, F> {
    fn valid(&self) -> bool {
        self.it.as_ref().is_some_and(TableIter::valid)
    }
    fn seek_to_first(&mut self) {
        self.failure = None;
        self.enter(0, TableIter::seek_to_first);
        self.skip_forward();
    }
    fn seek_to_last(&mut self) {
        self.failure = None;
        let last = self.files.len().saturating_sub(1);
        self.enter(last, TableIter::seek_to_last);
        self.skip_backward();
    }
    fn seek(&mut self, user_key: &[u8], seq: SeqNum) {
        self.failure = None;
        // The first table that does not end before `user_key`: the first
        // of all when a scan has already cut the level to the tables of
        // its range, which one compare tells without a search.
        let ends_before = |f: &F| f.as_ref().user_range().1 < user_key;
        let i = match self.files.first() {
            Some(first) if !ends_before(first) => 0,
            _ => self.files.partition_point(ends_before),
        };
        self.enter(i, |it| EntryCursor::seek(it, user_key, seq));
        self.skip_forward();
    }
    fn next(&mut self) {
        if let Some(it) = &mut self.it {
            it.next();
        }
        self.note_damage();
        self.skip_forward();
    }
    fn prev(&mut self) {
        if let Some(it) = &mut self.it {
            it.prev();
        }
        self.note_damage();
        self.skip_backward();
    }
    fn entry(&self) -> (&[u8], SeqNum, Kind) {
        self.it.as_ref().expect("only while valid").entry()
    }
    fn value(&self) -> &[u8] {
        self.it.as_ref().map_or(&[], |it| it.value())
    }
    fn failed(&self) -> bool {
        self.failure.is_some()
    }
}
