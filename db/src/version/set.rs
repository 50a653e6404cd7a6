//! [`VersionSet`]: the catalog, the open manifest that records it, and the
//! commit of an edit (TABLES.md §4).
//!
//! # Commit of a flush (or compaction)
//!
//! 1. each new table is written and `fdatasync`ed (`compaction::build`);
//! 2. the directory is fsynced, so the tables' names are durable;
//! 3. the edit is appended to the manifest and `fdatasync`ed: **the commit
//!    point**;
//! 4. the catalog applies it, and the caller publishes the new version to
//!    readers;
//! 5. only then is what it made obsolete deleted.
//!
//! A crash before 3 leaves tables no manifest names: orphans, deleted at
//! the next open. After a manifest append or sync error the set refuses
//! every later commit (whether the edit is durable is unknown): the caller
//! poisons writes, and reads keep working.

use super::catalog::Catalog;
use super::current::{Retired, TableFile, Version};
use super::edit::{Field, FileMeta};
use super::manifest::{self, ManifestWriter};
use crate::error::{io_err, table_err, Error};
use crate::files::{self, FileNumbers};
use crate::fs::Fs;
use crate::table::Table;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::Arc;

/// The catalog and the manifest recording it.
#[derive(Debug)]
pub struct VersionSet {
    /// What the manifest says.
    pub catalog: Catalog,
    manifest: ManifestWriter,
    /// The error of a failed commit: every later one refuses with it.
    failed: Option<String>,
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
        reason,
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
    let replayed = manifest::replay(&bytes).map_err(|e| Error::Corruption {
        path: path.clone(),
        offset: match &e {
            manifest::ManifestError::Damaged { offset, .. }
            | manifest::ManifestError::BadRecord { offset, .. }
            | manifest::ManifestError::Inconsistent { offset, .. } => *offset,
            _ => 0,
        },
        reason: format!("manifest {e}"),
    })?;
    Ok(Loaded {
        path,
        number,
        catalog: replayed.catalog,
        good_len: replayed.good_len,
        torn: replayed.torn,
    })
}

fn read_all(fs: &dyn Fs, path: &Path) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    fs.open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(io_err("read", path))?;
    Ok(bytes)
}

/// The tables of `catalog` in `dir`, each checked to exist with the size
/// the manifest gives, to be opened on first use (`version::current`).
///
/// # Errors
///
/// [`Error::Corruption`] naming the first table that is missing or of
/// another size.
pub fn open_tables(
    fs: &Arc<dyn Fs>,
    dir: &Path,
    catalog: &Catalog,
    retire: Option<&Sender<Retired>>,
) -> Result<Version, Error> {
    let mut version = Version {
        max_seq: catalog.last_seq,
        ..Version::default()
    };
    for (level, meta) in catalog.tables() {
        let path = files::table_path(dir, meta.number);
        check_present(&**fs, &path, meta.size)?;
        version.levels[level].push(Arc::new(TableFile::unopened(
            meta.clone(),
            path,
            Arc::clone(fs),
            retire.cloned(),
        )));
    }
    sort_levels(&mut version);
    Ok(version)
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
    check_present(fs, path, meta.size)?;
    let bytes = fs.map(path).map_err(io_err("map", path))?;
    let table = Table::open_boxed(bytes).map_err(table_err(path))?;
    let not_listed = |reason: String| Error::Corruption {
        path: path.to_path_buf(),
        offset: 0,
        reason: format!("{reason}: not the table the manifest lists"),
    };
    let props = table.properties();
    if let Some(number) = props.number.filter(|&n| n != meta.number) {
        return Err(not_listed(format!(
            "it records itself as table {number}, where the manifest lists {}",
            meta.number
        )));
    }
    if let Some(entries) = props.entries.filter(|&n| n != meta.entries) {
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
fn check_present(fs: &dyn Fs, path: &Path, size: u64) -> Result<(), Error> {
    let corrupt = |offset: u64, reason: String| Error::Corruption {
        path: path.to_path_buf(),
        offset,
        reason,
    };
    let meta = match fs.stat(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(corrupt(
                0,
                "a table the manifest lists is missing".to_owned(),
            ))
        }
        Err(e) => return Err(io_err("stat", path)(e)),
    };
    if meta.len != size {
        return Err(corrupt(
            meta.len.min(size),
            format!("table is {} bytes where the manifest says {size}", meta.len),
        ));
    }
    Ok(())
}

/// Puts level 0 newest first (by file number: a newer flush takes a larger
/// one) and every other level in key order.
pub fn sort_levels(version: &mut Version) {
    version.levels[0].sort_by_key(|t| std::cmp::Reverse(t.meta.number));
    for level in &mut version.levels[1..] {
        level.sort_by(|a, b| batch::key::compare(&a.meta.smallest, &b.meta.smallest));
    }
}

impl VersionSet {
    /// Writes a new manifest holding `catalog` with `edit` applied (and the
    /// next file number recorded) and points `CURRENT` at it (TABLES.md §4,
    /// steps 1-4): pointing it is the commit of `edit`. The caller deletes
    /// the old manifest afterwards.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] if `edit` contradicts `catalog` (a bug), with
    /// nothing written; the I/O error of the manifest or of `CURRENT`.
    pub fn install(
        fs: &dyn Fs,
        dir: &Path,
        mut catalog: Catalog,
        edit: &[Field],
        numbers: &mut FileNumbers,
    ) -> Result<VersionSet, Error> {
        let number = numbers.allocate(|n| files::manifest_path(dir, n))?;
        let tmp = numbers.allocate(|n| files::temp_path(dir, n))?;
        let path = files::manifest_path(dir, number);
        let next = Field::NextFileNumber(numbers.peek().unwrap_or(u64::MAX));
        catalog
            .apply(&[edit, &[next]].concat())
            .map_err(|e| Error::Corruption {
                path: path.clone(),
                offset: 0,
                reason: format!("an edit to install contradicts the catalog: {e}"),
            })?;
        let manifest = ManifestWriter::create(fs, dir, number, &catalog)
            .map_err(io_err("write manifest", &path))?;
        manifest::set_current(fs, dir, number, &files::temp_path(dir, tmp))
            .map_err(io_err("install CURRENT naming", &path))?;
        Ok(VersionSet {
            catalog,
            manifest,
            failed: None,
        })
    }

    /// The manifest's path.
    pub fn manifest_path(&self) -> &Path {
        self.manifest.path()
    }

    /// The manifest's size in bytes.
    pub fn manifest_size(&self) -> u64 {
        self.manifest.size()
    }

    /// Appends `edit` to the manifest and syncs it, then applies it to the
    /// catalog: the commit point (step 3 above).
    ///
    /// # Errors
    ///
    /// The manifest's I/O error; from then on every commit fails with it.
    /// [`Error::Corruption`] if the edit contradicts the catalog (a bug),
    /// with nothing written.
    pub fn commit(&mut self, edit: Vec<Field>) -> Result<(), Error> {
        if let Some(failed) = &self.failed {
            return Err(Error::Io {
                op: "commit to manifest",
                path: self.manifest.path().to_path_buf(),
                source: std::io::Error::other(format!(
                    "refused after an earlier failure: {failed}"
                )),
            });
        }
        let mut next = self.catalog.clone();
        next.apply(&edit).map_err(|e| Error::Corruption {
            path: self.manifest.path().to_path_buf(),
            offset: self.manifest.size(),
            reason: format!("an edit to commit contradicts the catalog: {e}"),
        })?;
        if let Err(e) = self.manifest.commit(&edit) {
            log::error!(
                "manifest {} write failed: {e}; refusing writes until reopened",
                self.manifest.path().display()
            );
            self.failed = Some(e.to_string());
            return Err(io_err("append to manifest", self.manifest.path())(e));
        }
        self.catalog = next;
        Ok(())
    }

    /// The error that stopped commits, if one did.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }
}
