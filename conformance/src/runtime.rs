//! The runtime under test, started through a command template, so any runtime plugs in.
//!
//! The template is split on whitespace into words (wrap a runtime that needs more in a script).
//! In any word, `{component}` is the probe's path, `{out}` the file the runtime must write the
//! records to (NDJSON: one object per record with `kind` and `id`, see
//! `docs/runtime-guide.md`), and `{allowed}` the origins the operator allows, comma-separated.
//! The word `{settings}` becomes the setting format once per setting (`{name}`, `{value}`), and
//! `{secrets}` the secret format once per secret (`{name}`, and `{env}`: the environment
//! variable the kit puts the secret's value in).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The `connector-host` template; `{host}` is replaced by the binary's path.
pub const CONNECTOR_HOST: &str =
    "{host} sync {component} --full --out {out} -s allowed-hosts={allowed} {settings} {secrets}";
pub const SETTING_FORMAT: &str = "-s {name}={value}";
pub const SECRET_FORMAT: &str = "--secret {name}=env:{env}";

/// How the kit starts the runtime.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub template: String,
    pub setting_format: String,
    pub secret_format: String,
    /// Environment the runtime is started with, beside the secrets.
    pub env: Vec<(String, String)>,
    /// A run that takes longer is stopped and counted as a failure.
    pub timeout: Duration,
}

impl Runtime {
    /// `connector-host` at `binary`.
    pub fn connector_host(binary: &Path) -> Runtime {
        Runtime {
            template: CONNECTOR_HOST.replace("{host}", &binary.display().to_string()),
            setting_format: SETTING_FORMAT.to_string(),
            secret_format: SECRET_FORMAT.to_string(),
            env: Vec::new(),
            timeout: Duration::from_secs(60),
        }
    }
}

/// One run of the probe.
#[derive(Debug, Clone, Default)]
pub struct Job {
    pub component: PathBuf,
    pub out: PathBuf,
    pub allowed: Vec<String>,
    pub settings: Vec<(String, String)>,
    pub secrets: Vec<(String, String)>,
}

/// What a run did.
#[derive(Debug)]
pub struct Ran {
    /// The exit code; `None` when it was killed or timed out.
    pub code: Option<i32>,
    pub stderr: String,
    /// The records file's lines that parse as JSON objects.
    pub records: Vec<serde_json::Value>,
    pub elapsed: Duration,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// The records of `kind` (`resource`, `finding`).
    pub fn of_kind(&self, kind: &str) -> Vec<&serde_json::Value> {
        self.records.iter().filter(|r| r["kind"] == kind).collect()
    }

    /// The last lines of stderr, for a failure's message.
    pub fn tail(&self) -> String {
        let lines: Vec<&str> = self.stderr.lines().collect();
        lines[lines.len().saturating_sub(3)..].join(" | ")
    }
}

fn env_name(secret: &str) -> String {
    let upper: String = secret
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("CONFORMANCE_SECRET_{upper}")
}

impl Runtime {
    /// The command line for `job`, word by word.
    pub fn words(&self, job: &Job) -> Vec<String> {
        let fill = |word: &str| {
            word.replace("{component}", &job.component.display().to_string())
                .replace("{out}", &job.out.display().to_string())
                .replace("{allowed}", &job.allowed.join(","))
        };
        let mut words = Vec::new();
        for word in self.template.split_whitespace() {
            match word {
                "{settings}" => {
                    for (name, value) in &job.settings {
                        words.extend(
                            self.setting_format
                                .split_whitespace()
                                .map(|w| w.replace("{name}", name).replace("{value}", value)),
                        );
                    }
                }
                "{secrets}" => {
                    for (name, _) in &job.secrets {
                        words.extend(
                            self.secret_format.split_whitespace().map(|w| {
                                w.replace("{name}", name).replace("{env}", &env_name(name))
                            }),
                        );
                    }
                }
                other => words.push(fill(other)),
            }
        }
        words
    }

    /// Runs `job` to its end (or the timeout) and reads the records it wrote.
    pub async fn run(&self, job: &Job) -> Ran {
        let words = self.words(job);
        let _ = std::fs::remove_file(&job.out);
        let mut command = tokio::process::Command::new(&words[0]);
        command
            .args(&words[1..])
            .envs(self.env.iter().cloned())
            .envs(job.secrets.iter().map(|(n, v)| (env_name(n), v.clone())))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let started = Instant::now();
        let (code, stderr) = match command.spawn() {
            Err(e) => (None, format!("cannot start {}: {e}", words[0])),
            Ok(child) => match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
                Ok(Ok(out)) => (
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                ),
                Ok(Err(e)) => (None, e.to_string()),
                Err(_) => (None, format!("still running after {:?}", self.timeout)),
            },
        };
        let records = std::fs::read_to_string(&job.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v.is_object())
            .collect();
        Ran {
            code,
            stderr,
            records,
            elapsed: started.elapsed(),
        }
    }
}
