//! RELIABILITY.md R1: the damage matrix. A multi-journal database (synced
//! and unsynced) is damaged in every way on the list (each journal deleted
//! in turn, truncations at chunk, record and block boundaries, byte flips in
//! the first, middle and last record of each journal, swapped, duplicated
//! and hard-linked journals, foreign files, file numbers at the edge of
//! `u64`), then opened in both modes. For each case the expected outcome is
//! worked out from the layout of the records, independently of recovery's
//! code, and checked:
//!
//! - no panic, and an answer within a time bound;
//! - every byte present before the open is still present in some file
//!   after it (set-aside files are in `lost/`);
//! - strict opens exactly when the only damage is a torn tail no later
//!   record follows, and then changes nothing but that tail; when it
//!   refuses, the directory is unchanged;
//! - point-in-time recovers exactly the prefix before the first damage,
//!   says whether acknowledged writes may be lost, and takes the next
//!   write at the next sequence number;
//! - a second open agrees with the first and finds nothing left to repair,
//!   even in strict mode.
//!
//! Non-regular files (FIFOs, symbolic links to devices, sockets,
//! directories) need a real file system: they run on a temporary
//! directory.

mod common;

use common::{assert_nothing_destroyed, build_history, contents, dir, files, options, History};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;
use tributary::fs::{FaultFs, Fs};
use tributary::{Db, Error, Options, RecoveryMode, WriteOptions};

/// What opening a damaged directory must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Point-in-time recovers up to `prefix`, and reports possible loss of
    /// acknowledged writes unless `strict_ok`; strict opens only if
    /// `strict_ok`, and then to the same prefix.
    Recover { prefix: u64, strict_ok: bool },
    /// Both modes refuse with `ForeignFile` or `FileNumberExhausted`,
    /// changing nothing.
    Refuse,
}

struct Case {
    what: String,
    fs: FaultFs,
    expect: Expect,
}

/// Opens with a time bound: recovery must never hang.
fn open_bounded(options: Options) -> Result<Db, Error> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(Db::open(dir(), options));
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("recovery did not answer within 30 s")
}

fn with_mode(fs: &FaultFs, h: &History, recovery: RecoveryMode) -> Options {
    Options {
        recovery,
        ..options(fs, h.write_buffer)
    }
}

/// Every case of the matrix over `h`.
fn cases(h: &History) -> Vec<Case> {
    let n = h.journals.len();
    let mut cases = Vec::new();
    let mut add = |what: String, fs: FaultFs, expect: Expect| cases.push(Case { what, fs, expect });

    for (k, j) in h.journals.iter().enumerate() {
        // Each journal deleted in turn.
        let fs = h.fs.snapshot();
        fs.remove(&j.path).unwrap();
        let expect = if j.records.is_empty() {
            Expect::Recover {
                prefix: h.last(),
                strict_ok: true,
            }
        } else {
            Expect::Recover {
                prefix: h.last_before(k),
                strict_ok: !h.records_after(k),
            }
        };
        add(format!("journal {} deleted", j.number), fs, expect);

        // Truncations: inside a header, at and inside records, at block
        // boundaries, one byte short.
        let mut cuts = vec![0, 3, j.len.saturating_sub(1)];
        for r in [
            j.records.first(),
            j.records.get(j.records.len() / 2),
            j.records.last(),
        ]
        .into_iter()
        .flatten()
        {
            cuts.extend([r.start, r.start + 5, r.start + 10, r.end - 1, r.end]);
        }
        cuts.extend((1..=j.len / 32768).map(|b| b * 32768));
        cuts.sort_unstable();
        cuts.dedup();
        for cut in cuts.into_iter().filter(|&c| c < j.len) {
            let fs = h.fs.snapshot();
            assert!(fs.set_len(&j.path, cut));
            let kept: Vec<_> = j.records.iter().filter(|r| r.end <= cut).collect();
            let lost = kept.len() < j.records.len();
            let prefix = kept.last().map_or(h.last_before(k), |r| r.last_seq);
            let expect = Expect::Recover {
                prefix: if lost { prefix } else { h.last() },
                strict_ok: !lost || !h.records_after(k),
            };
            add(
                format!("journal {} cut to {cut} bytes", j.number),
                fs,
                expect,
            );
        }

        // A flipped byte in the data of the first, middle and last record.
        // The one before the last: its successor is often in the same
        // block, which a reader resynchronising at block starts never sees.
        let n_records = j.records.len();
        let picks = [
            0,
            n_records / 2,
            n_records.saturating_sub(2),
            n_records.saturating_sub(1),
        ];
        let mut picked: Vec<usize> = picks.into_iter().filter(|&i| i < j.records.len()).collect();
        picked.sort_unstable();
        picked.dedup();
        for i in picked {
            let r = j.records[i];
            let fs = h.fs.snapshot();
            let data = fs.contents(&j.path).unwrap();
            let chunk_len = u16::from_le_bytes([data[r.start + 4], data[r.start + 5]]) as usize;
            let at = r.start + 7 + chunk_len / 2;
            assert!(fs.corrupt_byte(&j.path, at, |b| b ^ 0x40));
            let prefix = if i == 0 {
                h.last_before(k)
            } else {
                j.records[i - 1].last_seq
            };
            // Damage with a readable record after it in the journal is no
            // crash; damage in the last record is a torn tail, which only
            // a later journal's records show as loss.
            let last_in_journal = i + 1 == j.records.len();
            let expect = Expect::Recover {
                prefix,
                strict_ok: last_in_journal && !h.records_after(k),
            };
            add(
                format!(
                    "journal {} record {i} of {} flipped at {at}",
                    j.number,
                    j.records.len()
                ),
                fs,
                expect,
            );
        }
    }

    let with_records: Vec<usize> = (0..n)
        .filter(|&k| !h.journals[k].records.is_empty())
        .collect();
    let newest = h.journals.last().unwrap().number;
    // Swapped journals: adjacent, first and last.
    let mut pairs: Vec<(usize, usize)> = with_records.windows(2).map(|w| (w[0], w[1])).collect();
    pairs.push((with_records[0], *with_records.last().unwrap()));
    for (a, b) in pairs {
        let fs = h.fs.snapshot();
        let (pa, pb) = (&h.journals[a].path, &h.journals[b].path);
        let tmp = dir().join("swap");
        fs.rename(pa, &tmp).unwrap();
        fs.rename(pb, pa).unwrap();
        fs.rename(&tmp, pb).unwrap();
        add(
            format!(
                "journals {} and {} swapped",
                h.journals[a].number, h.journals[b].number
            ),
            fs,
            Expect::Recover {
                prefix: h.last_before(a),
                strict_ok: false,
            },
        );
    }
    for &k in &with_records {
        let j = &h.journals[k];
        // A copy of a journal as the newest: history repeated.
        let fs = h.fs.snapshot();
        let copy = dir().join(format!("{:06}.log", newest + 1));
        write_file(&fs, &copy, &fs.contents(&j.path).unwrap());
        add(
            format!("journal {} copied as {}", j.number, newest + 1),
            fs,
            Expect::Recover {
                prefix: h.last(),
                strict_ok: false,
            },
        );
        // A hard link: never touched.
        let fs = h.fs.snapshot();
        assert!(fs.link(&j.path, &dir().join(format!("{:06}.log", newest + 10))));
        add(
            format!("journal {} hard-linked", j.number),
            fs,
            Expect::Refuse,
        );
    }
    // A foreign regular file named like the newest journal: what a torn
    // first write of a new journal looks like. Kept whole in `lost/`.
    let fs = h.fs.snapshot();
    let mut rng = 7u64;
    let garbage: Vec<u8> = (0..3000)
        .map(|_| common::splitmix64(&mut rng) as u8)
        .collect();
    write_file(&fs, &dir().join(format!("{:06}.log", newest + 1)), &garbage);
    add(
        "garbage as the newest journal".to_owned(),
        fs,
        Expect::Recover {
            prefix: h.last(),
            strict_ok: true,
        },
    );
    // File numbers at the edge of u64, and past the largest the database
    // makes (issue #23, item 3).
    for name in [
        format!("{}.log", u64::MAX),
        format!("{}.log", u64::MAX - 1),
        format!("{}.ldb", tributary::MAX_FILE_NUMBER + 1),
        format!("MANIFEST-{}", tributary::MAX_FILE_NUMBER + 1),
        "99999999999999999999.log".to_owned(),
    ] {
        let fs = h.fs.snapshot();
        write_file(&fs, &dir().join(&name), b"");
        add(format!("an empty {name}"), fs, Expect::Refuse);
    }
    cases
}

fn write_file(fs: &FaultFs, path: &Path, bytes: &[u8]) {
    let mut file = fs.create(path).unwrap();
    std::io::Write::write_all(&mut file, bytes).unwrap();
    journal::SyncWrite::sync_data(&mut file).unwrap();
    fs.sync_dir(dir()).unwrap();
}

/// Runs one case in both modes; returns the number of opens checked.
fn check_case(h: &History, case: &Case) -> u64 {
    let ctx = &case.what;
    let before = files(&case.fs);
    match case.expect {
        Expect::Refuse => {
            for mode in [RecoveryMode::PointInTime, RecoveryMode::Strict] {
                let fs = case.fs.snapshot();
                match open_bounded(with_mode(&fs, h, mode)) {
                    Err(Error::ForeignFile { .. } | Error::FileNumberExhausted { .. }) => {}
                    other => panic!("{ctx}, {mode:?}: expected a refusal, got {other:?}"),
                }
                assert_eq!(
                    files(&fs),
                    before,
                    "{ctx}, {mode:?}: a refusal changed files"
                );
                match Db::check(dir(), &with_mode(&fs, h, mode)) {
                    Err(Error::ForeignFile { .. } | Error::FileNumberExhausted { .. }) => {}
                    other => panic!("{ctx}, check: expected a refusal, got {other:?}"),
                }
            }
            2
        }
        Expect::Recover { prefix, strict_ok } => {
            // Strict first, on its own copy.
            let fs = case.fs.snapshot();
            match open_bounded(with_mode(&fs, h, RecoveryMode::Strict)) {
                Ok(db) => {
                    assert!(
                        strict_ok,
                        "{ctx}: strict opened over damage: {:?}",
                        db.recovery_report()
                    );
                    assert_eq!(
                        db.recovery_report().last_seq.0,
                        prefix,
                        "{ctx}: strict prefix"
                    );
                    assert_eq!(
                        contents(&db),
                        h.oracle.state_at(prefix),
                        "{ctx}: strict state"
                    );
                    db.close().unwrap();
                    assert_nothing_destroyed(&before, &files(&fs), ctx);
                }
                Err(Error::Corruption { path, .. }) => {
                    assert!(
                        !strict_ok,
                        "{ctx}: strict refused a torn tail ({})",
                        path.display()
                    );
                    assert_eq!(
                        files(&fs),
                        before,
                        "{ctx}: strict refused but changed files"
                    );
                }
                Err(e) => panic!("{ctx}: strict: {e}"),
            }

            // Point-in-time, then a second open of each mode.
            let fs = case.fs.snapshot();
            let checked = Db::check(dir(), &with_mode(&fs, h, RecoveryMode::PointInTime))
                .unwrap_or_else(|e| panic!("{ctx}: check: {e}"));
            assert_eq!(files(&fs), before, "{ctx}: check changed files");
            let db = open_bounded(with_mode(&fs, h, RecoveryMode::PointInTime))
                .unwrap_or_else(|e| panic!("{ctx}: point-in-time: {e}"));
            let report = db.recovery_report().clone();
            assert_eq!(report.last_seq.0, prefix, "{ctx}: prefix; {report:?}");
            assert_eq!(checked.last_seq, report.last_seq, "{ctx}: check agrees");
            assert_eq!(checked.damage, report.damage, "{ctx}: check agrees");
            assert_eq!(
                report.damage.is_some(),
                !strict_ok,
                "{ctx}: possible loss reported exactly when strict refuses; {report:?}"
            );
            assert_eq!(contents(&db), h.oracle.state_at(prefix), "{ctx}: state");
            let seq = db
                .put_with(
                    b"probe",
                    b"1",
                    &WriteOptions {
                        sync: true,
                        merge: true,
                    },
                )
                .map(|()| db.stats().last_seq.0)
                .unwrap_or_else(|e| panic!("{ctx}: write after recovery: {e}"));
            assert_eq!(seq, prefix + 1, "{ctx}: the next write's sequence number");
            db.close().unwrap();
            assert_nothing_destroyed(&before, &files(&fs), ctx);

            let mut expected = h.oracle.state_at(prefix);
            expected.insert(b"probe".to_vec(), b"1".to_vec());
            for mode in [RecoveryMode::PointInTime, RecoveryMode::Strict] {
                let again = open_bounded(with_mode(&fs, h, mode))
                    .unwrap_or_else(|e| panic!("{ctx}: second open, {mode:?}: {e}"));
                let r = again.recovery_report();
                assert_eq!(r.last_seq.0, prefix + 1, "{ctx}: second open, {mode:?}");
                assert!(
                    r.set_aside.is_empty() && r.damage.is_none(),
                    "{ctx}: {mode:?}: {r:?}"
                );
                assert_eq!(contents(&again), expected, "{ctx}: second open's state");
                again.close().unwrap();
            }
            5
        }
    }
}

fn run_matrix(synced: bool) {
    let h = build_history(900, 300, synced, if synced { 11 } else { 12 });
    assert!(
        h.journals.iter().filter(|j| !j.records.is_empty()).count() >= 4,
        "the history must span several journals: {:?}",
        h.journals
            .iter()
            .map(|j| j.records.len())
            .collect::<Vec<_>>()
    );
    let cases = cases(&h);
    let mut opens = 0;
    let mut strict_refusals = 0;
    for case in &cases {
        opens += check_case(&h, case);
        if matches!(
            case.expect,
            Expect::Recover {
                strict_ok: false,
                ..
            }
        ) {
            strict_refusals += 1;
        }
    }
    eprintln!(
        "R1 ({}): {} journals, {} cases ({strict_refusals} that strict must refuse), {opens} opens checked, 0 violations",
        if synced { "synced" } else { "unsynced" },
        h.journals.len(),
        cases.len()
    );
}

#[test]
fn damage_matrix_synced() {
    run_matrix(true);
}

#[test]
fn damage_matrix_unsynced() {
    run_matrix(false);
}

/// Entries named like journals that are not regular files, on a real file
/// system: each is refused, naming it, within a time bound, by open in both
/// modes and by check, and nothing in the directory changes.
#[test]
fn non_regular_files_named_like_journals_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("db");
    {
        let db = Db::open(
            &base,
            Options {
                write_buffer_size: 64 << 10,
                ..Options::default()
            },
        )
        .unwrap();
        for i in 0..600u32 {
            db.put(format!("{i:06}").as_bytes(), [b'v'; 300]).unwrap();
        }
        assert!(db.stats().rotations >= 2);
        db.close().unwrap();
    }
    let journal = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    type Make<'a> = Box<dyn Fn(&Path) + 'a>;
    let make: Vec<(&str, Make)> = vec![
        (
            "a FIFO",
            Box::new(|p: &Path| {
                let ok = std::process::Command::new("mkfifo")
                    .arg(p)
                    .status()
                    .unwrap();
                assert!(ok.success());
            }),
        ),
        (
            "a symlink to /dev/zero",
            Box::new(|p: &Path| std::os::unix::fs::symlink("/dev/zero", p).unwrap()),
        ),
        (
            "a symlink to /dev/urandom",
            Box::new(|p: &Path| std::os::unix::fs::symlink("/dev/urandom", p).unwrap()),
        ),
        (
            "a symlink to a journal",
            Box::new(|p: &Path| std::os::unix::fs::symlink(&journal, p).unwrap()),
        ),
        (
            "a hard link to a journal",
            Box::new(|p: &Path| std::fs::hard_link(&journal, p).unwrap()),
        ),
        (
            "a directory",
            Box::new(|p: &Path| std::fs::create_dir(p).unwrap()),
        ),
        (
            "a socket",
            Box::new(|p: &Path| {
                std::mem::forget(std::os::unix::net::UnixListener::bind(p).unwrap())
            }),
        ),
    ];
    for (what, make) in make {
        let entry = base.join("000099.log");
        make(&entry);
        let before = listing(&base);
        for mode in [RecoveryMode::PointInTime, RecoveryMode::Strict] {
            let options = Options {
                recovery: mode,
                write_buffer_size: 64 << 10,
                ..Options::default()
            };
            let (tx, rx) = mpsc::channel();
            let (dir, opts) = (base.clone(), options.clone());
            std::thread::spawn(move || {
                let _ = tx.send(Db::open(&dir, opts).map(|_| ()));
            });
            match rx.recv_timeout(Duration::from_secs(30)) {
                // A hard link makes both names foreign; the other one may
                // be listed first.
                Ok(Err(Error::ForeignFile { path, .. })) => {
                    assert!(
                        path == entry || path == journal,
                        "{what}: {}",
                        path.display()
                    )
                }
                Ok(other) => panic!("{what}, {mode:?}: expected ForeignFile, got {other:?}"),
                Err(_) => panic!("{what}, {mode:?}: open hung"),
            }
            assert!(matches!(
                Db::check(&base, &options),
                Err(Error::ForeignFile { .. })
            ));
            assert_eq!(listing(&base), before, "{what}: the directory changed");
        }
        // Remove the entry (not what it points to) for the next case.
        if std::fs::symlink_metadata(&entry).unwrap().is_dir() {
            std::fs::remove_dir(&entry).unwrap();
        } else {
            std::fs::remove_file(&entry).unwrap();
        }
    }
    // With the entry gone, the database opens whole.
    let db = Db::open(&base, Options::default()).unwrap();
    assert!(db.recovery_report().damage.is_none());
    assert_eq!(db.iter().count(), 600);
    db.close().unwrap();
}

/// Names, kinds, sizes and contents of a directory's entries.
fn listing(dir: &Path) -> Vec<(PathBuf, String, Vec<u8>)> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let kind = format!("{:?}", meta.file_type());
            let bytes = if meta.is_file() {
                std::fs::read(&path).unwrap()
            } else {
                Vec::new()
            };
            (path, kind, bytes)
        })
        .collect();
    entries.sort();
    entries
}
