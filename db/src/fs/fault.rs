//! [`FaultFs`]: an in-memory [`Fs`] for crash and fault tests, which
//! remembers what was synced, forgets the rest in a crash, and fails chosen
//! operations.
//!
//! Test machinery, not for production: built only with the `tributary`
//! feature `fault-injection`, which the package's own tests turn on.

use super::{FileKind, FileLock, Fs, LockMode, MappedFile, Metadata, WritableFile};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// How [`FaultFs::crash`] decides what survives of what was not synced.
///
/// In every mode, directory entries (creates, renames, removes) survive only
/// if their directory was synced after them. A rename between two
/// directories is one atomic change, as ext4, XFS and btrfs journal it:
/// once either directory is synced, the file is durably under its new name
/// and no longer under its old one. Directories themselves always survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// Only synced bytes survive (LevelDB's and RocksDB's `DropUnsynced`).
    SyncedOnly,
    /// Each unsynced 4 KiB block survives with the given percentage; a lost
    /// block reads as it was at the last sync, or as zeros past the synced
    /// end (Pebble's crash tests). The seed picks the blocks.
    RandomBlocks {
        /// Chance, in percent, that an unsynced block survives.
        keep_percent: u8,
        /// Seed of the choice.
        seed: u64,
    },
    /// All unsynced bytes survive except the last write to each file, which
    /// is cut at a seeded random point: the rest of it is lost (the file
    /// ends at the cut if the write appended, else the old bytes stay), or
    /// replaced with garbage.
    TornAppend {
        /// Seed of the cut point and the garbage.
        seed: u64,
    },
    /// Every byte written survives, but unsynced directory entries do not.
    UnsyncedNames,
}

/// An operation that [`FaultFs`] can fail on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOp {
    /// Writes to files.
    Write,
    /// File syncs.
    Sync,
    /// Creating a file.
    Create,
    /// Directory syncs.
    SyncDir,
    /// Renames and removes.
    Rename,
    /// Any of the above.
    Any,
}

/// The error a fault returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// `EIO`.
    Eio,
    /// `ENOSPC`, the disk is full.
    NoSpace,
    /// A write stores half its bytes, then fails with `ENOSPC`.
    ShortWrite,
}

/// A fault to inject: the `nth` (1-based) operation matching `op` fails with
/// `kind`, and with `persistent` every later one too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// The operations that count.
    pub op: FaultOp,
    /// Which matching operation fails first, counting from 1.
    pub nth: u64,
    /// Whether every matching operation after the `nth` fails too.
    pub persistent: bool,
    /// The error returned.
    pub kind: FaultKind,
}

/// An in-memory file system that remembers what was synced, can forget the
/// rest in a [`crash`](FaultFs::crash), and can fail chosen operations.
///
/// Clones share the same files. Files are append-only, as the database
/// writes them.
#[derive(Clone, Default)]
pub struct FaultFs {
    state: Arc<Mutex<MemState>>,
}

#[derive(Clone, Default)]
struct MemState {
    /// Live file contents, by inode.
    inodes: BTreeMap<u64, Inode>,
    /// Live names.
    names: BTreeMap<PathBuf, u64>,
    /// Names as of the last sync of their directory.
    durable_names: BTreeMap<PathBuf, u64>,
    dirs: HashSet<PathBuf>,
    next_inode: u64,
    /// Locks held, by path: `None` for a write lock, `Some(n)` for `n`
    /// read locks.
    locks: BTreeMap<PathBuf, Option<usize>>,
    fault: Option<Fault>,
    /// Creating a file whose name ends with this fails (see
    /// [`FaultFs::refuse_creating`]).
    refused_suffix: Option<String>,
    /// The fault counts only operations on paths whose file name contains
    /// this (see [`FaultFs::set_fault_on`]).
    fault_filter: Option<String>,
    /// Matching operations seen since the fault was set.
    fault_seen: u64,
    /// Operations failed by a fault so far.
    injected: u64,
    /// Mutations (writes, syncs, creates, renames, removes, truncates and
    /// directory syncs) so far.
    mutations: u64,
    /// Every mutation applied, in order, when recording.
    history: Option<Vec<Mutation>>,
}

/// One change to a [`FaultFs`]: a crash point of a run.
///
/// A recording file system keeps its mutations in order; applying a prefix of
/// them to a fresh `FaultFs` rebuilds the state at that point, which is how
/// crash tests visit every crash point of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// A file was created empty, as inode `ino`.
    Create {
        /// Its path.
        path: PathBuf,
        /// Its inode.
        ino: u64,
    },
    /// Bytes were written to inode `ino` at offset `at`, over what was there
    /// and past its end.
    Write {
        /// The inode.
        ino: u64,
        /// Where the bytes start; at most the inode's length.
        at: usize,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Inode `ino` was synced.
    Sync {
        /// The inode.
        ino: u64,
    },
    /// A name moved.
    Rename {
        /// The old name.
        from: PathBuf,
        /// The new name.
        to: PathBuf,
    },
    /// A name was removed.
    Remove {
        /// The name.
        path: PathBuf,
    },
    /// Inode `ino`, zeros from `len` on, was cut to `len` bytes and synced.
    TrimZeros {
        /// The inode.
        ino: u64,
        /// Its new length.
        len: usize,
    },
    /// A directory was created.
    CreateDir {
        /// Its path.
        dir: PathBuf,
    },
    /// A directory's entries were made durable.
    SyncDir {
        /// The directory.
        dir: PathBuf,
    },
}

#[derive(Clone, Default)]
struct Inode {
    /// What reads see.
    data: Vec<u8>,
    /// What was there at the last sync: what survives a power loss.
    durable: Vec<u8>,
    /// Where the last write began and ended, for [`CrashMode::TornAppend`].
    last_write_start: usize,
    last_write_end: usize,
}

impl Inode {
    /// Length of the prefix of `data` that is durable as it is.
    fn synced_prefix(&self) -> usize {
        self.data
            .iter()
            .zip(&self.durable)
            .take_while(|(a, b)| a == b)
            .count()
    }
}

impl fmt::Debug for FaultFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock_state();
        f.debug_struct("FaultFs")
            .field("files", &state.names.keys().collect::<Vec<_>>())
            .field("mutations", &state.mutations)
            .finish()
    }
}

impl FaultFs {
    /// An empty file system.
    pub fn new() -> FaultFs {
        FaultFs::default()
    }

    fn lock_state(&self) -> MutexGuard<'_, MemState> {
        // A panic while holding this lock can only come from a bug in this
        // module; the state is still usable for the report that follows.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the fault to inject, replacing any earlier one, and restarts its
    /// count.
    pub fn set_fault(&self, fault: Option<Fault>) {
        let mut state = self.lock_state();
        state.fault = fault;
        state.fault_seen = 0;
        state.fault_filter = None;
    }

    /// Sets `fault` for operations on files whose name contains
    /// `name_contains` only (`".ldb"`: tables; `"MANIFEST"`: manifests;
    /// `".dbtmp"`: the rename that installs `CURRENT`); the N-th is counted
    /// among those. Directory syncs never match.
    pub fn set_fault_on(&self, fault: Fault, name_contains: &str) {
        let mut state = self.lock_state();
        state.fault = Some(fault);
        state.fault_seen = 0;
        state.fault_filter = Some(name_contains.to_owned());
    }

    /// Makes every create of a file whose name ends with `suffix` fail
    /// with `EIO` (`None` lifts it), as a disk could refuse one kind of
    /// file: with `".ldb"`, flushes fail and retry, so journals pile up as
    /// they did before tables existed. Not counted as an injected fault.
    pub fn refuse_creating(&self, suffix: Option<&str>) {
        self.lock_state().refused_suffix = suffix.map(str::to_owned);
    }

    /// An empty file system that keeps every mutation, for
    /// [`history`](FaultFs::history).
    pub fn recording() -> FaultFs {
        let fs = FaultFs::new();
        fs.lock_state().history = Some(Vec::new());
        fs
    }

    /// The mutations so far, in order, if this file system records.
    pub fn history(&self) -> Vec<Mutation> {
        self.lock_state().history.clone().unwrap_or_default()
    }

    /// Applies one mutation, as if the database had done it (no fault
    /// applies). Replaying a prefix of a recorded [`history`](FaultFs::history)
    /// onto a new `FaultFs` with the same directories rebuilds that crash
    /// point.
    pub fn apply(&self, m: &Mutation) {
        self.lock_state().apply(m.clone());
    }

    /// Operations a fault has failed so far.
    pub fn faults_injected(&self) -> u64 {
        self.lock_state().injected
    }

    /// Mutations done so far: the crash points of a run.
    pub fn mutations(&self) -> u64 {
        self.lock_state().mutations
    }

    /// An independent copy of the current files, as they are now.
    pub fn snapshot(&self) -> FaultFs {
        let mut state = self.lock_state().clone();
        state.locks.clear();
        state.fault = None;
        state.history = None;
        FaultFs {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// An independent copy of the current files that records every mutation
    /// from now on: applying a prefix of its [`history`](FaultFs::history)
    /// to another [`snapshot`](FaultFs::snapshot) of this file system
    /// rebuilds that crash point.
    pub fn snapshot_recording(&self) -> FaultFs {
        let copy = self.snapshot();
        copy.lock_state().history = Some(Vec::new());
        copy
    }

    /// Cuts `path` to `len` bytes, durably, as damage from outside the
    /// database would (the database itself never truncates). Returns false
    /// if there is no such file.
    pub fn set_len(&self, path: &Path, len: usize) -> bool {
        let mut state = self.lock_state();
        let Some(&ino) = state.names.get(path) else {
            return false;
        };
        let Some(inode) = state.inodes.get_mut(&ino) else {
            return false;
        };
        inode.data.resize(len, 0);
        inode.durable.clone_from(&inode.data);
        inode.last_write_start = len;
        inode.last_write_end = len;
        true
    }

    /// Gives the file `from` a second name `to`, durably, as `ln` would.
    /// Returns false if there is no such file.
    pub fn link(&self, from: &Path, to: &Path) -> bool {
        let mut state = self.lock_state();
        let Some(&ino) = state.names.get(from) else {
            return false;
        };
        state.names.insert(to.to_path_buf(), ino);
        state.durable_names.insert(to.to_path_buf(), ino);
        true
    }

    /// Every file under `dir`, its subdirectories included, with its
    /// contents, by path.
    pub fn files_under(&self, dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        let state = self.lock_state();
        state
            .names
            .iter()
            .filter(|(p, _)| p.starts_with(dir))
            .map(|(p, ino)| {
                let data = state.inodes.get(ino).map(|i| i.data.clone());
                (p.clone(), data.unwrap_or_default())
            })
            .collect()
    }

    /// The file system a machine would find after losing power now: a new,
    /// independent `FaultFs` with no locks held and no fault set.
    pub fn crash(&self, mode: CrashMode) -> FaultFs {
        let state = self.lock_state();
        let mut rng = match mode {
            CrashMode::RandomBlocks { seed, .. } | CrashMode::TornAppend { seed } => seed,
            _ => 0,
        };
        let mut inodes = BTreeMap::new();
        for ino in state.durable_names.values() {
            let Some(inode) = state.inodes.get(ino) else {
                continue;
            };
            let mut data = inode.data.clone();
            let synced = inode.synced_prefix();
            match mode {
                CrashMode::SyncedOnly => data.clone_from(&inode.durable),
                CrashMode::RandomBlocks { keep_percent, .. } => {
                    let mut block_start = synced - synced % 4096;
                    while block_start < data.len() {
                        let end = (block_start + 4096).min(data.len());
                        if splitmix64(&mut rng) % 100 >= u64::from(keep_percent) {
                            // Lost: the block reads as it was at the last
                            // sync, or as zeros past the durable end.
                            let from = block_start.max(synced);
                            for (i, byte) in data[from..end].iter_mut().enumerate() {
                                *byte = inode.durable.get(from + i).copied().unwrap_or(0);
                            }
                        }
                        block_start = end;
                    }
                }
                CrashMode::TornAppend { .. } => {
                    let start = inode.last_write_start.max(synced);
                    let end = inode.last_write_end.min(data.len());
                    if start < end {
                        let cut = start + (splitmix64(&mut rng) as usize) % (end - start);
                        if splitmix64(&mut rng).is_multiple_of(2) {
                            if end == data.len() && cut >= inode.durable.len() {
                                // An append: the file ends at the cut.
                                data.truncate(cut);
                            } else {
                                // An overwrite: the old bytes stay.
                                for (i, byte) in data[cut..end].iter_mut().enumerate() {
                                    *byte = inode.durable.get(cut + i).copied().unwrap_or(0);
                                }
                            }
                        } else {
                            for byte in &mut data[cut..end] {
                                *byte = splitmix64(&mut rng) as u8;
                            }
                        }
                    }
                }
                CrashMode::UnsyncedNames => {}
            }
            let len = data.len();
            inodes.insert(
                *ino,
                Inode {
                    durable: data.clone(),
                    data,
                    last_write_start: len,
                    last_write_end: len,
                },
            );
        }
        let new_state = MemState {
            inodes,
            names: state.durable_names.clone(),
            durable_names: state.durable_names.clone(),
            dirs: state.dirs.clone(),
            next_inode: state.next_inode,
            locks: BTreeMap::new(),
            fault: None,
            refused_suffix: None,
            fault_filter: None,
            fault_seen: 0,
            injected: 0,
            mutations: 0,
            history: None,
        };
        FaultFs {
            state: Arc::new(Mutex::new(new_state)),
        }
    }

    /// The live contents of `path`, if it exists.
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let state = self.lock_state();
        let ino = state.names.get(path)?;
        state.inodes.get(ino).map(|i| i.data.clone())
    }

    /// Overwrites byte `offset` of `path` with `f(old)`, as media damage
    /// would. Returns false if there is no such byte.
    pub fn corrupt_byte(&self, path: &Path, offset: usize, f: impl FnOnce(u8) -> u8) -> bool {
        let mut state = self.lock_state();
        let Some(&ino) = state.names.get(path) else {
            return false;
        };
        match state
            .inodes
            .get_mut(&ino)
            .and_then(|i| i.data.get_mut(offset))
        {
            Some(byte) => {
                *byte = f(*byte);
                true
            }
            None => false,
        }
    }
}

impl MemState {
    /// Applies one mutation, recording it if this file system records.
    fn apply(&mut self, m: Mutation) {
        match &m {
            Mutation::Create { path, ino } => {
                if let Some(parent) = path.parent() {
                    self.dirs.insert(parent.to_path_buf());
                }
                self.inodes.insert(*ino, Inode::default());
                self.names.insert(path.clone(), *ino);
                self.next_inode = self.next_inode.max(ino + 1);
            }
            Mutation::Write { ino, at, bytes } => {
                if let Some(inode) = self.inodes.get_mut(ino) {
                    let at = (*at).min(inode.data.len());
                    let end = at + bytes.len();
                    if inode.data.len() < end {
                        inode.data.resize(end, 0);
                    }
                    inode.data[at..end].copy_from_slice(bytes);
                    inode.last_write_start = at;
                    inode.last_write_end = end;
                }
            }
            Mutation::Sync { ino } => {
                if let Some(inode) = self.inodes.get_mut(ino) {
                    inode.durable.clone_from(&inode.data);
                }
            }
            Mutation::TrimZeros { ino, len } => {
                if let Some(inode) = self.inodes.get_mut(ino) {
                    inode.data.truncate(*len);
                    inode.durable.clone_from(&inode.data);
                    inode.last_write_start = inode.data.len();
                    inode.last_write_end = inode.data.len();
                }
            }
            Mutation::CreateDir { dir } => {
                self.dirs.insert(dir.clone());
            }
            Mutation::Rename { from, to } => {
                if let Some(ino) = self.names.remove(from) {
                    self.names.insert(to.clone(), ino);
                }
            }
            Mutation::Remove { path } => {
                self.names.remove(path);
            }
            Mutation::SyncDir { dir } => {
                let in_dir = |p: &PathBuf| p.parent() == Some(dir.as_path());
                // Names leaving this directory by a rename arrive, durably,
                // wherever they went.
                let left: HashSet<u64> = self
                    .durable_names
                    .iter()
                    .filter(|(p, i)| in_dir(p) && self.names.get(*p) != Some(i))
                    .map(|(_, i)| *i)
                    .collect();
                let arrived: Vec<(PathBuf, u64)> = self
                    .names
                    .iter()
                    .filter(|(p, i)| !in_dir(p) && left.contains(i))
                    .map(|(p, i)| (p.clone(), *i))
                    .collect();
                self.durable_names.extend(arrived);
                self.durable_names.retain(|p, _| !in_dir(p));
                let live: Vec<(PathBuf, u64)> = self
                    .names
                    .iter()
                    .filter(|(p, _)| in_dir(p))
                    .map(|(p, i)| (p.clone(), *i))
                    .collect();
                // A rename is atomic, across directories too: once its new
                // name is durable, its old name in another directory is
                // gone, whether or not that directory was synced.
                let moved: HashSet<u64> = live.iter().map(|(_, i)| *i).collect();
                let names = &self.names;
                self.durable_names
                    .retain(|p, i| !moved.contains(i) || names.get(p) == Some(i));
                self.durable_names.extend(live);
                self.dirs.insert(dir.clone());
            }
        }
        if let Some(history) = &mut self.history {
            history.push(m);
        }
    }

    /// Counts a mutation and decides whether it fails.
    fn check(&mut self, op: FaultOp) -> Result<(), FaultKind> {
        self.check_at(op, None)
    }

    /// [`check`](MemState::check) for an operation on `path` (`None` for
    /// one on no file, a directory sync).
    fn check_at(&mut self, op: FaultOp, path: Option<&Path>) -> Result<(), FaultKind> {
        self.mutations += 1;
        let Some(fault) = self.fault else {
            return Ok(());
        };
        if fault.op != FaultOp::Any && fault.op != op {
            return Ok(());
        }
        if let Some(filter) = &self.fault_filter {
            let name = path.and_then(Path::file_name).map(|n| n.to_string_lossy());
            if !name.is_some_and(|n| n.contains(filter.as_str())) {
                return Ok(());
            }
        }
        self.fault_seen += 1;
        let fails =
            self.fault_seen == fault.nth || (fault.persistent && self.fault_seen > fault.nth);
        if fails {
            self.injected += 1;
            Err(fault.kind)
        } else {
            Ok(())
        }
    }

    fn ino(&self, path: &Path) -> io::Result<u64> {
        self.names.get(path).copied().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no such file", path.display()),
            )
        })
    }
}

fn fault_error(kind: FaultKind) -> io::Error {
    match kind {
        FaultKind::Eio => io::Error::other("injected EIO"),
        FaultKind::NoSpace | FaultKind::ShortWrite => {
            io::Error::new(io::ErrorKind::StorageFull, "injected ENOSPC")
        }
    }
}

/// A file of a [`FaultFs`], open for appending.
struct FaultFile {
    fs: FaultFs,
    ino: u64,
    /// The name it was created under, for path-filtered faults.
    path: PathBuf,
    /// Where the next write goes.
    pos: usize,
}

impl Write for FaultFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut state = self.fs.lock_state();
        let stored = match state.check_at(FaultOp::Write, Some(&self.path)) {
            Ok(()) => buf.len(),
            Err(FaultKind::ShortWrite) if buf.len() > 1 => buf.len() / 2,
            Err(kind) => return Err(fault_error(kind)),
        };
        state.apply(Mutation::Write {
            ino: self.ino,
            at: self.pos,
            bytes: buf[..stored].to_vec(),
        });
        self.pos += stored;
        if stored < buf.len() {
            return Err(fault_error(FaultKind::ShortWrite));
        }
        Ok(stored)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl journal::SyncWrite for FaultFile {
    fn sync_data(&mut self) -> io::Result<()> {
        fault_sync(&self.fs, self.ino, &self.path)
    }

    fn sync_handle(&self) -> Option<Arc<dyn journal::SyncHandle>> {
        Some(Arc::new(FaultSync {
            fs: self.fs.clone(),
            ino: self.ino,
            path: self.path.clone(),
        }))
    }
}

/// A [`FaultFile`]'s fsync from another thread: it makes durable what
/// the file holds when it runs, faults as the file's own.
struct FaultSync {
    fs: FaultFs,
    ino: u64,
    path: PathBuf,
}

impl journal::SyncHandle for FaultSync {
    fn sync_data(&self) -> io::Result<()> {
        fault_sync(&self.fs, self.ino, &self.path)
    }
}

/// An fsync of file `ino` (created as `path`) of `fs`, or its fault.
fn fault_sync(fs: &FaultFs, ino: u64, path: &Path) -> io::Result<()> {
    let mut state = fs.lock_state();
    state
        .check_at(FaultOp::Sync, Some(path))
        .map_err(fault_error)?;
    state.apply(Mutation::Sync { ino });
    Ok(())
}

#[derive(Debug)]
struct FaultLock {
    fs: FaultFs,
    path: PathBuf,
}

impl FileLock for FaultLock {}

impl Drop for FaultLock {
    fn drop(&mut self) {
        let mut state = self.fs.lock_state();
        match state.locks.get(&self.path) {
            Some(Some(n)) if *n > 1 => {
                let n = n - 1;
                state.locks.insert(self.path.clone(), Some(n));
            }
            _ => {
                state.locks.remove(&self.path);
            }
        }
    }
}

impl Fs for FaultFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.lock_state();
        for d in dir.ancestors() {
            state.dirs.insert(d.to_path_buf());
        }
        Ok(())
    }

    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.lock_state();
        state
            .check_at(FaultOp::Create, Some(dir))
            .map_err(fault_error)?;
        if state.dirs.contains(dir) || state.names.contains_key(dir) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{}: exists", dir.display()),
            ));
        }
        state.apply(Mutation::CreateDir {
            dir: dir.to_path_buf(),
        });
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let state = self.lock_state();
        if !state.dirs.contains(dir) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no such directory", dir.display()),
            ));
        }
        let files = state.names.keys();
        let subdirs = state.dirs.iter();
        let mut names: Vec<String> = files
            .chain(subdirs)
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        names.sort();
        Ok(names)
    }

    fn stat(&self, path: &Path) -> io::Result<Metadata> {
        let state = self.lock_state();
        if state.dirs.contains(path) {
            return Ok(Metadata {
                kind: FileKind::Dir,
                len: 0,
                links: 1,
            });
        }
        let ino = state.ino(path)?;
        Ok(Metadata {
            kind: FileKind::File,
            len: state.inodes.get(&ino).map_or(0, |i| i.data.len() as u64),
            links: state.names.values().filter(|&&i| i == ino).count() as u64,
        })
    }

    fn exists(&self, path: &Path) -> bool {
        let state = self.lock_state();
        state.names.contains_key(path) || state.dirs.contains(path)
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let mut state = self.lock_state();
        state
            .check_at(FaultOp::Create, Some(path))
            .map_err(fault_error)?;
        if let Some(suffix) = &state.refused_suffix {
            if path.to_string_lossy().ends_with(suffix.as_str()) {
                return Err(io::Error::other(format!(
                    "{}: creating refused",
                    path.display()
                )));
            }
        }
        if state.names.contains_key(path) || state.dirs.contains(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{}: exists", path.display()),
            ));
        }
        let ino = state.next_inode;
        state.apply(Mutation::Create {
            path: path.to_path_buf(),
            ino,
        });
        Ok(Box::new(FaultFile {
            fs: self.clone(),
            ino,
            path: path.to_path_buf(),
            pos: 0,
        }))
    }

    fn create_zeroed(&self, path: &Path, len: u64) -> io::Result<Box<dyn WritableFile>> {
        let mut file = self.create(path)?;
        let filled = file
            .write_all(&vec![0; len as usize])
            .and_then(|()| file.sync_data());
        if let Err(e) = filled {
            drop(file);
            let _ = self.remove(path);
            return Err(e);
        }
        // Reopened at the start, as a seek would.
        let ino = self.lock_state().ino(path)?;
        Ok(Box::new(FaultFile {
            fs: self.clone(),
            ino,
            path: path.to_path_buf(),
            pos: 0,
        }))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        let state = self.lock_state();
        let ino = state.ino(path)?;
        let data = state
            .inodes
            .get(&ino)
            .map(|i| i.data.clone())
            .unwrap_or_default();
        Ok(Box::new(io::Cursor::new(data)))
    }

    fn map(&self, path: &Path) -> io::Result<MappedFile> {
        let state = self.lock_state();
        let ino = state.ino(path)?;
        let data = state
            .inodes
            .get(&ino)
            .map(|i| i.data.clone())
            .unwrap_or_default();
        Ok(Box::new(data))
    }

    fn trim_zeros(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut state = self.lock_state();
        state
            .check_at(FaultOp::Write, Some(path))
            .map_err(fault_error)?;
        let ino = state.ino(path)?;
        let len = len as usize;
        let data = state.inodes.get(&ino).map(|i| &i.data[..]).unwrap_or(&[]);
        if data
            .get(len..)
            .is_none_or(|tail| tail.iter().any(|&b| b != 0))
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not only zeros from offset {len}"),
            ));
        }
        state.apply(Mutation::TrimZeros { ino, len });
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = self.lock_state();
        let matched = state.fault_filter.as_ref().is_some_and(|f| {
            to.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(f.as_str()))
        });
        state
            .check_at(FaultOp::Rename, Some(if matched { to } else { from }))
            .map_err(fault_error)?;
        state.ino(from)?;
        state.apply(Mutation::Rename {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
        });
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut state = self.lock_state();
        state
            .check_at(FaultOp::Rename, Some(path))
            .map_err(fault_error)?;
        state.ino(path)?;
        state.apply(Mutation::Remove {
            path: path.to_path_buf(),
        });
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.lock_state();
        state.check(FaultOp::SyncDir).map_err(fault_error)?;
        state.apply(Mutation::SyncDir {
            dir: dir.to_path_buf(),
        });
        Ok(())
    }

    fn lock(&self, path: &Path, mode: LockMode) -> io::Result<Box<dyn FileLock>> {
        let mut state = self.lock_state();
        if !state.names.contains_key(path) {
            if mode == LockMode::Read {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{}: no such file", path.display()),
                ));
            }
            // As `open(O_CREAT)` would: a mutation like any other, but one
            // no fault is set on.
            let ino = state.next_inode;
            state.mutations += 1;
            state.apply(Mutation::Create {
                path: path.to_path_buf(),
                ino,
            });
        }
        let held = state.locks.get(path).copied();
        let next = match (mode, held) {
            (LockMode::Write, None) => None,
            (LockMode::Read, None) => Some(1),
            (LockMode::Read, Some(Some(n))) => Some(n + 1),
            (_, Some(_)) => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "held by another open database",
                ))
            }
        };
        state.locks.insert(path.to_path_buf(), next);
        Ok(Box::new(FaultLock {
            fs: self.clone(),
            path: path.to_path_buf(),
        }))
    }
}

/// The splitmix64 generator: small, seeded, and good enough for choosing
/// crash damage.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
