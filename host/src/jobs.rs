//! Many jobs at once (`connector-host run JOBS.toml`): one runtime (engine, epoch ticker,
//! component cache) for all, each job under its own limits, at most `parallel` at a time. One
//! job's failure (a rejected token, a hostile component, an upstream outage) ends that job alone.
//!
//! Each job runs on threads of its own (its own async runtime): the component's code, its
//! requests, the decoding of their responses and the rendering of its records. The operating
//! system then shares the cores between jobs as it would between processes, and a job whose
//! component computes without pause yields them to the others ([`crate::sandbox::fair`]). So a
//! component that spins, or makes the host inflate what it asked for, slows only itself: on one
//! shared runtime, two spinning components held the worker threads that an honest job's I/O
//! was waiting for, and made it five to ten times slower (BENCHMARKS.md, `bench fair`).
//!
//! A jobs file, paths relative to it:
//!
//! ```toml
//! [[job]]
//! name = "acme"                  # unique; prefixes this job's log lines
//! component = "vendor.wasm"
//! config = "acme.toml"           # optional: a sync config file
//! out = "acme.ndjson"            # a file, or "-" for stdout
//! state = "acme.state"           # optional
//! [job.settings]                 # optional; over the config file's
//! account = "acme"
//! [job.secrets]                  # optional; over the config file's
//! api-token = "env:ACME_TOKEN"
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde::Deserialize;
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::engine::Runtime;
use crate::error::Failure;
use crate::job::{self, Job, JobReport, SecretSources};
use crate::output::{Database, Output};
use crate::output::{Format, Models, WriteMode};
use crate::sandbox::fair::JobThreads;
use crate::secrets::{Grants, TrustStore};
use crate::settings::{Config, RawSettings};
use crate::state::{StateFile, StateStore};
use crate::store::Stale;
use crate::sync::{Network, SyncOptions};

/// One `[[job]]` entry, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    component: PathBuf,
    config: Option<PathBuf>,
    out: String,
    state: Option<PathBuf>,
    #[serde(default)]
    settings: toml::Table,
    #[serde(default)]
    secrets: toml::Table,
    /// Record kinds, as `--models`.
    models: Option<String>,
    /// `ndjson` or `ocsf`, as `--format`.
    format: Option<String>,
    /// `snapshot` or `append`, as `--write`.
    write: Option<String>,
    /// Replay this cassette directory instead of the network (`fixtures` is its old name).
    #[serde(alias = "fixtures")]
    cassette: Option<PathBuf>,
    #[serde(default)]
    full: bool,
    /// With a database output: hand the rows to this component build (after an upgrade).
    #[serde(default)]
    adopt: bool,
    /// With a database output: close, delete or keep what a full sync did not see.
    stale: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    job: Vec<Entry>,
}

/// A job as read from a jobs file, before its component is loaded.
pub struct JobSpec {
    /// The job's name in the jobs file (and its log span).
    pub name: String,
    /// The component, resolved against the jobs file's folder.
    pub component: PathBuf,
    /// Its settings and secret grants.
    pub config: Config,
    /// How it syncs and where its records go.
    pub options: SyncOptions,
}

/// Reads a jobs file; every error names the file and the job.
pub fn read(path: &Path) -> Result<Vec<JobSpec>, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Config(format!("cannot read jobs file {}: {e}", path.display())))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    parse(&text, dir).map_err(|e| Failure::Config(format!("jobs file {}: {e}", path.display())))
}

/// Parses a jobs file's text; relative paths are taken from `dir`.
pub fn parse(text: &str, dir: &Path) -> Result<Vec<JobSpec>, String> {
    let file: File = toml::from_str(text).map_err(|e| e.message().to_string())?;
    if file.job.is_empty() {
        return Err("no [[job]] entries".to_string());
    }
    let mut names = HashSet::new();
    file.job
        .into_iter()
        .map(|e| {
            let name = e.name.clone();
            if !is_job_name(&name) {
                return Err(format!(
                    "job name {name:?}: 1 to 64 letters, digits, `-`, `_` or `.`"
                ));
            }
            if !names.insert(name.clone()) {
                return Err(format!("job name {name:?} is used twice"));
            }
            entry(e, dir).map_err(|why| format!("job {name:?}: {why}"))
        })
        .collect()
}

fn is_job_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn entry(e: Entry, dir: &Path) -> Result<JobSpec, String> {
    let mut config = match &e.config {
        Some(p) => Config::from_toml_file(&dir.join(p)).map_err(|f| f.message().to_string())?,
        None => Config::default(),
    };
    config.settings.merge(RawSettings::from_table(&e.settings)?);
    config.grants = config.grants.relative_to(dir);
    config
        .grants
        .merge(Grants::from_toml(&e.secrets)?.relative_to(dir));
    let env = |v: &str| std::env::var(v).ok();
    let output = match Output::from_arg(&e.out, &env).map_err(|f| f.message().to_string())? {
        Output::File(file) => Output::File(dir.join(file)),
        Output::Database(Database::Sqlite(file)) => {
            Output::Database(Database::Sqlite(dir.join(file)))
        }
        other => other,
    };
    let mut options = SyncOptions::new(output);
    if let Some(models) = &e.models {
        options.models = Models::parse(models)?;
    }
    if let Some(format) = &e.format {
        options.format = Format::parse(format)?;
    }
    if let Some(write) = &e.write {
        options.write = WriteMode::parse(write)?;
    }
    if let Some(stale) = &e.stale {
        options.stale = Stale::parse(stale)?;
    }
    options.state = e
        .state
        .map(|s| Arc::new(StateFile(dir.join(s))) as Arc<dyn StateStore>);
    options.full = e.full;
    options.adopt = e.adopt;
    if let Some(cassette) = e.cassette {
        options.network = Network::Replay(dir.join(cassette));
    }
    Ok(JobSpec {
        name: e.name,
        component: dir.join(e.component),
        config,
        options,
    })
}

/// How one job of a run ended.
#[derive(Debug)]
pub struct Outcome {
    /// The job's name.
    pub name: String,
    /// How it ended.
    pub report: JobReport,
}

/// Runs `jobs` at most `parallel` at a time on `runtime`, calling `finished` as each ends (in
/// the order they end). `stop` stops every job at its next page boundary. Returns the highest
/// exit code.
pub async fn run_all(
    runtime: &Runtime,
    jobs: Vec<JobSpec>,
    parallel: usize,
    trust: Option<TrustStore>,
    stop: Arc<AtomicBool>,
    mut finished: impl FnMut(Outcome),
) -> i32 {
    let slots = Arc::new(Semaphore::new(parallel.max(1)));
    let trust = Arc::new(trust);
    let mut tasks = tokio::task::JoinSet::new();
    for spec in jobs {
        let (runtime, slots, trust, stop) =
            (runtime.clone(), slots.clone(), trust.clone(), stop.clone());
        // At error level, so the job name prefixes its lines whatever the log level.
        let span = tracing::error_span!("job", name = %spec.name);
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await;
            let name = spec.name.clone();
            let report = on_threads_of_its_own(&name, async move {
                run_one(&runtime, spec, trust.as_ref().as_ref(), stop)
                    .instrument(span)
                    .await
            })
            .await;
            Outcome { name, report }
        });
    }
    let mut highest = 0;
    while let Some(done) = tasks.join_next().await {
        let outcome = done.unwrap_or_else(|e| Outcome {
            name: "(unknown)".to_string(),
            report: JobReport {
                exit_code: 1,
                summary: None,
                failure: Some(Failure::Host(format!("a job's task failed: {e}"))),
            },
        });
        highest = highest.max(outcome.report.exit_code);
        finished(outcome);
    }
    highest
}

/// Worker threads of each job's own runtime: two, so that its component's code and its I/O do
/// not wait on each other within the job.
const JOB_WORKERS: usize = 2;

/// Runs `job` to its end on a runtime of its own (threads named after the job), and hands
/// back its report. A runtime that cannot start is the job's failure, not the run's.
async fn on_threads_of_its_own(
    name: &str,
    job: impl Future<Output = JobReport> + Send + 'static,
) -> JobReport {
    let failed = |why: String| JobReport {
        exit_code: 1,
        summary: None,
        failure: Some(Failure::Host(why)),
    };
    let threads = JobThreads::new();
    let leaving = threads.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(JOB_WORKERS)
        .thread_name(format!("job {name}"))
        .on_thread_start(move || threads.enter())
        .on_thread_stop(move || leaving.leave())
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => return failed(format!("cannot start the job's runtime: {e}")),
    };
    let (done, report) = tokio::sync::oneshot::channel();
    let handle = runtime.spawn(async move {
        let _ = done.send(job.await);
    });
    let report = report
        .await
        .unwrap_or_else(|_| failed("the job's task ended without a report".to_string()));
    drop(handle);
    // A guest call abandoned at a limit may still hold a worker; do not wait for it.
    runtime.shutdown_background();
    report
}

async fn run_one(
    runtime: &Runtime,
    spec: JobSpec,
    trust: Option<&TrustStore>,
    stop: Arc<AtomicBool>,
) -> JobReport {
    let connector = match runtime.load(&spec.component) {
        Ok(c) => c,
        Err(failure) => {
            return JobReport {
                exit_code: failure.exit_code(),
                summary: None,
                failure: Some(failure),
            };
        }
    };
    let job = Job {
        component: connector,
        config: spec.config,
        // Many instances share this process, so its resident memory is no one job's: each is
        // held by its own memory limit and host budget instead of the process-wide backstop.
        sole_instance: false,
        options: SyncOptions {
            stop: Some(stop),
            ..spec.options
        },
    };
    let sources = SecretSources {
        env: &|name| std::env::var(name).ok(),
        trust,
    };
    let report = job::run(&job, sources).await;
    if let Some(f) = &report.failure {
        tracing::warn!("job failed: {f}");
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jobs_file_resolves_paths_and_merges_settings_and_secrets() {
        let dir = std::env::temp_dir().join(format!("jobs-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("acme.toml"),
            "[settings]\naccount = \"from-file\"\nregion = \"eu\"\n[secrets]\napi-token = \"file:tok\"\n",
        )
        .unwrap();
        let jobs = parse(
            r#"
[[job]]
name = "acme"
component = "c.wasm"
config = "acme.toml"
out = "out/acme.ndjson"
state = "acme.state"
cassette = "rec/acme"
[job.settings]
account = "acme"
[[job]]
name = "beta"
component = "/abs/c.wasm"
out = "-"
fixtures = "rec/beta"
[job.secrets]
api-token = "env:BETA_TOKEN"
"#,
            &dir,
        )
        .unwrap();
        assert_eq!(jobs.len(), 2);
        let acme = &jobs[0];
        assert_eq!(acme.component, dir.join("c.wasm"));
        assert_eq!(acme.config.settings.0["account"], "acme");
        assert_eq!(acme.config.settings.0["region"], "eu");
        assert_eq!(
            acme.config.grants.get("api-token").unwrap().to_string(),
            format!("file:{}", dir.join("tok").display())
        );
        assert!(
            matches!(&acme.options.output, Output::File(p) if *p == dir.join("out/acme.ndjson"))
        );
        assert!(matches!(&acme.options.network, Network::Replay(p) if *p == dir.join("rec/acme")));
        assert_eq!(
            acme.options.overlap.as_secs(),
            crate::sync::DEFAULT_OVERLAP_SECS
        );
        assert_eq!(jobs[1].component, PathBuf::from("/abs/c.wasm"));
        assert!(matches!(jobs[1].options.output, Output::Stdout));
        // `fixtures`, the key's old name, still names the cassette.
        let beta = &jobs[1].options.network;
        assert!(matches!(beta, Network::Replay(p) if *p == dir.join("rec/beta")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_jobs_files_say_which_job_and_what() {
        let dir = Path::new(".");
        let err = |text: &str| parse(text, dir).err().expect("an error");
        let job =
            |name: &str| format!("[[job]]\nname = \"{name}\"\ncomponent = \"c\"\nout = \"-\"\n");
        assert!(err(&format!("{}{}", job("a"), job("a"))).contains("\"a\" is used twice"));
        assert!(err(&job("a b")).contains("job name \"a b\""));
        assert!(err("").contains("job"));
        assert!(err(&format!("{}colour = 1\n", job("a"))).contains("colour"));
        assert!(err(&format!("{}format = \"xml\"\n", job("a"))).contains("job \"a\""));
    }
}
