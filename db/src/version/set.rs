//! [`VersionSet`]: the catalog, the open manifest that records it, and
//! [`VersionSet::log_and_apply`], the one commit of a table change
//! (TABLES.md §4; LevelDB's `VersionSet::LogAndApply`).
//!
//! # Commit of a flush, a large batch or a compaction
//!
//! 1. each new table is written and `fdatasync`ed (`compaction::build`);
//! 2. the directory is fsynced, so the tables' names are durable;
//! 3. `log_and_apply`: the edit, with the next file number, is appended to
//!    the manifest and `fdatasync`ed (**the commit point**), applied to the
//!    catalog, and the new [`Version`] built from it
//!    ([`Version::derive`]): added tables opened, removed ones marked
//!    obsolete, level order kept;
//! 4. the caller installs that version for readers (`Shared::install`,
//!    the one swap of the read state for a table change);
//! 5. only then is what it made obsolete deleted.
//!
//! A crash before 3 leaves tables no manifest names: orphans, deleted at
//! the next open. After a manifest append or sync error, or a committed
//! table that cannot be opened, the set refuses every later commit
//! (whether the edit is durable, or its records readable, is unknown):
//! the caller poisons writes, and reads keep working.

use super::catalog::Catalog;
use super::current::{check_present, check_size, open_table, Retired, TableFile, Version};
use super::edit::Field;
use super::manifest::{self, ManifestWriter};
use crate::error::{io_err, CorruptionKind, Error, Reason};
use crate::failure::Failure;
use crate::files::{self, FileNumbers, Files};
use crate::fs::Fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::Arc;

/// The catalog and the manifest recording it: the one writer of the
/// level state. The catalog is the levels as the manifest lists them;
/// every [`Version`] readers see is derived from it, by
/// [`log_and_apply`](VersionSet::log_and_apply) alone.
#[derive(Debug)]
pub struct VersionSet {
    /// What the manifest says.
    catalog: Catalog,
    manifest: ManifestWriter,
    /// Where new tables are opened from and numbers come from.
    files: Arc<Files>,
    /// Where the tables of the versions it builds go once obsolete.
    retire: Option<Sender<Retired>>,
    /// The database's one sticky failure: a failed commit is kept there,
    /// and no commit follows any failure.
    failure: Arc<Failure>,
    /// `Options::max_manifest_file_size`.
    max_manifest_size: u64,
    /// The manifest size at which the next commit rolls it first
    /// ([`roll_at`]).
    roll_at: u64,
}

/// When a manifest that began as a snapshot of `snapshot` bytes is rolled:
/// past `max` bytes, and never before twice its snapshot (a roll writes a
/// snapshot: rolling sooner would write more than the edits it saves
/// replaying).
fn roll_at(max: u64, snapshot: u64) -> u64 {
    max.max(snapshot.saturating_mul(2))
}

/// What `CURRENT` and the manifest it names held at open.
#[derive(Debug)]
pub struct Loaded {
    /// The manifest.
    pub path: PathBuf,
    /// Its number.
    pub number: u64,
    /// Its catalog.
    pub catalog: Catalog,
    /// Where its last readable record ends.
    pub good_len: u64,
    /// Bytes of a last record that does not read, dropped: an edit a crash
    /// tore, unless the directory shows that it committed (`recovery`).
    pub torn: u64,
    /// Whether it is LevelDB's (a LevelDB or goleveldb directory): then
    /// its `last_seq` may count records only in the live journals, and it
    /// records no journal syncs.
    pub leveldb: bool,
}

/// Reads `CURRENT` and replays the manifest it names.
///
/// # Errors
///
/// [`Error::Corruption`] naming `CURRENT` if it is not exactly
/// `MANIFEST-NNNNNN\n` or names a missing manifest, or naming the manifest
/// and the offset if it is damaged before its end, does not decode, or
/// contradicts itself. A damaged manifest is never opened past: later
/// edits may already have deleted what earlier ones list.
pub fn load(fs: &dyn Fs, dir: &Path) -> Result<Loaded, Error> {
    let current = dir.join(files::CURRENT);
    let contents = read_all(fs, &current)?;
    let corrupt = |reason: String| Error::Corruption {
        path: current.clone(),
        offset: 0,
        reason: Reason::new(CorruptionKind::Manifest, reason),
    };
    let number = manifest::parse_current(&contents).ok_or_else(|| {
        corrupt(format!(
            "does not name a manifest: {:?}",
            String::from_utf8_lossy(&contents)
        ))
    })?;
    let path = files::manifest_path(dir, number);
    if !fs.exists(&path) {
        return Err(corrupt(format!(
            "names {}, which is missing",
            path.display()
        )));
    }
    let bytes = read_all(fs, &path)?;
    let leveldb = super::leveldb::is_leveldb_manifest(&bytes);
    let replayed = if leveldb {
        super::leveldb::replay(&bytes)
    } else {
        manifest::replay(&bytes)
    };
    let replayed = replayed.map_err(|e| Error::Corruption {
        path: path.clone(),
        offset: match &e {
            manifest::ManifestError::Damaged { offset, .. }
            | manifest::ManifestError::BadRecord { offset, .. }
            | manifest::ManifestError::Inconsistent { offset, .. } => *offset,
            _ => 0,
        },
        reason: Reason::new(CorruptionKind::Manifest, format!("manifest {e}")),
    })?;
    Ok(Loaded {
        path,
        number,
        catalog: replayed.catalog,
        good_len: replayed.good_len,
        torn: replayed.torn,
        leveldb,
    })
}

/// The whole contents of `path` (`CURRENT`, a manifest).
pub(crate) fn read_all(fs: &dyn Fs, path: &Path) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    fs.open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(io_err("read", path))?;
    Ok(bytes)
}

/// A table file a directory listing found, with the length its `stat`
/// gave: what [`open_tables`] checks each listed table against.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ListedTable {
    pub number: u64,
    pub path: PathBuf,
    pub len: u64,
}

/// The tables of `catalog` in `dir`, each checked to exist with the size
/// the manifest gives, to be opened on first use (`version::current`).
/// `listed` are the tables the directory holds, by number, in order, with
/// the lengths the listing's `stat` found (checked against, rather than a
/// second `stat` of every table: a tenth of a reopen after a 10 M-key
/// fill): a table is opened under the name it has there, `NNNNNN.ldb`,
/// or `NNNNNN.sst` as LevelDB before 1.14 named tables (`.ldb` first
/// where both are); new tables are always `.ldb`.
///
/// # Errors
///
/// [`Error::Corruption`] naming the first table that is missing or of
/// another size.
pub fn open_tables(
    fs: &Arc<dyn Fs>,
    dir: &Path,
    catalog: &Catalog,
    listed: &[ListedTable],
    retire: Option<&Sender<Retired>>,
) -> Result<Version, Error> {
    Version::derive(catalog, &Version::default(), |meta| {
        let at = listed.partition_point(|t| t.number < meta.number);
        let path = match listed.get(at) {
            Some(t) if t.number == meta.number => {
                check_size(&t.path, t.len, meta.size)?;
                t.path.clone()
            }
            _ => {
                let path = files::table_path(dir, meta.number);
                check_present(&**fs, &path, meta.size)?;
                path
            }
        };
        Ok(Arc::new(TableFile::unopened(
            meta.clone(),
            path,
            Arc::clone(fs),
            retire.cloned(),
        )))
    })
}

impl VersionSet {
    /// Writes a new manifest holding `catalog` with `edit` applied (and the
    /// next file number recorded) and points `CURRENT` at it (the steps of
    /// `version::manifest`): pointing it is the commit of `edit`. The
    /// caller deletes the old manifest afterwards, and builds the version
    /// the set describes with [`version`](VersionSet::version).
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] if `edit` contradicts `catalog` (a bug), with
    /// nothing written; the I/O error of the manifest or of `CURRENT`.
    pub fn create(
        files: &Arc<Files>,
        failure: &Arc<Failure>,
        retire: Option<Sender<Retired>>,
        catalog: Catalog,
        edit: &[Field],
        max_manifest_size: u64,
    ) -> Result<VersionSet, Error> {
        let (catalog, manifest) = install_manifest(
            &**files.fs(),
            files.dir(),
            catalog,
            edit,
            &mut files.numbers(),
        )?;
        Ok(VersionSet {
            catalog,
            roll_at: roll_at(max_manifest_size, manifest.size()),
            manifest,
            files: Arc::clone(files),
            retire,
            failure: Arc::clone(failure),
            max_manifest_size,
        })
    }

    /// Rolls the manifest if it has grown past [`roll_at`]: a new one
    /// holding the catalog as one snapshot, `CURRENT` pointed at it, the
    /// old one deleted. Run before an edit takes its next file number, so
    /// that the edit records a number past the new manifest's. A crash
    /// leaves `CURRENT` naming either manifest, both whole (the old one
    /// is an orphan the next open deletes).
    ///
    /// # Errors
    ///
    /// The new manifest's or `CURRENT`'s I/O error, kept as the failure:
    /// which manifest `CURRENT` names is then unknown, so no commit
    /// follows.
    fn roll_if_due(&mut self) -> Result<(), Error> {
        if self.manifest.size() < self.roll_at {
            return Ok(());
        }
        let old = self.manifest.path().to_path_buf();
        self.failure
            .check_io()
            .map_err(io_err("roll manifest", &old))?;
        let fs = &**self.files.fs();
        let rolled = install_manifest(
            fs,
            self.files.dir(),
            self.catalog.clone(),
            &[],
            &mut self.files.numbers(),
        );
        let (catalog, manifest) = rolled.inspect_err(|e| self.failure.set_copy(e))?;
        log::debug!(
            "rolled manifest {} ({} bytes) into {} ({} bytes)",
            old.display(),
            self.manifest.size(),
            manifest.path().display(),
            manifest.size()
        );
        self.roll_at = roll_at(self.max_manifest_size, manifest.size());
        (self.catalog, self.manifest) = (catalog, manifest);
        if let Err(e) = fs.remove(&old) {
            // Not named by `CURRENT` any more: the next open deletes it.
            log::warn!(
                "rolled manifest {}: {e}; left for the next open",
                old.display()
            );
        }
        Ok(())
    }

    /// What the manifest says.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The manifest's path.
    pub fn manifest_path(&self) -> &Path {
        self.manifest.path()
    }

    /// The manifest's size in bytes.
    pub fn manifest_size(&self) -> u64 {
        self.manifest.size()
    }

    /// The version the catalog describes, keeping each table `base` holds
    /// and opening the others ([`Version::derive`]).
    ///
    /// # Errors
    ///
    /// A table the catalog adds cannot be opened, or is not the one it
    /// lists.
    pub fn version(&self, base: &Version) -> Result<Version, Error> {
        Version::derive(&self.catalog, base, |meta| {
            let path = files::table_path(self.files.dir(), meta.number);
            let table = open_table(&**self.files.fs(), &path, meta)?;
            Ok(Arc::new(TableFile::new(
                meta.clone(),
                table,
                path,
                self.retire.clone(),
            )))
        })
    }

    /// The commit of a table change: appends `edit`, with the next file
    /// number, to the manifest and syncs it (the commit point), applies it
    /// to the catalog, and returns the version it makes of `base` (the
    /// current one, which the caller holds the set to keep current): the
    /// tables it adds opened, those it removes marked obsolete (deleted
    /// once no reader holds them), every level in order. The caller
    /// installs it.
    ///
    /// # Errors
    ///
    /// The manifest's I/O error, or a committed table that cannot be
    /// opened: kept as the database's failure, after which every commit
    /// is refused. [`Error::Corruption`] if the edit contradicts the
    /// catalog (a bug), with nothing written.
    pub fn log_and_apply(
        &mut self,
        mut edit: Vec<Field>,
        base: &Version,
    ) -> Result<Version, Error> {
        self.roll_if_due()?;
        edit.push(Field::NextFileNumber(self.files.next_unused()));
        self.log(edit)?;
        let next = self.version(base).inspect_err(|e| {
            // Committed, so it cannot be taken back; its records would be
            // missing from every read and its numbers are spent: writes
            // stop rather than go on without it.
            self.failure.set_copy(e);
        })?;
        // A commit keeps the levels in order (a manifest written out of
        // order elsewhere still opens, and `Db::check` names it).
        debug_assert!(
            base.check().is_err() || next.check().is_ok(),
            "a commit put the levels out of order: {:?}",
            next.check()
        );
        for (_, file) in base.tables() {
            if !self
                .catalog
                .levels
                .iter()
                .any(|l| l.contains_key(&file.meta.number))
            {
                file.mark_obsolete();
            }
        }
        Ok(next)
    }

    /// Records `edit`, which changes no table (the synced lengths of
    /// journals), in the manifest and the catalog.
    ///
    /// # Errors
    ///
    /// As [`log_and_apply`](VersionSet::log_and_apply).
    pub fn record(&mut self, edit: Vec<Field>) -> Result<(), Error> {
        debug_assert!(edit
            .iter()
            .all(|f| !matches!(f, Field::AddFile { .. } | Field::DeleteFile { .. })));
        self.roll_if_due()?;
        self.log(edit)
    }

    /// Appends `edit` to the manifest and syncs it, then applies it to the
    /// catalog: the commit point (step 3 above).
    fn log(&mut self, edit: Vec<Field>) -> Result<(), Error> {
        let path = self.manifest.path();
        self.failure
            .check_io()
            .map_err(io_err("commit to manifest", path))?;
        let mut next = self.catalog.clone();
        next.apply(&edit).map_err(|e| Error::Corruption {
            path: self.manifest.path().to_path_buf(),
            offset: self.manifest.size(),
            reason: Reason::new(
                CorruptionKind::Manifest,
                format!("an edit to commit contradicts the catalog: {e}"),
            ),
        })?;
        if let Err(e) = self.manifest.commit(&edit) {
            // Whether the edit is durable is unknown: no commit may follow.
            let e = io_err("append to manifest", self.manifest.path())(e);
            self.failure.set_copy(&e);
            return Err(e);
        }
        self.catalog = next;
        Ok(())
    }
}

/// Writes a new manifest, numbered from `numbers`, holding `catalog` with
/// `edit` applied and the next file number, and points `CURRENT` at it;
/// returns the catalog and the open manifest. What the open and a repair
/// commit with.
///
/// # Errors
///
/// As [`VersionSet::create`].
pub fn install_manifest(
    fs: &dyn Fs,
    dir: &Path,
    mut catalog: Catalog,
    edit: &[Field],
    numbers: &mut FileNumbers,
) -> Result<(Catalog, ManifestWriter), Error> {
    let number = numbers.allocate(|n| files::manifest_path(dir, n))?;
    let tmp = numbers.allocate(|n| files::temp_path(dir, n))?;
    let path = files::manifest_path(dir, number);
    let next = Field::NextFileNumber(numbers.peek().unwrap_or(u64::MAX));
    catalog
        .apply(&[edit, &[next]].concat())
        .map_err(|e| Error::Corruption {
            path: path.clone(),
            offset: 0,
            reason: Reason::new(
                CorruptionKind::Manifest,
                format!("an edit to install contradicts the catalog: {e}"),
            ),
        })?;
    let manifest = ManifestWriter::create(fs, dir, number, &catalog)
        .map_err(io_err("write manifest", &path))?;
    files::set_current(fs, dir, number, &files::temp_path(dir, tmp))
        .map_err(io_err("install CURRENT naming", &path))?;
    Ok((catalog, manifest))
}
