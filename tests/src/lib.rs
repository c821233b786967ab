//! Shared pieces of the end-to-end tests: the components built for `wasm32-wasip2`, the
//! `connector-host` binary, a Socket-shaped and an Imagescan-shaped loopback server, and helpers
//! to run a sync.

pub mod github;
pub mod imagescan;
pub mod ocsf;
pub mod oracle;
pub mod org;
pub mod pg_tls;
pub mod proxy;
pub mod schema;
pub mod server;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

/// Workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Builds the guest components once per test process (their own target dir, so this nested
/// cargo never waits on the outer one) and returns the path of `name` (`socket_connector`, ...).
pub fn component(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let packages = [
            "socket-connector",
            "rogue-connector",
            "fs-rogue-connector",
            "describe-rogue-connector",
            "impostor-connector",
            "imagescan-connector",
            "dependabot-connector",
        ];
        xtask::build_components(&root(), &root().join("target/components"), &packages)
            .unwrap_or_else(|e| panic!("{e}"))
    });
    dir.join(format!("{name}.wasm"))
}

/// The Python and JavaScript ports of the Imagescan connector, built once per test process from
/// the pinned toolchains (`xtask::polyglot`; the first build installs them under
/// `target/polyglot`).
pub fn ports() -> &'static xtask::polyglot::Ports {
    static BUILT: OnceLock<xtask::polyglot::Ports> = OnceLock::new();
    BUILT.get_or_init(|| xtask::polyglot::build_ports(&root()).unwrap_or_else(|e| panic!("{e}")))
}

/// A build of the impostor component (`tests/impostor`) that claims `spec` about itself: the
/// built component with the JSON in its spec static rewritten, so each spec is a component of
/// its own, with its own SHA-256, as a hostile build would be.
pub fn impostor(spec: &Value) -> PathBuf {
    const MARKER: &[u8] = b"IMPOSTOR-SPEC:";
    const ROOM: usize = 4096 - MARKER.len();
    let mut bytes = std::fs::read(component("impostor_connector")).unwrap();
    let found: Vec<usize> = bytes
        .windows(MARKER.len())
        .enumerate()
        .filter(|(_, w)| *w == MARKER)
        .map(|(i, _)| i + MARKER.len())
        .collect();
    assert_eq!(found.len(), 1, "the impostor's spec marker, exactly once");
    let text = spec.to_string();
    assert!(text.len() <= ROOM, "an impostor spec fits in {ROOM} bytes");
    let mut room = vec![b' '; ROOM];
    room[..text.len()].copy_from_slice(text.as_bytes());
    bytes[found[0]..found[0] + ROOM].copy_from_slice(&room);
    let dir = root().join("target/test-scratch/impostors");
    std::fs::create_dir_all(&dir).unwrap();
    let name = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, text.as_bytes());
    let path = dir.join(format!("{name}.wasm"));
    // Whole or not at all: tests in parallel may write the same spec.
    let partial = dir.join(format!("{name}.{:?}.partial", std::thread::current().id()));
    std::fs::write(&partial, bytes).unwrap();
    std::fs::rename(&partial, &path).unwrap();
    path
}

/// The `connector-host` program under test: this package's `host-under-test` binary, which cargo
/// builds (from current sources) beside every integration test of the package.
pub fn host_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("host-under-test");
    assert!(bin.exists(), "{} is missing", bin.display());
    bin
}

/// Where every host process of a test run keeps its compiled components: each component
/// compiles once per run, not once per process (in the dev profile, where Cranelift itself is
/// unoptimized, a compile takes seconds; BENCHMARKS.md §5). The cache keys on the component's
/// digest and the engine's configuration, so sharing it changes no result.
pub fn compile_cache() -> PathBuf {
    root().join("target/test-scratch/compile-cache")
}

/// `connector-host` under test as a command, with the run's [`compile_cache`].
pub fn host_command() -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(host_bin());
    cmd.env("XDG_CACHE_HOME", compile_cache());
    cmd
}

/// A scratch directory unique to one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = root()
        .join("target")
        .join("test-scratch")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Output of one `connector-host` process.
pub struct HostRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The process's peak resident memory (bytes), as far as [`PeakRss`] saw it.
    pub peak_rss: u64,
}

/// Runs `connector-host` with `args` and the given extra environment.
pub async fn run_host(args: &[&str], env: &[(&str, &str)]) -> HostRun {
    run_program(&host_bin(), args, env).await
}

/// Runs `program` with `args` and the given extra environment, none of the connector's own.
pub async fn run_program(program: &Path, args: &[&str], env: &[(&str, &str)]) -> HostRun {
    let mut cmd = tokio::process::Command::new(program);
    // No trust decisions from this machine's own configuration, unless a test makes some.
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env(
            "XDG_CONFIG_HOME",
            root().join("target/test-scratch/no-config"),
        )
        .env("XDG_CACHE_HOME", compile_cache());
    for v in connector_env_vars() {
        cmd.env_remove(v);
    }
    // Loopback servers are reached directly, whatever proxy this machine is set up with.
    for v in PROXY_VARS {
        cmd.env_remove(v);
        cmd.env_remove(v.to_ascii_lowercase());
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("running connector-host");
    let peak = PeakRss::watch(child.id().expect("a running child"));
    let out = child
        .wait_with_output()
        .await
        .expect("running connector-host");
    HostRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        peak_rss: peak.finish(),
    }
}

/// Polls a child's own `VmHWM` from /proc until it exits. The kernel resets the high-water mark
/// at `exec`, so the parent's memory is not counted, as `wait4`'s `ru_maxrss` would count it.
pub struct PeakRss {
    thread: std::thread::JoinHandle<u64>,
}

impl PeakRss {
    pub fn watch(pid: u32) -> PeakRss {
        let status = format!("/proc/{pid}/status");
        let thread = std::thread::spawn(move || {
            let mut peak_kib = 0u64;
            while let Some(kib) = std::fs::read_to_string(&status).ok().and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            }) {
                peak_kib = peak_kib.max(kib);
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            peak_kib << 10
        });
        PeakRss { thread }
    }

    /// The peak, once the process has exited.
    pub fn finish(self) -> u64 {
        self.thread.join().expect("the RSS watcher")
    }
}

fn connector_env_vars() -> [&'static str; 4] {
    [
        "SOCKET_SECURITY_API_TOKEN",
        "SOCKET_SECURITY_API_KEY",
        "SOCKET_API_KEY",
        "SOCKET_API_TOKEN",
    ]
}

/// Parses NDJSON, asserting every line is one JSON object with a `kind`.
pub fn records(ndjson: &str) -> Vec<Value> {
    ndjson
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("line {}: not JSON ({e}): {l:.200}", i + 1));
            assert!(v["kind"].is_string(), "line {} has no kind", i + 1);
            v
        })
        .collect()
}

pub fn of_kind<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["kind"] == kind).collect()
}

/// `connector-host sync` of the bundled demo organisation (replayed from its cassette), with
/// `extra` arguments and environment.
pub async fn sync_demo(extra: &[&str], env: &[(&str, &str)]) -> HostRun {
    let wasm = component("socket_connector").display().to_string();
    let (config, cassette) = (
        root().join("demo/demo.toml"),
        root().join("tests/cassettes/demo"),
    );
    let mut args = vec![
        "sync",
        wasm.as_str(),
        "--config",
        config.to_str().unwrap(),
        "--cassette",
        cassette.to_str().unwrap(),
    ];
    args.extend(extra);
    run_host(&args, env).await
}

/// The variables that send a process's HTTP through a proxy (also read in lower case).
pub const PROXY_VARS: [&str; 4] = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"];

/// `connector-host sync` of the Socket component for organisation `acme` at `base_url`, the token
/// granted from `SOCKET_SECURITY_API_KEY`, plus `extra` arguments.
pub async fn sync_acme(base_url: &str, token: &str, extra: &[&str]) -> HostRun {
    sync_acme_with_env(base_url, token, extra, &[]).await
}

/// [`sync_acme`] with more environment variables.
pub async fn sync_acme_with_env(
    base_url: &str,
    token: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> HostRun {
    let wasm = component("socket_connector").display().to_string();
    let base = format!("base-url={base_url}");
    let mut args = vec![
        "sync",
        wasm.as_str(),
        "-s",
        "org-slug=acme",
        "-s",
        base.as_str(),
        "--secret",
        "api-token=env:SOCKET_SECURITY_API_KEY",
    ];
    args.extend(extra);
    let mut env = env.to_vec();
    env.push(("SOCKET_SECURITY_API_KEY", token));
    run_host(&args, &env).await
}

/// Asserts the run failed with `code`, said `needle` on stderr, and still ended its output with
/// a `complete: false` summary.
pub fn assert_failed(run: &HostRun, code: i32, needle: &str) {
    assert_eq!(run.code, code, "stderr: {}", run.stderr);
    assert!(
        run.stderr.contains(needle),
        "expected {needle:?} in: {}",
        run.stderr
    );
    let last = records(&run.stdout).pop().expect("a summary line");
    assert_eq!(
        (last["kind"].as_str(), last["complete"].as_bool()),
        (Some("summary"), Some(false))
    );
}
