//! The db_bench-style benchmark binary (BENCH.md); filled in by the bench
//! issue.

fn main() {
    eprintln!("bench: not yet implemented");
    std::process::exit(2);
}
