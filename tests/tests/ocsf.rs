//! OCSF output that validates: every event of the demo organisation and of the second
//! connector, checked against the official schema's definitions at the version the events
//! declare (vendored in `tests/fixtures/ocsf-1.5.0`).

use std::collections::BTreeMap;

use connector_tests::imagescan::{ImagescanSim, Project};
use connector_tests::ocsf::Schema;
use connector_tests::{component, root, run_host, sync_demo};
use serde_json::Value;

/// Every violation, with how many events had it (the first 20 kinds).
fn violations(events: &[Value]) -> BTreeMap<String, usize> {
    let schema = Schema::load(&root().join("tests/fixtures/ocsf-1.5.0"));
    let mut seen = BTreeMap::new();
    for e in events {
        assert_eq!(e["metadata"]["version"], "1.5.0", "{e}");
        for v in schema.violations(e) {
            *seen.entry(v).or_insert(0) += 1;
        }
    }
    seen
}

/// The OCSF events of an output (the summary line, which has a `kind`, left out).
fn events(ndjson: &str) -> Vec<Value> {
    ndjson
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|r| r.get("class_uid").is_some())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_demo_event_validates_against_ocsf_1_5_0() {
    let run = sync_demo(&["--format", "ocsf"], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let events = events(&run.stdout);
    assert_eq!(events.len(), 480);
    for class in [2002, 2007] {
        assert!(
            events.iter().any(|e| e["class_uid"] == class),
            "no {class} event"
        );
    }
    let found = violations(&events);
    assert!(found.is_empty(), "{found:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_second_connectors_events_validate_too() {
    const KEY: &str = "isk_live_0123456789abcdef";
    let project = Project {
        id: "p1".into(),
        images: 20,
        vulns: 60,
    };
    let sim = ImagescanSim::start(project, KEY).await;
    let wasm = component("imagescan_connector").display().to_string();
    let base = format!("base-url={}", sim.base_url());
    let run = run_host(
        &[
            "sync",
            &wasm,
            "-s",
            "project=p1",
            "-s",
            &base,
            "-s",
            &format!("api-key={KEY}"),
            "--format",
            "ocsf",
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let events = events(&run.stdout);
    assert_eq!(events.len(), 60);
    let found = violations(&events);
    assert!(found.is_empty(), "{found:#?}");
}

/// The validator itself catches what it is for.
#[test]
fn the_validator_names_undefined_missing_and_mistyped_attributes() {
    let schema = Schema::load(&root().join("tests/fixtures/ocsf-1.5.0"));
    let event: Value = serde_json::json!({
        "class_uid": 2002, "category_uid": 2, "activity_id": 1, "type_uid": 200201, "time": "soon",
        "severity_id": 42, "metadata": {"version": "1.5.0", "product": {"name": "x"}},
        "finding_info": {"uid": "u", "title": "t"}, "vulnerabilities": [{"cve": {"uid": "CVE-1"}, "cwe": {"uid": "CWE-1"}}],
        "resources": [{"uid": "r", "role_id": 3}], "affected_packages": [],
    });
    let found = schema.violations(&event).join("\n");
    for expected in [
        "vulnerability_finding.resources[0].role_id: not defined",
        "vulnerability_finding.affected_packages: not defined",
        "vulnerability_finding.time: \"soon\" is not a timestamp_t",
        "vulnerability_finding.severity_id: 42 is not one of",
        "vulnerability_finding.vulnerabilities[0]: just_one of",
    ] {
        assert!(found.contains(expected), "{expected} not in:\n{found}");
    }
}
