//! `tributary`: the command-line tool over a Tributary database.
//!
//! ```text
//! tributary demo [--threads N] [--writes N]      group commit at work, in a temp directory
//! tributary --db DIR put KEY VALUE [--sync]
//! tributary --db DIR get KEY                      prints the value; exit 1 if absent
//! tributary --db DIR delete KEY [--sync]
//! tributary --db DIR scan [--start K] [--end K] [--prefix P] [--reverse] [--limit N]
//! tributary --db DIR stats
//! tributary --db DIR check                        what recovery would drop; exit 3 if damaged
//! tributary dump-journal FILE                     one line per record of a LevelDB-format log
//! ```
//!
//! Keys and values are taken as bytes of the arguments; output escapes bytes
//! that are not printable ASCII as `\xNN`. Exit codes: 0 success, 1 key not
//! found, 2 usage error, 3 database error or damage found.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use tributary::{Batch, Db, Options, WriteOptions};

const USAGE: &str = "usage:
  tributary demo [--threads N] [--writes N]
  tributary --db DIR put KEY VALUE [--sync]
  tributary --db DIR get KEY
  tributary --db DIR delete KEY [--sync]
  tributary --db DIR scan [--start KEY] [--end KEY] [--prefix P] [--reverse] [--limit N]
  tributary --db DIR stats
  tributary --db DIR check
  tributary dump-journal FILE
exit codes: 0 ok, 1 key not found, 2 usage error, 3 database error";

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
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::NotFound) => ExitCode::from(1),
        Err(Failure::Usage(msg)) => {
            eprintln!("tributary: {msg}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Db(msg)) => {
            eprintln!("tributary: {msg}");
            ExitCode::from(3)
        }
    }
}

fn usage(msg: impl Into<String>) -> Failure {
    Failure::Usage(msg.into())
}

/// The arguments after the subcommand: positionals, and `--flag [value]`
/// options.
struct Args {
    positional: Vec<String>,
    flags: Vec<(String, Option<String>)>,
}

impl Args {
    fn parse(
        args: &[String],
        with_value: &[&str],
        without_value: &[&str],
    ) -> Result<Args, Failure> {
        let mut positional = Vec::new();
        let mut flags = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                if with_value.contains(&name) {
                    let v = it
                        .next()
                        .ok_or_else(|| usage(format!("--{name} needs a value")))?;
                    flags.push((name.to_owned(), Some(v.clone())));
                } else if without_value.contains(&name) {
                    flags.push((name.to_owned(), None));
                } else {
                    return Err(usage(format!("unknown option --{name}")));
                }
            } else {
                positional.push(a.clone());
            }
        }
        Ok(Args { positional, flags })
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| n == name)
    }

    fn number(&self, name: &str, default: usize) -> Result<usize, Failure> {
        match self.value(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| usage(format!("--{name} wants a number, got {v:?}"))),
        }
    }

    fn exactly(&self, n: usize, what: &str) -> Result<&[String], Failure> {
        if self.positional.len() != n {
            return Err(usage(format!("expected {what}")));
        }
        Ok(&self.positional)
    }
}

fn run(args: Vec<String>) -> Result<(), Failure> {
    let (db_dir, rest): (Option<PathBuf>, &[String]) = match args.as_slice() {
        [flag, dir, rest @ ..] if flag == "--db" => (Some(PathBuf::from(dir)), rest),
        rest => (None, rest),
    };
    let Some((command, rest)) = rest.split_first() else {
        return Err(usage("no command"));
    };
    let need_db = || {
        db_dir
            .clone()
            .ok_or_else(|| usage(format!("{command} needs --db DIR")))
    };
    match command.as_str() {
        "demo" => demo(&Args::parse(rest, &["threads", "writes"], &[])?),
        "dump-journal" => {
            let a = Args::parse(rest, &[], &[])?;
            dump_journal(Path::new(&a.exactly(1, "a journal FILE")?[0]))
        }
        "put" => {
            let a = Args::parse(rest, &[], &["sync"])?;
            let kv = a.exactly(2, "KEY VALUE")?;
            let db = open(&need_db()?)?;
            let opts = WriteOptions {
                sync: a.has("sync"),
                merge: true,
            };
            db.put_with(kv[0].as_bytes(), kv[1].as_bytes(), &opts)?;
            db.close()?;
            Ok(())
        }
        "delete" => {
            let a = Args::parse(rest, &[], &["sync"])?;
            let k = a.exactly(1, "KEY")?;
            let db = open(&need_db()?)?;
            let opts = WriteOptions {
                sync: a.has("sync"),
                merge: true,
            };
            db.delete_with(k[0].as_bytes(), &opts)?;
            db.close()?;
            Ok(())
        }
        "get" => {
            let a = Args::parse(rest, &[], &[])?;
            let k = a.exactly(1, "KEY")?;
            let db = open(&need_db()?)?;
            let value = db.get(k[0].as_bytes())?;
            db.close()?;
            match value {
                Some(v) => {
                    let mut out = io::stdout().lock();
                    out.write_all(&v)?;
                    out.write_all(b"\n")?;
                    Ok(())
                }
                None => Err(Failure::NotFound),
            }
        }
        "scan" => {
            let a = Args::parse(rest, &["start", "end", "prefix", "limit"], &["reverse"])?;
            a.exactly(0, "no positional argument")?;
            let db = open(&need_db()?)?;
            let iter = match (a.value("prefix"), a.value("start"), a.value("end")) {
                (Some(p), None, None) => db.prefix(p.as_bytes()),
                (Some(_), _, _) => return Err(usage("--prefix excludes --start and --end")),
                (None, Some(s), Some(e)) => db.range(s.as_bytes()..e.as_bytes()),
                (None, Some(s), None) => db.range(s.as_bytes()..),
                (None, None, Some(e)) => db.range(..e.as_bytes()),
                (None, None, None) => db.iter(),
            };
            let limit = a.number("limit", usize::MAX)?;
            let items: Box<dyn Iterator<Item = (Vec<u8>, Vec<u8>)>> = if a.has("reverse") {
                Box::new(iter.rev())
            } else {
                Box::new(iter)
            };
            let mut out = io::BufWriter::new(io::stdout().lock());
            for (k, v) in items.take(limit) {
                writeln!(out, "{} {}", escape(&k), escape(&v))?;
            }
            out.flush()?;
            drop(out);
            db.close()?;
            Ok(())
        }
        "stats" => {
            Args::parse(rest, &[], &[])?.exactly(0, "no argument")?;
            let db = open(&need_db()?)?;
            let s = db.stats();
            let r = db.recovery_report();
            println!("last_seq {}", s.last_seq);
            println!("memtable_bytes {}", s.memtable_bytes);
            println!("memtable_entries {}", s.memtable_entries);
            println!("frozen_memtables {}", s.frozen_memtables);
            println!("frozen_bytes {}", s.frozen_bytes);
            println!("run_entries {}", s.run_entries);
            println!("run_bytes {}", s.run_bytes);
            println!("journal_bytes {}", s.journal_bytes);
            println!("journals {}", r.journals.len());
            println!("recovered_batches {}", r.batches());
            db.close()?;
            Ok(())
        }
        "check" => {
            Args::parse(rest, &[], &[])?.exactly(0, "no argument")?;
            let dir = need_db()?;
            let report = Db::check(&dir, &Options::default())?;
            for j in &report.journals {
                println!(
                    "{} {} bytes, {} batches, {} records",
                    j.path.display(),
                    j.bytes,
                    j.batches,
                    j.records
                );
            }
            for d in &report.dropped {
                let kind = match d.kind {
                    tributary::DropKind::TornTail => "torn tail",
                    _ => "damage",
                };
                println!(
                    "drop {} offset {} len {} ({kind}): {}",
                    d.path.display(),
                    d.offset,
                    d.len,
                    d.reason
                );
            }
            for s in &report.set_aside {
                match s.cut_to {
                    None => println!("set aside {} as {}", s.path.display(), s.kept_as.display()),
                    Some(len) => println!(
                        "cut {} to {len} bytes, its original kept as {}",
                        s.path.display(),
                        s.kept_as.display()
                    ),
                }
            }
            if let Some(d) = &report.damage {
                println!(
                    "DAMAGE {} at offset {}: {}",
                    d.path.display(),
                    d.offset,
                    d.reason
                );
            }
            println!("last_seq {}", report.last_seq);
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
        other => Err(usage(format!("unknown command {other:?}"))),
    }
}

fn open(dir: &Path) -> Result<Db, Failure> {
    Ok(Db::open(dir, Options::default())?)
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

/// Group commit at work: many threads write synced puts at once into a
/// fresh database in a temporary directory; each fsync covers many writes.
fn demo(a: &Args) -> Result<(), Failure> {
    a.exactly(0, "no positional argument")?;
    let threads = a.number("threads", 16)?.max(1);
    let writes = a.number("writes", 500)?.max(1);
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
