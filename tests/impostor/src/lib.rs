//! A connector whose self-description is whatever a test makes it: its spec is JSON in a
//! fixed-size static that `connector_tests::impostor` rewrites in a copy of the built component.
//! Each copy is a different build (its own SHA-256) claiming whatever name, tenant setting,
//! defaults and credentials the test chose, as a hostile component would.
//!
//! The JSON: `name`, `version`, `tenant` (the tenant setting), `base_url` (the base-URL setting),
//! `settings` (objects with `name`, `secret`, `origin`, `required`, `default`, `type`: `url` or
//! text), `resources` (ids) and `findings` (objects with `id`, or `id_bytes` for an id of that
//! many `x`s), and `quota` (`remaining`, `max`, `refresh`: what `check` reports). Every record's
//! `vendor_data` holds the settings `configure` was given, so a test sees what reached the
//! component.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::sync::Mutex;

use connector_sdk::exports::unified_security::connector::connector::Guest;
use connector_sdk::unified_security::connector::types::*;
use serde_json::{Value, json};

/// Where the spec lives: the marker, then JSON padded with spaces to the static's length.
pub const MARKER: &[u8] = b"IMPOSTOR-SPEC:";
const SPEC_BYTES: usize = 4096;

const fn padded(text: &[u8]) -> [u8; SPEC_BYTES] {
    let mut out = [b' '; SPEC_BYTES];
    let mut i = 0;
    while i < text.len() {
        out[i] = text[i];
        i += 1;
    }
    out
}

/// The default spec: a plain, honest connector.
static SPEC: [u8; SPEC_BYTES] = padded(
    b"IMPOSTOR-SPEC:{\"name\":\"impostor\",\"settings\":[],\"findings\":[{\"id\":\"f-1\"}]}",
);

static SETTINGS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// The spec as the (possibly rewritten) static holds it, read where the optimizer cannot see.
fn spec() -> Value {
    let bytes = std::hint::black_box(&SPEC);
    let text = std::str::from_utf8(&bytes[MARKER.len()..]).unwrap_or("{}");
    serde_json::from_str(text.trim_end()).unwrap_or_else(|_| json!({}))
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn list(v: &Value, key: &str) -> Vec<Value> {
    v.get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn setting_spec(s: &Value) -> SettingSpec {
    let flag = |key: &str| s.get(key).and_then(Value::as_bool).unwrap_or(false);
    SettingSpec {
        name: text(s, "name").unwrap_or_default(),
        description: "an impostor's setting".into(),
        required: flag("required"),
        default_value: text(s, "default"),
        credential: flag("secret").then(|| Credential {
            scheme: CredentialScheme::Bearer,
            origin_setting: text(s, "origin").unwrap_or_else(|| "base-url".into()),
        }),
        suggested_env: vec![],
        value_type: match text(s, "type").as_deref() {
            Some("url") => SettingType::Url,
            _ => SettingType::Text,
        },
        narrows: false,
    }
}

/// What `configure` was given, as JSON: every record carries it.
fn configured() -> String {
    let settings: serde_json::Map<String, Value> = SETTINGS
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({ "settings": settings }).to_string()
}

fn finding(id: String) -> Finding {
    let vendor_id: String = id.chars().take(64).collect();
    Finding {
        title: "impostor finding".into(),
        finding_type: FindingType::Dependency,
        severity: Severity::High,
        analytic: Analytic {
            uid: "impostor".into(),
            name: "impostor".into(),
            url: None,
        },
        vendor_data: configured(),
        ..connector_sdk::records::finding(id, vendor_id, "")
    }
}

struct Impostor;

impl Guest for Impostor {
    fn describe() -> ConnectorSpec {
        let spec = spec();
        ConnectorSpec {
            name: text(&spec, "name").unwrap_or_default(),
            version: text(&spec, "version").unwrap_or_else(|| "0.0.0".into()),
            vendor: "Impostor".into(),
            description: "claims whatever a test makes it claim".into(),
            base_url_setting: text(&spec, "base_url"),
            tenant_setting: text(&spec, "tenant"),
            resource_types: vec![],
            settings: list(&spec, "settings").iter().map(setting_spec).collect(),
        }
    }

    fn configure(_: RuntimeInfo, settings: Vec<Setting>) -> Result<(), ConnectorError> {
        *SETTINGS.lock().unwrap() = settings.into_iter().map(|s| (s.name, s.value)).collect();
        Ok(())
    }

    fn check() -> Result<CheckReport, ConnectorError> {
        let quota = spec().get("quota").cloned().unwrap_or_default();
        Ok(CheckReport {
            messages: vec![configured()],
            quota_remaining: quota.get("remaining").and_then(Value::as_u64),
            quota_max: quota.get("max").and_then(Value::as_u64),
            quota_refresh: text(&quota, "refresh"),
        })
    }

    fn list_resources(_: Option<String>) -> Result<AssetPage, ConnectorError> {
        RESOURCES_LISTED.set(true);
        let items = list(&spec(), "resources")
            .iter()
            .filter_map(Value::as_str)
            .map(|id| Asset {
                vendor_data: configured(),
                ..connector_sdk::records::asset(id, "repository", id, id)
            })
            .collect();
        Ok(AssetPage {
            items,
            next_cursor: None,
            skipped: vec![],
        })
    }

    fn list_findings(_: FindingQuery) -> Result<FindingPage, ConnectorError> {
        let items: Vec<Finding> = list(&spec(), "findings")
            .iter()
            // A finding can claim an id of `id_bytes` bytes, a random id (`"random_id": true`),
            // or to exist only after this instance listed resources (`"after_resources": true`).
            .filter(|f| {
                f.get("after_resources") != Some(&Value::Bool(true)) || RESOURCES_LISTED.get()
            })
            .map(|f| match f.get("id_bytes").and_then(Value::as_u64) {
                Some(n) => "x".repeat(n as usize),
                None if f.get("random_id") == Some(&Value::Bool(true)) => {
                    use std::hash::BuildHasher;
                    format!(
                        "{:016x}",
                        std::collections::hash_map::RandomState::new().hash_one(0u8)
                    )
                }
                None => text(f, "id").unwrap_or_default(),
            })
            .map(finding)
            .collect();
        Ok(FindingPage {
            vendor_records: items.len() as u32,
            items,
            next_cursor: None,
            query_started_at: Some("2026-08-11T09:20:00Z".into()),
            skipped: vec![],
        })
    }
}

thread_local! {
    /// This instance has listed its resources.
    static RESOURCES_LISTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(target_arch = "wasm32")]
connector_sdk::__export_world!(Impostor with_types_in connector_sdk);
