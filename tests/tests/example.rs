//! The connector author's guide's worked example (`examples/dependabot`, docs/connector-guide.md)
//! is real: it syncs a GitHub-shaped organisation through the unchanged host, follows GitHub's
//! `Link` headers (which point at `/organizations/{id}/`, not the path asked), stops an
//! incremental listing at the first older alert, and passes the check-up.

use connector_tests::github::{GithubOrg, GithubSim};
use connector_tests::{component, of_kind, records, run_host, scratch};

const TOKEN: &str = "ghp_example0123456789";

fn org() -> GithubOrg {
    GithubOrg {
        login: "acme".into(),
        repos: 130,
        alerts: 250,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_guides_connector_syncs_incrementally_and_passes_the_checkup() {
    let sim = GithubSim::start(org(), TOKEN).await;
    let dir = scratch("example-dependabot");
    let wasm = component("dependabot_connector").display().to_string();
    let base = format!("base-url={}", sim.base_url());
    let (out, state, cassette) = (
        dir.join("out.ndjson"),
        dir.join("state.json"),
        dir.join("cassette"),
    );
    let args = |extra: &[&str]| {
        let mut args = vec![
            "sync".to_string(),
            wasm.clone(),
            "-s".into(),
            "org=acme".into(),
            "-s".into(),
            base.clone(),
        ];
        args.extend(["--secret".into(), "token=env:E2E_GITHUB_TOKEN".into()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let sync = |extra: Vec<String>| async move {
        let args: Vec<&str> = extra.iter().map(String::as_str).collect();
        run_host(&args, &[("E2E_GITHUB_TOKEN", TOKEN)]).await
    };
    let paths = [
        out.to_str().unwrap(),
        state.to_str().unwrap(),
        cassette.to_str().unwrap(),
    ];
    let full = sync(args(&[
        "--out", paths[0], "--state", paths[1], "--record", paths[2],
    ]))
    .await;
    assert_eq!(full.code, 0, "{}", full.stderr);
    let recs = records(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(of_kind(&recs, "resource").len(), 130);
    let findings = of_kind(&recs, "finding");
    assert_eq!(findings.len(), 250);
    let summary = recs.last().unwrap();
    assert_eq!(summary["high_water_mark_source"], "server", "{summary}");
    // `fixed` and `auto_dismissed` (alerts 1 and 3 of every 4) close; `dismissed` is ignored.
    let closed = (0..250).filter(|i| i % 2 == 1).count();
    assert_eq!(
        findings.iter().filter(|f| f["state"] == "CLOSED").count(),
        closed
    );
    let requests = sim.targets();
    assert_eq!(requests.len(), 2 + 3, "{requests:#?}");
    assert!(
        requests
            .iter()
            .any(|t| t.starts_with("/organizations/42/dependabot/alerts?"))
    );

    // Every alert is older than the mark: one alerts page, nothing written, and done.
    let before = sim.targets().len();
    let incremental = sync(args(&["--out", paths[0], "--state", paths[1]])).await;
    assert_eq!(incremental.code, 0, "{}", incremental.stderr);
    let recs = records(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(recs.last().unwrap()["mode"], "incremental");
    assert_eq!(of_kind(&recs, "finding").len(), 0);
    let alerts = sim.targets()[before..]
        .iter()
        .filter(|t| t.contains("dependabot"))
        .count();
    assert_eq!(
        alerts, 1,
        "an incremental listing stops at the first older alert"
    );

    let checkup = run_host(
        &[
            "checkup",
            &wasm,
            "-s",
            "org=acme",
            "-s",
            &base,
            "-s",
            "token=x",
            "--cassette",
            paths[2],
        ],
        &[],
    )
    .await;
    assert_eq!(checkup.code, 0, "{}{}", checkup.stdout, checkup.stderr);
    assert_eq!(
        checkup.stdout.matches("PASS").count(),
        6,
        "{}",
        checkup.stdout
    );
}
