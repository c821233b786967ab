//! Developer entry points: `cargo demo` builds the Socket component and the host, then syncs the
//! bundled demo organisation from its recorded cassette (no account, no network; extra arguments
//! go to `connector-host sync`, e.g. `cargo demo -- --out demo.ndjson`); `cargo python-connector`
//! and `cargo js-connector` build a connector written in Python or JavaScript (`xtask::polyglot`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use xtask::{build_components, cargo, polyglot};

/// `path` from where the command was run (cargo runs xtask in the workspace root).
fn absolute(path: &str) -> PathBuf {
    std::env::current_dir().map_or_else(|_| PathBuf::from(path), |d| d.join(path))
}

fn built(result: Result<(), String>, out: &str) -> ExitCode {
    match result {
        Ok(()) => {
            eprintln!("wrote {out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("demo") => demo(&root, &args[1..]),
        Some("python-connector") if args.len() == 4 => built(
            polyglot::python_component(&root, &absolute(&args[1]), &args[2], &absolute(&args[3])),
            &args[3],
        ),
        Some("js-connector") if args.len() == 3 => built(
            polyglot::javascript_component(&root, &absolute(&args[1]), &absolute(&args[2])),
            &args[2],
        ),
        _ => {
            eprintln!(
                "usage: cargo demo [-- SYNC-ARGS...]\n       \
                 cargo python-connector APP-DIR MODULE OUT.wasm\n       \
                 cargo js-connector ENTRY.js OUT.wasm"
            );
            ExitCode::from(2)
        }
    }
}

fn demo(root: &Path, extra: &[String]) -> ExitCode {
    let extra = extra.strip_prefix(&["--".to_string()]).unwrap_or(extra);
    let target = root.join("target").join("components");
    // The host and the component build in their own target directories: side by side, the
    // component's single-threaded LTO overlaps the host's parallel compile. The host is the
    // dev build the tests use too (the profile is in the workspace Cargo.toml): whichever of
    // `cargo demo` and `cargo test` runs first builds it for both.
    let host = {
        let mut build = cargo(root);
        build.args(["build", "-p", "connector-host"]);
        std::thread::spawn(move || build.status())
    };
    let wasm: PathBuf = match build_components(root, &target, &["socket-connector"]) {
        Ok(dir) => dir.join("socket_connector.wasm"),
        Err(e) => {
            eprintln!("demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !host.join().is_ok_and(|s| s.is_ok_and(|s| s.success())) {
        eprintln!("demo: building connector-host failed");
        return ExitCode::FAILURE;
    }
    let status = cargo(root)
        .args(["run", "-q", "-p", "connector-host", "--", "sync"])
        .arg(&wasm)
        .arg("--config")
        .arg(root.join("demo/demo.toml"))
        .arg("--cassette")
        .arg(root.join("tests/cassettes/demo"))
        // The cassette is one full sync: the demo replays it as one, every time (a second
        // `--out sqlite:demo.db` would otherwise be an incremental run it has no answers for).
        .args((!extra.iter().any(|a| a == "--full")).then_some("--full"))
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
