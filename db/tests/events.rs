//! Events reach the `log` facade: a history break as an error, what was
//! dropped and set aside as warnings, a poisoned write path as an error.

mod common;

use common::{build_history, dir, options};
use std::sync::Mutex;
use tributary::fs::{Fault, FaultKind, FaultOp};
use tributary::Db;

/// Keeps every record logged, for the test to look at.
struct Recorder(Mutex<Vec<(log::Level, String)>>);

impl log::Log for Recorder {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let mut records = self.0.lock().unwrap_or_else(|e| e.into_inner());
        records.push((record.level(), record.args().to_string()));
    }
    fn flush(&self) {}
}

static RECORDER: Recorder = Recorder(Mutex::new(Vec::new()));

fn logged(level: log::Level, needle: &str) -> bool {
    let records = RECORDER.0.lock().unwrap_or_else(|e| e.into_inner());
    records
        .iter()
        .any(|(l, m)| *l == level && m.contains(needle))
}

#[test]
fn recovery_damage_and_poisoning_are_logged() {
    log::set_logger(&RECORDER).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    let h = build_history(600, 300, false, 41);
    let fs = h.fs.snapshot();
    let first = &h.journals[0];
    tributary::fs::Fs::remove(&fs, &first.path).unwrap();
    let db = Db::open(dir(), options(&fs, h.write_buffer)).unwrap();
    assert!(logged(log::Level::Error, "history broken"));
    let second = h.journals[1]
        .path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(logged(
        log::Level::Warn,
        &format!("kept /db/{second} as /db/lost/{second}")
    ));
    assert!(logged(log::Level::Info, "recovery:"));

    fs.set_fault(Some(Fault {
        op: FaultOp::Sync,
        nth: 1,
        persistent: false,
        kind: FaultKind::Eio,
    }));
    assert!(db.sync().is_err());
    assert!(logged(log::Level::Error, "refusing writes until reopened"));
}
