//! One job: a connector component, its configuration and the operator's grants, and where its
//! records go. [`run`] asks the component to describe itself, resolves settings and secrets
//! against that, and syncs. The CLI's `sync` is one job; `connector-host run` runs many at once
//! (see [`crate::jobs`]).

use crate::contract::describe;
use crate::engine::Connector;
use crate::engine::wit::ConnectorSpec;
use crate::error::Failure;
use crate::output::Summary;
use crate::sandbox::limits::Limits;
use crate::secrets::TrustStore;
use crate::settings::{self, Config, Resolved, resolve};
use crate::sync::{self, SyncOptions};

/// Everything one sync needs.
pub struct Job {
    pub connector: Connector,
    pub config: Config,
    pub options: SyncOptions,
    /// The only instance in this process at a time, so the process's resident memory is its
    /// own and may serve as a backstop limit (see `Limits::watch_host_memory`).
    pub sole_instance: bool,
}

/// How a job ended.
#[derive(Debug)]
pub struct JobReport {
    pub exit_code: i32,
    /// `None` when the job failed before its sync began (bad settings, a component that would
    /// not describe itself).
    pub summary: Option<Summary>,
    pub failure: Option<Failure>,
}

/// Where secret values are read: the environment (only the variables the operator granted, or
/// a trusted component suggested) and the operator's trust store.
#[derive(Clone, Copy)]
pub struct SecretSources<'a> {
    pub env: &'a (dyn Fn(&str) -> Option<String> + Sync),
    pub trust: Option<&'a TrustStore>,
}

impl SecretSources<'static> {
    /// The process environment and no trust store.
    pub fn process_env() -> SecretSources<'static> {
        SecretSources {
            env: &|name| std::env::var(name).ok(),
            trust: None,
        }
    }
}

/// The connector's spec (from an instance without network, under the configured limits) and
/// the settings resolved against it: secrets from the operator's grants, plus the component's
/// own suggestions when this exact build was trusted.
pub async fn prepare(
    connector: &Connector,
    config: &Config,
    sources: SecretSources<'_>,
    sole_instance: bool,
) -> Result<(ConnectorSpec, Resolved), Failure> {
    let limits = Limits {
        watch_host_memory: sole_instance,
        ..settings::limits(&config.settings)?
    };
    let spec = describe(connector, limits).await?;
    let mut grants = config.grants.clone();
    if let Some(trusted) = sources.trust.and_then(|t| t.suggestions(&connector.sha256)) {
        grants.add_trusted(trusted);
    }
    let mut resolved = resolve(&config.settings, &grants, &spec, sources.env)?;
    resolved.host.limits.watch_host_memory = sole_instance;
    Ok((spec, resolved))
}

/// Prepares and runs the job's sync. Never panics on guest or network input; every failure is
/// in the report, its message free of secrets.
pub async fn run(job: &Job, sources: SecretSources<'_>) -> JobReport {
    let prepared = prepare(&job.connector, &job.config, sources, job.sole_instance).await;
    let (spec, resolved) = match prepared {
        Ok(prepared) => prepared,
        Err(failure) => {
            return JobReport {
                exit_code: failure.exit_code(),
                summary: None,
                failure: Some(failure),
            };
        }
    };
    let report = sync::run(&job.connector, &spec, &resolved, &job.options).await;
    JobReport {
        exit_code: report.failure.as_ref().map_or(0, Failure::exit_code),
        summary: Some(report.summary),
        failure: report.failure,
    }
}
