//! `tributary`: the command-line tool over a Tributary database, in the
//! manner of LevelDB's `leveldbutil` and RocksDB's `ldb`.
//!
//! ```text
//! tributary demo [--threads N] [--writes N]      group commit at work, in a temp directory
//! tributary --db DIR put KEY VALUE [--sync]      creates the database if there is none
//! tributary --db DIR get KEY                     prints the value; exit 1 if absent
//! tributary --db DIR delete KEY [--sync]
//! tributary --db DIR scan [--start K] [--end K] [--prefix P] [--reverse] [--limit N]
//! tributary --db DIR load < FILE                 puts what `scan` printed, in large batches
//! tributary --db DIR stats [--json]
//! tributary --db DIR compact [--start K] [--end K]   LevelDB's CompactRange; both ends inclusive
//! tributary --db DIR check                       what recovery would drop; exit 3 if damaged
//! tributary repair DIR                           rebuild from whatever is readable; damaged files kept in DIR/lost
//! tributary --db DIR export-leveldb              hand the directory back to LevelDB
//! tributary dump-journal FILE                    one line per record of a LevelDB-format log
//! tributary dump-table FILE                      one line per entry of a LevelDB-format table
//! tributary dump-manifest FILE                   one line per field of each edit (or --db DIR)
//! ```
//!
//! Keys and values are the bytes of the arguments, whatever they are; with
//! `--hex` they are given (bare or `0x`-prefixed) and printed as hex, so
//! that anything `scan` prints can be fed back. Without it, output escapes
//! bytes that are not printable ASCII, and spaces, as `\xNN`. The read
//! commands (`get`, `scan`, `stats`, `check`) open the database read-only:
//! they change nothing on disk and create nothing where there is no
//! database. A global flag a command has no use for is a usage error,
//! never ignored. Exit codes: 0 success (a closed pipe too), 1 key not
//! found, 2 usage error, 3 database error or damage found.

mod dump;
mod load;
mod logger;
mod maintenance;
mod progress;
mod text;

use clap::{ArgAction, CommandFactory, Parser, Subcommand};
use maintenance::KeyRange;
use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use text::Notation;
use tributary::{Db, Options, WriteOptions};

/// The command line.
#[derive(Parser)]
#[command(
    name = "tributary",
    version,
    about = "Tributary, an embedded key-value store built around group commit",
    after_help = "Exit codes: 0 success (also when stdout is a pipe closed early, as by `| head`), \
                  1 key not found, 2 usage error, 3 database error or damage found.\n\
                  Without -v, the library's warnings and errors are shown on stderr (data \
                  dropped or set aside, a LevelDB directory converted, a failing background \
                  flush); for `repair` only the errors, since its warnings repeat the report it \
                  prints."
)]
struct Cli {
    /// The database directory.
    #[arg(long, global = true, value_name = "DIR")]
    db: Option<PathBuf>,
    /// Keys and values are given and printed as hex, as `ldb --hex` does:
    /// bare or 0x-prefixed, either case. For the commands that take or
    /// print keys or values; the others refuse it.
    #[arg(long, global = true)]
    hex: bool,
    /// Show the library's events on stderr: -v adds flushes, compactions
    /// and recovery to the warnings, errors and progress lines shown
    /// always, -vv everything.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Group commit at work: many threads write synced puts into a fresh
    /// database in a temporary directory, then it is reopened and checked.
    /// Takes no --db and no --hex.
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
    /// Prints the value of KEY; exits 1, saying so on stderr, if it is
    /// absent.
    Get { key: OsString },
    /// Removes KEY (an absent key is not an error).
    Delete {
        key: OsString,
        /// Return only once the write is on stable storage.
        #[arg(long)]
        sync: bool,
    },
    /// Prints the live keys and values in key order, one `KEY VALUE` pair
    /// a line: escaped (a space, a backslash and every byte that is not
    /// printable ASCII as \xNN or \\), or with --hex as hex. `load` reads
    /// it back.
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
    /// Puts every `KEY VALUE` line of stdin, as `scan` prints them,
    /// creating the database if there is none.
    ///
    /// Without --hex a line is what `scan` prints: key and value escaped
    /// (\\ and \xNN; any other byte but a space stands for itself),
    /// separated by one space. With --hex both are hex, bare or
    /// 0x-prefixed, as `tributary --hex scan` prints them, or as
    /// `ldb dump --hex` does (`0xKEY ==> 0xVALUE`). Blank lines are
    /// skipped. The pairs are written in batches of 10,000 entries or
    /// 1 MiB, and synced once at the end; progress goes to stderr.
    ///
    /// A malformed line stops the load with exit 2, naming the line: the
    /// batches before the one holding it are loaded (the message says
    /// through which line), nothing of that batch or after it is.
    Load,
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
    /// before and after; progress goes to stderr.
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
    /// Rebuilds the database in DIR (or --db DIR) from whatever is readable
    /// (every table block that checks out, every journal record that
    /// reads; the newest version of each key), for when opening refuses.
    /// Damaged tables and journals and the old manifests are kept whole in
    /// DIR/lost. Prints what it salvaged and what it set aside.
    Repair { dir: Option<PathBuf> },
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
    /// Prints every record of a LevelDB-format log file, one line per
    /// batch entry (`SEQ put KEY VALUE`, `SEQ delete KEY`); exits 3 if it
    /// is damaged or torn, after the records it could read.
    DumpJournal { file: PathBuf },
    /// Prints every entry of a LevelDB-format table file (`.ldb` or
    /// `.sst`, Tributary's or LevelDB's), checking every block; exits 3 on
    /// damage, after the entries it could read.
    DumpTable { file: PathBuf },
    /// Prints every record of a manifest, Tributary's or LevelDB's: each
    /// edit's fields one a line (tables added and deleted with their level,
    /// number, size and first and last keys; log number, next file number,
    /// last sequence). Without FILE, the manifest CURRENT names in --db
    /// DIR. Exits 3 on a damaged record, naming its offset.
    DumpManifest { file: Option<PathBuf> },
}

/// Why a command did not succeed, and so its exit code.
enum Failure {
    /// Exit 1: the key asked for is absent (the message says which).
    NotFound(String),
    /// Exit 2, with the subcommand's usage.
    Usage(String),
    /// Exit 3: the database, or a file, is damaged or cannot be used.
    Db(String),
    /// Exit 0, silently: stdout is a pipe whose reader is gone (`| head`),
    /// so it has all it wanted.
    ClosedPipe,
}

impl<E: std::error::Error + 'static> From<E> for Failure {
    fn from(e: E) -> Failure {
        // The one place a closed stdout is told from other errors: every
        // command prints through `out` and turns a failed write into a
        // `Failure` with `?`, and a bare `io::Error` comes from nowhere
        // else (file errors are mapped to messages naming the file, and
        // the library's are `tributary::Error`).
        let io_error = (&e as &dyn std::error::Error).downcast_ref::<io::Error>();
        if io_error.is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) {
            return Failure::ClosedPipe;
        }
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
    logger::install(log_level(&cli));
    let mut out = io::BufWriter::new(io::stdout().lock());
    let result = run(&cli, &mut out);
    // What was printed goes out before any message about what failed.
    let flushed = out.flush();
    match result.and_then(|()| flushed.map_err(Failure::from)) {
        Ok(()) | Err(Failure::ClosedPipe) => ExitCode::SUCCESS,
        Err(Failure::NotFound(msg)) => {
            eprintln!("tributary: {msg}");
            ExitCode::from(1)
        }
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

/// The library events shown on stderr: warnings and errors; with -v
/// information and debugging events too, with -vv everything. Progress
/// events (a long `check`, `repair` or `compact`) show at every level
/// (`logger`).
fn log_level(cli: &Cli) -> log::LevelFilter {
    match cli.verbose {
        0 => log::LevelFilter::Warn,
        1 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
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

/// The subcommand's name, as typed.
fn subcommand_name(cmd: &Cmd) -> &'static str {
    match cmd {
        Cmd::Demo { .. } => "demo",
        Cmd::Put { .. } => "put",
        Cmd::Get { .. } => "get",
        Cmd::Delete { .. } => "delete",
        Cmd::Scan { .. } => "scan",
        Cmd::Load => "load",
        Cmd::Stats { .. } => "stats",
        Cmd::Compact { .. } => "compact",
        Cmd::Check => "check",
        Cmd::Repair { .. } => "repair",
        Cmd::ExportLeveldb { .. } => "export-leveldb",
        Cmd::DumpJournal { .. } => "dump-journal",
        Cmd::DumpTable { .. } => "dump-table",
        Cmd::DumpManifest { .. } => "dump-manifest",
    }
}

/// What a command makes of `--db`.
enum DbFlag {
    /// It is the database the command works on.
    Needed,
    /// It names the directory when the command's own argument does not
    /// (`repair`, `dump-manifest`).
    InsteadOfArgument,
    /// The command works on a file, or on a directory of its own: a `--db`
    /// would be silently ignored, so it is refused.
    Refused(&'static str),
}

/// What `cmd` makes of `--db`.
fn db_flag(cmd: &Cmd) -> DbFlag {
    match cmd {
        Cmd::Demo { .. } => DbFlag::Refused("it runs in a temporary directory of its own"),
        Cmd::DumpJournal { .. } | Cmd::DumpTable { .. } => DbFlag::Refused("it reads FILE"),
        Cmd::Repair { .. } | Cmd::DumpManifest { .. } => DbFlag::InsteadOfArgument,
        _ => DbFlag::Needed,
    }
}

/// Whether a command takes or prints keys or values, so that `--hex`
/// means something to it.
fn takes_hex(cmd: &Cmd) -> bool {
    match cmd {
        Cmd::Put { .. }
        | Cmd::Get { .. }
        | Cmd::Delete { .. }
        | Cmd::Scan { .. }
        | Cmd::Load
        | Cmd::Compact { .. }
        | Cmd::DumpJournal { .. }
        | Cmd::DumpTable { .. }
        | Cmd::DumpManifest { .. } => true,
        Cmd::Demo { .. }
        | Cmd::Stats { .. }
        | Cmd::Check
        | Cmd::Repair { .. }
        | Cmd::ExportLeveldb { .. } => false,
    }
}

/// Refuses a global flag the command would ignore.
fn refuse_unused_flags(cli: &Cli) -> Result<(), Failure> {
    let name = subcommand_name(&cli.command);
    if let (Some(_), DbFlag::Refused(why)) = (&cli.db, db_flag(&cli.command)) {
        return Err(Failure::Usage(format!("{name} takes no --db: {why}")));
    }
    if cli.hex && !takes_hex(&cli.command) {
        return Err(Failure::Usage(format!(
            "{name} takes no --hex: it neither takes nor prints keys or values"
        )));
    }
    Ok(())
}

/// Where `repair` and `dump-manifest` find what they work on.
enum Target {
    /// Their own argument: a directory, or a manifest.
    Argument(PathBuf),
    /// `--db DIR`.
    Db(PathBuf),
}

/// A command's argument or `--db`: exactly one of them, `what` naming the
/// argument in the usage error.
fn argument_or_db(cli: &Cli, argument: Option<&Path>, what: &str) -> Result<Target, Failure> {
    let name = subcommand_name(&cli.command);
    match (argument, &cli.db) {
        (Some(path), None) => Ok(Target::Argument(path.to_path_buf())),
        (None, Some(dir)) => Ok(Target::Db(dir.clone())),
        (None, None) => Err(Failure::Usage(format!("{name} needs {what} or --db DIR"))),
        (Some(_), Some(_)) => Err(Failure::Usage(format!(
            "{name} takes {what} or --db DIR, not both"
        ))),
    }
}

/// Runs the command, printing what it prints to `out`.
fn run(cli: &Cli, out: &mut dyn Write) -> Result<(), Failure> {
    refuse_unused_flags(cli)?;
    let notation = if cli.hex {
        Notation::Hex
    } else {
        Notation::Plain
    };
    let parse = |what: &str, arg: &OsString| notation.parse_arg(what, arg).map_err(Failure::Usage);
    let parse_opt =
        |what: &str, arg: &Option<OsString>| arg.as_ref().map(|a| parse(what, a)).transpose();
    let need_db = || {
        cli.db.clone().ok_or_else(|| {
            Failure::Usage(format!("{} needs --db DIR", subcommand_name(&cli.command)))
        })
    };
    match &cli.command {
        Cmd::Demo { threads, writes } => demo(*threads, *writes, out),
        Cmd::DumpJournal { file } => dump::dump_journal(file, notation, out),
        Cmd::DumpTable { file } => dump::dump_table(file, notation, out),
        Cmd::DumpManifest { file } => {
            let file = match argument_or_db(cli, file.as_deref(), "FILE")? {
                Target::Argument(file) => file,
                Target::Db(dir) => current_manifest(&dir)?,
            };
            dump::dump_manifest(&file, notation, out)
        }
        Cmd::Put { key, value, sync } => {
            let (key, value) = (parse("KEY", key)?, parse("VALUE", value)?);
            let db = Db::open(need_db()?, Options::default())?;
            db.put_with(key, value, &write_options(*sync))?;
            db.close()?;
            Ok(())
        }
        Cmd::Delete { key, sync } => {
            let key = parse("KEY", key)?;
            let db = Db::open(need_db()?, Options::default())?;
            db.delete_with(key, &write_options(*sync))?;
            db.close()?;
            Ok(())
        }
        Cmd::Get { key } => get(&need_db()?, &parse("KEY", key)?, notation, out),
        Cmd::Scan {
            start,
            end,
            prefix,
            reverse,
            limit,
        } => {
            let range = ScanRange {
                start: parse_opt("--start", start)?,
                end: parse_opt("--end", end)?,
                prefix: parse_opt("--prefix", prefix)?,
                reverse: *reverse,
                limit: limit.unwrap_or(usize::MAX),
            };
            scan(&need_db()?, range, notation, out)
        }
        Cmd::Load => {
            let db = Db::open(need_db()?, Options::default())?;
            let loaded = load::load(&db, notation, &mut io::stdin().lock());
            // What was loaded before a malformed line is synced too.
            db.close()?;
            loaded
        }
        Cmd::Stats { json } => {
            let db = Db::open_read_only(need_db()?, Options::default())?;
            stats(&db, *json, out)
        }
        Cmd::Compact { start, end } => {
            let range = KeyRange {
                start: parse_opt("--start", start)?,
                end: parse_opt("--end", end)?,
            };
            maintenance::compact(&need_db()?, range, notation, out)
        }
        Cmd::Check => maintenance::check(&need_db()?, out),
        Cmd::Repair { dir } => {
            let (Target::Argument(dir) | Target::Db(dir)) =
                argument_or_db(cli, dir.as_deref(), "DIR")?;
            maintenance::repair(&dir, out)
        }
        Cmd::ExportLeveldb { rewrite_zstd } => export_leveldb(&need_db()?, *rewrite_zstd, out),
    }
}

/// Options of a `put` or `delete`.
fn write_options(sync: bool) -> WriteOptions {
    WriteOptions { sync, merge: true }
}

/// `get`: the value of `key`, raw (or hex) and a newline.
fn get(dir: &Path, key: &[u8], notation: Notation, out: &mut dyn Write) -> Result<(), Failure> {
    let db = Db::open_read_only(dir, Options::default())?;
    let Some(value) = db.get(key)? else {
        return Err(Failure::NotFound(format!(
            "key not found: {}",
            notation.show(key)
        )));
    };
    match notation {
        Notation::Hex => writeln!(out, "{}", notation.show(&value))?,
        Notation::Plain => {
            out.write_all(&value)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// What `scan` walks.
struct ScanRange {
    /// The first key (inclusive).
    start: Option<Vec<u8>>,
    /// The key to stop before.
    end: Option<Vec<u8>>,
    /// Only keys with this prefix (clap keeps it apart from the bounds).
    prefix: Option<Vec<u8>>,
    /// Walk backwards.
    reverse: bool,
    /// Pairs to print at most.
    limit: usize,
}

/// `scan`: one `KEY VALUE` line per live pair.
fn scan(
    dir: &Path,
    range: ScanRange,
    notation: Notation,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let db = Db::open_read_only(dir, Options::default())?;
    let iter = match (range.prefix, range.start, range.end) {
        (Some(p), _, _) => db.prefix(p),
        (None, Some(s), Some(e)) => db.range(s..e),
        (None, Some(s), None) => db.range(s..),
        (None, None, Some(e)) => db.range(..e),
        (None, None, None) => db.iter(),
    };
    type Item = Result<(Vec<u8>, Vec<u8>), tributary::Error>;
    let items: Box<dyn Iterator<Item = Item>> = if range.reverse {
        Box::new(iter.rev())
    } else {
        Box::new(iter)
    };
    for item in items.take(range.limit) {
        let (k, v) = item?;
        writeln!(out, "{} {}", notation.show(&k), notation.show(&v))?;
    }
    Ok(())
}

/// The manifest `CURRENT` names in `dir`.
fn current_manifest(dir: &Path) -> Result<PathBuf, Failure> {
    let current = dir.join("CURRENT");
    let contents = std::fs::read(&current)
        .map_err(|e| Failure::Db(format!("read {}: {e}", current.display())))?;
    let number = tributary::version::manifest::parse_current(&contents).ok_or_else(|| {
        Failure::Db(format!(
            "{}: does not name a manifest (MANIFEST-NNNNNN and a newline)",
            current.display()
        ))
    })?;
    Ok(dir.join(tributary::version::manifest::manifest_name(number)))
}

/// `export-leveldb`: a manifest LevelDB reads, named by `CURRENT`.
fn export_leveldb(dir: &Path, rewrite_zstd: bool, out: &mut dyn Write) -> Result<(), Failure> {
    let options = Options {
        create_if_missing: false,
        ..Options::default()
    };
    let export = tributary::ExportOptions { rewrite_zstd };
    let exported = Db::open(dir, options)?.export_leveldb(export)?;
    writeln!(
        out,
        "exported for LevelDB: CURRENT names {} ({} tables, {} rewritten with Snappy, \
         last sequence {})",
        exported.manifest.display(),
        exported.tables,
        exported.rewritten,
        exported.last_seq
    )?;
    Ok(())
}

/// `stats`: what `leveldb.stats` users expect, laid out for people, or one
/// JSON object.
fn stats(db: &Db, json: bool, out: &mut dyn Write) -> Result<(), Failure> {
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
        writeln!(out, "{value}")?;
        return Ok(());
    }
    writeln!(out, "Database {}", db.path().display())?;
    writeln!(out, "  last sequence number  {}", s.last_seq)?;
    writeln!(out)?;
    writeln!(out, "                              Data")?;
    writeln!(out, "Kind               Count   Entries  Size(MB)")?;
    writeln!(out, "-------------------------------------------")?;
    let row = |out: &mut dyn Write, kind: &str, count: String, entries: String, bytes: u64| {
        writeln!(
            out,
            "{kind:<16} {count:>7} {entries:>9} {:>9.2}",
            mib(bytes)
        )
    };
    row(
        out,
        "memtable",
        "1".into(),
        s.memtable_entries.to_string(),
        s.memtable_bytes as u64,
    )?;
    row(
        out,
        "frozen memtable",
        s.frozen_memtables.to_string(),
        "-".into(),
        s.frozen_bytes as u64,
    )?;
    for (level, (files, bytes)) in s.files_per_level.iter().zip(&s.bytes_per_level).enumerate() {
        if *files > 0 {
            row(
                out,
                &format!("level {level} tables"),
                files.to_string(),
                "-".into(),
                *bytes,
            )?;
        }
    }
    row(
        out,
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

/// `demo`: group commit at work in a temporary directory.
fn demo(threads: usize, writes: usize, out: &mut dyn Write) -> Result<(), Failure> {
    let (threads, writes) = (threads.max(1), writes.max(1));
    let dir = tempfile::tempdir()?;
    writeln!(
        out,
        "tributary demo: {threads} threads x {writes} synced puts into {}",
        dir.path().display()
    )?;
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
    writeln!(
        out,
        "  {total} synced writes in {secs:.2} s: {:.0} writes/s",
        total as f64 / secs
    )?;
    writeln!(
        out,
        "  {} group commits, {} fsyncs: {:.1} writes per fsync, {} fsyncs saved",
        s.writer.groups,
        s.writer.fsyncs,
        total as f64 / s.writer.fsyncs.max(1) as f64,
        (total as u64).saturating_sub(s.writer.fsyncs)
    )?;
    writeln!(out, "  largest group: {} writes", s.writer.max_group)?;
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
    writeln!(
        out,
        "  reopened: {} keys recovered from {} journal bytes in {:.1} ms",
        count,
        report.bytes(),
        report.elapsed.as_secs_f64() * 1e3
    )?;
    if count != total {
        return Err(Failure::Db(format!(
            "recovered {count} keys, wrote {total}"
        )));
    }
    db.close()?;
    Ok(())
}
