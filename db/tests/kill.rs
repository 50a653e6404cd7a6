//! RELIABILITY.md D3: a child process writes and reports each acknowledged
//! write; the parent kills it with SIGKILL at a random moment, reopens the
//! database and checks that every acknowledged write is there. A killed
//! process keeps the page cache, so this holds for unsynced writes too.
//!
//! The child is this test binary, started again with `KILL_CHILD_DIR` set,
//! running only `child_writer`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use tributary::{Db, Options, WriteOptions};

const KILLS: u64 = 200;
const CHILD_WRITERS: u64 = 4;

/// The child's body: 4 threads write until killed, printing each key after
/// its write is acknowledged.
#[test]
fn child_writer() {
    let Ok(dir) = std::env::var("KILL_CHILD_DIR") else {
        return; // Only meaningful as the child of `sigkill_keeps_every_acknowledged_write`.
    };
    let db = Db::open(Path::new(&dir), Options::default()).unwrap();
    let round: u64 = std::env::var("KILL_ROUND").unwrap().parse().unwrap();
    let out = std::sync::Mutex::new(std::io::stdout());
    std::thread::scope(|s| {
        for t in 0..CHILD_WRITERS {
            let (db, out) = (&db, &out);
            s.spawn(move || {
                for i in 0.. {
                    let key = format!("r{round:03}-t{t}-{i:06}");
                    let opts = WriteOptions {
                        sync: i % 4 == 0,
                        merge: true,
                    };
                    db.put_with(key.as_bytes(), key.as_bytes(), &opts).unwrap();
                    use std::io::Write;
                    let mut out = out.lock().unwrap();
                    writeln!(out, "ACK {key}").unwrap();
                    out.flush().unwrap();
                }
            });
        }
    });
}

#[test]
fn sigkill_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = 0x6b696c6cu64;
    let mut acked_total = 0usize;
    let mut all_acked: Vec<String> = Vec::new();
    for round in 0..KILLS {
        let mut child = Command::new(&exe)
            .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
            .env("KILL_CHILD_DIR", dir.path())
            .env("KILL_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut keys = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(k) = line.strip_prefix("ACK ") {
                    keys.push(k.to_owned());
                }
            }
            keys
        });
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(5 + (rng >> 33) % 40));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let keys = reader.join().unwrap();
        acked_total += keys.len();
        all_acked.extend(keys);
        // Every round checks everything acknowledged so far.
        let db = Db::open(dir.path(), Options::default()).unwrap();
        for k in &all_acked {
            assert_eq!(
                db.get(k.as_bytes()).unwrap().as_deref(),
                Some(k.as_bytes()),
                "round {round}: acknowledged {k} lost"
            );
        }
        db.close().unwrap();
    }
    eprintln!("D3: {KILLS} kills, {acked_total} acknowledged writes, all present");
    assert!(
        acked_total > KILLS as usize,
        "the children must have written"
    );
}
