//! The one way this crate takes a mutex.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, taking the data of a poisoned one: every value behind
/// the crate's mutexes is left consistent between statements, so a panic
/// elsewhere (already reported) leaves nothing half-changed to refuse.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
