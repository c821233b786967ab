//! One job: a connector component, its configuration and the operator's grants, and where its
//! records go. [`run`] asks the component to describe itself, resolves settings and secrets
//! against that, and syncs. The CLI's `sync` is one job; `connector-host run` runs many at once
//! (see [`crate::jobs`]).

use crate::contract::describe;
use crate::engine::Component;
use crate::error::Failure;
use crate::output::Summary;
use crate::sandbox::Stats;
use crate::secrets::TrustStore;
use crate::settings::{self, Config, Resolved, resolve};
use crate::sync::{self, SyncOptions, connector_failure, sandbox_http};
use crate::text::{MAX_MESSAGE_CHARS, printable};
use crate::wit::ConnectorSpec;

/// Everything one sync needs.
pub struct Job {
    /// The connector component.
    pub component: Component,
    /// Its settings and the operator's secret grants.
    pub config: Config,
    /// How it syncs and where its records go.
    pub options: SyncOptions,
    /// The only instance in this process at a time, so the process's resident memory is its
    /// own and may serve as a backstop limit (see `Limits::watch_host_memory`).
    pub sole_instance: bool,
}

/// How a job ended.
#[derive(Debug)]
pub struct JobReport {
    /// 0 for a complete run, else the failure's [`Failure::exit_code`].
    pub exit_code: i32,
    /// `None` when the job failed before its sync began (bad settings, a component that would
    /// not describe itself).
    pub summary: Option<Summary>,
    /// Why the job did not complete, when it did not.
    pub failure: Option<Failure>,
}

/// Where secret values are read: the environment (only the variables the operator granted, or
/// a trusted component suggested) and the operator's trust store.
#[derive(Clone, Copy)]
pub struct SecretSources<'a> {
    /// Reads an environment variable (only those the grants name are asked for).
    pub env: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// The operator's trusted components and their suggested variables.
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
    connector: &Component,
    config: &Config,
    sources: SecretSources<'_>,
    sole_instance: bool,
) -> Result<(ConnectorSpec, Resolved), Failure> {
    let limits = settings::limits(&config.settings, sole_instance)?;
    let spec = describe(connector, limits).await?;
    let mut grants = config.grants.clone();
    if let Some(trusted) = sources.trust.and_then(|t| t.suggestions(&connector.sha256)) {
        grants.add_trusted(trusted);
    }
    let mut resolved = resolve(&config.settings, &grants, &spec, sources.env)?;
    // The same host settings, read the same way, and the one place `sole_instance` is kept.
    resolved.host.limits = limits;
    Ok((spec, resolved))
}

/// Prepares and runs the job's sync. Never panics on guest or network input; every failure is
/// in the report, its message free of secrets.
pub async fn run(job: &Job, sources: SecretSources<'_>) -> JobReport {
    let prepared = prepare(&job.component, &job.config, sources, job.sole_instance).await;
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
    let report = sync::run(&job.component, &spec, &resolved, &job.options).await;
    JobReport {
        exit_code: report.failure.as_ref().map_or(0, Failure::exit_code),
        summary: Some(report.summary),
        failure: report.failure,
    }
}

/// What a connector's `check` said of a configuration, every word of it printable, bounded and
/// free of the run's secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// The connector's own lines (the first 100).
    pub messages: Vec<String>,
    /// Quota units left, when the vendor reports it.
    pub quota_remaining: Option<u64>,
    /// Quota units per window, when the vendor reports it.
    pub quota_max: Option<u64>,
    /// When the quota window refreshes, when the vendor says.
    pub quota_refresh: Option<String>,
}

impl CheckOutcome {
    /// The lines to show an operator: the connector's, then the quota and its refresh where the
    /// connector's lines did not already say them.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = self.messages.clone();
        let said = self.messages.join("\n");
        let quota = match (self.quota_remaining, self.quota_max) {
            (Some(left), Some(max)) => Some(format!("quota: {left} of {max} left")),
            (Some(left), None) => Some(format!("quota: {left} left")),
            (None, Some(max)) => Some(format!("quota: {max} per window")),
            (None, None) => None,
        };
        let left_said = self
            .quota_remaining
            .is_some_and(|left| said.contains(&left.to_string()));
        lines.extend(quota.filter(|_| !left_said));
        if let Some(refresh) = self.quota_refresh.as_ref().filter(|r| !said.contains(*r)) {
            lines.push(format!("quota window refreshes: {refresh}"));
        }
        lines
    }
}

/// Configures the job's component and asks the vendor, through the job's network, whether its
/// settings and credentials work, without listing anything. A refusal is the [`Failure`] it
/// maps to. Like [`run`], it takes the job's word on whether it is the process's only instance.
pub async fn check(job: &Job, sources: SecretSources<'_>) -> Result<CheckOutcome, Failure> {
    let component = &job.component;
    let (spec, resolved) = prepare(component, &job.config, sources, job.sole_instance).await?;
    let hooks = sandbox_http(
        &resolved,
        &job.options.network,
        std::sync::Arc::new(Stats::default()),
    )?;
    let mut session = component.instantiate(hooks, resolved.host.limits).await?;
    let redact = |f: Failure| {
        resolved
            .explain_auth(f)
            .map_message(|m| resolved.secrets.redact(m))
    };
    session
        .configure(&resolved.connector)
        .await?
        .map_err(|e| redact(connector_failure(e, &session, &spec)))?;
    let report = session
        .check()
        .await?
        .map_err(|e| redact(connector_failure(e, &session, &spec)))?;
    let clean = |text: &str, chars: usize| printable(&resolved.secrets.redact(text), chars);
    Ok(CheckOutcome {
        messages: report
            .messages
            .iter()
            .take(100)
            .map(|m| clean(m, MAX_MESSAGE_CHARS))
            .collect(),
        quota_remaining: report.quota_remaining,
        quota_max: report.quota_max,
        quota_refresh: report.quota_refresh.as_deref().map(|r| clean(r, 100)),
    })
}
