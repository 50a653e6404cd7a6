//! The files of a database directory and their names.
//!
//! ```text
//! DIR/LOCK                advisory lock held while the database is open
//! DIR/CURRENT             names the live manifest: "MANIFEST-000005\n"
//! DIR/MANIFEST-000005     the manifest: which tables make up the database
//! DIR/000003.ldb          tables (LevelDB's format; .sst is read too)
//! DIR/000004.log          journals, numbered in write order
//! DIR/000006.log
//! DIR/000007.dbtmp        a file being written before it is renamed (CURRENT)
//! DIR/000006.log.repair   a journal's shortened copy while a repair writes it
//! DIR/lost/000002.log     what recovery set aside: journals after damage,
//!                         and the whole original of a journal it shortened
//! ```
//!
//! File numbers only grow, and have one owner, [`FileNumbers`]: a new file
//! takes one more than the highest number anywhere in the directory, `lost/`
//! included, so it never takes the name of a file recovery set aside. The
//! arithmetic is checked: a number with no successor is an error, never a
//! wrap to 0.
//!
//! Numbers are bounded by [`MAX_FILE_NUMBER`], far below `u64::MAX`: a
//! name with a larger number is no file of this database (a stray
//! `18446744073709551614.log` had made the next open take the last number
//! there is, after which no command could open the database), and is
//! refused, naming it, before anything changes.

use crate::error::Error;
use crate::fs::Fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The lock file's name.
pub(crate) const LOCK: &str = "LOCK";

/// The file naming the live manifest.
pub(crate) const CURRENT: &str = "CURRENT";

/// The directory, inside the database's, where recovery keeps what it set
/// aside (LevelDB's `RepairDB` uses the same name).
pub(crate) const LOST: &str = "lost";

/// The largest file number the database takes or accepts in its
/// directory: 2^53. A database creating a million files a second would
/// take 285 years to reach it, so a larger number was not made by this
/// database, and leaving the rest of the `u64` range unused means no name
/// it accepts can leave it without a next number.
pub const MAX_FILE_NUMBER: u64 = 1 << 53;

/// What a name in the database directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Name {
    /// Journal `n`: `NNNNNN.log`.
    Journal(u64),
    /// The shortened copy of journal `n` that a repair is writing:
    /// `NNNNNN.log.repair`.
    RepairCopy(u64),
    /// Table `n`: `NNNNNN.ldb`, or `NNNNNN.sst` as older LevelDB wrote.
    Table(u64),
    /// Manifest `n`: `MANIFEST-NNNNNN`.
    Manifest(u64),
    /// A temporary file `n`: `NNNNNN.dbtmp`.
    Temp(u64),
    /// Digits that look like a file number but exceed
    /// [`MAX_FILE_NUMBER`].
    NumberTooLarge,
    /// Anything else (`LOCK`, `lost`, files of other programs).
    Other,
}

/// The path of journal `number` in `dir`.
pub(crate) fn journal_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.log"))
}

/// The path of the shortened copy of journal `number` during a repair.
pub(crate) fn repair_copy_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.log.repair"))
}

/// The path of table `number` in `dir`.
pub(crate) fn table_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.ldb"))
}

/// What a manifest's name begins with: `MANIFEST-NNNNNN`.
pub(crate) const MANIFEST_PREFIX: &str = "MANIFEST-";

/// The name of manifest `number`, as `CURRENT` holds it.
pub fn manifest_name(number: u64) -> String {
    format!("{MANIFEST_PREFIX}{number:06}")
}

/// The path of manifest `number` in `dir`.
pub(crate) fn manifest_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(manifest_name(number))
}

/// The path of temporary file `number` in `dir`.
pub(crate) fn temp_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.dbtmp"))
}

/// What the file name `name` is.
pub(crate) fn classify(name: &str) -> Name {
    type Kind = fn(u64) -> Name;
    let patterns: [(&str, &str, Kind); 6] = [
        ("", ".log", Name::Journal),
        ("", ".log.repair", Name::RepairCopy),
        ("", ".ldb", Name::Table),
        ("", ".sst", Name::Table),
        ("", ".dbtmp", Name::Temp),
        (MANIFEST_PREFIX, "", Name::Manifest),
    ];
    for (prefix, suffix, kind) in patterns {
        let Some(digits) = name
            .strip_prefix(prefix)
            .and_then(|n| n.strip_suffix(suffix))
        else {
            continue;
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        return match digits.parse() {
            Ok(n) if n <= MAX_FILE_NUMBER => kind(n),
            _ => Name::NumberTooLarge,
        };
    }
    Name::Other
}

/// The journal number of a file name, if it names a journal.
#[cfg(test)]
pub(crate) fn parse_journal_name(name: &str) -> Option<u64> {
    match classify(name) {
        Name::Journal(n) => Some(n),
        _ => None,
    }
}

/// Points `CURRENT` at manifest `number`, atomically: the name is written
/// to the temporary `tmp` (a `NNNNNN.dbtmp` path) and synced, renamed over
/// `CURRENT`, and the directory fsynced (LevelDB skips that fsync; the
/// ALICE study found the bug). A crash leaves `CURRENT` naming the old
/// manifest or the new one, never neither.
pub fn set_current(fs: &dyn Fs, dir: &Path, number: u64, tmp: &Path) -> io::Result<()> {
    let result = (|| {
        let mut file = fs.create(tmp)?;
        file.write_all(format!("{}\n", manifest_name(number)).as_bytes())?;
        file.sync_data()?;
        drop(file);
        fs.rename(tmp, &dir.join(CURRENT))?;
        fs.sync_dir(dir)
    })();
    if result.is_err() && fs.exists(tmp) {
        let _ = fs.remove(tmp);
    }
    result
}

/// The manifest number `CURRENT`'s contents name, or `None` if they are
/// not exactly `MANIFEST-NNNNNN\n`.
pub fn parse_current(contents: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(contents).ok()?;
    let name = text.strip_suffix('\n')?;
    let digits = name.strip_prefix(MANIFEST_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The one owner of file numbers: every numbered file the database
/// creates takes its number from here (LevelDB's
/// `VersionSet::NewFileNumber`), so that no two files ever share one.
///
/// Created at open from what recovery found in the directory and the
/// manifest's next file number, and shared afterwards (behind a mutex in
/// `Shared`) by the write path, which numbers journals, and the background
/// thread, which numbers tables and manifests (read-only opens create no
/// file). Numbers interleave across kinds; recovery relies only on their
/// growing (see `recovery::plan`).
#[derive(Debug)]
pub(crate) struct FileNumbers {
    /// The smallest number no file has taken; `None` once `u64::MAX` is
    /// taken.
    // Invariant: greater than the number of every file in the directory
    // (journals, repair copies, `lost/`) and of every file created since.
    next: Option<u64>,
    /// The file holding the largest number so far, which the error of an
    /// exhausted counter names; `None` in an empty directory.
    holder: Option<PathBuf>,
}

impl FileNumbers {
    /// The counter of a directory whose highest file number is `highest`,
    /// held by the file at its path (`None` if the directory holds no
    /// numbered file): the next number is one more.
    ///
    /// # Errors
    ///
    /// [`Error::FileNumberExhausted`] naming the file if its number is
    /// [`MAX_FILE_NUMBER`], so that no new file could follow it.
    pub fn after(highest: Option<(u64, PathBuf)>) -> Result<FileNumbers, Error> {
        match highest {
            None => Ok(FileNumbers {
                next: Some(1),
                holder: None,
            }),
            Some((n, path)) => match n.checked_add(1).filter(|&n| n <= MAX_FILE_NUMBER) {
                Some(next) => Ok(FileNumbers {
                    next: Some(next),
                    holder: Some(path),
                }),
                None => Err(Error::FileNumberExhausted { path }),
            },
        }
    }

    /// Moves the next number up to `next` if it is below: the manifest's
    /// next file number counts files since deleted.
    pub fn at_least(&mut self, next: u64) {
        if let Some(current) = self.next {
            self.next = Some(current.max(next));
        }
    }

    /// The number [`allocate`](FileNumbers::allocate) returns next, if any
    /// is left. Takes nothing.
    pub fn peek(&self) -> Option<u64> {
        self.next
    }

    /// Takes the next number for the file `path_of(number)` names.
    ///
    /// # Errors
    ///
    /// [`Error::FileNumberExhausted`] naming the file holding
    /// [`MAX_FILE_NUMBER`], once it is taken.
    pub fn allocate(&mut self, path_of: impl FnOnce(u64) -> PathBuf) -> Result<u64, Error> {
        let Some(number) = self.next.filter(|&n| n <= MAX_FILE_NUMBER) else {
            return Err(Error::FileNumberExhausted {
                path: self.holder.clone().unwrap_or_default(),
            });
        };
        self.next = number.checked_add(1);
        self.holder = Some(path_of(number));
        Ok(number)
    }
}

/// The directory of an open database, the file system it lives on, and
/// the one counter its new files take their numbers from: what every part
/// that creates a file shares.
#[derive(Debug)]
pub(crate) struct Files {
    dir: PathBuf,
    fs: Arc<dyn Fs>,
    /// Taken for every new file, by the write path (journals) and the
    /// background lanes (tables, manifests). Its lock is the innermost:
    /// nothing else is locked while it is held.
    numbers: Mutex<FileNumbers>,
}

impl Files {
    /// The files of the database in `dir` on `fs`, numbered on from
    /// `numbers`.
    pub fn new(dir: &Path, fs: &Arc<dyn Fs>, numbers: FileNumbers) -> Files {
        Files {
            dir: dir.to_path_buf(),
            fs: Arc::clone(fs),
            numbers: Mutex::new(numbers),
        }
    }

    /// The database's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file system it lives on.
    pub fn fs(&self) -> &Arc<dyn Fs> {
        &self.fs
    }

    /// A number and path for a new table.
    ///
    /// # Errors
    ///
    /// [`Error::FileNumberExhausted`] once no number is left.
    pub fn new_table(&self) -> Result<(u64, PathBuf), Error> {
        let number = self.numbers().allocate(|n| table_path(&self.dir, n))?;
        Ok((number, table_path(&self.dir, number)))
    }

    /// A number for a new journal.
    ///
    /// # Errors
    ///
    /// [`Error::FileNumberExhausted`] once no number is left.
    pub fn new_journal(&self) -> Result<u64, Error> {
        self.numbers().allocate(|n| journal_path(&self.dir, n))
    }

    /// The number the next new file takes (the manifest's
    /// `NextFileNumber`); past the last one if none is left.
    pub fn next_unused(&self) -> u64 {
        self.numbers().peek().unwrap_or(u64::MAX)
    }

    /// The counter itself, for a step that takes several numbers at once
    /// (installing a manifest).
    pub fn numbers(&self) -> std::sync::MutexGuard<'_, FileNumbers> {
        crate::sync::lock(&self.numbers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_names_round_trip() {
        let p = journal_path(Path::new("/d"), 42);
        assert_eq!(p, Path::new("/d/000042.log"));
        assert_eq!(parse_journal_name("000042.log"), Some(42));
        assert_eq!(parse_journal_name("1234567.log"), Some(1_234_567));
        for bad in [
            "LOCK",
            ".log",
            "12a.log",
            "000001.log.dropped",
            "000001.log.repair",
            "000001.ldb",
        ] {
            assert_eq!(parse_journal_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_are_classified_with_checked_numbers() {
        assert_eq!(classify("000007.log"), Name::Journal(7));
        assert_eq!(classify("000007.log.repair"), Name::RepairCopy(7));
        assert_eq!(
            classify("9007199254740992.log"),
            Name::Journal(MAX_FILE_NUMBER)
        );
        assert_eq!(classify("9007199254740993.log"), Name::NumberTooLarge);
        assert_eq!(classify("18446744073709551614.log"), Name::NumberTooLarge);
        assert_eq!(classify("18446744073709551616.log"), Name::NumberTooLarge);
        assert_eq!(
            classify("99999999999999999999999.log"),
            Name::NumberTooLarge
        );
        assert_eq!(classify("lost"), Name::Other);
        assert_eq!(classify("LOCK"), Name::Other);
    }

    #[test]
    fn file_numbers_grow_by_one_and_never_wrap() {
        let dir = Path::new("/d");
        let journal = |n| journal_path(dir, n);
        let mut empty = FileNumbers::after(None).unwrap();
        assert_eq!(empty.allocate(journal).unwrap(), 1);
        assert_eq!(empty.allocate(journal).unwrap(), 2);

        let mut numbers = FileNumbers::after(Some((6, journal(6)))).unwrap();
        assert_eq!(numbers.peek(), Some(7));
        assert_eq!(numbers.peek(), Some(7), "peek takes nothing");
        assert_eq!(numbers.allocate(journal).unwrap(), 7);
        assert_eq!(numbers.peek(), Some(8));

        let largest = journal(MAX_FILE_NUMBER);
        assert!(matches!(
            FileNumbers::after(Some((MAX_FILE_NUMBER, largest.clone()))),
            Err(Error::FileNumberExhausted { path }) if path == largest
        ));
        // One below the largest: the last number is taken, then no more.
        let mut last =
            FileNumbers::after(Some((MAX_FILE_NUMBER - 1, journal(MAX_FILE_NUMBER - 1)))).unwrap();
        assert_eq!(last.allocate(journal).unwrap(), MAX_FILE_NUMBER);
        for _ in 0..2 {
            assert!(matches!(
                last.allocate(journal),
                Err(Error::FileNumberExhausted { ref path }) if *path == largest
            ));
        }
    }
}
