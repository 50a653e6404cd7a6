//! The synchronisation primitives of the protocol: std's, or loom's when the
//! crate is built with `--cfg loom` for model checking.
//!
//! Everything shared between threads goes through this module (the state
//! mutex, the per-writer reply slots and their condition variables, and the
//! atomics of the metrics and the published sequence number), so that loom
//! sees every access. The atomics matter to the model too: loom explores the
//! orders of dependent accesses only, and an invisible std atomic would let
//! it skip an interleaving in which a metric read races an update.

use std::sync::PoisonError;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64};
#[cfg(loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64};
#[cfg(not(loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};

/// Locks `mutex`, ignoring poisoning.
///
/// No code of this crate panics while holding one of its mutexes, and the
/// backend is never called with one held, so a poisoned mutex still guards a
/// consistent value.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `condvar`, ignoring poisoning as [`lock`] does.
pub(crate) fn wait<'a, T>(condvar: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    condvar.wait(guard).unwrap_or_else(PoisonError::into_inner)
}
