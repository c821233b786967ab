//! Building the guest components, shared by `cargo demo` and the end-to-end tests: one place
//! that knows the target, the profile and where the `.wasm` files land.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The components' target, pinned (with the toolchain) in `rust-toolchain.toml`.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// The profile the components are built with: whole-program LTO, one codegen unit (see the
/// workspace `Cargo.toml`). The host is built with `release`, which compiles in parallel.
pub const COMPONENT_PROFILE: &str = "component";

/// Builds `packages` for [`WASM_TARGET`] into `target_dir` (its own directory, so a cargo nested
/// in another never waits on the outer one's lock) and returns where the `.wasm` files are.
pub fn build_components(
    root: &Path,
    target_dir: &Path,
    packages: &[&str],
) -> Result<PathBuf, String> {
    ensure_wasm_target(root)?;
    let mut cargo = cargo(root);
    cargo.args([
        "build",
        "--profile",
        COMPONENT_PROFILE,
        "--target",
        WASM_TARGET,
    ]);
    for p in packages {
        cargo.args(["-p", p]);
    }
    let status = cargo
        .arg("--target-dir")
        .arg(target_dir)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the {WASM_TARGET} components failed"));
    }
    Ok(target_dir.join(WASM_TARGET).join(COMPONENT_PROFILE))
}

/// Installs the wasm target for the pinned toolchain when rustup manages it and it is missing
/// (a toolchain installed without its targets, with auto-install off, otherwise fails deep in
/// the build with "can't find crate for `core`"). Without rustup, says what is needed.
pub fn ensure_wasm_target(root: &Path) -> Result<(), String> {
    let installed = Command::new("rustup")
        .current_dir(root)
        .args(["target", "list", "--installed"])
        .output();
    let Some(out) = installed.ok().filter(|o| o.status.success()) else {
        return Ok(()); // Not rustup: the toolchain's own error will name the missing target.
    };
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|t| t.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    eprintln!(
        "installing the {WASM_TARGET} target for the pinned toolchain (rustup target add {WASM_TARGET})"
    );
    let added = Command::new("rustup")
        .current_dir(root)
        .args(["target", "add", WASM_TARGET])
        .status()
        .map_err(|e| format!("cannot run rustup: {e}"))?;
    if added.success() {
        Ok(())
    } else {
        Err(format!(
            "the {WASM_TARGET} target is missing and could not be installed: run \
             `rustup target add {WASM_TARGET}` (or `rustup toolchain install` in {})",
            root.display()
        ))
    }
}

/// `cargo` as the caller was run (`$CARGO`), in `root`.
pub fn cargo(root: &Path) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root);
    c
}
