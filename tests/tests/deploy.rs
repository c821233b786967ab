//! The Kubernetes manifests in `deploy/kubernetes` run command lines the CLI accepts: every
//! container's `command` + `args`, with Kubernetes' `$(VAR)` references filled in, parses as a
//! `connector-host` invocation, writes into the database, and takes its secrets from Secrets.

use connector_host::cli::{Cli, Command};
use connector_host::output::{Database, Output};
use connector_host::secrets::Grants;
use connector_host::settings::{HOST_PREFIX, HOST_SETTINGS};
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
        if !matches!(doc["kind"].as_str(), Some("CronJob" | "Job")) {
            continue;
        }
        let pod = pod_spec(&doc);
        // No Kubernetes API token in the pod; mounted Secrets readable by the pod's group.
        assert_eq!(
            pod["automountServiceAccountToken"],
            false,
            "{}",
            path.display()
        );
        let fs_group = &pod["securityContext"]["fsGroup"];
        assert_eq!(
            fs_group,
            &pod["securityContext"]["runAsGroup"],
            "{}",
            path.display()
        );
        for volume in pod["volumes"].as_sequence().into_iter().flatten() {
            if let Some(mode) = volume["secret"]["defaultMode"].as_u64() {
                assert!(
                    !fs_group.is_null() && mode & 0o040 != 0,
                    "{}",
                    path.display()
                );
            }
        }
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
            let raw_args = serde_yaml::to_string(&container["args"]).unwrap();
            assert!(
                !raw_args.contains("$(DATABASE_URL)"),
                "{}: the database URL (and its password) on the command line",
                path.display()
            );
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
            let env = |name: &str| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
            assert!(
                matches!(
                    Output::from_arg(&sync.out, &env).unwrap(),
                    Output::Database(Database::Postgres(_))
                ),
                "{}: the output is not the database",
                path.display()
            );
            for set in &sync.settings.set {
                let name = set.split_once('=').unwrap().0;
                if let Some(host) = name.strip_prefix(HOST_PREFIX) {
                    assert!(HOST_SETTINGS.iter().any(|h| h.name == host), "{set}");
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

/// The Indexed Job's pod as this machine can play it: the real binary run as the manifest's
/// user and group, reading a token and a tenant config owned as Kubernetes mounts them (root,
/// the `fsGroup`) with the manifest's `defaultMode`, and the database URL from the environment.
/// With the old mode (0400, no `fsGroup`) the token is unreadable, and the run says so.
#[tokio::test(flavor = "multi_thread")]
async fn the_indexed_job_runs_as_its_user_against_secrets_mounted_as_kubernetes_mounts_them() {
    use std::os::unix::fs::{PermissionsExt, chown};
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc_geteuid() } != 0 {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI runs as root"
        );
        eprintln!("SKIPPED: changing user needs root");
        return;
    }
    let doc: Value = serde_yaml::from_str(
        &std::fs::read_to_string(root().join("deploy/kubernetes/indexed-job.yaml")).unwrap(),
    )
    .unwrap();
    let pod = pod_spec(&doc);
    let id = |key: &str| pod["securityContext"][key].as_u64().unwrap() as u32;
    let (uid, gid, fs_group) = (id("runAsUser"), id("runAsGroup"), id("fsGroup"));
    let mode = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find_map(|v| v["secret"]["defaultMode"].as_u64())
        .unwrap() as u32;

    // The pod's files, as an image and its mounts lay them out, where the pod's user can reach
    // them: outside the checkout, whose folders may be private to root (a clone in `mktemp -d`).
    let dir = std::env::temp_dir().join(format!("deploy-uid-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (image, tokens, tenants, work) = (
        dir.join("opt"),
        dir.join("tokens"),
        dir.join("tenants"),
        dir.join("work"),
    );
    for d in [&dir, &image, &tokens, &tenants, &work] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    chown(&work, Some(uid), Some(gid)).unwrap();
    let mount = |path: &std::path::Path, text: &str, mode: u32, group: u32| {
        std::fs::write(path, text).unwrap();
        chown(path, Some(0), Some(group)).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let token = tokens.join("tenant-0");
    mount(&token, "demo-token\n", mode, fs_group);
    let config = tenants.join("tenant-0.toml");
    mount(
        &config,
        "[settings]\norg-slug = \"demo-org\"\n",
        0o644,
        fs_group,
    );
    let out = work.join("demo.ndjson");
    let (host, wasm, cassette) = (
        image.join("connector-host"),
        image.join("socket_connector.wasm"),
        image.join("demo"),
    );
    std::fs::copy(connector_tests::host_bin(), &host).unwrap();
    std::fs::copy(connector_tests::component("socket_connector"), &wasm).unwrap();
    std::fs::create_dir_all(cassette.join("bodies")).unwrap();
    let recorded = root().join("tests/cassettes/demo");
    for file in ["cassette.json"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .chain(
            std::fs::read_dir(recorded.join("bodies"))
                .unwrap()
                .map(|e| std::path::Path::new("bodies").join(e.unwrap().file_name())),
        )
    {
        std::fs::copy(recorded.join(&file), cassette.join(&file)).unwrap();
    }
    for d in [&cassette, &cassette.join("bodies")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let run = |token_mode: u32, group: u32| {
        mount(&token, "demo-token\n", token_mode, group);
        let mut cmd = std::process::Command::new(&host);
        cmd.args([
            "sync",
            wasm.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ])
        .arg("--secret")
        .arg(format!("api-token=file:{}", token.display()))
        .args(["--out", "env:DATABASE_URL", "--cache-dir"])
        .arg(work.join("cache"))
        .arg("--cassette")
        .arg(&cassette)
        .env("DATABASE_URL", &out)
        .env("HOME", &work)
        .uid(uid)
        .gid(gid);
        cmd.output().unwrap()
    };
    let ok = run(mode, fs_group);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(
        written
            .lines()
            .last()
            .unwrap()
            .contains(r#""complete":true"#)
    );
    let old = run(0o400, 0);
    assert_eq!(old.status.code(), Some(2));
    let said = String::from_utf8_lossy(&old.stderr);
    assert!(
        said.contains("Permission denied") && said.contains("tenant-0"),
        "{said}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}
