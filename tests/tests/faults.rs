//! A rate-limited, flaky Socket: one test per fault. No run may lose a record, emit a corrupt one,
//! or fail without saying why.

use std::time::{Duration, SystemTime};

use connector_tests::oracle::{assert_exact, findings};
use connector_tests::org::Org;
use connector_tests::server::{Behaviour, Fault, SocketSim};
use connector_tests::{
    HostRun, assert_failed, component, host_command, records, run_host, scratch, sync_acme,
};
use serde_json::Value;

const TOKEN: &str = "sktsec_faults_token_42";

fn org() -> Org {
    Org::generate("acme", 120, 900, 0)
}

async fn sim(org: Org) -> SocketSim {
    SocketSim::start(
        org,
        TOKEN,
        Behaviour {
            alert_page_cap: 250,
            ..Behaviour::default()
        },
    )
    .await
}

async fn sync(sim: &SocketSim, extra: &[&str]) -> HostRun {
    sync_acme(&sim.base_url(), TOKEN, extra).await
}

fn summary(run: &HostRun) -> Value {
    let last = records(&run.stdout).pop().expect("a summary line");
    assert_eq!(last["kind"], "summary");
    last
}

fn json_error(msg: &str) -> String {
    format!(r#"{{"error":{{"message":"{msg}","details":null}}}}"#)
}

/// The sync recovered: exit 0, exactly the expected records, and `retries` counted.
fn assert_recovered(run: &HostRun, org: &Org, retries: u64) {
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_exact(&records(&run.stdout), org, |s| s == "open", true);
    assert_eq!(summary(run)["retries"], retries);
    assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_wait_out_retry_after_in_both_forms() {
    let sim = sim(org()).await;
    sim.fault(
        "/alerts",
        Fault::Status {
            status: 429,
            headers: vec![("Retry-After".into(), "1".into())],
            body: json_error("Insufficient quota for API route"),
        },
    );
    let date = httpdate(SystemTime::now() + Duration::from_secs(2));
    sim.fault(
        "/repos",
        Fault::Status {
            status: 429,
            headers: vec![("Retry-After".into(), date)],
            body: json_error("Insufficient quota for API route"),
        },
    );
    assert_recovered(&sync(&sim, &[]).await, &org(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_rate_limit_fails_fast_saying_when_the_quota_resets() {
    let sim = sim(org()).await;
    sim.fault(
        "/repos",
        Fault::Status {
            status: 429,
            headers: vec![("Retry-After".into(), "1843".into())],
            body: json_error("Insufficient quota for API route"),
        },
    );
    let run = sync(&sim, &[]).await;
    assert_failed(
        &run,
        4,
        "GET /v0/orgs/acme/repos: quota exhausted, resets in 1843 s",
    );

    let later = httpdate(SystemTime::now() + Duration::from_secs(3600));
    sim.fault(
        "/repos",
        Fault::Status {
            status: 429,
            headers: vec![("Retry-After".into(), later)],
            body: json_error("Insufficient quota for API route"),
        },
    );
    let run = sync(&sim, &[]).await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    let secs: u64 = run
        .stderr
        .split("resets in ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect(&run.stderr);
    assert!((3500..=3600).contains(&secs), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_and_dropped_connections_are_retried() {
    let sim = sim(org()).await;
    sim.fault("/alerts", Fault::status(500, &json_error("boom")));
    sim.fault(
        "/alerts",
        Fault::Status {
            status: 503,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: "<html><body>503 Service Unavailable</body></html>".into(),
        },
    );
    sim.fault("startAfterCursor", Fault::Drop);
    sim.fault("/repos", Fault::status(502, ""));
    sim.fault("/repos", Fault::status(504, ""));
    sim.fault("/repos", Fault::status(408, ""));
    assert_recovered(&sync(&sim, &[]).await, &org(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_are_bounded_and_the_last_failure_is_named() {
    let sim = sim(org()).await;
    for _ in 0..3 {
        sim.fault(
            "/alerts",
            Fault::Status {
                status: 503,
                headers: vec![],
                body: "<html>down</html>".into(),
            },
        );
    }
    let run = sync(&sim, &["-s", "max-retries=2"]).await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("GET /v0/orgs/acme/alerts: HTTP 503: a non-JSON (HTML) error page"),
        "{}",
        run.stderr
    );
    let s = summary(&run);
    assert_eq!(
        (
            s["complete"].as_bool(),
            s["retries"].as_u64(),
            s["counts"]["resources"].as_u64()
        ),
        (Some(false), Some(2), Some(120))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn client_errors_are_not_retried_and_say_what_to_do() {
    let cases: [(&str, u16, String, i32, &str); 4] = [
        (
            "/repos",
            401,
            json_error("Unauthorized"),
            3,
            "GET /v0/orgs/acme/repos: 401 Unauthorized: the API token is invalid or expired",
        ),
        (
            "/alerts",
            403,
            json_error("Insufficient permissions for API method"),
            3,
            "the API token lacks the `alerts:list` scope",
        ),
        (
            "/repos",
            403,
            json_error("Insufficient permissions for API method"),
            3,
            "the API token lacks the `repo:list` scope",
        ),
        (
            "/repos",
            404,
            json_error("Organization not found"),
            2,
            "the organisation slug is unknown",
        ),
    ];
    for (path, status, body, code, needle) in cases {
        let sim = sim(org()).await;
        sim.fault(path, Fault::status(status, &body));
        let run = sync(&sim, &[]).await;
        assert_eq!(run.code, code, "{status} {path}: {}", run.stderr);
        assert!(
            run.stderr.contains(needle),
            "{status} {path}: {}",
            run.stderr
        );
        assert_eq!(summary(&run)["retries"], 0);
        assert!(!run.stderr.contains(TOKEN));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_names_the_endpoint_and_page() {
    let sim = sim(org()).await;
    sim.fault(
        "startAfterCursor",
        Fault::Body(r#"{"endCursor": "x", "items": [{"id": "a"#.into()),
    );
    let run = sync(&sim, &[]).await;
    assert_failed(
        &run,
        4,
        "GET /v0/orgs/acme/alerts: malformed response: open pass, after cursor",
    );
    assert!(
        run.stderr.contains("body is not the documented JSON"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_pages_and_the_next_page_edge_case_lose_nothing() {
    // Default behaviour: an empty alerts page with a cursor after the first page, and a last
    // repos page that still says nextPage = 2.
    let sim = sim(org()).await;
    let run = sync(&sim, &[]).await;
    assert_recovered(&run, &org(), 0);
    let seen = sim.requests();
    let repo_pages: Vec<_> = seen.iter().filter(|r| r.path.ends_with("/repos")).collect();
    assert_eq!(repo_pages.len(), 2, "the short last page ends the listing");
    // 720 open alerts at 250 a page is 3 pages, plus the empty page served after the first.
    assert_eq!(
        seen.iter().filter(|r| r.path.ends_with("/alerts")).count(),
        4
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_cursor_restarts_the_listing_once_without_duplicates() {
    let sim = sim(org()).await;
    sim.fault(
        "startAfterCursor=500",
        Fault::status(400, &json_error("Invalid cursor")),
    );
    let run = sync(&sim, &["-v"]).await;
    assert_recovered(&run, &org(), 0);
    assert!(
        run.stderr.contains("Socket rejected its own cursor"),
        "{}",
        run.stderr
    );
    // A second rejection after the restart fails the run instead of looping.
    sim.fault(
        "startAfterCursor",
        Fault::status(400, &json_error("Invalid cursor")),
    );
    sim.fault(
        "startAfterCursor",
        Fault::status(400, &json_error("Invalid cursor")),
    );
    let run = sync(&sim, &[]).await;
    assert_eq!(run.code, 4, "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn incremental_sync_asks_for_every_status_since_the_mark_and_propagates_closures() {
    let mut org = org();
    let sim = sim(org.clone()).await;
    let dir = scratch("incremental");
    let state = dir.join("state.json");
    let state_arg = state.to_str().unwrap();
    let first = sync(&sim, &["--state", state_arg]).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(summary(&first)["mode"], "full");

    // A day later: alert 1 is cleared, alert 4 reopened... and the server's clock moved on.
    org.touch(1, "cleared", "2026-08-12T10:00:00");
    org.touch(7, "open", "2026-08-12T11:00:00");
    org.now_ms += 86_400_000;
    sim.set_org(org.clone());
    let second = sync(&sim, &["--state", state_arg]).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    let s = summary(&second);
    assert_eq!(
        (s["mode"].as_str(), s["high_water_mark"].as_str()),
        (Some("incremental"), Some("2026-08-12T09:20:00Z"))
    );
    let asked: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/alerts"))
        .skip_while(|r| !r.query.contains("alertUpdatedAt"))
        .collect();
    assert!(
        asked.iter().all(|r| r
            .query
            .contains("filters.alertUpdatedAt.gte=2026-08-11%2008%3A20%3A00")),
        "{asked:?}"
    );
    assert!(
        asked
            .iter()
            .any(|r| r.query.contains("filters.alertStatus=cleared"))
    );
    // Exactly the alerts updated since the mark minus the overlap, in every status.
    let recs = records(&second.stdout);
    let since = "2026-08-11T08:20:00";
    let changed: Vec<_> = org
        .alerts
        .iter()
        .filter(|a| a.updated_at.as_str() >= since)
        .map(|a| a.updated_at.clone())
        .collect();
    let mut sub = org.clone();
    sub.alerts.retain(|a| changed.contains(&a.updated_at));
    assert_exact(&recs, &sub, |_| true, true);
    let closed = findings(&sub, |_| true)
        .into_values()
        .find(|(i, _)| i["vendor_id"] == "alert-000001")
        .unwrap();
    assert_eq!(closed.0["state"], "Closed");
    assert!(recs.iter().any(|r| r["kind"] == "issue"
        && r["vendor_id"] == "alert-000001"
        && r["state"] == "Closed"));

    let full = sync(&sim, &["--state", state_arg, "--full"]).await;
    assert_eq!(summary(&full)["mode"], "full");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_killed_mid_way_resumes_with_nothing_lost_or_duplicated() {
    // 12,000 alerts at 1,000 a page, each answer slowed so the kill lands mid-listing.
    let org = Org::generate("acme", 150, 12_000, 0);
    let sim = SocketSim::start(
        org.clone(),
        TOKEN,
        Behaviour {
            alert_page_cap: 1000,
            delay: Duration::from_millis(150),
            ..Behaviour::default()
        },
    )
    .await;
    let dir = scratch("killed");
    let (out, state) = (dir.join("out.ndjson"), dir.join("state.json"));
    let wasm = component("socket_connector").display().to_string();
    let base = format!("base-url={}", sim.base_url());
    let args = [
        "sync",
        wasm.as_str(),
        "-s",
        "org-slug=acme",
        "-s",
        base.as_str(),
        "-s",
        "include-cleared=true",
        "--secret",
        "api-token=env:SOCKET_SECURITY_API_KEY",
        "--out",
        out.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ];
    let mut child = host_command()
        .args(args)
        .env("SOCKET_SECURITY_API_KEY", TOKEN)
        .spawn()
        .unwrap();
    // Wait until a few alert pages are checkpointed, then kill without warning.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let text = std::fs::read_to_string(&state).unwrap_or_default();
        if text.contains(r#""phase": "findings""#)
            && text.contains(r#""findings": "#)
            && !text.contains(r#""findings": 0"#)
            && sim.requests().len() >= 6
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the sync never reached the findings"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().await.unwrap();
    let killed_at = sim.requests().len();
    // A snapshot is published only when complete: the records so far are in the partial file.
    assert!(!out.exists(), "an unfinished run replaced the output");
    let partial = std::fs::read_to_string(dir.join("out.ndjson.partial")).unwrap();
    assert!(partial.contains(r#""kind":"issue""#));
    assert!(!partial.contains(r#""kind":"summary""#));

    let resumed = run_host(&args, &[("SOCKET_SECURITY_API_KEY", TOKEN)]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let text = std::fs::read_to_string(&out).unwrap();
    let recs = records(&text);
    assert_exact(&recs, &org, |_| true, true);
    let s = recs.last().unwrap();
    assert_eq!(
        (s["resumed"].as_bool(), s["complete"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(
        s["counts"]["issues"].as_u64(),
        Some(findings(&org, |_| true).len() as u64)
    );
    // The resumed run did not start over: its first alerts request carried a cursor.
    let after = &sim.requests()[killed_at..];
    assert!(
        after.iter().all(|r| !r.path.ends_with("/repos")),
        "resources were fetched again"
    );
    assert!(
        after
            .iter()
            .find(|r| r.path.ends_with("/alerts"))
            .unwrap()
            .query
            .contains("startAfterCursor")
    );
}

/// `connector-host check` of the Socket component for `acme`, `base` being `base-url=...`, the
/// token granted from `SOCKET_API_KEY` when `granted`.
async fn check(base: &str, granted: bool, env: &[(&str, &str)]) -> connector_tests::HostRun {
    let wasm = component("socket_connector").display().to_string();
    let mut args = vec!["check", &wasm, "-s", "org-slug=acme", "-s", base];
    if granted {
        args.extend(["--secret", "api-token=env:SOCKET_API_KEY"]);
    }
    run_host(&args, env).await
}

#[tokio::test(flavor = "multi_thread")]
async fn check_validates_the_token_and_reports_quota_and_cost() {
    let sim = sim(org()).await;
    let base = format!("base-url={}", sim.base_url());
    let ok = check(&base, true, &[("SOCKET_API_KEY", TOKEN)]).await;
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(
        ok.stdout.contains("quota: 990 of 1000 units left"),
        "{}",
        ok.stdout
    );
    assert!(
        ok.stdout.contains("10 units per 5000 alerts"),
        "{}",
        ok.stdout
    );
    assert_eq!(
        sim.requests()
            .iter()
            .map(|r| r.path.as_str())
            .collect::<Vec<_>>(),
        ["/v0/quota", "/v0/orgs/acme/repos"]
    );
    let bad = check(&base, true, &[("SOCKET_API_KEY", "wrong-token")]).await;
    assert_eq!(bad.code, 3, "{}", bad.stderr);
    assert!(bad.stderr.contains("invalid or expired"));
    // The component suggests SOCKET_API_KEY among others; set but not granted, it is not read.
    let requests = sim.requests().len();
    let missing = check(&base, false, &[("SOCKET_API_KEY", TOKEN)]).await;
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("missing secret `api-token`")
            && missing
                .stderr
                .contains("--secret api-token=env:SOCKET_SECURITY_API_TOKEN")
            && missing
                .stderr
                .contains("SOCKET_API_KEY is set, but the host reads a secret only"),
        "{}",
        missing.stderr
    );
    assert!(!missing.stderr.contains(TOKEN));
    assert_eq!(sim.requests().len(), requests, "nothing was sent");
    let unset = check(&base, true, &[]).await;
    assert_eq!(unset.code, 2);
    assert!(
        unset
            .stderr
            .contains("secret `api-token` from env:SOCKET_API_KEY: the environment variable SOCKET_API_KEY is not set"),
        "{}",
        unset.stderr
    );
}

fn httpdate(t: SystemTime) -> String {
    ::httpdate::fmt_http_date(t)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_run_whose_cursor_is_rejected_restarts_without_writing_anything_twice() {
    let org = Org::generate("acme", 10, 900, 0);
    let sim = SocketSim::start(
        org.clone(),
        TOKEN,
        Behaviour {
            alert_page_cap: 200,
            empty_page_after: None,
            ..Behaviour::default()
        },
    )
    .await;
    let dir = scratch("resume-restart");
    let (out, state) = (dir.join("out.ndjson"), dir.join("s.state"));
    let args = [
        "--out",
        out.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ];
    // The third alerts page fails for good: two pages are in the output and checkpointed.
    sim.fault(
        "startAfterCursor=400.",
        Fault::status(401, &json_error("Unauthorized")),
    );
    let first = sync(&sim, &args).await;
    assert_eq!(first.code, 3, "{}", first.stderr);
    // The resumed run's cursor is one the server no longer accepts: the listing restarts.
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(text.contains("open:400.2"), "{text}");
    std::fs::write(&state, text.replace("open:400.2", "open:expired.cursor")).unwrap();
    let second = sync(&sim, &args).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stderr.contains("restarting the findings listing"),
        "{}",
        second.stderr
    );
    let written = std::fs::read_to_string(&out).unwrap();
    let recs = records(&written);
    assert_exact(&recs, &org, |s| s == "open", true);
    let summary = recs.last().unwrap();
    let issues = recs.iter().filter(|r| r["kind"] == "issue").count() as u64;
    assert_eq!(
        summary["counts"]["issues"], issues,
        "the summary counts what is in the output"
    );
}
