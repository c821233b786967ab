//! The conformance kit's probe: one component whose `duty` setting picks the runtime duty it
//! exercises (see `conformance/README.md`). It makes its requests through plain `wasi:http`
//! (the SDK's [`WasiHttp`], never its retrying wrapper), so that what reaches the kit's server
//! is exactly what the runtime did, and it reports what it saw from inside by `POST`ing JSON
//! to `{base-url}/report/{duty}`.

use connector_sdk::http::{Http, Method, Request, Response, SendError, WasiHttp};
use connector_sdk::ids::Ids;
use connector_sdk::settings::{self, SettingSpecExt, SpecBuilder};
use connector_sdk::wit::*;
use connector_sdk::{Connector, cursor, records};
use serde_json::json;

/// The bearer token and API key the kit grants (the probe never sees them).
pub const TOKEN: &str = "token";
pub const KEY: &str = "key";

pub struct Probe {
    duty: String,
    base: String,
    other: Option<String>,
    denied: Option<String>,
    /// The settings exactly as `configure` received them.
    given: Vec<(String, String)>,
    retries_transient: bool,
    ids: Ids,
}

impl Connector for Probe {
    fn describe() -> ConnectorSpec {
        let key = CredentialScheme::Header(HeaderCredential {
            name: "X-Api-Key".to_string(),
            prefix: None,
        });
        SpecBuilder::new(
            "probe",
            "Conformance kit",
            "Exercises one runtime duty at a time.",
        )
        .version(env!("CARGO_PKG_VERSION"))
        .base_url("base-url", "The kit's server", "http://127.0.0.1:9")
        .setting(settings::text("duty", "The duty to exercise").required())
        .setting(settings::url("other-url", "A second allowed origin"))
        .setting(settings::url("denied-url", "An origin off the allow-list"))
        .setting(settings::secret(
            TOKEN,
            "Bearer token",
            CredentialScheme::Bearer,
            "base-url",
        ))
        .setting(settings::secret(KEY, "API key", key, "base-url"))
        .setting(settings::text("user", "The user name of `password`"))
        .setting(settings::secret(
            "password",
            "A password for the second origin, sent with `user` as Basic",
            CredentialScheme::BasicPassword("user".to_string()),
            "other-url",
        ))
        .setting(settings::boolean("flag", "A boolean").default("false"))
        .setting(settings::list("items", "A list"))
        .setting(settings::integer("count", "A number").default("7"))
        .setting(settings::text("note", "Any text"))
        .resource_type("probe")
        .build()
    }

    fn configure(runtime: &RuntimeInfo, given: Vec<Setting>) -> Result<Self, ConnectorError> {
        // The raw values are the point: read them by hand, so nothing is trimmed or defaulted.
        let get = |n: &str| {
            given
                .iter()
                .find(|s| s.name == n)
                .map(|s| s.value.trim().to_string())
        };
        let base = get("base-url").ok_or_else(|| settings::invalid("base-url", "required"))?;
        Ok(Probe {
            duty: get("duty").unwrap_or_default(),
            base: base.trim_end_matches('/').to_string(),
            other: get("other-url").map(|u| u.trim_end_matches('/').to_string()),
            denied: get("denied-url").map(|u| u.trim_end_matches('/').to_string()),
            given: given.into_iter().map(|s| (s.name, s.value)).collect(),
            retries_transient: runtime.retries_transient,
            ids: Ids::new("https://conformance.invalid/"),
        })
    }

    fn check(&mut self, _: &mut dyn Http) -> Result<CheckReport, ConnectorError> {
        Ok(CheckReport {
            messages: vec![format!("probe for {}", self.duty)],
            quota_remaining: None,
            quota_max: None,
            quota_refresh: None,
        })
    }

    fn list_resources(
        &mut self,
        _: &mut dyn Http,
        cursor: Option<String>,
    ) -> Result<AssetPage, ConnectorError> {
        let mut http = WasiHttp::new();
        let mut page = AssetPage {
            items: vec![self.asset("one")],
            next_cursor: None,
            skipped: Vec::new(),
        };
        match self.duty.as_str() {
            "credentials" => self.credentials(&mut http),
            "allow-list" => self.allow_list(&mut http),
            "retries" => self.retries(&mut http),
            "echo" => self.echo(&mut http),
            "settings" => {
                let given: Vec<_> = self.given.iter().map(|(n, v)| json!([n, v])).collect();
                self.report(&mut http, json!({ "given": given }));
            }
            "cursor-cycle" => page.next_cursor = cursor_cycle(&mut http, &self.base)?,
            "cursor-size" => page.next_cursor = cursor.is_none().then(|| "c".repeat(5000)),
            "held" => page.next_cursor = self.held(&mut http, cursor)?,
            "memory" => page.items[0].vendor_data = allocate(1 << 30).to_string(),
            "skipped" => page = self.skipped(),
            _ => {}
        }
        Ok(page)
    }

    fn list_findings(
        &mut self,
        _: &mut dyn Http,
        query: FindingQuery,
    ) -> Result<FindingPage, ConnectorError> {
        let mut page = FindingPage {
            items: Vec::new(),
            next_cursor: None,
            query_started_at: None,
            vendor_records: 0,
            skipped: Vec::new(),
        };
        if self.duty == "invalid-cursor" {
            self.invalid_cursor(&mut WasiHttp::new(), query.cursor.as_deref(), &mut page)?;
        }
        Ok(page)
    }
}

impl Probe {
    fn asset(&self, name: &str) -> Asset {
        records::asset(
            self.ids.id(&[Some("asset"), Some(name)]),
            "probe",
            name,
            name,
        )
    }

    fn get(&self, http: &mut WasiHttp, url: String) -> Result<Response, SendError> {
        http.send(&Request::get(url))
    }

    /// `POST {base}/report/{duty}` with what the probe saw.
    fn report(&self, http: &mut WasiHttp, seen: serde_json::Value) {
        let request = Request {
            method: Method::Post,
            url: format!("{}/report/{}", self.base, self.duty),
            headers: vec![("content-type".to_string(), "application/json".to_string())],
            body: seen.to_string().into_bytes(),
        };
        let _ = http.send(&request);
    }

    /// Its own credential headers on each request: the runtime must drop them.
    fn credentials(&self, http: &mut WasiHttp) {
        let _ =
            http.send(&Request::get(format!("{}/cred", self.base)).header("x-api-key", "forged"));
        if let Some(other) = &self.other {
            let forged = Request::get(format!("{other}/cred"))
                .header("authorization", "Bearer forged")
                .header("x-api-key", "forged");
            let _ = http.send(&forged);
        }
    }

    fn allow_list(&self, http: &mut WasiHttp) {
        let denied = self.denied.clone().unwrap_or_default();
        let seen = match self.get(http, format!("{denied}/allow")) {
            Ok(r) => json!({ "refused": false, "status": r.status }),
            Err(e) => json!({ "refused": e.refused, "error": e.message }),
        };
        self.report(http, seen);
    }

    fn retries(&self, http: &mut WasiHttp) {
        let mut seen = json!({ "retries_transient": self.retries_transient });
        for path in ["flaky", "missing", "limited", "limited-long"] {
            seen[path] = match self.get(http, format!("{}/{path}", self.base)) {
                Ok(r) => json!({ "status": r.status, "retry_after": r.header("retry-after") }),
                Err(e) => json!({ "error": e.message }),
            };
        }
        self.report(http, seen);
    }

    /// Asks for a compressed, partial body; reports the body and headers it got.
    fn echo(&self, http: &mut WasiHttp) {
        let request = Request::get(format!("{}/echo", self.base))
            .header("accept-encoding", "gzip")
            .header("range", "bytes=0-3");
        let seen = match http.send(&request) {
            Ok(r) => json!({
                "status": r.status,
                "gzip": r.body.starts_with(&[0x1f, 0x8b]),
                "body": String::from_utf8_lossy(&r.body),
                "headers": r.headers,
            }),
            Err(e) => json!({ "error": e.message }),
        };
        self.report(http, seen);
    }

    /// Page 1 fetches page 2 ahead and holds it across the return; page 2 takes it, or says
    /// it was lost and asks again.
    fn held(
        &self,
        http: &mut WasiHttp,
        cursor: Option<String>,
    ) -> Result<Option<String>, ConnectorError> {
        let page2 = Request::get(format!("{}/held?page=2", self.base));
        match cursor {
            None => {
                let _ = self.get(http, format!("{}/held?page=1", self.base));
                http.prefetch(&page2);
                Ok(Some(cursor::offset("held", 2)))
            }
            Some(c) => {
                cursor::offset_of("held", Some(&c))?;
                if http.send(&page2).is_err() {
                    self.report(http, json!({ "lost": true }));
                    let _ = http.send(&page2);
                }
                Ok(None)
            }
        }
    }

    /// Three good records, two a runtime must skip (an id over 512 bytes, one with a control
    /// character), and one the probe itself could not read.
    fn skipped(&self) -> AssetPage {
        let mut items: Vec<Asset> = ["a", "b", "c"].iter().map(|n| self.asset(n)).collect();
        let mut long = self.asset("long");
        long.id = "x".repeat(600);
        let mut control = self.asset("control");
        control.id = "bell\u{7}".to_string();
        items.extend([long, control]);
        AssetPage {
            items,
            next_cursor: None,
            skipped: vec![SkippedRecord {
                vendor_id: Some("d".to_string()),
                reason: "items[5] (record d): unreadable".to_string(),
            }],
        }
    }

    /// Page 2 of the findings answers `invalid-cursor` the first time the server says 410.
    fn invalid_cursor(
        &self,
        http: &mut WasiHttp,
        cursor: Option<&str>,
        page: &mut FindingPage,
    ) -> Result<(), ConnectorError> {
        let n = cursor::offset_of("ic", cursor)?.max(1);
        let r = self
            .get(http, format!("{}/ic?page={n}", self.base))
            .map_err(|e| ConnectorError::Transport(e.message))?;
        if r.status == 410 {
            return Err(ConnectorError::InvalidCursor(
                "the server forgot page 2".to_string(),
            ));
        }
        let names: &[&str] = if n == 1 { &["f1", "f2"] } else { &["f3"] };
        page.items = names.iter().map(|v| self.finding(v)).collect();
        page.vendor_records = names.len() as u32;
        page.next_cursor = (n == 1).then(|| cursor::offset("ic", 2));
        Ok(())
    }

    fn finding(&self, vendor_id: &str) -> Finding {
        let id = self.ids.id(&[Some("finding"), Some(vendor_id)]);
        Finding {
            severity: Severity::Low,
            ..records::finding(id, vendor_id, vendor_id)
        }
    }
}

/// Cursors `c1`, `c2`, then `c1` again: a runtime must stop at the repeat. One that does not is
/// let out after 20 pages, so the kit sees how far it went.
fn cursor_cycle(http: &mut WasiHttp, base: &str) -> Result<Option<String>, ConnectorError> {
    // The server numbers the calls: a page request carries no position of its own.
    let answer = http
        .send(&Request::get(format!("{base}/page")))
        .map_err(|e| ConnectorError::Transport(e.message))?;
    let call: u32 = String::from_utf8_lossy(&answer.body)
        .trim()
        .parse()
        .unwrap_or(0);
    Ok(match call {
        1 => Some("c1".to_string()),
        2 => Some("c2".to_string()),
        3 => Some("c1".to_string()),
        c if c < 20 => Some(format!("x{c}")),
        _ => None,
    })
}

/// Allocates and touches `bytes`, returning a checksum so nothing is optimized away.
fn allocate(bytes: usize) -> u64 {
    let mut chunks = Vec::new();
    let mut sum = 0u64;
    for _ in 0..bytes / (64 << 20) {
        let chunk = vec![1u8; 64 << 20];
        sum += u64::from(chunk[chunk.len() / 2]);
        chunks.push(chunk);
    }
    sum
}

#[cfg(target_arch = "wasm32")]
connector_sdk::export_connector!(Probe);
