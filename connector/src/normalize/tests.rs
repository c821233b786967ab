use serde_json::Value;
use serde_json::value::RawValue;

use super::*;
use crate::records::CALL_OUTPUT;
use crate::wit::{FindingType, IssueType, Severity, State};

const CVE_ALERT: &str = r#"{
  "key": "Qm3x-0", "type": "criticalCVE", "category": "vulnerability",
  "description": "xml-toolkit before 3.1.2 allows prototype pollution.",
  "fix": { "type": "upgrade", "description": "Upgrade xml-toolkit to 3.1.2 or later." },
  "vulnerability": {
    "cveId": "CVE-2026-12345", "cveTitle": "Prototype pollution", "cveDescription": "Crafted names.",
    "cvssScore": 9.8, "cvssVectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "cweIds": ["CWE-1321"], "cweNames": ["Prototype"], "ghsaIds": ["GHSA-abcd-1234-wxyz"],
    "epssScore": 0.0412, "epssPercentile": 0.887, "isKev": false,
    "firstPatchedVersionIdentifier": "3.1.2", "url": null
  },
  "id": "a7c4", "version": 3, "status": "open",
  "createdAt": "2026-07-28T10:14:02.000Z", "updatedAt": "2026-08-09T08:55:31.918Z", "clearedAt": null,
  "dashboardUrl": "https://socket.dev/dashboard/org/acme/alerts?alert_item_key=Qm3x-0",
  "title": "Critical CVE: Prototype pollution in xml-toolkit", "severity": "critical",
  "locations": [
    { "action": "error",
      "repository": { "fullName": "acme/payments-api", "id": "48190", "slug": "payments-api", "workspace": "acme" },
      "branch": { "name": "main", "type": "default" },
      "patch": { "uuid": null, "status": "patch_unavailable", "deprecated": false },
      "dependency": { "direct": false, "manifestFiles": [{ "file": "package-lock.json", "start": 4120, "end": 4131 }] },
      "artifact": { "type": "npm", "namespace": null, "name": "xml-toolkit", "id": "9341", "version": "3.1.0" } },
    { "action": "ignore",
      "repository": { "fullName": null, "id": "48177", "slug": "web-app", "workspace": "acme" },
      "branch": { "name": "trunk", "type": "default" },
      "patch": { "status": "patch_unavailable" },
      "dependency": { "manifestFiles": [] },
      "artifact": { "type": "npm", "namespace": "@acme", "name": "xml-toolkit", "id": "9342", "version": "3.1.0" } }
  ]
}"#;

fn raw(s: &str) -> &RawValue {
    serde_json::from_str(s).unwrap()
}

fn findings(alert: &str, filter: &Filter) -> Vec<Finding> {
    let (out, skipped) = findings_and_skips(alert, filter);
    assert_eq!(skipped, Vec::<SkippedRecord>::new());
    out
}

fn findings_and_skips(alert: &str, filter: &Filter) -> (Vec<Finding>, Vec<SkippedRecord>) {
    let (mut out, mut skipped) = (Vec::new(), Vec::new());
    let (parsed, text) = read_alert(alert).unwrap();
    assert_eq!(text, alert.trim_end(), "the alert's own text");
    let fanout = alert_to_findings(
        "acme",
        text,
        &parsed,
        filter,
        CALL_OUTPUT.cap,
        &mut out,
        &mut skipped,
    )
    .unwrap();
    assert!(matches!(fanout, Fanout::Mapped { findings, .. } if findings == out.len()));
    (out, skipped)
}

#[test]
fn cve_alert_maps_every_field() {
    let f = &findings(CVE_ALERT, &Filter::default())[0];
    assert_eq!(
        f.id,
        ids::finding_id("acme", "a7c4", Some("48190"), Some("main"), Some("9341"))
    );
    assert_eq!(f.vendor_id, "a7c4");
    assert_eq!(f.title, "Critical CVE: Prototype pollution in xml-toolkit");
    assert_eq!(
        f.description.as_deref(),
        Some("xml-toolkit before 3.1.2 allows prototype pollution.")
    );
    assert_eq!(
        (f.issue_type, f.finding_type),
        (IssueType::Vulnerability, FindingType::Dependency)
    );
    assert_eq!((f.severity, f.state), (Severity::Critical, State::Open));
    assert_eq!(f.first_seen.as_deref(), Some("2026-07-28T10:14:02.000Z"));
    assert_eq!(f.last_seen.as_deref(), Some("2026-08-09T08:55:31.918Z"));
    assert_eq!(
        f.state_updated_at.as_deref(),
        Some("2026-08-09T08:55:31.918Z")
    );
    assert_eq!(f.resource_id, Some(ids::resource_id("acme", "48190")));
    assert_eq!(f.code_repo.as_deref(), Some("acme/payments-api"));
    assert_eq!(f.branch.as_deref(), Some("main"));
    assert_eq!(
        f.affected_package,
        Some(AffectedPackage {
            name: "xml-toolkit".into(),
            version: Some("3.1.0".into()),
            package_manager: Some("npm".into()),
            purl: Some("pkg:npm/xml-toolkit@3.1.0".into()),
        })
    );
    assert_eq!(
        f.affected_code,
        Some(AffectedCode {
            file_path: "package-lock.json".into(),
            start_line: Some(4120),
            end_line: Some(4131)
        })
    );
    assert!(f.has_fix);
    assert_eq!(
        f.remediation.as_deref(),
        Some("Upgrade xml-toolkit to 3.1.2 or later.")
    );
    assert_eq!(f.cvss_score, Some(9.8));
    assert_eq!(
        f.vulnerability_identifiers,
        ["CVE-2026-12345", "GHSA-abcd-1234-wxyz", "CWE-1321"]
    );
    assert_eq!(
        f.vulnerabilities,
        [Vulnerability {
            uid: Some("CVE-2026-12345".into()),
            cvss_score: Some(9.8),
            cvss_vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
            epss_score: Some(0.0412),
            epss_percentile: Some(0.887),
            is_kev: Some(false),
            cwe_ids: vec!["CWE-1321".into()],
            fixed_version: Some("3.1.2".into()),
        }]
    );
    assert_eq!(
        f.analytic,
        Analytic {
            uid: "criticalCVE".into(),
            name: "Critical CVE: Prototype pollution in xml-toolkit".into(),
            url: Some("https://socket.dev/dashboard/org/acme/alerts?alert_item_key=Qm3x-0".into()),
        }
    );
    assert_eq!(f.kb_url, f.analytic.url);
}

#[test]
fn one_finding_per_location_each_with_its_own_state_and_vendor_data() {
    let fs = findings(CVE_ALERT, &Filter::default());
    assert_eq!(fs.len(), 2);
    assert_ne!(fs[0].id, fs[1].id);
    assert_eq!(fs[1].state, State::Ignored);
    // No fullName: workspace/slug.
    assert_eq!(fs[1].code_repo.as_deref(), Some("acme/web-app"));
    assert_eq!(fs[1].affected_code, None);
    assert_eq!(
        fs[1].affected_package.as_ref().unwrap().purl.as_deref(),
        Some("pkg:npm/%40acme/xml-toolkit@3.1.0")
    );

    let original: Value = serde_json::from_str(CVE_ALERT).unwrap();
    for (i, f) in fs.iter().enumerate() {
        let vd: Value = serde_json::from_str(&f.vendor_data).unwrap();
        let mut expected = original.clone();
        expected["locations"] = Value::Array(vec![original["locations"][i].clone()]);
        assert_eq!(vd, expected);
    }
}

#[test]
fn alert_without_locations_is_one_finding_without_resource() {
    for locations in [
        r#""locations": []"#,
        r#""locations": null"#,
        r#""nothing": 1"#,
    ] {
        let alert = format!(
            r#"{{"id": "z9", "type": "malware", "category": "supplyChainRisk", "severity": "middle",
                "status": "cleared", "updatedAt": "2026-08-01T00:00:00Z", "clearedAt": "2026-08-02T00:00:00+02:00",
                {locations}}}"#
        );
        let fs = findings(&alert, &Filter::default());
        assert_eq!(fs.len(), 1, "{locations}");
        let f = &fs[0];
        assert_eq!(f.id, ids::finding_id("acme", "z9", None, None, None));
        assert_eq!(
            (
                f.resource_id.as_ref(),
                f.code_repo.as_ref(),
                f.branch.as_ref()
            ),
            (None, None, None)
        );
        assert_eq!((f.severity, f.state), (Severity::Medium, State::Closed));
        assert_eq!(f.title, "malware");
        assert_eq!(f.state_updated_at.as_deref(), Some("2026-08-01T22:00:00Z"));
        assert!(
            !f.has_fix && f.vulnerabilities.is_empty() && f.vulnerability_identifiers.is_empty()
        );
        let vd: Value = serde_json::from_str(&f.vendor_data).unwrap();
        assert_eq!(vd["id"], "z9");
    }
}

#[test]
fn location_without_repository_has_no_resource() {
    let alert = r#"{"id": "n1", "category": "quality", "severity": "low",
        "locations": [{"action": "warn", "repository": null, "branch": null,
                        "artifact": {"type": "pypi", "name": "lib", "id": "7", "version": "1.0"}}]}"#;
    let f = &findings(alert, &Filter::default())[0];
    assert_eq!(f.resource_id, None);
    assert_eq!(f.id, ids::finding_id("acme", "n1", None, None, Some("7")));
    assert_eq!(
        (f.issue_type, f.finding_type),
        (IssueType::Code, FindingType::Code)
    );
}

#[test]
fn filters_apply_per_alert_and_per_location() {
    let by_repo = Filter {
        repo_slugs: vec!["web-app".into()],
        ..Filter::default()
    };
    let fs = findings(CVE_ALERT, &by_repo);
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].branch.as_deref(), Some("trunk"));

    let high_only = Filter {
        min_severity: Some(Severity::High),
        ..Filter::default()
    };
    assert_eq!(findings(CVE_ALERT, &high_only).len(), 2);
    let low_alert = CVE_ALERT.replace(r#""severity": "critical""#, r#""severity": "low""#);
    assert_eq!(findings(&low_alert, &high_only).len(), 0);

    let cleared_pass = Filter {
        status: Some("cleared"),
        ..Filter::default()
    };
    assert_eq!(findings(CVE_ALERT, &cleared_pass).len(), 0);

    let wrong_eco = Filter {
        ecosystems: vec!["pypi".into()],
        ..Filter::default()
    };
    assert_eq!(findings(CVE_ALERT, &wrong_eco).len(), 0);
    let wrong_cat = Filter {
        categories: vec!["license".into()],
        ..Filter::default()
    };
    assert_eq!(findings(CVE_ALERT, &wrong_cat).len(), 0);
}

#[test]
fn alert_without_any_id_is_an_error_not_a_silent_drop() {
    let (mut out, mut skipped) = (Vec::new(), Vec::new());
    let text = r#"{"type": "x"}"#;
    let (alert, _) = read_alert(text).unwrap();
    let err = alert_to_findings(
        "acme",
        text,
        &alert,
        &Filter::default(),
        CALL_OUTPUT.cap,
        &mut out,
        &mut skipped,
    )
    .unwrap_err();
    assert!(err.contains("id"), "{err}");
}

#[test]
fn repo_maps_every_field() {
    let repo = r#"{"id": "48190", "created_at": "2024-11-18T15:40:02.300Z", "updated_at": "2026-08-09T08:55:31.918Z",
        "html_url": "https://socket.dev/dashboard/org/acme/repo/payments-api", "slug": "payments-api",
        "name": "payments-api", "visibility": "private", "archived": true, "default_branch": "main",
        "workspace": "acme", "extra": {"x": [1]}}"#;
    let a = repo_to_asset("acme", raw(repo)).unwrap();
    assert_eq!(
        a,
        Asset {
            id: ids::resource_id("acme", "48190"),
            resource_type: "repository".into(),
            vendor_id: "48190".into(),
            name: "payments-api".into(),
            slug: Some("payments-api".into()),
            full_name: Some("acme/payments-api".into()),
            workspace: Some("acme".into()),
            url: Some("https://socket.dev/dashboard/org/acme/repo/payments-api".into()),
            default_branch: Some("main".into()),
            visibility: Some("private".into()),
            archived: true,
            created_at: Some("2024-11-18T15:40:02.300Z".into()),
            updated_at: Some("2026-08-09T08:55:31.918Z".into()),
            vendor_data: repo.into(),
        }
    );
    let bare = repo_to_asset("acme", raw(r#"{"id": 7, "slug": "x", "workspace": ""}"#)).unwrap();
    assert_eq!(
        (bare.full_name.as_deref(), bare.workspace, bare.archived),
        (Some("x"), None, false)
    );
    assert!(repo_to_asset("acme", raw(r#"{"name": "no-id"}"#)).is_err());
}

#[test]
fn repo_default_branch_may_be_an_object_and_fields_may_vary_in_shape() {
    let repo = r#"{"id": {"id": 7, "name": "ignored"}, "slug": "x", "name": 42,
        "default_branch": {"name": "main", "type": null}, "archived": "true",
        "visibility": null, "created_at": "2024-01-15T10:30:00Z"}"#;
    let a = repo_to_asset("acme", raw(repo)).unwrap();
    assert_eq!(a.vendor_id, "7");
    assert_eq!(a.name, "42");
    assert_eq!(a.default_branch.as_deref(), Some("main"));
    assert!(a.archived);
    assert_eq!(a.visibility, None);
    let no_name = repo_to_asset("acme", raw(r#"{"id": 8, "default_branch": {"type": "x"}}"#));
    assert_eq!(no_name.unwrap().default_branch, None);
}

#[test]
fn unreadable_repo_names_its_field() {
    let err = repo_to_asset("acme", raw(r#"{"id": 9, "name": ["a"]}"#)).unwrap_err();
    assert!(err.starts_with("name: invalid type: sequence"), "{err}");
    let err = repo_to_asset("acme", raw(r#"{"id": [1]}"#)).unwrap_err();
    assert!(err.starts_with("id: "), "{err}");
}

/// The shapes seen from the real API: a branch as a string on one location and an object on the
/// next, the repository as flat `repoSlug` / `repoFullName`, and artifact and fix fields wrapped in
/// objects.
const VARIANT_ALERT: &str = r#"{"id": "alert-001", "type": "criticalCVE", "category": "vulnerability",
  "severity": "critical", "status": "open", "title": "Critical CVE in lodash",
  "vulnerability": {"cveId": "CVE-2024-0001", "firstPatchedVersionIdentifier": {"name": "4.17.22"},
                    "ghsaIds": ["GHSA-xxxx-yyyy-zzzz", "GHSA-xxxx-yyyy-zzzz"], "cweIds": ["CWE-1321"]},
  "locations": [
    {"action": "error", "repoSlug": "frontend-app", "repoFullName": "acme-corp/frontend-app",
     "branch": {"name": "main", "type": null},
     "artifact": {"name": {"name": "lodash"}, "version": {"value": "4.17.21"}, "type": {"name": "npm"}}},
    {"action": "error", "repoSlug": "backend-api", "repoFullName": "acme-corp/backend-api",
     "branch": "main",
     "artifact": {"name": "lodash", "version": 4.17, "type": "npm", "namespace": null}}
  ]}"#;

#[test]
fn shape_variants_read_to_the_same_values() {
    let fs = findings(VARIANT_ALERT, &Filter::default());
    assert_eq!(fs.len(), 2);
    for f in &fs {
        assert_eq!(f.branch.as_deref(), Some("main"));
        let v = &f.vulnerabilities[0];
        assert_eq!(v.fixed_version.as_deref(), Some("4.17.22"));
        assert_eq!(
            f.remediation.as_deref(),
            Some("Upgrade to version 4.17.22 or later.")
        );
        assert!(f.has_fix);
        assert_eq!(
            f.vulnerability_identifiers,
            ["CVE-2024-0001", "GHSA-xxxx-yyyy-zzzz", "CWE-1321"]
        );
    }
    let pkg = |i: usize| fs[i].affected_package.clone().unwrap();
    assert_eq!(
        (pkg(0).name.as_str(), pkg(0).version.as_deref()),
        ("lodash", Some("4.17.21"))
    );
    assert_eq!(pkg(0).purl.as_deref(), Some("pkg:npm/lodash@4.17.21"));
    assert_eq!(pkg(1).version.as_deref(), Some("4.17"));
    assert_eq!(fs[0].code_repo.as_deref(), Some("acme-corp/frontend-app"));
    assert_eq!(fs[1].code_repo.as_deref(), Some("acme-corp/backend-api"));
    // No repository id: the repository's name keeps the two findings apart.
    assert_ne!(fs[0].id, fs[1].id);
    assert_eq!(fs[0].resource_id, None);
    let only_backend = Filter {
        repo_slugs: vec!["backend-api".into()],
        ..Filter::default()
    };
    assert_eq!(findings(VARIANT_ALERT, &only_backend).len(), 1);
}

#[test]
fn an_unreadable_location_costs_only_itself() {
    let alert = VARIANT_ALERT.replace(r#""branch": "main""#, r#""branch": ["main"]"#);
    let (fs, skipped) = findings_and_skips(&alert, &Filter::default());
    assert_eq!(fs.len(), 1);
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].vendor_id.as_deref(), Some("alert-001"));
    assert!(
        skipped[0]
            .reason
            .starts_with(r#"alert "alert-001", locations[1]: branch: invalid type: sequence"#),
        "{}",
        skipped[0].reason
    );
}

#[test]
fn identifiers_are_deduplicated_in_linear_time() {
    let ids: Vec<String> = (0..200_000)
        .map(|i| format!("\"CWE-{}\"", i % 100_000))
        .collect();
    let alert = format!(
        r#"{{"id": "many", "vulnerability": {{"cweIds": [{}]}}}}"#,
        ids.join(",")
    );
    let started = std::time::Instant::now();
    let fs = findings(&alert, &Filter::default());
    assert_eq!(fs[0].vulnerability_identifiers.len(), 100_000);
    assert_eq!(fs[0].vulnerability_identifiers[99_999], "CWE-99999");
    // Quadratic comparison took seconds for a tenth of this; a set takes milliseconds.
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
}

#[test]
fn an_alert_whose_fanout_exceeds_the_room_is_not_mapped() {
    let locations = vec![r#"{"branch": "b"}"#; 1000].join(",");
    let alert = format!(
        r#"{{"id": "wide", "title": "{}", "locations": [{locations}]}}"#,
        "t".repeat(10_000)
    );
    let (parsed, text) = read_alert(&alert).unwrap();
    let (mut out, mut skipped) = (Vec::new(), Vec::new());
    let fanout = alert_to_findings(
        "acme",
        text,
        &parsed,
        &Filter::default(),
        1 << 20,
        &mut out,
        &mut skipped,
    )
    .unwrap();
    // 1000 findings each repeating a 10 KB title (twice) and the 10 KB alert text.
    assert!(
        matches!(fanout, Fanout::NoRoom { bytes } if bytes > 30_000_000),
        "{fanout:?}"
    );
    assert!(out.is_empty() && skipped.is_empty());
}

#[test]
fn a_field_that_cannot_be_text_is_explained_by_its_path() {
    let why = explain::<Alert>(r#"{"id": "a", "vulnerability": {"cveId": [1]}}"#);
    assert!(
        why.starts_with("vulnerability.cveId: invalid type: sequence"),
        "{why}"
    );
    let s = skipped("items[4]", r#"{"id": 12, "title": []}"#, "title: bad");
    assert_eq!(s.vendor_id.as_deref(), Some("12"));
    assert_eq!(s.reason, r#"items[4] (id "12"): title: bad"#);
}
