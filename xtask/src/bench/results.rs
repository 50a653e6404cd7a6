//! The `.jsonl` file of one `cargo xtask bench`: a line about the session,
//! then one per run as the bench binary printed it, tagged with its cell
//! and round (or the failure), then the medians.

use super::{Config, Object};
use anyhow::{Context, Result};
use serde_json::Value;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The results file, open for appending lines.
pub(super) struct Results {
    file: File,
    path: PathBuf,
}

impl Results {
    /// Creates `<stamp>.jsonl` in `dir`.
    pub(super) fn create(dir: &Path, stamp: &str) -> Result<Results> {
        let path = dir.join(format!("{stamp}.jsonl"));
        let file =
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Results { file, path })
    }

    /// Where the file is.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The first line: when, with which options, on what machine.
    pub(super) fn meta(&mut self, stamp: &str, config: &Config, machine: &str) -> Result<()> {
        writeln!(
            self.file,
            "{{\"kind\":\"meta\",\"started\":{},\"quick\":{},\"runs\":{},\"engines\":{},\"machine\":{}}}",
            quote(stamp),
            config.quick,
            config.runs,
            quote(&config.engines.join(",")),
            quote(machine)
        )?;
        Ok(())
    }

    /// A run's JSON `line` with its cell and round (from 1) added.
    pub(super) fn run(&mut self, line: &str, cell: &str, round: usize) -> Result<()> {
        let tagged = format!(
            "{},\"cell\":{},\"run\":{}}}",
            line.trim_end().trim_end_matches('}'),
            quote(cell),
            round
        );
        writeln!(self.file, "{tagged}")?;
        Ok(())
    }

    /// A run that failed or was skipped, with its error.
    pub(super) fn failure(
        &mut self,
        cell: &str,
        engine: &str,
        round: usize,
        error: &anyhow::Error,
    ) -> Result<()> {
        writeln!(
            self.file,
            "{{\"kind\":\"failure\",\"cell\":{},\"engine\":{},\"run\":{},\"error\":{}}}",
            quote(cell),
            quote(engine),
            round,
            quote(&format!("{error:#}"))
        )?;
        Ok(())
    }

    /// The medians of a cell's runs by one engine, marked
    /// `"run":"median"`.
    pub(super) fn median(&mut self, cell: &str, obj: &Object) -> Result<()> {
        let mut line = String::from("{");
        for (i, (k, v)) in obj.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            let _ = write!(line, "{}:{v}", quote(k));
        }
        let _ = write!(line, ",\"cell\":{},\"run\":\"median\"}}", quote(cell));
        writeln!(self.file, "{line}")?;
        Ok(())
    }
}

/// A string as a JSON string literal.
fn quote(s: &str) -> String {
    Value::from(s).to_string()
}
