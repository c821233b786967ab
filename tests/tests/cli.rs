//! The operator's view: filters, configuration files and errors, describe.

use std::collections::BTreeSet;

use connector_tests::oracle::findings;
use connector_tests::org::Org;
use connector_tests::server::{Behaviour, SocketSim};
use connector_tests::{component, of_kind, records, run_host, scratch, sync_acme, sync_demo};
use serde_json::Value;

const TOKEN: &str = "sktsec_cli_token_1234";

fn rank(sev: &str) -> u8 {
    ["Info", "Low", "Medium", "High", "Critical"]
        .iter()
        .position(|s| *s == sev)
        .unwrap() as u8
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_are_pushed_to_socket_and_applied_to_every_record() {
    let org = Org::generate("acme", 40, 500, 0);
    // This server ignores every filter but the status: the connector must still filter.
    let sim = SocketSim::start(org.clone(), TOKEN, Behaviour::default()).await;
    type Keep = Box<dyn Fn(&Value) -> bool>;
    let cases: Vec<(&str, &str, Keep)> = vec![
        (
            "repo-slugs=repo-003,repo-017",
            "filters.repoSlug=repo-003,repo-017",
            Box::new(|i: &Value| {
                ["repo-003", "repo-017"].contains(
                    &i["vendor_data"]["locations"][0]["repository"]["slug"]
                        .as_str()
                        .unwrap_or(""),
                )
            }),
        ),
        (
            "min-severity=high",
            "filters.alertSeverity=high,critical",
            Box::new(|i: &Value| rank(i["severity"].as_str().unwrap()) >= 3),
        ),
        (
            "categories=license,quality",
            "filters.alertCategory=license,quality",
            Box::new(|i: &Value| {
                ["license", "quality"].contains(&i["vendor_data"]["category"].as_str().unwrap())
            }),
        ),
        (
            "ecosystems=pypi",
            "filters.artifactType=pypi",
            Box::new(|i: &Value| i["package_manager"] == "pypi"),
        ),
    ];
    for (setting, param, keep) in cases {
        let before = sim.requests().len();
        let run = sync_acme(&sim.base_url(), TOKEN, &["-s", setting]).await;
        assert_eq!(run.code, 0, "{setting}: {}", run.stderr);
        let asked = &sim.requests()[before..];
        assert!(
            asked
                .iter()
                .filter(|r| r.path.ends_with("/alerts"))
                .all(|r| r.query.contains(param)),
            "{setting}: {asked:?}"
        );
        let want: BTreeSet<String> = findings(&org, |s| s == "open")
            .into_iter()
            .filter(|(_, (i, _))| keep(i))
            .map(|(id, _)| id)
            .collect();
        let recs = records(&run.stdout);
        let got: BTreeSet<String> = of_kind(&recs, "issue")
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        assert!(
            !want.is_empty(),
            "{setting}: the case filters everything out"
        );
        assert_eq!(got, want, "{setting}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn config_file_overrides_and_secret_grants() {
    let org = Org::generate("acme", 5, 30, 0);
    let sim = SocketSim::start(org, TOKEN, Behaviour::default()).await;
    let wasm = component("socket_connector").display().to_string();
    let dir = scratch("config");
    let config = dir.join("acme.toml");
    std::fs::write(&config, format!("[settings]\norg-slug = \"wrong\"\nbase-url = \"{}\"\ninclude-cleared = true\nmin-severity = \"low\"\nrepo-slugs = [\"repo-001\", \"repo-002\"]\n[secrets]\napi-token = \"env:SOCKET_SECURITY_API_TOKEN\"\n", sim.base_url())).unwrap();
    let cfg = config.to_str().unwrap();
    let env = [
        ("SOCKET_SECURITY_API_TOKEN", TOKEN),
        ("SOCKET_API_TOKEN", "a-lower-priority-token"),
    ];
    let run = run_host(
        &["sync", &wasm, "--config", cfg, "-s", "org-slug=acme"],
        &env,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let q = sim
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/alerts"))
        .unwrap()
        .query;
    assert!(
        q.contains("filters.repoSlug=repo-001,repo-002")
            && q.contains("filters.alertSeverity=low,medium,high,critical"),
        "{q}"
    );

    let bad = [
        (vec!["-s", "colour=blue"], "unknown setting `colour`"),
        (
            vec!["-s", "include-cleared=maybe"],
            "setting `include-cleared`: \"maybe\" is not a boolean",
        ),
        (
            vec!["-s", "max-retries=lots"],
            "setting `max-retries`: \"lots\" is not a whole number",
        ),
        (
            vec!["-s", "allowed-hosts=http://example.com"],
            "plain http is only allowed to loopback",
        ),
        (vec!["-s", "no-equals-sign"], "expected key=value"),
        (
            vec!["--models", "resources,alerts"],
            "unknown model `alerts`",
        ),
    ];
    for (args, needle) in bad {
        let mut all = vec!["sync", wasm.as_str(), "--config", cfg];
        all.extend(args);
        let run = run_host(&all, &env).await;
        assert_eq!(run.code, 2, "{needle}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
    }
    let broken = dir.join("broken.toml");
    std::fs::write(&broken, "[settings\norg-slug = 1").unwrap();
    let run = run_host(&["sync", &wasm, "--config", broken.to_str().unwrap()], &env).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("broken.toml"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_prints_a_table_or_json() {
    let wasm = component("socket_connector").display().to_string();
    let table = run_host(&["describe", &wasm], &[]).await;
    assert_eq!(table.code, 0);
    assert!(table.stdout.contains("SETTING") && table.stdout.contains("SOCKET_SECURITY_API_TOKEN"));
    let json = run_host(&["describe", &wasm, "--json"], &[]).await;
    let spec: Value = serde_json::from_str(&json.stdout).unwrap();
    let token = spec["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "api-token")
        .unwrap();
    assert_eq!(
        (token["secret"].as_bool(), token["required"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(token["suggested_env"][0], "SOCKET_SECURITY_API_TOKEN");
    assert_eq!(token["credential"]["applied"]["scheme"], "bearer");
    assert_eq!(spec["tenant_setting"], "org-slug");
    for sub in ["sync", "check", "describe"] {
        let help = run_host(&[sub, "--help"], &[]).await;
        assert_eq!(help.code, 0);
        assert!(
            help.stdout.contains("Example"),
            "{sub} --help has no example"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ocsf_events_pick_their_class_by_the_identifiers_present() {
    let run = sync_demo(&["--format", "ocsf"], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let recs = records_or_events(&run.stdout);
    let (events, summary) = recs.split_at(recs.len() - 1);
    assert_eq!(summary[0]["kind"], "summary");
    assert_eq!(events.len(), 480);
    let want = findings(&Org::generate("demo-org", 130, 400, 0), |_| true);
    for e in events {
        let (issue, _) = &want[e["finding_info"]["uid"].as_str().unwrap()];
        let has_ids = !issue["vulnerability_identifiers"]
            .as_array()
            .unwrap()
            .is_empty();
        let class = e["class_uid"].as_u64().unwrap();
        assert_eq!(class, if has_ids { 2002 } else { 2007 });
        assert_eq!(
            e["type_uid"].as_u64().unwrap(),
            class * 100 + e["activity_id"].as_u64().unwrap()
        );
        // V1's Info is OCSF's Informational, Unknown (no vendor severity) or Other (a label
        // the connector cannot map).
        let id = e["severity_id"].as_u64().unwrap();
        assert_eq!([0, 1, 99].contains(&id), issue["severity"] == "Info", "{e}");
        assert!(e["time"].as_i64().unwrap() > 1_700_000_000_000);
        if class == 2002 {
            for v in e["vulnerabilities"].as_array().unwrap() {
                let kinds = ["cve", "advisory", "cwe"]
                    .iter()
                    .filter(|k| v.get(**k).is_some())
                    .count();
                assert_eq!(kinds, 1, "just_one of cve / advisory / cwe: {v}");
            }
        } else {
            assert!(e["remediation"]["desc"].is_string());
        }
    }
}

/// OCSF events have no `kind`; the summary does.
fn records_or_events(ndjson: &str) -> Vec<Value> {
    ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_record_matches_its_shipped_json_schema() {
    let root = connector_tests::root();
    let schema = |kind: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(root.join(format!("schemas/{kind}.schema.json"))).unwrap(),
        )
        .unwrap()
    };
    let run = sync_demo(&[], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let recs = records(&run.stdout);
    for (i, r) in recs.iter().enumerate() {
        let kind = r["kind"].as_str().unwrap();
        connector_tests::schema::validate(&schema(kind), r)
            .unwrap_or_else(|e| panic!("line {}: {kind}: {e}", i + 1));
    }
    // The validator is not vacuous: a record with a wrong type or an extra field fails.
    let mut bad = recs[0].clone();
    bad["archived"] = Value::from("no");
    assert!(connector_tests::schema::validate(&schema("resource"), &bad).is_err());
    let mut extra = recs[0].clone();
    extra["surprise"] = Value::from(1);
    assert!(connector_tests::schema::validate(&schema("resource"), &extra).is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn verbosity_flags_and_rust_log_control_stderr_only() {
    let quiet = sync_demo(&["-q"], &[]).await;
    let normal = sync_demo(&[], &[]).await;
    let verbose = sync_demo(&["-v"], &[]).await;
    let debug = sync_demo(&[], &[("RUST_LOG", "connector_host=debug")]).await;
    for r in [&quiet, &normal, &verbose, &debug] {
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(
            r.stdout,
            quiet
                .stdout
                .replace(&elapsed(&quiet.stdout), &elapsed(&r.stdout)),
            "stdout must not depend on verbosity"
        );
    }
    assert!(
        quiet.stderr.is_empty() && normal.stderr.is_empty(),
        "{}",
        normal.stderr
    );
    assert!(
        verbose
            .stderr
            .contains("findings: page of 150 vendor records"),
        "{}",
        verbose.stderr
    );
    assert!(
        !verbose.stderr.contains("GET https://"),
        "{}",
        verbose.stderr
    );
    assert!(
        debug
            .stderr
            .contains("GET https://api.socket.dev:443/v0/orgs/demo-org/alerts"),
        "{}",
        debug.stderr
    );
}

/// The summary's `elapsed_seconds` value, the one part of the output that varies between runs.
fn elapsed(ndjson: &str) -> String {
    let summary: Value = serde_json::from_str(ndjson.lines().last().unwrap()).unwrap();
    format!("\"elapsed_seconds\":{}", summary["elapsed_seconds"])
}

#[tokio::test(flavor = "multi_thread")]
async fn output_can_go_to_a_device() {
    let run = sync_demo(&["--out", "/dev/null"], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terminal_gets_a_progress_line_redrawn_per_page() {
    let wasm = component("socket_connector").display().to_string();
    let root = connector_tests::root();
    let host = connector_tests::host_bin();
    let out = scratch("progress").join("out.ndjson");
    let command = format!(
        "{} sync {wasm} --config {} --cassette {} --out {}",
        host.display(),
        root.join("demo/demo.toml").display(),
        root.join("tests/cassettes/demo").display(),
        out.display()
    );
    // `script` runs the command on a pseudo-terminal, as an operator's shell would.
    let run = connector_tests::run_program(
        std::path::Path::new("script"),
        &["-qec", &command, "/dev/null"],
        &[],
    )
    .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // What a user counts (records, requests), within the terminal's width.
    assert!(
        run.stdout
            .contains("\r\x1b[2K130 resources · 480 findings from 400 records · 7 requests · "),
        "{:?}",
        run.stdout
    );
    assert!(!run.stdout.contains("pages"), "{:?}", run.stdout);
    // Piped, as in the other tests, stderr stays empty.
    assert!(sync_demo(&[], &[]).await.stderr.is_empty());
}

/// The component's own suggested variables supply its secret only once the operator trusted
/// that exact component: the decision is pinned to its SHA-256.
#[tokio::test(flavor = "multi_thread")]
async fn trusting_a_component_grants_its_suggestions_for_that_build_only() {
    let sim = SocketSim::start(Org::generate("acme", 2, 5, 0), TOKEN, Behaviour::default()).await;
    let dir = scratch("trust");
    let config_home = dir.join("config");
    let wasm = component("socket_connector");
    let base = format!("base-url={}", sim.base_url());
    let sync = |wasm: String| {
        let (base, home) = (base.clone(), config_home.to_str().unwrap().to_string());
        async move {
            let args = ["sync", &wasm, "-s", "org-slug=acme", "-s", &base];
            let env = [
                ("SOCKET_SECURITY_API_KEY", TOKEN),
                ("XDG_CONFIG_HOME", &home),
            ];
            run_host(&args, &env).await
        }
    };
    let untrusted = sync(wasm.display().to_string()).await;
    assert_eq!(untrusted.code, 2, "{}", untrusted.stderr);
    assert!(
        untrusted.stderr.contains("missing secret `api-token`"),
        "{}",
        untrusted.stderr
    );

    let home = config_home.to_str().unwrap();
    let trust = run_host(
        &["trust", wasm.to_str().unwrap()],
        &[("XDG_CONFIG_HOME", home)],
    )
    .await;
    assert_eq!(trust.code, 0, "{}", trust.stderr);
    assert!(
        trust.stdout.contains("SOCKET_SECURITY_API_KEY"),
        "{}",
        trust.stdout
    );
    assert!(config_home.join("connector-host/trusted.toml").exists());
    let trusted = sync(wasm.display().to_string()).await;
    assert_eq!(trusted.code, 0, "{}", trusted.stderr);
    assert!(
        sim.requests()
            .iter()
            .all(|r| r.authorization.as_deref() == Some(&format!("Bearer {TOKEN}"))),
        "every request carried the trusted token"
    );

    // The same component with one more (custom) section is another build: not trusted.
    let mut bytes = std::fs::read(&wasm).unwrap();
    bytes.extend([0x00, 0x06, 0x04, b'n', b'o', b't', b'e', b'!']);
    let other = dir.join("other.wasm");
    std::fs::write(&other, bytes).unwrap();
    let rebuilt = sync(other.display().to_string()).await;
    assert_eq!(rebuilt.code, 2, "{}", rebuilt.stderr);
    assert!(
        rebuilt.stderr.contains("missing secret `api-token`"),
        "{}",
        rebuilt.stderr
    );
}

/// `--log-format json`: every log line on stderr is one JSON object with a level and a message,
/// for a log shipper.
#[tokio::test(flavor = "multi_thread")]
async fn json_logs_are_one_object_per_line() {
    let dir = connector_tests::scratch("cli-json-logs");
    let out = dir.join("demo.ndjson");
    let run = connector_tests::sync_demo(
        &["-v", "--log-format", "json", "--out", out.to_str().unwrap()],
        &[],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<serde_json::Value> = run
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() > 3, "{}", run.stderr);
    for l in &lines {
        assert!(
            l["level"].is_string() && l["fields"]["message"].is_string(),
            "{l}"
        );
    }
    assert!(
        lines.iter().any(|l| l["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("sync complete")),
        "{}",
        run.stderr
    );
}
