//! The host is generic: a second connector of another shape (`tests/imagescan`: container
//! images, an API key in a header, `Link`-header paging) syncs end to end through the same,
//! unchanged host, and the host's sources hold no word of the Socket connector.

use connector_tests::imagescan::{ImagescanSim, Project};
use connector_tests::{component, of_kind, records, root, run_host, scratch};

const KEY: &str = "isk_live_0123456789abcdef";

fn wasm() -> String {
    component("imagescan_connector").display().to_string()
}

fn project() -> Project {
    Project {
        id: "p1".into(),
        images: 120,
        vulns: 250,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_vendor_syncs_through_the_same_host() {
    let sim = ImagescanSim::start(project(), KEY).await;
    let dir = scratch("imagescan-sync");
    let out = dir.join("out.ndjson");
    let run = run_host(
        &[
            "sync",
            &wasm(),
            "-s",
            "project=p1",
            "-s",
            &format!("base-url={}", sim.base_url()),
            "--secret",
            "api-key=env:E2E_IMAGESCAN_KEY",
            "--out",
            out.to_str().unwrap(),
        ],
        &[("E2E_IMAGESCAN_KEY", KEY)],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let recs = records(&std::fs::read_to_string(&out).unwrap());
    let resources = of_kind(&recs, "resource");
    assert_eq!(resources.len(), 120);
    assert!(resources.iter().all(|r| r["type"] == "container-image"));
    assert_eq!(resources[1]["name"], "team/service-1:1.1");
    let findings = of_kind(&recs, "finding");
    assert_eq!((of_kind(&recs, "issue").len(), findings.len()), (250, 250));
    let fixed = findings.iter().filter(|f| f["state"] == "CLOSED").count();
    assert_eq!(fixed, (0..250).filter(|i| i % 6 == 5).count());
    let summary = recs.last().unwrap();
    assert_eq!(summary["complete"], true, "{summary}");
    // The high-water mark is the server's clock, read from its `Date` header.
    assert_eq!(summary["high_water_mark_source"], "server");
    // The key went in its declared header, to its origin, on every request; no bearer token.
    let requests = sim.requests();
    assert_eq!(requests.len(), 3 + 3, "3 image pages and 3 report pages");
    for headers in &requests {
        let has = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n));
        assert_eq!(has("x-api-key").map(|(_, v)| v.as_str()), Some(KEY));
        assert!(has("authorization").is_none(), "{headers:?}");
    }
    assert!(!std::fs::read_to_string(&out).unwrap().contains(KEY));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_key_and_an_unknown_project_say_what_to_check() {
    let sim = ImagescanSim::start(project(), KEY).await;
    let base = format!("base-url={}", sim.base_url());
    let run = run_host(
        &[
            "check",
            &wasm(),
            "-s",
            "project=p1",
            "-s",
            &base,
            "-s",
            "api-key=wrong-key",
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("401 Unauthorized"), "{}", run.stderr);
    let run = run_host(
        &[
            "check",
            &wasm(),
            "-s",
            "project=nope",
            "-s",
            &base,
            "-s",
            &format!("api-key={KEY}"),
        ],
        &[],
    )
    .await;
    // The host points at the setting the connector declared as its tenant.
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("check the `project` setting"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_shows_how_each_secret_is_applied() {
    let run = run_host(&["describe", &wasm(), "--json"], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let spec: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(spec["tenant_setting"], "project");
    assert_eq!(spec["resource_types"][0], "container-image");
    let key = spec["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "api-key")
        .unwrap();
    assert_eq!(key["secret"], true);
    assert_eq!(key["credential"]["applied"]["header"], "X-Api-Key");
    assert_eq!(key["credential"]["origin_setting"], "base-url");
}

/// Nothing of one vendor in the host: no Socket words in its sources, error texts included.
#[test]
fn the_host_sources_name_no_vendor() {
    let mut offenders = Vec::new();
    let mut stack = vec![root().join("host/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            // `wasi:sockets` is a WASI interface the host refuses, not a vendor.
            let text = std::fs::read_to_string(&path)
                .unwrap()
                .to_ascii_lowercase()
                .replace("wasi:sockets", "wasi:-");
            for word in ["socket", "alert", "org-slug"] {
                for (n, line) in text.lines().enumerate() {
                    if line.contains(word) {
                        offenders.push(format!("{}:{}: {word}", path.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
}

/// The embedding example (`host/examples/embed.rs`, built by `cargo test`): two different
/// connectors syncing concurrently in one process, on the example's own wasmtime engine.
#[tokio::test(flavor = "multi_thread")]
async fn the_embedding_example_runs_two_connectors_in_one_process() {
    let example = connector_tests::host_bin()
        .parent()
        .unwrap()
        .join("examples/embed");
    assert!(example.exists(), "{} is not built", example.display());
    let sim = ImagescanSim::start(project(), KEY).await;
    let dir = scratch("embed-example");
    let images = dir.join("imagescan.toml");
    std::fs::write(
        &images,
        format!(
            "[settings]\nproject = \"p1\"\nbase-url = \"{}\"\n[secrets]\napi-key = \"env:E2E_IMAGESCAN_KEY\"\n",
            sim.base_url()
        ),
    )
    .unwrap();
    let socket = format!(
        "socket={},{},{}",
        component("socket_connector").display(),
        root().join("demo/demo.toml").display(),
        root().join("tests/cassettes/demo").display()
    );
    let imagescan = format!("imagescan={},{}", wasm(), images.display());
    let run = connector_tests::run_program(
        &example,
        &[dir.to_str().unwrap(), &socket, &imagescan],
        &[("E2E_IMAGESCAN_KEY", KEY)],
    )
    .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // The demo organisation: 130 resources and 480 issues + 480 findings; Imagescan: 120 + 250 + 250.
    assert!(
        run.stdout.contains("socket exit_code=0 records=1090"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("imagescan exit_code=0 records=620"),
        "{}",
        run.stdout
    );
    let written = records(&std::fs::read_to_string(dir.join("imagescan.ndjson")).unwrap());
    assert_eq!(written.last().unwrap()["complete"], true);
    assert_eq!(of_kind(&written, "resource").len(), 120);
}

/// A replay answers as the live run was answered: the cassette keeps the headers connectors
/// read (here `Date`, the Imagescan connector's high-water mark), so the replayed summary's mark
/// and its source are the live run's, not this host's clock. A `check` recorded into the same
/// cassette adds to it: both replay afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn a_replay_keeps_the_servers_clock() {
    let sim = ImagescanSim::start(project(), KEY).await;
    let dir = scratch("imagescan-replay");
    let cassette = dir.join("cassette");
    let run = |command: &str, extra: Vec<String>| {
        let mut args = vec![
            command.to_string(),
            wasm(),
            "-s".into(),
            "project=p1".into(),
            "-s".into(),
            format!("base-url={}", sim.base_url()),
            "-s".into(),
            format!("api-key={KEY}"),
        ];
        args.extend(extra);
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_host(&args, &[]).await
        }
    };
    let record = || vec!["--record".to_string(), cassette.display().to_string()];
    let replay = || vec!["--cassette".to_string(), cassette.display().to_string()];
    let live = run("sync", record()).await;
    assert_eq!(live.code, 0, "{}", live.stderr);
    let checked = run("check", record()).await;
    assert_eq!(checked.code, 0, "{}", checked.stderr);
    assert_eq!(run("check", replay()).await.code, 0);
    let replay = run("sync", replay()).await;
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    let (live, replay) = (
        records(&live.stdout).pop().unwrap(),
        records(&replay.stdout).pop().unwrap(),
    );
    assert_eq!(replay["high_water_mark_source"], "server", "{replay}");
    assert_eq!(replay["high_water_mark"], live["high_water_mark"]);
}
