//! A synthetic Socket organisation: deterministic repositories and alerts shaped like the
//! documented `/repos` and `/alerts` items, covering every category, severity (`medium` and
//! `middle`), status and action, multi-location alerts, a location without a repository and an
//! alert without locations.

use serde_json::{Value, json};

/// One pre-rendered alert, with the fields the server filters on.
#[derive(Debug, Clone)]
pub struct AlertRow {
    pub status: String,
    /// `YYYY-MM-DDTHH:MM:SS`, comparable as text with a converted `alertUpdatedAt` filter.
    pub updated_at: String,
    pub json: String,
}

#[derive(Debug, Clone)]
pub struct Org {
    pub slug: String,
    pub repos: Vec<String>,
    pub alerts: Vec<AlertRow>,
    /// `meta.queryStartTimestamp` the server reports (ms since the epoch).
    pub now_ms: u64,
}

const CATEGORIES: [&str; 7] = [
    "vulnerability",
    "supplyChainRisk",
    "maintenance",
    "license",
    "quality",
    "other",
    "futureCategory",
];
const SEVERITIES: [&str; 7] = ["critical", "high", "medium", "middle", "low", "", "severe"];
const ACTIONS: [&str; 4] = ["error", "warn", "monitor", "ignore"];
const ECOSYSTEMS: [&str; 4] = ["npm", "pypi", "maven", "golang"];

impl Org {
    /// `repos` repositories and `alerts` alerts; `padding` extra bytes of description per alert
    /// (to reach realistic ~2 KB alerts in benchmarks).
    pub fn generate(slug: &str, repos: usize, alerts: usize, padding: usize) -> Org {
        let repo_rows = (0..repos).map(|i| repo(slug, i).to_string()).collect();
        let alert_rows = (0..alerts)
            .map(|i| alert(slug, i, repos, padding))
            .collect();
        Org {
            slug: slug.to_string(),
            repos: repo_rows,
            alerts: alert_rows,
            now_ms: 1_786_440_000_000,
        }
    }
}

fn repo_id(i: usize) -> String {
    (48_000 + i).to_string()
}

fn repo_slug(i: usize) -> String {
    format!("repo-{i:03}")
}

fn repo(org: &str, i: usize) -> Value {
    let workspace = if i % 5 == 4 { "" } else { org };
    json!({
        "id": repo_id(i),
        "created_at": format!("2025-{:02}-{:02}T09:12:44.512Z", 1 + i % 12, 1 + i % 28),
        "updated_at": "2026-08-01T17:03:10.007Z",
        "html_url": format!("https://socket.dev/dashboard/org/{org}/repo/{}", repo_slug(i)),
        "head_full_scan_id": if i.is_multiple_of(3) { Value::Null } else { json!(format!("scan-{i}")) },
        "integration_meta": null,
        "slug": repo_slug(i),
        "name": repo_slug(i),
        "description": null,
        "homepage": null,
        "visibility": if i.is_multiple_of(4) { "public" } else { "private" },
        "archived": i % 9 == 8,
        "default_branch": if i % 6 == 5 { "trunk" } else { "main" },
        "workspace": workspace,
    })
}

fn location(org: &str, alert: usize, n: usize, repos: usize) -> Value {
    let r = (alert * 7 + n * 13) % repos.max(1);
    let eco = ECOSYSTEMS[(alert + n) % ECOSYSTEMS.len()];
    let repository = if alert % 23 == 11 && n == 0 {
        Value::Null
    } else {
        json!({"fullName": format!("{org}/{}", repo_slug(r)), "id": repo_id(r), "slug": repo_slug(r),
               "workspace": org, "labels": [], "labelIds": []})
    };
    json!({
        "scanType": "socket",
        "action": ACTIONS[(alert + n) % ACTIONS.len()],
        "actionSourceType": "org-policy",
        "reachability": {"type": "unknown", "analysisType": null},
        "licenseViolation": null,
        "prioritization": {"overallScore": 0.5, "fixableScore": 0, "reachableScore": 0.5, "severityScore": 0.5},
        "repository": repository,
        "branch": {"name": if n == 2 { "develop" } else { "main" }, "type": "default"},
        "patch": {"uuid": null, "status": if alert % 8 == 3 { "patch_available" } else { "patch_unavailable" }, "deprecated": false},
        "dependency": {"direct": n == 0, "dev": false, "dead": false,
                        "manifestFiles": [{"file": format!("services/{n}/package-lock.json"), "start": 10 + alert, "end": 12 + alert}]},
        "artifact": {"type": eco, "namespace": if eco == "maven" { json!("org.example") } else { Value::Null },
                      "name": format!("pkg-{}", alert % 97), "id": format!("9{alert:06}{n}"), "version": format!("1.{}.{}", alert % 10, n),
                      "author": null, "license": "MIT", "artifactId": null,
                      "scores": {"license": 1, "maintenance": 0.8, "overall": 0.5, "quality": 0.8, "supplyChain": 0.9, "vulnerability": 0.5},
                      "capabilities": null},
    })
}

fn alert(org: &str, i: usize, repos: usize, padding: usize) -> AlertRow {
    let category = CATEGORIES[i % CATEGORIES.len()];
    let severity = SEVERITIES[i % SEVERITIES.len()];
    let status = if i % 5 == 2 { "cleared" } else { "open" };
    let locations: Vec<Value> = match i % 10 {
        0 => Vec::new(),
        3 => (0..3).map(|n| location(org, i, n, repos)).collect(),
        _ => vec![location(org, i, 0, repos)],
    };
    let is_cve = category == "vulnerability";
    let vulnerability = if is_cve {
        json!({
            "cveId": if i.is_multiple_of(3) { Value::Null } else { json!(format!("CVE-2026-{:05}", i)) },
            "cveTitle": format!("Issue {i}"), "cveDescription": format!("Description of CVE for alert {i}"),
            "cvssScore": 5.0 + (i % 50) as f64 / 10.0, "cvssVectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "cweIds": ["CWE-79"], "cweNames": ["Cross-site Scripting"], "ghsaIds": [format!("GHSA-{i:04}-abcd-wxyz")],
            "epssScore": 0.01, "epssPercentile": 0.5, "isKev": i.is_multiple_of(11),
            "firstPatchedVersionIdentifier": if i.is_multiple_of(4) { Value::Null } else { json!("2.0.0") }, "url": null,
        })
    } else {
        Value::Null
    };
    let updated_at = format!("2026-08-{:02}T{:02}:{:02}:00", 1 + i % 28, i % 24, i % 60);
    let mut v = json!({
        "key": format!("key-{i}"),
        "type": if is_cve { "cve" } else { "installScripts" },
        "category": category,
        "description": format!("Alert {i} description. {}", "x".repeat(padding)),
        "fix": if i % 4 == 1 { json!({"type": "upgrade", "description": "Upgrade to the latest version."}) } else { Value::Null },
        "vulnerability": vulnerability,
        "id": format!("alert-{i:06}"),
        "version": 1,
        "status": status,
        "createdAt": "2026-07-01T10:14:02.000Z",
        "updatedAt": format!("{updated_at}.000Z"),
        "clearedAt": if status == "cleared" { json!(format!("{updated_at}.000Z")) } else { Value::Null },
        "dashboardUrl": format!("https://socket.dev/dashboard/org/{org}/alerts?alert_item_key=key-{i}"),
        "title": format!("Alert {i}: {category}"),
        "severity": severity,
        "locations": locations,
    });
    if i % 17 == 5 {
        v.as_object_mut().unwrap().remove("severity");
    }
    AlertRow {
        status: status.to_string(),
        updated_at,
        json: v.to_string(),
    }
}

impl Org {
    /// Changes alert `i` as Socket would on a later day: new status and `updatedAt`
    /// (`YYYY-MM-DDTHH:MM:SS`), `clearedAt` set when cleared.
    pub fn touch(&mut self, i: usize, status: &str, updated_at: &str) {
        let row = &mut self.alerts[i];
        let mut v: Value = serde_json::from_str(&row.json).unwrap();
        v["status"] = json!(status);
        v["updatedAt"] = json!(format!("{updated_at}.000Z"));
        v["clearedAt"] = if status == "cleared" {
            json!(format!("{updated_at}.000Z"))
        } else {
            Value::Null
        };
        row.status = status.to_string();
        row.updated_at = updated_at.to_string();
        row.json = v.to_string();
    }
}

/// Wraps text in the object shape the real API sometimes sends instead of a string.
fn named(v: &Value) -> Value {
    json!({"name": v, "type": null})
}

impl Org {
    /// Gives the organisation the shapes the real API varies in, as a different ingester's
    /// recorded responses show them: `default_branch` as `{"name", "type"}` on every third
    /// repository; on every fourth alert a branch as a plain string, `firstPatchedVersionIdentifier`
    /// and the artifact's `name` / `version` / `type` wrapped in `{"name": ...}`, and on every
    /// seventh the repository as flat `repoSlug` / `repoFullName`; plus one unreadable repository
    /// (`name` an array) and one unreadable alert (`title` an array). Returns how many records
    /// are unreadable.
    pub fn with_shape_variants(&mut self) -> usize {
        for (i, text) in self.repos.iter_mut().enumerate() {
            let mut r: Value = serde_json::from_str(text).unwrap();
            if i % 3 == 1 {
                r["default_branch"] = named(&r["default_branch"]);
            }
            if i == 5 {
                r["name"] = json!(["unreadable"]);
            }
            *text = r.to_string();
        }
        for (i, row) in self.alerts.iter_mut().enumerate() {
            let mut a: Value = serde_json::from_str(&row.json).unwrap();
            if i % 4 == 1 {
                if a["vulnerability"]["firstPatchedVersionIdentifier"].is_string() {
                    let v = a["vulnerability"]["firstPatchedVersionIdentifier"].clone();
                    a["vulnerability"]["firstPatchedVersionIdentifier"] = named(&v);
                }
                for loc in a["locations"].as_array_mut().into_iter().flatten() {
                    loc["branch"] = loc["branch"]["name"].clone();
                    for field in ["name", "version", "type"] {
                        loc["artifact"][field] = named(&loc["artifact"][field]);
                    }
                }
            }
            if i % 7 == 2 {
                for loc in a["locations"].as_array_mut().into_iter().flatten() {
                    let repo = loc["repository"].take();
                    let obj = loc.as_object_mut().unwrap();
                    obj.remove("repository");
                    if repo.is_object() {
                        obj.insert("repoSlug".into(), repo["slug"].clone());
                        obj.insert("repoFullName".into(), repo["fullName"].clone());
                    }
                }
            }
            if i == 9 {
                a["title"] = json!(["unreadable"]);
            }
            row.json = a.to_string();
        }
        2
    }
}

/// A pathological alert: `locations` locations (each in its own branch) and a title of
/// `title_len` bytes, which every one of its findings repeats.
pub fn wide_alert(id: &str, title_len: usize, locations: usize) -> AlertRow {
    let location = |n: usize| {
        json!({"action": "error",
               "repository": {"id": "48000", "slug": "repo-000", "fullName": "acme/repo-000"},
               "branch": {"name": format!("b-{n}")},
               "artifact": {"type": "npm", "name": "p", "id": format!("{n}"), "version": "1"}})
    };
    AlertRow {
        status: "open".into(),
        updated_at: "2026-08-01T00:00:00".into(),
        json:
            json!({"id": id, "title": "T".repeat(title_len), "severity": "high", "status": "open",
                     "locations": (0..locations).map(location).collect::<Vec<Value>>()})
            .to_string(),
    }
}
