//! Settings in: the TOML `[settings]` and `[host]` tables, `-s key=value` overrides, secrets from
//! the sources the operator grants; split into the connector's settings, its credentials, and
//! the host's own.
//!
//! Host and connector settings are two namespaces. A name the connector declares is the
//! connector's; `host.NAME` (or `[host]` in a config file) always means the host's, so a
//! connector setting called `max-retries` never silently becomes the host's retry count.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::engine::wit::{ConnectorSpec, CredentialScheme, Setting, SettingSpec, SettingType};
use crate::error::Failure;
use crate::sandbox::credential::{Credential, Scheme};
use crate::sandbox::limits::Limits;
use crate::sandbox::policy::{Origin, Policy};
use crate::sandbox::redact::Secrets;
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

/// How a host setting is named where a connector setting could take its plain name.
pub const HOST_PREFIX: &str = "host.";

/// Raw `name -> value` settings before they are checked against a connector's spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawSettings(pub BTreeMap<String, String>);

/// A config file: the `[settings]` and `[host]` tables and the operator's `[secrets]` grants.
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
                "settings" => config.settings.merge(RawSettings::from_table(table?)?),
                "host" => {
                    for (name, value) in table? {
                        if !is_host_setting(name) {
                            return Err(format!(
                                "[host] `{name}` is not a host setting; host settings: {}",
                                host_setting_names()
                            ));
                        }
                        config
                            .settings
                            .0
                            .insert(format!("{HOST_PREFIX}{name}"), toml_to_text(name, value)?);
                    }
                }
                "secrets" => config.grants = Grants::from_toml(table?)?,
                _ => {
                    return Err(format!(
                        "unknown table or key `{key}` (connector settings go under [settings], \
                         the host's under [host], secret sources under [secrets])"
                    ));
                }
            }
        }
        Ok(config)
    }
}

impl RawSettings {
    /// A TOML table of settings (a jobs file's `[job.settings]`).
    pub fn from_table(table: &toml::Table) -> Result<RawSettings, String> {
        let mut raw = RawSettings::default();
        for (name, value) in table {
            raw.0.insert(name.clone(), toml_to_text(name, value)?);
        }
        Ok(raw)
    }

    /// `other`'s values over these.
    pub fn merge(&mut self, other: RawSettings) {
        self.0.extend(other.0);
    }

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

fn is_host_setting(name: &str) -> bool {
    HOST_SETTINGS.iter().any(|(h, _)| *h == name)
}

fn host_setting_names() -> String {
    HOST_SETTINGS
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The host's own knobs for one run.
#[derive(Debug, Clone)]
pub struct HostSettings {
    pub policy: Policy,
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
    /// The secrets as the headers the hook attaches, each bound to its origin.
    pub credentials: Vec<Credential>,
    /// Every secret's value, to scrub from responses, cassettes, output and messages.
    pub secrets: Secrets,
    pub host: HostSettings,
}

impl Resolved {
    /// The value of the setting that names the tenant (empty when the connector declares none).
    pub fn tenant(&self, spec: &ConnectorSpec) -> String {
        spec.tenant_setting
            .as_deref()
            .and_then(|name| setting_value(spec, &self.connector, name))
            .unwrap_or_default()
    }

    /// Whether a filter setting (`narrows`) has a value: the run does not see every record.
    pub fn narrowed(&self, spec: &ConnectorSpec) -> bool {
        spec.settings.iter().filter(|d| d.narrows).any(|d| {
            setting_value(spec, &self.connector, &d.name).is_some_and(|v| !v.trim().is_empty())
        })
    }

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
/// literals or the operator's `grants`, read through `env`, and turned into credentials as the
/// spec declares.
pub fn resolve(
    raw: &RawSettings,
    grants: &Grants,
    spec: &ConnectorSpec,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Resolved, Failure> {
    let host = host_values(raw, spec)?;
    grants.check_against(spec)?;
    let mut connector = Vec::new();
    let mut granted = Vec::new();
    let mut secrets = Secrets::default();
    for def in &spec.settings {
        let literal = raw.0.get(&def.name).cloned();
        if def.credential.is_none() {
            if let Some(v) = &literal {
                check_value(def, v)?;
            }
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
        let from_grant = match grants.get(&def.name) {
            Some(source) => source.read(&env).map_err(|e| {
                Failure::Config(format!("secret `{}` from {source}: {e}", def.name))
            })?,
            None => None,
        };
        match literal.filter(|v| !v.trim().is_empty()).or(from_grant) {
            Some(v) => {
                secrets.add(v.trim());
                granted.push((def, v.trim().to_string()));
            }
            None if def.required => return Err(missing_secret(def, &env)),
            None => {}
        }
    }
    let value_of = |name: &str| setting_value(spec, &connector, name);
    let credentials = credentials(&granted, &value_of)?;
    let base_url = spec
        .base_url_setting
        .as_deref()
        .and_then(|name| Some((name, value_of(name)?)));
    let host = host_settings(&host, base_url)?;
    Ok(Resolved {
        connector,
        credentials,
        secrets,
        host,
    })
}

/// A value of the shape its setting's type says: a boolean (`true`/`false`, or `yes`/`no`,
/// `on`/`off`, `1`/`0`), a whole number, an absolute http(s) URL. Text and lists take anything.
fn check_value(def: &SettingSpec, value: &str) -> Result<(), Failure> {
    let v = value.trim();
    let (ok, expected) = match def.value_type {
        SettingType::Text | SettingType::List => (true, ""),
        SettingType::Boolean => (
            matches!(
                v.to_ascii_lowercase().as_str(),
                "true" | "false" | "yes" | "no" | "on" | "off" | "1" | "0"
            ),
            "a boolean (true or false)",
        ),
        SettingType::Integer => (v.parse::<i64>().is_ok(), "a whole number"),
        SettingType::Url => (Origin::parse(v).is_ok(), "an absolute http(s) URL"),
    };
    if ok {
        return Ok(());
    }
    Err(Failure::Config(format!(
        "setting `{}`: {:?} is not {expected}",
        def.name,
        crate::text::printable(v, 80)
    )))
}

/// The value a setting has for this run: given, else the spec's default.
fn setting_value(spec: &ConnectorSpec, given: &[Setting], name: &str) -> Option<String> {
    given
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.value.clone())
        .or_else(|| {
            spec.settings
                .iter()
                .find(|d| d.name == name)?
                .default_value
                .clone()
        })
}

/// Each granted secret as the header its spec declares, bound to the origin of the URL in its
/// `origin-setting`; two in one header to one origin would overwrite each other and are refused.
fn credentials(
    granted: &[(&SettingSpec, String)],
    value_of: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Credential>, Failure> {
    let mut out: Vec<Credential> = Vec::new();
    for (def, secret) in granted {
        let declared = def.credential.as_ref().expect("a secret setting");
        let needs = |setting: &str, what: &str| {
            value_of(setting).ok_or_else(|| {
                Failure::Config(format!(
                    "secret `{}` needs {what} from setting `{setting}`, which has no value: \
                     pass -s {setting}=...",
                    def.name
                ))
            })
        };
        let url = needs(&declared.origin_setting, "its origin")?;
        let origin = Origin::parse(&url)
            .map_err(|e| Failure::Config(format!("setting `{}`: {e}", declared.origin_setting)))?;
        let scheme = match &declared.scheme {
            CredentialScheme::Bearer => Scheme::Bearer,
            CredentialScheme::BasicUser => Scheme::BasicUser,
            CredentialScheme::BasicPassword(user) => Scheme::BasicPassword {
                user: needs(user, "its user name")?,
            },
            CredentialScheme::Header(h) => Scheme::Header {
                name: h.name.clone(),
                prefix: h.prefix.clone().unwrap_or_default(),
            },
        };
        let credential =
            Credential::new(&def.name, &scheme, secret, origin).map_err(Failure::Config)?;
        if let Some(other) = out.iter().find(|o| o.collides_with(&credential)) {
            return Err(Failure::Config(format!(
                "secrets `{}` and `{}` would both go in the `{}` header to the same origin; \
                 grant only one",
                other.setting,
                def.name,
                credential.header_name()
            )));
        }
        out.push(credential);
    }
    Ok(out)
}

/// The host's own settings in `raw`: `host.NAME` always, a plain host setting name unless the
/// connector declares it. A name neither knows is an error that lists the known ones.
fn host_values<'a>(
    raw: &'a RawSettings,
    spec: &ConnectorSpec,
) -> Result<BTreeMap<&'a str, &'a str>, Failure> {
    let mut host = BTreeMap::new();
    for (name, value) in &raw.0 {
        let declared = spec.settings.iter().any(|s| &s.name == name);
        match name.strip_prefix(HOST_PREFIX) {
            Some(h) if is_host_setting(h) => {
                host.insert(h, value.as_str());
            }
            _ if declared => {}
            _ if is_host_setting(name) => {
                host.entry(name.as_str()).or_insert(value.as_str());
            }
            _ => {
                let known: Vec<&str> = spec.settings.iter().map(|s| s.name.as_str()).collect();
                return Err(Failure::Config(format!(
                    "unknown setting `{name}`; the connector's settings: {}; the host's: {}",
                    known.join(", "),
                    host_setting_names()
                )));
            }
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
        how_to_grant(&def.name, &def.suggested_env)
    );
    let is_set = |v: &&String| env(v).is_some_and(|x| !x.trim().is_empty());
    if let Some(var) = def.suggested_env.iter().find(is_set) {
        message.push_str(&format!(
            "\n  ({var} is set, but the host reads a secret only from a source the operator \
             grants; `connector-host trust COMPONENT` grants this component's own suggestions)"
        ));
    }
    Failure::Config(message)
}

/// The component's limits alone, from the host settings in `raw` (the rest is ignored): every
/// call, `describe` included, runs under them, and `describe` comes before the connector's own
/// settings can be checked (so here a plain name counts as the host's; `host.NAME` wins).
pub fn limits(raw: &RawSettings) -> Result<Limits, Failure> {
    let mut values: BTreeMap<&str, &str> = BTreeMap::new();
    for (k, v) in &raw.0 {
        match k.strip_prefix(HOST_PREFIX) {
            Some(h) if is_host_setting(h) => {
                values.insert(h, v.as_str());
            }
            _ if is_host_setting(k) => {
                values.entry(k.as_str()).or_insert(v.as_str());
            }
            _ => {}
        }
    }
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

/// `base_url`: the connector's base-URL setting and its value, whose origin is the default
/// allow-list.
fn host_settings(
    values: &BTreeMap<&str, &str>,
    base_url: Option<(&str, String)>,
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
            Some((name, url)) => vec![
                Origin::parse(&url)
                    .map_err(|e| Failure::Config(format!("setting `{name}`: {e}")))?,
            ],
            None => Vec::new(),
        },
    };
    let policy = Policy::new(allowed)
        .map_err(|e| Failure::Config(format!("setting `allowed-hosts`: {e}")))?;
    let retry = RetryPolicy {
        max_retries: num("max-retries", 5)? as u32,
        max_retry_after: secs("max-retry-wait-secs", 120)?,
        ..RetryPolicy::default()
    };
    Ok(HostSettings {
        policy,
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
