//! The `connector-host` command line.

mod describe;
mod jobs;
mod progress;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::checkup;
use crate::contract::describe;
use crate::engine::{Component, Runtime, default_cache_dir};
use crate::error::Failure;
use crate::job::{self, Job, SecretSources};
use crate::output::Output;
use crate::output::{Format, Models, WriteMode};
use crate::sandbox::limits::Limits;
use crate::secrets::TrustStore;
use crate::settings::{self, Config};
use crate::state::StateFile;
use crate::store::Stale;
use crate::sync::{
    DEFAULT_FORMAT, DEFAULT_MODELS, DEFAULT_OVERLAP_SECS, DEFAULT_STALE, DEFAULT_WRITE, Network,
    SyncOptions,
};

#[derive(Debug, Parser)]
#[command(
    name = "connector-host",
    version,
    about = "Run a security-connector WebAssembly component in a sandbox and write its findings as NDJSON",
    after_help = "Exit codes: 0 success, 1 host failure (could not write output or state), 2 usage or \
                  configuration, 3 authentication or permission (401/403), 4 upstream or network failure \
                  after retries, 5 the component misbehaved, 75 another run holds this state, output or \
                  tenant (nothing written; run again later), 130 stopped by SIGINT / SIGTERM (checkpoint saved)."
)]
/// The command line, as clap parses it.
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// More logging on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log lines as `text` (default) or `json` (one object per line, for log shippers: `timestamp`,
    /// `level`, `fields.message`, and the job's `span` inside `connector-host run`).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"], global = true)]
    pub log_format: String,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pull every resource and finding and write them as NDJSON, a summary line last.
    #[command(after_help = "Examples:\n  \
        connector-host sync vendor.wasm -s account=acme --out acme.ndjson --state acme.state\n  \
        connector-host sync vendor.wasm --config acme.toml --secret api-token=env:VENDOR_TOKEN\n  \
        connector-host sync vendor.wasm -s account=demo -s api-token=demo --cassette cassettes/demo")]
    Sync(SyncArgs),
    /// Validate the credentials cheaply and report the remaining quota.
    #[command(
        after_help = "Example:\n  connector-host check vendor.wasm -s account=acme --secret api-token=file:/run/secrets/vendor"
    )]
    Check(CheckArgs),
    /// For connector authors: replay a recorded cassette through the component several ways
    /// and report what a runtime will hold against it, one line per rule.
    #[command(
        after_help = "Example:\n  connector-host sync vendor.wasm -s account=acme --secret api-token=env:TOKEN --record cassette\n  \
        connector-host checkup vendor.wasm -s account=acme -s api-token=x --cassette cassette\n\n\
        Exit 0 when every rule holds, 5 when one does not."
    )]
    Checkup(CheckArgs),
    /// Print the connector's settings (a table, or JSON with --json).
    #[command(after_help = "Example:\n  connector-host describe vendor.wasm --json")]
    Describe(DescribeArgs),
    /// Let this exact component's own suggested environment variables supply its secrets
    /// (recorded with its SHA-256; any other build of it is not trusted).
    #[command(after_help = "Example:\n  connector-host trust vendor.wasm\n  \
        export VENDOR_TOKEN=...\n  \
        connector-host sync vendor.wasm -s account=acme")]
    Trust(TrustArgs),
    /// Run the jobs of a jobs file at once: one engine and component cache for all, each job
    /// under its own limits; one JSON line per finished job on stdout.
    #[command(
        after_help = "Example:\n  connector-host run tenants.toml --parallel 4\n\n\
        A jobs file holds [[job]] tables: name, component, out, and optionally config, state,\n\
        models, format, cassette, full, [job.settings] and [job.secrets]; paths are relative to it.\n\
        The run exits with the highest exit code of its jobs."
    )]
    Run(jobs::RunArgs),
}

/// Which component, and how to load it.
#[derive(Debug, Args)]
pub struct ComponentArgs {
    /// The connector component (.wasm).
    pub component: PathBuf,
    /// Where precompiled components are cached (default: $XDG_CACHE_HOME/connector-host).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile the component every time instead of using the cache.
    #[arg(long)]
    pub no_cache: bool,
}

/// Settings, secrets and the network of a run.
#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// TOML file with `[settings]`, `[host]` and `[secrets]` (sources) tables.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Set or override one setting (repeatable): -s account=acme; a host setting whose name the
    /// connector also uses: -s host.max-retries=3.
    #[arg(short = 's', long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Where a secret setting's value comes from (repeatable): --secret api-token=env:VAR or
    /// --secret api-token=file:PATH. The host reads secrets from nowhere else.
    #[arg(long = "secret", value_name = "NAME=SOURCE")]
    pub secret: Vec<String>,
    /// Replay recorded responses from this cassette directory; unrecorded requests fail
    /// (`--fixtures` is its old name).
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "record",
        alias = "fixtures"
    )]
    pub cassette: Option<PathBuf>,
    /// Record every response into this cassette directory (secrets stripped).
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
}

/// `sync`: one sync into a file, stdout or a database.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The component.
    #[command(flatten)]
    pub component: ComponentArgs,
    /// Its settings, secrets and network.
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Output file, - for stdout, or a database that also keeps the state: sqlite:PATH or
    /// postgres://USER@HOST/DB; env:VARIABLE or file:PATH read it from there (a database URL
    /// with a password stays off the command line).
    #[arg(
        long,
        value_name = "FILE|-|sqlite:PATH|postgres://...",
        default_value = "-"
    )]
    pub out: String,
    /// How a file output is written: `snapshot` (to OUT.partial, renamed over OUT when the run
    /// is complete; a failed run leaves OUT as it was) or `append` (each run adds its records
    /// and summary to OUT).
    #[arg(long, value_name = "MODE", default_value = DEFAULT_WRITE, value_parser = WriteMode::parse)]
    pub write: WriteMode,
    /// With a database output, what a complete full sync does to the tenant's records it did
    /// not see: close, delete or keep.
    #[arg(long, value_name = "WHAT", default_value = DEFAULT_STALE, value_parser = Stale::parse)]
    pub stale: Stale,
    /// State file: high-water mark for incremental sync and the checkpoint to resume from.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Record kinds to write: any of resources, issues, findings.
    #[arg(long, value_name = "LIST", default_value = DEFAULT_MODELS, value_parser = Models::parse)]
    pub models: Models,
    /// Record format: `ndjson` (resource / issue / finding lines) or `ocsf` (OCSF 1.x finding
    /// events: 2002 when the finding has a CVE, GHSA or CWE, else 2007).
    #[arg(long, value_name = "FORMAT", default_value = DEFAULT_FORMAT, value_parser = Format::parse)]
    pub format: Format,
    /// Ignore the high-water mark and any checkpoint: a full sync.
    #[arg(long)]
    pub full: bool,
    /// With a database output: hand this connector and tenant's rows to this component build,
    /// though another build wrote them (after an upgrade or rebuild; once).
    #[arg(long)]
    pub adopt: bool,
    /// Seconds subtracted from the high-water mark on incremental runs.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_OVERLAP_SECS)]
    pub overlap_secs: u64,
}

/// `check` and `checkup`: a component and its settings.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The component.
    #[command(flatten)]
    pub component: ComponentArgs,
    /// Its settings, secrets and network.
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// The component's limits, for subcommands that only ask it to describe itself.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// TOML file with a [settings] table; only the limits apply here.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Set a limit (repeatable): -s memory-limit-mb=64, -s cpu-limit-secs=5, -s call-timeout-secs=10.
    #[arg(short = 's', long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// `describe`: what a component says it is.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The component.
    #[command(flatten)]
    pub component: ComponentArgs,
    /// The limits it runs under.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `trust`: record a component's own suggestions as grants.
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// The component.
    #[command(flatten)]
    pub component: ComponentArgs,
    /// The limits it runs under.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The `connector-host` program: parse arguments, set up logging, run, exit with the code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => LevelFilter::ERROR,
        (false, 0) => LevelFilter::WARN,
        (false, 1) => LevelFilter::INFO,
        (false, _) => LevelFilter::DEBUG,
    };
    // `RUST_LOG` as a list of `target=level` (tracing's `Targets`, which needs no regex engine
    // in the build); one that does not parse is ignored.
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| {
            Targets::new()
                .with_target("connector_host", level)
                .with_default(LevelFilter::WARN)
        });
    // Colour only for a terminal: a log file or pipe gets plain lines.
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(progress::LogWriter)
        .with_target(false);
    let registry = tracing_subscriber::registry().with(filter);
    if cli.log_format == "json" {
        registry.with(lines.json().with_current_span(true)).init();
    } else {
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        registry.with(lines.with_ansi(ansi)).init();
    }
    let code = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => {
            let code = rt.block_on(execute(cli));
            // A guest call abandoned at a limit may still hold a worker; do not wait for it.
            rt.shutdown_timeout(Duration::from_millis(200));
            code
        }
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            1
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Runs a parsed command; returns the process exit code.
pub async fn execute(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Sync(a) => sync_cmd(a, cli.quiet).await,
        Command::Check(a) => check_cmd(a).await,
        Command::Checkup(a) => checkup_cmd(a).await,
        Command::Describe(a) => describe_cmd(a).await,
        Command::Trust(a) => trust_cmd(a).await,
        Command::Run(a) => jobs::jobs_cmd(a).await,
    };
    match result {
        Ok(code) => code,
        Err(f) => {
            eprintln!("error: {f}");
            f.exit_code()
        }
    }
}

async fn sync_cmd(a: SyncArgs, quiet: bool) -> Result<i32, Failure> {
    let connector = load(&a.component)?;
    let config = config(
        a.settings.config.as_deref(),
        &a.settings.set,
        &a.settings.secret,
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    jobs::stop_on_signals(stop.clone());
    let mut options = SyncOptions::new(Output::from_arg(&a.out, &|v| std::env::var(v).ok())?);
    options.models = a.models;
    options.format = a.format;
    options.write = a.write;
    options.state = a.state.map(|p| Arc::new(StateFile(p)) as _);
    options.stale = a.stale;
    options.full = a.full;
    options.adopt = a.adopt;
    options.overlap = Duration::from_secs(a.overlap_secs);
    options.network = network(&a.settings);
    options.progress =
        (std::io::stderr().is_terminal() && !quiet).then(|| Arc::new(progress::StatusLine) as _);
    options.stop = Some(stop);
    let job = Job {
        component: connector,
        config,
        options,
        sole_instance: true,
    };
    let trust = trust_store()?;
    let sources = SecretSources {
        trust: trust.as_ref(),
        ..SecretSources::process_env()
    };
    let report = job::run(&job, sources).await;
    if let Some(s) = &report.summary {
        tracing::info!(
            "{} sync {}: {} resources, {} issues, {} findings from {} vendor records; {} requests, {} retries, {:.2} s",
            s.mode,
            if s.complete { "complete" } else { "INCOMPLETE" },
            s.counts.resources,
            s.counts.issues,
            s.counts.findings,
            s.counts.vendor_records,
            s.requests,
            s.retries,
            s.elapsed_seconds
        );
    }
    match report.failure {
        None => Ok(0),
        Some(f) => Err(f),
    }
}

/// The operator's trust store, when there is a configuration directory.
pub(crate) fn trust_store() -> Result<Option<TrustStore>, Failure> {
    TrustStore::default_path()
        .map(|path| TrustStore::open(&path))
        .transpose()
}

async fn check_cmd(a: CheckArgs) -> Result<i32, Failure> {
    let connector = load(&a.component)?;
    let config = config(
        a.settings.config.as_deref(),
        &a.settings.set,
        &a.settings.secret,
    )?;
    let trust = trust_store()?;
    let sources = SecretSources {
        trust: trust.as_ref(),
        ..SecretSources::process_env()
    };
    let mut options = SyncOptions::new(Output::Stdout);
    options.network = network(&a.settings);
    let job = Job {
        component: connector,
        config,
        options,
        sole_instance: true,
    };
    let outcome = job::check(&job, sources).await?;
    for line in outcome.lines() {
        println!("{line}");
    }
    Ok(0)
}

async fn checkup_cmd(a: CheckArgs) -> Result<i32, Failure> {
    let Some(cassette) = a.settings.cassette.clone() else {
        return Err(Failure::Config(
            "checkup replays a recorded cassette: pass --cassette DIR (record one with `sync --record DIR`)"
                .to_string(),
        ));
    };
    let config = config(
        a.settings.config.as_deref(),
        &a.settings.set,
        &a.settings.secret,
    )?;
    let verdicts = match load(&a.component) {
        Err(f @ Failure::Guest(_)) => vec![checkup::verdict_of_failure("imports", &f)],
        Err(f) => return Err(f),
        Ok(connector) => {
            let trust = trust_store()?;
            let sources = SecretSources {
                trust: trust.as_ref(),
                ..SecretSources::process_env()
            };
            match job::prepare(&connector, &config, sources, true).await {
                Err(f @ Failure::Guest(_)) => vec![checkup::verdict_of_failure("spec", &f)],
                Err(f) => return Err(f),
                Ok((spec, resolved)) => checkup::run(&connector, &spec, &resolved, cassette).await,
            }
        }
    };
    let mut failed = false;
    for v in &verdicts {
        match &v.outcome {
            Ok(seen) => println!("PASS {:<14}{seen}", v.rule),
            Err(why) => {
                failed = true;
                println!("FAIL {:<14}{why}", v.rule);
            }
        }
    }
    Ok(if failed { 5 } else { 0 })
}

async fn describe_cmd(a: DescribeArgs) -> Result<i32, Failure> {
    let connector = load(&a.component)?;
    let spec = describe(&connector, a.limits.read()?).await?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&describe::spec_json(&spec)).expect("spec serializes")
        );
    } else {
        print!(
            "{}",
            describe::spec_table(&spec, std::io::stdout().is_terminal())
        );
    }
    Ok(0)
}

fn load(a: &ComponentArgs) -> Result<Component, Failure> {
    let connector = runtime(a.no_cache, a.cache_dir.clone())?.load(&a.component)?;
    tracing::debug!(
        "component loaded ({:?}) in {:.1} ms",
        connector.load_path,
        connector.load_time.as_secs_f64() * 1e3
    );
    Ok(connector)
}

/// A runtime with the on-disk cache the flags ask for.
pub(crate) fn runtime(no_cache: bool, cache_dir: Option<PathBuf>) -> Result<Runtime, Failure> {
    Runtime::new(if no_cache {
        None
    } else {
        cache_dir.or_else(default_cache_dir)
    })
}

/// The config file (if any) with the command line's `-s` and `--secret` applied over it.
fn config(path: Option<&Path>, set: &[String], secrets: &[String]) -> Result<Config, Failure> {
    let mut config = match path {
        Some(p) => Config::from_toml_file(p)?,
        None => Config::default(),
    };
    config.settings.apply_overrides(set)?;
    config.grants.apply_args(secrets)?;
    Ok(config)
}

async fn trust_cmd(a: TrustArgs) -> Result<i32, Failure> {
    let connector = load(&a.component)?;
    let spec = describe(&connector, a.limits.read()?).await?;
    let path = TrustStore::default_path().ok_or_else(|| {
        Failure::Config("no configuration directory: set XDG_CONFIG_HOME or HOME".into())
    })?;
    let mut store = TrustStore::open(&path)?;
    let granted = store.trust(&connector.sha256, &spec).clone();
    store.save(&path)?;
    println!(
        "trusted {} {} (sha256 {}) in {}",
        spec.name,
        spec.version,
        connector.sha256,
        path.display()
    );
    for (name, vars) in &granted {
        println!(
            "  secret `{name}` from the first set of: {}",
            vars.join(", ")
        );
    }
    Ok(0)
}

impl LimitArgs {
    fn read(&self) -> Result<Limits, Failure> {
        settings::limits(
            &config(self.config.as_deref(), &self.set, &[])?.settings,
            true,
        )
    }
}

fn network(a: &SettingsArgs) -> Network {
    match (&a.cassette, &a.record) {
        (Some(dir), _) => Network::Replay(dir.clone()),
        (None, Some(dir)) => Network::Record(dir.clone()),
        (None, None) => Network::Live,
    }
}
