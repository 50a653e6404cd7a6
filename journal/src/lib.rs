//! The write-ahead journal in LevelDB's log format (skeleton: filled in by
//! the foundation issue).
