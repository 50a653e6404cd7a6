//! The files of a database directory and their names.
//!
//! ```text
//! DIR/LOCK              advisory lock held while the database is open
//! DIR/000001.log        journals, numbered in write order
//! DIR/000002.log
//! DIR/000002.log.dropped  a journal set aside by point-in-time recovery
//! ```

use std::path::{Path, PathBuf};

/// The lock file's name.
pub(crate) const LOCK: &str = "LOCK";

/// The path of journal `number` in `dir`.
pub(crate) fn journal_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.log"))
}

/// The journal number of a file name, if it names a journal.
pub(crate) fn parse_journal_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
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
            "000001.ldb",
        ] {
            assert_eq!(parse_journal_name(bad), None, "{bad}");
        }
    }
}
