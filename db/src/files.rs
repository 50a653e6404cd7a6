//! The files of a database directory and their names.
//!
//! ```text
//! DIR/LOCK                advisory lock held while the database is open
//! DIR/000001.log          journals, numbered in write order
//! DIR/000002.log
//! DIR/000002.log.repair   a journal's shortened copy while a repair writes it
//! DIR/lost/000002.log     what recovery set aside: journals after damage,
//!                         and the whole original of a journal it shortened
//! ```
//!
//! File numbers only grow: a new journal takes one more than the highest
//! number anywhere in the directory, `lost/` included, so it never takes the
//! name of a file recovery set aside. The arithmetic is checked: a number
//! with no successor is an error, never a wrap to 0.

use crate::error::Error;
use std::path::{Path, PathBuf};

/// The lock file's name.
pub(crate) const LOCK: &str = "LOCK";

/// The file naming the live manifest.
pub(crate) const CURRENT: &str = "CURRENT";

/// The directory, inside the database's, where recovery keeps what it set
/// aside (LevelDB's `RepairDB` uses the same name).
pub(crate) const LOST: &str = "lost";

/// What a name in the database directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Name {
    /// Journal `n`: `NNNNNN.log`.
    Journal(u64),
    /// The shortened copy of journal `n` that a repair is writing:
    /// `NNNNNN.log.repair`.
    RepairCopy(u64),
    /// Digits that look like a file number but do not fit in a `u64`.
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

/// What the file name `name` is.
pub(crate) fn classify(name: &str) -> Name {
    let (digits, journal) = match (name.strip_suffix(".log"), name.strip_suffix(".log.repair")) {
        (Some(d), _) => (d, true),
        (None, Some(d)) => (d, false),
        (None, None) => return Name::Other,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Name::Other;
    }
    match digits.parse() {
        Ok(n) if journal => Name::Journal(n),
        Ok(n) => Name::RepairCopy(n),
        Err(_) => Name::NumberTooLarge,
    }
}

/// The journal number of a file name, if it names a journal.
#[cfg(test)]
pub(crate) fn parse_journal_name(name: &str) -> Option<u64> {
    match classify(name) {
        Name::Journal(n) => Some(n),
        _ => None,
    }
}

/// The number after `number`, for the file that `path` (holding `number`)
/// would be followed by.
///
/// # Errors
///
/// [`Error::FileNumberExhausted`] naming `path` if `number` is the largest.
pub(crate) fn next_number(number: u64, path: &Path) -> Result<u64, Error> {
    number
        .checked_add(1)
        .ok_or_else(|| Error::FileNumberExhausted {
            path: path.to_path_buf(),
        })
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
            classify("18446744073709551615.log"),
            Name::Journal(u64::MAX)
        );
        assert_eq!(classify("18446744073709551616.log"), Name::NumberTooLarge);
        assert_eq!(
            classify("99999999999999999999999.log"),
            Name::NumberTooLarge
        );
        assert_eq!(classify("lost"), Name::Other);
        assert_eq!(classify("LOCK"), Name::Other);
        let path = Path::new("/d/18446744073709551615.log");
        assert_eq!(next_number(6, path).unwrap(), 7);
        assert!(matches!(
            next_number(u64::MAX, path),
            Err(Error::FileNumberExhausted { path: p }) if p == path
        ));
    }
}
