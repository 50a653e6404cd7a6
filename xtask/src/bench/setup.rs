//! What the runs need before the first: the workspace, the peers' C++
//! libraries, the bench binary built, and a line about the machine.

use super::Config;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace's root directory.
pub(super) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Makes the bench binary ready and returns its path: the peers'
/// packages first (unless they are not run or not to be installed), then
/// the build.
pub(super) fn bench_binary(root: &Path, config: &Config) -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    if config.peers && config.install {
        ensure_peer_libraries()?;
    }
    build(root, &cargo, config.peers)
}

/// Installs Debian's LevelDB and RocksDB development packages when their C
/// headers are missing.
fn ensure_peer_libraries() -> Result<()> {
    let wanted = [
        ("libleveldb-dev", "/usr/include/leveldb/c.h"),
        ("librocksdb-dev", "/usr/include/rocksdb/c.h"),
    ];
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(_, header)| !Path::new(header).exists())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("bench: installing {} (the C++ peers)", missing.join(" "));
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let apt = |args: &[&str]| -> Result<()> {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        println!(
            "$ {}apt-get {}",
            if root { "" } else { "sudo " },
            args.join(" ")
        );
        let status = cmd.status().context("cannot start apt-get")?;
        if !status.success() {
            bail!(
                "apt-get {} failed ({status}); install {} by hand, or run with --no-peers",
                args.join(" "),
                missing.join(" ")
            );
        }
        Ok(())
    };
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq"];
    install.extend(&missing);
    apt(&install)
}

/// Builds the bench binary (with the peers unless `peers` is false) and
/// returns its path.
fn build(root: &Path, cargo: &str, peers: bool) -> Result<PathBuf> {
    let target = root.join("target").join("bench");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .args([
            "build",
            "--release",
            "-p",
            "tributary-cli",
            "--bin",
            "bench",
        ]);
    if peers {
        cmd.args(["--features", "peers"]);
    }
    println!(
        "$ CARGO_TARGET_DIR={} cargo build --release -p tributary-cli --bin bench{}",
        target.display(),
        if peers { " --features peers" } else { "" }
    );
    let status = cmd.status().context("cannot start cargo")?;
    if !status.success() {
        bail!("building the bench binary failed ({status})");
    }
    Ok(target.join("release").join("bench"))
}

/// One line about the machine and the commit, for the results.
pub(super) fn machine_summary(root: &Path) -> String {
    let cmd = |prog: &str, args: &[&str]| {
        Command::new(prog)
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "?".to_owned())
    };
    format!(
        "{} cores, Linux {}, commit {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cmd("uname", &["-r"]),
        cmd("git", &["rev-parse", "--short", "HEAD"])
    )
}
