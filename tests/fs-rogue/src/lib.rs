//! A connector that reads files: linking `std::fs` makes the component import
//! `wasi:filesystem`, which the host refuses before running any of it.

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
            description: std::fs::read_to_string("/etc/passwd").unwrap_or_default(),
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

#[cfg(target_arch = "wasm32")]
connector_sdk::__export_world!(FsRogue with_types_in connector_sdk);
