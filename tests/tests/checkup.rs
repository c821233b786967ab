//! `connector-host checkup`: a connector author's look at what a runtime will hold against a
//! component. Both connectors pass it against their recordings; a component that breaks a rule
//! gets a FAIL line naming it, and exit 5.

use connector_tests::imagescan::{ImagescanSim, Project};
use connector_tests::{component, impostor, root, run_host, scratch};
use serde_json::{Value, json};

/// The PASS and FAIL lines, by rule.
fn verdicts(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let (verdict, rest) = l.split_once(' ')?;
            let rule = rest.split_whitespace().next()?;
            Some((verdict.to_string(), rule.to_string()))
        })
        .collect()
}

fn all_pass(stdout: &str) {
    let v = verdicts(stdout);
    let rules: Vec<&str> = v.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(
        rules,
        [
            "imports",
            "spec",
            "cursors",
            "admitted",
            "deterministic",
            "independent"
        ],
        "{stdout}"
    );
    assert!(v.iter().all(|(verdict, _)| verdict == "PASS"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn both_connectors_pass_the_checkup_against_their_recordings() {
    let socket = component("socket_connector").display().to_string();
    let demo = root().join("demo/demo.toml").display().to_string();
    let cassette = root().join("tests/cassettes/demo").display().to_string();
    let run = run_host(
        &[
            "checkup",
            &socket,
            "--config",
            &demo,
            "--cassette",
            &cassette,
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    all_pass(&run.stdout);
    assert!(
        run.stdout.contains("all 610 records admitted"),
        "{}",
        run.stdout
    );

    let sim = ImagescanSim::start(
        Project {
            id: "p1".into(),
            images: 60,
            vulns: 130,
        },
        "isk_checkup",
    )
    .await;
    let imagescan = component("imagescan_connector").display().to_string();
    let cassette = scratch("checkup-imagescan").join("cassette");
    let cassette = cassette.display().to_string();
    let base = format!("base-url={}", sim.base_url());
    let args = |command: &'static str, network: &'static str| {
        let mut args = vec![
            command,
            imagescan.as_str(),
            "-s",
            "project=p1",
            "-s",
            base.as_str(),
        ];
        args.extend(["-s", "api-key=isk_checkup", network, cassette.as_str()]);
        args
    };
    let recorded = run_host(&args("sync", "--record"), &[]).await;
    assert_eq!(recorded.code, 0, "{}", recorded.stderr);
    let run = run_host(&args("checkup", "--cassette"), &[]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    all_pass(&run.stdout);
}

fn finding(extra: Value) -> Value {
    let mut f = json!({ "id": "f-1" });
    f.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    f
}

/// One broken rule each: the line names it, and the rest still run.
#[tokio::test(flavor = "multi_thread")]
async fn a_broken_rule_fails_by_name() {
    let cassette = scratch("checkup-empty");
    std::fs::create_dir_all(&cassette).unwrap();
    std::fs::write(
        cassette.join("cassette.json"),
        r#"{"version":1,"interactions":[]}"#,
    )
    .unwrap();
    let cases = [
        // Independence cannot be judged while ids change: it fails, saying so.
        (
            json!({ "random_id": true }),
            &["deterministic", "independent"][..],
        ),
        (json!({ "after_resources": true }), &["independent"][..]),
        (json!({ "id_bytes": 600 }), &["admitted"][..]),
    ];
    for (claim, rules) in cases {
        let spec = json!({
            "name": "checkup",
            "resources": ["r-1"],
            "findings": [finding(json!({ "id": "f-0" })), finding(claim.clone())],
        });
        let wasm = impostor(&spec).display().to_string();
        let run = run_host(
            &["checkup", &wasm, "--cassette", cassette.to_str().unwrap()],
            &[],
        )
        .await;
        assert_eq!(run.code, 5, "{claim}: {}{}", run.stdout, run.stderr);
        let failed: Vec<String> = verdicts(&run.stdout)
            .into_iter()
            .filter(|(v, _)| v == "FAIL")
            .map(|(_, r)| r)
            .collect();
        assert_eq!(failed, rules, "{claim}: {}", run.stdout);
    }
}

/// Without a cassette there is nothing to replay: the error says how to record one.
#[tokio::test(flavor = "multi_thread")]
async fn the_checkup_asks_for_a_recording() {
    let socket = component("socket_connector").display().to_string();
    let run = run_host(&["checkup", &socket, "-s", "org-slug=acme"], &[]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("sync --record DIR"), "{}", run.stderr);
}
