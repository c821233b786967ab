//! An independent reading of the mapping (README, "Output"): from an organisation's source
//! alerts and repositories, the exact `resource`, `issue` and `finding` records a sync must
//! emit. Written apart from the connector's code, so the two can disagree.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::org::Org;

fn id(parts: &[Value]) -> String {
    let ns = Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://socket.dev/");
    Uuid::new_v5(&ns, serde_json::to_string(parts).unwrap().as_bytes()).to_string()
}

pub fn resource_id(org: &str, repo_id: &str) -> String {
    id(&[json!("repository"), json!(org), json!(repo_id)])
}

fn severity(raw: &Value) -> &'static str {
    match raw.as_str().unwrap_or("") {
        "critical" => "Critical",
        "high" => "High",
        "medium" | "middle" => "Medium",
        "low" => "Low",
        _ => "Info",
    }
}

fn types(category: &Value) -> (&'static str, &'static str) {
    match category.as_str().unwrap_or("") {
        "vulnerability" | "supplyChainRisk" => ("vulnerability", "DEPENDENCY"),
        "maintenance" => ("config", "DEPENDENCY"),
        "license" => ("license", "DEPENDENCY"),
        "quality" => ("code", "CODE"),
        _ => ("custom", "UNKNOWN"),
    }
}

fn state(location: &Value, alert: &Value) -> &'static str {
    if location["action"] == "ignore" {
        "Ignored"
    } else if alert["status"] == "cleared" {
        "Closed"
    } else {
        "Open"
    }
}

/// A field the API sends as text or as an object carrying it (`{"name": "main", "type": null}`),
/// read as its text.
fn flat(v: &Value) -> Value {
    match v {
        Value::Object(o) => ["name", "value", "id"]
            .iter()
            .find_map(|k| o.get(*k).filter(|v| !v.is_null()).map(flat))
            .unwrap_or(Value::Null),
        other => other.clone(),
    }
}

/// A record the connector must leave out: a field it reads as text is an array.
fn unreadable(record: &Value, text_fields: &[&str]) -> bool {
    text_fields.iter().any(|f| record[*f].is_array())
}

/// Expected resource records, keyed by id.
pub fn resources(org: &Org) -> BTreeMap<String, Value> {
    org.repos
        .iter()
        .map(|text| serde_json::from_str::<Value>(text).unwrap())
        .filter(|r| !unreadable(r, &["id", "name", "slug", "default_branch"]))
        .map(|r| {
            let rid = resource_id(&org.slug, r["id"].as_str().unwrap());
            let ws = r["workspace"].as_str().filter(|w| !w.is_empty());
            let slug = r["slug"].as_str().unwrap();
            let rec = json!({
                "kind": "resource", "id": rid, "vendor": "socket", "vendor_id": r["id"], "type": "repository",
                "name": r["name"], "slug": slug,
                "full_name": ws.map_or(slug.to_string(), |w| format!("{w}/{slug}")),
                "workspace": ws, "url": r["html_url"], "default_branch": flat(&r["default_branch"]),
                "visibility": r["visibility"], "archived": r["archived"], "created_at": r["created_at"],
                "updated_at": r["updated_at"], "vendor_data": r,
            });
            (rec["id"].as_str().unwrap().to_string(), rec)
        })
        .collect()
}

/// Expected (issue, finding) pairs, keyed by id, for the alerts whose status `keep` accepts.
pub fn findings(org: &Org, keep: impl Fn(&str) -> bool) -> BTreeMap<String, (Value, Value)> {
    let mut out = BTreeMap::new();
    for row in org.alerts.iter().filter(|a| keep(&a.status)) {
        let alert: Value = serde_json::from_str(&row.json).unwrap();
        if unreadable(
            &alert,
            &["id", "title", "description", "severity", "status"],
        ) {
            continue;
        }
        let locations = alert["locations"].as_array().cloned().unwrap_or_default();
        let each: Vec<Option<Value>> = if locations.is_empty() {
            vec![None]
        } else {
            locations.into_iter().map(Some).collect()
        };
        for loc in each {
            let (issue, finding) = expected_pair(&org.slug, &alert, loc.as_ref());
            out.insert(issue["id"].as_str().unwrap().to_string(), (issue, finding));
        }
    }
    out
}

fn expected_pair(org: &str, alert: &Value, loc: Option<&Value>) -> (Value, Value) {
    let null = Value::Null;
    let loc_v = loc.unwrap_or(&null);
    let repo = &loc_v["repository"];
    let code_repo = if repo["fullName"].is_string() {
        repo["fullName"].clone()
    } else {
        loc_v["repoFullName"].clone()
    };
    let branch = flat(&loc_v["branch"]);
    let artifact = &loc_v["artifact"];
    let (art_name, art_version, art_type) = (
        flat(&artifact["name"]),
        flat(&artifact["version"]),
        flat(&artifact["type"]),
    );
    // Without a repository id, the repository's name keeps two locations apart.
    let repo_part = if repo["id"].is_null() {
        code_repo.clone()
    } else {
        repo["id"].clone()
    };
    let fid = id(&[
        json!("finding"),
        json!(org),
        alert["id"].clone(),
        repo_part,
        branch.clone(),
        artifact["id"].clone(),
    ]);
    let resource = repo["id"].as_str().map(|r| resource_id(org, r));
    let vuln = &alert["vulnerability"];
    let mut ids: Vec<Value> = Vec::new();
    if vuln.is_object() {
        for v in std::iter::once(&vuln["cveId"])
            .chain(vuln["ghsaIds"].as_array().into_iter().flatten())
            .chain(vuln["cweIds"].as_array().into_iter().flatten())
        {
            if v.is_string() && !ids.contains(v) {
                ids.push(v.clone());
            }
        }
    }
    let fixed = &flat(&vuln["firstPatchedVersionIdentifier"]);
    let has_fix = !alert["fix"].is_null()
        || fixed.is_string()
        || loc_v["patch"]["status"] == "patch_available";
    let remediation = alert["fix"]["description"]
        .as_str()
        .map(str::to_string)
        .or_else(|| {
            fixed
                .as_str()
                .map(|v| format!("Upgrade to version {v} or later."))
        });
    let (v1, v2) = types(&alert["category"]);
    let sev = severity(&alert["severity"]);
    let st = state(loc_v, alert);
    let title = alert["title"].clone();
    let description = alert["description"].as_str().map(|d| d.trim().to_string());
    let state_updated_at = if st == "Closed" {
        &alert["clearedAt"]
    } else {
        &alert["updatedAt"]
    };
    let mut vendor_data = alert.clone();
    vendor_data["locations"] = json!(loc.into_iter().cloned().collect::<Vec<_>>());
    let manifest = &loc_v["dependency"]["manifestFiles"][0];
    let package = art_name.as_str().map(|name| {
        let ns = artifact["namespace"].as_str().map(|n| format!("{n}/")).unwrap_or_default();
        json!({"name": name, "version": art_version, "package_manager": art_type,
               "purl": format!("pkg:{}/{ns}{name}@{}", art_type.as_str().unwrap(), art_version.as_str().unwrap())})
    });
    let issue = json!({
        "kind": "issue", "id": fid, "vendor": "socket", "vendor_id": alert["id"], "name": title,
        "description": description, "type": v1, "severity": sev, "state": st,
        "first_seen": alert["createdAt"], "last_seen": alert["updatedAt"], "state_updated_at": state_updated_at,
        "resource_id": resource, "code_repo": code_repo, "repo_branch_name": branch,
        "package_name": art_name, "package_version": art_version, "package_manager": art_type,
        "is_patchable": has_fix, "remediation": remediation,
        "cvss_score": vuln["cvssScore"], "vulnerability_identifiers": ids, "kb_url": alert["dashboardUrl"],
        "vendor_data": vendor_data,
    });
    let vulnerabilities = if vuln.is_object() {
        json!([{
            "uid": vuln["cveId"].as_str().map(Value::from).unwrap_or_else(|| vuln["ghsaIds"][0].clone()),
            "cvss_score": vuln["cvssScore"], "cvss_vector": vuln["cvssVectorString"],
            "epss_score": vuln["epssScore"], "epss_percentile": vuln["epssPercentile"], "is_kev": vuln["isKev"],
            "cwe_ids": vuln["cweIds"], "fixed_version": fixed,
        }])
    } else {
        json!([])
    };
    let finding = json!({
        "kind": "finding", "id": fid, "title": title, "description": description, "type": v2,
        "severity": sev.to_uppercase(), "state": st.to_uppercase(),
        "first_seen": alert["createdAt"], "last_seen": alert["updatedAt"], "has_fix": has_fix, "remediation": remediation,
        "product": {"vendor_name": "Socket", "name": "Socket"},
        "analytic": {"type": "rule", "uid": alert["type"], "name": title, "url": alert["dashboardUrl"]},
        "resource_id": resource,
        "resource_related": {
            "affected_package": package,
            "affected_code": manifest["file"].as_str().map(|f| json!({"file_path": f, "start_line_number": manifest["start"], "end_line_number": manifest["end"]})),
        },
        "vulnerabilities": vulnerabilities,
        "vendor_data": issue["vendor_data"],
    });
    (issue, finding)
}

/// Asserts `records` (without the summary) are exactly the expected set: same ids, same
/// fields, nothing missing, nothing extra, no duplicates.
pub fn assert_exact(
    records: &[Value],
    org: &Org,
    keep: impl Fn(&str) -> bool,
    with_resources: bool,
) {
    let want_resources = if with_resources {
        resources(org)
    } else {
        BTreeMap::new()
    };
    let want_findings = findings(org, keep);
    let mut got_resources = BTreeMap::new();
    let mut got_issues = BTreeMap::new();
    let mut got_findings = BTreeMap::new();
    for r in records {
        let id = r["id"].as_str().unwrap_or_default().to_string();
        let slot = match r["kind"].as_str() {
            Some("resource") => &mut got_resources,
            Some("issue") => &mut got_issues,
            Some("finding") => &mut got_findings,
            Some("summary") => continue,
            other => panic!("unexpected record kind {other:?}"),
        };
        assert!(
            slot.insert(id.clone(), r.clone()).is_none(),
            "duplicate {} {id}",
            r["kind"]
        );
    }
    assert_eq!(got_resources.len(), want_resources.len(), "resource count");
    for (id, want) in &want_resources {
        assert_eq!(got_resources.get(id), Some(want), "resource {id}");
    }
    assert_eq!(got_issues.len(), want_findings.len(), "issue count");
    assert_eq!(got_findings.len(), want_findings.len(), "finding count");
    for (id, (issue, finding)) in &want_findings {
        assert_eq!(got_issues.get(id), Some(issue), "issue {id}");
        assert_eq!(got_findings.get(id), Some(finding), "finding {id}");
    }
}
