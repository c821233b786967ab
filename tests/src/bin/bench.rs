//! Benchmarks (see BENCHMARKS.md; run them with `scripts/bench.sh`). Every figure printed is
//! measured here, as the median of several runs.
//!
//! - `bench start`: cold (compile) and cached (precompiled) start to the first response;
//! - `bench sync --alerts N`: `connector-host sync` of a synthetic organisation on 127.0.0.1
//!   against the bare transfer of the same pages (the floor), with the host's peak RSS;
//! - `bench stores --alerts N`: the same sync into an NDJSON file, SQLite and PostgreSQL;
//! - `bench mapping`: parse + normalize of one alerts page inside the component vs native;
//! - `bench fanout`: pages holding one pathological alert (thousands of locations, a long
//!   title every finding repeats), synced or skipped within the default limits;
//! - `bench jobs`: three tenants one at a time against all at once;
//! - `bench fair --alerts N`: an honest job of `connector-host run` alone, beside two spinning
//!   components, and beside two that make the host inflate gzip bombs;
//! - `bench net --alerts N`: the sync against the floor over a shaped network (time to first
//!   byte, a bandwidth cap, gzip), with bytes on the wire and connections per run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use connector_host::engine::Runtime;
use connector_host::sandbox::Stats;
use connector_host::sandbox::budget::Budget;
use connector_host::sandbox::credential::{Credential, Scheme};
use connector_host::sandbox::http::SandboxHttp;
use connector_host::sandbox::limits::{HostWork, Limits};
use connector_host::sandbox::policy::{Origin, Policy};
use connector_host::sandbox::redact::Secrets;
use connector_host::sandbox::transport::{
    BoxFuture, Incoming, Live, Outgoing, Timeouts, TransportError, Upstream,
};
use connector_host::wit::{FindingQuery, Setting};
use connector_tests::PeakRss;
use connector_tests::org::{Org, wide_alert};
use connector_tests::server::{Behaviour, SocketSim};

const TOKEN: &str = "bench-token";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str, default: usize| -> usize {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let runs = opt("--runs", 5);
    match args.first().map(String::as_str) {
        Some("start") => start(runs).await,
        Some("sync") => sync(opt("--alerts", 100_000), opt("--repos", 200), runs).await,
        Some("mapping") => mapping(opt("--alerts", 5000), runs).await,
        Some("fanout") => fanout(runs).await,
        Some("jobs") => jobs(opt("--alerts", 5000), opt("--delay-ms", 100), runs).await,
        Some("fair") => fair(opt("--alerts", 20_000), runs).await,
        Some("stores") => stores(opt("--alerts", 100_000), opt("--repos", 200), runs).await,
        Some("polyglot") => polyglot(opt("--images", 2000), opt("--vulns", 20_000), runs).await,
        Some("net") => {
            let shape = Shape {
                delay_ms: opt("--delay-ms", 300) as u64,
                bandwidth_mbps: opt("--bandwidth-mbps", 20) as u64,
            };
            net(opt("--alerts", 100_000), opt("--repos", 200), shape, runs).await
        }
        _ => {
            eprintln!(
                "usage: bench start|sync|stores|mapping|fanout|jobs|fair|net [--runs N] [--alerts N] [--repos N] \
                 [--delay-ms N] [--bandwidth-mbps N]"
            )
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn wasm() -> PathBuf {
    connector_tests::component("socket_connector")
}

fn hooks(base_url: &str, upstream: Arc<dyn Upstream>) -> SandboxHttp {
    let origin = Origin::parse(base_url).unwrap();
    let mut secrets = Secrets::default();
    secrets.add(TOKEN);
    SandboxHttp::new(
        Policy::new(vec![origin.clone()]).unwrap(),
        upstream,
        vec![Credential::new("api-token", &Scheme::Bearer, TOKEN, origin).unwrap()],
        secrets,
        Arc::new(Stats::default()),
        u64::MAX,
        1 << 30,
    )
}

fn live() -> Arc<dyn Upstream> {
    Arc::new(Live::new(Timeouts::default(), 1 << 30, None).unwrap())
}

fn settings(base_url: &str) -> Vec<Setting> {
    vec![
        Setting {
            name: "org-slug".into(),
            value: "bench".into(),
        },
        Setting {
            name: "base-url".into(),
            value: base_url.into(),
        },
    ]
}

/// Load (compile or from cache) → instantiate → configure → `check` (one request): seconds to
/// the first response, and to load alone.
/// One start: (load, the HTTP client built, configured, first response), each in seconds from
/// the start.
async fn start_once(sim: &SocketSim, cache: Option<&Path>) -> (f64, f64, f64, f64) {
    let t0 = Instant::now();
    let runtime = Runtime::new(cache.map(Path::to_path_buf))
        .unwrap()
        .load(&wasm())
        .unwrap();
    let loaded = t0.elapsed().as_secs_f64();
    let upstream = live();
    let client = t0.elapsed().as_secs_f64();
    let mut session = runtime
        .instantiate(hooks(&sim.base_url(), upstream), Limits::default())
        .await
        .unwrap();
    session
        .configure(&settings(&sim.base_url()))
        .await
        .unwrap()
        .unwrap();
    let configured = t0.elapsed().as_secs_f64();
    session.check().await.unwrap().unwrap();
    (loaded, client, configured, t0.elapsed().as_secs_f64())
}

async fn start(runs: usize) {
    let sim = SocketSim::start(Org::generate("bench", 1, 1, 0), TOKEN, Behaviour::default()).await;
    let cache = std::env::temp_dir().join(format!("bench-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    start_once(&sim, Some(&cache)).await;
    let cold = futures_seq(runs, || start_once(&sim, None)).await;
    let cached = futures_seq(runs, || start_once(&sim, Some(&cache))).await;
    type Start = (f64, f64, f64, f64);
    let ms = |v: &[Start], f: fn(&Start) -> f64| median(v.iter().map(f).collect()) * 1e3;
    println!(
        "start, median of {runs} runs (ms)     load  + HTTP client  + instance, configured  \
         to first response"
    );
    for (name, v) in [
        ("cold (compile)              ", &cold),
        ("cached (precompiled on disk)", &cached),
    ] {
        println!(
            "  {name}  {:8.2}  {:8.2}     {:8.2}                {:8.2}",
            ms(v, |x| x.0),
            ms(v, |x| x.1 - x.0),
            ms(v, |x| x.2 - x.1),
            ms(v, |x| x.3)
        );
    }
    let _ = std::fs::remove_dir_all(&cache);
}

async fn futures_seq<T, F: std::future::Future<Output = T>>(
    n: usize,
    mut f: impl FnMut() -> F,
) -> Vec<T> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(f().await);
    }
    out
}

/// Padding that brings the synthetic alerts to about 2 KB each.
fn padding_for_2kb() -> usize {
    let probe = Org::generate("bench", 200, 100, 0);
    let avg = probe.alerts.iter().map(|a| a.json.len()).sum::<usize>() / probe.alerts.len();
    2048usize.saturating_sub(avg)
}

/// Fetches every page a full sync reads, discarding the bodies: what moving the bytes costs.
async fn floor(base: &str, repos: usize) -> (f64, u64) {
    let live = live();
    let get = |url: String| {
        let live = live.clone();
        async move {
            let uri: http::Uri = url.parse().unwrap();
            let mut headers = http::HeaderMap::new();
            headers.insert(
                http::header::AUTHORIZATION,
                format!("Bearer {TOKEN}").parse().unwrap(),
            );
            live.send(Outgoing {
                method: http::Method::GET,
                uri,
                headers,
                body: Bytes::new(),
                budget: Budget::new(u64::MAX),
                host_work: std::sync::Arc::new(HostWork::new(std::time::Duration::MAX)),
            })
            .await
            .unwrap()
            .body
        }
    };
    let t0 = Instant::now();
    let mut bytes = 0u64;
    for page in 1..=repos.div_ceil(100) {
        bytes += get(format!("{base}/orgs/bench/repos?per_page=100&page={page}&include_archived=true&sort=created_at&direction=asc")).await.len() as u64;
    }
    let mut cursor: Option<String> = None;
    loop {
        let after = cursor
            .as_ref()
            .map(|c| format!("&startAfterCursor={c}"))
            .unwrap_or_default();
        let body = get(format!(
            "{base}/orgs/bench/alerts?per_page=5000{after}&filters.alertStatus=open"
        ))
        .await;
        bytes += body.len() as u64;
        let head = String::from_utf8_lossy(&body[..body.len().min(100)]).into_owned();
        cursor = head
            .split(r#""endCursor":""#)
            .nth(1)
            .and_then(|r| r.split('"').next())
            .map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    (t0.elapsed().as_secs_f64(), bytes)
}

/// What writing `bytes` of output costs on its own, the way the host writes it (1 MiB pieces,
/// an fsync per page): seconds.
fn write_floor(path: &Path, bytes: u64, pages: u64) -> f64 {
    let per_page = bytes / pages.max(1) + 1;
    use std::io::Write;
    let chunk = vec![b'x'; 1 << 20];
    let t0 = Instant::now();
    let mut file = std::fs::File::create(path).unwrap();
    let mut written = 0u64;
    while written < bytes {
        let n = chunk.len().min((bytes - written) as usize);
        file.write_all(&chunk[..n]).unwrap();
        written += n as u64;
        if written % per_page < n as u64 {
            file.sync_data().unwrap();
        }
    }
    file.sync_data().unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(path);
    secs
}

/// One `connector-host sync` process: seconds, peak RSS (bytes), its summary line.
///
/// Peak RSS is the child's own, as [`PeakRss`] sees it.
fn sync_process(
    host: &Path,
    base: &str,
    out: &Path,
    cache: &Path,
) -> (f64, u64, serde_json::Value) {
    let (secs, peak) = sync_into(host, base, out.to_str().unwrap(), cache);
    let summary = std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();
    (secs, peak, serde_json::from_str(&summary).unwrap())
}

/// One `connector-host sync --out OUT` process (a file, `sqlite:PATH`, `postgres://...`):
/// seconds and peak RSS (bytes).
fn sync_into(host: &Path, base: &str, out: &str, cache: &Path) -> (f64, u64) {
    let t0 = Instant::now();
    let mut child = Command::new(host)
        .args(["sync"])
        .arg(wasm())
        .args([
            "-s",
            "org-slug=bench",
            "-s",
            &format!("base-url={base}"),
            "--secret",
            "api-token=env:SOCKET_SECURITY_API_KEY",
            "--out",
            out,
        ])
        .arg("--cache-dir")
        .arg(cache)
        .env("SOCKET_SECURITY_API_KEY", TOKEN)
        .spawn()
        .expect("spawning connector-host");
    let peak = PeakRss::watch(child.id());
    let status = child.wait().unwrap();
    assert!(status.success(), "sync into {out} failed");
    (t0.elapsed().as_secs_f64(), peak.finish())
}

/// The server's paging without the edge cases the tests exercise (an empty page mid-listing,
/// `nextPage` on the last page), so that every benchmark reads the same pages.
fn plain_paging() -> Behaviour {
    Behaviour {
        empty_page_after: None,
        repos_next_page_on_last: false,
        ..Behaviour::default()
    }
}

/// `bench stores`: the same sync into an NDJSON file, SQLite and PostgreSQL (the server at
/// 127.0.0.1:5432, a database of the bench's own, made anew for every run; skipped, saying so,
/// when no server answers).
async fn stores(alerts: usize, repos: usize, runs: usize) {
    let host = bench_host();
    let org = Org::generate("bench", repos, alerts, padding_for_2kb());
    let sim = SocketSim::start(org, TOKEN, plain_paging()).await;
    let base = sim.base_url();
    let dir = connector_tests::scratch("bench-stores");
    let cache = dir.join("cache");
    let pg_admin = match tokio_postgres::connect(PG_ADMIN, tokio_postgres::NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            Some(client)
        }
        Err(e) => {
            println!("  (PostgreSQL skipped: no server at {PG_ADMIN}: {e})");
            None
        }
    };
    let pg_db = format!("bench_stores_{}", std::process::id());
    let destinations = [
        ("NDJSON file", dir.join("out.ndjson").display().to_string()),
        ("SQLite", format!("sqlite:{}", dir.join("out.db").display())),
        (
            "PostgreSQL",
            format!("postgres://postgres@127.0.0.1:5432/{pg_db}"),
        ),
    ];
    println!("sync of {alerts} alerts + {repos} repos into each store, median of {runs} runs:");
    for (name, out) in destinations {
        let is_pg = out.starts_with("postgres:");
        if is_pg && pg_admin.is_none() {
            continue;
        }
        let (mut times, mut peaks) = (Vec::new(), Vec::new());
        // The first run warms the component cache and is not counted.
        for run in 0..=runs {
            // Each destination starts empty; the others' last outputs stay for the floors below.
            if name == "NDJSON file" {
                let _ = std::fs::remove_file(dir.join("out.ndjson"));
            }
            if name == "SQLite" {
                for file in ["out.db", "out.db-wal", "out.db-shm"] {
                    let _ = std::fs::remove_file(dir.join(file));
                }
            }
            if let (true, Some(admin)) = (is_pg, &pg_admin) {
                for sql in [
                    format!("DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)"),
                    format!("CREATE DATABASE {pg_db}"),
                ] {
                    admin.batch_execute(&sql).await.unwrap();
                }
            }
            let (h, b, o, c) = (host.clone(), base.clone(), out.clone(), cache.clone());
            let (secs, peak) = tokio::task::spawn_blocking(move || sync_into(&h, &b, &o, &c))
                .await
                .unwrap();
            if run > 0 {
                times.push(secs);
                peaks.push(peak as f64 / 1e6);
            }
        }
        println!(
            "  {name:<12} {:8.3} s   peak RSS {:6.1} MB",
            median(times),
            median(peaks)
        );
    }
    let rows = floor::rows(&dir.join("out.ndjson"));
    println!(
        "the databases alone, writing the same {} rows (one transaction per {} rows, as a page):",
        rows.len(),
        floor::PAGE_ROWS
    );
    let secs = floor::sqlite(&dir.join("out.db"), &dir.join("floor.db"), &rows);
    println!("  SQLite       {secs:8.3} s   (the sink's upsert per row, WAL, synchronous=FULL)");
    if let Some(admin) = pg_admin {
        let url = format!("postgres://postgres@127.0.0.1:5432/{pg_db}");
        let secs = floor::postgres(&url, &dir, &rows);
        println!("  PostgreSQL   {secs:8.3} s   (COPY into tables LIKE the sink's, psql \\copy)");
        let sql = format!("DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)");
        admin.batch_execute(&sql).await.unwrap();
    }
}

/// What the databases take to write a sync's rows by themselves: the floor under a database sink.
mod floor {
    use std::path::Path;
    use std::process::Command;
    use std::time::Instant;

    /// Rows per transaction: about what one page of 5,000 alerts gives (an issue and a finding
    /// each).
    pub const PAGE_ROWS: usize = 10_000;

    /// One row: its table and its columns in the sink's order (`id` first, `record` last).
    pub struct Row {
        table: &'static str,
        values: Vec<Option<String>>,
    }

    const RESOURCE: &[&str] = &["id", "type", "name", "record"];
    const FINDING: &[&str] = &[
        "id",
        "severity",
        "state",
        "type",
        "resource_id",
        "package",
        "first_seen",
        "last_seen",
        "state_updated_at",
        "record",
    ];

    fn columns(table: &str) -> &'static [&'static str] {
        if table == "resources" {
            RESOURCE
        } else {
            FINDING
        }
    }

    /// The rows of an NDJSON output, as the sink files them (read before any timing).
    pub fn rows(ndjson: &Path) -> Vec<Row> {
        let text = std::fs::read_to_string(ndjson).expect("the NDJSON run's output");
        let mut rows = Vec::new();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let table = match v["kind"].as_str() {
                Some("resource") => "resources",
                Some("issue") => "issues",
                Some("finding") => "findings",
                _ => continue,
            };
            let text = |key: &str| v.get(key).and_then(|x| x.as_str()).map(str::to_string);
            let package = text("package_name").or_else(|| {
                let p = v.pointer("/resource_related/affected_package/name")?;
                p.as_str().map(str::to_string)
            });
            let values = columns(table)
                .iter()
                .map(|c| match *c {
                    "package" => package.clone(),
                    "record" => Some(line.to_string()),
                    c => text(c),
                })
                .collect();
            rows.push(Row { table, values });
        }
        rows
    }

    /// Inserts `rows` into a new SQLite database with `like`'s schema and the sink's pragmas and
    /// statement; the seconds it took.
    pub fn sqlite(like: &Path, path: &Path, rows: &[Row]) -> f64 {
        for file in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{file}", path.display()));
        }
        let source = rusqlite::Connection::open(like).unwrap();
        let schema: Vec<String> = source
            .prepare(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut db = rusqlite::Connection::open(path).unwrap();
        db.pragma_update(None, "journal_mode", "WAL").unwrap();
        db.pragma_update(None, "synchronous", "FULL").unwrap();
        for sql in schema {
            db.execute_batch(&sql).unwrap();
        }
        let t0 = Instant::now();
        for page in rows.chunks(PAGE_ROWS) {
            let tx = db.transaction().unwrap();
            for row in page {
                let cols = columns(row.table);
                let marks: Vec<String> = (0..cols.len()).map(|i| format!("?{}", i + 3)).collect();
                let set: Vec<String> = cols[1..]
                    .iter()
                    .map(|c| format!("{c} = excluded.{c}"))
                    .collect();
                let sql = format!(
                    "INSERT INTO {} (connector, tenant, {}, last_run) VALUES (?1, ?2, {}, 1)
                     ON CONFLICT (connector, tenant, id) DO UPDATE SET {}",
                    row.table,
                    cols.join(", "),
                    marks.join(", "),
                    set.join(", ")
                );
                let mut stmt = tx.prepare_cached(&sql).unwrap();
                let mut values: Vec<&dyn rusqlite::ToSql> = vec![&"bench", &"floor"];
                values.extend(row.values.iter().map(|v| v as &dyn rusqlite::ToSql));
                stmt.execute(&values[..]).unwrap();
            }
            tx.commit().unwrap();
        }
        t0.elapsed().as_secs_f64()
    }

    /// `COPY`s `rows` into tables made `LIKE` the sink's in the database at `url`, one
    /// transaction per page, through psql; the seconds it took (the files are written first).
    pub fn postgres(url: &str, dir: &Path, rows: &[Row]) -> f64 {
        let mut script = String::new();
        for table in ["resources", "issues", "findings"] {
            script.push_str(&format!(
                "CREATE TABLE floor_{table} (LIKE {table} INCLUDING ALL);\n"
            ));
        }
        let psql = |script: &str| {
            let out = Command::new("psql")
                .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c", script])
                .output()
                .expect("psql");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        psql(&script);
        let mut copies = Vec::new();
        for (i, page) in rows.chunks(PAGE_ROWS).enumerate() {
            for table in ["resources", "issues", "findings"] {
                let file = dir.join(format!("floor-{i}-{table}.tsv"));
                let mut text = String::new();
                for row in page.iter().filter(|r| r.table == table) {
                    let fields: Vec<String> = ["bench", "floor"]
                        .iter()
                        .map(|v| v.to_string())
                        .chain(row.values.iter().map(|v| match v {
                            Some(v) => escape(v),
                            None => "\\N".to_string(),
                        }))
                        .chain(["1".to_string()])
                        .collect();
                    text.push_str(&fields.join("\t"));
                    text.push('\n');
                }
                if text.is_empty() {
                    continue;
                }
                std::fs::write(&file, text).unwrap();
                let cols = columns(table).join(", ");
                copies.push(format!(
                    "\\copy floor_{table} (connector, tenant, {cols}, last_run) FROM '{}'",
                    file.display()
                ));
            }
            copies.push("COMMIT;".to_string());
            copies.push("BEGIN;".to_string());
        }
        let script = dir.join("floor.sql");
        let script_text = format!(
            "SET default_toast_compression = lz4;\nBEGIN;\n{}\n",
            copies.join("\n")
        );
        std::fs::write(&script, script_text).unwrap();
        let t0 = Instant::now();
        let out = Command::new("psql")
            .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-f"])
            .arg(&script)
            .output()
            .expect("psql");
        let secs = t0.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        secs
    }

    /// A value in COPY's text format.
    fn escape(v: &str) -> String {
        v.replace('\\', "\\\\")
            .replace('\t', "\\t")
            .replace('\n', "\\n")
            .replace('\r', "\\r")
    }
}

/// The PostgreSQL server `bench stores` writes to, as its administrator.
const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

async fn sync(alerts: usize, repos: usize, runs: usize) {
    let host = bench_host();
    let org = Org::generate("bench", repos, alerts, padding_for_2kb());
    let avg = org.alerts.iter().map(|a| a.json.len()).sum::<usize>() / alerts.max(1);
    let sim = SocketSim::start(org, TOKEN, plain_paging()).await;
    let base = sim.base_url();
    let dir = connector_tests::scratch("bench-sync");
    let (out, cache) = (dir.join("out.ndjson"), dir.join("cache"));
    let host2 = host.clone();
    let (b2, o2, c2) = (base.clone(), out.clone(), cache.clone());
    tokio::task::spawn_blocking(move || sync_process(&host2, &b2, &o2, &c2))
        .await
        .unwrap(); // warm the cache
    let mut floors = Vec::new();
    let mut syncs = Vec::new();
    let mut rss = Vec::new();
    let mut findings = 0;
    let mut bytes = 0;
    for _ in 0..runs {
        let (f, b) = floor(&base, repos).await;
        floors.push(f);
        bytes = b;
        let (host2, b2, o2, c2) = (host.clone(), base.clone(), out.clone(), cache.clone());
        let (s, r, n) = tokio::task::spawn_blocking(move || sync_process(&host2, &b2, &o2, &c2))
            .await
            .unwrap();
        syncs.push(s);
        rss.push(r as f64);
        findings = n["counts"]["findings"].as_u64().unwrap();
    }
    let output_bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    let mut writes = Vec::new();
    for _ in 0..runs {
        let pages = (alerts.div_ceil(5000) + repos.div_ceil(100)) as u64;
        writes.push(write_floor(&dir.join("floor.ndjson"), output_bytes, pages));
    }
    let write_s = median(writes);
    let (floor_s, sync_s) = (median(floors), median(syncs));
    println!(
        "sync of {alerts} alerts (~{avg} B each, {:.0} MB over the wire) + {repos} repos, median of {runs} runs:",
        bytes as f64 / 1e6
    );
    println!("  transfer floor   {floor_s:8.3} s");
    println!(
        "  connector-host   {sync_s:8.3} s   ratio {:.2}x   {:.0} findings/s",
        sync_s / floor_s,
        findings as f64 / sync_s
    );
    println!(
        "  writing output   {write_s:8.3} s   ({:.0} MB written in 1 MiB pieces, fsynced per page: {:.2}x the transfer floor on its own)",
        output_bytes as f64 / 1e6,
        write_s / floor_s
    );
    let (lo, hi) = rss
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    println!(
        "  peak RSS         {:8.1} MB   (runs ranged {:.1}–{:.1} MB)",
        median(rss.clone()) / 1e6,
        lo / 1e6,
        hi / 1e6
    );
    if let Ok(python) = std::env::var("PEER_PYTHON") {
        let peer = connector_tests::root().join("bench/peer.py");
        let mut times = Vec::new();
        for _ in 0..runs.min(3) {
            let t0 = Instant::now();
            let status = Command::new(&python)
                .arg(&peer)
                .args([base.as_str(), "bench"])
                .arg(&out)
                .env("SOCKET_SECURITY_API_KEY", TOKEN)
                .stdout(std::process::Stdio::null())
                .status()
                .expect("running the Python peer");
            assert!(status.success(), "the Python peer failed");
            times.push(t0.elapsed().as_secs_f64());
        }
        let peer_s = median(times);
        println!(
            "  python peer      {peer_s:8.3} s   (socketdev SDK + plain mapping; connector-host is {:.1}x faster)",
            peer_s / sync_s
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The host program to measure: `BENCH_HOST`, or the release build.
fn bench_host() -> PathBuf {
    let host = std::env::var_os("BENCH_HOST")
        .map(PathBuf::from)
        .unwrap_or_else(|| connector_tests::root().join("target/release/connector-host"));
    assert!(
        host.exists(),
        "build it first: cargo build --release -p connector-host"
    );
    host
}

/// The network `bench net` shapes: a time to first byte for every response, and the bandwidth
/// of the rows that cap it.
#[derive(Clone, Copy)]
struct Shape {
    delay_ms: u64,
    bandwidth_mbps: u64,
}

/// One row of `bench net`: median seconds of the floor and of the sync, the sync's bytes on the
/// wire and connections (both counted by the server), and its peak RSS.
struct NetRow {
    floor: f64,
    sync: f64,
    wire_bytes: u64,
    connections: u64,
    floor_connections: u64,
    rss: f64,
}

/// Full syncs over a shaped network, against the floor: the same pages fetched one after the
/// other by the host's own HTTP client, bodies thrown away.
async fn net(alerts: usize, repos: usize, shape: Shape, runs: usize) {
    let host = bench_host();
    let org = Org::generate("bench", repos, alerts, padding_for_2kb());
    let cap = shape.bandwidth_mbps * 1_000_000;
    println!(
        "sync of {alerts} alerts + {repos} repos, {} ms to first byte, median of {runs} runs:",
        shape.delay_ms
    );
    println!(
        "  bandwidth       gzip   floor      sync       ratio   on the wire   connections floor/sync   peak RSS"
    );
    for (bandwidth, gzip) in [(None, false), (Some(cap), false), (Some(cap), true)] {
        let behaviour = Behaviour {
            delay: std::time::Duration::from_millis(shape.delay_ms),
            bandwidth,
            gzip,
            memoize: true,
            ..plain_paging()
        };
        let row = net_row(&host, org.clone(), behaviour, repos, runs).await;
        println!(
            "  {:<14}  {:<5}  {:7.3} s  {:7.3} s  {:5.3}x  {:8.1} MB   {:>11} / {:<6}  {:6.1} MB",
            bandwidth.map_or("loopback".to_string(), |b| format!(
                "{} MB/s",
                b / 1_000_000
            )),
            if gzip { "yes" } else { "no" },
            row.floor,
            row.sync,
            row.sync / row.floor,
            row.wire_bytes as f64 / 1e6,
            row.floor_connections,
            row.connections,
            row.rss / 1e6
        );
    }
}

async fn net_row(host: &Path, org: Org, behaviour: Behaviour, repos: usize, runs: usize) -> NetRow {
    let sim = SocketSim::start(org, TOKEN, behaviour).await;
    let base = sim.base_url();
    let dir = connector_tests::scratch("bench-net");
    let (out, cache) = (dir.join("out.ndjson"), dir.join("cache"));
    let sync = || {
        let (host, base, out, cache) =
            (host.to_path_buf(), base.clone(), out.clone(), cache.clone());
        tokio::task::spawn_blocking(move || sync_process(&host, &base, &out, &cache))
    };
    sync().await.unwrap(); // warm the component cache
    let (mut floors, mut syncs, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    let (mut wire_bytes, mut connections, mut floor_connections) = (0, 0, 0);
    for _ in 0..runs {
        let connections_before = sim.connections();
        floors.push(floor(&base, repos).await.0);
        floor_connections = sim.connections() - connections_before;
        let (bytes_before, connections_before) = (sim.bytes_sent(), sim.connections());
        let (secs, peak, _) = sync().await.unwrap();
        syncs.push(secs);
        rss.push(peak as f64);
        wire_bytes = sim.bytes_sent() - bytes_before;
        connections = sim.connections() - connections_before;
    }
    let _ = std::fs::remove_dir_all(&dir);
    NetRow {
        floor: median(floors),
        sync: median(syncs),
        wire_bytes,
        connections,
        floor_connections,
        rss: median(rss),
    }
}

/// Serves one fixed body for every request, from memory.
struct Fixed(Bytes);

impl Upstream for Fixed {
    fn send(&self, req: Outgoing) -> BoxFuture<'_, Result<Incoming, TransportError>> {
        let body = self.0.clone();
        Box::pin(async move {
            let mut charge = req.budget.start();
            charge
                .grow(body.len() as u64)
                .map_err(TransportError::OverBudget)?;
            Ok(Incoming {
                status: http::StatusCode::OK,
                headers: http::HeaderMap::new(),
                body,
                charge,
            })
        })
    }
}

struct NativeHttp(Vec<u8>);

impl socket_connector::api::Http for NativeHttp {
    fn send(
        &mut self,
        _: &socket_connector::api::Request,
    ) -> Result<socket_connector::api::Response, socket_connector::api::SendError> {
        Ok(socket_connector::api::Response::new(200, self.0.clone()))
    }
}

/// Maps the one page `session`'s upstream serves, in as many calls as its findings take (its
/// `endCursor` is null, so the listing ends with it); how many alerts were read.
async fn component_page(session: &mut connector_host::engine::Session) -> usize {
    let (mut cursor, mut read) = (None, 0);
    loop {
        let query = FindingQuery {
            cursor,
            updated_since: None,
        };
        let page = session.list_findings(&query).await.unwrap().unwrap();
        read += page.vendor_records as usize;
        cursor = page.next_cursor;
        if cursor.is_none() {
            return read;
        }
    }
}

/// [`component_page`] with the same Rust compiled natively.
fn native_page(cfg: &socket_connector::settings::Config, http: &mut NativeHttp) -> usize {
    let (mut cursor, mut read, mut held) = (None, 0, None);
    loop {
        let query = socket_connector::wit::FindingQuery {
            cursor,
            updated_since: None,
        };
        let page = socket_connector::api::list_alerts(cfg, http, &query, &mut held).unwrap();
        read += page.vendor_records as usize;
        cursor = page.next_cursor;
        if cursor.is_none() {
            return read;
        }
    }
}

async fn mapping(alerts: usize, runs: usize) {
    let org = Org::generate("bench", 200, alerts, padding_for_2kb());
    let items: Vec<&str> = org
        .alerts
        .iter()
        .filter(|a| a.status == "open")
        .map(|a| a.json.as_str())
        .collect();
    let n = items.len();
    let body = format!(
        r#"{{"endCursor":null,"items":[{}],"meta":{{"queryStartTimestamp":1786440000000}}}}"#,
        items.join(",")
    );
    let base = "http://127.0.0.1:9/v0";

    // A sync maps every page in one instance, so the second call (warm: linear memory already
    // grown) is the one a sync pays for each page; the first also pays for growing it.
    let runtime = Runtime::new(None).unwrap().load(&wasm()).unwrap();
    let (mut cold_times, mut warm_times) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let mut session = runtime
            .instantiate(
                hooks(base, Arc::new(Fixed(Bytes::from(body.clone())))),
                Limits::default(),
            )
            .await
            .unwrap();
        session.configure(&settings(base)).await.unwrap().unwrap();
        for times in [&mut cold_times, &mut warm_times] {
            let t0 = Instant::now();
            let read = component_page(&mut session).await;
            times.push(t0.elapsed().as_secs_f64());
            assert_eq!(read, n);
        }
    }
    let cfg = socket_connector::settings::Config::parse(&[socket_connector::wit::Setting {
        name: "org-slug".into(),
        value: "bench".into(),
    }])
    .unwrap();
    let mut native_times = Vec::new();
    for _ in 0..runs {
        let mut http = NativeHttp(body.clone().into_bytes());
        let t0 = Instant::now();
        let read = native_page(&cfg, &mut http);
        native_times.push(t0.elapsed().as_secs_f64());
        assert_eq!(read, n);
    }
    let (cold, warm, nat) = (median(cold_times), median(warm_times), median(native_times));
    let per_alert = |t: f64| t / n as f64 * 1e6;
    println!(
        "mapping one page of {n} alerts ({:.1} MB), median of {runs} runs:",
        body.len() as f64 / 1e6
    );
    println!(
        "  native                    {:8.2} µs/alert",
        per_alert(nat)
    );
    println!(
        "  component, warm instance  {:8.2} µs/alert   {:.2}x native   (every page of a sync after the first)",
        per_alert(warm),
        nat / warm
    );
    println!(
        "  component, new instance   {:8.2} µs/alert   {:.2}x native   (first page: memory grows)",
        per_alert(cold),
        nat / cold
    );
    println!(
        "  (component figures include reading the body into the guest and lifting the findings)"
    );
}

/// `bench fanout`: a page of one alert with N locations and a 2 KB title (each finding repeats
/// the title twice and the alert's text once), then the same with a 40 KB title, whose fan-out
/// no call may hold: it is skipped with its reason. Time and the host's peak RSS (which includes
/// the component's linear memory) should grow with the output, not its square.
async fn fanout(runs: usize) {
    let host = connector_tests::root().join("target/release/connector-host");
    assert!(
        host.exists(),
        "build it first: cargo build --release -p connector-host"
    );
    println!("fan-out of one alert, median of {runs} runs:");
    println!("| locations | title | page | findings | skipped | seconds | peak RSS |");
    println!("|---|---|---|---|---|---|---|");
    for (locations, title) in [
        (1000, 2048),
        (2000, 2048),
        (4000, 2048),
        (8000, 2048),
        (16_000, 2048),
        (64_000, 40_960),
    ] {
        let mut org = Org::generate("bench", 1, 0, 0);
        org.alerts.push(wide_alert("wide", title, locations));
        let page_bytes = org.alerts[0].json.len();
        let sim = SocketSim::start(org, TOKEN, plain_paging()).await;
        let dir = connector_tests::scratch("bench-fanout");
        let (out, cache) = (dir.join("out.ndjson"), dir.join("cache"));
        let (mut secs, mut rss) = (Vec::new(), Vec::new());
        let mut summary = serde_json::Value::Null;
        for _ in 0..runs {
            let (h, b, o, c) = (host.clone(), sim.base_url(), out.clone(), cache.clone());
            let (s, r, v) = tokio::task::spawn_blocking(move || sync_process(&h, &b, &o, &c))
                .await
                .unwrap();
            secs.push(s);
            rss.push(r as f64);
            summary = v;
        }
        println!(
            "| {locations} | {} KB | {:.1} MB | {} | {} | {:.3} | {:.0} MB |",
            title / 1024,
            page_bytes as f64 / 1e6,
            summary["counts"]["findings"],
            summary["counts"]["skipped_records"],
            median(secs),
            median(rss) / 1e6
        );
    }
}

/// `connector-host run` of three tenants, each on its own server that waits `delay_ms` before
/// every response: one job at a time (`--parallel 1`) against all three at once.
async fn jobs(alerts: usize, delay_ms: usize, runs: usize) {
    // BENCH_HOST: another build of the host (e.g. target/debug/host-under-test).
    let host = bench_host();
    let dir = connector_tests::scratch("bench-jobs");
    let behaviour = Behaviour {
        alert_page_cap: 500,
        delay: std::time::Duration::from_millis(delay_ms as u64),
        ..Behaviour::default()
    };
    let mut file = String::new();
    let mut sims = Vec::new();
    for tenant in ["t1", "t2", "t3"] {
        let org = Org::generate(tenant, 100, alerts, padding_for_2kb());
        let sim = SocketSim::start(org, TOKEN, behaviour.clone()).await;
        file.push_str(&format!(
            "[[job]]\nname = \"{tenant}\"\ncomponent = {:?}\nout = \"{tenant}.ndjson\"\n\
             [job.settings]\norg-slug = \"{tenant}\"\nbase-url = \"{}\"\n\
             [job.secrets]\napi-token = \"env:SOCKET_SECURITY_API_KEY\"\n",
            wasm().display().to_string(),
            sim.base_url()
        ));
        sims.push(sim);
    }
    let jobs = dir.join("jobs.toml");
    std::fs::write(&jobs, file).unwrap();
    let cache = dir.join("cache");
    let run = |parallel: &str| {
        let t0 = Instant::now();
        let status = Command::new(&host)
            .args([
                "run",
                jobs.to_str().unwrap(),
                "--parallel",
                parallel,
                "--cache-dir",
            ])
            .arg(&cache)
            .env("SOCKET_SECURITY_API_KEY", TOKEN)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("running connector-host");
        assert!(status.success(), "the jobs failed");
        t0.elapsed().as_secs_f64()
    };
    run("3"); // warm the component cache
    let (mut one, mut three) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        one.push(run("1"));
        three.push(run("3"));
    }
    let (one, three) = (median(one), median(three));
    println!(
        "jobs: 3 tenants x {alerts} alerts, {delay_ms} ms per response: one at a time {one:.2} s, \
         all at once {three:.2} s ({:.2}x)",
        one / three
    );
}

/// One `connector-host run` of `jobs` (a jobs file's text); the honest job's own sync time (its
/// summary's `elapsed_seconds`), after checking it synced every alert.
fn honest_seconds(host: &Path, dir: &Path, jobs: &str, alerts: usize) -> f64 {
    let file = dir.join("fair.toml");
    std::fs::write(&file, jobs).unwrap();
    let out = Command::new(host)
        .args([
            "run",
            file.to_str().unwrap(),
            "--parallel",
            "3",
            "--cache-dir",
        ])
        .arg(dir.join("cache"))
        .env("SOCKET_SECURITY_API_KEY", TOKEN)
        .stderr(std::process::Stdio::null())
        .output()
        .expect("running connector-host");
    let honest: serde_json::Value = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["job"] == "honest")
        .expect("the honest job's line");
    assert_eq!(honest["exit_code"], 0, "{honest}");
    assert_eq!(honest["summary"]["counts"]["findings"], alerts, "{honest}");
    honest["summary"]["elapsed_seconds"].as_f64().unwrap()
}

/// The share of the process an honest job gets in `connector-host run` beside hostile ones:
/// alone, beside two components that spin (each until its CPU limit), and beside two that make
/// the host inflate gzip bombs they never read. The same job, the same records, every time.
async fn fair(alerts: usize, runs: usize) {
    let host = bench_host();
    let dir = connector_tests::scratch("bench-fair");
    let org = Org::generate("honest", 100, alerts, padding_for_2kb());
    let sim = SocketSim::start(org, TOKEN, plain_paging()).await;
    let bombs = SocketSim::start(
        Org::generate("bombs", 1, 1, 0),
        TOKEN,
        Behaviour {
            gzip: true,
            memoize: true,
            ..Behaviour::default()
        },
    )
    .await;
    let honest = format!(
        "[[job]]\nname = \"honest\"\ncomponent = {:?}\nout = \"honest.ndjson\"\n\
         [job.settings]\norg-slug = \"honest\"\nbase-url = \"{}\"\n\
         [job.secrets]\napi-token = \"env:SOCKET_SECURITY_API_KEY\"\n",
        wasm().display().to_string(),
        sim.base_url()
    );
    let rogue = connector_tests::component("rogue_connector");
    let hostile = |name: &str, settings: &str| {
        format!(
            "[[job]]\nname = \"{name}\"\ncomponent = {:?}\nout = \"{name}.ndjson\"\n\
             [job.settings]\nbase-url = \"{}\"\ncpu-limit-secs = 6\n{settings}\n",
            rogue.display().to_string(),
            bombs.base_url()
        )
    };
    let inflate = format!(
        "mode = \"inflate\"\ntarget = \"{}/zeros\"\ncount = \"100000\"\nmax-requests = 100000",
        bombs.base_url()
    );
    let cases = [
        (
            "beside two spinning jobs",
            honest.clone()
                + &hostile("spin-1", "mode = \"spin\"")
                + &hostile("spin-2", "mode = \"spin\""),
        ),
        (
            "beside two gzip-bomb jobs",
            honest.clone() + &hostile("bomb-1", &inflate) + &hostile("bomb-2", &inflate),
        ),
    ];
    honest_seconds(&host, &dir, &honest, alerts); // warm the component cache
    let alone = median(
        (0..runs)
            .map(|_| honest_seconds(&host, &dir, &honest, alerts))
            .collect(),
    );
    for (label, jobs) in &cases {
        let beside = median(
            (0..runs)
                .map(|_| honest_seconds(&host, &dir, jobs, alerts))
                .collect(),
        );
        println!(
            "fair: the honest job ({alerts} alerts) alone {alone:.2} s, {label} {beside:.2} s ({:.2}x)",
            beside / alone
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The Imagescan connector in Rust, Python and JavaScript on the same host: component size,
/// cold compile and cached start (`describe`, a process each), and a full sync of the same
/// project (seconds, per record, peak RSS of the host process).
async fn polyglot(images: usize, vulns: usize, runs: usize) {
    use connector_tests::imagescan::{ImagescanSim, Project};
    let host = bench_host();
    let ports = connector_tests::ports();
    let rust = connector_tests::component("imagescan_connector");
    let project = Project {
        id: "p1".into(),
        images,
        vulns,
    };
    let sim = ImagescanSim::start(project, "isk_bench").await;
    let base = format!("base-url={}", sim.base_url());
    let dir = std::env::temp_dir().join(format!("bench-polyglot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "polyglot: Imagescan, {images} images + {vulns} vulnerability reports, median of {runs} runs"
    );
    println!(
        "  port         size MB  cold compile s  cached start ms  sync s  us/record  peak RSS MB"
    );
    for (name, wasm) in [
        ("rust", rust),
        ("python", ports.python.clone()),
        ("javascript", ports.javascript.clone()),
    ] {
        let cache = dir.join(format!("cache-{name}"));
        let describe = |cache: Option<&Path>| {
            let t0 = Instant::now();
            let mut c = Command::new(&host);
            c.arg("describe")
                .arg(&wasm)
                .stdout(std::process::Stdio::null());
            match cache {
                Some(dir) => c.arg("--cache-dir").arg(dir),
                None => c.arg("--no-cache"),
            };
            assert!(c.status().unwrap().success(), "{name}: describe failed");
            t0.elapsed().as_secs_f64()
        };
        let cold = median((0..runs).map(|_| describe(None)).collect());
        describe(Some(&cache));
        let cached = median((0..runs).map(|_| describe(Some(&cache))).collect());
        let mut syncs = Vec::new();
        let mut peaks = Vec::new();
        for _ in 0..runs {
            let out = dir.join(format!("{name}.ndjson"));
            let t0 = Instant::now();
            let mut child = Command::new(&host)
                .arg("sync")
                .arg(&wasm)
                .args([
                    "-s",
                    "project=p1",
                    "-s",
                    &base,
                    "--secret",
                    "api-key=env:BENCH_KEY",
                ])
                .arg("--out")
                .arg(&out)
                .arg("--cache-dir")
                .arg(&cache)
                .env("BENCH_KEY", "isk_bench")
                .spawn()
                .unwrap();
            let peak = PeakRss::watch(child.id());
            assert!(child.wait().unwrap().success(), "{name}: sync failed");
            syncs.push(t0.elapsed().as_secs_f64());
            peaks.push(peak.finish() as f64);
        }
        let sync = median(syncs);
        let size = std::fs::metadata(&wasm).unwrap().len() as f64 / 1e6;
        println!(
            "  {name:<11}  {size:7.1}  {cold:14.2}  {:15.1}  {sync:6.2}  {:9.1}  {:11.1}",
            cached * 1e3,
            sync / (images + vulns) as f64 * 1e6,
            median(peaks) / (1 << 20) as f64
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
