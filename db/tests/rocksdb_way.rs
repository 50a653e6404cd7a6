//! A program written the way a rust-rocksdb user writes one (issue #26's
//! "done means"): open, a batch of `&str` and `String`, a cursor with
//! seek/next/prev and seek_for_prev, multi_get, a snapshot, several
//! threads over an `Arc`, and a close through the `Arc`. Each expectation
//! is what RocksDB's own API gives for the same calls.

use std::sync::Arc;
use tributary::{Batch, Db, Options, WriteOptions};

fn run(path: &std::path::Path) -> Result<(), tributary::Error> {
    let db = Arc::new(Db::open(path, Options::default())?);

    // A batch of &str and String, written atomically.
    let mut batch = Batch::new();
    for fruit in ["apple", "banana", "cherry", "damson"] {
        batch.put(fruit, fruit.to_uppercase());
    }
    let owned_key = String::from("elder");
    batch.put(&owned_key, "ELDER");
    batch.delete("banana");
    db.write(&batch, &WriteOptions::default())?;
    // An empty batch is a no-op, as in RocksDB.
    db.write(&Batch::new(), &WriteOptions::default())?;

    // A snapshot, then more writes it does not see.
    let snapshot = db.snapshot();
    db.put("fig", "FIG")?;
    db.delete("apple")?;

    // The raw iterator, RocksDB style.
    let mut it = db.cursor();
    it.seek("c");
    assert_eq!(it.key(), Some(&b"cherry"[..]));
    it.next();
    assert_eq!(it.key(), Some(&b"damson"[..]));
    it.prev();
    it.prev();
    assert!(
        !it.valid(),
        "apple is deleted, banana too: nothing before cherry"
    );
    it.seek_for_prev("dz");
    assert_eq!(it.key(), Some(&b"damson"[..]));
    it.next();
    assert_eq!(
        (it.key(), it.value()),
        (Some(&b"elder"[..]), Some(&b"ELDER"[..]))
    );
    it.seek_to_last();
    assert_eq!(it.key(), Some(&b"fig"[..]));
    it.status()?;

    // The same walk on the snapshot sees apple, and no fig.
    let mut old = snapshot.cursor();
    old.seek_to_first();
    let mut keys = Vec::new();
    while old.valid() {
        keys.push(String::from_utf8(old.key().unwrap().to_vec()).unwrap());
        old.next();
    }
    old.status()?;
    assert_eq!(keys, ["apple", "cherry", "damson", "elder"]);

    // multi_get: one result per key, in order.
    let values = db.multi_get(["apple", "cherry", "fig", "zzz"]);
    let values: Vec<Option<Vec<u8>>> = values.into_iter().collect::<Result<_, _>>()?;
    assert_eq!(
        values,
        [None, Some(b"CHERRY".to_vec()), Some(b"FIG".to_vec()), None]
    );

    // Threads over the Arc, then a close through it.
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || db.put(format!("thread{t}"), format!("{t}")))
        })
        .collect();
    for handle in handles {
        handle.join().unwrap()?;
    }
    db.close()?;
    Ok(())
}

#[test]
fn a_rust_rocksdb_program_runs_as_written() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path()).unwrap();
    // Everything acknowledged is there after the close.
    let db = Db::open_read_only(dir.path(), Options::default()).unwrap();
    let keys: Vec<Vec<u8>> = db.iter().map(|kv| kv.unwrap().0).collect();
    assert_eq!(
        keys.len(),
        8,
        "cherry, damson, elder, fig and four thread keys"
    );
}
