//! `cargo demo`: builds the Socket component and the host, then syncs the bundled demo
//! organisation from its recorded cassette (no account, no network). Extra arguments go to
//! `connector-host sync`, e.g. `cargo demo -- --out demo.ndjson`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("demo") => demo(&root, &args[1..]),
        _ => {
            eprintln!("usage: cargo demo [-- SYNC-ARGS...]");
            ExitCode::from(2)
        }
    }
}

fn demo(root: &Path, extra: &[String]) -> ExitCode {
    let extra = extra.strip_prefix(&["--".to_string()]).unwrap_or(extra);
    let target = root.join("target").join("components");
    let built = cargo(root)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            "socket-connector",
            "--target-dir",
        ])
        .arg(&target)
        .status();
    if !built.is_ok_and(|s| s.success()) {
        eprintln!("demo: building the component failed");
        return ExitCode::FAILURE;
    }
    let wasm: PathBuf = target.join("wasm32-wasip2/release/socket_connector.wasm");
    let status = cargo(root)
        .args([
            "run",
            "--release",
            "-q",
            "-p",
            "connector-host",
            "--",
            "sync",
        ])
        .arg(&wasm)
        .arg("--config")
        .arg(root.join("demo/demo.toml"))
        .arg("--fixtures")
        .arg(root.join("tests/fixtures/demo"))
        .args(extra)
        .status();
    match status {
        Ok(s) => ExitCode::from(s.code().unwrap_or(1) as u8),
        Err(e) => {
            eprintln!("demo: cannot run cargo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn cargo(root: &Path) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root);
    c
}
