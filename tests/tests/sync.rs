//! The real component in the real host: against the bundled demo cassette and against a
//! Socket-shaped server on 127.0.0.1, checked record by record against the oracle.

use connector_tests::oracle::assert_exact;
use connector_tests::org::Org;
use connector_tests::proxy::ConnectProxy;
use connector_tests::server::{Behaviour, SocketSim};
use connector_tests::{
    component, of_kind, records, run_host, scratch, sync_acme, sync_acme_with_env, sync_demo,
};

const TOKEN: &str = "sktsec_e2e_token_0123456789";

fn wasm() -> String {
    component("socket_connector").display().to_string()
}

fn demo_org() -> Org {
    Org::generate("demo-org", 130, 400, 0)
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_cassette_replays_to_exactly_the_spec_records() {
    let run = sync_demo(&[], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let recs = records(&run.stdout);
    assert_exact(&recs, &demo_org(), |_| true, true);
    let summary = recs.last().unwrap();
    assert_eq!(summary["kind"], "summary");
    assert_eq!(summary["complete"], true);
    assert_eq!(summary["counts"]["resources"], 130);
    assert_eq!(summary["counts"]["issues"], 480);
    assert_eq!(summary["high_water_mark"], "2026-08-11T09:20:00Z");
}

#[tokio::test(flavor = "multi_thread")]
async fn loopback_sync_emits_the_spec_records_and_keeps_the_token_in_the_host() {
    // Several pages of everything: 250 repos (3 pages), 1200 alerts at 300 per page plus an
    // empty page with a cursor, and the last repos page still pointing at a next page.
    let org = Org::generate("acme", 250, 1200, 0);
    let sim = SocketSim::start(
        org.clone(),
        TOKEN,
        Behaviour {
            alert_page_cap: 300,
            ..Behaviour::default()
        },
    )
    .await;
    let run = sync_acme(&sim.base_url(), TOKEN, &["-v"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let recs = records(&run.stdout);
    assert_exact(&recs, &org, |s| s == "open", true);
    let seen = sim.requests();
    assert!(
        seen.iter()
            .all(|r| r.authorization.as_deref() == Some(&*format!("Bearer {TOKEN}")))
    );
    assert!(seen.iter().any(|r| r.query.contains("startAfterCursor")));
    assert!(
        seen.iter()
            .all(|r| !r.query.contains("filters.alertStatus=cleared")),
        "a full sync asks for open alerts only"
    );
    assert!(
        !run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN),
        "the token leaked"
    );
    let summary = recs.last().unwrap();
    assert_eq!(summary["requests"].as_u64(), Some(seen.len() as u64));
    // Each page was fetched ahead exactly once and used: none was asked for twice.
    let mut asked: Vec<String> = seen
        .iter()
        .map(|r| format!("{}?{}", r.path, r.query))
        .collect();
    asked.sort();
    asked.dedup();
    assert_eq!(asked.len(), seen.len(), "a page was requested twice");
    // All of it over kept-alive connections: one per listing running at once (the findings
    // listing starts beside the resources listing), not one per request.
    assert!(
        (1..=2).contains(&sim.connections()),
        "{} connections for {} requests",
        sim.connections(),
        seen.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_findings_listing_starts_while_the_resources_are_listed() {
    // Three repos pages at 100 ms each: the first alerts page is asked for beside the first
    // repos page, yet every resource is written before the first finding, and exactly once.
    let org = Org::generate("acme", 250, 600, 0);
    let behaviour = Behaviour {
        alert_page_cap: 300,
        delay: std::time::Duration::from_millis(100),
        ..Behaviour::default()
    };
    let sim = SocketSim::start(org.clone(), TOKEN, behaviour).await;
    let run = sync_acme(&sim.base_url(), TOKEN, &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let recs = records(&run.stdout);
    assert_exact(&recs, &org, |s| s == "open", true);
    let kinds: Vec<&str> = recs.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    let last_resource = kinds.iter().rposition(|k| *k == "resource").unwrap();
    let first_finding = kinds.iter().position(|k| *k != "resource").unwrap();
    assert!(last_resource < first_finding, "resources first: {kinds:?}");
    let paths: Vec<String> = sim.requests().into_iter().map(|r| r.path).collect();
    let first_alerts = paths.iter().position(|p| p.ends_with("/alerts")).unwrap();
    let last_repos = paths.iter().rposition(|p| p.ends_with("/repos")).unwrap();
    assert!(first_alerts < last_repos, "{paths:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn https_goes_through_the_operators_proxy_in_one_tunnel_unless_no_proxy_says_not() {
    let org = Org::generate("acme", 150, 900, 0);
    let behaviour = Behaviour {
        alert_page_cap: 300,
        ..Behaviour::default()
    };
    let (sim, ca_pem) = SocketSim::start_tls(org.clone(), TOKEN, behaviour).await;
    let proxy = ConnectProxy::start().await;
    let ca = scratch("proxy").join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let ca_arg = format!("ca-file={}", ca.display());
    let proxy_url = proxy.url();
    let via = [("HTTPS_PROXY", proxy_url.as_str())];
    let run = sync_acme_with_env(&sim.base_url(), TOKEN, &["-s", &ca_arg], &via).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_exact(&records(&run.stdout), &org, |s| s == "open", true);
    assert!(sim.requests().len() >= 6, "several pages");
    // Every request of the run went through the proxy, in tunnels to the API's origin (TLS
    // inside them, verified against the test CA): kept alive, one per listing running at once.
    let api = format!("localhost:{}", sim.addr.port());
    let tunnels = proxy.tunnels();
    assert!((1..=2).contains(&tunnels.len()), "{tunnels:?}");
    assert!(tunnels.iter().all(|t| *t == api), "{tunnels:?}");
    assert_eq!(sim.connections(), tunnels.len() as u64);

    let bypass = [
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("NO_PROXY", "localhost"),
    ];
    let direct = sync_acme_with_env(&sim.base_url(), TOKEN, &["-s", &ca_arg], &bypass).await;
    assert_eq!(direct.code, 0, "{}", direct.stderr);
    assert_eq!(
        proxy.tunnels(),
        tunnels,
        "NO_PROXY sends the run around the proxy"
    );
    assert!(sim.connections() > tunnels.len() as u64);
}

/// The host's client speaks HTTP/2 to a server that offers it (ALPN), and sends the requests
/// of a run over one connection.
#[tokio::test(flavor = "multi_thread")]
async fn the_client_speaks_http2_where_the_server_offers_it() {
    use connector_host::sandbox::budget::Budget;
    use connector_host::sandbox::limits::HostWork;
    use connector_host::sandbox::transport::{Live, Outgoing, Timeouts, Upstream};
    use hyper::body::Incoming;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    let (config, ca_pem) = connector_tests::server::tls_server_config(vec![b"h2".to_vec()]);
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let versions: Arc<Mutex<Vec<http::Version>>> = Arc::default();
    let connections = Arc::new(AtomicU64::new(0));
    let (seen, accepted) = (versions.clone(), connections.clone());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            accepted.fetch_add(1, Ordering::Relaxed);
            let Ok(tls) = acceptor.accept(tcp).await else {
                continue;
            };
            let seen = seen.clone();
            let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                seen.lock().unwrap().push(req.version());
                let body = http_body_util::Full::new(bytes::Bytes::from_static(b"{}"));
                async move { Ok::<_, std::convert::Infallible>(http::Response::new(body)) }
            });
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service),
            );
        }
    });
    let live = Live::new(Timeouts::default(), 1 << 20, Some(ca_pem.as_bytes())).unwrap();
    for page in 1..=3 {
        let response = live
            .send(Outgoing {
                method: http::Method::GET,
                uri: format!("https://localhost:{port}/v0/page/{page}")
                    .parse()
                    .unwrap(),
                headers: http::HeaderMap::new(),
                body: bytes::Bytes::new(),
                budget: Budget::new(1 << 20),
                host_work: std::sync::Arc::new(HostWork::new(std::time::Duration::MAX)),
            })
            .await
            .unwrap();
        assert_eq!(
            (response.status.as_u16(), &response.body[..]),
            (200, &b"{}"[..])
        );
    }
    assert_eq!(*versions.lock().unwrap(), [http::Version::HTTP_2; 3]);
    assert_eq!(connections.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn include_cleared_takes_every_status() {
    let org = Org::generate("acme", 20, 300, 0);
    let sim = SocketSim::start(org.clone(), TOKEN, Behaviour::default()).await;
    let run = run_host(
        &[
            "sync",
            &wasm(),
            "-s",
            "org-slug=acme",
            "-s",
            &format!("base-url={}", sim.base_url()),
            "-s",
            "include-cleared=true",
            "--secret",
            "api-token=env:SOCKET_API_TOKEN",
        ],
        &[("SOCKET_API_TOKEN", TOKEN)],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_exact(&records(&run.stdout), &org, |_| true, true);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recorded_run_replays_offline_to_identical_records() {
    let org = Org::generate("acme", 30, 200, 0);
    let sim = SocketSim::start(
        org,
        TOKEN,
        Behaviour {
            alert_page_cap: 70,
            ..Behaviour::default()
        },
    )
    .await;
    let dir = scratch("record");
    let cassette = dir.join("cassette");
    let base = format!("base-url={}", sim.base_url());
    let live = run_host(
        &[
            "sync",
            &wasm(),
            "-s",
            "org-slug=acme",
            "-s",
            &base,
            "--record",
            cassette.to_str().unwrap(),
            "--secret",
            "api-token=env:SOCKET_SECURITY_API_TOKEN",
        ],
        &[("SOCKET_SECURITY_API_TOKEN", TOKEN)],
    )
    .await;
    assert_eq!(live.code, 0, "{}", live.stderr);
    let requests_live = sim.requests().len();
    // Offline: the same settings (the server is never asked again), any token.
    let replay = run_host(
        &[
            "sync",
            &wasm(),
            "-s",
            "org-slug=acme",
            "-s",
            &base,
            "--cassette",
            cassette.to_str().unwrap(),
            "-s",
            "api-token=another-token",
        ],
        &[],
    )
    .await;
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    assert_eq!(
        sim.requests().len(),
        requests_live,
        "replay reached the network"
    );
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.contains(r#""kind":"summary""#))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&live.stdout), strip(&replay.stdout));
    for entry in walk(&cassette) {
        let text = std::fs::read_to_string(&entry).unwrap();
        assert!(!text.contains(TOKEN), "{} holds the token", entry.display());
    }
    // A request the component needs and the cassette lacks fails the run, named in the log.
    let other = run_host(
        &[
            "sync",
            &wasm(),
            "-s",
            "org-slug=acme",
            "-s",
            &base,
            "-s",
            "min-severity=high",
            "--cassette",
            cassette.to_str().unwrap(),
            "--secret",
            "api-token=env:SOCKET_SECURITY_API_TOKEN",
        ],
        &[("SOCKET_SECURITY_API_TOKEN", TOKEN)],
    )
    .await;
    assert_eq!(other.code, 4, "{}", other.stderr);
    assert!(
        other
            .stderr
            .contains("no recorded response for GET /v0/orgs/acme/alerts?"),
        "{}",
        other.stderr
    );
    assert!(
        other.stderr.contains("filters.alertSeverity=high"),
        "{}",
        other.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_fetched_ahead_on_a_wrong_guess_costs_a_replay_nothing() {
    // Every alert carries an `endCursor` key of its own. The server writes the page's cursor
    // first, so the live run guesses right; the cassette is then rewritten with each page's
    // items first, so in replay every guess is the decoy and asks for a page never recorded.
    let mut org = Org::generate("acme", 10, 150, 0);
    for row in &mut org.alerts {
        let mut a: serde_json::Value = serde_json::from_str(&row.json).unwrap();
        a["note"] = serde_json::json!({"endCursor": "decoy"});
        row.json = a.to_string();
    }
    let sim = SocketSim::start(
        org.clone(),
        TOKEN,
        Behaviour {
            alert_page_cap: 60,
            ..Behaviour::default()
        },
    )
    .await;
    let cassette = scratch("wrong-guess").join("cassette");
    let live = sync_acme(
        &sim.base_url(),
        TOKEN,
        &["--record", cassette.to_str().unwrap()],
    )
    .await;
    assert_eq!(live.code, 0, "{}", live.stderr);
    assert!(!live.stderr.contains("decoy"), "{}", live.stderr);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cassette.join("cassette.json")).unwrap()).unwrap();
    let mut rewritten = 0;
    for i in index["interactions"].as_array().unwrap() {
        if !i["path"].as_str().unwrap().ends_with("/alerts") {
            continue;
        }
        let file = cassette.join(i["body_file"].as_str().unwrap());
        let page: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let items_first = format!(
            r#"{{"items":{},"meta":{},"endCursor":{}}}"#,
            page["items"], page["meta"], page["endCursor"]
        );
        std::fs::write(&file, items_first).unwrap();
        rewritten += 1;
    }
    assert!(rewritten >= 3, "{rewritten} alert pages");

    // `--fixtures`, the flag's old name, still replays.
    let replay = sync_acme(
        &sim.base_url(),
        TOKEN,
        &["--fixtures", cassette.to_str().unwrap()],
    )
    .await;
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    // The guesses were made, missed and logged, and cost no record.
    assert!(
        replay.stderr.contains("no recorded response") && replay.stderr.contains("decoy"),
        "{}",
        replay.stderr
    );
    assert_exact(&records(&replay.stdout), &org, |s| s == "open", true);
}

#[tokio::test(flavor = "multi_thread")]
async fn models_select_record_kinds() {
    let run = sync_demo(&["--models", "findings"], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let recs = records(&run.stdout);
    assert!(of_kind(&recs, "resource").is_empty() && of_kind(&recs, "issue").is_empty());
    assert_eq!(of_kind(&recs, "finding").len(), 480);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gzip_server_yields_the_same_records_and_cassettes_hold_plain_bodies() {
    let org = Org::generate("acme", 40, 300, 0);
    let sim = SocketSim::start(
        org.clone(),
        TOKEN,
        Behaviour {
            gzip: true,
            ..Behaviour::default()
        },
    )
    .await;
    let dir = scratch("gzip");
    let cassette = dir.join("cassette");
    let run = sync_acme(
        &sim.base_url(),
        TOKEN,
        &["--record", cassette.to_str().unwrap()],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_exact(&records(&run.stdout), &org, |s| s == "open", true);
    assert!(
        sim.requests()
            .iter()
            .all(|r| r.accept_encoding.as_deref() == Some("gzip"))
    );
    let bodies: Vec<_> = std::fs::read_dir(cassette.join("bodies"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert!(!bodies.is_empty());
    for body in bodies {
        serde_json::from_slice::<serde_json::Value>(&body).expect("a plain JSON body");
    }
}
