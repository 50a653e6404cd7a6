//! How far a long operation has got: [`Db::check`](crate::Db::check),
//! [`Db::repair`](crate::Db::repair) and
//! [`Db::compact_range`](crate::Db::compact_range) report each step as an
//! info-level `log` event with the target [`PROGRESS_LOG_TARGET`], so
//! that any logger may show them (the `tributary` command-line tool shows
//! them as progress lines) and a program that installs none pays one
//! disabled-level check per step.

/// The `log` target of progress events: `tributary::progress`.
pub const PROGRESS_LOG_TARGET: &str = "tributary::progress";

/// Reports a step of a long operation (see the module docs).
macro_rules! progress {
    ($($arg:tt)+) => {
        log::info!(target: $crate::progress::PROGRESS_LOG_TARGET, $($arg)+)
    };
}
pub(crate) use progress;

/// Bytes in MiB, as the progress events print them.
pub(crate) fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1u32 << 20)
}
