//! The library's `log` events on stderr: a logger of a few lines rather
//! than a logging crate, since the tool needs no filtering by module, no
//! timestamps and no configuration beyond `-v`.

use std::io::Write;

/// Prints each event as `LEVEL message` on stderr.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            // A closed stderr is nobody's business but the user's: the
            // event is dropped rather than the command failed.
            let _ = writeln!(
                std::io::stderr().lock(),
                "{:<5} {}",
                record.level(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

/// The one logger; `log` wants it `'static`.
static LOGGER: StderrLogger = StderrLogger;

/// Shows the library's events at `max` and more severe on stderr.
pub fn install(max: log::LevelFilter) {
    // Fails only if a logger is already installed, and main installs one
    // once.
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(max);
    }
}
