//! fjall, the pure-Rust LSM engine Rust users pick, as a peer.
//!
//! Default options (`Database::builder(dir).open()`, one keyspace with
//! `KeyspaceCreateOptions::default`), whose data blocks are LZ4 from level
//! 2 down; unless `--compressible`, compression is off: no data block
//! compression in any level and none in the journal, whose default
//! compresses values of 4 KiB and more with LZ4. A synced put is `insert` followed by
//! `Database::persist(PersistMode::SyncData)`, as fjall's documentation
//! says to make a write durable; a synced batch commits with
//! `durability(Some(PersistMode::SyncData))`. Both end in `fdatasync`, as
//! Tributary's and LevelDB's synced writes do. Scans are `Keyspace::iter`
//! and `Keyspace::range`, each entry taken with `Guard::into_inner`.
//!
//! fjall counts no write stalls, and its levels are not public: `shape`
//! gives its table count alone (`Keyspace::table_count`).

use crate::amp::Shape;
use crate::engine::{error, Compression, Engine, Setup};
use fjall::config::CompressionPolicy;
use fjall::{
    CompressionType, Database, Keyspace, KeyspaceCreateOptions, OwnedWriteBatch, PersistMode,
};
use std::path::Path;

pub struct Fjall {
    db: Database,
    keyspace: Keyspace,
}

impl Engine for Fjall {
    /// fjall's batch is consumed by `commit`; the slot holds the next one.
    type Batch = Option<OwnedWriteBatch>;

    fn open(dir: &Path, setup: Setup) -> Result<Fjall, String> {
        let compression = setup.compression;
        let builder = Database::builder(dir);
        let db = match compression {
            Compression::Off => builder.journal_compression(CompressionType::None),
            Compression::Default => builder,
        }
        .open()
        .map_err(error)?;
        // fjall keeps a keyspace's options with it: on a reopen they are
        // read back and these are not used.
        let options = move || match compression {
            Compression::Off => KeyspaceCreateOptions::default()
                .data_block_compression_policy(CompressionPolicy::disabled())
                .index_block_compression_policy(CompressionPolicy::disabled()),
            Compression::Default => KeyspaceCreateOptions::default(),
        };
        let keyspace = db.keyspace("bench", options).map_err(error)?;
        Ok(Fjall { db, keyspace })
    }

    #[inline]
    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<(), String> {
        self.keyspace.insert(key, value).map_err(error)?;
        if sync {
            self.db.persist(PersistMode::SyncData).map_err(error)?;
        }
        Ok(())
    }

    fn new_batch(&self) -> Option<OwnedWriteBatch> {
        Some(self.db.batch())
    }

    #[inline]
    fn batch_put(&self, batch: &mut Option<OwnedWriteBatch>, key: &[u8], value: &[u8]) {
        batch
            .get_or_insert_with(|| self.db.batch())
            .insert(&self.keyspace, key, value);
    }

    #[inline]
    fn write(&self, batch: &mut Option<OwnedWriteBatch>, sync: bool) -> Result<(), String> {
        let Some(b) = batch.take() else {
            return Ok(());
        };
        let mode = sync.then_some(PersistMode::SyncData);
        b.durability(mode).commit().map_err(error)
    }

    #[inline]
    fn get(&self, key: &[u8]) -> Result<bool, String> {
        Ok(self.keyspace.get(key).map_err(error)?.is_some())
    }

    type Scan<'a> = fjall::Iter;

    fn scan(&self) -> Result<fjall::Iter, String> {
        Ok(self.keyspace.iter())
    }

    #[inline]
    fn scan_next(&self, scan: &mut fjall::Iter) -> Result<bool, String> {
        match scan.next() {
            Some(guard) => {
                std::hint::black_box(guard.into_inner().map_err(error)?);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    #[inline]
    fn seek_read(&self, key: &[u8], n: usize) -> Result<(usize, bool), String> {
        let mut read = 0;
        let mut exact = false;
        for guard in self.keyspace.range(key..).take(n) {
            let (k, v) = guard.into_inner().map_err(error)?;
            if read == 0 {
                exact = *k == *key;
            }
            std::hint::black_box((k, v));
            read += 1;
        }
        Ok((read, exact))
    }

    /// Flushes the memtable to a table and compacts everything into the
    /// last level (fjall's `rotate_memtable_and_wait` and `major_compact`).
    fn settle(&self) -> Result<(), String> {
        self.keyspace.rotate_memtable_and_wait().map_err(error)?;
        self.keyspace.major_compact().map_err(error)
    }

    fn shape(&self) -> Shape {
        Shape {
            table_files: Some(self.keyspace.table_count() as u64),
            ..Shape::default()
        }
    }

    fn close(self) -> Result<(), String> {
        self.db.persist(PersistMode::SyncAll).map_err(error)
    }
}
