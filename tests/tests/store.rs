//! `--out sqlite:PATH`: the records people query, in an embedded database. Exactly the NDJSON
//! records, upserted by id; a later full sync closes what vanished; an incremental one updates
//! rows in place; a sync killed mid-way and run again loses and duplicates nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use connector_tests::oracle::findings;
use connector_tests::org::Org;
use connector_tests::server::{Behaviour, SocketSim};
use connector_tests::{component, host_command, records, run_host, scratch, sync_demo};
use rusqlite::Connection;
use serde_json::Value;

const TOKEN: &str = "sktsec_store_token_0123456789";

/// `(id, state column, record)` of every row of `table`.
fn rows(db: &Path, table: &str) -> Vec<(String, Option<String>, String)> {
    let conn = Connection::open(db).unwrap();
    let state = if table == "resources" {
        "NULL"
    } else {
        "state"
    };
    let mut stmt = conn
        .prepare(&format!(
            "SELECT id, {state}, record FROM {table} ORDER BY id"
        ))
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// State by id, from the typed column; the record must say the same.
fn states(db: &Path, table: &str) -> BTreeMap<String, String> {
    rows(db, table)
        .into_iter()
        .map(|(id, state, record)| {
            let state = state.unwrap();
            let in_record: Value = serde_json::from_str(&record).unwrap();
            assert_eq!(in_record["state"], state.as_str(), "{id}");
            (id, state)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_in_sqlite_holds_exactly_the_ndjson_records() {
    let dir = scratch("store-demo");
    let db = dir.join("demo.db");
    let ndjson = sync_demo(&[], &[]).await;
    assert_eq!(ndjson.code, 0, "{}", ndjson.stderr);
    let run = sync_demo(&["--out", &format!("sqlite:{}", db.display())], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: BTreeSet<String> = ndjson
        .stdout
        .lines()
        .filter(|l| !l.contains(r#""kind":"summary""#))
        .map(str::to_string)
        .collect();
    let stored: BTreeSet<String> = ["resources", "issues", "findings"]
        .into_iter()
        .flat_map(|t| rows(&db, t))
        .map(|(_, _, record)| record)
        .collect();
    assert_eq!(stored.len(), 130 + 480 + 480);
    assert_eq!(stored, lines, "the records differ from the NDJSON lines");
    // What a user asks first, answered by the typed columns.
    let conn = Connection::open(&db).unwrap();
    let open: i64 = conn
        .query_row(
            "SELECT count(*) FROM findings WHERE state = 'OPEN' AND tenant = 'demo-org' AND connector = 'socket'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let expected = records(&ndjson.stdout)
        .iter()
        .filter(|r| r["kind"] == "finding" && r["state"] == "OPEN")
        .count();
    assert_eq!(open as usize, expected);
    let (runs, complete): (i64, i64) = conn
        .query_row("SELECT count(*), sum(complete) FROM sync_runs", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((runs, complete), (1, 1));
}

async fn sync(sim: &SocketSim, db: &Path, extra: &[&str]) -> connector_tests::HostRun {
    let wasm = component("socket_connector").display().to_string();
    let base = format!("base-url={}", sim.base_url());
    let out = format!("sqlite:{}", db.display());
    let mut args = vec![
        "sync",
        &wasm,
        "-s",
        "org-slug=acme",
        "-s",
        &base,
        "--secret",
        "api-token=env:SOCKET_SECURITY_API_KEY",
        "--out",
        &out,
    ];
    args.extend(extra);
    run_host(&args, &[("SOCKET_SECURITY_API_KEY", TOKEN)]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_sync_closes_what_vanished_and_an_incremental_one_updates_in_place() {
    let mut org = Org::generate("acme", 30, 200, 0);
    let sim = SocketSim::start(org.clone(), TOKEN, Behaviour::default()).await;
    let db = scratch("store-stale").join("acme.db");
    let first = sync(&sim, &db, &[]).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let before = states(&db, "findings");
    let open_ids: BTreeSet<String> = findings(&org, |s| s == "open").into_keys().collect();
    assert_eq!(before.keys().cloned().collect::<BTreeSet<_>>(), open_ids);

    // 20 alerts vanish from the server; a full sync closes exactly their findings.
    let vanished: BTreeSet<String> = {
        let all = findings(&org, |s| s == "open");
        org.alerts.truncate(180);
        let kept = findings(&org, |s| s == "open");
        all.into_keys()
            .filter(|id| !kept.contains_key(id))
            .collect()
    };
    assert!(!vanished.is_empty());
    sim.set_org(org.clone());
    // A filtered full sync does not see everything: it closes nothing.
    let filtered = sync(&sim, &db, &["--full", "-s", "min-severity=low"]).await;
    assert_eq!(filtered.code, 0, "{}", filtered.stderr);
    assert!(states(&db, "findings").values().all(|s| s != "CLOSED"));
    let full = sync(&sim, &db, &["--full"]).await;
    assert_eq!(full.code, 0, "{}", full.stderr);
    let after = states(&db, "findings");
    assert_eq!(after.len(), before.len(), "rows are closed, not deleted");
    let closed: BTreeSet<String> = after
        .iter()
        .filter(|(_, s)| *s == "CLOSED")
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(closed, vanished);
    let issues = states(&db, "issues");
    assert!(vanished.iter().all(|id| issues[id] == "Closed"));

    // A change on the server reaches its row in place on the next (incremental) run, which
    // closes nothing else.
    let touched = org.alerts.iter().position(|a| a.status == "open").unwrap();
    org.touch(touched, "cleared", "2099-01-01T00:00:00");
    sim.set_org(org.clone());
    let incremental = sync(&sim, &db, &[]).await;
    assert_eq!(incremental.code, 0, "{}", incremental.stderr);
    let summary = records(&incremental.stdout);
    assert!(
        summary.is_empty(),
        "a database output writes nothing on stdout"
    );
    let last = states(&db, "findings");
    // Rows the run had not stored before are the cleared (or ignored) alerts an incremental
    // run lists too.
    assert!(
        last.iter()
            .filter(|(id, _)| !after.contains_key(*id))
            .all(|(_, s)| s != "OPEN")
    );
    let changed: Vec<&String> = last
        .iter()
        .filter(|(id, s)| after.get(*id).is_some_and(|before| before != *s))
        .map(|(id, _)| id)
        .collect();
    let touched_alert: Value = serde_json::from_str(&org.alerts[touched].json).unwrap();
    let touched_ids: BTreeSet<String> = findings(&org, |_| true)
        .into_iter()
        .filter(|(_, (issue, _))| issue["vendor_id"] == touched_alert["id"])
        .map(|(id, _)| id)
        .collect();
    assert!(!changed.is_empty());
    assert!(
        changed.iter().all(|id| touched_ids.contains(*id)),
        "{changed:?}"
    );
    let conn = Connection::open(&db).unwrap();
    let modes: Vec<String> = conn
        .prepare("SELECT mode FROM sync_runs ORDER BY run_id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(modes, ["full", "full", "full", "incremental"]);
    // The full sync that closed them counted them, in its summary and its log; the others
    // settled nothing.
    let stale: Vec<Option<i64>> = conn
        .prepare("SELECT json_extract(summary, '$.stale_records') FROM sync_runs ORDER BY run_id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let closed_rows = 2 * vanished.len() as i64;
    assert_eq!(stale, [Some(0), None, Some(closed_rows), None]);
    assert!(
        full.stderr
            .contains(&format!("{closed_rows} records of this tenant were not in")),
        "{}",
        full.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_killed_mid_way_into_sqlite_resumes_with_nothing_lost_or_duplicated() {
    let org = Org::generate("acme", 40, 6000, 0);
    let sim = SocketSim::start(
        org.clone(),
        TOKEN,
        Behaviour {
            alert_page_cap: 500,
            delay: Duration::from_millis(100),
            ..Behaviour::default()
        },
    )
    .await;
    let dir = scratch("store-killed");
    let db = dir.join("acme.db");
    let wasm = component("socket_connector").display().to_string();
    let mut child = host_command()
        .args([
            "sync",
            &wasm,
            "-s",
            "org-slug=acme",
            "-s",
            &format!("base-url={}", sim.base_url()),
            "--secret",
            "api-token=env:SOCKET_SECURITY_API_KEY",
            "--out",
            &format!("sqlite:{}", db.display()),
        ])
        .env("SOCKET_SECURITY_API_KEY", TOKEN)
        .env("XDG_CONFIG_HOME", dir.join("no-config"))
        .spawn()
        .unwrap();
    // Kill without warning once some findings are committed.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let some = Connection::open(&db)
            .and_then(|c| c.query_row("SELECT count(*) FROM findings", [], |r| r.get::<_, i64>(0)))
            .unwrap_or(0);
        if some > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no findings were committed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().await.unwrap();
    let partial = rows(&db, "findings").len();
    let expected = findings(&org, |s| s == "open");
    assert!(partial < expected.len(), "killed too late: {partial}");

    let resumed = sync(&sim, &db, &[]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let ids: Vec<String> = rows(&db, "findings")
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(ids, expected.keys().cloned().collect::<Vec<_>>());
    let conn = Connection::open(&db).unwrap();
    let summary: String = conn
        .query_row(
            "SELECT summary FROM sync_runs ORDER BY run_id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let summary: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(
        (summary["resumed"].as_bool(), summary["complete"].as_bool()),
        (Some(true), Some(true))
    );
}
