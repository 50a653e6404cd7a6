//! Version state: which tables make up the database, as the manifest
//! records it.
//!
//! - [`edit`]: the manifest's records (serde + bincode 2) and their golden
//!   bytes;
//! - [`catalog`]: the pure fold of edits into the files of each level and
//!   the counters;
//! - `current`: the live tables of each level, shared by readers, and
//!   how an obsolete one reaches the deleter;
//! - `deleter`: the channel obsolete tables are deleted through;
//! - [`leveldb`]: LevelDB's manifest records (`VersionEdit`), read into
//!   edits and written from a catalog;
//! - [`manifest`]: replaying a manifest, appending edits, and installing
//!   `CURRENT` atomically;
//! - `set`: loading the manifest `CURRENT` names, opening its tables,
//!   and committing edits.
//!
//! Dependencies point one way: this module uses `table` (for key ranges)
//! and `fs`, never the read or write paths.

pub mod catalog;
pub(crate) mod current;
pub(crate) mod deleter;
pub mod edit;
pub mod leveldb;
pub mod manifest;
pub(crate) mod set;

pub use catalog::{Catalog, NUM_LEVELS};
pub(crate) use current::{Lookup, Retired, TableFile, Version};
pub(crate) use deleter::Deleter;
pub use edit::{Field, FileMeta, Record};
pub(crate) use set::{ListedTable, VersionSet};
