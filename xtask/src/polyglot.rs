//! Building the connectors written in Python and JavaScript, from the project's own files: the
//! pinned toolchains (`polyglot/requirements.txt`, `polyglot/js/package-lock.json`) installed
//! under `target/polyglot`, the guest world `wit/guest`, the SDKs `sdk/python` and `sdk/js`.
//!
//! - Python: componentize-py builds the component; CPython links `wasi:sockets`, which a
//!   connector is not given, so the socket stub (`polyglot/no-sockets`) is plugged into it
//!   (`polyglot-compose`) and the result imports no socket interface.
//! - JavaScript: rolldown bundles the connector with the SDK (ComponentizeJS loads one module),
//!   then ComponentizeJS builds it with its own WASI features off, so it imports only what the
//!   guest world names.
//!
//! A build is skipped when the digest of its inputs matches the last one; one process builds at
//! a time (a lock file), so test binaries running at once share the outputs.

use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{build_components, cargo};

/// The pinned toolchain versions (also in `polyglot/requirements.txt` and
/// `polyglot/js/package.json`).
pub const COMPONENTIZE_PY: &str = "0.25.1";
pub const COMPONENTIZE_JS: &str = "0.23.0";

/// The ports a build produced.
#[derive(Debug, Clone)]
pub struct Ports {
    /// The Python Imagescan, its sockets met inside it.
    pub python: PathBuf,
    /// The same, as componentize-py wrote it (still importing `wasi:sockets`).
    pub python_unplugged: PathBuf,
    /// The JavaScript Imagescan.
    pub javascript: PathBuf,
}

/// Builds (or reuses) the Python and JavaScript ports of the Imagescan connector.
pub fn build_ports(root: &Path) -> Result<Ports, String> {
    let dir = root.join("target/polyglot");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let lock = File::create(dir.join(".lock")).map_err(|e| format!("polyglot lock: {e}"))?;
    lock.lock().map_err(|e| format!("polyglot lock: {e}"))?;
    let python = build_python(root, &dir)?;
    let javascript = build_javascript(root, &dir)?;
    Ok(Ports {
        python_unplugged: python.with_extension("unplugged.wasm"),
        python,
        javascript,
    })
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|e| format!("{what}: cannot start {:?}: {e}", command.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// A digest of the files under `paths` (names and contents), and of `extra`.
fn digest(root: &Path, paths: &[&str], extra: &str) -> String {
    let mut files = Vec::new();
    for p in paths {
        collect(&root.join(p), &mut files);
    }
    files.sort();
    let mut h = DefaultHasher::new();
    extra.hash(&mut h);
    for f in files {
        f.hash(&mut h);
        std::fs::read(&f).unwrap_or_default().hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    match std::fs::read_dir(path) {
        Ok(entries) => {
            for e in entries.flatten() {
                let name = e.file_name();
                if name != "__pycache__" && name != "node_modules" {
                    collect(&e.path(), out);
                }
            }
        }
        Err(_) if path.is_file() => out.push(path.to_path_buf()),
        Err(_) => {}
    }
}

/// Runs `build` unless `stamp` already holds `digest` and every output exists.
fn unless_current(
    stamp: &Path,
    digest: &str,
    outputs: &[&Path],
    build: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    let current = std::fs::read_to_string(stamp).is_ok_and(|s| s == digest)
        && outputs.iter().all(|o| o.exists());
    if current {
        return Ok(());
    }
    build()?;
    std::fs::write(stamp, digest).map_err(|e| format!("{}: {e}", stamp.display()))
}

fn python_toolchain(root: &Path, dir: &Path) -> Result<PathBuf, String> {
    let venv = dir.join("venv");
    let tool = venv.join("bin/componentize-py");
    let requirements = root.join("polyglot/requirements.txt");
    let stamp = dir.join("venv.stamp");
    let pins = digest(root, &["polyglot/requirements.txt"], "");
    unless_current(&stamp, &pins, &[&tool], || {
        eprintln!(
            "installing componentize-py {COMPONENTIZE_PY} into {}",
            venv.display()
        );
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv",
        )?;
        run(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--require-hashes", "-r"])
                .arg(&requirements),
            "pip install componentize-py",
        )
    })?;
    Ok(tool)
}

/// The socket stub (a component) and the composing tool, built by nested cargos with target
/// directories of their own.
fn stub_and_composer(root: &Path, dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    let components = build_components(root, &root.join("target/components"), &["no-sockets"])?;
    let stub = components.join("no_sockets.wasm");
    let tools = dir.join("cargo");
    run(
        cargo(root)
            .args(["build", "--quiet", "-p", "polyglot-compose", "--target-dir"])
            .arg(&tools),
        "building polyglot-compose",
    )?;
    Ok((stub, tools.join("debug/polyglot-compose")))
}

fn build_python(root: &Path, dir: &Path) -> Result<PathBuf, String> {
    let out = dir.join("imagescan_py.wasm");
    let app = root.join("tests/imagescan-py");
    python_component(root, &app, "imagescan", &out)?;
    Ok(out)
}

/// Builds the Python connector module `module` (a file `module.py` in `app`) on the Python SDK
/// into the component `out`; `out` with `.unplugged.wasm` is componentize-py's own output,
/// before the socket stub is plugged in. Skipped when nothing it reads changed.
pub fn python_component(root: &Path, app: &Path, module: &str, out: &Path) -> Result<(), String> {
    let dir = root.join("target/polyglot");
    let tool = python_toolchain(root, &dir)?;
    let (stub, composer) = stub_and_composer(root, &dir)?;
    let work = dir.join("py").join(module);
    let unplugged = out.with_extension("unplugged.wasm");
    let mut inputs = digest(
        root,
        &["sdk/python", "wit", "polyglot/requirements.txt"],
        module,
    );
    inputs.push_str(&digest(
        app,
        &[""],
        &std::fs::metadata(&stub)
            .map(|m| m.len().to_string())
            .unwrap_or_default(),
    ));
    let stamp = out.with_extension("stamp");
    unless_current(&stamp, &inputs, &[out, &unplugged], || {
        let bindings = work.join("bindings");
        let _ = std::fs::remove_dir_all(&bindings);
        std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
        let wit = root.join("wit/guest");
        run(
            Command::new(&tool)
                .arg("-d")
                .arg(&wit)
                .args(["-w", "connector-guest", "bindings"])
                .arg(&bindings),
            "componentize-py bindings",
        )?;
        run(
            Command::new(&tool)
                .arg("-d")
                .arg(&wit)
                .args(["-w", "connector-guest", "componentize", "-p"])
                .arg(app)
                .arg("-p")
                .arg(root.join("sdk/python"))
                .arg("-p")
                .arg(&bindings)
                .args([module, "-o"])
                .arg(&unplugged),
            "componentize-py componentize",
        )?;
        run(
            Command::new(&composer).arg(&unplugged).arg(&stub).arg(out),
            "plugging the socket stub into the Python component",
        )
    })
}

fn node_toolchain(root: &Path, dir: &Path) -> Result<PathBuf, String> {
    let js = dir.join("js");
    let bin = js.join("node_modules/.bin");
    let pins = digest(root, &["polyglot/js"], "");
    unless_current(
        &dir.join("js.stamp"),
        &pins,
        &[&bin.join("componentize-js")],
        || {
            eprintln!(
                "installing ComponentizeJS {COMPONENTIZE_JS} into {}",
                js.display()
            );
            std::fs::create_dir_all(&js).map_err(|e| format!("{}: {e}", js.display()))?;
            for f in ["package.json", "package-lock.json"] {
                std::fs::copy(root.join("polyglot/js").join(f), js.join(f))
                    .map_err(|e| format!("polyglot/js/{f}: {e}"))?;
            }
            run(
                Command::new("npm").current_dir(&js).args([
                    "ci",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                ]),
                "npm ci (ComponentizeJS)",
            )
        },
    )?;
    Ok(js)
}

/// ComponentizeJS features the connectors do without: the SDK calls `wasi:http` itself.
/// Clocks and randomness stay on: off, the engine is snapshotted at build time and
/// `Date.now()` and `Math.random()` would return the build's values on every run.
const JS_FEATURES_OFF: [&str; 3] = ["stdio", "http", "fetch-event"];

/// The `wasi:` modules the JavaScript SDK imports: left to ComponentizeJS, not bundled.
const WASI_MODULES: &str =
    "wasi:clocks/monotonic-clock@0.2.12,wasi:http/outgoing-handler@0.2.12,wasi:http/types@0.2.12";

fn build_javascript(root: &Path, dir: &Path) -> Result<PathBuf, String> {
    let out = dir.join("imagescan_js.wasm");
    javascript_component(root, &root.join("tests/imagescan-js/imagescan.js"), &out)?;
    Ok(out)
}

/// Builds the JavaScript connector module `entry` (which imports `connector-sdk`) into the
/// component `out`. Skipped when nothing it reads changed.
pub fn javascript_component(root: &Path, entry: &Path, out: &Path) -> Result<(), String> {
    let dir = root.join("target/polyglot");
    let js = node_toolchain(root, &dir)?;
    let app = entry.parent().ok_or("the entry module has no directory")?;
    let how = format!("{} {WASI_MODULES} {JS_FEATURES_OFF:?}", entry.display());
    let mut inputs = digest(root, &["sdk/js", "wit", "polyglot/js"], &how);
    inputs.push_str(&digest(app, &[""], ""));
    unless_current(&out.with_extension("stamp"), &inputs, &[out], || {
        // The SDK as the package `connector-sdk`, and the connector's directory copied beside
        // node_modules, so the bundler resolves one from the other.
        let link = js.join("node_modules/connector-sdk");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(root.join("sdk/js"), &link)
            .map_err(|e| format!("{}: {e}", link.display()))?;
        let staged = js.join("app");
        let _ = std::fs::remove_dir_all(&staged);
        copy_dir(app, &staged)?;
        let entry_name = entry.file_name().ok_or("the entry module has no name")?;
        let bundle = js.join("bundle.js");
        let bin = js.join("node_modules/.bin");
        run(
            Command::new(bin.join("rolldown"))
                .current_dir(&js)
                .arg(staged.join(entry_name))
                .arg("-o")
                .arg(&bundle)
                .args(["-f", "esm", "-e", WASI_MODULES]),
            "rolldown (bundling the JavaScript connector)",
        )?;
        run(
            Command::new(bin.join("componentize-js"))
                .current_dir(&js)
                .arg(&bundle)
                .arg("--wit")
                .arg(root.join("wit/guest"))
                .args(["--world-name", "connector-guest"])
                .arg("-d")
                .args(JS_FEATURES_OFF)
                .arg("-o")
                .arg(out),
            "componentize-js",
        )
    })
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let entries = std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
    for e in entries.flatten() {
        let target = to.join(e.file_name());
        if e.file_name() == "node_modules" {
            continue;
        }
        if e.path().is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)
                .map_err(|err| format!("{}: {err}", e.path().display()))?;
        }
    }
    Ok(())
}
