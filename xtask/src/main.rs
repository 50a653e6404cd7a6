//! Project automation. Placeholder; filled in below.
fn main() {}
