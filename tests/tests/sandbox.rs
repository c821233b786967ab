//! The sandbox against components that misbehave on purpose: each refusal or limit is asserted
//! exactly (exit code 5 and the message that names it), and nothing the component did reached
//! anything it should not have.

use std::time::{Duration, Instant};

use base64::Engine;

use connector_tests::org::Org;
use connector_tests::server::{Behaviour, Fault, SocketSim};
use connector_tests::{HostRun, component, records, root, run_host};

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
    let mut args = vec![
        "sync",
        wasm.as_str(),
        "-s",
        base.as_str(),
        "--secret",
        "api-token=env:ROGUE_TOKEN",
    ];
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
    // It asked, and the server echoed the header; the host removed the token on the way back,
    // in base64 too.
    assert!(
        loot.contains(r#"echo: {"authorization":"Bearer [REDACTED]"}"#),
        "{loot}"
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("Bearer {TOKEN}"));
    assert!(
        loot.contains("echo64: {\"authorization\":\"QmVhcmVy") && loot.contains("[REDACTED]"),
        "{loot}"
    );
    assert!(!loot.contains(&encoded[12..]), "{loot}");
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

/// `wasi:filesystem` is met inertly (interpreters in other languages' toolchains import it):
/// with no preopened directory nothing can be read, listed or written, by any path.
#[tokio::test(flavor = "multi_thread")]
async fn a_component_using_the_filesystem_finds_nothing_in_it() {
    let marker = std::path::Path::new("/tmp/fs-rogue-was-here");
    let _ = std::fs::remove_file(marker);
    let wasm = component("fs_rogue_connector").display().to_string();
    let run = run_host(&["describe", &wasm, "--json"], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let spec: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let attempts: Vec<&str> = spec["description"].as_str().unwrap().split("; ").collect();
    assert_eq!(attempts.len(), 7, "{attempts:?}");
    for attempt in &attempts[..6] {
        assert!(attempt.contains(": refused: "), "{attempt}");
    }
    assert!(!marker.exists(), "the component wrote to the host's /tmp");
    assert!(!root().join("fs-rogue-was-here").exists());
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

#[tokio::test(flavor = "multi_thread")]
async fn a_cursor_cycle_ends_the_run_when_it_first_repeats() {
    let (sim, _) = sims().await;
    let started = Instant::now();
    let run = rogue(&sim, &["mode=cycle"]).await;
    assert_guest_fault(
        &run,
        "returned a cursor it had returned before in this listing (\"1\", page 4); the listing cycles",
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_cursor_is_refused_before_it_reaches_the_state_file() {
    let (sim, _) = sims().await;
    let run = rogue(&sim, &["mode=big-cursor"]).await;
    assert_guest_fault(
        &run,
        "returned a cursor of 16777216 bytes; the limit is 4096",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_count_toward_the_cap_cost_one_log_line_per_origin_and_fail_the_run() {
    let (sim, other) = sims().await;
    let target = format!("target={}/x", other.base_url());
    let run = rogue(&sim, &["mode=refuse-flood", "count=20000", &target]).await;
    assert_guest_fault(
        &run,
        &format!(
            "the sandbox refused 20000 of the component's requests (20000 to {})",
            other.base_url().trim_end_matches("/v0")
        ),
    );
    assert_eq!(
        run.stderr.matches("sandbox refused a request").count(),
        1,
        "{}",
        run.stderr
    );
    let summary = records(&run.stdout).pop().unwrap();
    assert_eq!(summary["denied_requests"], 20000);
    assert_eq!(
        summary["requests"], 20000,
        "refused attempts count as requests"
    );
    assert!(other.requests().is_empty());
}

/// The host's budget for what a component makes it hold besides its memory, at
/// `max-response-mb=16`: 16 MiB of host objects (1024 handles, header maps of at most 14 KiB,
/// request bodies in flight) and 16 MiB of response bodies.
const HOST_BUDGET_AT_16: u64 = 32 << 20;

/// The same host and component, run to a clean end, for the baseline its peak RSS starts from.
async fn baseline_rss(sim: &SocketSim) -> u64 {
    let run = rogue(sim, &["mode=flood", "count=1", "memory-limit-mb=32"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.peak_rss
}

fn assert_within_host_budget(run: &HostRun, baseline: u64) {
    let cap = baseline + (32 << 20) + HOST_BUDGET_AT_16;
    eprintln!(
        "host peak RSS {:.1} MiB (baseline {:.1} MiB, cap {:.1} MiB)",
        run.peak_rss as f64 / 1048576.0,
        baseline as f64 / 1048576.0,
        cap as f64 / 1048576.0
    );
    assert!(
        run.peak_rss <= cap,
        "the host peaked at {} MiB; baseline {} MiB + component 32 MiB + host budget {} MiB",
        run.peak_rss >> 20,
        baseline >> 20,
        HOST_BUDGET_AT_16 >> 20
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn header_maps_and_handles_cannot_grow_the_host_past_its_budget() {
    let (sim, _) = sims().await;
    let baseline = baseline_rss(&sim).await;
    let run = rogue(
        &sim,
        &["mode=fields", "memory-limit-mb=32", "max-response-mb=16"],
    )
    .await;
    assert_guest_fault(&run, "host-object limit: it held more than 1024 handles");
    assert_within_host_budget(&run, baseline);
    // One header map past its size limit is a trap, named.
    let run = rogue(&sim, &["mode=fields", "count=1", "len=20000"]).await;
    assert_guest_fault(
        &run,
        "header limit: a header map the component built passed 14 KiB",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unread_responses_cannot_grow_the_host_past_its_budget() {
    let (sim, _) = sims().await;
    let baseline = baseline_rss(&sim).await;
    for _ in 0..12 {
        sim.fault("/v0/big", Fault::Body("x".repeat(4 << 20)));
    }
    let target = format!("target={}/big", sim.base_url());
    let run = rogue(
        &sim,
        &[
            "mode=unread",
            "count=12",
            &target,
            "memory-limit-mb=32",
            "max-response-mb=16",
        ],
    )
    .await;
    assert_guest_fault(&run, "host buffer limit: the component holds");
    assert!(
        run.stderr
            .contains("the host holds at most 16 MiB for it (`max-response-mb`)"),
        "{}",
        run.stderr
    );
    assert_within_host_budget(&run, baseline);
    let held: usize = records(&run.stdout)[0]["description"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(held <= 4, "{held} unread 4 MiB bodies held within 16 MiB");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_body_past_its_cap_is_refused_before_it_leaves() {
    let (sim, _) = sims().await;
    let run = rogue(&sim, &["mode=upload", "len=300000"]).await;
    assert_guest_fault(&run, "is over 262144 bytes");
    assert!(sim.requests().is_empty(), "the upload reached the server");
}

/// What a call returns is copied out of the component's memory, where it fit; a copy that takes
/// the host past its cap is caught by the resident-memory backstop when the call returns. Here
/// 1.5 million empty strings (about 30 MB in the component, 36 MB more once copied out) against
/// a cap of the component's 32 MiB plus the host's 16 MiB (no response budget).
#[tokio::test(flavor = "multi_thread")]
async fn a_return_value_that_swells_in_the_host_ends_the_run_at_the_backstop() {
    let (sim, _) = sims().await;
    let settings = [
        "mode=amplify",
        "count=1500000",
        "memory-limit-mb=32",
        "max-response-mb=0",
    ];
    let run = rogue(&sim, &settings).await;
    assert_guest_fault(&run, "host memory limit: the host grew to");
    assert!(
        run.stderr
            .contains("the component's memory limit plus the host's budget"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn host_calls_cannot_burn_host_cpu_past_the_limit() {
    let (sim, _) = sims().await;
    // One huge request traps at once.
    let started = Instant::now();
    let run = rogue(&sim, &["mode=random", "cpu-limit-secs=1"]).await;
    assert_guest_fault(&run, "requested len 67108864 exceeds limit 65536");
    assert!(started.elapsed() < Duration::from_secs(10));
    // A loop of allowed ones is charged to the CPU budget.
    let started = Instant::now();
    let run = rogue(&sim, &["mode=random", "len=65536", "cpu-limit-secs=1"]).await;
    assert_guest_fault(&run, "CPU limit");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// Decoding the gzip bodies a component asks for is host CPU spent on its behalf: charged to
/// its budget, so a loop of decompression bombs, left unread, ends at the CPU limit (not at the
/// request cap, many seconds of host CPU later).
#[tokio::test(flavor = "multi_thread")]
async fn decoding_what_a_component_asked_for_is_charged_to_its_cpu_budget() {
    let sim = SocketSim::start(
        Org::generate("acme", 1, 1, 0),
        TOKEN,
        Behaviour {
            gzip: true,
            memoize: true,
            ..Behaviour::default()
        },
    )
    .await;
    let target = format!("target={}/zeros", sim.base_url());
    let run = rogue(
        &sim,
        &[
            "mode=inflate",
            &target,
            "count=200",
            "cpu-limit-secs=1",
            "max-requests=60",
        ],
    )
    .await;
    assert_guest_fault(&run, "CPU limit");
    assert!(
        run.stderr.contains("decoding and scrubbing"),
        "{}",
        run.stderr
    );
    let served = sim.requests().len();
    assert!(served < 30, "{served} bombs were decoded");
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_runs_under_the_same_limits_as_every_call() {
    let wasm = component("describe_rogue_connector").display().to_string();
    let run = run_host(&["describe", &wasm, "-s", "memory-limit-mb=64"], &[]).await;
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr.contains("stopped in `describe`: memory limit")
            && run.stderr.contains("the cap is 64 MiB"),
        "{}",
        run.stderr
    );
    for command in ["sync", "check", "describe"] {
        let started = Instant::now();
        let run = run_host(&[command, &wasm, "-s", "call-timeout-secs=2"], &[]).await;
        assert_eq!(run.code, 5, "{command}: {}", run.stderr);
        assert!(
            run.stderr
                .contains("wall-clock limit: `describe` did not return within 2 s"),
            "{command}: {}",
            run.stderr
        );
        assert!(started.elapsed() < Duration::from_secs(30), "{command}");
    }
}

/// Nothing the component says reaches the terminal raw or unbounded.
fn assert_printable(run: &HostRun) {
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(
            !text.contains(['\x1b', '\x07', '\u{202e}']),
            "{name} carries control characters: {:?}",
            &text[..text.len().min(300)]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn component_text_is_neutralized_and_bounded_on_the_terminal() {
    let (sim, _) = sims().await;
    let run = rogue(&sim, &["mode=escape"]).await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_printable(&run);
    assert!(
        run.stderr.len() < 4000,
        "{} bytes of stderr",
        run.stderr.len()
    );
    let summary = records(&run.stdout).pop().unwrap();
    assert!(summary["error"].as_str().unwrap().len() < 4000);

    let wasm = component("rogue_connector").display().to_string();
    let base = format!("base-url={}", sim.base_url());
    let run = run_host(
        &[
            "check",
            &wasm,
            "-s",
            &base,
            "-s",
            "mode=escape",
            "--secret",
            "api-token=env:ROGUE_TOKEN",
        ],
        &[("ROGUE_TOKEN", TOKEN)],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_printable(&run);
    assert!(run.stdout.lines().count() <= 100);
    assert!(run.stdout.lines().all(|l| l.chars().count() <= 501));

    let run = run_host(&["describe", &wasm], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_printable(&run);
    assert!(run.stdout.contains("misbehaves"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn records_past_the_depth_and_size_limits_are_refused_one_by_one() {
    let (sim, _) = sims().await;
    let run = rogue(&sim, &["mode=oversized"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let recs = records(&run.stdout);
    let kept: Vec<&str> = recs
        .iter()
        .filter(|r| r["kind"] == "finding")
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(kept, ["fine"]);
    assert!(
        run.stdout.len() < 100_000,
        "{} bytes written",
        run.stdout.len()
    );
    let summary = recs.last().unwrap();
    assert_eq!(summary["counts"]["skipped_records"], 2);
    let reasons = summary["skipped"].to_string();
    assert!(
        reasons.contains("`vendor_data` is nested more than 64 levels deep"),
        "{reasons}"
    );
    assert!(
        reasons.contains("`title` is 2097152 bytes; the limit is 262144"),
        "{reasons}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_compressed_echo_cannot_carry_the_token_past_the_scrub() {
    let sim = SocketSim::start(
        Org::generate("acme", 1, 1, 0),
        TOKEN,
        Behaviour {
            gzip: true,
            ..Behaviour::default()
        },
    )
    .await;
    let run = rogue(&sim, &["mode=snoop"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains(r#"echo: {\"authorization\":\"Bearer [REDACTED]\"}"#),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN));
    // The host chose the encoding, whatever the component asked for, and the server used it;
    // the component's asks for another charset or a part of the body never left.
    let seen = sim.requests();
    assert_eq!(seen[0].accept_encoding.as_deref(), Some("gzip"));
    for asked in ["accept-charset", "range", "if-range"] {
        assert!(
            !seen[0].header_names.iter().any(|h| h == asked),
            "{asked} reached the server: {:?}",
            seen[0].header_names
        );
    }
}

/// A component names the environment variable of its secret; the host reads it only when the
/// operator granted that source, and reads a granted file as readily.
#[tokio::test(flavor = "multi_thread")]
async fn a_secret_is_read_only_from_a_source_the_operator_granted() {
    let (sim, _) = sims().await;
    let wasm = component("rogue_connector").display().to_string();
    let base = format!("base-url={}", sim.base_url());
    let ungranted = run_host(
        &["sync", &wasm, "-s", &base, "-s", "mode=snoop"],
        &[("ROGUE_TOKEN", TOKEN)],
    )
    .await;
    assert_eq!(ungranted.code, 0, "{}", ungranted.stderr);
    assert!(
        sim.requests().iter().all(|r| r.authorization.is_none()),
        "the component's own choice of variable was read"
    );
    let file = connector_tests::scratch("granted-file").join("token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let grant = format!("api-token=file:{}", file.display());
    let granted = run_host(
        &[
            "sync",
            &wasm,
            "-s",
            &base,
            "-s",
            "mode=snoop",
            "--secret",
            &grant,
        ],
        &[],
    )
    .await;
    assert_eq!(granted.code, 0, "{}", granted.stderr);
    assert_eq!(
        sim.requests().last().unwrap().authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert!(!granted.stdout.contains(TOKEN) && !granted.stderr.contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_credential_goes_only_to_the_base_url_origin() {
    let (sim, other) = sims().await;
    let origin = |url: String| url.trim_end_matches("/v0").to_string();
    let allowed = format!(
        "allowed-hosts={},{}",
        origin(sim.base_url()),
        origin(other.base_url())
    );
    let target = format!("target={}/echo", other.base_url());
    let run = rogue(&sim, &["mode=off-list", &target, &allowed]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let seen = other.requests();
    assert_eq!(seen.len(), 1, "the other allowed origin was called");
    assert_eq!(
        seen[0].authorization, None,
        "the credential went to another origin"
    );
}
