//! `--out postgres://...` against the real PostgreSQL server at 127.0.0.1:5432: each test makes
//! its own database and drops it. Under `CI=true` a missing server is a failure; elsewhere the
//! tests say they were skipped and why.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use connector_tests::oracle::findings;
use connector_tests::org::Org;
use connector_tests::pg_tls::PgTlsFront;
use connector_tests::server::{Behaviour, SocketSim};
use connector_tests::{component, host_command, impostor, run_host, scratch};
use tokio_postgres::{Client, NoTls};

const TOKEN: &str = "sktsec_pg_token_0123456789";
const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// A database of its own, dropped when the test ends.
struct TestDb {
    name: String,
    admin: Client,
}

impl TestDb {
    /// `None` (the test skips, saying why) when no server answers, unless `CI=true`.
    async fn create(test: &str) -> Option<TestDb> {
        let admin = match tokio_postgres::connect(&format!("{SERVER}/postgres"), NoTls).await {
            Ok((client, conn)) => {
                tokio::spawn(conn);
                client
            }
            Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
                eprintln!("SKIPPED {test}: no PostgreSQL server at {SERVER} ({e})");
                return None;
            }
            Err(e) => panic!("CI=true and no PostgreSQL server at {SERVER}: {e}"),
        };
        let name = format!("ct_{test}_{}", std::process::id());
        // One statement each: a multi-statement batch runs as one transaction, which DROP /
        // CREATE DATABASE refuse.
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            admin.batch_execute(&sql).await.unwrap();
        }
        Some(TestDb { name, admin })
    }

    fn url(&self) -> String {
        format!("{SERVER}/{}", self.name)
    }

    async fn client(&self) -> Client {
        let (client, conn) = tokio_postgres::connect(&self.url(), NoTls).await.unwrap();
        tokio::spawn(conn);
        client
    }

    async fn drop_it(self) {
        self.admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .unwrap();
    }
}

fn sync_args(sim: &SocketSim, org: &str, out: &str, extra: &[&str]) -> Vec<String> {
    let wasm = component("socket_connector").display().to_string();
    let mut args: Vec<String> = [
        "sync",
        &wasm,
        "-s",
        &format!("org-slug={org}"),
        "-s",
        &format!("base-url={}", sim.base_url()),
        "--secret",
        "api-token=env:SOCKET_SECURITY_API_KEY",
        "--out",
        out,
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

async fn sync(sim: &SocketSim, org: &str, out: &str, extra: &[&str]) -> connector_tests::HostRun {
    let args = sync_args(sim, org, out, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_host(&args, &[("SOCKET_SECURITY_API_KEY", TOKEN)]).await
}

/// `id -> (state, record)` of a table, for one tenant.
async fn rows(
    db: &TestDb,
    table: &str,
    tenant: &str,
) -> BTreeMap<String, (Option<String>, String)> {
    let state = if table == "resources" {
        "NULL::text"
    } else {
        "state"
    };
    db.client()
        .await
        .query(
            &format!("SELECT id, {state}, record::text FROM {table} WHERE tenant = $1"),
            &[&tenant],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect()
}

/// The host asks for lz4 to compress large records (pglz took most of the server's time); a
/// server built without lz4 keeps pglz.
async fn assert_records_compressed_with_lz4_where_the_server_has_it(db: &TestDb) {
    let client = db.client().await;
    let want = match client
        .batch_execute("SET default_toast_compression = lz4")
        .await
    {
        Ok(()) => "lz4",
        Err(_) => "pglz",
    };
    let methods: Vec<String> = client
        .query(
            "SELECT DISTINCT pg_column_compression(record) FROM findings
             WHERE pg_column_compression(record) IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(methods, [want], "how stored records are compressed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_loopback_org_in_postgres_holds_exactly_the_ndjson_records_and_closes_what_vanished() {
    let Some(db) = TestDb::create("exact").await else {
        return;
    };
    let mut org = Org::generate("acme", 60, 400, 0);
    let sim = SocketSim::start(
        org.clone(),
        TOKEN,
        Behaviour {
            alert_page_cap: 150,
            ..Behaviour::default()
        },
    )
    .await;
    let file = scratch("pg-exact").join("acme.ndjson");
    let ndjson = sync(&sim, "acme", file.to_str().unwrap(), &[]).await;
    assert_eq!(ndjson.code, 0, "{}", ndjson.stderr);
    let into_db = sync(&sim, "acme", &db.url(), &[]).await;
    assert_eq!(into_db.code, 0, "{}", into_db.stderr);
    let lines: BTreeSet<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .filter(|l| !l.contains(r#""kind":"summary""#))
        .map(str::to_string)
        .collect();
    let mut stored = BTreeSet::new();
    for table in ["resources", "issues", "findings"] {
        stored.extend(
            rows(&db, table, "acme")
                .await
                .into_values()
                .map(|(_, record)| record),
        );
    }
    assert_eq!(stored, lines);
    assert_records_compressed_with_lz4_where_the_server_has_it(&db).await;

    // Alerts vanish; the next full sync closes exactly their findings, in the record too.
    let all = findings(&org, |s| s == "open");
    org.alerts.truncate(350);
    let kept = findings(&org, |s| s == "open");
    let vanished: BTreeSet<String> = all
        .into_keys()
        .filter(|id| !kept.contains_key(id))
        .collect();
    sim.set_org(org);
    let full = sync(&sim, "acme", &db.url(), &["--full"]).await;
    assert_eq!(full.code, 0, "{}", full.stderr);
    let closed: BTreeSet<String> = rows(&db, "findings", "acme")
        .await
        .into_iter()
        .filter(|(_, (state, record))| {
            let in_record: serde_json::Value = serde_json::from_str(record).unwrap();
            assert_eq!(in_record["state"].as_str(), state.as_deref());
            state.as_deref() == Some("CLOSED")
        })
        .map(|(id, _)| id)
        .collect();
    assert_eq!(closed, vanished);
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_listed_twice_on_a_page_is_stored_once_as_its_last_copy() {
    let Some(db) = TestDb::create("twice").await else {
        return;
    };
    let mut org = Org::generate("acme", 5, 20, 0);
    let open = org.alerts.iter().position(|a| a.status == "open").unwrap();
    let first = org.alerts[open].clone();
    let title: String = serde_json::from_str::<serde_json::Value>(&first.json).unwrap()["title"]
        .as_str()
        .unwrap()
        .to_string();
    let mut again = first.clone();
    again.json = first.json.replacen(
        &format!(r#""title":"{title}""#),
        r#""title":"listed again""#,
        1,
    );
    assert_ne!(again.json, first.json, "the copy differs");
    org.alerts.insert(open + 3, again);
    let sim = SocketSim::start(org, TOKEN, Behaviour::default()).await;
    let run = sync(&sim, "acme", &db.url(), &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    for table in ["issues", "findings"] {
        let titles: Vec<String> = rows(&db, table, "acme")
            .await
            .into_values()
            .map(|(_, record)| serde_json::from_str::<serde_json::Value>(&record).unwrap())
            .filter(|r| {
                r["vendor_data"]["title"] == "listed again"
                    || r["vendor_data"]["title"] == title.as_str()
            })
            .map(|r| r["vendor_data"]["title"].as_str().unwrap().to_string())
            .collect();
        // One row per location of the alert, each holding the copy listed last.
        assert!(!titles.is_empty(), "{table}");
        assert!(
            titles.iter().all(|t| t == "listed again"),
            "{table}: {titles:?}"
        );
    }
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nul_in_an_alert_neither_sinks_the_page_nor_the_settling() {
    let Some(db) = TestDb::create("nul").await else {
        return;
    };
    // PostgreSQL's text (and the `jsonb` the settling step reads records as) cannot hold
    // U+0000: the stored row has U+FFFD where the alert had it.
    let mut org = Org::generate("acme", 5, 20, 0);
    let open = org
        .alerts
        .iter()
        .position(|a| a.status == "open" && a.json.contains(r#""name":"pkg-"#))
        .unwrap();
    let alert = &mut org.alerts[open];
    let id = serde_json::from_str::<serde_json::Value>(&alert.json).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = alert.json.clone();
    alert.json = before.replacen(r#""name":"pkg-"#, r#""name":"pkg\u0000-"#, 1);
    assert_ne!(alert.json, before, "the package name carries a NUL");
    let sim = SocketSim::start(org.clone(), TOKEN, Behaviour::default()).await;
    let run = sync(&sim, "acme", &db.url(), &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let client = db.client().await;
    let stored: Vec<(String, String, String)> = client
        .query(
            "SELECT id, package, record::text FROM findings WHERE strpos(record::text, $1) > 0",
            &[&format!(r#""id":"{id}""#)],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert!(!stored.is_empty());
    for (_, package, record) in &stored {
        assert!(package.starts_with("pkg\u{FFFD}-"), "{package:?}");
        assert!(record.contains(r#"pkg\ufffd-"#), "the record too: {record}");
    }
    // The alert vanishes: the next full sync closes its findings (their records are read as
    // `jsonb` to say so).
    org.alerts.remove(open);
    sim.set_org(org);
    let full = sync(&sim, "acme", &db.url(), &["--full"]).await;
    assert_eq!(full.code, 0, "{}", full.stderr);
    let ids: Vec<&str> = stored.iter().map(|(id, _, _)| id.as_str()).collect();
    let states: Vec<String> = client
        .query("SELECT state FROM findings WHERE id = ANY($1)", &[&ids])
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(states, vec!["CLOSED"; ids.len()]);
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sslmode_require_verifies_the_server_and_writes_over_tls() {
    let Some(db) = TestDb::create("tls").await else {
        return;
    };
    let front = PgTlsFront::start("127.0.0.1:5432".parse().unwrap()).await;
    let ca = scratch("pg-tls").join("ca.pem");
    std::fs::write(&ca, &front.ca_pem).unwrap();
    let url = format!(
        "postgres://postgres@localhost:{}/{}?sslmode=require",
        front.addr.port(),
        db.name
    );
    let sim = SocketSim::start(Org::generate("acme", 5, 40, 0), TOKEN, Behaviour::default()).await;

    // A server whose certificate the host cannot verify gets nothing.
    let untrusted = sync(&sim, "acme", &url, &[]).await;
    assert_eq!(untrusted.code, 1, "{}", untrusted.stderr);
    assert!(
        untrusted.stderr.contains("invalid peer certificate"),
        "says why: {}",
        untrusted.stderr
    );
    assert_eq!(front.sessions(), 0, "no TLS session was completed");

    // Trusted through `ca-file`, every statement goes over TLS.
    let ca_arg = format!("ca-file={}", ca.display());
    let run = sync(&sim, "acme", &url, &["-s", &ca_arg]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(front.sessions() >= 1);
    assert_eq!(rows(&db, "resources", "acme").await.len(), 5);
    assert!(!rows(&db, "findings", "acme").await.is_empty());
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tenants_sync_concurrently_and_the_same_tenant_twice_is_refused() {
    let Some(db) = TestDb::create("concurrent").await else {
        return;
    };
    // Slow enough (20 pages at 200 ms) that the second acme starts while the first runs.
    let slow = Behaviour {
        alert_page_cap: 100,
        delay: Duration::from_millis(200),
        ..Behaviour::default()
    };
    let (acme, beta) = (
        Org::generate("acme", 20, 2000, 0),
        Org::generate("beta", 20, 800, 0),
    );
    let sim_a = SocketSim::start(acme.clone(), TOKEN, slow.clone()).await;
    let sim_b = SocketSim::start(beta.clone(), TOKEN, slow).await;
    let url = db.url();
    let spawn = |sim: &SocketSim, org: &str| {
        host_command()
            .args(sync_args(sim, org, &url, &[]))
            .env("SOCKET_SECURITY_API_KEY", TOKEN)
            .env("XDG_CONFIG_HOME", scratch("pg-no-config"))
            .output()
    };
    // acme twice and beta once, all at the same time: the second acme starts once the first
    // holds its lock (its run is in `sync_runs`).
    let (a, b) = (spawn(&sim_a, "acme"), spawn(&sim_b, "beta"));
    let second_acme = async {
        let client = db.client().await;
        for _ in 0..1500 {
            let started = client
                .query_one("SELECT count(*) FROM sync_runs WHERE tenant = 'acme'", &[])
                .await
                .is_ok_and(|r| r.get::<_, i64>(0) > 0);
            if started {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        spawn(&sim_a, "acme").await
    };
    let (a, b, again) = tokio::join!(a, b, second_acme);
    let (a, b, again) = (a.unwrap(), b.unwrap(), again.unwrap());
    assert_eq!(
        a.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&a.stderr)
    );
    assert_eq!(
        b.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&b.stderr)
    );
    let refused = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(75), "{refused}");
    assert!(refused.contains("acme is already running"), "{refused}");
    for (tenant, org) in [("acme", &acme), ("beta", &beta)] {
        let ids: BTreeSet<String> = rows(&db, "findings", tenant).await.into_keys().collect();
        assert_eq!(
            ids,
            findings(org, |s| s == "open")
                .into_keys()
                .collect::<BTreeSet<_>>()
        );
    }
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_that_goes_away_ends_the_run_and_the_next_resumes() {
    let Some(db) = TestDb::create("gone").await else {
        return;
    };
    let org = Org::generate("acme", 20, 3000, 0);
    let slow = Behaviour {
        alert_page_cap: 250,
        delay: Duration::from_millis(80),
        ..Behaviour::default()
    };
    let sim = SocketSim::start(org.clone(), TOKEN, slow).await;
    let url = db.url();
    let child = host_command()
        .args(sync_args(&sim, "acme", &url, &[]))
        .env("SOCKET_SECURITY_API_KEY", TOKEN)
        .env("XDG_CONFIG_HOME", scratch("pg-gone-no-config"))
        .output();
    let cut = async {
        // Once some findings are committed, the server drops the run's connection.
        let client = db.client().await;
        for _ in 0..600 {
            let n: i64 = client
                .query_one("SELECT count(*) FROM findings", &[])
                .await
                .map_or(0, |r| r.get(0));
            if n > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        client
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
    };
    let (out, ()) = tokio::join!(child, cut);
    let out = out.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("database postgres://postgres@127.0.0.1:5432/"),
        "{stderr}"
    );
    let partial = rows(&db, "findings", "acme").await.len();
    let expected = findings(&org, |s| s == "open");
    assert!(partial < expected.len());
    let again = sync(&sim, "acme", &url, &[]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    let ids: BTreeSet<String> = rows(&db, "findings", "acme").await.into_keys().collect();
    assert_eq!(ids, expected.into_keys().collect::<BTreeSet<_>>());
    db.drop_it().await;
}

/// What a component says about itself decides no rows here either: another build keeping the
/// victim's connector name is refused its rows until the operator hands them over, and a
/// record no index can hold (an id of 200 KiB, an id with U+0000 beside its U+FFFD twin) is
/// skipped with its reason, the tenant's next run no different.
#[tokio::test(flavor = "multi_thread")]
async fn a_component_cannot_write_another_builds_rows_nor_stall_a_tenant_with_one_id() {
    let Some(db) = TestDb::create("namespace").await else {
        return;
    };
    let spec = |version: &str, ids: serde_json::Value| {
        serde_json::json!({
            "name": "socket",
            "version": version,
            "tenant": "org-slug",
            "settings": [{ "name": "org-slug" }],
            "findings": ids,
        })
    };
    let victim = impostor(&spec(
        "1.0.0",
        serde_json::json!([{ "id": "v-1" }, { "id_bytes": 204_800 }, { "id": "d\u{0}" }, { "id": "d\u{fffd}" }]),
    ));
    let other = impostor(&spec("6.6.6", serde_json::json!([{ "id": "x-1" }])));
    let sync = |component: &std::path::Path, extra: &[&str]| {
        let wasm = component.display().to_string();
        let url = db.url();
        let mut args = vec![
            "sync".to_string(),
            wasm,
            "-s".into(),
            "org-slug=victim".into(),
        ];
        args.extend(["--out".to_string(), url, "--full".to_string()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_host(&args, &[]).await
        }
    };
    for _ in 0..2 {
        let run = sync(&victim, &[]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let ids = |rows: BTreeMap<String, (Option<String>, String)>| {
        rows.into_iter()
            .map(|(id, (state, _))| (id, state.unwrap()))
            .collect::<BTreeMap<_, _>>()
    };
    let open: BTreeMap<String, String> = [("d\u{fffd}", "OPEN"), ("v-1", "OPEN")]
        .into_iter()
        .map(|(i, s)| (i.to_string(), s.to_string()))
        .collect();
    assert_eq!(ids(rows(&db, "findings", "victim").await), open);
    let skipped: i64 = db
        .client()
        .await
        .query_one(
            "SELECT (summary->'counts'->>'skipped_records')::bigint FROM sync_runs ORDER BY run_id DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(skipped, 2);

    let run = sync(&other, &[]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("belong to another component build (socket 1.0.0"),
        "{}",
        run.stderr
    );
    assert_eq!(ids(rows(&db, "findings", "victim").await), open);
    let run = sync(&other, &["--adopt"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(ids(rows(&db, "findings", "victim").await)["v-1"], "CLOSED");
    db.drop_it().await;
}
