//! The write-merge protocol (group commit): one leader merges waiting
//! writers' batches into one journal record and one fsync.
//!
//! Skeleton: the `writer` issue fills it in.
