//! The Kubernetes manifests in `deploy/kubernetes` run command lines the CLI accepts: every
//! container's `command` + `args`, with Kubernetes' `$(VAR)` references filled in, parses as a
//! `connector-host` invocation, writes into the database, and takes its secrets from Secrets.

use connector_host::cli::{Cli, Command};
use connector_host::secrets::Grants;
use connector_host::settings::{HOST_PREFIX, HOST_SETTINGS};
use connector_host::sync::{Database, Output};
use connector_tests::root;
use serde_yaml::Value;

/// The pod spec of a CronJob or a Job.
fn pod_spec(doc: &Value) -> &Value {
    match doc["kind"].as_str() {
        Some("CronJob") => &doc["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        Some("Job") => &doc["spec"]["template"]["spec"],
        other => panic!("unexpected kind {other:?}"),
    }
}

/// `$(NAME)` filled in from `vars`; a reference to anything else fails the test.
fn expand(arg: &str, vars: &[(String, String)]) -> String {
    let mut out = arg.to_string();
    while let Some(start) = out.find("$(") {
        let end = start + out[start..].find(')').expect("a closed $(");
        let name = &out[start + 2..end];
        let value = vars
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{arg}: $({name}) is not defined for the container"))
            .1
            .clone();
        out.replace_range(start..=end, &value);
    }
    out
}

#[test]
fn the_manifests_run_command_lines_the_cli_accepts() {
    let dir = root().join("deploy/kubernetes");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if doc["kind"] == "CronJob" {
            assert_eq!(
                doc["spec"]["concurrencyPolicy"],
                "Forbid",
                "{}",
                path.display()
            );
        }
        let indexed = doc["spec"]["completionMode"] == "Indexed";
        for container in pod_spec(&doc)["containers"].as_sequence().unwrap() {
            let mut vars: Vec<(String, String)> = Vec::new();
            for env in container["env"].as_sequence().into_iter().flatten() {
                let name = env["name"].as_str().unwrap().to_string();
                // Secrets come from Secrets, never inline.
                assert!(
                    env["value"].is_null(),
                    "{name}: an inline value in {}",
                    path.display()
                );
                assert!(
                    !env["valueFrom"]["secretKeyRef"]["name"].is_null(),
                    "{name}"
                );
                let sample = match name.as_str() {
                    "DATABASE_URL" => "postgres://sync:secret@db.internal:5432/findings",
                    _ => "sample-secret",
                };
                vars.push((name, sample.to_string()));
            }
            if indexed {
                vars.push(("JOB_COMPLETION_INDEX".into(), "0".into()));
            }
            let argv: Vec<String> = container["command"]
                .as_sequence()
                .unwrap()
                .iter()
                .chain(container["args"].as_sequence().unwrap())
                .map(|a| expand(a.as_str().unwrap(), &vars))
                .collect();
            assert_eq!(argv[0], "connector-host");
            let cli = <Cli as clap::Parser>::try_parse_from(&argv)
                .unwrap_or_else(|e| panic!("{}: {argv:?}: {e}", path.display()));
            let Command::Sync(sync) = cli.command else {
                panic!("{}: not a sync", path.display());
            };
            assert!(
                matches!(
                    Output::parse(&sync.out),
                    Output::Database(Database::Postgres(_))
                ),
                "{}: the output is not the database",
                path.display()
            );
            for set in &sync.settings.set {
                let name = set.split_once('=').unwrap().0;
                if let Some(host) = name.strip_prefix(HOST_PREFIX) {
                    assert!(HOST_SETTINGS.iter().any(|(h, _)| *h == host), "{set}");
                }
            }
            Grants::default()
                .apply_args(&sync.settings.secret)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            checked += 1;
        }
    }
    assert_eq!(checked, 2, "one container in each of the two manifests");
}
