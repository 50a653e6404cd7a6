//! `tributary`: the command-line tool over a Tributary database, in the
//! manner of LevelDB's `leveldbutil` and RocksDB's `ldb`.
//!
//! ```text
//! tributary demo [--threads N] [--writes N]      group commit at work, in a temp directory
//! tributary --db DIR put KEY VALUE [--sync]      creates the database if there is none
//! tributary --db DIR get KEY                     prints the value; exit 1 if absent
//! tributary --db DIR delete KEY [--sync]
//! tributary --db DIR scan [--start K] [--end K] [--prefix P] [--reverse] [--limit N]
//! tributary --db DIR stats [--json]
//! tributary --db DIR compact [--start K] [--end K]   LevelDB's CompactRange; both ends inclusive
//! tributary --db DIR check                       what recovery would drop; exit 3 if damaged
//! tributary repair DIR                           rebuild from whatever is readable; damaged files kept in DIR/lost
//! tributary dump-journal FILE                    one line per record of a LevelDB-format log
//! ```
//!
//! Keys and values are the bytes of the arguments, whatever they are; with
//! `--hex` they are given and printed as hex, so that anything `scan`
//! prints can be fed back. Without it, output escapes bytes that are not
//! printable ASCII as `\xNN`. The read commands (`get`, `scan`, `stats`,
//! `check`) open the database read-only: they change nothing on disk and
//! create nothing where there is no database. Exit codes: 0 success, 1 key
//! not found, 2 usage error, 3 database error or damage found.

use clap::{CommandFactory, Parser, Subcommand};
use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use tributary::{Batch, Db, Options, WriteOptions};

/// The command line.
#[derive(Parser)]
#[command(
    name = "tributary",
    version,
    about = "Tributary, an embedded key-value store built around group commit",
    after_help = "Exit codes: 0 success, 1 key not found, 2 usage error, 3 database error or damage found."
)]
struct Cli {
    /// The database directory.
    #[arg(long, global = true, value_name = "DIR")]
    db: Option<PathBuf>,
    /// Keys and values are given and printed as hex (as `ldb --hex`).
    #[arg(long, global = true)]
    hex: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Group commit at work: many threads write synced puts into a fresh
    /// database in a temporary directory, then it is reopened and checked.
    Demo {
        /// Writer threads.
        #[arg(long, default_value_t = 16)]
        threads: usize,
        /// Synced puts per thread.
        #[arg(long, default_value_t = 500)]
        writes: usize,
    },
    /// Sets KEY to VALUE, creating the database if there is none.
    Put {
        key: OsString,
        value: OsString,
        /// Return only once the write is on stable storage.
        #[arg(long)]
        sync: bool,
    },
    /// Prints the value of KEY; exits 1 if it is absent.
    Get { key: OsString },
    /// Removes KEY (an absent key is not an error).
    Delete {
        key: OsString,
        /// Return only once the write is on stable storage.
        #[arg(long)]
        sync: bool,
    },
    /// Prints the live keys and values in key order, one pair per line.
    Scan {
        /// The first key (inclusive).
        #[arg(long, value_name = "KEY")]
        start: Option<OsString>,
        /// The key to stop before (exclusive).
        #[arg(long, value_name = "KEY")]
        end: Option<OsString>,
        /// Only the keys starting with P.
        #[arg(long, value_name = "P", conflicts_with_all = ["start", "end"])]
        prefix: Option<OsString>,
        /// Walk backwards.
        #[arg(long)]
        reverse: bool,
        /// Print at most N pairs.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Prints what the database holds: sequence numbers, memtables,
    /// journals, tables per level, the manifest, recovery.
    Stats {
        /// One JSON object, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Compacts the keys from --start to --end (both inclusive; all keys
    /// without them), as LevelDB's `CompactRange`: flushes the memtable,
    /// merges the tables holding them down the levels, and deletes what
    /// overwrites and deletes made obsolete. Prints the tables per level
    /// before and after.
    Compact {
        /// The first key (inclusive).
        #[arg(long, value_name = "KEY")]
        start: Option<OsString>,
        /// The last key (inclusive).
        #[arg(long, value_name = "KEY")]
        end: Option<OsString>,
    },
    /// Reports what opening would recover, drop and set aside; exits 3 on
    /// damage. Changes nothing.
    Check,
    /// Rebuilds the database in DIR from whatever is readable (every table
    /// block that checks out, every journal record that reads; the newest
    /// version of each key), for when opening refuses. Damaged tables and
    /// journals and the old manifests are kept whole in DIR/lost. Prints
    /// what it salvaged and what it set aside.
    Repair { dir: PathBuf },
    /// Hands the database back to LevelDB and goleveldb: flushes it, writes
    /// a manifest in LevelDB's format and points CURRENT at it, so that
    /// they open the directory directly. Refuses, changing nothing, if a
    /// table stores zstd blocks, unless --rewrite-zstd asks to rewrite such
    /// tables with Snappy first. Tributary opens the directory again too.
    ExportLeveldb {
        /// Rewrite tables with zstd blocks (which LevelDB 1.23 and goleveldb
        /// cannot read) with Snappy first, instead of refusing.
        #[arg(long)]
        rewrite_zstd: bool,
    },
    /// Prints every record of a LevelDB-format log file; exits 3 if it is
    /// damaged or torn, after the records it could read.
    DumpJournal { file: PathBuf },
    /// Prints every entry of a LevelDB-format table file (`.ldb` or
    /// `.sst`, Tributary's or LevelDB's), checking every block; exits 3 on
    /// damage, after the entries it could read.
    DumpTable { file: PathBuf },
}

enum Failure {
    NotFound,
    Usage(String),
    Db(String),
}

impl<E: std::error::Error> From<E> for Failure {
    fn from(e: E) -> Failure {
        let mut msg = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            let s_msg = s.to_string();
            if !msg.contains(&s_msg) {
                msg.push_str(": ");
                msg.push_str(&s_msg);
            }
            source = s.source();
        }
        Failure::Db(msg)
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            // Every usage error shows the subcommand's usage (clap leaves it
            // out of some, a bad number for one).
            let rendered = e.render().to_string();
            eprint!("{rendered}");
            if !rendered.contains("Usage:") {
                eprintln!("\n{}", usage_of_argv());
            }
            return ExitCode::from(2);
        }
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::NotFound) => ExitCode::from(1),
        Err(Failure::Usage(msg)) => {
            // The subcommand's usage, as clap prints it for its own errors
            // (exit 2).
            let mut cmd = Cli::command();
            cmd.build(); // Gives subcommands their full names in usage lines.
            let name = subcommand_name(&cli.command);
            let sub = cmd.find_subcommand_mut(name).cloned();
            let mut shown = sub.unwrap_or(cmd);
            shown
                .error(clap::error::ErrorKind::ValueValidation, msg)
                .exit()
        }
        Err(Failure::Db(msg)) => {
            eprintln!("tributary: {msg}");
            ExitCode::from(3)
        }
    }
}

/// The usage line of the subcommand named on the command line, or the
/// tool's.
fn usage_of_argv() -> String {
    let mut cmd = Cli::command();
    cmd.build();
    let named = std::env::args_os()
        .skip(1)
        .filter_map(|a| a.to_str().map(str::to_owned))
        .find(|a| cmd.find_subcommand(a).is_some());
    match named.and_then(|n| cmd.find_subcommand_mut(&n).cloned()) {
        Some(mut sub) => sub.render_usage().to_string(),
        None => cmd.render_usage().to_string(),
    }
}

fn subcommand_name(cmd: &Cmd) -> &'static str {
    match cmd {
        Cmd::Demo { .. } => "demo",
        Cmd::Put { .. } => "put",
        Cmd::Get { .. } => "get",
        Cmd::Delete { .. } => "delete",
        Cmd::Scan { .. } => "scan",
        Cmd::Stats { .. } => "stats",
        Cmd::Compact { .. } => "compact",
        Cmd::Check => "check",
        Cmd::Repair { .. } => "repair",
        Cmd::ExportLeveldb { .. } => "export-leveldb",
        Cmd::DumpJournal { .. } => "dump-journal",
        Cmd::DumpTable { .. } => "dump-table",
    }
}

/// How keys and values are read from arguments and printed.
#[derive(Clone, Copy)]
struct Bytes {
    hex: bool,
}

impl Bytes {
    /// The bytes an argument stands for.
    fn parse(self, what: &str, arg: &OsStr) -> Result<Vec<u8>, Failure> {
        if !self.hex {
            return Ok(arg.as_bytes().to_vec());
        }
        let digits = arg.as_bytes();
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        };
        if !digits.len().is_multiple_of(2) {
            return Err(Failure::Usage(format!(
                "{what} {:?} is not hex: an odd number of digits",
                arg
            )));
        }
        digits
            .chunks(2)
            .map(|pair| match (nibble(pair[0]), nibble(pair[1])) {
                (Some(hi), Some(lo)) => Ok(hi << 4 | lo),
                _ => Err(Failure::Usage(format!("{what} {arg:?} is not hex"))),
            })
            .collect()
    }

    /// Bytes as text: hex, or printable ASCII as is (backslash doubled) and
    /// the rest as `\xNN`.
    fn show(self, bytes: &[u8]) -> String {
        if self.hex {
            return bytes.iter().map(|b| format!("{b:02x}")).collect();
        }
        escape(bytes)
    }
}

fn run(cli: &Cli) -> Result<(), Failure> {
    let bytes = Bytes { hex: cli.hex };
    let need_db = |command: &str| {
        cli.db
            .clone()
            .ok_or_else(|| Failure::Usage(format!("{command} needs --db DIR")))
    };
    match &cli.command {
        Cmd::Demo { threads, writes } => demo(*threads, *writes),
        Cmd::DumpJournal { file } => dump_journal(file),
        Cmd::DumpTable { file } => dump_table(file),
        Cmd::Put { key, value, sync } => {
            let (key, value) = (bytes.parse("KEY", key)?, bytes.parse("VALUE", value)?);
            let db = Db::open(need_db("put")?, Options::default())?;
            db.put_with(
                key,
                value,
                &WriteOptions {
                    sync: *sync,
                    merge: true,
                },
            )?;
            db.close()?;
            Ok(())
        }
        Cmd::Delete { key, sync } => {
            let key = bytes.parse("KEY", key)?;
            let db = Db::open(need_db("delete")?, Options::default())?;
            db.delete_with(
                key,
                &WriteOptions {
                    sync: *sync,
                    merge: true,
                },
            )?;
            db.close()?;
            Ok(())
        }
        Cmd::Get { key } => {
            let key = bytes.parse("KEY", key)?;
            let db = Db::open_read_only(need_db("get")?, Options::default())?;
            let Some(value) = db.get(key)? else {
                return Err(Failure::NotFound);
            };
            let mut out = io::stdout().lock();
            if bytes.hex {
                writeln!(out, "{}", bytes.show(&value))?;
            } else {
                out.write_all(&value)?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
        Cmd::Scan {
            start,
            end,
            prefix,
            reverse,
            limit,
        } => {
            let parse = |what, arg: &Option<OsString>| {
                arg.as_deref().map(|a| bytes.parse(what, a)).transpose()
            };
            let (start, end, prefix) = (
                parse("--start", start)?,
                parse("--end", end)?,
                parse("--prefix", prefix)?,
            );
            let db = Db::open_read_only(need_db("scan")?, Options::default())?;
            let iter = match (prefix, start, end) {
                (Some(p), _, _) => db.prefix(p),
                (None, Some(s), Some(e)) => db.range(s..e),
                (None, Some(s), None) => db.range(s..),
                (None, None, Some(e)) => db.range(..e),
                (None, None, None) => db.iter(),
            };
            type Item = Result<(Vec<u8>, Vec<u8>), tributary::Error>;
            let items: Box<dyn Iterator<Item = Item>> = if *reverse {
                Box::new(iter.rev())
            } else {
                Box::new(iter)
            };
            let mut out = io::BufWriter::new(io::stdout().lock());
            for item in items.take(limit.unwrap_or(usize::MAX)) {
                let (k, v) = item?;
                writeln!(out, "{} {}", bytes.show(&k), bytes.show(&v))?;
            }
            out.flush()?;
            Ok(())
        }
        Cmd::Stats { json } => {
            let db = Db::open_read_only(need_db("stats")?, Options::default())?;
            stats(&db, *json)
        }
        Cmd::Compact { start, end } => {
            let start = start
                .as_deref()
                .map(|k| bytes.parse("--start", k))
                .transpose()?;
            let end = end
                .as_deref()
                .map(|k| bytes.parse("--end", k))
                .transpose()?;
            // Never creates a database where there is none.
            let options = Options {
                create_if_missing: false,
                ..Options::default()
            };
            let db = Db::open(need_db("compact")?, options)?;
            let before = db.stats();
            let started = Instant::now();
            db.compact_range(start, end)?;
            let after = db.stats();
            let mib = |levels: &[u64]| levels.iter().sum::<u64>() as f64 / (1u64 << 20) as f64;
            println!(
                "compacted in {:.1} ms: {} compactions, {:.2} MB written",
                started.elapsed().as_secs_f64() * 1e3,
                after.compactions - before.compactions,
                (after.table_bytes_written - before.table_bytes_written) as f64
                    / (1u64 << 20) as f64
            );
            println!(
                "  tables per level {:?} ({:.2} MB) -> {:?} ({:.2} MB)",
                before.files_per_level,
                mib(&before.bytes_per_level),
                after.files_per_level,
                mib(&after.bytes_per_level)
            );
            db.close()?;
            Ok(())
        }
        Cmd::Check => check(&need_db("check")?),
        Cmd::Repair { dir } => {
            let report = Db::repair(dir, &Options::default())?;
            println!("{report}");
            Ok(())
        }
        Cmd::ExportLeveldb { rewrite_zstd } => {
            let options = Options {
                create_if_missing: false,
                ..Options::default()
            };
            let export = tributary::ExportOptions {
                rewrite_zstd: *rewrite_zstd,
            };
            let exported = Db::open(need_db("export-leveldb")?, options)?.export_leveldb(export)?;
            println!(
                "exported for LevelDB: CURRENT names {} ({} tables, {} rewritten with Snappy, \
                 last sequence {})",
                exported.manifest.display(),
                exported.tables,
                exported.rewritten,
                exported.last_seq
            );
            Ok(())
        }
    }
}

/// `stats`: what `leveldb.stats` users expect, laid out for people, or one
/// JSON object.
fn stats(db: &Db, json: bool) -> Result<(), Failure> {
    let s = db.stats();
    let r = db.recovery_report();
    let data = db.data_bytes()?;
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    if json {
        let value = serde_json::json!({
            "path": db.path().display().to_string(),
            "last_seq": s.last_seq.0,
            "memtable": { "bytes": s.memtable_bytes, "entries": s.memtable_entries },
            "frozen_memtables": { "count": s.frozen_memtables, "bytes": s.frozen_bytes },
            "levels": s.files_per_level.iter().zip(&s.bytes_per_level).enumerate()
                .map(|(level, (files, bytes))| serde_json::json!({
                    "level": level, "files": files, "bytes": bytes,
                }))
                .collect::<Vec<_>>(),
            "tables": { "entries": s.table_entries },
            "compression": data.iter().enumerate().filter(|(_, d)| d.raw + d.stored > 0 || d.unrecorded > 0)
                .map(|(level, d)| serde_json::json!({
                    "level": level, "raw_bytes": d.raw, "stored_bytes": d.stored,
                    "tables_unrecorded": d.unrecorded,
                }))
                .collect::<Vec<_>>(),
            "manifest": {
                "path": r.manifest.as_ref().map(|p| p.display().to_string()),
                "log_number": s.log_number,
                "next_file_number": s.next_file_number,
                "last_seq": s.tables_last_seq,
            },
            "journals": { "count": r.journals.len(), "bytes": s.journal_bytes },
            "write_stalls_since_open": {
                "slowdowns": s.write_slowdowns,
                "stops": s.write_stops,
                "seconds": s.write_stall_time.as_secs_f64(),
            },
            "quarantined": s.quarantined.iter().map(|(p, why)| serde_json::json!({
                "path": p.display().to_string(),
                "damage": why,
            })).collect::<Vec<_>>(),
            "recovery": {
                "batches": r.batches(),
                "bytes": r.bytes(),
                "seconds": r.elapsed.as_secs_f64(),
                "dropped_bytes": r.dropped.iter().map(|d| d.len).sum::<u64>(),
                "damage": r.damage.as_ref().map(|d| serde_json::json!({
                    "path": d.path.display().to_string(),
                    "offset": d.offset,
                    "reason": d.reason,
                })),
            },
        });
        println!("{value}");
        return Ok(());
    }
    let mut out = io::stdout().lock();
    writeln!(out, "Database {}", db.path().display())?;
    writeln!(out, "  last sequence number  {}", s.last_seq)?;
    writeln!(out)?;
    writeln!(out, "                              Data")?;
    writeln!(out, "Kind               Count   Entries  Size(MB)")?;
    writeln!(out, "-------------------------------------------")?;
    let row = |out: &mut io::StdoutLock, kind: &str, count: String, entries: String, bytes: u64| {
        writeln!(
            out,
            "{kind:<16} {count:>7} {entries:>9} {:>9.2}",
            mib(bytes)
        )
    };
    row(
        &mut out,
        "memtable",
        "1".into(),
        s.memtable_entries.to_string(),
        s.memtable_bytes as u64,
    )?;
    row(
        &mut out,
        "frozen memtable",
        s.frozen_memtables.to_string(),
        "-".into(),
        s.frozen_bytes as u64,
    )?;
    for (level, (files, bytes)) in s.files_per_level.iter().zip(&s.bytes_per_level).enumerate() {
        if *files > 0 {
            row(
                &mut out,
                &format!("level {level} tables"),
                files.to_string(),
                "-".into(),
                *bytes,
            )?;
        }
    }
    row(
        &mut out,
        "journal",
        r.journals.len().to_string(),
        "-".into(),
        s.journal_bytes,
    )?;
    writeln!(out)?;
    for (level, d) in data.iter().enumerate().filter(|(_, d)| d.raw > 0) {
        writeln!(
            out,
            "Compression, level {level}: {:.2} MB of data blocks stored in {:.2} MB ({:.0}%){}",
            mib(d.raw),
            mib(d.stored),
            100.0 * d.stored as f64 / d.raw as f64,
            match d.unrecorded {
                0 => String::new(),
                n => format!(", and {n} tables that record no size before compression"),
            }
        )?;
    }
    match &r.manifest {
        Some(path) => writeln!(
            out,
            "Manifest {}: log number {}, next file number {}, last sequence number in tables {}",
            path.display(),
            s.log_number,
            s.next_file_number,
            s.tables_last_seq
        )?,
        None => writeln!(out, "Manifest: none (a directory of journals only)")?,
    }
    // Counted per open, as RocksDB's "Cumulative stall": the same lines
    // as a program printing `Db::stats` of its own database gets (this
    // command's read-only open writes nothing, so its own are zero).
    writeln!(
        out,
        "Write stalls since open: {} slowdowns, {} stops, {:.1} ms",
        s.write_slowdowns,
        s.write_stops,
        s.write_stall_time.as_secs_f64() * 1e3
    )?;
    for (path, why) in &s.quarantined {
        writeln!(
            out,
            "  QUARANTINED {}: {why} (compaction goes around it; `tributary repair` fixes it)",
            path.display()
        )?;
    }
    writeln!(
        out,
        "Recovery: {} batches from {:.2} MB of journal in {:.1} ms",
        r.batches(),
        mib(r.bytes()),
        r.elapsed.as_secs_f64() * 1e3
    )?;
    let dropped: u64 = r.dropped.iter().map(|d| d.len).sum();
    if dropped > 0 {
        writeln!(out, "  dropped {dropped} bytes (see `tributary check`)")?;
    }
    if let Some(d) = &r.damage {
        writeln!(out, "  {d}")?;
    }
    Ok(())
}

/// `check`: what opening would do, changing nothing.
fn check(dir: &Path) -> Result<(), Failure> {
    let report = Db::check(dir, &Options::default())?;
    println!("{report}");
    if report.manifest.is_some() {
        println!("every block of every table checked");
    }
    if report.is_clean() {
        println!("ok");
        Ok(())
    } else if report.damage.is_some() {
        Err(Failure::Db(format!(
            "{}: the history is broken; opening recovers the prefix above and sets the rest aside in lost/",
            dir.display()
        )))
    } else {
        Err(Failure::Db(format!(
            "{}: recovery would drop a torn tail",
            dir.display()
        )))
    }
}

/// Bytes as text: printable ASCII as is (backslash doubled), the rest as
/// `\xNN`.
fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            0x21..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// Prints every record of a LevelDB-format log file, one line per batch
/// record: `SEQ put KEY VALUE` or `SEQ delete KEY`.
fn dump_journal(path: &Path) -> Result<(), Failure> {
    let file = std::fs::File::open(path)
        .map_err(|e| Failure::Db(format!("open {}: {e}", path.display())))?;
    let mut reader = journal::Reader::new(io::BufReader::new(file), journal::Recovery::Tolerant);
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut damaged = false;
    loop {
        let record = match reader.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                out.flush()?;
                return Err(Failure::Db(format!("{}: {e}", path.display())));
            }
        };
        match Batch::decode(record) {
            Ok(batch) => {
                for (i, r) in batch.records().enumerate() {
                    let seq = batch.seq().0.saturating_add(i as u64);
                    match r.value() {
                        Some(v) => writeln!(out, "{seq} put {} {}", escape(r.key()), escape(v))?,
                        None => writeln!(out, "{seq} delete {}", escape(r.key()))?,
                    }
                }
            }
            Err(e) => {
                damaged = true;
                eprintln!(
                    "{}: record at offset {}: {e}",
                    path.display(),
                    reader.record_offset()
                );
            }
        }
    }
    out.flush()?;
    let torn = reader
        .torn_tail()
        .filter(|t| t.reason != journal::Corruption::ZeroedTail);
    for d in reader.dropped().iter().chain(torn.as_ref()) {
        damaged = true;
        eprintln!(
            "{}: dropped {} bytes at offset {}: {}",
            path.display(),
            d.len,
            d.offset,
            d.reason
        );
    }
    if damaged {
        return Err(Failure::Db(format!(
            "{}: damaged or torn, records above are those that could be read",
            path.display()
        )));
    }
    Ok(())
}

/// Prints every entry of a table file, one line each, in key order:
/// `SEQ put KEY VALUE` or `SEQ delete KEY`, as `dump-journal` does.
fn dump_table(path: &Path) -> Result<(), Failure> {
    let bytes =
        std::fs::read(path).map_err(|e| Failure::Db(format!("read {}: {e}", path.display())))?;
    let damaged = |e: tributary::table::TableError| {
        Failure::Db(format!("{}: damaged table {e}", path.display()))
    };
    let table = Arc::new(tributary::table::Table::open(bytes).map_err(damaged)?);
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut it = table.iter();
    it.seek_to_first();
    let mut entries = 0u64;
    while it.valid() {
        let (user_key, seq, kind) = batch::key::parse(it.key())
            .expect("the table reader checks every key is an internal key");
        match kind {
            tributary::Kind::Put => writeln!(
                out,
                "{} put {} {}",
                seq.0,
                escape(user_key),
                escape(it.value())
            )?,
            tributary::Kind::Delete => writeln!(out, "{} delete {}", seq.0, escape(user_key))?,
        }
        entries += 1;
        it.next();
    }
    out.flush()?;
    if let Some(e) = it.error() {
        return Err(damaged(e.clone()));
    }
    eprintln!(
        "{}: {entries} entries in {} data blocks{}",
        path.display(),
        table.data_blocks(),
        if table.has_filter() {
            ", with a Bloom filter"
        } else {
            ""
        }
    );
    Ok(())
}

fn demo(threads: usize, writes: usize) -> Result<(), Failure> {
    let (threads, writes) = (threads.max(1), writes.max(1));
    let dir = tempfile::tempdir()?;
    println!(
        "tributary demo: {threads} threads x {writes} synced puts into {}",
        dir.path().display()
    );
    let db = Arc::new(Db::open(dir.path(), Options::default())?);
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || -> Result<(), tributary::Error> {
                let opts = WriteOptions {
                    sync: true,
                    merge: true,
                };
                for i in 0..writes {
                    let key = format!("{:016}", t * writes + i);
                    db.put_with(key.as_bytes(), format!("value of {key}").as_bytes(), &opts)?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join()
            .map_err(|_| Failure::Db("a writer thread panicked".to_owned()))??;
    }
    let secs = started.elapsed().as_secs_f64();
    let s = db.stats();
    let total = threads * writes;
    println!(
        "  {total} synced writes in {secs:.2} s: {:.0} writes/s",
        total as f64 / secs
    );
    println!(
        "  {} group commits, {} fsyncs: {:.1} writes per fsync, {} fsyncs saved",
        s.writer.groups,
        s.writer.fsyncs,
        total as f64 / s.writer.fsyncs.max(1) as f64,
        (total as u64).saturating_sub(s.writer.fsyncs)
    );
    println!("  largest group: {} writes", s.writer.max_group);
    for i in [0, total / 2, total - 1] {
        let key = format!("{i:016}");
        let v = db.get(key.as_bytes())?;
        if v.as_deref() != Some(format!("value of {key}").as_bytes()) {
            return Err(Failure::Db(format!("read back {key}: wrong value {v:?}")));
        }
    }
    let db = Arc::into_inner(db).ok_or_else(|| Failure::Db("database still shared".to_owned()))?;
    db.close()?;
    let db = Db::open(dir.path(), Options::default())?;
    let count = db.iter().count();
    let report = db.recovery_report();
    println!(
        "  reopened: {} keys recovered from {} journal bytes in {:.1} ms",
        count,
        report.bytes(),
        report.elapsed.as_secs_f64() * 1e3
    );
    if count != total {
        return Err(Failure::Db(format!(
            "recovered {count} keys, wrote {total}"
        )));
    }
    db.close()?;
    Ok(())
}
