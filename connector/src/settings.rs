//! The connector's settings: their spec (for `describe`), validation (for `configure`), and the
//! filters they turn into (pushed to the API and re-checked on every record).

use crate::mapping;
use crate::model::{Alert, Location};
use crate::wit::{
    ConnectorError, ConnectorSpec, Credential, CredentialScheme, Setting, SettingSpec, SettingType,
    Severity,
};

pub const DEFAULT_BASE_URL: &str = "https://api.socket.dev/v0";

/// Environment variables Socket's official SDK reads the token from, in its order.
pub const TOKEN_ENV_VARS: [&str; 4] = [
    "SOCKET_SECURITY_API_TOKEN",
    "SOCKET_SECURITY_API_KEY",
    "SOCKET_API_KEY",
    "SOCKET_API_TOKEN",
];

/// Validated settings for one run.
#[derive(Debug, Clone)]
pub struct Config {
    pub org: String,
    /// Without a trailing slash, e.g. `https://api.socket.dev/v0`.
    pub base_url: String,
    pub include_cleared: bool,
    pub filter: Filter,
}

/// What the user asked to keep. Pushed to Socket as `filters.*` and re-applied to every record,
/// so a server that ignores a filter still yields exactly the asked-for set.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub repo_slugs: Vec<String>,
    pub min_severity: Option<Severity>,
    pub categories: Vec<String>,
    pub ecosystems: Vec<String>,
    /// Set per listing pass: only alerts with this `status` belong to the pass.
    pub status: Option<&'static str>,
}

impl Filter {
    pub fn keeps_alert(&self, alert: &Alert) -> bool {
        if let Some(status) = self.status {
            // A missing status is Socket's default, `open`.
            if alert.status.as_deref().unwrap_or("open") != status {
                return false;
            }
        }
        if let Some(min) = self.min_severity {
            let sev = mapping::severity(alert.severity.as_deref());
            if mapping::severity_rank(sev) < mapping::severity_rank(min) {
                return false;
            }
        }
        self.categories.is_empty()
            || alert
                .category
                .as_deref()
                .is_some_and(|c| self.categories.iter().any(|x| x == c))
    }

    pub fn keeps_location(&self, loc: &Location) -> bool {
        let slug = loc.repo_slug();
        let eco = loc
            .artifact
            .as_ref()
            .and_then(|a| a.artifact_type.as_deref());
        let listed = |list: &[String], v: Option<&str>| {
            list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x == v))
        };
        listed(&self.repo_slugs, slug) && listed(&self.ecosystems, eco)
    }

    /// An alert without locations has no repository or ecosystem to match.
    pub fn keeps_unlocated(&self) -> bool {
        self.repo_slugs.is_empty() && self.ecosystems.is_empty()
    }

    /// Socket `filters.*` query parameters for this filter.
    pub fn query_params(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(status) = self.status {
            q.push(("filters.alertStatus", status.to_string()));
        }
        if !self.repo_slugs.is_empty() {
            q.push(("filters.repoSlug", self.repo_slugs.join(",")));
        }
        if let Some(min) = self.min_severity {
            let levels: Vec<&str> = ["low", "medium", "high", "critical"]
                .into_iter()
                .filter(|l| {
                    mapping::severity_rank(mapping::severity(Some(l)))
                        >= mapping::severity_rank(min)
                })
                .collect();
            q.push(("filters.alertSeverity", levels.join(",")));
        }
        if !self.categories.is_empty() {
            q.push(("filters.alertCategory", self.categories.join(",")));
        }
        if !self.ecosystems.is_empty() {
            q.push(("filters.artifactType", self.ecosystems.join(",")));
        }
        q
    }
}

struct Def {
    name: &'static str,
    description: &'static str,
    required: bool,
    default: Option<&'static str>,
    /// A secret: the host sends it as a bearer token to the base URL's origin.
    secret: bool,
    env: &'static [&'static str],
    value_type: SettingType,
    /// A filter: a sync with it set sees only part of the organisation.
    narrows: bool,
}

const SETTINGS: &[Def] = &[
    Def {
        name: "org-slug",
        description: "Socket organisation slug, as in https://socket.dev/dashboard/org/<org-slug>/",
        required: true,
        default: None,
        secret: false,
        env: &[],
        narrows: false,
        value_type: SettingType::Text,
    },
    Def {
        name: "api-token",
        description: "Socket organisation API token with the scopes repo:list and alerts:list",
        required: true,
        default: None,
        secret: true,
        env: &TOKEN_ENV_VARS,
        narrows: false,
        value_type: SettingType::Text,
    },
    Def {
        name: "base-url",
        description: "Socket REST API base URL",
        required: false,
        default: Some(DEFAULT_BASE_URL),
        secret: false,
        env: &[],
        narrows: false,
        value_type: SettingType::Url,
    },
    Def {
        name: "include-cleared",
        description: "A full sync also takes cleared alerts (an incremental sync always does)",
        required: false,
        default: Some("false"),
        secret: false,
        env: &[],
        narrows: false,
        value_type: SettingType::Boolean,
    },
    Def {
        name: "repo-slugs",
        description: "Only alerts located in these repositories (comma separated slugs)",
        required: false,
        default: None,
        secret: false,
        env: &[],
        narrows: true,
        value_type: SettingType::List,
    },
    Def {
        name: "min-severity",
        description: "Only alerts at or above this severity: low, medium, high or critical",
        required: false,
        default: None,
        secret: false,
        env: &[],
        narrows: true,
        value_type: SettingType::Text,
    },
    Def {
        name: "categories",
        description: "Only these alert categories, e.g. vulnerability,supplyChainRisk,maintenance,license,quality",
        required: false,
        default: None,
        secret: false,
        env: &[],
        narrows: true,
        value_type: SettingType::List,
    },
    Def {
        name: "ecosystems",
        description: "Only packages of these ecosystems, e.g. npm,pypi,maven,golang",
        required: false,
        default: None,
        secret: false,
        env: &[],
        narrows: true,
        value_type: SettingType::List,
    },
];

/// The connector's self-description for `describe`.
pub fn spec() -> ConnectorSpec {
    ConnectorSpec {
        name: "socket".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        vendor: "Socket".to_string(),
        description:
            "Socket.dev repositories (Resources) and security alerts (AppSec Issues V1 and \
                      Vulnerability Findings V2), one finding per alert location."
                .to_string(),
        base_url_setting: Some("base-url".to_string()),
        tenant_setting: Some("org-slug".to_string()),
        resource_types: vec![crate::normalize::REPOSITORY.to_string()],
        settings: SETTINGS
            .iter()
            .map(|d| SettingSpec {
                name: d.name.to_string(),
                description: d.description.to_string(),
                required: d.required,
                default_value: d.default.map(str::to_string),
                credential: d.secret.then(|| Credential {
                    scheme: CredentialScheme::Bearer,
                    origin_setting: "base-url".to_string(),
                }),
                suggested_env: d.env.iter().map(|s| s.to_string()).collect(),
                value_type: d.value_type,
                narrows: d.narrows,
            })
            .collect(),
    }
}

impl Config {
    /// Validates the non-secret settings. Every error names the setting and the bad value.
    pub fn parse(settings: &[Setting]) -> Result<Config, ConnectorError> {
        let invalid = |msg: String| ConnectorError::InvalidConfig(msg);
        let mut org = None;
        let mut base_url = DEFAULT_BASE_URL.to_string();
        let mut include_cleared = false;
        let mut filter = Filter::default();
        for s in settings {
            let value = s.value.trim();
            match s.name.as_str() {
                "org-slug" => org = Some(parse_slug(value)?),
                "base-url" => base_url = parse_base_url(value)?,
                "include-cleared" => include_cleared = parse_bool("include-cleared", value)?,
                "repo-slugs" => filter.repo_slugs = parse_list(value),
                "categories" => filter.categories = parse_list(value),
                "ecosystems" => filter.ecosystems = parse_list(value),
                "min-severity" => filter.min_severity = parse_min_severity(value)?,
                "api-token" => {
                    return Err(invalid(
                        "setting `api-token` is secret: the host keeps it and attaches it to requests; \
                         it must not be passed to the component"
                            .to_string(),
                    ));
                }
                other => return Err(invalid(format!("unknown setting `{other}`"))),
            }
        }
        let org = org.ok_or_else(|| invalid("missing required setting `org-slug`".to_string()))?;
        Ok(Config {
            org,
            base_url,
            include_cleared,
            filter,
        })
    }
}

fn parse_slug(value: &str) -> Result<String, ConnectorError> {
    let ok = !value.is_empty()
        && value.len() <= 200
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && value != "."
        && value != "..";
    if ok {
        Ok(value.to_string())
    } else {
        Err(ConnectorError::InvalidConfig(format!(
            "setting `org-slug`: {value:?} is not an organisation slug (letters, digits, '-', '_', '.')"
        )))
    }
}

fn parse_base_url(value: &str) -> Result<String, ConnectorError> {
    let trimmed = value.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(['?', '#', ' ']) => {
            Ok(trimmed.to_string())
        }
        _ => Err(ConnectorError::InvalidConfig(format!(
            "setting `base-url`: {value:?} is not an http(s) URL such as {DEFAULT_BASE_URL}"
        ))),
    }
}

pub fn parse_bool(name: &str, value: &str) -> Result<bool, ConnectorError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(ConnectorError::InvalidConfig(format!(
            "setting `{name}`: {value:?} is not a boolean (true or false)"
        ))),
    }
}

fn parse_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_min_severity(value: &str) -> Result<Option<Severity>, ConnectorError> {
    match value.to_ascii_lowercase().as_str() {
        "" | "info" => Ok(None),
        v @ ("low" | "medium" | "middle" | "high" | "critical") => {
            Ok(Some(mapping::severity(Some(v))))
        }
        _ => Err(ConnectorError::InvalidConfig(format!(
            "setting `min-severity`: {value:?} is not one of low, medium, high, critical"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> Vec<Setting> {
        pairs
            .iter()
            .map(|(n, v)| Setting {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect()
    }

    fn err_text(e: ConnectorError) -> String {
        match e {
            ConnectorError::InvalidConfig(m) => m,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    #[test]
    fn defaults_apply() {
        let c = Config::parse(&set(&[("org-slug", "acme-corp")])).unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert!(!c.include_cleared);
        assert!(c.filter.query_params().is_empty());
    }

    #[test]
    fn every_bad_value_names_its_setting() {
        let cases = [
            (vec![], "org-slug"),
            (vec![("org-slug", "acme/../x")], "org-slug"),
            (vec![("org-slug", "a"), ("base-url", "ftp://x")], "base-url"),
            (
                vec![("org-slug", "a"), ("include-cleared", "maybe")],
                "include-cleared",
            ),
            (
                vec![("org-slug", "a"), ("min-severity", "severe")],
                "min-severity",
            ),
            (vec![("org-slug", "a"), ("colour", "red")], "colour"),
            (vec![("org-slug", "a"), ("api-token", "x")], "api-token"),
        ];
        for (pairs, name) in cases {
            let msg = err_text(Config::parse(&set(&pairs)).unwrap_err());
            assert!(msg.contains(name), "{msg}");
        }
    }

    #[test]
    fn filters_become_socket_query_params() {
        let c = Config::parse(&set(&[
            ("org-slug", "a"),
            ("repo-slugs", "web-app, payments-api"),
            ("min-severity", "high"),
            ("categories", "vulnerability"),
            ("ecosystems", "npm,pypi"),
            ("base-url", "http://127.0.0.1:8080/v0/"),
        ]))
        .unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:8080/v0");
        assert_eq!(
            c.filter.query_params(),
            vec![
                ("filters.repoSlug", "web-app,payments-api".to_string()),
                ("filters.alertSeverity", "high,critical".to_string()),
                ("filters.alertCategory", "vulnerability".to_string()),
                ("filters.artifactType", "npm,pypi".to_string()),
            ]
        );
    }

    #[test]
    fn spec_marks_the_token_secret_with_sdk_env_order() {
        let s = spec();
        let token = s.settings.iter().find(|d| d.name == "api-token").unwrap();
        assert!(token.credential.is_some() && token.required);
        assert_eq!(
            token.suggested_env,
            TOKEN_ENV_VARS.map(String::from).to_vec()
        );
        assert!(s.settings.iter().filter(|d| d.credential.is_some()).count() == 1);
    }
}
