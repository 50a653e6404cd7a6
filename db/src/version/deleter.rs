//! [`Deleter`]: where obsolete tables go to be unmapped and unlinked
//! (TABLES.md §8), off every reader's thread.
//!
//! A [`TableFile`](super::TableFile) no version lists any more sends
//! itself here from its last drop ([`Retired::Table`]). Until the
//! background starts the deleter thread, the messages wait in the channel
//! and [`Deleter::delete_retired`] handles them on the caller's thread.

use super::current::Retired;
use crate::fs::Fs;
use crate::sync::lock;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Mutex;

/// The channel of retired tables, and its receiving end until the
/// deleter thread takes it.
#[derive(Debug)]
pub(crate) struct Deleter {
    /// Where obsolete tables go; `None` in a read-only database, which
    /// deletes nothing.
    retire: Option<Sender<Retired>>,
    /// The other end, until the deleter thread takes it.
    retired: Mutex<Option<Receiver<Retired>>>,
}

impl Deleter {
    /// A deleter for a writable database.
    pub fn new() -> Deleter {
        let (retire, retired) = mpsc::channel();
        Deleter {
            retire: Some(retire),
            retired: Mutex::new(Some(retired)),
        }
    }

    /// No deleter: a read-only database's tables are never deleted.
    pub fn none() -> Deleter {
        Deleter {
            retire: None,
            retired: Mutex::new(None),
        }
    }

    /// Where a table sends itself once obsolete (`None`: nowhere).
    pub fn sender(&self) -> Option<&Sender<Retired>> {
        self.retire.as_ref()
    }

    /// The receiving end, for the deleter thread; `None` once taken.
    pub fn take_receiver(&self) -> Option<Receiver<Retired>> {
        lock(&self.retired).take()
    }

    /// Deletes the tables retired so far and returns once they are gone:
    /// here, while no deleter thread runs; through a barrier in its
    /// channel once one does.
    pub fn delete_retired(&self, fs: &dyn Fs) {
        let retired = lock(&self.retired);
        if let Some(retired) = retired.as_ref() {
            for message in retired.try_iter() {
                delete(fs, message);
            }
            return;
        }
        drop(retired);
        let Some(retire) = &self.retire else { return };
        let (done, wait) = mpsc::sync_channel(1);
        // A deleter that stopped (the database closed) answers nothing:
        // the send or the wait fails at once.
        if retire.send(Retired::Barrier(done)).is_ok() {
            let _ = wait.recv();
        }
    }

    /// Tells the deleter thread to stop once it has done what came before.
    pub fn stop(&self) {
        if let Some(retire) = &self.retire {
            let _ = retire.send(Retired::Stop);
        }
    }
}

/// The deleter's work on one message: unmap and unlink a retired table,
/// or answer a barrier. False for [`Retired::Stop`].
pub(crate) fn delete(fs: &dyn Fs, message: Retired) -> bool {
    match message {
        Retired::Table { path, table } => {
            drop(table);
            match fs.remove(&path) {
                Ok(()) => log::debug!("deleted obsolete table {}", path.display()),
                Err(e) => log::warn!("cannot delete obsolete table {}: {e}", path.display()),
            }
        }
        Retired::Barrier(done) => {
            let _ = done.send(());
        }
        Retired::Stop => return false,
    }
    true
}
