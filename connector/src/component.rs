//! The component's exports: settings live in a static between calls (exports take no `self`;
//! the host uses a fresh instance per run, so nothing leaks between tenants).

use std::sync::Mutex;
use std::time::Duration;

use crate::api::{self, Http, HttpResponse};
use crate::exports::unified_security::connector::connector::Guest;
use crate::settings::{self, Config};
use crate::wit::{
    AssetPage, CheckReport, ConnectorError, ConnectorSpec, FindingPage, FindingQuery, Setting,
};

static CONFIG: Mutex<Option<Config>> = Mutex::new(None);

struct SocketConnector;

impl Guest for SocketConnector {
    fn describe() -> ConnectorSpec {
        settings::spec()
    }

    fn configure(settings: Vec<Setting>) -> Result<(), ConnectorError> {
        let cfg = Config::parse(&settings)?;
        *CONFIG.lock().unwrap_or_else(|e| e.into_inner()) = Some(cfg);
        Ok(())
    }

    fn check() -> Result<CheckReport, ConnectorError> {
        api::check(&config()?, &mut WasiHttp)
    }

    fn list_resources(cursor: Option<String>) -> Result<AssetPage, ConnectorError> {
        api::list_repos(&config()?, &mut WasiHttp, cursor.as_deref())
    }

    fn list_findings(query: FindingQuery) -> Result<FindingPage, ConnectorError> {
        api::list_alerts(&config()?, &mut WasiHttp, &query)
    }
}

fn config() -> Result<Config, ConnectorError> {
    CONFIG
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or_else(|| ConnectorError::InvalidConfig("`configure` was not called".to_string()))
}

/// Outgoing HTTP through `wasi:http`, via waki. The host clamps timeouts and sizes.
struct WasiHttp;

impl Http for WasiHttp {
    fn get(&mut self, url: &str) -> Result<HttpResponse, String> {
        let resp = waki::Client::new()
            .get(url)
            .header("Accept", "application/json")
            .header(
                "User-Agent",
                concat!("socket-connector/", env!("CARGO_PKG_VERSION")),
            )
            .connect_timeout(Duration::from_secs(30))
            .send()
            .map_err(|e| e.to_string())?;
        let status = resp.status_code();
        let retry_after = resp
            .header("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = read_body(&resp).map_err(|e| format!("reading the body: {e}"))?;
        Ok(HttpResponse {
            status,
            retry_after,
            body,
        })
    }
}

/// Most bytes asked for in one read: a page of alerts arrives in one piece, yet a wrong
/// `Content-Length` cannot make the guest reserve more than this up front.
const MAX_READ: u64 = 64 << 20;

/// Reads the body in as few pieces as it arrives in. The first read asks for the whole
/// `Content-Length`, so a page usually lands in one allocation and is never copied again
/// (waki's `body()` reads 1 MiB at a time into a growing buffer: two copies and twice the memory).
fn read_body(resp: &waki::Response) -> Result<Vec<u8>, String> {
    let declared = resp
        .header("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let want = declared.clamp(1 << 16, MAX_READ);
    let mut body: Vec<u8> = Vec::new();
    while let Some(chunk) = resp.chunk(want).map_err(|e| e.to_string())? {
        if body.is_empty() {
            body = chunk;
        } else {
            body.extend_from_slice(&chunk);
        }
    }
    Ok(body)
}

crate::export!(SocketConnector with_types_in crate);
