//! The connector's settings: their spec (for `describe`), validation (for `configure`), and the
//! filters they turn into (pushed to the API and re-checked on every record).

use crate::mapping;
use crate::model::{Alert, Location};
use crate::wit::{ConnectorError, ConnectorSpec, CredentialScheme, Setting, Severity};
use connector_sdk::settings::{self, SettingSpecExt, Settings, SpecBuilder};

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

/// The connector's self-description for `describe`: its settings and their defaults, which
/// [`Config::parse`] reads `configure`'s values against.
pub fn spec() -> ConnectorSpec {
    let secret = settings::secret(
        "api-token",
        "Socket organisation API token with the scopes repo:list and alerts:list",
        CredentialScheme::Bearer,
        "base-url",
    );
    SpecBuilder::new(
        "socket",
        "Socket",
        "Socket.dev repositories (Resources) and security alerts (AppSec Issues V1 and \
         Vulnerability Findings V2), one finding per alert location.",
    )
    .version(env!("CARGO_PKG_VERSION"))
    .tenant(
        settings::text(
            "org-slug",
            "Socket organisation slug, as in https://socket.dev/dashboard/org/<org-slug>/",
        )
        .required(),
    )
    .setting(secret.env(&TOKEN_ENV_VARS))
    .base_url("base-url", "Socket REST API base URL", DEFAULT_BASE_URL)
    .setting(
        settings::boolean(
            "include-cleared",
            "A full sync also takes cleared alerts (an incremental sync always does)",
        )
        .default("false"),
    )
    .setting(
        settings::list(
            "repo-slugs",
            "Only alerts located in these repositories (comma separated slugs)",
        )
        .narrows(),
    )
    .setting(
        settings::text(
            "min-severity",
            "Only alerts at or above this severity: low, medium, high or critical",
        )
        .narrows(),
    )
    .setting(
        settings::list(
            "categories",
            "Only these alert categories, e.g. vulnerability,supplyChainRisk,maintenance,license,quality",
        )
        .narrows(),
    )
    .setting(
        settings::list(
            "ecosystems",
            "Only packages of these ecosystems, e.g. npm,pypi,maven,golang",
        )
        .narrows(),
    )
    .resource_type(mapping::REPOSITORY)
    .build()
}

impl Config {
    /// Validates the non-secret settings against [`spec`]. Every error names the setting and
    /// the bad value.
    pub fn parse(given: &[Setting]) -> Result<Config, ConnectorError> {
        let s = Settings::read(&spec(), given)?;
        let org = parse_slug(s.text("org-slug").unwrap_or_default())?;
        let min_severity = parse_min_severity(s.text("min-severity").unwrap_or_default())?;
        Ok(Config {
            org,
            base_url: s.url("base-url").unwrap_or(DEFAULT_BASE_URL).to_string(),
            include_cleared: s.flag("include-cleared"),
            filter: Filter {
                repo_slugs: s.list("repo-slugs").to_vec(),
                min_severity,
                categories: s.list("categories").to_vec(),
                ecosystems: s.list("ecosystems").to_vec(),
                status: None,
            },
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
        Err(settings::invalid(
            "org-slug",
            &format!("{value:?} is not an organisation slug (letters, digits, '-', '_', '.')"),
        ))
    }
}

fn parse_min_severity(value: &str) -> Result<Option<Severity>, ConnectorError> {
    match value.to_ascii_lowercase().as_str() {
        "" | "info" => Ok(None),
        v @ ("low" | "medium" | "middle" | "high" | "critical") => {
            Ok(Some(mapping::severity(Some(v))))
        }
        _ => Err(settings::invalid(
            "min-severity",
            &format!("{value:?} is not one of low, medium, high, critical"),
        )),
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
