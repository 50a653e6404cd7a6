//! The library's `log` events on stderr: a logger of a few lines rather
//! than a logging crate, since the tool needs no filtering by module, no
//! timestamps and no configuration beyond `-v`.
//!
//! Progress events (target [`tributary::PROGRESS_LOG_TARGET`]: the steps
//! of a long `check`, `repair` or `compact`) are shown at every verbosity,
//! at most one a second, so that a long command says how far it is.

use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The least time between two progress lines.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Prints each event as `LEVEL message` on stderr.
struct StderrLogger {
    /// The most verbose level shown, progress aside.
    max: OnceLock<log::LevelFilter>,
    /// When the last progress line was shown; `None` before the first.
    progress_shown: Mutex<Option<Instant>>,
}

impl StderrLogger {
    fn is_progress(metadata: &log::Metadata<'_>) -> bool {
        metadata.target() == tributary::PROGRESS_LOG_TARGET
    }

    /// Whether a progress line is due now, noting it shown if so.
    fn progress_due(&self) -> bool {
        let mut shown = self
            .progress_shown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = shown.is_none_or(|at| at.elapsed() >= PROGRESS_EVERY);
        if due {
            *shown = Some(Instant::now());
        }
        due
    }
}

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        let max = self.max.get().copied().unwrap_or(log::LevelFilter::Warn);
        metadata.level() <= max || StderrLogger::is_progress(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = if StderrLogger::is_progress(record.metadata()) {
            if !self.progress_due() {
                return;
            }
            format!("{}", record.args())
        } else {
            format!("{:<5} {}", record.level(), record.args())
        };
        // A closed stderr is nobody's business but the user's: the event
        // is dropped rather than the command failed.
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    fn flush(&self) {}
}

/// The one logger; `log` wants it `'static`.
static LOGGER: StderrLogger = StderrLogger {
    max: OnceLock::new(),
    progress_shown: Mutex::new(None),
};

/// Shows the library's events at `max` and more severe on stderr, and its
/// progress events always.
pub fn install(max: log::LevelFilter) {
    // Fails only if a logger is already installed, and main installs one
    // once.
    if log::set_logger(&LOGGER).is_ok() {
        let _ = LOGGER.max.set(max);
        // Progress events are at info: `log` must let them through.
        log::set_max_level(max.max(log::LevelFilter::Info));
    }
}
