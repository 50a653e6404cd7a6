//! The command line of BENCH.md, parsed into a [`Spec`].

use std::path::PathBuf;

/// The workloads and engines, for `--help`.
const AFTER_HELP: &str = "workloads: fillseq fillrandom fillsync fillbatch readrandom
           readwhilewriting seekrandom readseq reopen rawsync rawseq
           openleveldb (tributary, with the cargo feature `peers`)
engines: tributary (default) device (default for raw*) leveldb rocksdb fjall (the last three
         with the cargo feature `peers`)";

/// The command line of BENCH.md, as clap reads it; [`spec`] checks it.
#[derive(clap::Parser, Debug)]
#[command(
    name = "bench",
    about = "One db_bench-style run (BENCH.md): prints one JSON line",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// The database directory, deleted and created afresh.
    #[arg(long, value_name = "DIR")]
    db: PathBuf,
    /// What to run.
    #[arg(long, value_name = "W", value_parser = Workload::parse)]
    workload: Workload,
    /// Threads calling at once.
    #[arg(long, value_name = "T")]
    threads: usize,
    /// Calls per thread (puts, gets, or batches for fillbatch).
    #[arg(long, value_name = "N")]
    num: usize,
    /// Bytes per value.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Bytes per key.
    #[arg(long, default_value_t = 16)]
    key_size: usize,
    /// Sync every write (fillsync and rawsync always do).
    #[arg(long)]
    sync: bool,
    /// Records per batch, for fillbatch (default 100).
    #[arg(long, value_name = "B")]
    batch: Option<usize>,
    /// The engine (default: tributary, or device for raw*).
    #[arg(long, value_parser = EngineName::parse)]
    engine: Option<EngineName>,
    /// A side writer of synced MIB-MiB batches (fillsync, fillrandom).
    #[arg(long = "big-batch", value_name = "MIB")]
    big_batch: Option<usize>,
    /// Each thread also stops after SECS seconds, as db_bench's --duration.
    #[arg(long, value_name = "SECS", value_parser = positive_seconds)]
    duration: Option<f64>,
    /// The read workloads' prep writes K random keys (not T*N), and their
    /// timed calls draw keys from [0, K).
    #[arg(long = "prep-keys", value_name = "K")]
    prep_keys: Option<u64>,
    /// Read workloads: keep DIR and read what an earlier run with the same
    /// --prep-keys (and --key-size, --value-size) left there, without the
    /// prep, as db_bench's --use_existing_db.
    #[arg(long = "use-existing-db")]
    use_existing_db: bool,
    /// fillrandom, fillsync: after the fill and close, time a reopen of DIR
    /// in a fresh process, as the reopen workload does.
    #[arg(long = "reopen-after")]
    reopen_after: bool,
    /// fillrandom: after the fill and close (and the reopen of
    /// --reopen-after), open DIR again and wait until the engine has
    /// written nothing for 3 s; report what the fill cost once settled.
    #[arg(long = "settle-after")]
    settle_after: bool,
    /// Values from db_bench's compressible generator (Snappy halves them),
    /// and every engine at its default compression (else: none).
    #[arg(long)]
    compressible: bool,
    /// Tributary only, comma-separated: `rocksdb-budget` (RocksDB's
    /// default sizes: 64 MiB write buffer, 256 MiB level 1, 64 MiB
    /// tables), `leveldb-picker` (LevelDB's round-robin compaction
    /// picker instead of the default), `dynamic-levels` or
    /// `fixed-levels` (level targets that follow the data, or LevelDB's
    /// fixed ones, whichever is not the default), `pipelined` or
    /// `unpipelined` (the pipelined commit on or off), and
    /// `write-buffer-mib=N`,
    /// `level1-mib=N`, `table-mib=N` (sizes other than the defaults, to
    /// choose them by measurement).
    #[arg(
        long = "tributary-options",
        value_name = "OPT,..",
        value_delimiter = ','
    )]
    tributary_options: Vec<String>,
    /// Internal to `reopen`: time the open of the existing DIR in this
    /// fresh process and print what it measured (DIR is kept).
    #[arg(long, hide = true)]
    reopen_only: bool,
}

fn positive_seconds(v: &str) -> Result<f64, String> {
    v.parse()
        .ok()
        .filter(|s: &f64| *s > 0.0 && s.is_finite())
        .ok_or_else(|| format!("needs positive seconds, got {v:?}"))
}

/// The most threads a run starts. Past a few tens of thousands, a thread
/// that the kernel created can still fail to set itself up (its signal
/// stack is one more memory map, and `vm.max_map_count` runs out), and
/// the Rust runtime aborts the process from inside it, where no error can
/// be returned; a thread that fails to be created is reported as an error.
pub const MAX_THREADS: usize = 4096;

/// One run, as the command line asked for it.
#[derive(Debug, Clone)]
pub struct Spec {
    pub db: PathBuf,
    pub engine: EngineName,
    pub workload: Workload,
    pub threads: usize,
    /// Calls per thread: puts, gets, or batches for `fillbatch`.
    pub num: usize,
    pub value_size: usize,
    pub key_size: usize,
    /// `--sync` as given; [`Spec::syncs`] is what the run does.
    pub sync_flag: bool,
    /// Records per batch; 1 except for `fillbatch`.
    pub batch: usize,
    /// Size of the side writer's batches in MiB, if `--big-batch` was given.
    pub big_batch_mib: Option<usize>,
    /// `--duration SECS`: each thread also stops after this long, as
    /// db_bench's `--duration`; `num` is then the most calls a thread makes.
    pub duration: Option<f64>,
    /// `--reopen-only`: the child half of `reopen`.
    pub reopen_only: bool,
    /// `--prep-keys K`: the prep's key count and the read key space.
    pub prep_keys: Option<u64>,
    /// `--use-existing-db`: no fresh directory, no prep.
    pub use_existing_db: bool,
    /// `--reopen-after`: the fill ends with a timed reopen in a child.
    pub reopen_after: bool,
    /// `--settle-after`: the fill ends with a settle (module `settle`).
    pub settle_after: bool,
    /// `--compressible`: compressible values, and each engine's default
    /// compression instead of none.
    pub compressible: bool,
    /// `--tributary-options`.
    pub tuning: Tuning,
}

/// Tributary's options that differ from its defaults in a run
/// (`--tributary-options`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tuning {
    /// RocksDB's default sizes, for the same-budget cell.
    pub rocksdb_budget: bool,
    /// LevelDB's round-robin picker, to measure the default's against it.
    pub leveldb_picker: bool,
    /// Dynamic (`true`) or fixed level targets, if not the default.
    pub dynamic_levels: Option<bool>,
    /// The pipelined commit on (`true`) or off, if not the default.
    pub pipelined: Option<bool>,
    /// Sizes in MiB: the write buffer, level 1's target, the tables.
    pub write_buffer_mib: Option<u64>,
    pub level1_mib: Option<u64>,
    pub table_mib: Option<u64>,
}

impl Tuning {
    fn parse(names: &[String]) -> Result<Tuning, String> {
        let mut tuning = Tuning::default();
        for name in names {
            let mib = |v: &str| {
                v.parse::<u64>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("--tributary-options {name:?}: needs a positive MiB"))
            };
            match name.split_once('=') {
                None if name == "rocksdb-budget" => tuning.rocksdb_budget = true,
                None if name == "leveldb-picker" => tuning.leveldb_picker = true,
                None if name == "dynamic-levels" => tuning.dynamic_levels = Some(true),
                None if name == "fixed-levels" => tuning.dynamic_levels = Some(false),
                None if name == "pipelined" => tuning.pipelined = Some(true),
                None if name == "unpipelined" => tuning.pipelined = Some(false),
                Some(("write-buffer-mib", v)) => tuning.write_buffer_mib = Some(mib(v)?),
                Some(("level1-mib", v)) => tuning.level1_mib = Some(mib(v)?),
                Some(("table-mib", v)) => tuning.table_mib = Some(mib(v)?),
                _ => return Err(format!("unknown --tributary-options value {name:?}")),
            }
        }
        Ok(tuning)
    }

    /// The flag that gives this tuning, for a child run.
    pub fn args(self) -> Vec<String> {
        let mut names = Vec::new();
        if self.rocksdb_budget {
            names.push("rocksdb-budget".to_owned());
        }
        if self.leveldb_picker {
            names.push("leveldb-picker".to_owned());
        }
        match self.dynamic_levels {
            Some(true) => names.push("dynamic-levels".to_owned()),
            Some(false) => names.push("fixed-levels".to_owned()),
            None => {}
        }
        match self.pipelined {
            Some(true) => names.push("pipelined".to_owned()),
            Some(false) => names.push("unpipelined".to_owned()),
            None => {}
        }
        for (key, mib) in [
            ("write-buffer-mib", self.write_buffer_mib),
            ("level1-mib", self.level1_mib),
            ("table-mib", self.table_mib),
        ] {
            if let Some(n) = mib {
                names.push(format!("{key}={n}"));
            }
        }
        if names.is_empty() {
            Vec::new()
        } else {
            vec!["--tributary-options".to_owned(), names.join(",")]
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    FillSeq,
    FillRandom,
    FillSync,
    FillBatch,
    ReadRandom,
    ReadWhileWriting,
    SeekRandom,
    ReadSeq,
    Reopen,
    OpenLevelDb,
    RawSync,
    RawSeq,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineName {
    Tributary,
    Device,
    #[cfg(feature = "peers")]
    LevelDb,
    #[cfg(feature = "peers")]
    RocksDb,
    #[cfg(feature = "peers")]
    Fjall,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::FillSeq => "fillseq",
            Workload::FillRandom => "fillrandom",
            Workload::FillSync => "fillsync",
            Workload::FillBatch => "fillbatch",
            Workload::ReadRandom => "readrandom",
            Workload::ReadWhileWriting => "readwhilewriting",
            Workload::SeekRandom => "seekrandom",
            Workload::ReadSeq => "readseq",
            Workload::Reopen => "reopen",
            Workload::OpenLevelDb => "openleveldb",
            Workload::RawSync => "rawsync",
            Workload::RawSeq => "rawseq",
        }
    }

    fn parse(s: &str) -> Result<Workload, String> {
        Ok(match s {
            "fillseq" => Workload::FillSeq,
            "fillrandom" => Workload::FillRandom,
            "fillsync" => Workload::FillSync,
            "fillbatch" => Workload::FillBatch,
            "readrandom" => Workload::ReadRandom,
            "readwhilewriting" => Workload::ReadWhileWriting,
            "seekrandom" => Workload::SeekRandom,
            "readseq" => Workload::ReadSeq,
            "reopen" => Workload::Reopen,
            "openleveldb" => Workload::OpenLevelDb,
            "rawsync" => Workload::RawSync,
            "rawseq" => Workload::RawSeq,
            _ => return Err(format!("unknown workload {s:?}")),
        })
    }

    /// Whether every write of this workload is synced.
    fn syncs(self, sync_flag: bool) -> bool {
        match self {
            Workload::FillSync | Workload::RawSync => true,
            _ => sync_flag,
        }
    }

    fn is_raw(self) -> bool {
        matches!(self, Workload::RawSync | Workload::RawSeq)
    }

    /// Whether the timed phase writes (the fills).
    pub fn writes(self) -> bool {
        matches!(
            self,
            Workload::FillSeq | Workload::FillRandom | Workload::FillSync | Workload::FillBatch
        )
    }

    /// Whether the workload reads what an untimed prep wrote (`readrandom`
    /// and the workloads BENCH.md defines by it).
    pub fn preps(self) -> bool {
        matches!(
            self,
            Workload::ReadRandom
                | Workload::ReadWhileWriting
                | Workload::SeekRandom
                | Workload::ReadSeq
        )
    }
}

impl EngineName {
    pub fn name(self) -> &'static str {
        match self {
            EngineName::Tributary => "tributary",
            EngineName::Device => "device",
            #[cfg(feature = "peers")]
            EngineName::LevelDb => "leveldb",
            #[cfg(feature = "peers")]
            EngineName::RocksDb => "rocksdb",
            #[cfg(feature = "peers")]
            EngineName::Fjall => "fjall",
        }
    }

    fn parse(s: &str) -> Result<EngineName, String> {
        Ok(match s {
            "tributary" => EngineName::Tributary,
            "device" => EngineName::Device,
            #[cfg(feature = "peers")]
            "leveldb" => EngineName::LevelDb,
            #[cfg(feature = "peers")]
            "rocksdb" => EngineName::RocksDb,
            #[cfg(feature = "peers")]
            "fjall" => EngineName::Fjall,
            #[cfg(not(feature = "peers"))]
            "leveldb" | "rocksdb" | "fjall" => {
                return Err(format!(
                    "engine {s:?} needs the bench built with `--features peers`"
                ))
            }
            _ => return Err(format!("unknown engine {s:?}")),
        })
    }
}

impl Spec {
    /// Whether each write of the run is synced.
    pub fn syncs(&self) -> bool {
        self.workload.syncs(self.sync_flag)
    }

    /// Records written by one call: `--batch` for `fillbatch`, else 1.
    pub fn records_per_call(&self) -> usize {
        if self.workload == Workload::FillBatch {
            self.batch
        } else {
            1
        }
    }

    /// The size of the key space random keys are drawn from: `T*N`, times
    /// `B` for `fillbatch`, or `--prep-keys` for the read workloads.
    pub fn key_space(&self) -> u64 {
        match self.prep_keys {
            Some(k) if self.workload.preps() => k,
            _ => (self.threads * self.num * self.records_per_call()) as u64,
        }
    }
}

/// `openleveldb` times Tributary against C++ LevelDB inside one run, so it
/// takes Tributary as its engine, and needs the peers for LevelDB.
fn check_open_leveldb(workload: Workload, engine: EngineName) -> Result<(), String> {
    if workload != Workload::OpenLevelDb {
        return Ok(());
    }
    if cfg!(not(feature = "peers")) {
        return Err("openleveldb needs the bench built with `--features peers`".to_owned());
    }
    if engine != EngineName::Tributary {
        return Err(format!(
            "openleveldb opens LevelDB's directory with tributary, not {}",
            engine.name()
        ));
    }
    Ok(())
}

/// The run `cli` asks for, checked.
pub fn spec(cli: Cli) -> Result<Spec, String> {
    let Cli {
        db,
        workload,
        threads,
        num,
        value_size,
        key_size,
        sync: sync_flag,
        batch,
        engine,
        big_batch: big_batch_mib,
        duration,
        reopen_only,
        prep_keys,
        use_existing_db,
        reopen_after,
        settle_after,
        compressible,
        tributary_options,
    } = cli;
    let tuning = Tuning::parse(&tributary_options)?;
    let engine = engine.unwrap_or(if workload.is_raw() {
        EngineName::Device
    } else {
        EngineName::Tributary
    });
    if workload.is_raw() != (engine == EngineName::Device) {
        return Err(format!(
            "workload {} runs on engine {}, not {}",
            workload.name(),
            if workload.is_raw() {
                "device"
            } else {
                "a database"
            },
            engine.name()
        ));
    }
    let batch = match (workload, batch) {
        (Workload::FillBatch, b) => b.unwrap_or(100),
        (_, None | Some(1)) => 1,
        (w, Some(_)) => return Err(format!("--batch applies to fillbatch, not {}", w.name())),
    };
    if big_batch_mib.is_some() && !matches!(workload, Workload::FillSync | Workload::FillRandom) {
        return Err("--big-batch applies to fillsync and fillrandom".to_owned());
    }
    if reopen_only && workload != Workload::Reopen {
        return Err("--reopen-only is internal to the reopen workload".to_owned());
    }
    if (prep_keys.is_some() || use_existing_db) && !workload.preps() {
        return Err(format!(
            "--prep-keys and --use-existing-db apply to the read workloads, not {}",
            workload.name()
        ));
    }
    if prep_keys == Some(0) {
        return Err("--prep-keys must be at least 1".to_owned());
    }
    if reopen_after && !matches!(workload, Workload::FillRandom | Workload::FillSync) {
        return Err("--reopen-after applies to fillrandom and fillsync".to_owned());
    }
    if settle_after && workload != Workload::FillRandom {
        return Err("--settle-after applies to fillrandom".to_owned());
    }
    if compressible && workload.is_raw() {
        return Err("--compressible applies to the database engines".to_owned());
    }
    check_open_leveldb(workload, engine)?;
    if tuning != Tuning::default() && engine != EngineName::Tributary {
        return Err("--tributary-options applies to engine tributary".to_owned());
    }
    let spec = Spec {
        db,
        engine,
        workload,
        threads,
        num,
        value_size,
        key_size,
        sync_flag,
        batch,
        big_batch_mib,
        duration,
        reopen_only,
        prep_keys,
        use_existing_db,
        reopen_after,
        settle_after,
        compressible,
        tuning,
    };
    if spec.threads == 0 || spec.num == 0 || spec.batch == 0 {
        return Err("--threads, --num and --batch must be at least 1".to_owned());
    }
    if spec.threads > MAX_THREADS {
        return Err(format!(
            "--threads {} is more than the {MAX_THREADS} a run starts (BENCH.md goes to 64)",
            spec.threads
        ));
    }
    if spec.value_size > crate::gen::VALUE_BUFFER_LEN {
        return Err(format!(
            "--value-size is at most {} bytes",
            crate::gen::VALUE_BUFFER_LEN
        ));
    }
    // Every index a run writes must fit in key-size decimal digits: the key
    // space, plus the side writer's keys above it.
    let big_records = spec.big_batch_mib.map_or(0, crate::gen::big_batch_records);
    let max_index = spec.key_space() + big_records as u64;
    let digits = max_index.max(1).to_string().len();
    if spec.key_size < digits {
        return Err(format!(
            "--key-size {} is too small for {max_index} keys ({digits} digits)",
            spec.key_size
        ));
    }
    Ok(spec)
}
