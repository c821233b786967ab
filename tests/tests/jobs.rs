//! `connector-host run JOBS.toml`: many tenants in one process. Two healthy tenants and one
//! whose token is rejected: two complete, exact outputs and a 3 for the third; SIGTERM stops
//! every job at a page boundary with its checkpoint saved, and the next run resumes.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use connector_tests::oracle::assert_exact;
use connector_tests::org::Org;
use connector_tests::server::{Behaviour, SocketSim};
use connector_tests::{component, host_command, records, run_host, scratch};
use serde_json::Value;

const ACME: &str = "sktsec_acme_token_0123456789";
const BETA: &str = "sktsec_beta_token_9876543210";

fn job(name: &str, org: &str, sim: &SocketSim, token_var: &str) -> String {
    format!(
        "[[job]]\nname = \"{name}\"\ncomponent = {:?}\nout = \"{name}.ndjson\"\nstate = \"{name}.state\"\n\
         [job.settings]\norg-slug = \"{org}\"\nbase-url = \"{}\"\n[job.secrets]\napi-token = \"env:{token_var}\"\n",
        component("socket_connector").display().to_string(),
        sim.base_url()
    )
}

/// The JSON line each finished job printed, by job name.
fn outcomes(stdout: &str) -> HashMap<String, Value> {
    stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            (v["job"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

fn output(dir: &Path, name: &str) -> Vec<Value> {
    records(&std::fs::read_to_string(dir.join(format!("{name}.ndjson"))).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn three_tenants_at_once_two_complete_and_one_rejected() {
    let (acme, beta) = (
        Org::generate("acme", 120, 700, 0),
        Org::generate("beta", 60, 300, 0),
    );
    let paged = Behaviour {
        alert_page_cap: 200,
        ..Behaviour::default()
    };
    let sim_a = SocketSim::start(acme.clone(), ACME, paged.clone()).await;
    let sim_b = SocketSim::start(beta.clone(), BETA, paged).await;
    let dir = scratch("jobs-three");
    let jobs = dir.join("jobs.toml");
    std::fs::write(
        &jobs,
        [
            job("acme", "acme", &sim_a, "E2E_ACME"),
            job("beta", "beta", &sim_b, "E2E_BETA"),
            job("gamma", "acme", &sim_a, "E2E_GAMMA"),
        ]
        .concat(),
    )
    .unwrap();
    let run = run_host(
        &["run", jobs.to_str().unwrap(), "--parallel", "3"],
        &[
            ("E2E_ACME", ACME),
            ("E2E_BETA", BETA),
            ("E2E_GAMMA", "rejected-token"),
        ],
    )
    .await;
    assert_eq!(
        run.code, 3,
        "the highest job exit code; stderr: {}",
        run.stderr
    );
    let done = outcomes(&run.stdout);
    assert_eq!(done.len(), 3, "{}", run.stdout);
    assert_eq!(done["acme"]["exit_code"], 0, "{}", done["acme"]);
    assert_eq!(done["beta"]["exit_code"], 0, "{}", done["beta"]);
    assert_eq!(done["gamma"]["exit_code"], 3, "{}", done["gamma"]);
    assert!(
        done["gamma"]["summary"]["error"]
            .as_str()
            .unwrap()
            .contains("401")
    );
    assert_eq!(done["acme"]["summary"]["counts"]["resources"], 120);
    assert_exact(&output(&dir, "acme"), &acme, |s| s == "open", true);
    assert_exact(&output(&dir, "beta"), &beta, |s| s == "open", true);
    // Each job's log lines carry its name.
    assert!(run.stderr.contains("gamma"), "{}", run.stderr);
    for secret in [ACME, BETA] {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_every_job_at_a_page_boundary_and_the_next_run_resumes() {
    let (acme, beta) = (
        Org::generate("acme", 40, 1500, 0),
        Org::generate("beta", 40, 1500, 0),
    );
    let slow = Behaviour {
        alert_page_cap: 100,
        delay: Duration::from_millis(40),
        ..Behaviour::default()
    };
    let sim_a = SocketSim::start(acme.clone(), ACME, slow.clone()).await;
    let sim_b = SocketSim::start(beta.clone(), BETA, slow).await;
    let dir = scratch("jobs-sigterm");
    let jobs = dir.join("jobs.toml");
    std::fs::write(
        &jobs,
        [
            job("acme", "acme", &sim_a, "E2E_ACME"),
            job("beta", "beta", &sim_b, "E2E_BETA"),
        ]
        .concat(),
    )
    .unwrap();
    let env = [("E2E_ACME", ACME), ("E2E_BETA", BETA)];
    let child = host_command()
        .args(["run", jobs.to_str().unwrap()])
        .envs(env)
        .env("XDG_CONFIG_HOME", dir.join("no-config"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until both jobs have committed a findings page, then ask them to stop.
    let committed = |name: &str| {
        std::fs::read_to_string(dir.join(format!("{name}.state")))
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .is_some_and(|s| s["checkpoint"]["phase"] == "findings")
    };
    for _ in 0..600 {
        if committed("acme") && committed("beta") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = child.id().unwrap() as i32;
    assert_eq!(unsafe_kill(pid), 0);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("stopped within a minute")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stopped = outcomes(&stdout);
    for name in ["acme", "beta"] {
        assert_eq!(stopped[name]["exit_code"], 130, "{}", stopped[name]);
        assert!(committed(name), "{name}: the checkpoint is kept");
    }
    // The next run resumes both and ends with exactly the organisations' records.
    let run = run_host(&["run", jobs.to_str().unwrap()], &env).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let resumed = outcomes(&run.stdout);
    for (name, org) in [("acme", &acme), ("beta", &beta)] {
        assert_eq!(
            resumed[name]["summary"]["resumed"], true,
            "{}",
            resumed[name]
        );
        assert_exact(&output(&dir, name), org, |s| s == "open", true);
    }
}

/// SIGTERM, through `kill(1)`: the tests use no libc binding.
fn unsafe_kill(pid: i32) -> i32 {
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .map_or(-1, |s| s.code().unwrap_or(-1))
}
