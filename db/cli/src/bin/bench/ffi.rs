//! C++ LevelDB and RocksDB as peers, through their C APIs (`leveldb/c.h`,
//! `rocksdb/c.h`) and Debian's shared libraries (`libleveldb-dev`,
//! `librocksdb-dev`), which `cargo xtask bench` installs.
//!
//! The two C APIs have the same shape, so one wrapper, [`CDb`], serves
//! both through a table of function pointers ([`Api`]). Both are used with
//! their default options, as `db_bench` does, except `create_if_missing`
//! and, unless `--compressible`, compression, set to none
//! (`*_no_compression`) as in every engine of those cells.
//! Scans use the C iterators (`*_create_iterator`, `*_iter_seek`, ...),
//! one per scan, with the default read options (an implicit snapshot).
//!
//! This is the only module of the bench with `unsafe` code; each block says
//! why it is sound. The invariants all blocks rely on are those of [`CDb`],
//! [`CIter`] and [`CBatch`]: their pointers come from the matching `*_create` or
//! `*_open` call, are non-null, and are destroyed exactly once, in `Drop`.
#![allow(unsafe_code)]

use crate::amp::Shape;
use crate::engine::{Compression, Engine, Setup, Stalls};
use std::ffi::{c_char, c_int, c_uchar, c_void, CStr, CString};
use std::marker::PhantomData;
use std::path::Path;
use std::ptr;

/// C++ LevelDB (Debian's 1.23), default options: 4 MiB write buffer, Snappy
/// compression (off unless `--compressible`), 8 MiB block cache.
pub type LevelDb = CDb<LevelDbApi>;

/// RocksDB (Debian's 7.8), default options: 64 MiB write buffer, one
/// background thread, Snappy compression (Debian's library has it; off
/// unless `--compressible`).
pub type RocksDb = CDb<RocksDbApi>;

/// An open database behind a C API.
pub struct CDb<F: Flavor> {
    // Invariant: non-null, from `api.open`, closed only in `Drop`.
    db: *mut c_void,
    // Invariant: each non-null, from the matching `*_create`, destroyed only
    // in `Drop`, and never changed after `open` (so sharing is read-only).
    options: *mut c_void,
    write_plain: *mut c_void,
    write_sync: *mut c_void,
    read: *mut c_void,
    _flavor: PhantomData<F>,
}

/// An iterator of a [`CDb`], used by one thread; it cannot outlive the
/// database.
pub struct CIter<'a> {
    // Invariant: non-null, from `api.create_iterator` on the database that
    // `'a` borrows, destroyed in `Drop` (so before that database closes).
    ptr: *mut c_void,
    api: &'static Api,
    _db: PhantomData<&'a ()>,
}

/// A write batch of a [`CDb`], used by one thread.
pub struct CBatch {
    // Invariant: non-null, from `api.writebatch_create`, destroyed in `Drop`.
    ptr: *mut c_void,
    api: &'static Api,
}

/// Which C library a [`CDb`] calls, and what its properties are called.
pub trait Flavor {
    const API: &'static Api;
    /// The property giving the table files at level N, with N appended.
    const FILES_AT_LEVEL: &'static str;
    /// The default write buffer, from the library's `options.h`.
    const WRITE_BUFFER: u64;
    /// Bytes of tables written since open, from the library's properties.
    fn table_bytes(db: &CDb<Self>) -> Option<u64>
    where
        Self: Sized;
    /// Table bytes written since open into each level, if the library
    /// counts them.
    fn table_bytes_per_level(_db: &CDb<Self>) -> Option<Vec<u64>>
    where
        Self: Sized,
    {
        None
    }
    /// Journal bytes written since open, as the library rounds them.
    fn coarse_journal_bytes(_db: &CDb<Self>) -> Option<u64>
    where
        Self: Sized,
    {
        None
    }
    /// Write stalls since open, if the library counts them.
    fn stalls(_db: &CDb<Self>) -> Option<Stalls>
    where
        Self: Sized,
    {
        None
    }
}

pub struct LevelDbApi;
pub struct RocksDbApi;

impl Flavor for LevelDbApi {
    const API: &'static Api = &LEVELDB;
    const FILES_AT_LEVEL: &'static str = "leveldb.num-files-at-level";
    const WRITE_BUFFER: u64 = 4 << 20;

    /// The sum of the `Write(MB)` column of `leveldb.stats` (flushes into
    /// level 0 and every compaction's output), in whole MiB per level.
    fn table_bytes(db: &CDb<Self>) -> Option<u64> {
        leveldb_stats_write_bytes(&db.property("leveldb.stats")?)
    }

    /// The same column, level by level.
    fn table_bytes_per_level(db: &CDb<Self>) -> Option<Vec<u64>> {
        leveldb_stats_write_per_level(&db.property("leveldb.stats")?)
    }

    // LevelDB counts no stalls: it sleeps 1 ms per write at 8 level-0
    // files and waits at 12 without a counter, so the report has none
    // (absent, not zero).
}

impl Flavor for RocksDbApi {
    const API: &'static Api = &ROCKSDB;
    const FILES_AT_LEVEL: &'static str = "rocksdb.num-files-at-level";
    const WRITE_BUFFER: u64 = 64 << 20;

    /// `Cumulative compaction: X GB write` of `rocksdb.stats` (flushes
    /// count there as compactions into level 0), when its two decimals are
    /// within 1 % (see [`rocksdb_coarse_gib`]).
    fn table_bytes(db: &CDb<Self>) -> Option<u64> {
        let stats = db.property("rocksdb.stats")?;
        rocksdb_coarse_gib(&stats, "Cumulative compaction:", " GB write")
    }

    /// `Cumulative WAL: ... written: X GB` of `rocksdb.stats`, when its two
    /// decimals are within 1 %.
    fn coarse_journal_bytes(db: &CDb<Self>) -> Option<u64> {
        let stats = db.property("rocksdb.stats")?;
        rocksdb_coarse_gib(&stats, "Cumulative WAL:", " GB")
    }

    /// The `Stalls(count)` and `Cumulative stall` lines of `rocksdb.stats`
    /// (see [`rocksdb_stalls`]).
    fn stalls(db: &CDb<Self>) -> Option<Stalls> {
        rocksdb_stalls(&db.property("rocksdb.stats")?)
    }
}

/// The figure in GiB (RocksDB's `GB` is 2^30 bytes, `internal_stats.cc`)
/// just before `unit` on the line of `stats` that starts with `line`, in
/// bytes, if it is at least 0.5 GiB: it is printed with two decimals, so a
/// smaller figure would be off by more than 1 %.
pub fn rocksdb_coarse_gib(stats: &str, line: &str, unit: &str) -> Option<u64> {
    let rest = stats.lines().find_map(|l| l.trim().strip_prefix(line))?;
    let before_unit = &rest[..rest.find(unit)?];
    let number = before_unit.rsplit([' ', ':']).next()?;
    let gib: f64 = number.parse().ok()?;
    (gib >= 0.5).then(|| (gib * (1u64 << 30) as f64).round() as u64)
}

/// RocksDB's stalls from `rocksdb.stats` (7.x):
///
/// ```text
/// Stalls(count): 0 level0_slowdown, 0 level0_slowdown_with_compaction,
///   0 level0_numfiles, 0 level0_numfiles_with_compaction, 0 stop for
///   pending_compaction_bytes, 0 slowdown for pending_compaction_bytes,
///   0 memtable_compaction, 0 memtable_slowdown, interval 0 total count
/// Cumulative stall: 00:00:0.000 H:M:S, 0.0 percent
/// ```
///
/// (the first is one line). The counts are of the column family's stall
/// conditions, counted each time RocksDB recomputes them and finds one
/// (after a flush or compaction changes the tree, not per write):
/// slowdowns are `level0_slowdown`, `slowdown for
/// pending_compaction_bytes` and `memtable_slowdown`; stops are
/// `level0_numfiles`, `stop for pending_compaction_bytes` and
/// `memtable_compaction`, the six RocksDB sums for its total. The
/// `_with_compaction` counts are subsets of the first two and `interval`
/// is since the last dump: both are left out. The time is the writers'
/// total delay. `None` if either line is missing or does not parse.
pub fn rocksdb_stalls(stats: &str) -> Option<Stalls> {
    let counts = stats
        .lines()
        .find_map(|l| l.trim().strip_prefix("Stalls(count):"))?;
    let mut slowdowns = 0;
    let mut stops = 0;
    let mut named = 0;
    for item in counts.split(',') {
        let (n, name) = item.trim().split_once(' ')?;
        let Ok(n) = n.parse::<u64>() else {
            // "interval N total count".
            continue;
        };
        match name {
            "level0_slowdown" | "slowdown for pending_compaction_bytes" | "memtable_slowdown" => {
                slowdowns += n
            }
            "level0_numfiles" | "stop for pending_compaction_bytes" | "memtable_compaction" => {
                stops += n
            }
            _ => continue,
        }
        named += 1;
    }
    if named != 6 {
        return None;
    }
    let hms = stats
        .lines()
        .find_map(|l| l.trim().strip_prefix("Cumulative stall:"))?
        .split_whitespace()
        .next()?;
    let mut secs = 0.0;
    for part in hms.split(':') {
        secs = secs * 60.0 + part.parse::<f64>().ok()?;
    }
    Some(Stalls {
        count: slowdowns + stops,
        slowdowns,
        stops,
        secs,
    })
}

/// The `Write(MB)` column of LevelDB's `leveldb.stats`, summed, in bytes:
///
/// ```text
///                                Compactions
/// Level  Files Size(MB) Time(sec) Read(MB) Write(MB)
/// --------------------------------------------------
///   0        2        8         0        0         8
/// ```
pub fn leveldb_stats_write_bytes(stats: &str) -> Option<u64> {
    Some(leveldb_stats_write_per_level(stats)?.iter().sum())
}

/// The `Write(MB)` column of `leveldb.stats` by level, level 0 first (a
/// level the table leaves out, having no files and no compaction, wrote
/// nothing).
pub fn leveldb_stats_write_per_level(stats: &str) -> Option<Vec<u64>> {
    let mut lines = stats.lines().skip_while(|l| !l.starts_with("---"));
    lines.next()?;
    let mut per_level = Vec::new();
    for line in lines {
        let cols: Vec<f64> = line
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        let [level, _, _, _, _, write] = cols[..] else {
            return None;
        };
        let level = level as usize;
        if per_level.len() <= level {
            per_level.resize(level + 1, 0);
        }
        per_level[level] += (write * 1048576.0).round() as u64;
    }
    Some(per_level)
}

/// `leveldb_no_compression` and `rocksdb_no_compression` (`c.h`).
const NO_COMPRESSION: c_int = 0;

type Ptr = *mut c_void;
type ErrPtr = *mut *mut c_char;

/// The C functions a [`CDb`] calls, with the signatures both headers share
/// (`uint8_t` in LevelDB's and `unsigned char` in RocksDB's are the same).
pub struct Api {
    name: &'static str,
    options_create: unsafe extern "C" fn() -> Ptr,
    options_destroy: unsafe extern "C" fn(Ptr),
    options_set_create_if_missing: unsafe extern "C" fn(Ptr, c_uchar),
    /// Takes `*_no_compression` (0, in both headers) or another type.
    options_set_compression: unsafe extern "C" fn(Ptr, c_int),
    open: unsafe extern "C" fn(Ptr, *const c_char, ErrPtr) -> Ptr,
    close: unsafe extern "C" fn(Ptr),
    writeoptions_create: unsafe extern "C" fn() -> Ptr,
    writeoptions_destroy: unsafe extern "C" fn(Ptr),
    writeoptions_set_sync: unsafe extern "C" fn(Ptr, c_uchar),
    readoptions_create: unsafe extern "C" fn() -> Ptr,
    readoptions_destroy: unsafe extern "C" fn(Ptr),
    put: unsafe extern "C" fn(Ptr, Ptr, *const c_char, usize, *const c_char, usize, ErrPtr),
    get: unsafe extern "C" fn(Ptr, Ptr, *const c_char, usize, *mut usize, ErrPtr) -> *mut c_char,
    write: unsafe extern "C" fn(Ptr, Ptr, Ptr, ErrPtr),
    writebatch_create: unsafe extern "C" fn() -> Ptr,
    writebatch_destroy: unsafe extern "C" fn(Ptr),
    writebatch_clear: unsafe extern "C" fn(Ptr),
    writebatch_put: unsafe extern "C" fn(Ptr, *const c_char, usize, *const c_char, usize),
    compact_range: unsafe extern "C" fn(Ptr, *const c_char, usize, *const c_char, usize),
    property_value: unsafe extern "C" fn(Ptr, *const c_char) -> *mut c_char,
    free: unsafe extern "C" fn(*mut c_void),
    create_iterator: unsafe extern "C" fn(Ptr, Ptr) -> Ptr,
    iter_destroy: unsafe extern "C" fn(Ptr),
    iter_valid: unsafe extern "C" fn(Ptr) -> c_uchar,
    iter_seek_to_first: unsafe extern "C" fn(Ptr),
    iter_seek: unsafe extern "C" fn(Ptr, *const c_char, usize),
    iter_next: unsafe extern "C" fn(Ptr),
    iter_key: unsafe extern "C" fn(Ptr, *mut usize) -> *const c_char,
    iter_value: unsafe extern "C" fn(Ptr, *mut usize) -> *const c_char,
    iter_get_error: unsafe extern "C" fn(Ptr, ErrPtr),
}

macro_rules! c_api {
    ($mod:ident, $lib:literal, $name:literal, $table:ident, {
        $($field:ident => $func:ident ( $($arg:ty),* ) $(-> $ret:ty)?;)*
    }) => {
        mod $mod {
            use super::*;
            #[link(name = $lib)]
            extern "C" {
                $(pub fn $func($(_: $arg),*) $(-> $ret)?;)*
            }
        }
        static $table: Api = Api {
            name: $name,
            $($field: $mod::$func,)*
        };
    };
}

c_api!(leveldb_sys, "leveldb", "leveldb", LEVELDB, {
    options_create => leveldb_options_create() -> Ptr;
    options_destroy => leveldb_options_destroy(Ptr);
    options_set_create_if_missing => leveldb_options_set_create_if_missing(Ptr, c_uchar);
    options_set_compression => leveldb_options_set_compression(Ptr, c_int);
    open => leveldb_open(Ptr, *const c_char, ErrPtr) -> Ptr;
    close => leveldb_close(Ptr);
    writeoptions_create => leveldb_writeoptions_create() -> Ptr;
    writeoptions_destroy => leveldb_writeoptions_destroy(Ptr);
    writeoptions_set_sync => leveldb_writeoptions_set_sync(Ptr, c_uchar);
    readoptions_create => leveldb_readoptions_create() -> Ptr;
    readoptions_destroy => leveldb_readoptions_destroy(Ptr);
    put => leveldb_put(Ptr, Ptr, *const c_char, usize, *const c_char, usize, ErrPtr);
    get => leveldb_get(Ptr, Ptr, *const c_char, usize, *mut usize, ErrPtr) -> *mut c_char;
    write => leveldb_write(Ptr, Ptr, Ptr, ErrPtr);
    writebatch_create => leveldb_writebatch_create() -> Ptr;
    writebatch_destroy => leveldb_writebatch_destroy(Ptr);
    writebatch_clear => leveldb_writebatch_clear(Ptr);
    writebatch_put => leveldb_writebatch_put(Ptr, *const c_char, usize, *const c_char, usize);
    compact_range => leveldb_compact_range(Ptr, *const c_char, usize, *const c_char, usize);
    property_value => leveldb_property_value(Ptr, *const c_char) -> *mut c_char;
    free => leveldb_free(*mut c_void);
    create_iterator => leveldb_create_iterator(Ptr, Ptr) -> Ptr;
    iter_destroy => leveldb_iter_destroy(Ptr);
    iter_valid => leveldb_iter_valid(Ptr) -> c_uchar;
    iter_seek_to_first => leveldb_iter_seek_to_first(Ptr);
    iter_seek => leveldb_iter_seek(Ptr, *const c_char, usize);
    iter_next => leveldb_iter_next(Ptr);
    iter_key => leveldb_iter_key(Ptr, *mut usize) -> *const c_char;
    iter_value => leveldb_iter_value(Ptr, *mut usize) -> *const c_char;
    iter_get_error => leveldb_iter_get_error(Ptr, ErrPtr);
});

c_api!(rocksdb_sys, "rocksdb", "rocksdb", ROCKSDB, {
    options_create => rocksdb_options_create() -> Ptr;
    options_destroy => rocksdb_options_destroy(Ptr);
    options_set_create_if_missing => rocksdb_options_set_create_if_missing(Ptr, c_uchar);
    options_set_compression => rocksdb_options_set_compression(Ptr, c_int);
    open => rocksdb_open(Ptr, *const c_char, ErrPtr) -> Ptr;
    close => rocksdb_close(Ptr);
    writeoptions_create => rocksdb_writeoptions_create() -> Ptr;
    writeoptions_destroy => rocksdb_writeoptions_destroy(Ptr);
    writeoptions_set_sync => rocksdb_writeoptions_set_sync(Ptr, c_uchar);
    readoptions_create => rocksdb_readoptions_create() -> Ptr;
    readoptions_destroy => rocksdb_readoptions_destroy(Ptr);
    put => rocksdb_put(Ptr, Ptr, *const c_char, usize, *const c_char, usize, ErrPtr);
    get => rocksdb_get(Ptr, Ptr, *const c_char, usize, *mut usize, ErrPtr) -> *mut c_char;
    write => rocksdb_write(Ptr, Ptr, Ptr, ErrPtr);
    writebatch_create => rocksdb_writebatch_create() -> Ptr;
    writebatch_destroy => rocksdb_writebatch_destroy(Ptr);
    writebatch_clear => rocksdb_writebatch_clear(Ptr);
    writebatch_put => rocksdb_writebatch_put(Ptr, *const c_char, usize, *const c_char, usize);
    compact_range => rocksdb_compact_range(Ptr, *const c_char, usize, *const c_char, usize);
    property_value => rocksdb_property_value(Ptr, *const c_char) -> *mut c_char;
    free => rocksdb_free(*mut c_void);
    create_iterator => rocksdb_create_iterator(Ptr, Ptr) -> Ptr;
    iter_destroy => rocksdb_iter_destroy(Ptr);
    iter_valid => rocksdb_iter_valid(Ptr) -> c_uchar;
    iter_seek_to_first => rocksdb_iter_seek_to_first(Ptr);
    iter_seek => rocksdb_iter_seek(Ptr, *const c_char, usize);
    iter_next => rocksdb_iter_next(Ptr);
    iter_key => rocksdb_iter_key(Ptr, *mut usize) -> *const c_char;
    iter_value => rocksdb_iter_value(Ptr, *mut usize) -> *const c_char;
    iter_get_error => rocksdb_iter_get_error(Ptr, ErrPtr);
});

// SAFETY: LevelDB's documentation (doc/index.md, "Concurrency") and
// RocksDB's (wiki "Basic Operations", "Concurrency") state that one DB
// object may be used by many threads at once without external
// synchronisation for Put, Write, Get and NewIterator. The option objects
// are only read after `open` (the `Invariant` on the fields), and the C
// functions take them as `const`. Batches and iterators are not shared:
// `CBatch` and `CIter` are neither Send nor Sync, and each thread makes its
// own.
unsafe impl<F: Flavor> Sync for CDb<F> {}

impl<F: Flavor> CDb<F> {
    /// Turns an error string set by the C API into a `Result`, freeing it.
    fn check(&self, err: *mut c_char, op: &str) -> Result<(), String> {
        check(F::API, err, op)
    }

    /// A new iterator with the default read options.
    fn iterator(&self) -> CIter<'_> {
        // SAFETY: the database and read options are live; the result is a
        // fresh iterator, owned by the `CIter` from here on, which borrows
        // `self` so that it is destroyed before the database closes.
        let ptr = unsafe { (F::API.create_iterator)(self.db, self.read) };
        assert!(!ptr.is_null(), "{} returned a null iterator", F::API.name);
        CIter {
            ptr,
            api: F::API,
            _db: PhantomData,
        }
    }

    /// The property `name`, or `None` if the library does not know it.
    fn property(&self, name: &str) -> Option<String> {
        let name = CString::new(name).ok()?;
        // SAFETY: the database is live; `name` is NUL-terminated and
        // outlives the call. A non-null result is a malloc'd NUL-terminated
        // string that we own (c.h), copied and then freed once with the
        // library's `*_free`.
        unsafe {
            let value = (F::API.property_value)(self.db, name.as_ptr());
            if value.is_null() {
                return None;
            }
            let text = CStr::from_ptr(value).to_string_lossy().into_owned();
            (F::API.free)(value.cast());
            Some(text)
        }
    }
}

fn check(api: &Api, err: *mut c_char, op: &str) -> Result<(), String> {
    if err.is_null() {
        return Ok(());
    }
    // SAFETY: a non-null `errptr` is a NUL-terminated string the library
    // allocated with malloc (c.h: "the caller must free it"), freed just
    // below and not used after.
    let msg = unsafe { CStr::from_ptr(err) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: as above; `free` is the library's own `*_free`.
    unsafe { (api.free)(err.cast()) };
    Err(format!("{} {op}: {msg}", api.name))
}

impl<F: Flavor> Engine for CDb<F> {
    type Batch = CBatch;

    fn open(dir: &Path, setup: Setup) -> Result<Self, String> {
        let compression = setup.compression;
        let api = F::API;
        let name = CString::new(dir.as_os_str().as_encoded_bytes())
            .map_err(|_| format!("{}: path has a NUL byte", dir.display()))?;
        // SAFETY: the `*_create` functions take no arguments and return
        // fresh objects; the setters get the objects just created (and a
        // compression type both headers define). `open`
        // gets valid options, a NUL-terminated path that outlives the call,
        // and a valid error slot. On failure every object made is destroyed
        // once, here, and nothing else holds them.
        unsafe {
            let options = (api.options_create)();
            (api.options_set_create_if_missing)(options, 1);
            if compression == Compression::Off {
                (api.options_set_compression)(options, NO_COMPRESSION);
            }
            let write_plain = (api.writeoptions_create)();
            let write_sync = (api.writeoptions_create)();
            (api.writeoptions_set_sync)(write_sync, 1);
            let read = (api.readoptions_create)();
            let mut err = ptr::null_mut();
            let db = (api.open)(options, name.as_ptr(), &mut err);
            if let Err(e) = check(api, err, "open") {
                (api.options_destroy)(options);
                (api.writeoptions_destroy)(write_plain);
                (api.writeoptions_destroy)(write_sync);
                (api.readoptions_destroy)(read);
                return Err(e);
            }
            assert!(
                !db.is_null(),
                "{} open returned null without an error",
                api.name
            );
            Ok(CDb {
                db,
                options,
                write_plain,
                write_sync,
                read,
                _flavor: PhantomData,
            })
        }
    }

    #[inline]
    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<(), String> {
        let opts = if sync {
            self.write_sync
        } else {
            self.write_plain
        };
        let mut err = ptr::null_mut();
        // SAFETY: `self.db` and `opts` are live (the type's invariants); the
        // key and value slices are valid for their lengths during the call,
        // and the library copies them.
        unsafe {
            (F::API.put)(
                self.db,
                opts,
                key.as_ptr().cast(),
                key.len(),
                value.as_ptr().cast(),
                value.len(),
                &mut err,
            );
        }
        self.check(err, "put")
    }

    fn new_batch(&self) -> CBatch {
        // SAFETY: takes no arguments and returns a fresh batch, owned by the
        // `CBatch` from here on.
        let ptr = unsafe { (F::API.writebatch_create)() };
        assert!(!ptr.is_null());
        CBatch { ptr, api: F::API }
    }

    #[inline]
    fn batch_put(&self, batch: &mut CBatch, key: &[u8], value: &[u8]) {
        // SAFETY: `batch.ptr` is live and used by this thread only (`&mut`);
        // the slices are valid for their lengths and copied into the batch.
        unsafe {
            (F::API.writebatch_put)(
                batch.ptr,
                key.as_ptr().cast(),
                key.len(),
                value.as_ptr().cast(),
                value.len(),
            );
        }
    }

    #[inline]
    fn write(&self, batch: &mut CBatch, sync: bool) -> Result<(), String> {
        let opts = if sync {
            self.write_sync
        } else {
            self.write_plain
        };
        let mut err = ptr::null_mut();
        // SAFETY: the database, options and batch are live; the batch is
        // this thread's alone for the call (`&mut`), then cleared in place.
        unsafe {
            (F::API.write)(self.db, opts, batch.ptr, &mut err);
            (F::API.writebatch_clear)(batch.ptr);
        }
        self.check(err, "write")
    }

    #[inline]
    fn get(&self, key: &[u8]) -> Result<bool, String> {
        let mut len = 0usize;
        let mut err = ptr::null_mut();
        // SAFETY: the database and read options are live; the key slice is
        // valid for its length; `len` and `err` are valid out-slots. A
        // non-null result is a malloc'd copy of the value that we own and
        // free once, right away, with the library's `*_free`.
        let found = unsafe {
            let value = (F::API.get)(
                self.db,
                self.read,
                key.as_ptr().cast(),
                key.len(),
                &mut len,
                &mut err,
            );
            let found = !value.is_null();
            if found {
                (F::API.free)(value.cast());
            }
            found
        };
        self.check(err, "get")?;
        Ok(found)
    }

    /// `*_create_iterator` then `*_iter_seek_to_first`.
    type Scan<'a>
        = CIter<'a>
    where
        F: 'a;

    fn scan(&self) -> Result<CIter<'_>, String> {
        let iter = self.iterator();
        // SAFETY: the iterator is live and this thread's (`CIter`).
        unsafe { (F::API.iter_seek_to_first)(iter.ptr) };
        Ok(iter)
    }

    #[inline]
    fn scan_next(&self, scan: &mut CIter<'_>) -> Result<bool, String> {
        if !scan.valid() {
            scan.status()?;
            return Ok(false);
        }
        std::hint::black_box(scan.entry());
        // SAFETY: the iterator is live, this thread's, and valid.
        unsafe { (F::API.iter_next)(scan.ptr) };
        Ok(true)
    }

    #[inline]
    fn seek_read(&self, key: &[u8], n: usize) -> Result<(usize, bool), String> {
        let iter = self.iterator();
        // SAFETY: the iterator is live and this thread's; the key slice is
        // valid for its length during the call (the library copies it).
        unsafe { (F::API.iter_seek)(iter.ptr, key.as_ptr().cast(), key.len()) };
        let mut read = 0;
        let mut exact = false;
        while read < n && iter.valid() {
            let (k, v) = iter.entry();
            if read == 0 {
                exact = k == key;
            }
            std::hint::black_box((k, v));
            read += 1;
            // SAFETY: the iterator is live, this thread's, and valid.
            unsafe { (F::API.iter_next)(iter.ptr) };
        }
        iter.status()?;
        Ok((read, exact))
    }

    /// A full manual compaction (`CompactRange(nullptr, nullptr)`), which
    /// first flushes the memtable, as `db_bench --compact` would.
    fn settle(&self) -> Result<(), String> {
        // SAFETY: the database is live; null bounds with length 0 mean the
        // whole key range (c.h).
        unsafe { (F::API.compact_range)(self.db, ptr::null(), 0, ptr::null(), 0) };
        Ok(())
    }

    /// `<lib>.num-files-at-level<N>` for each level the library knows (it
    /// answers null past its last), and [`Flavor::table_bytes`].
    fn shape(&self) -> Shape {
        let files: Vec<u64> = (0..)
            .map_while(|level| {
                self.property(&format!("{}{level}", F::FILES_AT_LEVEL))?
                    .trim()
                    .parse()
                    .ok()
            })
            .take(64)
            .collect();
        Shape {
            files_per_level: (!files.is_empty()).then_some(files),
            table_bytes: F::table_bytes(self),
            journal_records: None,
            journal_bytes: None,
            // RocksDB's WAL keeps LevelDB's record format unless
            // `recycle_log_file_num` is set, which it is not by default.
            leveldb_journal: true,
            coarse_journal_bytes: F::coarse_journal_bytes(self),
            table_files: None,
            table_bytes_per_level: F::table_bytes_per_level(self),
        }
    }

    fn stalls(&self) -> Option<Stalls> {
        F::stalls(self)
    }

    fn write_buffer_size() -> Option<u64> {
        Some(F::WRITE_BUFFER)
    }

    fn close(self) -> Result<(), String> {
        // `Drop` closes: the C APIs report no error from close.
        drop(self);
        Ok(())
    }
}

impl<F: Flavor> Drop for CDb<F> {
    fn drop(&mut self) {
        let api = F::API;
        // SAFETY: every pointer is live and owned by `self` (the type's
        // invariants); each is destroyed exactly once, the database first,
        // as the options may be referenced until it is closed.
        unsafe {
            (api.close)(self.db);
            (api.options_destroy)(self.options);
            (api.writeoptions_destroy)(self.write_plain);
            (api.writeoptions_destroy)(self.write_sync);
            (api.readoptions_destroy)(self.read);
        }
    }
}

impl CIter<'_> {
    /// Whether the iterator is at an entry.
    #[inline]
    fn valid(&self) -> bool {
        // SAFETY: the iterator is live (the type's invariant).
        unsafe { (self.api.iter_valid)(self.ptr) != 0 }
    }

    /// The entry the iterator is at, copied out: the library lends it only
    /// until the iterator moves. The iterator must be valid.
    #[inline]
    fn entry(&self) -> (Vec<u8>, Vec<u8>) {
        debug_assert!(self.valid());
        let (mut key_len, mut value_len) = (0usize, 0usize);
        // SAFETY: the iterator is live and valid (the caller's
        // precondition), so both calls return a pointer to `len` bytes it
        // owns until it moves or is destroyed; both are copied at once.
        unsafe {
            let key = (self.api.iter_key)(self.ptr, &mut key_len);
            let key = std::slice::from_raw_parts(key.cast::<u8>(), key_len).to_vec();
            let value = (self.api.iter_value)(self.ptr, &mut value_len);
            let value = std::slice::from_raw_parts(value.cast::<u8>(), value_len).to_vec();
            (key, value)
        }
    }

    /// The error that ended the iteration, if one did.
    fn status(&self) -> Result<(), String> {
        let mut err = ptr::null_mut();
        // SAFETY: the iterator is live; `err` is a valid out-slot.
        unsafe { (self.api.iter_get_error)(self.ptr, &mut err) };
        check(self.api, err, "iterator")
    }
}

impl Drop for CIter<'_> {
    fn drop(&mut self) {
        // SAFETY: `ptr` is live and owned by `self`, and the database it
        // came from is still open (the lifetime); destroyed once.
        unsafe { (self.api.iter_destroy)(self.ptr) };
    }
}

impl Drop for CBatch {
    fn drop(&mut self) {
        // SAFETY: `ptr` is live and owned by `self`; destroyed once.
        unsafe { (self.api.writebatch_destroy)(self.ptr) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leveldb_stats_parse() {
        let stats = "                               Compactions\n\
                     Level  Files Size(MB) Time(sec) Read(MB) Write(MB)\n\
                     --------------------------------------------------\n  \
                     0        2        8         0        0         8\n  \
                     1        5       10         1       12        10\n";
        assert_eq!(leveldb_stats_write_bytes(stats), Some(18 << 20));
        assert_eq!(leveldb_stats_write_bytes("no table"), None);
    }

    /// Lines of RocksDB 7.8's `rocksdb.stats`, shortened.
    const ROCKSDB_STATS: &str = "Flush(GB): cumulative 0.148, interval 0.148\n\
        Cumulative compaction: 2.25 GB write, 10.45 MB/s write, 0.00 GB read, 0.00 MB/s read, 2.2 seconds\n\
        Stalls(count): 3 level0_slowdown, 1 level0_slowdown_with_compaction, 2 level0_numfiles, 2 level0_numfiles_with_compaction, 0 stop for pending_compaction_bytes, 4 slowdown for pending_compaction_bytes, 0 memtable_compaction, 1 memtable_slowdown, interval 7 total count\n\
        Block cache LRUCache@0x555b0f1ed160#3563 capacity: 8.00 MB usage: 0.09 KB\n\
        ** DB Stats **\n\
        Cumulative writes: 1500K writes, 1500K keys, 1500K commit groups, 1.0 writes per commit group, ingest: 0.18 GB, 12.96 MB/s\n\
        Cumulative WAL: 1500K writes, 0 syncs, 1500000.00 writes per sync, written: 0.18 GB, 12.96 MB/s\n\
        Cumulative stall: 00:01:2.500 H:M:S, 0.0 percent\n\
        Interval stall: 00:00:0.000 H:M:S, 0.0 percent\n";

    #[test]
    fn rocksdb_stats_parse() {
        let s = rocksdb_stalls(ROCKSDB_STATS).unwrap();
        assert_eq!((s.slowdowns, s.stops, s.count), (8, 2, 10));
        assert_eq!(s.secs, 62.5);
        assert!(rocksdb_stalls("Stalls(count): 1 level0_slowdown").is_none());
        let gib = |line, unit| rocksdb_coarse_gib(ROCKSDB_STATS, line, unit);
        assert_eq!(
            gib("Cumulative compaction:", " GB write"),
            Some((2.25 * (1u64 << 30) as f64) as u64)
        );
        // 0.18 GB, to two decimals, is too coarse to report.
        assert_eq!(gib("Cumulative WAL:", " GB"), None);
    }
}
