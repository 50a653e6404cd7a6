//! Options of the writer as a whole ([`Options`]) and of one write
//! ([`WriteOptions`]).

/// Options of a [`GroupCommit`](crate::GroupCommit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Whether writes may be merged into groups at all (goleveldb's
    /// `!NoWriteMerge`). When `false`, every write waits for the write lock
    /// and is its own group; [`WriteOptions::merge`] is then ignored.
    pub merge: bool,
    /// Whether a leader hands the write lock on before its group's fsync
    /// (the pipelined commit, `WRITE-MERGE.md` §Pipelining): the next
    /// group merges and appends while the fsync runs, and one fsync covers
    /// every group appended before it began. Takes effect only with a
    /// backend whose [`Log::syncer`](crate::Log::syncer) gives a
    /// [`Syncer`](crate::Syncer); see
    /// [`GroupCommit::is_pipelined`](crate::GroupCommit::is_pipelined).
    pub pipelined: bool,
}

// House style (STYLE.md, rust-analyzer rule 5): a config has no `Default`;
// the constructors say what they give.
#[allow(clippy::new_without_default)]
impl Options {
    /// Merging on, not pipelined: goleveldb's protocol.
    pub const fn new() -> Options {
        Options {
            merge: true,
            pipelined: false,
        }
    }

    /// Merging on, pipelined (see [`pipelined`](Options::pipelined)).
    pub const fn pipelined() -> Options {
        Options {
            merge: true,
            pipelined: true,
        }
    }
}

/// Options of one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Return only after an fsync that covers this write. A group syncs if
    /// any of its members asked.
    pub sync: bool,
    /// Whether this write may be merged (goleveldb's `!wo.NoWriteMerge`).
    /// A write with `merge == false` neither offers itself to a leader nor,
    /// when it leads, merges others: it waits for the write lock and is a
    /// group of its own.
    pub merge: bool,
}

#[allow(clippy::new_without_default)]
impl WriteOptions {
    /// No sync, merging allowed.
    pub const fn new() -> WriteOptions {
        WriteOptions {
            sync: false,
            merge: true,
        }
    }

    /// Sync, merging allowed.
    pub const fn synced() -> WriteOptions {
        WriteOptions {
            sync: true,
            merge: true,
        }
    }
}
