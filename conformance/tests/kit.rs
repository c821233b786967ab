//! The kit holds itself to account: `connector-host` passes every check, and each check fails
//! against a runtime that skips its duty (a debug build of the host told to skip exactly that
//! one duty with `CONNECTOR_HOST_SKIP_DUTY`, see `host/src/mutants.rs`).

use std::path::PathBuf;

use conformance::checks::{CHECKS, Check, Kit};
use conformance::runtime::Runtime;

/// The host duty each check is about, by the name `CONNECTOR_HOST_SKIP_DUTY` takes.
fn duty_of(check: &Check) -> &'static str {
    match check.name {
        "settings" => "setting-shapes",
        name => name,
    }
}

async fn kit(skip: Option<&str>, name: &str) -> Kit {
    let host = PathBuf::from(env!("CARGO_BIN_EXE_host-under-test"));
    let mut runtime = Runtime::connector_host(&host);
    let cache = conformance::root().join("target/test-scratch/compile-cache");
    runtime
        .env
        .push(("XDG_CACHE_HOME".into(), cache.display().to_string()));
    if let Some(duty) = skip {
        runtime
            .env
            .push(("CONNECTOR_HOST_SKIP_DUTY".into(), duty.into()));
    }
    let probe = conformance::build_probe(&conformance::root()).unwrap_or_else(|e| panic!("{e}"));
    let scratch = conformance::root().join(format!(
        "target/test-scratch/conformance-{name}-{}",
        std::process::id()
    ));
    Kit::new(runtime, probe, scratch).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn connector_host_passes_every_check() {
    let kit = kit(None, "all").await;
    let mut failures = Vec::new();
    for check in &CHECKS {
        if let Err(why) = kit.check(check).await {
            failures.push(format!("{}: {why}", check.name));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_check_fails_on_a_runtime_that_skips_its_duty() {
    let mut passed_anyway = Vec::new();
    for check in &CHECKS {
        let kit = kit(Some(duty_of(check)), check.name).await;
        if kit.check(check).await.is_ok() {
            passed_anyway.push(check.name);
        }
    }
    assert!(
        passed_anyway.is_empty(),
        "checks that passed on a runtime skipping their duty: {passed_anyway:?}"
    );
}

/// The template is the seam another runtime plugs into: settings and secrets expand word by
/// word, and a secret's value travels only in the environment.
#[test]
fn the_template_expands_settings_and_secrets_word_by_word() {
    let runtime = Runtime {
        template: "run {component} --to {out} --allow {allowed} {settings} {secrets}".into(),
        setting_format: "--set {name}={value}".into(),
        secret_format: "--secret-env {name} {env}".into(),
        env: Vec::new(),
        timeout: std::time::Duration::from_secs(1),
    };
    let job = conformance::runtime::Job {
        component: "p.wasm".into(),
        out: "o.ndjson".into(),
        allowed: vec!["http://a".into(), "http://b".into()],
        settings: vec![("duty".into(), "x y".into())],
        secrets: vec![("token".into(), "s3cret".into())],
    };
    let words = runtime.words(&job);
    assert_eq!(
        words,
        [
            "run",
            "p.wasm",
            "--to",
            "o.ndjson",
            "--allow",
            "http://a,http://b",
            "--set",
            "duty=x y",
            "--secret-env",
            "token",
            "CONFORMANCE_SECRET_TOKEN"
        ]
    );
    assert!(!words.join(" ").contains("s3cret"));
}
