//! Repair ([`Db::repair`](crate::Db::repair), `tributary repair`): a
//! working database rebuilt from whatever in its directory is readable,
//! for when an open refuses (a damaged manifest, a missing or damaged
//! table) and the user wants the rest of the data back.
//!
//! # What it salvages
//!
//! - every data block of every table file (`NNNNNN.ldb` or `.sst`) that
//!   checks out whole, listed in a manifest or not, the database's own or
//!   LevelDB's (a table whose footer or index is damaged has no readable
//!   block: nothing says where they are);
//! - every record of every journal that reads (the journal reader's
//!   tolerant mode skips damage and goes on), as whole batches.
//!
//! The manifest is not trusted: it may be what is damaged.
//!
//! # Newest wins, so nothing shadowed comes back
//!
//! Everything salvaged keeps its sequence number. The salvaged runs (each
//! table a sorted run, the journals' records sorted into one) are merged
//! in internal-key order, which puts each user key's newest version first;
//! that one is kept, a delete included, and every older one dropped. So a
//! repair never brings back a value that a surviving newer version, put or
//! delete, had replaced. The deletes are kept although nothing in the new
//! tables lies below them: a crash after the commit can leave old files
//! behind, and a repair that meets them again must still find each key's
//! newest version in the new tables (compaction drops the deletes later,
//! as any other).
//! LevelDB's `RepairDB` puts every table in level 0 by file number, where
//! an old table a compaction rewrote late can shadow a newer one.
//!
//! The result is one level of non-overlapping tables (the first level
//! whose target holds them, as `Db::compact` leaves the tree), a new
//! manifest naming them with the highest sequence number seen, and no
//! live journal.
//!
//! # Nothing destroyed, and a crash changes nothing
//!
//! 1. Foreign entries (a name like a database file's that is not a
//!    regular file with one name, or has a number out of range) and the
//!    shortened journal copies of an interrupted recovery are moved into
//!    `lost/` whole, unread. They hold nothing a repair uses, so moving
//!    them first changes no later repair's result.
//! 2. The new tables are written under new numbers and synced, the
//!    directory synced. Until step 4 nothing names them: an open deletes
//!    them as uncommitted outputs, a repair reads them again and finds
//!    only duplicates.
//! 3. A copy of every damaged table and journal, and of every manifest, is
//!    written whole into `lost/` and synced; the originals stay.
//! 4. The new manifest is written and `CURRENT` pointed at it: the commit.
//! 5. The old tables, journals, manifests and temporaries are removed:
//!    their data is in the new tables, or their bytes in `lost/`.
//!
//! A crash before 4 leaves the old state (and spare files): the next
//! repair reads what this one read, plus duplicates, and ends the same. A
//! crash after 4 leaves old files that the next open deletes as obsolete
//! (every one of them either copied into `lost/` or rewritten), or that
//! the next repair reads again as duplicates.

use crate::compaction::build::OutputTable;
use crate::error::{io_err, Error};
use crate::files::{self, FileNumbers, Name};
use crate::fs::{FileKind, Fs, LockMode};
use crate::options::Options;
use crate::progress::progress;
use crate::recovery::{lost, scan, SetAside};
use crate::table::Table;
use crate::version::{self, Catalog, Field};
use batch::{key, Batch, Kind, SeqNum};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What a repair salvaged, set aside and wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// Every table file read, by number.
    pub tables: Vec<Salvaged>,
    /// Every journal read, by number.
    pub journals: Vec<Salvaged>,
    /// Files kept whole in `lost/`: moved there (foreign entries), or
    /// copied there before the originals were removed (damaged tables and
    /// journals, the old manifests).
    pub set_aside: Vec<SetAside>,
    /// Tables written.
    pub tables_written: usize,
    /// Live keys in them: the newest version of each key salvaged, when it
    /// is a put (the deletes among the newest versions are written too).
    pub keys: u64,
    /// The level they are in.
    pub level: usize,
    /// The highest sequence number salvaged: the next write takes the one
    /// after.
    pub last_seq: SeqNum,
    /// The new manifest.
    pub manifest: PathBuf,
}

/// What was salvaged from one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Salvaged {
    /// The file.
    pub path: PathBuf,
    /// Entries (a table's) or records (a journal's puts and deletes) read.
    pub entries: u64,
    /// What could not be read, if anything: the file is then damaged, and
    /// a copy of it is kept in `lost/`.
    pub damage: Option<String>,
}

impl fmt::Display for RepairReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (what, files) in [("table", &self.tables), ("journal", &self.journals)] {
            for s in files {
                write!(f, "{what} {}: {} entries", s.path.display(), s.entries)?;
                match &s.damage {
                    Some(damage) => writeln!(f, ", damaged: {damage}")?,
                    None => writeln!(f)?,
                }
            }
        }
        for s in &self.set_aside {
            writeln!(
                f,
                "kept {} whole as {}",
                s.path.display(),
                s.kept_as.display()
            )?;
        }
        write!(
            f,
            "wrote {} keys in {} tables at level {}, last sequence number {}, manifest {}",
            self.keys,
            self.tables_written,
            self.level,
            self.last_seq,
            self.manifest.display()
        )
    }
}

/// The files of the directory, sorted into what a repair does with them.
#[derive(Default)]
struct Found {
    tables: Vec<(u64, PathBuf)>,
    journals: Vec<(u64, PathBuf)>,
    manifests: Vec<PathBuf>,
    temps: Vec<PathBuf>,
    /// Moved into `lost/` unread.
    aside: Vec<PathBuf>,
    current: bool,
    highest: Option<(u64, PathBuf)>,
}

/// Repairs the database in `dir` (see the module docs).
pub(crate) fn repair(dir: &Path, options: &Options) -> Result<RepairReport, Error> {
    options.validate()?;
    let fs: &dyn Fs = &*options.fs;
    if !fs.exists(dir) {
        return Err(Error::NotFound {
            path: dir.to_path_buf(),
        });
    }
    let lock_path = dir.join(files::LOCK);
    let _lock = fs
        .lock(&lock_path, LockMode::Write)
        .map_err(crate::error::lock_error(&lock_path))?;
    let found = list(fs, dir)?;
    if found.tables.is_empty() && found.journals.is_empty() && !found.current {
        return Err(Error::NotFound {
            path: dir.to_path_buf(),
        });
    }
    let mut report = RepairReport {
        set_aside: lost::set_aside(fs, dir, &found.aside)?,
        ..RepairReport::default()
    };
    // The manifest, where it still reads, says how far numbers and
    // sequence numbers went (files since deleted among them).
    let old = version::set::load(fs, dir).ok();
    let mut numbers = FileNumbers::after(found.highest.clone())?;
    let mut last_seq = 0;
    if let Some(old) = &old {
        numbers.at_least(old.catalog.next_file_number);
        last_seq = old.catalog.last_seq;
    }

    let mut runs = salvage(fs, &found, &mut report);
    progress!(
        "repair: {} tables and {} journals read; merging them into new tables",
        found.tables.len(),
        found.journals.len()
    );
    let shape = options.shape();
    let written = write_newest(fs, dir, &mut runs, &mut numbers, &shape)?;
    last_seq = last_seq.max(written.max_seq);
    for run in runs {
        if let Run::Table {
            path,
            entries,
            damage,
            ..
        } = run
        {
            report.tables.push(Salvaged {
                path,
                entries,
                damage,
            });
        }
    }
    report.tables.sort_by(|a, b| a.path.cmp(&b.path));

    // Keep what is damaged, and every manifest, before the commit.
    let keep: Vec<PathBuf> = report
        .tables
        .iter()
        .chain(&report.journals)
        .filter(|s| s.damage.is_some())
        .map(|s| s.path.clone())
        .chain(found.manifests.iter().cloned())
        .collect();
    report.set_aside.extend(lost::keep_copies(fs, dir, &keep)?);

    // The commit: a manifest naming only the new tables.
    let bytes: u64 = written.tables.iter().map(|m| m.size).sum();
    let level = shape.level_for(bytes);
    let mut edit: Vec<Field> = written
        .tables
        .iter()
        .map(|meta| Field::AddFile {
            level: level as u8,
            file: meta.clone(),
        })
        .collect();
    // No journal is live: every record is in the new tables.
    let log_number = numbers.peek().unwrap_or(files::MAX_FILE_NUMBER);
    edit.extend([Field::LogNumber(log_number), Field::LastSeq(last_seq)]);
    let (_, manifest) =
        version::set::install_manifest(fs, dir, Catalog::default(), &edit, &mut numbers)?;
    report.manifest = manifest.path().to_path_buf();
    drop(manifest);

    remove_old_files(fs, &found);
    report.tables_written = written.tables.len();
    report.keys = written.keys;
    report.level = level;
    report.last_seq = SeqNum(last_seq);
    // Info, not a warning: the caller asked for the repair and gets the
    // report; what it set aside was logged as it happened.
    log::info!("repaired {}: {report}", dir.display());
    Ok(report)
}

/// The sorted runs to merge: each table that opens, and the journals'
/// records as one more; what does not open is noted in `report`.
fn salvage(fs: &dyn Fs, found: &Found, report: &mut RepairReport) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for (number, path) in &found.tables {
        match open_table(fs, path) {
            Ok((table, restored)) => runs.push(Run::table(table, *number, path, restored)),
            Err(damage) => report.tables.push(Salvaged {
                path: path.clone(),
                entries: 0,
                damage: Some(damage),
            }),
        }
    }
    let mut records = Vec::new();
    for (_, path) in &found.journals {
        report.journals.push(read_journal(fs, path, &mut records));
    }
    records.sort_by(|a: &(Vec<u8>, Vec<u8>), b| key::compare(&a.0, &b.0));
    runs.push(Run::Records(records.into_iter()));
    runs
}

/// Removes the old files once the new manifest is installed: rewritten,
/// or kept in `lost/`. A failure leaves an orphan the next open removes.
fn remove_old_files(fs: &dyn Fs, found: &Found) {
    let old_files = found
        .tables
        .iter()
        .chain(&found.journals)
        .map(|(_, p)| p)
        .chain(&found.manifests)
        .chain(&found.temps);
    for path in old_files {
        if let Err(e) = fs.remove(path) {
            log::warn!("repair: cannot remove {}: {e}", path.display());
        }
    }
}

/// Lists `dir`: what each entry is, and the highest file number, `lost/`
/// included.
fn list(fs: &dyn Fs, dir: &Path) -> Result<Found, Error> {
    let mut found = Found::default();
    let note = |found: &mut Found, n: u64, path: &Path| {
        if found.highest.as_ref().is_none_or(|(h, _)| n > *h) {
            found.highest = Some((n, path.to_path_buf()));
        }
    };
    for name in fs.list(dir).map_err(io_err("list", dir))? {
        let path = dir.join(&name);
        let class = files::classify(&name);
        let numbered = match class {
            Name::Journal(n)
            | Name::Table(n)
            | Name::Manifest(n)
            | Name::Temp(n)
            | Name::RepairCopy(n) => Some(n),
            _ => None,
        };
        if let Some(n) = numbered {
            if scan::check_own_file(fs, &path).is_err() {
                found.aside.push(path);
                continue;
            }
            note(&mut found, n, &path);
        }
        match class {
            Name::Journal(n) => found.journals.push((n, path)),
            Name::Table(n) => found.tables.push((n, path)),
            Name::Manifest(_) => found.manifests.push(path),
            Name::Temp(_) => found.temps.push(path),
            Name::RepairCopy(_) | Name::NumberTooLarge => found.aside.push(path),
            Name::Other if name == files::CURRENT => found.current = true,
            Name::Other if name == files::LOST => {
                let meta = fs.stat(&path).map_err(io_err("stat", &path))?;
                if meta.kind != FileKind::Dir {
                    return Err(Error::ForeignFile {
                        path,
                        reason: "not a directory where recovery keeps one".to_owned(),
                    });
                }
                for kept in fs.list(&path).map_err(io_err("list", &path))? {
                    if let Some(n) =
                        scan::lost_number(&kept).filter(|&n| n <= files::MAX_FILE_NUMBER)
                    {
                        note(&mut found, n, &path.join(&kept));
                    }
                }
            }
            _ => {}
        }
    }
    found.tables.sort();
    found.journals.sort();
    found.manifests.sort();
    Ok(found)
}

/// Opens a table file for salvage (restoring one flipped bit in its
/// footer, index or metaindex where that is all that is wrong), with a
/// note of what was restored; or says why it has nothing to give.
fn open_table(fs: &dyn Fs, path: &Path) -> Result<(Table, Option<String>), String> {
    let bytes = fs.map(path).map_err(|e| format!("cannot map it: {e}"))?;
    let error = match Table::open_boxed(bytes) {
        Ok(table) => return Ok((table, None)),
        Err(e) => e,
    };
    let mut copy = Vec::new();
    fs.open(path)
        .and_then(|mut f| f.read_to_end(&mut copy))
        .map_err(|e| format!("cannot read it: {e}"))?;
    let restored = crate::table::restore_table(&mut copy);
    match (restored.is_empty(), Table::open(copy)) {
        (false, Ok(table)) => Ok((
            table,
            Some(format!(
                "one flipped bit undone at each of offsets {restored:?}"
            )),
        )),
        _ => Err(format!(
            "{} at offset {}: no block can be found without its footer and index",
            error.kind, error.offset
        )),
    }
}

/// Reads every record of the journal at `path` that reads, into
/// `records` as (internal key, value).
fn read_journal(fs: &dyn Fs, path: &Path, records: &mut Vec<(Vec<u8>, Vec<u8>)>) -> Salvaged {
    let mut salvaged = Salvaged {
        path: path.to_path_buf(),
        entries: 0,
        damage: None,
    };
    let mut bytes = Vec::new();
    if let Err(e) = fs.open(path).and_then(|mut f| f.read_to_end(&mut bytes)) {
        salvaged.damage = Some(format!("cannot read it: {e}"));
        return salvaged;
    }
    let corrected = correct_journal_bits(&mut bytes);
    let mut reader = journal::Reader::new(&bytes[..], journal::Recovery::Tolerant);
    let mut bad_batches = 0;
    loop {
        match reader.next_record() {
            Ok(Some(record)) => match Batch::decode(record) {
                Ok(batch) => {
                    for (i, r) in batch.records().enumerate() {
                        let mut internal = Vec::with_capacity(r.key().len() + 8);
                        let seq = SeqNum(batch.seq().0 + i as u64);
                        key::encode(&mut internal, r.key(), seq, r.kind());
                        records.push((internal, r.value().unwrap_or_default().to_vec()));
                        salvaged.entries += 1;
                    }
                }
                Err(_) => bad_batches += 1,
            },
            Ok(None) => break,
            Err(e) => {
                salvaged.damage = Some(e.to_string());
                break;
            }
        }
    }
    // A torn tail holds no whole record, but bytes that are not the
    // zeros of a zero-filled journal are kept all the same.
    let torn = reader
        .torn_tail()
        .map(|t| &bytes[(t.offset as usize).min(bytes.len())..])
        .filter(|tail| tail.iter().any(|&b| b != 0))
        .map_or(0, |tail| tail.len() as u64);
    let dropped: u64 = reader.dropped().iter().map(|d| d.len).sum::<u64>() + torn;
    if salvaged.damage.is_none() && (dropped > 0 || bad_batches > 0 || corrected > 0) {
        salvaged.damage = Some(format!(
            "{corrected} flipped bits undone, {dropped} bytes unreadable, \
             {bad_batches} records not a batch"
        ));
    }
    salvaged
}

/// Undoes, in place, each chunk's single flipped bit where one explains
/// its checksum ([`journal::correct_one_bit`]), so that the reader need
/// not drop the rest of the chunk's 32 KiB block for it: a bit of its type
/// or data, of its stored checksum (rewritten), or of its length, which
/// the checksum does not cover (the one length, of the 16 one bit away,
/// under which the chunk fits its block and its checksum matches). Chunks
/// are found by walking each block's headers; a length that fits no such
/// way ends the walk of that block. Returns the bits undone.
fn correct_journal_bits(bytes: &mut [u8]) -> usize {
    const HEADER: usize = journal::HEADER_LEN;
    let checks = |bytes: &[u8], at: usize, len: usize, block_end: usize| {
        let end = at + HEADER + len;
        end <= block_end && {
            let stored = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
            journal::mask(crc32c::crc32c(&bytes[at + HEADER - 1..end])) == stored
        }
    };
    let mut corrected = 0;
    for block_start in (0..bytes.len()).step_by(journal::BLOCK_SIZE) {
        let block_end = (block_start + journal::BLOCK_SIZE).min(bytes.len());
        let mut at = block_start;
        while at + HEADER <= block_end {
            if bytes[at..at + HEADER].iter().all(|&b| b == 0) {
                break;
            }
            let stored = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
            let mut len = u16::from_le_bytes(bytes[at + 4..at + 6].try_into().expect("2 bytes"));
            if !checks(bytes, at, len as usize, block_end) {
                // The length, which no checksum covers, one bit off?
                if let Some(fixed) = (0..16)
                    .map(|bit| len ^ (1 << bit))
                    .find(|&l| checks(bytes, at, l as usize, block_end))
                {
                    len = fixed;
                    bytes[at + 4..at + 6].copy_from_slice(&len.to_le_bytes());
                    corrected += 1;
                }
            }
            let end = at + HEADER + len as usize;
            if end > block_end {
                break;
            }
            // The checksum covers the type byte and the data after it.
            let message = &mut bytes[at + HEADER - 1..end];
            match journal::correct_one_bit(message, stored) {
                Some(journal::FlippedBit::At { .. }) => corrected += 1,
                Some(journal::FlippedBit::InChecksum) => {
                    let right = journal::mask(crc32c::crc32c(message)).to_le_bytes();
                    bytes[at..at + 4].copy_from_slice(&right);
                    corrected += 1;
                }
                None => {}
            }
            at = end;
        }
    }
    corrected
}

/// A sorted run of salvaged entries: a table's readable blocks, or the
/// journals' records.
enum Run {
    Table {
        table: Box<Table>,
        path: PathBuf,
        next_block: usize,
        /// The entries of the block read last, in reverse order.
        block: Vec<(Vec<u8>, Vec<u8>)>,
        entries: u64,
        damage: Option<String>,
    },
    Records(std::vec::IntoIter<(Vec<u8>, Vec<u8>)>),
}

impl Run {
    fn table(table: Table, number: u64, path: &Path, restored: Option<String>) -> Run {
        // A table under another's name is read all the same (its entries
        // are what they are), and kept whole as found.
        let misnamed = table
            .properties()
            .number
            .filter(|&n| n != number)
            .map(|n| format!("it records itself as table {n}"));
        let damage = table
            .meta_damage()
            .map(|e| {
                format!(
                    "metaindex or filter: {} at offset {} (every data block read)",
                    e.kind, e.offset
                )
            })
            .into_iter()
            .chain(restored)
            .chain(misnamed)
            .reduce(|a, b| format!("{a}; {b}"));
        Run::Table {
            table: Box::new(table),
            path: path.to_path_buf(),
            next_block: 0,
            block: Vec::new(),
            entries: 0,
            damage,
        }
    }

    fn next(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        match self {
            Run::Records(records) => records.next(),
            Run::Table {
                table,
                next_block,
                block,
                entries,
                damage,
                ..
            } => loop {
                if let Some(entry) = block.pop() {
                    *entries += 1;
                    return Some(entry);
                }
                if *next_block >= table.data_blocks() {
                    return None;
                }
                let i = *next_block;
                *next_block += 1;
                let read = table.salvage_block(i, |k, v| block.push((k.to_vec(), v.to_vec())));
                block.reverse();
                let note = match read {
                    Ok(None) => continue,
                    Ok(Some(at)) => {
                        format!("data block {i}: one flipped bit at offset {at}, undone")
                    }
                    Err(e) => {
                        block.clear();
                        format!("data block {i}: {} at offset {}", e.kind, e.offset)
                    }
                };
                match damage {
                    Some(d) => {
                        d.push_str("; ");
                        d.push_str(&note);
                    }
                    None => *damage = Some(note),
                }
            },
        }
    }
}

/// One entry waiting in the merge, ordered so that the heap's top is the
/// smallest internal key (ties by run, which makes the order total).
struct Head {
    key: Vec<u8>,
    value: Vec<u8>,
    run: usize,
}

impl Ord for Head {
    fn cmp(&self, other: &Head) -> Ordering {
        key::compare(&other.key, &self.key).then(other.run.cmp(&self.run))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Head) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Head) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

/// What the merge wrote.
struct Written {
    tables: Vec<version::FileMeta>,
    keys: u64,
    max_seq: u64,
}

/// Merges `runs` and writes the newest version of each user key to new
/// tables of about the target size, each synced, then
/// syncs the directory. On an error the tables written are removed.
fn write_newest(
    fs: &dyn Fs,
    dir: &Path,
    runs: &mut [Run],
    numbers: &mut FileNumbers,
    shape: &crate::shape::Shape,
) -> Result<Written, Error> {
    let mut written = Written {
        tables: Vec::new(),
        keys: 0,
        max_seq: 0,
    };
    let mut created: Vec<PathBuf> = Vec::new();
    let result = (|| {
        let mut heap = BinaryHeap::new();
        for (run, r) in runs.iter_mut().enumerate() {
            if let Some((key, value)) = r.next() {
                heap.push(Head { key, value, run });
            }
        }
        let mut last_user: Option<Vec<u8>> = None;
        let mut out: Option<OutputTable> = None;
        while let Some(Head { key, value, run }) = heap.pop() {
            if let Some((k, v)) = runs[run].next() {
                heap.push(Head {
                    key: k,
                    value: v,
                    run,
                });
            }
            let Some((user, seq, kind)) = key::parse(&key) else {
                continue; // checked by the block and batch readers
            };
            written.max_seq = written.max_seq.max(seq.0);
            if last_user.as_deref() == Some(user) {
                continue; // an older version, or the same one again
            }
            last_user = Some(user.to_vec());
            if out.is_none() {
                let number = numbers.allocate(|n| files::table_path(dir, n))?;
                let path = files::table_path(dir, number);
                created.push(path.clone());
                out = Some(
                    OutputTable::create(fs, &path, number, shape.table_options(0))
                        .map_err(io_err("create table", &path))?,
                );
            }
            let table = out.as_mut().expect("just made");
            // A delete is written too: until the old files are gone, a
            // repair that a crash interrupted meets them again, and their
            // older versions must stay hidden.
            table
                .add(&key, &value)
                .map_err(io_err("write table", table.path()))?;
            if kind == Kind::Put {
                written.keys += 1;
            }
            if table.size_estimate() >= shape.target_file_size {
                let table = out.take().expect("just used");
                let path = table.path().to_path_buf();
                written
                    .tables
                    .push(table.finish().map_err(io_err("write table", &path))?.meta);
                progress!(
                    "repair: {} tables written, {} keys",
                    written.tables.len(),
                    written.keys
                );
            }
        }
        if let Some(table) = out.take() {
            let path = table.path().to_path_buf();
            written
                .tables
                .push(table.finish().map_err(io_err("write table", &path))?.meta);
        }
        fs.sync_dir(dir).map_err(io_err("sync directory", dir))
    })();
    match result {
        Ok(()) => Ok(written),
        Err(e) => {
            for path in &created {
                let _ = fs.remove(path);
            }
            Err(e)
        }
    }
}
