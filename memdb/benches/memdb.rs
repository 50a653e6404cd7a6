//! Benchmark: `MemDb` against `crossbeam_skiplist::SkipMap` and a
//! `RwLock<BTreeMap>`, in the same run.
//!
//! `cargo bench -p tributary-memdb` runs, for each structure:
//! - **insert**: 1 M random inserts, 16-byte keys and 100-byte values, one
//!   thread (for `MemDb`, one record per `apply`, through a reused `Batch`,
//!   as the database does);
//! - **get**: 1 M random gets of present keys, one thread;
//! - **get during inserts**: 2 reader threads doing random gets on the first
//!   half of the keys while one thread inserts the second half; the readers'
//!   total gets per second is the figure;
//! - **memory per entry**: bytes allocated while inserting 1 M entries,
//!   measured by a counting global allocator that is switched on only for
//!   that untimed pass (the timed passes pay one relaxed load per
//!   allocation).
//!
//! The peers store the same internal keys: `user_key ++ !trailer` as 8
//! big-endian bytes, which orders bytewise as user key ascending then
//! sequence number descending (keys have a fixed length here), and a get is
//! a lower-bound search for `(user_key, snapshot)` plus a user-key check,
//! exactly what `MemDb::get` does. Each structure copies key and value into
//! itself.
//!
//! The structures take turns over several runs. The single-threaded cases are
//! timed in on-CPU time (Linux `schedstat`) in chunks of 10 k operations,
//! each chunk counted at its fastest over the runs; the concurrent case is
//! wall time, best run. The ratios `MemDb / peer` are printed at the end. Run without `--bench`
//! (as `cargo test --benches` does) it does a quick smoke pass instead.
//! `MEMDB_BENCH_N` sets the number of entries.

#![allow(missing_docs)]
// The counting allocator is the only unsafe code here.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use batch::{Batch, SeqNum};
use crossbeam_skiplist::SkipMap;
use memdb::{Inserter, Lookup, MemDb};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATED: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees hold; the counting has no effect on the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATED.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract for `alloc` is `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATED.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract for `dealloc` is `System.dealloc`'s.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATED.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        // SAFETY: the caller's contract for `realloc` is `System.realloc`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const KEY_LEN: usize = 16;
const VALUE_LEN: usize = 100;

/// A structure under test: one inserting handle and a shared reader side.
trait Store: Send {
    const NAME: &'static str;
    type Shared: Send + Sync + 'static;
    fn new() -> Self;
    fn insert(&mut self, key: &[u8; KEY_LEN], seq: u64, value: &[u8]);
    fn shared(&self) -> Arc<Self::Shared>;
    /// The value's length if `key` has a put visible at `snapshot`.
    fn get(shared: &Self::Shared, key: &[u8; KEY_LEN], snapshot: u64) -> Option<usize>;
}

struct MemDbStore {
    inserter: Inserter,
    batch: Batch,
}

impl Store for MemDbStore {
    const NAME: &'static str = "MemDb";
    type Shared = MemDb;

    fn new() -> Self {
        let (_, inserter) = MemDb::new(usize::MAX);
        MemDbStore {
            inserter,
            batch: Batch::with_capacity(256),
        }
    }

    fn insert(&mut self, key: &[u8; KEY_LEN], seq: u64, value: &[u8]) {
        self.batch.clear();
        self.batch.put(key, value);
        self.inserter.apply(SeqNum(seq), &self.batch);
    }

    fn shared(&self) -> Arc<MemDb> {
        Arc::clone(self.inserter.memdb())
    }

    fn get(shared: &MemDb, key: &[u8; KEY_LEN], snapshot: u64) -> Option<usize> {
        match shared.get(key, SeqNum(snapshot)) {
            Lookup::Found(v) => Some(v.len()),
            Lookup::Deleted | Lookup::Absent => None,
        }
    }
}

/// `user_key ++ !trailer` (big-endian): bytewise order is internal-key order
/// for fixed-length user keys.
fn internal_key(key: &[u8; KEY_LEN], seq: u64, kind: u8) -> [u8; KEY_LEN + 8] {
    let mut out = [0; KEY_LEN + 8];
    out[..KEY_LEN].copy_from_slice(key);
    out[KEY_LEN..].copy_from_slice(&(!((seq << 8) | u64::from(kind))).to_be_bytes());
    out
}

/// The peers' answer from the first entry at or after the lookup key.
fn peer_found(key: &[u8; KEY_LEN], found: Option<(&[u8], &[u8])>) -> Option<usize> {
    let (k, v) = found?;
    // Kind is the low byte of the trailer, inverted.
    (k[..KEY_LEN] == key[..] && !k[KEY_LEN + 7] == 1).then_some(v.len())
}

struct SkipMapStore(Arc<SkipMap<Vec<u8>, Vec<u8>>>);

impl Store for SkipMapStore {
    const NAME: &'static str = "SkipMap";
    type Shared = SkipMap<Vec<u8>, Vec<u8>>;

    fn new() -> Self {
        SkipMapStore(Arc::new(SkipMap::new()))
    }

    fn insert(&mut self, key: &[u8; KEY_LEN], seq: u64, value: &[u8]) {
        self.0
            .insert(internal_key(key, seq, 1).to_vec(), value.to_vec());
    }

    fn shared(&self) -> Arc<Self::Shared> {
        Arc::clone(&self.0)
    }

    fn get(shared: &Self::Shared, key: &[u8; KEY_LEN], snapshot: u64) -> Option<usize> {
        let lookup = internal_key(key, snapshot, 1);
        let entry = shared.lower_bound(Bound::Included(&lookup[..]));
        peer_found(key, entry.as_ref().map(|e| (&e.key()[..], &e.value()[..])))
    }
}

type Tree = RwLock<BTreeMap<Vec<u8>, Vec<u8>>>;

struct BTreeStore(Arc<Tree>);

impl Store for BTreeStore {
    const NAME: &'static str = "RwLock<BTreeMap>";
    type Shared = Tree;

    fn new() -> Self {
        BTreeStore(Arc::new(RwLock::new(BTreeMap::new())))
    }

    fn insert(&mut self, key: &[u8; KEY_LEN], seq: u64, value: &[u8]) {
        let k = internal_key(key, seq, 1).to_vec();
        self.0.write().unwrap().insert(k, value.to_vec());
    }

    fn shared(&self) -> Arc<Tree> {
        Arc::clone(&self.0)
    }

    fn get(shared: &Tree, key: &[u8; KEY_LEN], snapshot: u64) -> Option<usize> {
        let lookup = internal_key(key, snapshot, 1);
        let tree = shared.read().unwrap();
        let found = tree
            .range::<[u8], _>((Bound::Included(&lookup[..]), Bound::Unbounded))
            .next();
        peer_found(key, found.map(|(k, v)| (&k[..], &v[..])))
    }
}

/// splitmix64.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The workload: random keys in insertion order, values sliced from a
/// random buffer, and the order of the random gets.
struct Workload {
    keys: Vec<[u8; KEY_LEN]>,
    values: Vec<u8>,
    gets: Vec<u32>,
}

impl Workload {
    fn new(n: usize) -> Workload {
        let keys = (0..n as u64)
            .map(|i| {
                let mut k = [0; KEY_LEN];
                k[..8].copy_from_slice(&mix(2 * i).to_le_bytes());
                k[8..].copy_from_slice(&mix(2 * i + 1).to_le_bytes());
                k
            })
            .collect();
        let values = (0..(1 << 20) / 8)
            .flat_map(|i| mix(i ^ 0xabcd).to_le_bytes())
            .collect();
        let gets = (0..n as u64)
            .map(|i| (mix(i ^ 0x6e7) % n as u64) as u32)
            .collect();
        Workload { keys, values, gets }
    }

    fn value(&self, i: usize) -> &[u8] {
        let at = (i * 97) % (self.values.len() - VALUE_LEN);
        &self.values[at..at + VALUE_LEN]
    }

    fn fill<S: Store>(&self, store: &mut S, range: std::ops::Range<usize>) {
        for i in range {
            store.insert(&self.keys[i], i as u64 + 1, self.value(i));
        }
    }
}

/// Figures for one structure, over all runs.
///
/// The single-threaded cases are timed in chunks of [`CHUNK`] operations,
/// and each chunk's figure is its fastest over the runs: on a shared machine
/// other processes slow down random stretches of a run, and this keeps the
/// stretches where nothing interfered.
#[derive(Default, Clone)]
struct Figures {
    insert_chunks: Vec<Duration>,
    get_chunks: Vec<Duration>,
    concurrent_get_per_sec: f64,
    concurrent_insert_per_sec: f64,
    bytes_per_entry: f64,
}

/// Operations per timed chunk.
const CHUNK: usize = 10_000;

impl Figures {
    fn insert_per_sec(&self) -> f64 {
        per_sec(
            CHUNK * self.insert_chunks.len(),
            self.insert_chunks.iter().sum(),
        )
    }

    fn get_per_sec(&self) -> f64 {
        per_sec(CHUNK * self.get_chunks.len(), self.get_chunks.iter().sum())
    }
}

/// Keeps in `best[i]` the fastest time seen for chunk `i`.
fn keep_fastest(best: &mut Vec<Duration>, times: Vec<Duration>) {
    if best.is_empty() {
        *best = times;
    } else {
        for (b, t) in best.iter_mut().zip(times) {
            *b = (*b).min(t);
        }
    }
}

/// Time this thread has spent on a CPU (Linux `schedstat`), so that the
/// single-threaded figures do not count time lost to other processes on a
/// shared machine.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// A stopwatch of on-CPU time where available, else wall time.
struct Stopwatch {
    cpu: Option<Duration>,
    wall: Instant,
}

impl Stopwatch {
    fn start() -> Stopwatch {
        Stopwatch {
            cpu: cpu_time(),
            wall: Instant::now(),
        }
    }

    fn elapsed(&self) -> Duration {
        match (self.cpu, cpu_time()) {
            (Some(start), Some(now)) => now - start,
            _ => self.wall.elapsed(),
        }
    }
}

fn per_sec(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

/// One run of the insert, get and concurrent cases.
fn run<S: Store>(w: &Workload, figures: &mut Figures) {
    let n = w.keys.len();
    let n_chunks = n / CHUNK;

    let mut store = S::new();
    let mut times = Vec::new();
    for chunk in 0..n_chunks {
        let start = Stopwatch::start();
        w.fill(&mut store, chunk * CHUNK..(chunk + 1) * CHUNK);
        times.push(start.elapsed());
    }
    w.fill(&mut store, n_chunks * CHUNK..n);
    keep_fastest(&mut figures.insert_chunks, times);

    let shared = store.shared();
    let snapshot = n as u64;
    let mut times = Vec::new();
    let mut found = 0;
    for chunk in w.gets.chunks_exact(CHUNK) {
        let start = Stopwatch::start();
        for &g in chunk {
            found += usize::from(S::get(&shared, &w.keys[g as usize], snapshot).is_some());
        }
        times.push(start.elapsed());
    }
    keep_fastest(&mut figures.get_chunks, times);
    assert_eq!(found, n_chunks * CHUNK, "{}: every key is present", S::NAME);
    drop((store, shared));

    // Two readers on the first half while the second half goes in.
    let half = n / 2;
    let mut store = S::new();
    w.fill(&mut store, 0..half);
    let shared = store.shared();
    let done = AtomicBool::new(false);
    let gets = AtomicU64::new(0);
    let start = Instant::now();
    let insert_time = std::thread::scope(|s| {
        for reader in 0..2 {
            let (shared, done, gets) = (&shared, &done, &gets);
            s.spawn(move || {
                let mut count = 0u64;
                let mut i = reader * 7919;
                while !done.load(Ordering::Relaxed) {
                    for _ in 0..64 {
                        let k = w.gets[i % n] as usize % half;
                        black_box(S::get(shared, &w.keys[k], half as u64));
                        i += 1;
                    }
                    count += 64;
                }
                gets.fetch_add(count, Ordering::Relaxed);
            });
        }
        let start = Instant::now();
        w.fill(&mut store, half..n);
        let insert_time = start.elapsed();
        done.store(true, Ordering::Relaxed);
        insert_time
    });
    let reader_time = start.elapsed();
    figures.concurrent_get_per_sec = figures
        .concurrent_get_per_sec
        .max(gets.load(Ordering::Relaxed) as f64 / reader_time.as_secs_f64());
    figures.concurrent_insert_per_sec = figures
        .concurrent_insert_per_sec
        .max(per_sec(n - half, insert_time));
    drop((store, shared));
}

/// Bytes allocated while inserting the whole workload, per entry.
fn memory<S: Store>(w: &Workload) -> f64 {
    let before = ALLOCATED.load(Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let mut store = S::new();
    w.fill(&mut store, 0..w.keys.len());
    COUNTING.store(false, Ordering::Relaxed);
    let bytes = ALLOCATED.load(Ordering::Relaxed) - before;
    drop(store);
    bytes as f64 / w.keys.len() as f64
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n: usize = match std::env::var("MEMDB_BENCH_N") {
        Ok(n) => n.parse().expect("MEMDB_BENCH_N: a number"),
        Err(_) if bench => 1_000_000,
        Err(_) => 20_000,
    };
    let runs = if bench { 5 } else { 1 };
    println!("memdb bench: {n} entries, {KEY_LEN}-byte keys, {VALUE_LEN}-byte values, {runs} runs");
    let w = Workload::new(n);

    let only = std::env::var("MEMDB_BENCH_ONLY").unwrap_or_default();
    let mut figures: [Figures; 3] = Default::default();
    for _ in 0..runs {
        run::<MemDbStore>(&w, &mut figures[0]);
        if only.is_empty() {
            run::<SkipMapStore>(&w, &mut figures[1]);
            run::<BTreeStore>(&w, &mut figures[2]);
        }
    }
    figures[0].bytes_per_entry = memory::<MemDbStore>(&w);
    figures[1].bytes_per_entry = memory::<SkipMapStore>(&w);
    figures[2].bytes_per_entry = memory::<BTreeStore>(&w);
    let names = [MemDbStore::NAME, SkipMapStore::NAME, BTreeStore::NAME];

    let mops = |x: f64| x / 1e6;
    println!(
        "{:<18} {:>12} {:>12} {:>16} {:>16} {:>12}",
        "structure", "insert Mop/s", "get Mop/s", "2r get Mop/s", "(insert Mop/s)", "bytes/entry"
    );
    for (name, f) in names.iter().zip(&figures) {
        println!(
            "{:<18} {:>12.3} {:>12.3} {:>16.3} {:>16.3} {:>12.1}",
            name,
            mops(f.insert_per_sec()),
            mops(f.get_per_sec()),
            mops(f.concurrent_get_per_sec),
            mops(f.concurrent_insert_per_sec),
            f.bytes_per_entry
        );
    }
    let m = &figures[0];
    for (name, f) in names.iter().zip(&figures).skip(1) {
        println!(
            "MemDb / {:<16} insert {:.2}x  get {:.2}x  2r get {:.2}x  memory {:.2}x",
            name,
            m.insert_per_sec() / f.insert_per_sec(),
            m.get_per_sec() / f.get_per_sec(),
            m.concurrent_get_per_sec / f.concurrent_get_per_sec,
            m.bytes_per_entry / f.bytes_per_entry,
        );
    }
}
