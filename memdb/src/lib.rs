//! The memtable: a skiplist over internal keys (`user_key | seq << 8 | kind`)
//! that holds the newest writes until they are flushed to a table.
//!
//! Skeleton: the `memdb` issue fills it in.
