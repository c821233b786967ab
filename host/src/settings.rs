//! Settings in: the TOML `[settings]` and `[host]` tables, `-s key=value` overrides, secrets from
//! the sources the operator grants; split into the connector's settings, its credentials, and
//! the host's own.
//!
//! Host and connector settings are two namespaces, and the host's names are reserved: a
//! connector may not declare one (see `contract.rs`), so `-s max-requests=50` always
//! reaches the host; `host.NAME` (or `[host]` in a config file) names the host's too.
//!
//! A secret's value goes only into its credential: it is never passed to `configure`, and every
//! error raised while settings are resolved has the run's secrets removed before anyone sees it.

use crate::mutants::{Duty, skips};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Failure;
use crate::sandbox::credential::{Credential, Scheme};
use crate::sandbox::limits::Limits;
use crate::sandbox::policy::{Origin, Policy};
use crate::sandbox::redact::Secrets;
use crate::sandbox::retry::RetryPolicy;
use crate::sandbox::transport::Timeouts;
use crate::secrets::{Grants, how_to_grant};
use crate::wit::{ConnectorSpec, CredentialScheme, Setting, SettingSpec, SettingType};

/// One setting the host itself reads (the sandbox's): the one place its name, help and default
/// are written. The help text, the `describe` listing and the code that reads it all use this.
#[derive(Debug, Clone, Copy)]
pub struct HostSetting {
    /// `max-requests`.
    pub name: &'static str,
    /// What it does; [`HostSetting::description`] adds the default.
    pub help: &'static str,
    /// Its value unless set, as a whole number in its unit (a count, seconds, MiB); `None` for
    /// a setting that is not a number.
    pub default: Option<u64>,
}

impl HostSetting {
    /// The help with the default, as `describe` and the docs show it.
    pub fn description(&self) -> String {
        match self.default {
            Some(d) => format!("{} (default {d})", self.help),
            None => self.help.to_string(),
        }
    }
}

const fn number(name: &'static str, help: &'static str, default: u64) -> HostSetting {
    HostSetting {
        name,
        help,
        default: Some(default),
    }
}

/// Most HTTP requests one run may make, unless set.
pub const DEFAULT_MAX_REQUESTS: u64 = 10_000;
/// Most pages one listing may return, unless set.
pub const DEFAULT_MAX_PAGES: u64 = 100_000;
/// Most records one page may carry, unless set.
pub const DEFAULT_MAX_PAGE_RECORDS: u64 = 200_000;
/// Response bodies held for the component at once, in MiB, unless set.
pub const DEFAULT_MAX_RESPONSE_MB: u64 = 48;

/// Every setting the host itself understands (the sandbox).
pub const HOST_SETTINGS: &[HostSetting] = &[
    HostSetting {
        name: "allowed-hosts",
        help: "Comma-separated origins (scheme://host[:port]) the component may call; default: the base URL's",
        default: None,
    },
    HostSetting {
        name: "ca-file",
        help: "PEM file of extra trusted CA certificates (corporate proxies, self-hosted gateways)",
        default: None,
    },
    number(
        "max-requests",
        "Most HTTP requests one run may make",
        DEFAULT_MAX_REQUESTS,
    ),
    number(
        "max-pages",
        "Most pages one listing may return before the run stops",
        DEFAULT_MAX_PAGES,
    ),
    number(
        "max-page-records",
        "Most records one page may carry",
        DEFAULT_MAX_PAGE_RECORDS,
    ),
    number(
        "max-response-mb",
        "Response bodies the host holds for the component at once, in MiB; one response may be at most this",
        DEFAULT_MAX_RESPONSE_MB,
    ),
    number(
        "connect-timeout-secs",
        "Connect timeout per request",
        Timeouts::DEFAULT.connect.as_secs(),
    ),
    number(
        "first-byte-timeout-secs",
        "Time to the response head per request",
        Timeouts::DEFAULT.first_byte.as_secs(),
    ),
    number(
        "between-bytes-timeout-secs",
        "Longest stall while reading a body",
        Timeouts::DEFAULT.between_bytes.as_secs(),
    ),
    number(
        "max-retries",
        "Retries per request for 408/429/5xx and transport errors",
        RetryPolicy::DEFAULT.max_retries as u64,
    ),
    number(
        "max-retry-wait-secs",
        "Longest Retry-After worth waiting; longer fails fast",
        RetryPolicy::DEFAULT.max_retry_after.as_secs(),
    ),
    number(
        "memory-limit-mb",
        "Largest memory the component may use, in MiB",
        (Limits::DEFAULT.memory_bytes >> 20) as u64,
    ),
    number(
        "cpu-limit-secs",
        "CPU time the component may use per call",
        Limits::DEFAULT.cpu_per_call.as_secs(),
    ),
    number(
        "call-timeout-secs",
        "Wall-clock time per call, HTTP included",
        Limits::DEFAULT.wall_per_call.as_secs(),
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
    /// Connector and host settings (`host.NAME`).
    pub settings: RawSettings,
    /// Where each secret comes from.
    pub grants: Grants,
}

impl Config {
    /// Reads a config file; errors name the file.
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

/// The host setting called `name`.
pub fn host_setting(name: &str) -> Option<&'static HostSetting> {
    HOST_SETTINGS.iter().find(|h| h.name == name)
}

pub(crate) fn is_host_setting(name: &str) -> bool {
    host_setting(name).is_some()
}

fn host_setting_names() -> String {
    HOST_SETTINGS
        .iter()
        .map(|h| h.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The host's own knobs for one run.
#[derive(Debug, Clone)]
pub struct HostSettings {
    /// The allow-list.
    pub policy: Policy,
    /// Extra CA certificates to trust, PEM.
    pub ca_file: Option<PathBuf>,
    /// Most HTTP requests one run may make.
    pub max_requests: u64,
    /// Most pages one listing may return.
    pub max_pages: u64,
    /// Most records one page may carry.
    pub max_page_records: u64,
    /// Response bodies held for the component at once, in bytes.
    pub max_response_bytes: u64,
    /// Per-request timeouts.
    pub timeouts: Timeouts,
    /// When the host retries, for a component that lets it.
    pub retry: RetryPolicy,
    /// What the component may use.
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
    /// Where each secret came from (`api-token` from `env:VAR`), for a rejected credential's
    /// message.
    pub sources: Vec<(String, String)>,
    /// The host's own settings.
    pub host: HostSettings,
}

impl Resolved {
    /// The tenant as the operator set it (empty when the connector declares no tenant setting): `None` when the connector declares a tenant setting
    /// the operator left to the component's default (a claim, not the operator's word).
    pub fn operator_tenant(&self, spec: &ConnectorSpec) -> Option<String> {
        match spec.tenant_setting.as_deref() {
            None => Some(String::new()),
            Some(name) => self
                .connector
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.value.trim().to_string()),
        }
    }

    /// Whether a filter setting (`narrows`) has a value: the run does not see every record.
    pub fn narrowed(&self, spec: &ConnectorSpec) -> bool {
        spec.settings.iter().filter(|d| d.narrows).any(|d| {
            setting_value(spec, &self.connector, &d.name).is_some_and(|v| !v.trim().is_empty())
        })
    }

    /// A rejected credential (401, 403) with where the run's secrets came from, so the operator
    /// knows which grant to fix; any other failure as it is.
    pub fn explain_auth(&self, failure: Failure) -> Failure {
        if !matches!(failure, Failure::Auth(_)) || self.sources.is_empty() {
            return failure;
        }
        let from: Vec<String> = self
            .sources
            .iter()
            .map(|(name, source)| format!("`{name}` from {source}"))
            .collect();
        failure.map_message(|m| format!("{m} (the secrets sent: {})", from.join(", ")))
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
/// spec declares. The secrets are read first, so that every later error has them removed.
pub fn resolve(
    raw: &RawSettings,
    grants: &Grants,
    spec: &ConnectorSpec,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Resolved, Failure> {
    let host = host_values(raw, spec)?;
    grants.check_against(spec)?;
    let (granted, secrets, sources) = read_secrets(raw, grants, spec, &env)?;
    let redacted = |f: Failure| f.map_message(|m| secrets.redact(m));
    let connector = plain_settings(raw, spec).map_err(redacted)?;
    let value_of = |name: &str| setting_value(spec, &connector, name);
    let given = |name: &str| connector.iter().any(|s| s.name == name);
    let credentials = credentials(&granted, spec, &value_of, &given).map_err(redacted)?;
    let base_url = spec
        .base_url_setting
        .as_deref()
        .and_then(|name| Some((name, value_of(name)?)));
    let host = host_settings(&host, base_url).map_err(redacted)?;
    Ok(Resolved {
        connector,
        credentials,
        secrets,
        sources,
        host,
    })
}

/// Each secret setting that has a value, with it.
type Granted<'a> = Vec<(&'a SettingSpec, String)>;

/// Each secret setting that has a value, and where it came from.
type Sources = Vec<(String, String)>;

/// The secret settings' values, from `-s` literals or the operator's grants (never from
/// anywhere a component names), and all of them as the set to scrub.
fn read_secrets<'a>(
    raw: &RawSettings,
    grants: &Grants,
    spec: &'a ConnectorSpec,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Granted<'a>, Secrets, Sources), Failure> {
    let mut granted = Vec::new();
    let mut secrets = Secrets::default();
    let mut sources = Vec::new();
    for def in spec.settings.iter().filter(|d| d.credential.is_some()) {
        let literal = raw.0.get(&def.name).filter(|v| !v.trim().is_empty());
        let (value, from) = match (literal, grants.get(&def.name)) {
            (Some(v), _) => (
                Some(v.trim().to_string()),
                "-s (a literal value)".to_string(),
            ),
            (None, Some(source)) => (
                source.read(env).map_err(|e| {
                    Failure::Config(format!("secret `{}` from {source}: {e}", def.name))
                })?,
                source.to_string(),
            ),
            (None, None) => (None, String::new()),
        };
        match value {
            Some(v) => {
                secrets.add(&v);
                granted.push((def, v));
                sources.push((def.name.clone(), from));
            }
            None if def.required => return Err(missing_secret(def, env)),
            None => {}
        }
    }
    Ok((granted, secrets, sources))
}

/// The non-secret settings the operator gave, each checked against its type, for `configure`.
fn plain_settings(raw: &RawSettings, spec: &ConnectorSpec) -> Result<Vec<Setting>, Failure> {
    let mut connector = Vec::new();
    for def in spec.settings.iter().filter(|d| d.credential.is_none()) {
        match raw.0.get(&def.name) {
            Some(v) => {
                check_value(def, v)?;
                connector.push(Setting {
                    name: def.name.clone(),
                    value: v.clone(),
                });
            }
            None if def.required => {
                return Err(Failure::Config(format!(
                    "missing required setting `{}` ({}): pass -s {}=...",
                    def.name, def.description, def.name
                )));
            }
            None => {}
        }
    }
    Ok(connector)
}

/// A value of the shape its setting's type says: a boolean (`true`/`false`, or `yes`/`no`,
/// `on`/`off`, `1`/`0`), a whole number, an absolute http(s) URL. Text and lists take anything.
fn check_value(def: &SettingSpec, value: &str) -> Result<(), Failure> {
    if skips(Duty::SettingShapes) {
        return Ok(());
    }
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
///
/// Where a secret goes is the operator's word: the base URL's origin (which is also what the
/// allow-list admits by default), or the origin of a setting the operator set. A component's
/// own default for any other setting is a claim, and no secret follows it.
fn credentials(
    granted: &[(&SettingSpec, String)],
    spec: &ConnectorSpec,
    value_of: &dyn Fn(&str) -> Option<String>,
    given: &dyn Fn(&str) -> bool,
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
        let origin_setting = declared.origin_setting.as_str();
        let is_base_url = spec.base_url_setting.as_deref() == Some(origin_setting);
        if !is_base_url && !given(origin_setting) {
            return Err(Failure::Config(format!(
                "secret `{}` would go to the origin in setting `{origin_setting}`, which only \
                 the component's default sets; a secret goes to the base URL's origin or to \
                 one you name: pass -s {origin_setting}=URL",
                def.name
            )));
        }
        let url = needs(origin_setting, "its origin")?;
        let origin = Origin::parse(&url)
            .map_err(|e| Failure::Config(format!("setting `{origin_setting}`: {e}")))?;
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

/// The host's own settings in `raw`: `host.NAME`, or a plain host setting name (a connector
/// cannot declare one). A name neither knows is an error that lists the known ones.
fn host_values<'a>(
    raw: &'a RawSettings,
    spec: &ConnectorSpec,
) -> Result<BTreeMap<&'a str, &'a str>, Failure> {
    let mut host = BTreeMap::new();
    for (name, value) in &raw.0 {
        match name.strip_prefix(HOST_PREFIX) {
            Some(h) if is_host_setting(h) => {
                host.insert(h, value.as_str());
            }
            _ if is_host_setting(name) => {
                host.entry(name.as_str()).or_insert(value.as_str());
            }
            _ if spec.settings.iter().any(|s| &s.name == name) => {}
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
/// `sole_instance`: the process runs this one instance at a time, so its resident memory may
/// serve as a backstop (see [`Limits::watch_host_memory`]).
pub fn limits(raw: &RawSettings, sole_instance: bool) -> Result<Limits, Failure> {
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
    Ok(Limits {
        watch_host_memory: sole_instance,
        ..read_limits(&values)?
    })
}

/// The limits in `values`; the process's memory is not watched (see [`limits`]).
fn read_limits(values: &BTreeMap<&str, &str>) -> Result<Limits, Failure> {
    Ok(Limits {
        memory_bytes: (whole_number(values, "memory-limit-mb")? as usize) << 20,
        cpu_per_call: Duration::from_secs(whole_number(values, "cpu-limit-secs")?),
        wall_per_call: Duration::from_secs(whole_number(values, "call-timeout-secs")?),
        watch_host_memory: false,
    })
}

/// The whole number under `name`, else its default from [`HOST_SETTINGS`].
fn whole_number(values: &BTreeMap<&str, &str>, name: &str) -> Result<u64, Failure> {
    match values.get(name) {
        None => Ok(host_setting(name)
            .and_then(|h| h.default)
            .expect("a number setting has its default in HOST_SETTINGS")),
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
    let num = |name: &str| whole_number(values, name);
    let secs = |name: &str| num(name).map(Duration::from_secs);
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
        max_retries: u32::try_from(num("max-retries")?).unwrap_or(u32::MAX),
        max_retry_after: secs("max-retry-wait-secs")?,
        ..RetryPolicy::DEFAULT
    };
    Ok(HostSettings {
        policy,
        ca_file: values.get("ca-file").map(PathBuf::from),
        max_requests: num("max-requests")?,
        max_pages: num("max-pages")?,
        max_page_records: num("max-page-records")?,
        max_response_bytes: num("max-response-mb")? << 20,
        timeouts: Timeouts {
            connect: secs("connect-timeout-secs")?,
            first_byte: secs("first-byte-timeout-secs")?,
            between_bytes: secs("between-bytes-timeout-secs")?,
        },
        retry,
        limits: read_limits(values)?,
    })
}

#[cfg(test)]
mod tests;
