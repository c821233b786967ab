//! The API's real shapes, end to end: fields that are a string on one record and an object on
//! the next, an unreadable record among good ones, an alerts envelope without `meta`, and pages
//! whose fan-out is pathological. The oracle reads the same variants on its own.

use std::time::{Duration, SystemTime};

use connector_tests::oracle::assert_exact;
use connector_tests::org::{Org, wide_alert};
use connector_tests::server::{Behaviour, SocketSim};
use connector_tests::{of_kind, records, scratch, sync_acme};
use socket_connector::dates::{Instant, format_rfc3339};

const TOKEN: &str = "sktsec_variants_token_0123456789";

fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64;
    format_rfc3339(Instant::new(secs, 0).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_mixing_every_shape_variant_syncs_completely() {
    let mut org = Org::generate("acme", 120, 400, 0);
    let unreadable = org.with_shape_variants();
    let sim = SocketSim::start(
        org.clone(),
        TOKEN,
        Behaviour {
            alert_page_cap: 150,
            ..Behaviour::default()
        },
    )
    .await;
    let run = sync_acme(&sim.base_url(), TOKEN, &["-s", "include-cleared=true"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let recs = records(&run.stdout);
    assert_exact(&recs, &org, |_| true, true);

    // The variants came out as values, not nulls.
    let issues = of_kind(&recs, "issue");
    let variant = issues
        .iter()
        .find(|i| i["vendor_id"] == "alert-000001")
        .expect("alert 1 (string branch, wrapped artifact) was synced");
    assert_eq!(variant["repo_branch_name"], "main");
    assert_eq!(variant["package_name"], "pkg-1");
    assert_eq!(variant["package_version"], "1.1.0");
    let branches = of_kind(&recs, "resource")
        .iter()
        .filter(|r| r["default_branch"].is_string())
        .count();
    assert_eq!(
        branches, 119,
        "every readable repository has its default branch"
    );

    let summary = recs.last().unwrap();
    assert_eq!(summary["complete"], true);
    assert_eq!(summary["counts"]["skipped_records"], unreadable);
    let reasons: Vec<&str> = summary["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), unreadable, "{reasons:?}");
    assert!(
        reasons[0].starts_with(r#"results[5] (id "48005"): name: invalid type: sequence"#),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains(r#"(id "alert-000009"): title: invalid type: sequence"#),
        "{reasons:?}"
    );
    assert!(
        run.stderr.contains("skipped a record") && run.stderr.contains("alert-000009"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_meta_the_host_clock_marks_and_the_next_run_asks_only_for_changes() {
    let mut org = Org::generate("acme", 10, 60, 0);
    let sim = SocketSim::start(
        org.clone(),
        TOKEN,
        Behaviour {
            omit_meta: true,
            ..Behaviour::default()
        },
    )
    .await;
    let dir = scratch("no-meta");
    let state = dir.join("acme.state");
    let state_arg = state.to_str().unwrap();
    let before = SystemTime::now();
    let first = sync_acme(&sim.base_url(), TOKEN, &["--state", state_arg]).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let s = records(&first.stdout).pop().unwrap();
    assert_eq!(
        (s["mode"].as_str(), s["high_water_mark_source"].as_str()),
        (Some("full"), Some("host-clock"))
    );
    let mark = s["high_water_mark"].as_str().unwrap().to_string();
    assert!(
        mark >= rfc3339(before - Duration::from_secs(1)) && mark <= rfc3339(SystemTime::now()),
        "{mark}"
    );
    assert!(
        first.stderr.contains("reported no server time"),
        "{}",
        first.stderr
    );

    // Later: one alert is cleared.
    let changed_at = rfc3339(SystemTime::now() + Duration::from_secs(60));
    org.touch(3, "cleared", changed_at.trim_end_matches('Z'));
    sim.set_org(org.clone());
    let asked_before = sim.requests().len();
    let second = sync_acme(&sim.base_url(), TOKEN, &["--state", state_arg]).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    let recs = records(&second.stdout);
    let s = recs.last().unwrap();
    assert_eq!(s["mode"], "incremental");
    let alerts: Vec<_> = sim.requests()[asked_before..]
        .iter()
        .filter(|r| r.path.ends_with("/alerts"))
        .cloned()
        .collect();
    // Asked for changes since the first run's start, less the one-hour overlap.
    let since = humantime_minus_hour(&mark);
    assert!(
        alerts.iter().all(|r| r
            .query
            .contains(&format!("filters.alertUpdatedAt.gte={}", since))),
        "{:?}",
        alerts.iter().map(|r| &r.query).collect::<Vec<_>>()
    );
    let issues = of_kind(&recs, "issue");
    assert_eq!(issues.len(), 3, "alert 3's three locations, nothing else");
    // Cleared: Closed, except the location whose action is `ignore`.
    let states: Vec<&str> = issues
        .iter()
        .filter(|i| i["vendor_id"] == "alert-000003")
        .map(|i| i["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["Ignored", "Closed", "Closed"]);
}

/// `mark - 1 h` in Socket's filter form, percent-encoded as the connector sends it.
fn humantime_minus_hour(mark: &str) -> String {
    let t = socket_connector::dates::parse(mark).unwrap();
    let back = Instant::new(t.secs - 3600, 0).unwrap();
    socket_connector::dates::format_socket_filter(back)
        .replace(' ', "%20")
        .replace(':', "%3A")
}

/// One alert with thousands of locations that fits, one whose fan-out cannot fit any call, and
/// an ordinary alert after them on the same page.
#[tokio::test(flavor = "multi_thread")]
async fn pathological_fanout_is_synced_or_skipped_with_its_reason_within_default_limits() {
    let mut org = Org::generate("acme", 5, 3, 0);
    org.alerts.insert(0, wide_alert("many-locations", 1, 4000));
    org.alerts.insert(1, wide_alert("too-wide", 40_000, 2500));
    let sim = SocketSim::start(org.clone(), TOKEN, Behaviour::default()).await;
    let run = sync_acme(&sim.base_url(), TOKEN, &["--models", "findings"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let recs = records(&run.stdout);
    let findings = of_kind(&recs, "finding");
    let many = findings
        .iter()
        .filter(|f| f["vendor_data"]["id"] == "many-locations")
        .count();
    assert_eq!(many, 4000);
    assert!(
        findings
            .iter()
            .all(|f| f["vendor_data"]["id"] != "too-wide")
    );
    assert!(
        findings
            .iter()
            .any(|f| f["vendor_data"]["id"] == "alert-000001")
    );
    let s = recs.last().unwrap();
    assert_eq!(s["counts"]["skipped_records"], 1);
    let reason = s["skipped"][0].as_str().unwrap();
    assert!(
        reason.starts_with(r#"items[1] (id "too-wide"): its findings would take "#),
        "{reason}"
    );
}
