//! Building the guest components, shared by `cargo demo` and the end-to-end tests: one place
//! that knows the target, the profile and where the `.wasm` files land.

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod polyglot;

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

/// `cargo` as the caller was run (`$CARGO`), in `root`, without the variables that `cargo run`
/// and `cargo test` set for the program they run. Build scripts watch some of them (ring's
/// watches `CARGO_PKG_NAME` and `CARGO_MANIFEST_DIR`), so a nested build that kept them would
/// rebuild what a build started by hand had built, and the other way round.
pub fn cargo(root: &Path) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_for_the_running_program) {
            c.env_remove(name);
        }
    }
    c
}

/// Whether cargo sets `name` for the program it runs (as opposed to the user's own settings,
/// such as `CARGO_HOME` or `CARGO_TARGET_DIR`).
fn set_for_the_running_program(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || matches!(
            name,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_MANIFEST_LINKS"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "OUT_DIR"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_programs_variables_are_dropped_and_the_users_kept() {
        for set in [
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION_MAJOR",
            "CARGO_MANIFEST_DIR",
            "OUT_DIR",
        ] {
            assert!(set_for_the_running_program(set), "{set}");
        }
        for kept in [
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO",
            "RUSTFLAGS",
            "PATH",
        ] {
            assert!(!set_for_the_running_program(kept), "{kept}");
        }
    }
}
