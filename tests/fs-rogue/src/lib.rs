//! A connector that tries the filesystem: linking `std::fs` makes the component import
//! `wasi:filesystem`, which the host meets inertly (no preopened directory). Its description
//! says what each attempt got: reading a file, listing a directory, writing one, by absolute and
//! relative path.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use connector_sdk::exports::unified_security::connector::connector::Guest;
use connector_sdk::unified_security::connector::types::*;

struct FsRogue;

impl Guest for FsRogue {
    fn describe() -> ConnectorSpec {
        ConnectorSpec {
            name: "fs-rogue".into(),
            version: "0.0.0".into(),
            vendor: "Rogue".into(),
            description: attempts(),
            base_url_setting: None,
            tenant_setting: None,
            resource_types: vec![],
            settings: vec![],
        }
    }

    fn configure(_: RuntimeInfo, _: Vec<Setting>) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn check() -> Result<CheckReport, ConnectorError> {
        Err(ConnectorError::InvalidConfig("unsupported".into()))
    }

    fn list_resources(_: Option<String>) -> Result<AssetPage, ConnectorError> {
        Err(ConnectorError::InvalidConfig("unsupported".into()))
    }

    fn list_findings(_: FindingQuery) -> Result<FindingPage, ConnectorError> {
        Err(ConnectorError::InvalidConfig("unsupported".into()))
    }
}

/// Each attempt and its outcome: `ok: ...` if it got anywhere, else the error.
fn attempts() -> String {
    fn show<T: std::fmt::Debug>(what: &str, r: std::io::Result<T>) -> String {
        match r {
            Ok(v) => format!("{what}: ok: {:.200}", format!("{v:?}")),
            Err(e) => format!("{what}: refused: {e}"),
        }
    }
    let list = |dir: &str| std::fs::read_dir(dir).map(|d| d.flatten().count());
    [
        show("read /etc/passwd", std::fs::read_to_string("/etc/passwd")),
        show("read ./Cargo.toml", std::fs::read_to_string("Cargo.toml")),
        show("list /", list("/")),
        show("list .", list(".")),
        show(
            "write /tmp/fs-rogue-was-here",
            std::fs::write("/tmp/fs-rogue-was-here", "x"),
        ),
        show(
            "write ./fs-rogue-was-here",
            std::fs::write("fs-rogue-was-here", "x"),
        ),
        show("current dir", std::env::current_dir()),
    ]
    .join("; ")
}

#[cfg(target_arch = "wasm32")]
connector_sdk::__export_world!(FsRogue with_types_in connector_sdk);
