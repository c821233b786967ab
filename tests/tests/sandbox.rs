//! The sandbox against components that misbehave on purpose: each refusal or limit is asserted
//! exactly (exit code 5 and the message that names it), and nothing the component did reached
//! anything it should not have.

use std::time::{Duration, Instant};

use connector_tests::org::Org;
use connector_tests::server::{Behaviour, Fault, SocketSim};
use connector_tests::{HostRun, component, records, run_host};

const TOKEN: &str = "rogue_secret_token_9f8e7d";

async fn sims() -> (SocketSim, SocketSim) {
    let allowed =
        SocketSim::start(Org::generate("acme", 1, 1, 0), TOKEN, Behaviour::default()).await;
    let other = SocketSim::start(Org::generate("acme", 1, 1, 0), TOKEN, Behaviour::default()).await;
    (allowed, other)
}

async fn rogue(sim: &SocketSim, settings: &[&str]) -> HostRun {
    let wasm = component("rogue_connector").display().to_string();
    let base = format!("base-url={}", sim.base_url());
    let mut args = vec!["sync", wasm.as_str(), "-s", base.as_str(), "--no-cache"];
    for s in settings {
        args.extend(["-s", s]);
    }
    run_host(&args, &[("ROGUE_TOKEN", TOKEN)]).await
}

fn assert_guest_fault(run: &HostRun, needle: &str) {
    connector_tests::assert_failed(run, 5, needle);
    assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_off_the_allow_list_is_refused() {
    let (sim, other) = sims().await;
    for target in [
        format!("{}/x", other.base_url()),
        "http://127.0.0.2:9/x".to_string(),
        "https://example.com/".to_string(),
    ] {
        let run = rogue(&sim, &["mode=off-list", &format!("target={target}")]).await;
        assert_guest_fault(&run, "is not on the allow-list");
    }
    assert!(
        other.requests().is_empty(),
        "the off-list server was reached"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_off_the_allow_list_is_refused() {
    let (sim, other) = sims().await;
    sim.fault(
        "/v0/redirect",
        Fault::Status {
            status: 302,
            headers: vec![("Location".into(), format!("{}/stolen", other.base_url()))],
            body: String::new(),
        },
    );
    let run = rogue(&sim, &["mode=redirect"]).await;
    assert_guest_fault(&run, &format!("http://{}", other.addr));
    assert!(
        run.stderr.contains("not on the allow-list"),
        "{}",
        run.stderr
    );
    assert_eq!(sim.requests().len(), 1);
    assert!(
        other.requests().is_empty(),
        "the redirect target was reached"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spinning_component_is_stopped_by_the_cpu_limit() {
    let (sim, _) = sims().await;
    let started = Instant::now();
    let run = rogue(&sim, &["mode=spin", "cpu-limit-secs=1"]).await;
    assert_guest_fault(
        &run,
        "CPU limit: the component computed for more than 1.0 s in one call",
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hoarding_component_is_stopped_by_the_memory_limit() {
    let (sim, _) = sims().await;
    let run = rogue(&sim, &["mode=hog", "memory-limit-mb=64"]).await;
    assert_guest_fault(
        &run,
        "memory limit: the component tried to grow its memory to",
    );
    assert!(run.stderr.contains("the cap is 64 MiB"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_never_reaches_the_component() {
    let (sim, _) = sims().await;
    let run = rogue(&sim, &["mode=snoop"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let recs = records(&run.stdout);
    let loot = recs
        .iter()
        .find(|r| r["kind"] == "issue")
        .expect("the snoop's finding")["description"]
        .as_str()
        .unwrap()
        .to_string();
    // It asked, and the server echoed the header; the host removed the token on the way back.
    assert!(
        loot.contains(r#"echo: {"authorization":"Bearer [REDACTED]"}"#),
        "{loot}"
    );
    assert!(
        !loot.contains("env "),
        "the component saw environment variables: {loot}"
    );
    assert!(
        !loot.contains("api-token"),
        "the secret setting was passed to the component: {loot}"
    );
    assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN));
    // The request itself did carry the credential: the host attached it.
    assert_eq!(
        sim.requests()[0].authorization.as_deref(),
        Some(&*format!("Bearer {TOKEN}"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_never_ending_cursor_is_cut_off() {
    let (sim, _) = sims().await;
    let run = rogue(&sim, &["mode=endless", "max-pages=50"]).await;
    assert_guest_fault(
        &run,
        "contract violation: `list-findings` did not end after 50 pages",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_page_is_refused() {
    let (sim, _) = sims().await;
    let run = rogue(&sim, &["mode=flood", "count=5000", "max-page-records=1000"]).await;
    assert_guest_fault(&run, "returned a page of 5000 records; the limit is 1000");
    // Millions of records: the guest's own memory cap stops it before the host holds them.
    let run = rogue(
        &sim,
        &["mode=flood", "count=5000000", "memory-limit-mb=128"],
    )
    .await;
    assert_guest_fault(&run, "memory limit");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_importing_the_filesystem_is_refused_at_load() {
    let wasm = component("fs_rogue_connector").display().to_string();
    let run = run_host(&["describe", &wasm, "--no-cache"], &[]).await;
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr.contains("imports `wasi:filesystem/"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_response_times_out_and_a_slow_call_hits_the_wall_clock() {
    let (sim, _) = sims().await;
    sim.fault("/v0/echo", Fault::Stall(Duration::from_secs(30)));
    let run = rogue(
        &sim,
        &["mode=snoop", "first-byte-timeout-secs=1", "max-retries=0"],
    )
    .await;
    // The snoop carries on without its echo; the stall itself was cut at 1 s.
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("timed out: no response within 1s"),
        "{}",
        run.stderr
    );

    sim.fault("/v0/echo", Fault::Stall(Duration::from_secs(30)));
    let started = Instant::now();
    let run = rogue(&sim, &["mode=snoop", "call-timeout-secs=2"]).await;
    assert_guest_fault(
        &run,
        "wall-clock limit: `list-findings` did not return within 2 s",
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread")]
async fn https_works_with_an_extra_ca_and_fails_closed_without_it() {
    let org = Org::generate("acme", 40, 150, 0);
    let (sim, ca_pem) = SocketSim::start_tls(org.clone(), TOKEN, Behaviour::default()).await;
    let dir = connector_tests::scratch("https");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let ca_arg = format!("ca-file={}", ca.display());
    let ok = connector_tests::sync_acme(&sim.base_url(), TOKEN, &["-s", &ca_arg]).await;
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    connector_tests::oracle::assert_exact(&records(&ok.stdout), &org, |s| s == "open", true);
    assert!(sim.base_url().starts_with("https://localhost:"));

    // Without the CA the certificate is not trusted: no request gets through, nothing is retried
    // into success, and the run says it failed.
    let before = sim.requests().len();
    let untrusted =
        connector_tests::sync_acme(&sim.base_url(), TOKEN, &["-s", "max-retries=0", "-v"]).await;
    connector_tests::assert_failed(&untrusted, 4, "TLS failed");
    assert_eq!(sim.requests().len(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn skip_reasons_cannot_drive_the_terminal_or_fill_the_log() {
    let (sim, _) = sims().await;
    let run = rogue(&sim, &["mode=skip-escape"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        !run.stderr.contains('\x1b') && !run.stderr.contains('\x07'),
        "an escape sequence reached the terminal: {:?}",
        &run.stderr[..run.stderr.len().min(400)]
    );
    // 50 skips: 20 logged, then one line saying the rest are only counted.
    let logged = run.stderr.matches("skipped a record").count();
    assert_eq!(logged, 20, "{}", run.stderr.len());
    assert!(run.stderr.contains("further skipped records are counted"));
    assert!(
        run.stderr.len() < 40_000,
        "{} bytes of stderr",
        run.stderr.len()
    );
    let summary = records(&run.stdout).pop().unwrap();
    assert_eq!(summary["counts"]["skipped_records"], 50);
    let reasons = summary["skipped"].as_array().unwrap();
    assert_eq!(reasons.len(), 10);
    for r in reasons {
        let r = r.as_str().unwrap();
        assert!(
            r.chars().count() <= 501 && !r.contains(['\x1b', '\x07', '\r', '\n']),
            "{r:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_skipped_records_counts_against_the_page_limit() {
    let (sim, _) = sims().await;
    let run = rogue(&sim, &["mode=skip-flood"]).await;
    assert_guest_fault(&run, "returned a page of 300000 records");
}
