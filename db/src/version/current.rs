//! The live tables a read consults: a [`Version`], immutable once built,
//! shared by the view that publishes it and by every snapshot and iterator
//! that took it.
//!
//! # Obsolete files (TABLES.md §8)
//!
//! A table's [`TableFile`] is shared by every version that lists it. When
//! an edit removes it, the file is marked obsolete; when the last version
//! holding it drops (no current view, snapshot or iterator reads it any
//! more), its drop hands the mapping and the path to the background
//! deleter, which unmaps and unlinks it off the reader's thread.
//!
//! # Opening on first use
//!
//! A table the open found in the manifest is checked to exist with its
//! size, but mapped and its index read only when a read or a compaction
//! first needs it ([`TableFile::table`]), as LevelDB's table cache does:
//! a reopen of a database of hundreds of tables reads none of them, and
//! holds the index of only those it reads. Damage in a table's footer or
//! index is then the error of that first read, naming the file, as
//! damage in a data block always was.

use super::catalog::{Catalog, NUM_LEVELS};
use super::edit::FileMeta;
use crate::error::{io_err, table_err, CorruptionKind, Error, Reason};
use crate::fs::{Fs, MappedFile};
use crate::table::{Found, Table};
use batch::{key, SeqNum};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, OnceLock};

/// What the deleter receives (`compaction::Background` runs it).
#[derive(Debug)]
pub enum Retired {
    /// A table no version lists any more: dropping the mapping and
    /// unlinking the file happen on the deleter's thread.
    Table {
        /// The file to unlink.
        path: PathBuf,
        /// The mapping, dropped by the deleter (`None`: it was never
        /// opened).
        table: Option<Arc<Table>>,
    },
    /// Answer once everything sent before is done: a caller that wants
    /// the space back now (`Db::compact`) waits for it.
    Barrier(std::sync::mpsc::SyncSender<()>),
    /// The database is closing: stop, leaving what comes later for the
    /// next open (a closed database touches no file).
    Stop,
}

/// One live table: its manifest entry and its mapping, opened on first
/// use (see the module docs).
pub struct TableFile {
    /// What the manifest says of it.
    pub meta: FileMeta,
    /// The open table, once something read it.
    table: OnceLock<Arc<Table>>,
    /// The file's mapping, taken before the table is opened
    /// ([`pin`](TableFile::pin)) so that it outlives the file's name.
    pinned: OnceLock<Arc<MappedFile>>,
    /// Where to open it from; `None` for a table opened when made.
    fs: Option<Arc<dyn Fs>>,
    path: PathBuf,
    /// Set when an edit removed it; acted on at the last drop.
    obsolete: AtomicBool,
    /// Where its drop sends it once obsolete.
    retire: Option<Sender<Retired>>,
}

impl TableFile {
    /// A live table at `path`.
    pub fn new(
        meta: FileMeta,
        table: Table,
        path: PathBuf,
        retire: Option<Sender<Retired>>,
    ) -> TableFile {
        TableFile {
            meta,
            table: OnceLock::from(Arc::new(table)),
            pinned: OnceLock::new(),
            fs: None,
            path,
            obsolete: AtomicBool::new(false),
            retire,
        }
    }

    /// A live table at `path` in `fs`, opened when first read.
    pub fn unopened(
        meta: FileMeta,
        path: PathBuf,
        fs: Arc<dyn Fs>,
        retire: Option<Sender<Retired>>,
    ) -> TableFile {
        TableFile {
            meta,
            table: OnceLock::new(),
            pinned: OnceLock::new(),
            fs: Some(fs),
            path,
            obsolete: AtomicBool::new(false),
            retire,
        }
    }

    /// The open table, opening it first if nothing has (two threads may
    /// both open it; one mapping is kept).
    ///
    /// # Errors
    ///
    /// The table cannot be mapped, or its footer, index or filter is
    /// damaged ([`Error::Corruption`] naming the file and offset). Nothing
    /// is kept: the next read tries again.
    pub fn table(&self) -> Result<&Arc<Table>, Error> {
        if let Some(table) = self.table.get() {
            return Ok(table);
        }
        let bytes: MappedFile = match self.pinned.get() {
            Some(mapping) => Box::new(Pinned(Arc::clone(mapping))),
            None => map_listed(self.fs(), &self.path, &self.meta)?,
        };
        let table = open_mapped(bytes, &self.path, &self.meta)?;
        Ok(self.table.get_or_init(|| Arc::new(table)))
    }

    /// Maps the file now, without reading it, so that it stays readable
    /// if its name is deleted before the table is opened: what a
    /// read-only open does beside a writer whose compactions delete
    /// tables. The checks of [`table`](TableFile::table) still run at the
    /// first read, so a damaged block fails that read, not the pin.
    ///
    /// # Errors
    ///
    /// The file is missing or not the size the manifest lists
    /// ([`Error::Corruption`]), or cannot be mapped ([`Error::Io`]).
    pub fn pin(&self) -> Result<(), Error> {
        if self.table.get().is_some() || self.pinned.get().is_some() {
            return Ok(());
        }
        let mapping = map_listed(self.fs(), &self.path, &self.meta)?;
        let _ = self.pinned.set(Arc::new(mapping));
        Ok(())
    }

    fn fs(&self) -> &dyn Fs {
        self.fs
            .as_deref()
            .expect("a table made here is opened when made")
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Marks the file for deletion once no version holds it.
    pub fn mark_obsolete(&self) {
        self.obsolete.store(true, Ordering::Release);
    }

    /// The user keys of its first and last entries.
    pub fn user_range(&self) -> (&[u8], &[u8]) {
        (
            key::user_key(&self.meta.smallest),
            key::user_key(&self.meta.largest),
        )
    }

    /// Whether `user_key` lies within the table's key range.
    pub fn may_hold(&self, user_key: &[u8]) -> bool {
        let (lo, hi) = self.user_range();
        lo <= user_key && user_key <= hi
    }
}

impl Drop for TableFile {
    fn drop(&mut self) {
        if !self.obsolete.load(Ordering::Acquire) {
            return;
        }
        if let Some(retire) = self.retire.take() {
            // A closed deleter (the database is closing) leaves the file:
            // the next open deletes it as an orphan.
            let _ = retire.send(Retired::Table {
                path: std::mem::take(&mut self.path),
                table: self.table.get().cloned(),
            });
        }
    }
}

/// The tables of each level: level 0 newest first (its tables may
/// overlap), every deeper level in key order without overlap.
#[derive(Debug, Default, Clone)]
pub struct Version {
    /// Tables by level.
    pub levels: [Vec<Arc<TableFile>>; NUM_LEVELS],
    /// The highest sequence number in the tables (the manifest's
    /// `LastSeq`): a snapshot below it may miss versions a compaction
    /// dropped, so `ReadState::snapshot` pairs a view only with a number at or
    /// above it.
    pub max_seq: u64,
}

/// The answer of a table lookup.
pub enum Lookup<'a> {
    /// The newest version at or below the snapshot is a put of this value
    /// (borrowed from the table's map when its block is stored
    /// uncompressed).
    Found(std::borrow::Cow<'a, [u8]>),
    /// It is a delete.
    Deleted,
    /// No table holds a version at or below the snapshot.
    Absent,
}

impl Version {
    /// The version `catalog` describes: the one builder of versions
    /// (LevelDB's `Builder`). Each table `base` holds is kept as it is
    /// (its mapping, and the readers that share it), each other is made by
    /// `make`; level 0 is put newest first (by number: a newer table takes
    /// a larger one) and every deeper level in key order. The catalog,
    /// not this, is the level state: a version is rebuilt from it, never
    /// edited.
    ///
    /// # Errors
    ///
    /// The first error of `make`.
    pub fn derive(
        catalog: &Catalog,
        base: &Version,
        mut make: impl FnMut(&FileMeta) -> Result<Arc<TableFile>, Error>,
    ) -> Result<Version, Error> {
        let kept: HashMap<u64, &Arc<TableFile>> =
            base.tables().map(|(_, f)| (f.meta.number, f)).collect();
        let mut version = Version {
            max_seq: catalog.last_seq,
            ..Version::default()
        };
        for (level, meta) in catalog.tables() {
            let file = match kept.get(&meta.number) {
                Some(file) => Arc::clone(file),
                None => make(meta)?,
            };
            version.levels[level].push(file);
        }
        version.levels[0].sort_by_key(|t| std::cmp::Reverse(t.meta.number));
        for level in &mut version.levels[1..] {
            level.sort_by(|a, b| key::compare(&a.meta.smallest, &b.meta.smallest));
        }
        Ok(version)
    }

    /// Every table, level by level.
    pub fn tables(&self) -> impl Iterator<Item = (usize, &Arc<TableFile>)> {
        self.levels
            .iter()
            .enumerate()
            .flat_map(|(level, files)| files.iter().map(move |f| (level, f)))
    }

    /// Checks the order the read path relies on: level 0 newest first (by
    /// number: a newer table takes a larger one), every deeper level in
    /// key order with no user key in two tables. Returns what is wrong,
    /// naming the tables.
    pub fn check(&self) -> Result<(), String> {
        for pair in self.levels[0].windows(2) {
            if pair[0].meta.number <= pair[1].meta.number {
                return Err(format!(
                    "level 0 lists table {} before the older table {}",
                    pair[1].meta.number, pair[0].meta.number
                ));
            }
        }
        for (level, files) in self.levels.iter().enumerate().skip(1) {
            for pair in files.windows(2) {
                let (a, b) = (&pair[0], &pair[1]);
                if a.user_range().1 >= b.user_range().0 {
                    return Err(format!(
                        "level {level}: tables {} and {} overlap",
                        a.meta.number, b.meta.number
                    ));
                }
            }
        }
        Ok(())
    }

    /// Tables in all levels.
    pub fn table_count(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    /// The newest version of `user_key` at or below `snapshot` in the
    /// tables: level 0 newest first, then the one table of each deeper
    /// level whose range holds the key. The first table holding a version
    /// decides. A damaged table is an error naming the file.
    pub fn get(&self, user_key: &[u8], snapshot: SeqNum) -> Result<Lookup<'_>, Error> {
        for file in &self.levels[0] {
            if file.may_hold(user_key) {
                if let Some(hit) = probe(file, user_key, snapshot)? {
                    return Ok(lookup(hit));
                }
            }
        }
        for files in &self.levels[1..] {
            let i = files.partition_point(|f| f.user_range().1 < user_key);
            if let Some(file) = files.get(i).filter(|f| f.may_hold(user_key)) {
                if let Some(hit) = probe(file, user_key, snapshot)? {
                    return Ok(lookup(hit));
                }
            }
        }
        Ok(Lookup::Absent)
    }
}

/// Opens the table at `path` that the manifest lists as `meta`, and
/// checks that it is that table: its size, the number and entry count its
/// metaindex records (tables LevelDB wrote record neither), and its first
/// and last keys. A table copied or renamed over another, even one of the
/// same size, is an error here rather than stale answers later (issue
/// #23). Damage in its metaindex or filter is logged: it reads without
/// them.
///
/// # Errors
///
/// [`Error::Corruption`] naming the table if it is not the one listed or
/// its footer or index is damaged; [`Error::Io`] if it cannot be mapped.
pub fn open_table(fs: &dyn Fs, path: &Path, meta: &FileMeta) -> Result<Table, Error> {
    open_mapped(map_listed(fs, path, meta)?, path, meta)
}

/// Maps the table at `path`, checking first that it has the size the
/// manifest lists.
fn map_listed(fs: &dyn Fs, path: &Path, meta: &FileMeta) -> Result<MappedFile, Error> {
    check_present(fs, path, meta.size)?;
    fs.map(path).map_err(io_err("map", path))
}

/// [`open_table`]'s checks over a mapping already taken.
fn open_mapped(bytes: MappedFile, path: &Path, meta: &FileMeta) -> Result<Table, Error> {
    let table = Table::open_boxed(bytes).map_err(table_err(path))?;
    let not_listed = |reason: String| Error::Corruption {
        path: path.to_path_buf(),
        offset: 0,
        reason: Reason::new(
            CorruptionKind::Table,
            format!("{reason}: not the table the manifest lists"),
        ),
    };
    let props = table.properties();
    if let Some(number) = props.number.filter(|&n| n != meta.number) {
        return Err(not_listed(format!(
            "it records itself as table {number}, where the manifest lists {}",
            meta.number
        )));
    }
    // A LevelDB manifest records no entry count (0 here): nothing to
    // compare.
    if let Some(entries) = props
        .entries
        .filter(|&n| meta.entries != 0 && n != meta.entries)
    {
        return Err(not_listed(format!(
            "it records {entries} entries, where the manifest lists {}",
            meta.entries
        )));
    }
    let (smallest, largest) = table.bounds().map_err(table_err(path))?;
    if smallest != meta.smallest || largest != meta.largest {
        return Err(not_listed(
            "its first and last keys differ from the manifest's".to_owned(),
        ));
    }
    if let Some(damage) = table.meta_damage() {
        log::warn!(
            "table {}: metaindex or filter damaged at offset {} ({}); reading it without them",
            path.display(),
            damage.offset,
            damage.kind
        );
    }
    Ok(table)
}

/// Checks that the table at `path` exists and is `size` bytes, as the
/// manifest says.
pub(crate) fn check_present(fs: &dyn Fs, path: &Path, size: u64) -> Result<(), Error> {
    match fs.stat(path) {
        Ok(meta) => check_size(path, meta.len, size),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::corruption(
            CorruptionKind::Table,
            path,
            0,
            "a table the manifest lists is missing",
        )),
        Err(e) => Err(io_err("stat", path)(e)),
    }
}

/// Checks that the table at `path`, found `len` bytes long, is `size`
/// bytes, as the manifest says.
pub(crate) fn check_size(path: &Path, len: u64, size: u64) -> Result<(), Error> {
    if len == size {
        return Ok(());
    }
    Err(Error::corruption(
        CorruptionKind::Table,
        path,
        len.min(size),
        format!("table is {len} bytes where the manifest says {size}"),
    ))
}

fn probe<'a>(
    file: &'a TableFile,
    user_key: &[u8],
    snapshot: SeqNum,
) -> Result<Option<Found<'a>>, Error> {
    file.table()?
        .get(user_key, snapshot)
        .map_err(table_err(&file.path))
}

/// A pinned mapping handed to the table reader, which wants its bytes
/// owned: the reader and the pin share them.
struct Pinned(Arc<MappedFile>);

impl AsRef<[u8]> for Pinned {
    fn as_ref(&self) -> &[u8] {
        (**self.0).as_ref()
    }
}

impl std::fmt::Debug for TableFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableFile")
            .field("meta", &self.meta)
            .field("path", &self.path)
            .field("open", &self.table.get().is_some())
            .finish()
    }
}

fn lookup(found: Found<'_>) -> Lookup<'_> {
    match found.kind {
        batch::Kind::Put => Lookup::Found(found.value),
        batch::Kind::Delete => Lookup::Deleted,
    }
}
