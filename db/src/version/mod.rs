//! Version state: which tables make up the database, as the manifest
//! records it.
//!
//! - [`edit`]: the manifest's records (serde + bincode 2) and their golden
//!   bytes;
//! - [`catalog`]: the pure fold of edits into the files of each level and
//!   the counters;
//! - [`manifest`]: replaying a manifest, appending edits, and installing
//!   `CURRENT` atomically.
//!
//! Dependencies point one way: this module uses `table` (for key ranges)
//! and `fs`, never the read or write paths.

pub mod catalog;
pub mod edit;
pub mod manifest;

pub use catalog::{Catalog, NUM_LEVELS};
pub use edit::{Field, FileMeta, Record};
