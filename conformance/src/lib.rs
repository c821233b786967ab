//! The conformance kit of the connector contract (`wit/connector.wit`): proves a runtime
//! performs each of its duties, whatever language it is written in.
//!
//! - [`server`]: three loopback origins that record what reached them;
//! - the probe (`conformance/probe`): a component whose `duty` setting exercises one duty;
//! - [`runtime`]: the runtime under test, started through a command template;
//! - [`checks`]: one check per duty, judged from the server's records, the probe's reports,
//!   the exit code and the records written.
//!
//! `cargo run -p conformance -- --runtime '<template>'` prints one line per duty.

pub mod checks;
pub mod runtime;
pub mod server;

use std::path::{Path, PathBuf};

/// Builds the probe component (with the workspace's component profile) and returns its path.
pub fn build_probe(root: &Path) -> Result<PathBuf, String> {
    let dir = xtask::build_components(
        root,
        &root.join("target/components"),
        &["conformance-probe"],
    )?;
    Ok(dir.join("conformance_probe.wasm"))
}

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("conformance/ sits in the repository")
        .to_path_buf()
}
