//! What recovery and repair keep in `lost/`: setting files aside there and cutting
//! journals, so that nothing is destroyed and every step survives a crash.
//!
//! # How a journal is cut
//!
//! 1. Its whole original is copied into `lost/` and synced, and `lost/` is
//!    synced. Always a new copy: one left by an interrupted repair may have
//!    failed its sync, and a retried fsync proves nothing on Linux.
//! 2. Its first `len` bytes are copied to `NNNNNN.log.repair`, and synced.
//! 3. The copy is renamed over the journal, and the directory is synced.
//!
//! A crash before step 3 leaves the journal as it was (and spare copies);
//! after it, the journal is cut and its original is in `lost/`. Step 3 is
//! the only one that replaces a name, and it replaces only bytes kept in
//! step 1.
//!
//! # How a file is set aside
//!
//! It is renamed into `lost/` (under its own name, or with a `.K` suffix if
//! that is taken), and both directories are synced before the next step, so
//! that the order of the steps survives a power loss.
//!
//! A repair begins by syncing `lost/` and the database directory if `lost/`
//! exists: an earlier repair that failed a directory sync left names that
//! may not be durable, and the steps of this one must not be durable before
//! them. Nothing in `lost/` is ever opened or read.

use super::plan::Step;
use super::SetAside;
use crate::error::{io_err, Error};
use crate::files;
use crate::fs::Fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Runs `steps` in order.
///
/// # Errors
///
/// [`Error::Io`] naming the operation and file of the first step that
/// failed; the steps before it are done and durable, the ones after it are
/// not started, which the next open treats as it treated this one.
pub(crate) fn run(fs: &dyn Fs, dir: &Path, steps: &[Step]) -> Result<Vec<SetAside>, Error> {
    let mut lost = Lost::new(fs, dir);
    let mut done = Vec::with_capacity(steps.len());
    for step in steps {
        done.push(match step {
            Step::SetAside { path } => lost.set_aside(path)?,
            Step::Cut { path, number, len } => lost.cut(path, *number, *len)?,
            Step::TrimZeros { path, len } => {
                fs.trim_zeros(path, *len)
                    .map_err(io_err("trim the zeros of", path))?;
                continue;
            }
        });
    }
    Ok(done)
}

/// What [`run`] would report for `steps`, changing nothing.
pub(crate) fn preview(fs: &dyn Fs, dir: &Path, steps: &[Step]) -> Vec<SetAside> {
    let lost = Lost::new(fs, dir);
    steps
        .iter()
        .filter(|step| !matches!(step, Step::TrimZeros { .. }))
        .map(|step| match step {
            Step::SetAside { path } => SetAside {
                path: path.clone(),
                kept_as: lost.free_name(path),
                cut_to: None,
            },
            Step::Cut { path, len, .. } => SetAside {
                path: path.clone(),
                kept_as: lost.free_name(path),
                cut_to: Some(*len),
            },
            Step::TrimZeros { .. } => unreachable!("filtered out above"),
        })
        .collect()
}

/// Copies each of `paths` whole into `lost/`, synced, leaving the
/// originals: what a database repair (`Db::repair`) keeps of the files
/// it is about to replace, before its commit.
pub(crate) fn keep_copies(
    fs: &dyn Fs,
    dir: &Path,
    paths: &[PathBuf],
) -> Result<Vec<SetAside>, Error> {
    let mut lost = Lost::new(fs, dir);
    let mut kept = Vec::with_capacity(paths.len());
    for path in paths {
        lost.ensure()?;
        let kept_as = lost.free_name(path);
        copy(fs, path, &kept_as, None)?;
        kept.push(SetAside {
            path: path.clone(),
            kept_as,
            cut_to: None,
        });
    }
    if !kept.is_empty() {
        lost.sync_both()?;
    }
    Ok(kept)
}

/// Moves each of `paths` into `lost/` whole, each rename made durable
/// before the next.
pub(crate) fn set_aside(
    fs: &dyn Fs,
    dir: &Path,
    paths: &[PathBuf],
) -> Result<Vec<SetAside>, Error> {
    let mut lost = Lost::new(fs, dir);
    paths.iter().map(|p| lost.set_aside(p)).collect()
}

/// The `lost/` directory of a database.
struct Lost<'a> {
    fs: &'a dyn Fs,
    dir: &'a Path,
    path: PathBuf,
    /// Whether `lost/` exists and is synced, in this repair.
    ready: bool,
}

impl<'a> Lost<'a> {
    fn new(fs: &'a dyn Fs, dir: &'a Path) -> Lost<'a> {
        Lost {
            fs,
            dir,
            path: dir.join(files::LOST),
            ready: false,
        }
    }

    /// Creates `lost/` if it does not exist, durably; if it exists, makes
    /// what an earlier repair did there durable before anything else.
    fn ensure(&mut self) -> Result<(), Error> {
        if self.ready {
            return Ok(());
        }
        if self.fs.exists(&self.path) {
            self.sync_both()?;
        } else {
            self.fs
                .create_dir(&self.path)
                .map_err(io_err("create directory", &self.path))?;
            self.fs
                .sync_dir(self.dir)
                .map_err(io_err("sync directory", self.dir))?;
        }
        self.ready = true;
        Ok(())
    }

    /// Candidate names in `lost/` for the file `path`: its own name, then
    /// with `.1`, `.2`, ...
    fn names(&self, path: &Path) -> impl Iterator<Item = PathBuf> + '_ {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (0u64..).map(move |k| match k {
            0 => self.path.join(&name),
            k => self.path.join(format!("{name}.{k}")),
        })
    }

    /// The first name in `lost/` for `path` that is not taken.
    fn free_name(&self, path: &Path) -> PathBuf {
        self.names(path)
            .find(|p| !self.fs.exists(p))
            .expect("names run out only past u64::MAX files")
    }

    fn set_aside(&mut self, path: &Path) -> Result<SetAside, Error> {
        self.ensure()?;
        let kept_as = self.free_name(path);
        self.fs
            .rename(path, &kept_as)
            .map_err(io_err("set aside", path))?;
        self.sync_both()?;
        Ok(SetAside {
            path: path.to_path_buf(),
            kept_as,
            cut_to: None,
        })
    }

    fn cut(&mut self, path: &Path, number: u64, len: u64) -> Result<SetAside, Error> {
        self.ensure()?;
        // 1. Keep the original whole.
        let kept_as = self.free_name(path);
        copy(self.fs, path, &kept_as, None)?;
        self.fs
            .sync_dir(&self.path)
            .map_err(io_err("sync directory", &self.path))?;
        // 2. Write the shortened copy. A copy left by an interrupted repair
        // was set aside before the steps ran (see `recover`), so the name
        // is free unless something else took it since, which `create`
        // refuses.
        let shortened = files::repair_copy_path(self.dir, number);
        copy(self.fs, path, &shortened, Some(len))?;
        // 3. Put it in place.
        self.fs
            .rename(&shortened, path)
            .map_err(io_err("rename", &shortened))?;
        self.fs
            .sync_dir(self.dir)
            .map_err(io_err("sync directory", self.dir))?;
        Ok(SetAside {
            path: path.to_path_buf(),
            kept_as,
            cut_to: Some(len),
        })
    }

    fn sync_both(&self) -> Result<(), Error> {
        self.fs
            .sync_dir(&self.path)
            .map_err(io_err("sync directory", &self.path))?;
        self.fs
            .sync_dir(self.dir)
            .map_err(io_err("sync directory", self.dir))
    }
}

/// Copies `from` (its first `limit` bytes, or all of it) to the new file
/// `to`, and syncs `to`.
fn copy(fs: &dyn Fs, from: &Path, to: &Path, limit: Option<u64>) -> Result<(), Error> {
    let reader = fs.open(from).map_err(io_err("open", from))?;
    let mut file = fs.create(to).map_err(io_err("create", to))?;
    let copied = match limit {
        Some(len) => io::copy(&mut reader.take(len), &mut file),
        None => io::copy(&mut { reader }, &mut file),
    }
    .map_err(io_err("copy to", to))?;
    if limit.is_some_and(|len| len != copied) {
        return Err(Error::Io {
            op: "copy from",
            path: from.to_path_buf(),
            source: io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the file ended after {copied} bytes"),
            ),
        });
    }
    journal::SyncWrite::sync_data(&mut file).map_err(io_err("fdatasync", to))
}
