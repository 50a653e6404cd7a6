//! Test executables run side by side: `cargo test` runs a package's test
//! executables one after another, and most suites here spend their time
//! in one or two long tests, so one core idled through much of the `test`
//! and `release-tests` steps. [`run`] builds the suites with cargo, then
//! runs their executables in [`LANES`] lanes, the way cargo would run each
//! (from its package's directory, with its `CARGO_MANIFEST_DIR`), and
//! prints each one's output whole when it ends.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

/// Test executables running at once: the CI machine's cores. Each
/// executable runs its own tests on as many threads as there are cores;
/// two executables at once fill the cores when one of them is down to its
/// last long test.
pub const LANES: usize = 2;

/// One test executable cargo built.
struct Suite {
    /// What cargo calls it: the package and the target.
    name: String,
    /// The target's name.
    target: String,
    executable: PathBuf,
    /// Its package's directory, where cargo would run it.
    package_dir: PathBuf,
}

/// Builds with `build` (a `cargo test` command, to which this adds
/// `--no-run` and JSON messages) and runs every test executable it
/// produced, [`LANES`] at a time: the targets named in `first` first, in
/// that order (the longest suites, so that no lane starts one late), then
/// the rest in build order. Fails, after every suite has run, if any
/// failed; else says how many ran.
pub fn run(mut build: Command, first: &[&str]) -> Result<usize> {
    build.args(["--no-run", "--message-format=json-render-diagnostics"]);
    println!("$ {}", crate::ci::show(&build));
    let output = build
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo test --no-run")?;
    if !output.status.success() {
        bail!("building the tests failed");
    }
    let mut suites = suites(&output.stdout)?;
    // Stable: equal keys keep build order.
    suites.sort_by_key(|s| {
        first
            .iter()
            .position(|&name| name == s.target)
            .unwrap_or(first.len())
    });
    let count = suites.len();
    let queue = Mutex::new(suites.into_iter());
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..LANES {
            scope.spawn(|| loop {
                let Some(suite) = queue.lock().unwrap().next() else {
                    break;
                };
                if !run_one(&suite) {
                    failed.lock().unwrap().push(suite.name);
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap();
    if !failed.is_empty() {
        bail!("test suites failed: {}", failed.join(", "));
    }
    Ok(count)
}

/// The test executables in cargo's JSON messages, in build order.
fn suites(messages: &[u8]) -> Result<Vec<Suite>> {
    let mut suites = Vec::new();
    for line in messages.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let message: serde_json::Value =
            serde_json::from_slice(line).context("a message of cargo's that is not JSON")?;
        let is_test =
            message["reason"] == "compiler-artifact" && message["profile"]["test"] == true;
        let (Some(executable), true) = (message["executable"].as_str(), is_test) else {
            continue;
        };
        let manifest = PathBuf::from(message["manifest_path"].as_str().unwrap_or_default());
        let package_dir = manifest
            .parent()
            .context("a package manifest with no directory")?
            .to_path_buf();
        let target = message["target"]["name"].as_str().unwrap_or_default();
        // "path+file:///…/db#tributary@0.1.0": the name between # and @.
        let id = message["package_id"].as_str().unwrap_or_default();
        let package = id.rsplit('#').next().unwrap_or(id);
        let package = package.split('@').next().unwrap_or(package);
        suites.push(Suite {
            name: format!("{package}/{target}"),
            target: target.to_owned(),
            executable: PathBuf::from(executable),
            package_dir,
        });
    }
    Ok(suites)
}

/// Runs `suite`, printing its output once it ends; whether it passed.
fn run_one(suite: &Suite) -> bool {
    let started = Instant::now();
    let output = Command::new(&suite.executable)
        .current_dir(&suite.package_dir)
        .env("CARGO_MANIFEST_DIR", &suite.package_dir)
        .stdin(Stdio::null())
        .output();
    let took = started.elapsed();
    // One suite's output at a time, whole.
    let _printing = PRINTING.lock().unwrap_or_else(|e| e.into_inner());
    println!("\n--- {} ({took:.1?})", suite.name);
    match output {
        Ok(output) => {
            print!("{}", String::from_utf8_lossy(&output.stdout));
            eprint!("{}", String::from_utf8_lossy(&output.stderr));
            if !output.status.success() {
                println!("--- {} FAILED: {}", suite.name, output.status);
            }
            output.status.success()
        }
        Err(e) => {
            println!(
                "--- {} FAILED: cannot run {}: {e}",
                suite.name,
                suite.executable.display()
            );
            false
        }
    }
}

/// Held while one suite's output is printed.
static PRINTING: Mutex<()> = Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_are_the_test_executables_with_their_package() {
        let messages = [
            // A library built for a test harness: a suite.
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/db#tributary@0.1.0","manifest_path":"/w/db/Cargo.toml","target":{"name":"crash"},"profile":{"test":true},"executable":"/w/target/release/deps/crash-1"}"#,
            // A dependency: no executable.
            r#"{"reason":"compiler-artifact","package_id":"registry+https://x#crc32c@0.6.8","manifest_path":"/r/crc32c/Cargo.toml","target":{"name":"crc32c"},"profile":{"test":false},"executable":null}"#,
            // A binary built to be run by a test, not a test itself.
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/db/cli#tributary-cli@0.1.0","manifest_path":"/w/db/cli/Cargo.toml","target":{"name":"tributary"},"profile":{"test":false},"executable":"/w/target/release/tributary"}"#,
            r#"{"reason":"build-finished","success":true}"#,
        ]
        .join("\n");
        let suites = suites(messages.as_bytes()).unwrap();
        assert_eq!(suites.len(), 1);
        assert_eq!(suites[0].name, "tributary/crash");
        assert_eq!(suites[0].target, "crash");
        assert_eq!(suites[0].package_dir, PathBuf::from("/w/db"));
        assert_eq!(
            suites[0].executable,
            PathBuf::from("/w/target/release/deps/crash-1")
        );
    }
}
