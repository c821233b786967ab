//! Settings in: the TOML `[settings]` table, `-s key=value` overrides, secrets from the
//! environment; split into the connector's settings, its secret, and the host's own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::engine::wit::{ConnectorSpec, Setting, SettingSpec};
use crate::error::Failure;
use crate::sandbox::limits::Limits;
use crate::sandbox::policy::{Origin, Policy};
use crate::sandbox::redact::Redactor;
use crate::sandbox::retry::RetryPolicy;
use crate::sandbox::transport::Timeouts;
use crate::secrets::{Grants, how_to_grant};

/// Settings the host itself understands (the sandbox), with their descriptions.
pub const HOST_SETTINGS: &[(&str, &str)] = &[
    (
        "allowed-hosts",
        "Comma-separated origins (scheme://host[:port]) the component may call; default: the base URL's",
    ),
    (
        "ca-file",
        "PEM file of extra trusted CA certificates (corporate proxies, self-hosted gateways)",
    ),
    (
        "max-requests",
        "Most HTTP requests one run may make (default 10000)",
    ),
    (
        "max-pages",
        "Most pages one listing may return before the run stops (default 100000)",
    ),
    (
        "max-page-records",
        "Most records one page may carry (default 200000)",
    ),
    (
        "max-response-mb",
        "Response bodies the host holds for the component at once, in MiB (default 48); one response may be at most this",
    ),
    (
        "connect-timeout-secs",
        "Connect timeout per request (default 10)",
    ),
    (
        "first-byte-timeout-secs",
        "Time to the response head per request (default 60)",
    ),
    (
        "between-bytes-timeout-secs",
        "Longest stall while reading a body (default 30)",
    ),
    (
        "max-retries",
        "Retries per request for 408/429/5xx and transport errors (default 5)",
    ),
    (
        "max-retry-wait-secs",
        "Longest Retry-After worth waiting; longer fails fast (default 120)",
    ),
    (
        "memory-limit-mb",
        "Largest memory the component may use, in MiB (default 512)",
    ),
    (
        "cpu-limit-secs",
        "CPU time the component may use per call (default 60)",
    ),
    (
        "call-timeout-secs",
        "Wall-clock time per call, HTTP included (default 900)",
    ),
];

/// Raw `name -> value` settings before they are checked against a connector's spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawSettings(pub BTreeMap<String, String>);

/// A config file: the `[settings]` table and the operator's `[secrets]` grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub settings: RawSettings,
    pub grants: Grants,
}

impl Config {
    pub fn from_toml_file(path: &Path) -> Result<Config, Failure> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::Config(format!("cannot read config {}: {e}", path.display())))?;
        Self::from_toml(&text)
            .map_err(|e| Failure::Config(format!("config {}: {e}", path.display())))
    }

    /// Strings, booleans, numbers and arrays of them are accepted as settings; arrays become
    /// comma-separated lists. Secrets are sources (`env:VAR`, `file:PATH`), never values.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        let doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| e.message().to_string())?;
        let mut config = Config::default();
        for (key, value) in &doc {
            let table = value
                .as_table()
                .ok_or_else(|| format!("`{key}` must be a table"));
            match key.as_str() {
                "settings" => {
                    for (name, value) in table? {
                        config
                            .settings
                            .0
                            .insert(name.clone(), toml_to_text(name, value)?);
                    }
                }
                "secrets" => config.grants = Grants::from_toml(table?)?,
                _ => {
                    return Err(format!(
                        "unknown table or key `{key}` (settings go under [settings], secret \
                         sources under [secrets])"
                    ));
                }
            }
        }
        Ok(config)
    }
}

impl RawSettings {
    /// Applies `-s key=value` overrides.
    pub fn apply_overrides(&mut self, overrides: &[String]) -> Result<(), Failure> {
        for o in overrides {
            let (k, v) = o
                .split_once('=')
                .ok_or_else(|| Failure::Config(format!("-s {o:?}: expected key=value")))?;
            let k = k.trim();
            if k.is_empty() {
                return Err(Failure::Config(format!("-s {o:?}: empty setting name")));
            }
            self.0.insert(k.to_string(), v.to_string());
        }
        Ok(())
    }
}

fn toml_to_text(key: &str, value: &toml::Value) -> Result<String, String> {
    Ok(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Array(items) => items
            .iter()
            .map(|v| toml_to_text(key, v))
            .collect::<Result<Vec<_>, _>>()?
            .join(","),
        _ => {
            return Err(format!(
                "setting `{key}`: tables and dates are not setting values"
            ));
        }
    })
}

/// The run's secrets and a way to scrub them, in every form the response scrub knows, from
/// anything shown to the user.
#[derive(Clone, Default)]
pub struct Secrets {
    redactors: Vec<Redactor>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} redacted)", self.redactors.len())
    }
}

impl Secrets {
    fn add(&mut self, value: &str) {
        self.redactors.extend(Redactor::new(value.as_bytes()));
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for r in &self.redactors {
            if let Some(scrubbed) = r.redact(out.as_bytes()) {
                out = String::from_utf8_lossy(&scrubbed).into_owned();
            }
        }
        out
    }
}

/// The host's own knobs for one run.
#[derive(Debug, Clone)]
pub struct HostSettings {
    pub policy: Policy,
    /// The origin of the connector's base URL: the only one its credential is sent to (every
    /// allowed origin when the connector has no base URL).
    pub credential_origin: Option<Origin>,
    pub ca_file: Option<PathBuf>,
    pub max_requests: u64,
    pub max_pages: u64,
    pub max_page_records: u64,
    pub max_response_bytes: u64,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    pub limits: Limits,
}

/// Settings checked against the connector's spec.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Non-secret settings, for `configure`.
    pub connector: Vec<Setting>,
    /// The secret setting's value: the bearer token the host attaches.
    pub token: Option<String>,
    pub secrets: Secrets,
    pub host: HostSettings,
}

impl Resolved {
    /// A digest of what the run asks for (non-secret settings), to tell whether saved state
    /// belongs to the same configuration.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for s in &self.connector {
            h.update(s.name.as_bytes());
            h.update([0]);
            h.update(s.value.as_bytes());
            h.update([0]);
        }
        hex::encode(&h.finalize()[..16])
    }
}

/// Checks `raw` against `spec`: unknown names, missing required values; secrets from `-s`
/// literals or the operator's `grants`, read through `env`.
pub fn resolve(
    raw: &RawSettings,
    grants: &Grants,
    spec: &ConnectorSpec,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Resolved, Failure> {
    let host = host_values(raw, spec)?;
    grants.check_against(spec)?;
    let mut connector = Vec::new();
    let mut token = None;
    let mut secrets = Secrets::default();
    for def in &spec.settings {
        let literal = raw.0.get(&def.name).cloned();
        if !def.secret {
            match literal {
                Some(v) => connector.push(Setting {
                    name: def.name.clone(),
                    value: v,
                }),
                None if def.required => {
                    return Err(Failure::Config(format!(
                        "missing required setting `{}` ({}): pass -s {}=...",
                        def.name, def.description, def.name
                    )));
                }
                None => {}
            }
            continue;
        }
        let granted = match grants.get(&def.name) {
            Some(source) => source.read(&env).map_err(|e| {
                Failure::Config(format!("secret `{}` from {source}: {e}", def.name))
            })?,
            None => None,
        };
        match literal.filter(|v| !v.trim().is_empty()).or(granted) {
            Some(v) => {
                secrets.add(v.trim());
                token = Some(v.trim().to_string());
            }
            None if def.required => return Err(missing_secret(def, &env)),
            None => {}
        }
    }
    let base_url = spec.base_url_setting.as_ref().and_then(|name| {
        connector
            .iter()
            .find(|s| &s.name == name)
            .map(|s| s.value.clone())
            .or_else(|| {
                spec.settings
                    .iter()
                    .find(|d| &d.name == name)?
                    .default_value
                    .clone()
            })
    });
    let host = host_settings(&host, base_url.as_deref())?;
    Ok(Resolved {
        connector,
        token,
        secrets,
        host,
    })
}

/// The host's own settings in `raw`; a name neither the host nor the connector knows is an
/// error that lists the known ones.
fn host_values<'a>(
    raw: &'a RawSettings,
    spec: &ConnectorSpec,
) -> Result<BTreeMap<&'a str, &'a str>, Failure> {
    let mut host = BTreeMap::new();
    for (name, value) in &raw.0 {
        if HOST_SETTINGS.iter().any(|(h, _)| h == name) {
            host.insert(name.as_str(), value.as_str());
        } else if !spec.settings.iter().any(|s| &s.name == name) {
            let known: Vec<&str> = spec
                .settings
                .iter()
                .map(|s| s.name.as_str())
                .chain(HOST_SETTINGS.iter().map(|(n, _)| *n))
                .collect();
            return Err(Failure::Config(format!(
                "unknown setting `{name}`; known settings: {}",
                known.join(", ")
            )));
        }
    }
    Ok(host)
}

/// A required secret with no source: the exact lines that grant one, and a word on the
/// component's suggested variables when one of them is set but was not granted.
fn missing_secret(def: &SettingSpec, env: &dyn Fn(&str) -> Option<String>) -> Failure {
    let mut message = format!(
        "missing secret `{}` ({}): {}",
        def.name,
        def.description,
        how_to_grant(&def.name, &def.env_vars)
    );
    let is_set = |v: &&String| env(v).is_some_and(|x| !x.trim().is_empty());
    if let Some(var) = def.env_vars.iter().find(is_set) {
        message.push_str(&format!(
            "\n  ({var} is set, but the host reads a secret only from a source the operator \
             grants; `connector-host trust COMPONENT` grants this component's own suggestions)"
        ));
    }
    Failure::Config(message)
}

/// The component's limits alone, from the host settings in `raw` (the rest is ignored): every
/// call, `describe` included, runs under them, and `describe` comes before the connector's own
/// settings can be checked.
pub fn limits(raw: &RawSettings) -> Result<Limits, Failure> {
    let values: BTreeMap<&str, &str> = raw
        .0
        .iter()
        .filter(|(k, _)| HOST_SETTINGS.iter().any(|(h, _)| h == k))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    read_limits(&values)
}

fn read_limits(values: &BTreeMap<&str, &str>) -> Result<Limits, Failure> {
    Ok(Limits {
        memory_bytes: (number(values, "memory-limit-mb", 512)? as usize) << 20,
        cpu_per_call: Duration::from_secs(number(values, "cpu-limit-secs", 60)?),
        wall_per_call: Duration::from_secs(number(values, "call-timeout-secs", 900)?),
        // The CLI runs one instance per process at a time, so the process's memory is its.
        watch_host_memory: true,
    })
}

/// The whole number under `name`, else `default`.
fn number(values: &BTreeMap<&str, &str>, name: &str, default: u64) -> Result<u64, Failure> {
    match values.get(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map_err(|_| Failure::Config(format!("setting `{name}`: {v:?} is not a whole number"))),
    }
}

fn host_settings(
    values: &BTreeMap<&str, &str>,
    base_url: Option<&str>,
) -> Result<HostSettings, Failure> {
    let num = |name: &str, default: u64| number(values, name, default);
    let secs = |name: &str, default: u64| num(name, default).map(Duration::from_secs);
    let allowed = match values.get("allowed-hosts") {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                Origin::parse(s)
                    .map_err(|e| Failure::Config(format!("setting `allowed-hosts`: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => match base_url {
            Some(url) => vec![
                Origin::parse(url)
                    .map_err(|e| Failure::Config(format!("setting `base-url`: {e}")))?,
            ],
            None => Vec::new(),
        },
    };
    let credential_origin = base_url
        .map(|url| {
            Origin::parse(url).map_err(|e| Failure::Config(format!("setting `base-url`: {e}")))
        })
        .transpose()?;
    let policy = Policy::new(allowed)
        .map_err(|e| Failure::Config(format!("setting `allowed-hosts`: {e}")))?;
    let retry = RetryPolicy {
        max_retries: num("max-retries", 5)? as u32,
        max_retry_after: secs("max-retry-wait-secs", 120)?,
        ..RetryPolicy::default()
    };
    Ok(HostSettings {
        policy,
        credential_origin,
        ca_file: values.get("ca-file").map(PathBuf::from),
        max_requests: num("max-requests", 10_000)?,
        max_pages: num("max-pages", 100_000)?,
        max_page_records: num("max-page-records", 200_000)?,
        max_response_bytes: num("max-response-mb", 48)? << 20,
        timeouts: Timeouts {
            connect: secs("connect-timeout-secs", 10)?,
            first_byte: secs("first-byte-timeout-secs", 60)?,
            between_bytes: secs("between-bytes-timeout-secs", 30)?,
        },
        retry,
        limits: read_limits(values)?,
    })
}

#[cfg(test)]
mod tests;
