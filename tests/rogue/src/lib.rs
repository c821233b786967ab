//! A connector that misbehaves on purpose, one way per `mode` setting, so the host's sandbox can
//! be tested against the real thing:
//!
//! - `off-list`: requests `target` (a URL off the allow-list);
//! - `redirect`: requests `base-url` + `/redirect` and follows the `Location` it gets;
//! - `spin`: computes forever; `hog`: allocates without end;
//! - `snoop`: looks for the token in its environment, arguments and settings, asks the server to
//!   echo its request, and reports whatever it found as a finding (files: see `fs-rogue`);
//! - `endless`: returns a new next-cursor forever; `flood`: returns one page of `count` findings;
//! - `fields`: makes the host hold `count` header maps of `len` bytes; `unread`: sends `count` requests
//!   to `target` at once and keeps every response unread (see `hoard`); `amplify`: returns a
//!   finding whose identifier list holds `count` empty strings (20 bytes each in the component,
//!   24 more in the host once copied out); `upload`: POSTs `len` bytes to
//!   `base-url`; `inflate`: GETs `target` `count` times, one after another, never reading a
//!   body (host CPU: decoding what it asked for).

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code, unused_imports))]

use std::sync::Mutex;

#[cfg(target_arch = "wasm32")]
mod hoard;

use connector_sdk::exports::unified_security::connector::connector::Guest;
use connector_sdk::unified_security::connector::types::*;

static SETTINGS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

fn setting(name: &str) -> String {
    SETTINGS
        .lock()
        .unwrap()
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

struct Rogue;

impl Guest for Rogue {
    fn describe() -> ConnectorSpec {
        let s = |name: &str, secret: bool, env: &[&str]| SettingSpec {
            name: name.into(),
            description: format!("rogue setting {name}"),
            required: false,
            default_value: None,
            credential: secret.then(|| Credential {
                scheme: CredentialScheme::Bearer,
                origin_setting: "base-url".into(),
            }),
            suggested_env: env.iter().map(|e| e.to_string()).collect(),
            value_type: SettingType::Text,
            narrows: false,
        };
        ConnectorSpec {
            name: "rogue".into(),
            version: "0.0.0".into(),
            vendor: "Rogue".into(),
            // Its self-description, too, tries to drive the terminal that `describe` prints to.
            description: "misbehaves \x1b]0;pwned\x07on purpose\x1b[2J".into(),
            base_url_setting: Some("base-url".into()),
            tenant_setting: None,
            resource_types: vec![],
            settings: vec![
                s("mode", false, &[]),
                s("base-url", false, &[]),
                s("target", false, &[]),
                s("count", false, &[]),
                s("len", false, &[]),
                s("api-token", true, &["ROGUE_TOKEN"]),
            ],
        }
    }

    fn configure(_: RuntimeInfo, settings: Vec<Setting>) -> Result<(), ConnectorError> {
        *SETTINGS.lock().unwrap() = settings.into_iter().map(|s| (s.name, s.value)).collect();
        Ok(())
    }

    fn check() -> Result<CheckReport, ConnectorError> {
        let messages = match setting("mode").as_str() {
            "escape" => vec![escapes()[..10_000].to_string(); 1000],
            _ => vec![],
        };
        Ok(CheckReport {
            messages,
            quota_remaining: None,
            quota_max: None,
            quota_refresh: None,
        })
    }

    fn list_resources(_cursor: Option<String>) -> Result<AssetPage, ConnectorError> {
        Ok(AssetPage {
            items: vec![],
            next_cursor: None,
            skipped: vec![],
        })
    }

    fn list_findings(query: FindingQuery) -> Result<FindingPage, ConnectorError> {
        let page = |items: Vec<Finding>, next: Option<String>| FindingPage {
            items,
            next_cursor: next,
            query_started_at: None,
            vendor_records: 0,
            skipped: vec![],
        };
        match setting("mode").as_str() {
            "off-list" => get(&setting("target")).map(|_| page(vec![], None)),
            "redirect" => {
                let first = get(&format!("{}/redirect", setting("base-url")))?;
                let location = first
                    .1
                    .ok_or_else(|| ConnectorError::Transport("no Location header".into()))?;
                get(&location).map(|_| page(vec![], None))
            }
            "spin" => {
                let mut x: u64 = 1;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            }
            "hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![7u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "snoop" => {
                let mut loot: Vec<String> = std::env::vars()
                    .map(|(k, v)| format!("env {k}={v}"))
                    .collect();
                loot.extend(std::env::args().map(|a| format!("arg {a}")));
                loot.extend(
                    SETTINGS
                        .lock()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| format!("setting {k}={v}")),
                );
                if let Ok((body, _)) = get(&format!("{}/echo", setting("base-url"))) {
                    loot.push(format!("echo: {body}"));
                }
                if let Ok((body, _)) = get(&format!("{}/echo64", setting("base-url"))) {
                    loot.push(format!("echo64: {body}"));
                }
                Ok(page(vec![finding("loot", &loot.join("\n"))], None))
            }
            "endless" => {
                let n: u64 = query
                    .cursor
                    .as_deref()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                Ok(page(vec![], Some((n + 1).to_string())))
            }
            "cycle" => {
                let n: u64 = query
                    .cursor
                    .as_deref()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                Ok(page(vec![], Some(((n + 1) % 3).to_string())))
            }
            "refuse-flood" => {
                // Hammers an origin off the allow-list, ignores every refusal, reports success.
                let count: usize = setting("count").parse().unwrap_or(100_000);
                for _ in 0..count {
                    let _ = get(&setting("target"));
                }
                Ok(page(vec![finding("after-refusals", "")], None))
            }
            "random" => {
                // Asks the host for ever more random bytes: host CPU, not the component's.
                let len: u64 = setting("len").parse().unwrap_or(64 << 20);
                loop {
                    std::hint::black_box(random_bytes(len));
                }
            }
            "escape" => Err(ConnectorError::Upstream(UpstreamFailure {
                endpoint: escapes(),
                status: 500,
                message: escapes(),
            })),
            "oversized" => {
                // Valid JSON that common readers refuse, and a megabyte title.
                let mut deep = finding("deep", "");
                deep.vendor_data = "[".repeat(100_000) + &"]".repeat(100_000);
                let mut long = finding("long-title", "");
                long.title = "t".repeat(2 << 20);
                Ok(page(vec![deep, long, finding("fine", "")], None))
            }
            "fields" => {
                let kept = hoard_fields(
                    setting("count").parse().unwrap_or(1_000_000),
                    setting("len").parse().unwrap_or(8 << 10),
                );
                Ok(page(vec![finding("fields", &kept.to_string())], None))
            }
            "inflate" => {
                let answered = hoard_inflate(
                    &setting("target"),
                    setting("count").parse().unwrap_or(1_000),
                );
                Ok(page(vec![finding("inflate", &answered.to_string())], None))
            }
            "unread" => {
                let held = hoard_unread(&setting("target"), setting("count").parse().unwrap_or(64));
                Ok(page(vec![finding("unread", &held.to_string())], None))
            }
            "upload" => {
                let len = setting("len").parse().unwrap_or(1 << 20);
                post(&setting("base-url"), vec![b'u'; len]).map(|_| page(vec![], None))
            }
            "amplify" => {
                let mut wide = finding("wide", "");
                let count = setting("count").parse().unwrap_or(1_500_000);
                wide.vulnerability_identifiers = vec![String::new(); count];
                Ok(page(vec![wide], None))
            }
            "big-cursor" => Ok(page(vec![], Some("c".repeat(16 << 20)))),
            "flood" => {
                let count: usize = setting("count").parse().unwrap_or(1_000_000);
                Ok(page(
                    (0..count).map(|i| finding(&i.to_string(), "")).collect(),
                    None,
                ))
            }
            "skip-escape" => {
                // Skip reasons that try to drive the terminal and fill the log and summary.
                let reason = format!(
                    "\x1b]0;pwned\x07\x1b[2J\x1b]52;c;cHduZWQ=\x07\r\nfake log line {}",
                    "x".repeat(100_000)
                );
                let skipped = (0..50)
                    .map(|i| SkippedRecord {
                        vendor_id: Some(format!("\x1b[31m{i}")),
                        reason: reason.clone(),
                    })
                    .collect();
                Ok(FindingPage {
                    skipped,
                    ..page(vec![finding("kept", "")], None)
                })
            }
            "skip-flood" => Ok(FindingPage {
                skipped: (0..300_000)
                    .map(|_| SkippedRecord {
                        vendor_id: None,
                        reason: "r".into(),
                    })
                    .collect(),
                ..page(vec![], None)
            }),
            other => Err(ConnectorError::InvalidConfig(format!(
                "unknown mode {other:?}"
            ))),
        }
    }
}

/// Text that would retitle the window, clear the screen, write the clipboard and forge a log
/// line if it reached a terminal raw, padded to a megabyte.
fn escapes() -> String {
    format!(
        "\x1b]0;pwned\x07\x1b[2J\x1b]52;c;cHduZWQ=\x07\r\n\u{202e}forged line {}",
        "x".repeat(1 << 20)
    )
}

fn finding(id: &str, description: &str) -> Finding {
    Finding {
        description: Some(description.into()),
        issue_type: IssueType::Custom,
        severity: Severity::Info,
        analytic: Analytic {
            uid: "rogue".into(),
            name: "rogue".into(),
            url: None,
        },
        ..connector_sdk::records::finding(id, id, "rogue")
    }
}

#[cfg(target_arch = "wasm32")]
fn random_bytes(len: u64) -> Vec<u8> {
    wasip2::random::random::get_random_bytes(len)
}

#[cfg(not(target_arch = "wasm32"))]
fn random_bytes(len: u64) -> Vec<u8> {
    vec![0; len as usize]
}

#[cfg(target_arch = "wasm32")]
use hoard::{fields as hoard_fields, inflate as hoard_inflate, unread as hoard_unread};

#[cfg(not(target_arch = "wasm32"))]
fn hoard_fields(_count: usize, _len: usize) -> usize {
    0
}

#[cfg(not(target_arch = "wasm32"))]
fn hoard_unread(_url: &str, _count: usize) -> usize {
    0
}

#[cfg(not(target_arch = "wasm32"))]
fn hoard_inflate(_url: &str, _count: usize) -> usize {
    0
}

/// GET `url`: the body as text and any `Location` header.
#[cfg(target_arch = "wasm32")]
fn get(url: &str) -> Result<(String, Option<String>), ConnectorError> {
    // Asks for a compressed, transcoded, partial body, as a component hoping to slip the token
    // past a scrub would (in another form, or in pieces).
    let resp = waki::Client::new()
        .get(url)
        .header("Accept-Encoding", "gzip, br")
        .header("Accept-Charset", "utf-16")
        .header("Range", "bytes=20-")
        .header("If-Range", "*")
        .send()
        .map_err(|e| ConnectorError::Transport(format!("{url}: {e}")))?;
    let location = resp
        .header("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp
        .body()
        .map_err(|e| ConnectorError::Transport(e.to_string()))?;
    Ok((String::from_utf8_lossy(&body).into_owned(), location))
}

/// POSTs `body` to `url`.
#[cfg(target_arch = "wasm32")]
fn post(url: &str, body: Vec<u8>) -> Result<(), ConnectorError> {
    waki::Client::new()
        .post(url)
        .body(body)
        .send()
        .map(|_| ())
        .map_err(|e| ConnectorError::Transport(format!("{url}: {e}")))
}

#[cfg(not(target_arch = "wasm32"))]
fn post(_url: &str, _body: Vec<u8>) -> Result<(), ConnectorError> {
    Err(ConnectorError::Transport("no network outside wasm".into()))
}

#[cfg(not(target_arch = "wasm32"))]
fn get(_url: &str) -> Result<(String, Option<String>), ConnectorError> {
    Err(ConnectorError::Transport("no network outside wasm".into()))
}

#[cfg(target_arch = "wasm32")]
connector_sdk::__export_world!(Rogue with_types_in connector_sdk);
