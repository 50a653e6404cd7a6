//! The start line of a run's threads, which can be called off.
//!
//! A `std::sync::Barrier` cannot be: if starting the k-th thread fails (a
//! `--threads 100000` past the system's limit), the threads already waiting
//! at it would wait forever. Here the spawner calls the start off instead,
//! every waiting thread returns, and the run reports the error.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::{Scope, ScopedJoinHandle};

/// A start line for `parties` participants, the spawner among them.
pub struct StartGate {
    parties: usize,
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    arrived: usize,
    /// `Some(true)` once everyone arrived, `Some(false)` once called off.
    outcome: Option<bool>,
}

impl StartGate {
    pub fn new(parties: usize) -> StartGate {
        StartGate {
            parties,
            state: Mutex::new(State {
                arrived: 0,
                outcome: None,
            }),
            changed: Condvar::new(),
        }
    }

    /// Waits until every participant arrived (true: go) or the start was
    /// called off (false: return at once).
    pub fn wait(&self) -> bool {
        let mut state = self.lock();
        state.arrived += 1;
        if state.arrived == self.parties && state.outcome.is_none() {
            state.outcome = Some(true);
            self.changed.notify_all();
        }
        loop {
            if let Some(go) = state.outcome {
                return go;
            }
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Starts a participant, `what` in messages, in `scope`; if it cannot be
    /// started, calls the start off and says why.
    pub fn spawn<'scope, T: Send + 'scope>(
        &self,
        scope: &'scope Scope<'scope, '_>,
        what: &str,
        f: impl FnOnce() -> T + Send + 'scope,
    ) -> Result<ScopedJoinHandle<'scope, T>, String> {
        std::thread::Builder::new()
            .spawn_scoped(scope, f)
            .map_err(|e| {
                self.call_off();
                format!("cannot start {what}: {e}")
            })
    }

    /// Calls the start off: every waiter, now or later, gets false.
    pub fn call_off(&self) {
        let mut state = self.lock();
        if state.outcome.is_none() {
            state.outcome = Some(false);
            self.changed.notify_all();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The error of a thread that found the start called off.
pub const CALLED_OFF: &str = "the run was called off before it started";

/// The threads' results, or the error that called the run off (rather than
/// a thread's report that it was called off).
pub fn collect<T>(results: Vec<Result<T, String>>) -> Result<Vec<T>, String> {
    if let Some(cause) = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .find(|e| *e != CALLED_OFF)
    {
        return Err(cause.clone());
    }
    results.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everyone_goes_once_all_arrive_and_nobody_after_a_call_off() {
        let gate = StartGate::new(3);
        std::thread::scope(|s| {
            let a = s.spawn(|| gate.wait());
            let b = s.spawn(|| gate.wait());
            assert!(gate.wait());
            assert!(a.join().unwrap() && b.join().unwrap());
        });
        let gate = StartGate::new(3);
        std::thread::scope(|s| {
            let a = s.spawn(|| gate.wait());
            gate.call_off();
            assert!(!a.join().unwrap());
            assert!(!gate.wait());
        });
    }
}
