//! [`Failure`]: the one sticky failure of an open database (LevelDB's
//! `bg_error_`).
//!
//! The first error after which the state of the files is in doubt is kept
//! here, typed: a journal write or sync (the write path's own, or a closed
//! journal's), a failed rotation, a manifest append, a committed table
//! that cannot be opened, a level 0 no compaction can drain. From then on
//! the write path refuses every write with it, the background lanes stop
//! committing, and no fsync is retried; reads go on. Only a reopen clears
//! it: recovery then decides from the files alone.
//!
//! The first error wins: what follows it is usually its consequence.

use crate::error::Error;
use std::sync::{Arc, OnceLock};
use std::{fmt, io};

/// The error that stopped writes, once one did.
#[derive(Debug, Default)]
pub(crate) struct Failure {
    first: OnceLock<Arc<Error>>,
}

impl Failure {
    /// Keeps `error` as the failure, unless one is kept already; returns
    /// the one kept.
    pub fn set(&self, error: Error) -> &Arc<Error> {
        let mut fresh = Some(error);
        let kept = self
            .first
            .get_or_init(|| Arc::new(fresh.take().expect("taken once")));
        if fresh.is_none() {
            log::error!("{kept}; refusing writes until reopened");
        }
        kept
    }

    /// Keeps a copy of `error`, which the caller goes on to return (an
    /// I/O error's copy keeps its kind, OS code and message: `Error`'s
    /// `Clone`).
    pub fn set_copy(&self, error: &Error) {
        self.set(error.clone());
    }

    /// The failure, if one happened.
    pub fn get(&self) -> Option<&Arc<Error>> {
        self.first.get()
    }

    /// Whether writes are stopped.
    pub fn is_set(&self) -> bool {
        self.first.get().is_some()
    }

    /// The failure as an error of a step that works in `io::Error`s (a
    /// journal sync, a rotation): its kind, and what it was. `Ok` if none.
    pub fn check_io(&self) -> io::Result<()> {
        match self.get() {
            None => Ok(()),
            Some(e) => Err(io::Error::new(
                root_io_kind(e),
                format!("refused after an earlier failure: {e}"),
            )),
        }
    }

    /// The failure as the source of a refused write: its message, with
    /// the original error's causes behind it (`source()`).
    pub fn as_source(&self) -> Option<Box<dyn std::error::Error + Send + Sync>> {
        self.get()
            .map(|e| Box::new(Stopped(Arc::clone(e))) as Box<dyn std::error::Error + Send + Sync>)
    }
}

/// The kind of the I/O error at the root of `e`, or `Other`.
fn root_io_kind(e: &Error) -> io::ErrorKind {
    match e {
        Error::Io { source, .. } => source.kind(),
        _ => io::ErrorKind::Other,
    }
}

/// A kept failure, shared by every refusal it causes.
#[derive(Debug)]
struct Stopped(Arc<Error>);

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Stopped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn io(op: &'static str) -> Error {
        Error::Io {
            op,
            path: PathBuf::from("/d/000007.log"),
            source: io::Error::new(io::ErrorKind::StorageFull, "no space"),
        }
    }

    #[test]
    fn the_first_failure_is_kept_with_its_kind_and_cause() {
        let failure = Failure::default();
        assert!(!failure.is_set());
        assert!(failure.check_io().is_ok());
        failure.set(io("fdatasync"));
        failure.set(io("append to manifest"));
        let kept = failure.get().unwrap();
        assert!(kept.to_string().starts_with("fdatasync"), "{kept}");
        let refused = failure.check_io().unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::StorageFull);
        let source = failure.as_source().unwrap();
        assert_eq!(source.to_string(), kept.to_string());
        let cause = source.source().expect("the I/O error behind it");
        assert_eq!(cause.to_string(), "no space");
    }
}
