//! Group commit: the goleveldb write-merge protocol.
//! (Docs to be written.)

mod backend;
#[cfg(not(loom))]
pub mod channels;
mod error;
mod group_commit;
mod metrics;
mod offer;
mod options;
mod sync;

pub use backend::{Backend, Log, Memtable, Room};
pub use error::{RoomError, WriteError};
pub use group_commit::GroupCommit;
pub use metrics::Metrics;
pub use offer::{merge_limit, MERGE_LIMIT, MERGE_LIMIT_LARGE};
pub use options::{Options, WriteOptions};
