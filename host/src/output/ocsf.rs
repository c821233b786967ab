//! OCSF 1.x events: Vulnerability Finding (2002) when a finding carries a CVE, GHSA or CWE id,
//! else Application Security Posture Finding (2007). Every event validates against the OCSF
//! 1.5.0 definitions (`tests/tests/ocsf.rs`).

use serde_json::{Value, json};

use crate::time::epoch_ms;
use crate::wit::{Finding, Severity, State};

pub const OCSF_VERSION: &str = "1.5.0";

/// One finding as an OCSF event. `vendor` names the product (`describe`'s vendor).
pub fn event(f: &Finding, vendor: &str) -> Value {
    let ids = &f.vulnerability_identifiers;
    let class_uid = if ids.is_empty() { 2007 } else { 2002 };
    let (activity_id, activity) = match f.state {
        State::Open => (1, "Create"),
        State::Ignored => (2, "Update"),
        State::Closed => (3, "Close"),
    };
    let (status_id, status) = match f.state {
        State::Open => (1, "New"),
        State::Ignored => (3, "Suppressed"),
        State::Closed => (4, "Resolved"),
    };
    let (severity_id, severity) = match f.severity {
        Severity::Critical => (5, "Critical"),
        Severity::High => (4, "High"),
        Severity::Medium => (3, "Medium"),
        Severity::Low => (2, "Low"),
        Severity::Info => (1, "Informational"),
        Severity::Unknown => (0, "Unknown"),
        Severity::Other => (99, "Other"),
    };
    // Other keeps the vendor's own label in `severity`, as OCSF asks.
    let severity = match (f.severity, &f.vendor_severity) {
        (Severity::Other, Some(label)) => label.as_str(),
        _ => severity,
    };
    let time = [&f.last_seen, &f.first_seen]
        .into_iter()
        .flatten()
        .find_map(|t| epoch_ms(t))
        .unwrap_or(0);
    let package = f.affected_package.as_ref().map(|p| {
        json!({
            "name": p.name, "version": p.version.clone().unwrap_or_default(),
            "package_manager": p.package_manager, "purl": p.purl, "type_id": 1, "type": "Application",
            "fixed_in_version": f.vulnerabilities.first().and_then(|v| v.fixed_version.clone()),
        })
    });
    let mut event = json!({
        "class_uid": class_uid,
        "class_name": if class_uid == 2002 { "Vulnerability Finding" } else { "Application Security Posture Finding" },
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": activity_id,
        "activity_name": activity,
        "type_uid": class_uid * 100 + activity_id,
        "time": time,
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "message": f.title,
        "metadata": {"version": OCSF_VERSION, "product": {"name": vendor, "vendor_name": vendor}},
        "finding_info": {
            "uid": f.id,
            "uid_alt": f.vendor_id,
            "title": f.title,
            "desc": f.description,
            "src_url": f.kb_url,
            "first_seen_time": f.first_seen.as_deref().and_then(epoch_ms),
            "last_seen_time": f.last_seen.as_deref().and_then(epoch_ms),
            "analytic": {"uid": f.analytic.uid, "name": f.analytic.name, "type_id": 1, "type": "Rule"},
        },
        "raw_data": f.vendor_data,
    });
    if let Some(resource) = &f.resource_id {
        // OCSF 1.5.0's resource has no role (`role_id` came in 1.6.0); a finding in code is
        // located in a repository, the only resource type a finding names.
        let kind = f.code_repo.as_ref().map(|_| "repository");
        event["resources"] = json!([{"uid": resource, "name": f.code_repo, "type": kind}]);
    }
    if class_uid == 2002 {
        event["vulnerabilities"] = json!([vulnerability(f, package)]);
    } else {
        let desc = f.remediation.clone().or_else(|| {
            f.kb_url
                .as_ref()
                .map(|u| format!("Review this finding at {u}"))
        });
        event["remediation"] = json!({"desc": desc.unwrap_or_else(|| f.title.clone())});
        // Class 2007 has no package attribute at 1.5.0 (it lives under `vulnerabilities[]`,
        // which this class carries only with an identifier): keep it in `unmapped`.
        if let Some(p) = package {
            event["unmapped"] = json!({"affected_packages": [p]});
        }
    }
    event
}

/// OCSF's `vulnerability` carries exactly one of `cve`, `advisory`, `cwe`: the CVE when there is
/// one, else the GHSA advisory, else the CWE.
fn vulnerability(f: &Finding, package: Option<Value>) -> Value {
    let v = f.vulnerabilities.first();
    let first = |prefix: &str| {
        f.vulnerability_identifiers
            .iter()
            .find(|i| i.starts_with(prefix))
    };
    let mut out = json!({
        "title": f.title,
        "desc": f.description,
        "fix_available": f.has_fix,
        "is_fix_available": f.has_fix,
        "affected_packages": package.into_iter().collect::<Vec<_>>(),
    });
    if let Some(r) = &f.remediation {
        out["remediation"] = json!({"desc": r});
    }
    if let Some(kev) = v.and_then(|v| v.is_kev) {
        out["is_exploit_available"] = json!(kev);
    }
    if let Some(cve) = first("CVE-") {
        let mut c = json!({"uid": cve});
        if let Some(score) = v.and_then(|v| v.cvss_score) {
            let vector = v.and_then(|v| v.cvss_vector.clone());
            let version = vector
                .as_deref()
                .and_then(|s| s.strip_prefix("CVSS:"))
                .and_then(|s| s.split('/').next())
                .unwrap_or("3.1");
            c["cvss"] = json!([{"base_score": score, "vector_string": vector, "version": version}]);
        }
        if let Some(score) = v.and_then(|v| v.epss_score) {
            c["epss"] = json!({"score": score.to_string(), "percentile": v.and_then(|v| v.epss_percentile)});
        }
        out["cve"] = c;
    } else if let Some(ghsa) = first("GHSA-") {
        out["advisory"] = json!({"uid": ghsa});
    } else if let Some(cwe) = first("CWE-") {
        out["cwe"] = json!({"uid": cwe});
    } else {
        out["advisory"] = json!({"uid": f.vulnerability_identifiers[0]});
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wit::{Analytic, FindingType, IssueType};

    fn finding(severity: Severity, label: Option<&str>) -> Finding {
        Finding {
            id: "f".into(),
            vendor_id: "v".into(),
            title: "t".into(),
            description: None,
            issue_type: IssueType::Custom,
            finding_type: FindingType::Unknown,
            severity,
            vendor_severity: label.map(str::to_string),
            state: State::Open,
            first_seen: None,
            last_seen: None,
            state_updated_at: None,
            resource_id: None,
            code_repo: None,
            branch: None,
            affected_package: None,
            affected_code: None,
            has_fix: false,
            remediation: None,
            cvss_score: None,
            vulnerability_identifiers: vec![],
            vulnerabilities: vec![],
            analytic: Analytic {
                uid: "a".into(),
                name: "a".into(),
                url: None,
            },
            kb_url: None,
            vendor_data: "{}".into(),
        }
    }

    #[test]
    fn a_missing_severity_is_unknown_and_an_unmapped_label_is_other_with_the_label() {
        let e = event(&finding(Severity::Unknown, None), "V");
        assert_eq!(
            (e["severity_id"].clone(), e["severity"].clone()),
            (json!(0), json!("Unknown"))
        );
        let e = event(&finding(Severity::Other, Some("severe")), "V");
        assert_eq!(
            (e["severity_id"].clone(), e["severity"].clone()),
            (json!(99), json!("severe"))
        );
        let e = event(&finding(Severity::High, Some("HIGH")), "V");
        assert_eq!(
            (e["severity_id"].clone(), e["severity"].clone()),
            (json!(4), json!("High"))
        );
    }
}
