//! The operator owns the trust boundary: what a component says about itself (its name, its
//! settings, their defaults, where its credentials go, its tenant) is a claim, and no claim
//! widens where a secret goes, which limits apply, or which rows a run may touch. Each class of
//! claim is made by an impostor build (`tests/impostor`) and refused or bounded here, by the
//! real `connector-host`.

use std::collections::BTreeMap;
use std::path::Path;

use connector_tests::{HostRun, impostor, records, run_host, scratch};
use rusqlite::Connection;
use serde_json::{Value, json};

const TOKEN: &str = "tok_trust_4f9a8b7c6d";

/// `connector-host SUBCOMMAND component args...`, the token granted from `TRUST_TOKEN`.
async fn host(subcommand: &str, component: &Path, args: &[&str]) -> HostRun {
    let wasm = component.display().to_string();
    let mut all = vec![subcommand, wasm.as_str()];
    all.extend(args);
    run_host(&all, &[("TRUST_TOKEN", TOKEN)]).await
}

fn assert_no_token(run: &HostRun) {
    assert!(
        !run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN),
        "the token leaked: {}\n{}",
        run.stdout,
        run.stderr
    );
    let reversed: String = TOKEN.chars().rev().collect();
    assert!(!run.stdout.contains(&reversed) && !run.stderr.contains(&reversed));
}

fn secret(name: &str, origin: &str) -> Value {
    json!({ "name": name, "secret": true, "origin": origin })
}

fn plain(name: &str) -> Value {
    json!({ "name": name, "type": "url" })
}

/// A secret's plain twin (any spelling) and a host setting's name are refused when the
/// component is loaded, before any value is read: exit 5, naming the setting.
#[tokio::test(flavor = "multi_thread")]
async fn a_twin_of_a_secret_or_a_host_settings_name_is_refused_at_load() {
    let cases = [
        (
            plain("api-token"),
            "declared the setting \"api-token\" twice",
        ),
        (
            plain("API_TOKEN"),
            "twice (as \"api-token\" and \"API_TOKEN\"",
        ),
        (
            plain("max-requests"),
            "which is the host's (`max-requests`)",
        ),
        (
            plain("Memory_Limit_MB"),
            "which is the host's (`memory-limit-mb`)",
        ),
        (plain("host.cpu-limit-secs"), "which is the host's"),
    ];
    for (extra, says) in cases {
        let spec = json!({
            "name": "twin",
            "base_url": "base-url",
            "settings": [secret("api-token", "base-url"), plain("base-url"), extra],
        });
        let component = impostor(&spec);
        // The literal `-s` is one of the operator's sources: it must go nowhere but the credential.
        for args in [
            vec!["-s", "base-url=http://127.0.0.1:9"],
            vec![
                "-s",
                "base-url=http://127.0.0.1:9",
                "-s",
                &format!("api-token={TOKEN}"),
            ],
        ] {
            let run = host("sync", &component, &args).await;
            assert_eq!(run.code, 5, "{says}: {}", run.stderr);
            assert!(run.stderr.contains(says), "{says}: {}", run.stderr);
            assert_no_token(&run);
        }
        let run = host("describe", &component, &[]).await;
        assert_eq!(run.code, 5, "{says}: {}", run.stderr);
        assert!(run.stderr.contains("contract violation"), "{}", run.stderr);
    }
}

/// A connector that declares none of the host's names leaves every limit to the operator:
/// `-s memory-limit-mb=1` reaches the host and stops the component.
#[tokio::test(flavor = "multi_thread")]
async fn an_operator_limit_always_reaches_the_host() {
    let honest = impostor(&json!({ "name": "honest", "settings": [plain("max-retries-of-mine")] }));
    let run = host("sync", &honest, &["-s", "memory-limit-mb=1"]).await;
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("memory limit"), "{}", run.stderr);
    let run = host("sync", &honest, &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// An error at any stage (resolving settings, a jobs file) never shows a secret, even when the
/// operator put the secret's value where a URL belongs.
#[tokio::test(flavor = "multi_thread")]
async fn no_stage_prints_a_secret_in_an_error() {
    let spec = json!({
        "name": "leaky",
        "base_url": "base-url",
        "settings": [secret("api-token", "base-url"), plain("base-url")],
    });
    let component = impostor(&spec);
    let wrong = format!("base-url={TOKEN}");
    for subcommand in ["sync", "check"] {
        let run = host(
            subcommand,
            &component,
            &["-s", &wrong, "--secret", "api-token=env:TRUST_TOKEN"],
        )
        .await;
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains("setting `base-url`"), "{}", run.stderr);
        assert_no_token(&run);
    }
    let dir = scratch("trust-jobs-redact");
    let jobs = dir.join("jobs.toml");
    std::fs::write(
        &jobs,
        format!(
            "[[job]]\nname = \"leaky\"\ncomponent = {:?}\nout = \"leaky.ndjson\"\n\
             [job.settings]\nbase-url = \"{TOKEN}\"\n[job.secrets]\napi-token = \"env:TRUST_TOKEN\"\n",
            component.display().to_string()
        ),
    )
    .unwrap();
    let run = run_host(&["run", jobs.to_str().unwrap()], &[("TRUST_TOKEN", TOKEN)]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stdout.contains("setting `base-url`"), "{}", run.stdout);
    assert_no_token(&run);
}

/// A credential bound to a setting whose only value is the component's own default goes
/// nowhere, even when the operator allow-lists that origin for another reason; the operator
/// naming the origin is what sends it there.
#[tokio::test(flavor = "multi_thread")]
async fn a_secret_never_follows_a_components_default() {
    let spec = json!({
        "name": "exfil",
        "base_url": "base-url",
        "settings": [
            secret("api-token", "upload-url"),
            plain("base-url"),
            { "name": "upload-url", "type": "url", "default": "http://127.0.0.1:9" },
        ],
    });
    let component = impostor(&spec);
    let base = [
        "-s",
        "base-url=http://127.0.0.1:8",
        "--secret",
        "api-token=env:TRUST_TOKEN",
    ];
    let allowed = [
        &base[..],
        &["-s", "allowed-hosts=http://127.0.0.1:8,http://127.0.0.1:9"],
    ]
    .concat();
    let run = host("sync", &component, &allowed).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "secret `api-token` would go to the origin in setting `upload-url`, which only the \
             component's default sets"
        ),
        "{}",
        run.stderr
    );
    assert_no_token(&run);
    let named = [&allowed[..], &["-s", "upload-url=http://127.0.0.1:9"]].concat();
    let run = host("sync", &component, &named).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// `(id, state)` of the findings rows of (connector, tenant) in a SQLite output.
fn sqlite_findings(db: &Path, connector: &str, tenant: &str) -> BTreeMap<String, String> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT id, state FROM findings WHERE connector = ?1 AND tenant = ?2")
        .unwrap();
    stmt.query_map([connector, tenant], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn findings(ids: &[&str]) -> Value {
    ids.iter().map(|id| json!({ "id": id })).collect()
}

/// The victim's connector: `socket`, its tenant the `org-slug` the operator sets.
fn victim() -> Value {
    json!({
        "name": "socket",
        "tenant": "org-slug",
        "settings": [{ "name": "org-slug", "required": true }],
        "findings": findings(&["v-1", "v-2", "v-3"]),
    })
}

/// A component that keeps another connector's name cannot touch that connector's rows: not
/// through a tenant it defaults to the victim's, and not as another build of the same name
/// (until the operator hands the rows over with `--adopt`). In `run` with a shared database too.
#[tokio::test(flavor = "multi_thread")]
async fn a_component_cannot_write_another_connectors_rows() {
    let dir = scratch("trust-namespace");
    let db = dir.join("shared.db");
    let out = format!("sqlite:{}", db.display());
    let victim = impostor(&victim());
    let run = host(
        "sync",
        &victim,
        &["-s", "org-slug=victim-org", "--out", &out],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let open = |ids: &[&str]| -> BTreeMap<String, String> {
        ids.iter()
            .map(|i| (i.to_string(), "OPEN".to_string()))
            .collect()
    };
    assert_eq!(
        sqlite_findings(&db, "socket", "victim-org"),
        open(&["v-1", "v-2", "v-3"])
    );

    // Its tenant defaulted to the victim's, run by the operator for `evil-org`.
    let defaulted = impostor(&json!({
        "name": "socket",
        "tenant": "org-slug",
        "settings": [{ "name": "org-slug", "default": "victim-org" }, { "name": "org" }],
        "findings": findings(&["x-1"]),
    }));
    let run = host(
        "sync",
        &defaulted,
        &["-s", "org=evil-org", "--full", "--out", &out],
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("`org-slug` has only the component's default"),
        "{}",
        run.stderr
    );

    // Another build of the same name, run for the victim's tenant.
    let other_build = impostor(&json!({
        "name": "socket",
        "version": "6.6.6",
        "tenant": "org-slug",
        "settings": [{ "name": "org-slug" }],
        "findings": findings(&["x-1"]),
    }));
    let args = ["-s", "org-slug=victim-org", "--full", "--out", &out];
    let run = host("sync", &other_build, &args).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("belong to another component build (socket 0.0.0")
            && run.stderr.contains("this one is socket 6.6.6")
            && run.stderr.contains("--adopt"),
        "{}",
        run.stderr
    );
    assert_eq!(
        sqlite_findings(&db, "socket", "victim-org"),
        open(&["v-1", "v-2", "v-3"])
    );

    // The same inside `run`, beside an honest job on the same database.
    let jobs = dir.join("jobs.toml");
    let job = |name: &str, component: &Path, tenant: &str| {
        format!(
            "[[job]]\nname = \"{name}\"\ncomponent = {:?}\nout = \"sqlite:shared.db\"\nfull = true\n\
             [job.settings]\norg-slug = \"{tenant}\"\n",
            component.display().to_string()
        )
    };
    std::fs::write(
        &jobs,
        job("impostor", &other_build, "victim-org") + &job("honest", &victim, "other-org"),
    )
    .unwrap();
    let run = run_host(&["run", jobs.to_str().unwrap()], &[]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    let codes: BTreeMap<String, i64> = run
        .stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["job"].as_str().unwrap().to_string(),
                v["exit_code"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(codes["impostor"], 2, "{}", run.stdout);
    assert_eq!(codes["honest"], 0, "{}", run.stdout);
    assert_eq!(
        sqlite_findings(&db, "socket", "victim-org"),
        open(&["v-1", "v-2", "v-3"])
    );
    assert_eq!(
        sqlite_findings(&db, "socket", "other-org"),
        open(&["v-1", "v-2", "v-3"])
    );

    // The operator's explicit step hands the rows over; a full sync then settles them.
    let adopted = [&args[..], &["--adopt"]].concat();
    let run = host("sync", &other_build, &adopted).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let after = sqlite_findings(&db, "socket", "victim-org");
    assert_eq!(after["x-1"], "OPEN");
    assert_eq!(after["v-1"], "CLOSED");
}

/// A record no store can key (an id of 200 KiB, an id with U+0000) is skipped with its reason
/// and counted; the rest of the page is written, and the next run is no different.
#[tokio::test(flavor = "multi_thread")]
async fn one_unkeyable_record_never_stops_a_tenant() {
    let dir = scratch("trust-ids");
    let out = format!("sqlite:{}", dir.join("ids.db").display());
    let component = impostor(&json!({
        "name": "ids",
        "findings": [
            { "id": "ok-1" },
            { "id_bytes": 204_800 },
            { "id": "dup\u{0}" },
            { "id": "dup\u{fffd}" },
        ],
    }));
    for _ in 0..2 {
        let run = host("sync", &component, &["--out", &out, "--full"]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        let run = host("sync", &component, &["--full"]).await;
        let summary = records(&run.stdout).pop().unwrap();
        assert_eq!(summary["counts"]["skipped_records"], 2, "{summary}");
        assert_eq!(summary["counts"]["findings"], 2, "{summary}");
        let reasons = summary["skipped"].to_string();
        assert!(reasons.contains("an id may be at most 512"), "{reasons}");
        assert!(reasons.contains("control character"), "{reasons}");
    }
    let rows = sqlite_findings(&dir.join("ids.db"), "ids", "");
    assert_eq!(rows.len(), 2, "{rows:?}");
}

/// `check` shows the quota the connector reported in its structured fields, not only its
/// messages.
#[tokio::test(flavor = "multi_thread")]
async fn check_shows_the_quota_the_connector_reported() {
    let quota = json!({ "remaining": 42, "max": 1000, "refresh": "2026-12-06T06:00:00Z" });
    let component = impostor(&json!({ "name": "quota", "quota": quota }));
    let run = host("check", &component, &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("quota: 42 of 1000 left")
            && run
                .stdout
                .contains("quota window refreshes: 2026-12-06T06:00:00Z"),
        "{}",
        run.stdout
    );
}
