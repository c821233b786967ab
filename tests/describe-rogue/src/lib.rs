//! A connector whose `describe` misbehaves: it takes 300 MiB, then sleeps for an hour. The
//! host runs `describe` before anything else, so it must be bounded like every other call:
//! by the memory limit (a low `memory-limit-mb` stops the allocation) and by the wall clock (a
//! short `call-timeout-secs` stops the sleep).

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use connector_sdk::exports::unified_security::connector::connector::Guest;
use connector_sdk::unified_security::connector::types::*;

struct DescribeRogue;

impl Guest for DescribeRogue {
    fn describe() -> ConnectorSpec {
        let hoard = vec![7u8; 300 << 20];
        std::hint::black_box(&hoard);
        std::thread::sleep(std::time::Duration::from_secs(3600));
        ConnectorSpec {
            name: "describe-rogue".into(),
            version: "0.0.0".into(),
            vendor: "Rogue".into(),
            description: String::new(),
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
connector_sdk::__export_world!(DescribeRogue with_types_in connector_sdk);
