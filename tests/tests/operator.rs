//! What an operator runs never loses or clobbers data, and two runs never share a state: a
//! snapshot replaces the output only when complete, an append adds to it, a resume continues
//! only the file its checkpoint was written against, and a second run on the same state, output
//! or database namespace stops at once with its own exit code (75), writing nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use connector_tests::oracle::assert_exact;
use connector_tests::org::Org;
use connector_tests::server::{Behaviour, SocketSim};
use connector_tests::{HostRun, component, host_command, records, run_host, scratch};

const TOKEN: &str = "sktsec_operator_token_77";

/// A server slow enough that a run can be caught mid-listing: 12,000 alerts at 1,000 a page,
/// 150 ms per answer.
async fn slow_sim(org: Org) -> SocketSim {
    SocketSim::start(
        org,
        TOKEN,
        Behaviour {
            alert_page_cap: 1000,
            delay: Duration::from_millis(150),
            ..Behaviour::default()
        },
    )
    .await
}

fn sync_args(sim: &SocketSim, out: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "sync",
        &component("socket_connector").display().to_string(),
        "-s",
        "org-slug=acme",
        "-s",
        "include-cleared=true",
        "-s",
        &format!("base-url={}", sim.base_url()),
        "--secret",
        "api-token=env:SOCKET_SECURITY_API_KEY",
        "--out",
        out,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

async fn run(args: &[String], token: &str) -> HostRun {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_host(&args, &[("SOCKET_SECURITY_API_KEY", token)]).await
}

/// Starts `args` in the background and returns once its state file shows findings written.
async fn started_mid_listing(args: &[String], state: &Path) -> tokio::process::Child {
    let child = host_command()
        .args(args)
        .env("SOCKET_SECURITY_API_KEY", TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let text = std::fs::read_to_string(state).unwrap_or_default();
        if text.contains(r#""phase": "findings""#) && !text.contains(r#""findings": 0"#) {
            return child;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the sync never got going"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// Killed mid-way into `a.ndjson`, then run again with the same state into `b.ndjson`: the
/// checkpoint covers a file this run does not write, so it starts over, and `b.ndjson` holds
/// every record, its summary not `resumed`. (It used to continue the checkpoint into an empty
/// file and call the result complete.)
#[tokio::test(flavor = "multi_thread")]
async fn a_resume_into_another_output_starts_over_and_claims_nothing_it_did_not_write() {
    let org = Org::generate("acme", 150, 12_000, 0);
    let sim = slow_sim(org.clone()).await;
    let dir = scratch("operator-other-output");
    let state = dir.join("s.state");
    let args = sync_args(
        &sim,
        &path(&dir.join("a.ndjson")),
        &["--state", &path(&state)],
    );
    let mut child = started_mid_listing(&args, &state).await;
    child.kill().await.unwrap();
    let b = dir.join("b.ndjson");
    let args = sync_args(&sim, &path(&b), &["--state", &path(&state)]);
    let second = run(&args, TOKEN).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains("not resuming the unfinished run into"),
        "{}",
        second.stderr
    );
    let recs = records(&std::fs::read_to_string(&b).unwrap());
    assert_exact(&recs, &org, |_| true, true);
    let summary = recs.last().unwrap();
    assert_eq!(summary["resumed"], false);
    assert_eq!(summary["complete"], true);
}

/// A run that fails (a revoked token) leaves the previous complete output byte for byte, and
/// says where its own partial output is.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_run_leaves_the_previous_output_as_it_was() {
    let org = Org::generate("acme", 20, 300, 0);
    let sim = SocketSim::start(org.clone(), TOKEN, Behaviour::default()).await;
    let dir = scratch("operator-failed-run");
    let out = dir.join("acme.ndjson");
    let first = run(&sync_args(&sim, &path(&out), &[]), TOKEN).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let before = std::fs::read(&out).unwrap();
    let failed = run(&sync_args(&sim, &path(&out), &[]), "revoked").await;
    assert_eq!(failed.code, 3, "{}", failed.stderr);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        before,
        "the failed run clobbered the output"
    );
    assert!(
        failed
            .stderr
            .contains("is as it was; this run's records so far are in")
            && failed.stderr.contains("acme.ndjson.partial"),
        "{}",
        failed.stderr
    );
    assert!(
        failed
            .stderr
            .contains("(the secrets sent: `api-token` from env:SOCKET_SECURITY_API_KEY)"),
        "{}",
        failed.stderr
    );
    assert_exact(
        &records(&String::from_utf8(before).unwrap()),
        &org,
        |_| true,
        true,
    );
}

/// `--write append`: each run adds its records and its summary; the first run's stay.
#[tokio::test(flavor = "multi_thread")]
async fn append_adds_each_run_after_the_last() {
    let org = Org::generate("acme", 20, 300, 0);
    let sim = SocketSim::start(org.clone(), TOKEN, Behaviour::default()).await;
    let dir = scratch("operator-append");
    let out = dir.join("acme.ndjson");
    let state = path(&dir.join("acme.state"));
    let extra = ["--write", "append", "--state", &state];
    let first = run(&sync_args(&sim, &path(&out), &extra), TOKEN).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let after_first = std::fs::read_to_string(&out).unwrap();
    let second = run(&sync_args(&sim, &path(&out), &extra), TOKEN).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with(&after_first));
    let summaries: Vec<_> = records(&text)
        .into_iter()
        .filter(|r| r["kind"] == "summary")
        .map(|s| s["mode"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(summaries, ["full", "incremental"]);
    assert_exact(&records(&after_first), &org, |_| true, true);
}

/// A second run on the state, the output file or the database namespace a run holds stops at
/// once with exit 75, naming the holder and writing nothing; the first run ends exactly as if
/// alone.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_on_the_same_state_stops_at_once_and_writes_nothing() {
    let org = Org::generate("acme", 150, 12_000, 0);
    let sim = slow_sim(org.clone()).await;
    let dir = scratch("operator-overlap");
    let (out, state): (PathBuf, PathBuf) = (dir.join("acme.ndjson"), dir.join("acme.state"));
    let args = sync_args(&sim, &path(&out), &["--state", &path(&state)]);
    let first = started_mid_listing(&args, &state).await;
    let checkpoint = std::fs::read(&state).unwrap();
    let second = run(&args, TOKEN).await;
    assert_eq!(second.code, 75, "{}", second.stderr);
    assert!(
        second.stderr.contains("another run is writing the state")
            && second.stderr.contains("held by process"),
        "{}",
        second.stderr
    );
    // The same output with another state file is refused too.
    let other_state = path(&dir.join("other.state"));
    let third = run(
        &sync_args(&sim, &path(&out), &["--state", &other_state]),
        TOKEN,
    )
    .await;
    assert_eq!(third.code, 75, "{}", third.stderr);
    assert!(third.stderr.contains("the output"), "{}", third.stderr);
    let done = first.wait_with_output().await.unwrap();
    assert!(done.status.success());
    assert_exact(
        &records(&std::fs::read_to_string(&out).unwrap()),
        &org,
        |_| true,
        true,
    );
    assert_ne!(std::fs::read(&state).unwrap(), checkpoint);

    // One (connector, tenant) of a SQLite database.
    let db = dir.join("acme.db");
    let args = sync_args(&sim, &format!("sqlite:{}", db.display()), &[]);
    let seen = sim.requests().len();
    let mut first = host_command()
        .args(&args)
        .env("SOCKET_SECURITY_API_KEY", TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = dir.join("acme.db.locks");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while sim.requests()[seen..]
        .iter()
        .filter(|r| r.path.ends_with("/alerts"))
        .count()
        < 2
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the sync never got going"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(lock.is_dir());
    let second = run(&args, TOKEN).await;
    assert_eq!(second.code, 75, "{}", second.stderr);
    assert!(
        second.stderr.contains("socket / acme in sqlite:"),
        "{}",
        second.stderr
    );
    assert!(first.wait().await.unwrap().success());
}

/// A replay into a store an earlier replay filled: the second run is incremental, and the
/// cassette (one full sync) has no answer for it. It says so in words and what to do; with
/// `--full` (what `cargo demo` passes) it replays again.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_replay_into_the_same_store_says_to_replay_it_full() {
    let dir = scratch("operator-replay-twice");
    let out = format!("sqlite:{}", dir.join("demo.db").display());
    let first = connector_tests::sync_demo(&["--out", &out], &[]).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let second = connector_tests::sync_demo(&["--out", &out], &[]).await;
    assert_eq!(second.code, 4, "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains("the cassette cannot answer a request")
            && second.stderr.contains("no recorded response for GET")
            && second.stderr.contains("replay it with --full"),
        "{}",
        second.stderr
    );
    assert!(
        !second.stderr.contains("HttpRequestDenied"),
        "{}",
        second.stderr
    );
    let again = connector_tests::sync_demo(&["--out", &out, "--full"], &[]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
}

/// `check` validates what it cheaply can: the token (`/quota`) and the organisation (one
/// repository), so a wrong `org-slug` fails here, not at the first sync.
#[tokio::test(flavor = "multi_thread")]
async fn check_fails_a_wrong_organisation() {
    let sim = SocketSim::start(Org::generate("acme", 3, 3, 0), TOKEN, Behaviour::default()).await;
    let wasm = component("socket_connector").display().to_string();
    let base = format!("base-url={}", sim.base_url());
    let check = |org: &'static str| {
        let args = vec![
            "check".to_string(),
            wasm.clone(),
            "-s".into(),
            format!("org-slug={org}"),
            "-s".into(),
            base.clone(),
            "--secret".into(),
            "api-token=env:SOCKET_SECURITY_API_KEY".into(),
        ];
        async move { run(&args, TOKEN).await }
    };
    let ok = check("acme").await;
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(
        ok.stdout.contains("`acme` is visible to the token"),
        "{}",
        ok.stdout
    );
    let wrong = check("acme-typo").await;
    assert_eq!(wrong.code, 2, "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("organisation slug is unknown")
            && wrong.stderr.contains("check the `org-slug` setting"),
        "{}",
        wrong.stderr
    );
}
