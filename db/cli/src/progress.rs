//! Progress of a long command on stderr, where it stays out of what the
//! command prints: a status line rewritten in place on a terminal, and a
//! line of its own each time otherwise, at most every so often.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// A status line on stderr.
pub struct StatusLine {
    /// The least time between two lines shown.
    every: Duration,
    /// When the last line was shown (at first, when the command started).
    shown: Instant,
    /// Whether stderr is a terminal: the line is then rewritten in place.
    terminal: bool,
}

impl StatusLine {
    /// A status line showing at most one line per `every`, the first one
    /// `every` from now: a command shorter than that shows only its
    /// [`finish`](StatusLine::finish).
    pub fn new(every: Duration) -> StatusLine {
        StatusLine {
            every,
            shown: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Shows what `line` says if `every` has passed since the last line
    /// shown; builds it only then.
    pub fn tick(&mut self, line: impl FnOnce() -> String) {
        if self.shown.elapsed() >= self.every {
            self.show(&line(), false);
            self.shown = Instant::now();
        }
    }

    /// Shows `line` as the last one, on a line of its own.
    pub fn finish(&mut self, line: &str) {
        self.show(line, true);
    }

    fn show(&self, line: &str, last: bool) {
        let mut stderr = std::io::stderr().lock();
        // Progress is best effort: a closed stderr fails nothing.
        let _ = if !self.terminal {
            writeln!(stderr, "{line}")
        } else if last {
            // Back to the start of the line, then erase what a longer
            // earlier line left.
            writeln!(stderr, "\r{line}\x1b[K")
        } else {
            write!(stderr, "\r{line}\x1b[K")
        };
    }
}

/// Bytes in MiB, for humans.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}
