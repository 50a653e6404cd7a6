//! Tributary: the database facade that composes `batch`, `journal`, `memdb`
//! and `writer`, and owns files, recovery, options, tables and compaction.
//!
//! Skeleton: the `db` issue fills it in.

pub use batch::{Batch, Record, SeqNum};
