//! The checks: one per runtime duty of the contract (`wit/connector.wit`). Each runs the probe
//! with the duty's `duty` setting through the runtime under test, then judges what reached the
//! server, what the probe reported from inside, the exit code, and the records written.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use crate::runtime::{Job, Ran, Runtime};
use crate::server::{Origin, Seen, Server};

/// The bearer token the kit grants: characters that percent- and JSON-encoding change, so
/// every echo form differs from the plain one.
pub const TOKEN: &str = "kit+Tok/en=42:secret";
/// The API key the kit grants (sent in `X-Api-Key`).
pub const KEY: &str = "kit-key-7f3a9c";
/// The password the kit grants for the second origin, with the user name `kit-user`.
pub const PASSWORD: &str = "kit-pass-51e2";

/// One duty's check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub duty: &'static str,
}

/// Every check, in the order the kit runs them.
pub const CHECKS: [Check; 13] = [
    Check {
        name: "allow-list",
        duty: "a request off the allow-list is refused with HTTP-request-denied and never reaches its origin",
    },
    Check {
        name: "credential-origin",
        duty: "each secret goes, in its scheme (bearer, header, basic), only to its origin",
    },
    Check {
        name: "credential-headers",
        duty: "the component's own Authorization and credential headers are dropped",
    },
    Check {
        name: "negotiation",
        duty: "the runtime chooses the encoding, drops Range and Accept-Encoding, and hands over identity bodies",
    },
    Check {
        name: "scrub",
        duty: "an echoed secret is removed from body and headers in every form",
    },
    Check {
        name: "retries",
        duty: "a runtime that says it retries retries 5xx and never 404; one that says it does not, does not",
    },
    Check {
        name: "retry-after",
        duty: "Retry-After within the bound is waited out; past it the 429 is handed over in seconds",
    },
    Check {
        name: "held-requests",
        duty: "a request started in one call is still running, and answered, in the next",
    },
    Check {
        name: "cursors",
        duty: "a repeated cursor or one over 4096 bytes ends the run as a contract violation",
    },
    Check {
        name: "invalid-cursor",
        duty: "invalid-cursor restarts the findings listing once, and no finding is written twice",
    },
    Check {
        name: "admission",
        duty: "a record whose id is over 512 bytes or holds a control character is skipped",
    },
    Check {
        name: "settings",
        duty: "values pass raw, defaults are not filled in, a wrong shape is refused before configure",
    },
    Check {
        name: "memory-limit",
        duty: "a component that allocates 1 GiB is stopped",
    },
];

/// The forms of `secret` a scrub must catch, one per line of `/echo`'s body.
pub fn echo_forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_string()];
    for prefix in ["", "a", "ab"] {
        forms.push(STANDARD.encode(format!("{prefix}{secret}")));
        forms.push(URL_SAFE_NO_PAD.encode(format!("{prefix}{secret}")));
    }
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    forms.push(hex.to_ascii_uppercase());
    forms.push(hex);
    forms.push(utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string());
    forms.push(secret.replace('/', "\\/"));
    forms.push(
        secret
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect(),
    );
    forms
}

/// The kit: the runtime under test, the probe, and the server.
pub struct Kit {
    pub runtime: Runtime,
    pub probe: PathBuf,
    pub scratch: PathBuf,
    server: Server,
}

impl Kit {
    pub async fn new(runtime: Runtime, probe: PathBuf, scratch: PathBuf) -> std::io::Result<Kit> {
        std::fs::create_dir_all(&scratch)?;
        Ok(Kit {
            runtime,
            probe,
            scratch,
            server: Server::start(TOKEN).await?,
        })
    }

    /// Runs the probe for `duty` with `extra` settings; returns the run and what reached the
    /// server.
    async fn run(&self, duty: &str, extra: &[(&str, &str)]) -> (Ran, Vec<Seen>) {
        let base = self.server.url(Origin::Base);
        let mut settings = vec![
            ("base-url".to_string(), base.clone()),
            ("duty".to_string(), duty.to_string()),
            ("other-url".to_string(), self.server.url(Origin::Other)),
            ("denied-url".to_string(), self.server.url(Origin::Denied)),
            ("user".to_string(), "kit-user".to_string()),
        ];
        settings.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        let job = Job {
            component: self.probe.clone(),
            out: self.scratch.join(format!("{duty}.ndjson")),
            allowed: vec![base, self.server.url(Origin::Other)],
            settings,
            secrets: vec![
                ("token".to_string(), TOKEN.to_string()),
                ("key".to_string(), KEY.to_string()),
                ("password".to_string(), PASSWORD.to_string()),
            ],
        };
        self.server.take();
        let ran = self.runtime.run(&job).await;
        (ran, self.server.take())
    }

    /// Runs one check: `Ok` or why it failed.
    pub async fn check(&self, check: &Check) -> Result<(), String> {
        match check.name {
            "allow-list" => self.allow_list().await,
            "credential-origin" => self.credential_origin().await,
            "credential-headers" => self.credential_headers().await,
            "negotiation" => self.negotiation().await,
            "scrub" => self.scrub().await,
            "retries" => self.retries().await,
            "retry-after" => self.retry_after().await,
            "held-requests" => self.held_requests().await,
            "cursors" => self.cursors().await,
            "invalid-cursor" => self.invalid_cursor().await,
            "admission" => self.admission().await,
            "settings" => self.settings().await,
            "memory-limit" => self.memory_limit().await,
            other => Err(format!("no check named {other}")),
        }
    }

    async fn allow_list(&self) -> Result<(), String> {
        // The run may fail (a refused request may fail it) or succeed: the duty is the refusal.
        let (_, seen) = self.run("allow-list", &[]).await;
        if seen.iter().any(|s| s.origin == Origin::Denied) {
            return Err("the request reached the origin off the allow-list".into());
        }
        let report = report(&seen, "allow-list")?;
        if report["refused"] != true {
            return Err(format!(
                "the component was not told HTTP-request-denied: {report}"
            ));
        }
        Ok(())
    }

    async fn credential_origin(&self) -> Result<(), String> {
        let (ran, seen) = self.run("credentials", &[]).await;
        succeeded(&ran)?;
        let base = find(&seen, Origin::Base, "/cred")?;
        if base.header("authorization") != [format!("Bearer {TOKEN}")] {
            return Err(format!(
                "the base origin got authorization {:?}",
                base.header("authorization")
            ));
        }
        if base.header("x-api-key") != [KEY] {
            return Err(format!(
                "the base origin got x-api-key {:?}",
                base.header("x-api-key")
            ));
        }
        let other = find(&seen, Origin::Other, "/cred")?;
        let basic = format!("Basic {}", STANDARD.encode(format!("kit-user:{PASSWORD}")));
        if other.header("authorization") != [basic.as_str()] {
            return Err(format!(
                "the second origin got authorization {:?}",
                other.header("authorization")
            ));
        }
        let sent_anywhere =
            |s: &Seen, secret: &str| s.headers.iter().any(|(_, v)| v.contains(secret));
        let basic_at_base = base
            .header("authorization")
            .iter()
            .any(|v| v.starts_with("Basic"));
        if sent_anywhere(other, TOKEN) || sent_anywhere(other, KEY) || basic_at_base {
            return Err("a secret went to an origin that is not its own".into());
        }
        Ok(())
    }

    async fn credential_headers(&self) -> Result<(), String> {
        let (ran, seen) = self.run("credentials", &[]).await;
        succeeded(&ran)?;
        if seen.is_empty() {
            return Err("no request reached the server".into());
        }
        for s in &seen {
            if let Some((name, _)) = s.headers.iter().find(|(_, v)| v.ends_with("forged")) {
                return Err(format!(
                    "the component's own `{name}` header reached {:?} {}",
                    s.origin, s.path
                ));
            }
        }
        Ok(())
    }

    async fn negotiation(&self) -> Result<(), String> {
        let (ran, seen) = self.run("echo", &[]).await;
        succeeded(&ran)?;
        let echo = find(&seen, Origin::Base, "/echo")?;
        if !echo.header("range").is_empty() {
            return Err("the component's Range header reached the server".into());
        }
        let report = report(&seen, "echo")?;
        if report["gzip"] != false || report["status"] != 200 {
            return Err(format!(
                "the component was not handed an identity body: {report}"
            ));
        }
        Ok(())
    }

    async fn scrub(&self) -> Result<(), String> {
        let (ran, seen) = self.run("echo", &[]).await;
        succeeded(&ran)?;
        let report = report(&seen, "echo")?;
        let body = report["body"].as_str().unwrap_or_default();
        if body.is_empty() {
            return Err(format!("the probe got no body: {report}"));
        }
        if let Some(form) = echo_forms(TOKEN)
            .into_iter()
            .find(|f| body.contains(f.as_str()))
        {
            return Err(format!("the component saw the token as {form:?}"));
        }
        if report["headers"].to_string().contains("kit+Tok") {
            return Err("a response header carried the token to the component".into());
        }
        Ok(())
    }

    async fn retries(&self) -> Result<(), String> {
        let (ran, seen) = self.run("retries", &[]).await;
        succeeded(&ran)?;
        let report = report(&seen, "retries")?;
        let count = |path: &str| seen.iter().filter(|s| s.path == path).count();
        let claims = report["retries_transient"] == true;
        let (flaky, missing) = (count("/flaky"), count("/missing"));
        match claims {
            true if flaky != 3 || report["flaky"]["status"] != 200 => Err(format!(
                "the runtime says it retries, yet /flaky (503, 503, 200) was asked {flaky} times and the component saw {}",
                report["flaky"]
            )),
            false if flaky != 1 => Err(format!(
                "the runtime says it does not retry, yet asked /flaky {flaky} times"
            )),
            _ if missing != 1 => Err(format!("a 404 was asked {missing} times")),
            _ => Ok(()),
        }
    }

    async fn retry_after(&self) -> Result<(), String> {
        let (ran, seen) = self.run("retries", &[]).await;
        succeeded(&ran)?;
        let report = report(&seen, "retries")?;
        let limited: Vec<&Seen> = seen.iter().filter(|s| s.path == "/limited").collect();
        let long = seen.iter().filter(|s| s.path == "/limited-long").count();
        if report["retries_transient"] == true {
            let [first, second] = limited[..] else {
                return Err(format!(
                    "/limited (429, Retry-After: 2, then 200) was asked {} times",
                    limited.len()
                ));
            };
            let waited = second.at.duration_since(first.at);
            if waited < Duration::from_millis(1900) {
                return Err(format!("Retry-After: 2 was waited out for only {waited:?}"));
            }
        }
        if long != 1 {
            return Err(format!(
                "a 429 with Retry-After: 86400 (past any bound) was asked {long} times"
            ));
        }
        if report["limited-long"]["status"] != 429
            || report["limited-long"]["retry_after"] != "86400"
        {
            return Err(format!(
                "the component was not handed the 429 with its Retry-After: {}",
                report["limited-long"]
            ));
        }
        Ok(())
    }

    async fn held_requests(&self) -> Result<(), String> {
        let (ran, seen) = self.run("held", &[]).await;
        succeeded(&ran)?;
        let page2 = seen
            .iter()
            .filter(|s| s.path == "/held" && s.query == "page=2")
            .count();
        if report(&seen, "held").is_ok() {
            return Err(
                "the response held between calls was lost; the component asked again".into(),
            );
        }
        if page2 != 1 {
            return Err(format!(
                "the page held between calls was asked {page2} times"
            ));
        }
        Ok(())
    }

    async fn cursors(&self) -> Result<(), String> {
        let (ran, seen) = self.run("cursor-cycle", &[]).await;
        let pages = seen.iter().filter(|s| s.path == "/page").count();
        if ran.ok() || pages > 4 {
            return Err(format!(
                "cursors c1, c2, c1: the run went on for {pages} pages (exit {:?})",
                ran.code
            ));
        }
        let (ran, _) = self.run("cursor-size", &[]).await;
        if ran.ok() {
            return Err("a cursor of 5000 bytes was taken".into());
        }
        Ok(())
    }

    async fn invalid_cursor(&self) -> Result<(), String> {
        let (ran, _) = self.run("invalid-cursor", &[]).await;
        succeeded(&ran)?;
        let mut ids: Vec<&str> = ran
            .of_kind("finding")
            .iter()
            .filter_map(|f| f["id"].as_str())
            .collect();
        let written = ids.len();
        ids.sort();
        ids.dedup();
        if (written, ids.len()) != (3, 3) {
            return Err(format!(
                "expected 3 distinct findings, got {written} written, {} distinct",
                ids.len()
            ));
        }
        Ok(())
    }

    async fn admission(&self) -> Result<(), String> {
        let (ran, _) = self.run("skipped", &[]).await;
        succeeded(&ran)?;
        let resources = ran.of_kind("resource");
        let bad = resources
            .iter()
            .filter_map(|r| r["id"].as_str())
            .filter(|id| id.len() > 512 || id.chars().any(char::is_control))
            .count();
        if resources.len() != 3 || bad > 0 {
            return Err(format!(
                "{} resources written ({bad} with unusable ids); expected the 3 good ones",
                resources.len()
            ));
        }
        Ok(())
    }

    async fn settings(&self) -> Result<(), String> {
        let raw = [("flag", " yes "), ("items", "a, b ,"), ("note", "  keep  ")];
        let (ran, seen) = self.run("settings", &raw).await;
        succeeded(&ran)?;
        let report = report(&seen, "settings")?;
        let given: Vec<(String, String)> =
            serde_json::from_value(report["given"].clone()).unwrap_or_default();
        for (name, value) in raw {
            if !given.iter().any(|(n, v)| n == name && v == value) {
                return Err(format!(
                    "setting `{name}` did not arrive as given ({value:?}): {given:?}"
                ));
            }
        }
        if let Some((n, _)) = given
            .iter()
            .find(|(n, _)| ["count", "token", "key", "password"].contains(&n.as_str()))
        {
            return Err(format!(
                "`configure` received `{n}`, which the operator did not give"
            ));
        }
        let (ran, seen) = self.run("settings", &[("count", "seven")]).await;
        if ran.ok() || !seen.is_empty() {
            return Err(format!(
                "`count=seven` (an integer setting) was not refused before configure (exit {:?})",
                ran.code
            ));
        }
        Ok(())
    }

    async fn memory_limit(&self) -> Result<(), String> {
        let (ran, _) = self.run("memory", &[]).await;
        if ran.ok() {
            return Err("the component allocated 1 GiB and the run succeeded".into());
        }
        Ok(())
    }
}

fn succeeded(ran: &Ran) -> Result<(), String> {
    if ran.ok() {
        Ok(())
    } else {
        Err(format!(
            "the run failed (exit {:?}): {}",
            ran.code,
            ran.tail()
        ))
    }
}

fn find<'a>(seen: &'a [Seen], origin: Origin, path: &str) -> Result<&'a Seen, String> {
    seen.iter()
        .find(|s| s.origin == origin && s.path == path)
        .ok_or_else(|| format!("no request for {path} reached the {origin:?} origin"))
}

/// The probe's report for `duty`.
fn report(seen: &[Seen], duty: &str) -> Result<Value, String> {
    let path = format!("/report/{duty}");
    let s = seen
        .iter()
        .find(|s| s.path == path)
        .ok_or_else(|| format!("the probe sent no report for {duty}"))?;
    serde_json::from_slice(&s.body).map_err(|e| format!("the probe's report is not JSON: {e}"))
}
