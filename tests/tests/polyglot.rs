//! Connectors in Python and JavaScript on the unchanged host: the Imagescan connector ported to
//! each (`tests/imagescan-py`, `tests/imagescan-js`, on `sdk/python` and `sdk/js`) syncs the
//! Imagescan test server to the same records, ids and counts as the Rust original, and the
//! sandbox holds for them as for Rust.

use connector_tests::imagescan::{ImagescanSim, Project};
use connector_tests::{HostRun, component, of_kind, ports, records, run_host, scratch};
use serde_json::Value;

const KEY: &str = "isk_polyglot_0123456789abcdef";

fn project() -> Project {
    Project {
        id: "p1".into(),
        images: 120,
        vulns: 250,
    }
}

async fn sync(wasm: &str, sim: &ImagescanSim, out: &std::path::Path, extra: &[&str]) -> HostRun {
    let base = format!("base-url={}", sim.base_url());
    let mut args = vec![
        "sync",
        wasm,
        "-s",
        "project=p1",
        "-s",
        &base,
        "--secret",
        "api-key=env:E2E_IMAGESCAN_KEY",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    run_host(&args, &[("E2E_IMAGESCAN_KEY", KEY)]).await
}

/// The records of a run, and its summary's counts, without what differs from run to run.
fn comparable(path: &std::path::Path) -> (Vec<Value>, Value) {
    let mut recs = records(&std::fs::read_to_string(path).unwrap());
    let summary = recs.pop().unwrap();
    assert_eq!(summary["kind"], "summary");
    let kept = serde_json::json!({
        "complete": summary["complete"],
        "counts": summary["counts"],
        "requests": summary["requests"],
        "high_water_mark_source": summary["high_water_mark_source"],
    });
    (recs, kept)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rust_python_and_javascript_ports_sync_identically() {
    let ports = ports();
    let rust = component("imagescan_connector").display().to_string();
    let dir = scratch("polyglot-identical");
    let mut outputs = Vec::new();
    for (name, wasm) in [
        ("rust", rust),
        ("python", ports.python.display().to_string()),
        ("javascript", ports.javascript.display().to_string()),
    ] {
        let sim = ImagescanSim::start(project(), KEY).await;
        let out = dir.join(format!("{name}.ndjson"));
        let run = sync(&wasm, &sim, &out, &[]).await;
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(!text.contains(KEY), "{name}: the key reached the output");
        // The key went in its declared header, on every request, and nowhere else.
        for headers in sim.requests() {
            let key = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("x-api-key"));
            assert_eq!(key.map(|(_, v)| v.as_str()), Some(KEY), "{name}");
        }
        outputs.push((name, comparable(&out)));
    }
    let (_, (rust_records, rust_summary)) = &outputs[0];
    assert_eq!(of_kind(rust_records, "resource").len(), 120);
    assert_eq!(of_kind(rust_records, "finding").len(), 250);
    assert_eq!(rust_summary["high_water_mark_source"], "server");
    for (name, (recs, summary)) in &outputs[1..] {
        assert_eq!(summary, rust_summary, "{name}: summary");
        assert_eq!(recs.len(), rust_records.len(), "{name}: record count");
        for (theirs, ours) in recs.iter().zip(rust_records) {
            assert_eq!(
                theirs, ours,
                "{name}: a record differs from the Rust port's"
            );
        }
    }
}

/// The sandbox holds for the interpreted ports as for Rust: their memory under
/// `memory-limit-mb` (all of a component's memories together), requests only to the allow-list,
/// and sockets refused: componentize-py's own output, before the socket stub is plugged in, is
/// refused at load, naming the imports.
#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_holds_for_python_and_javascript() {
    let ports = ports();
    let unplugged = ports.python_unplugged.display().to_string();
    let run = run_host(&["describe", &unplugged], &[]).await;
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("`wasi:sockets/tcp@"), "{}", run.stderr);
    assert!(!run.stderr.contains("wasi:filesystem"), "{}", run.stderr);

    let dir = scratch("polyglot-sandbox");
    for (name, wasm) in [("python", &ports.python), ("javascript", &ports.javascript)] {
        let wasm = wasm.display().to_string();
        let sim = ImagescanSim::start(project(), KEY).await;
        let out = dir.join(format!("{name}.ndjson"));
        let small = sync(&wasm, &sim, &out, &["-s", "memory-limit-mb=4"]).await;
        assert_eq!(small.code, 5, "{name}: {}", small.stderr);
        assert!(
            small.stderr.contains("memory limit"),
            "{name}: {}",
            small.stderr
        );

        let elsewhere = sync(
            &wasm,
            &sim,
            &out,
            &["-s", "allowed-hosts=http://127.0.0.1:1"],
        )
        .await;
        assert_ne!(elsewhere.code, 0, "{name}");
        assert!(
            elsewhere.stderr.contains("is not on the allow-list"),
            "{name}: {}",
            elsewhere.stderr
        );
        assert!(
            sim.requests().is_empty(),
            "{name}: a request left the allow-list"
        );
    }
}
