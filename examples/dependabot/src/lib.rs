//! GitHub Dependabot alerts of one organisation: its repositories as Resources, its alerts as
//! findings. The worked example of `docs/connector-guide.md`: everything here is vendor logic,
//! the SDK carries the rest (settings, ids, dates, paging, errors, the export).
//!
//! API: `GET {base}/orgs/{org}/repos` and `GET {base}/orgs/{org}/dependabot/alerts`, both paged
//! by the `Link` header, newest update first for alerts so an incremental sync stops early.

use connector_sdk::http::{Http, Request, Response};
use connector_sdk::ids::Ids;
use connector_sdk::page::{json_field, read_each};
use connector_sdk::settings::{self, SettingSpecExt, Settings, SpecBuilder};
use connector_sdk::wit::*;
use connector_sdk::{Connector, cursor, errors, time, url};
use serde::Deserialize;

const DEFAULT_BASE_URL: &str = "https://api.github.com";
const REPOS: &str = "repos";
const ALERTS: &str = "alerts";

pub struct Dependabot {
    base_url: String,
    org: String,
    states: Vec<String>,
    ids: Ids,
}

#[derive(Deserialize)]
struct Repo {
    id: u64,
    name: String,
    full_name: String,
    html_url: Option<String>,
    default_branch: Option<String>,
    private: Option<bool>,
    archived: Option<bool>,
    created_at: Option<String>,
    updated_at: Option<String>,
}

#[derive(Deserialize)]
struct Alert {
    number: u64,
    state: String,
    html_url: Option<String>,
    created_at: Option<String>,
    updated_at: String,
    dependency: Dependency,
    security_advisory: Advisory,
    security_vulnerability: Option<Vulnerable>,
    repository: AlertRepo,
}

#[derive(Deserialize)]
struct Dependency {
    package: Package,
    manifest_path: Option<String>,
}

#[derive(Deserialize)]
struct Package {
    ecosystem: String,
    name: String,
}

#[derive(Deserialize)]
struct Advisory {
    ghsa_id: String,
    cve_id: Option<String>,
    summary: String,
    description: Option<String>,
    severity: String,
    cvss: Option<Cvss>,
}

#[derive(Deserialize)]
struct Cvss {
    score: Option<f64>,
    vector_string: Option<String>,
}

#[derive(Deserialize)]
struct Vulnerable {
    first_patched_version: Option<Patched>,
}

#[derive(Deserialize)]
struct Patched {
    identifier: String,
}

#[derive(Deserialize)]
struct AlertRepo {
    id: u64,
    full_name: String,
}

impl Connector for Dependabot {
    fn describe() -> ConnectorSpec {
        let token = "GitHub token that can read the organisation's Dependabot alerts";
        SpecBuilder::new(
            "dependabot",
            "GitHub",
            "Repositories and Dependabot alerts of a GitHub organisation.",
        )
        .version(env!("CARGO_PKG_VERSION"))
        .tenant(settings::text("org", "GitHub organisation login").required())
        .base_url("base-url", "GitHub REST API base URL", DEFAULT_BASE_URL)
        .setting(
            settings::secret("token", token, CredentialScheme::Bearer, "base-url")
                .env(&["GITHUB_TOKEN"]),
        )
        .setting(settings::list("states", "Only alerts in these states, e.g. open,fixed").narrows())
        .resource_type("repository")
        .build()
    }

    fn configure(_: &RuntimeInfo, given: Vec<Setting>) -> Result<Self, ConnectorError> {
        let s = Settings::read(&Self::describe(), &given)?;
        Ok(Dependabot {
            base_url: s.url("base-url").unwrap_or(DEFAULT_BASE_URL).to_string(),
            org: s.text("org").unwrap_or_default().to_string(),
            states: s.list("states").to_vec(),
            ids: Ids::new("https://github.com/"),
        })
    }

    fn check(&mut self, http: &mut dyn Http) -> Result<CheckReport, ConnectorError> {
        let url = format!(
            "{}/orgs/{}/dependabot/alerts?per_page=1",
            self.base_url, self.org
        );
        let response = self.get(http, &url)?;
        let header = |name: &str| response.header(name).and_then(|v| v.parse().ok());
        Ok(CheckReport {
            messages: vec![format!("the token can read the alerts of {}", self.org)],
            quota_remaining: header("x-ratelimit-remaining"),
            quota_max: header("x-ratelimit-limit"),
            quota_refresh: None,
        })
    }

    fn list_resources(
        &mut self,
        http: &mut dyn Http,
        cursor: Option<String>,
    ) -> Result<AssetPage, ConnectorError> {
        let first = format!("{}/orgs/{}/repos?per_page=100", self.base_url, self.org);
        let url = self.page_url(REPOS, cursor.as_deref(), first)?;
        let response = self.get(http, &url)?;
        let raw: Vec<serde_json::Value> = errors::json(&self.endpoint(&url), &response)?;
        let page = read_each(
            "repos",
            &raw,
            |r| json_field(r, "id"),
            |r| {
                let repo = Repo::deserialize(r).map_err(|e| e.to_string())?;
                Ok(self.asset(repo, r))
            },
        );
        Ok(AssetPage {
            items: page.items,
            next_cursor: next_cursor(REPOS, &response),
            skipped: page.skipped,
        })
    }

    fn list_findings(
        &mut self,
        http: &mut dyn Http,
        query: FindingQuery,
    ) -> Result<FindingPage, ConnectorError> {
        let mut params = vec![
            ("per_page", "100"),
            ("sort", "updated"),
            ("direction", "desc"),
        ];
        let states = self.states.join(",");
        if !states.is_empty() {
            params.push(("state", &states));
        }
        let base = format!("{}/orgs/{}/dependabot/alerts", self.base_url, self.org);
        let url = self.page_url(
            ALERTS,
            query.cursor.as_deref(),
            url::with_query(&base, &params),
        )?;
        let response = self.get(http, &url)?;
        let raw: Vec<serde_json::Value> = errors::json(&self.endpoint(&url), &response)?;
        let since = query.updated_since.as_deref().and_then(time::parse);
        // Newest update first: past the first alert older than `since`, none is newer.
        let fresh = |r: &serde_json::Value| {
            let updated = r["updated_at"].as_str().and_then(time::parse);
            since.is_none_or(|since| updated.is_none_or(|u| u >= since))
        };
        let kept: Vec<serde_json::Value> = raw.iter().take_while(|r| fresh(r)).cloned().collect();
        let page = read_each(
            "alerts",
            &kept,
            |r| json_field(r, "number"),
            |r| {
                let alert = Alert::deserialize(r).map_err(|e| e.to_string())?;
                Ok(self.finding(alert, r))
            },
        );
        Ok(FindingPage {
            items: page.items,
            next_cursor: next_cursor(ALERTS, &response).filter(|_| kept.len() == raw.len()),
            // The server's clock when the listing started: its `Date` on the first page.
            query_started_at: response
                .header("date")
                .and_then(time::rfc3339_of_http_date)
                .filter(|_| query.cursor.is_none()),
            vendor_records: kept.len() as u32,
            skipped: page.skipped,
        })
    }
}

/// The `rel="next"` link of a response, as this listing's cursor.
fn next_cursor(listing: &str, response: &Response) -> Option<String> {
    let next = response.header("link").and_then(url::next_link)?;
    Some(cursor::encode(listing, &next))
}

impl Dependabot {
    /// The first page's URL, or the next page a cursor holds: a link GitHub gave, followed only
    /// to the API's own origin (the runtime sends the token there).
    fn page_url(
        &self,
        listing: &str,
        cursor: Option<&str>,
        first: String,
    ) -> Result<String, ConnectorError> {
        let Some(cursor) = cursor else {
            return Ok(first);
        };
        let next = cursor::decode(listing, cursor)?;
        if !url::same_origin(next, &self.base_url) {
            return Err(ConnectorError::InvalidCursor(format!(
                "{next:?} is not under {}",
                self.base_url
            )));
        }
        Ok(next.to_string())
    }

    /// `GET /path` of a URL, for error messages.
    fn endpoint(&self, url: &str) -> String {
        let path = url.strip_prefix(&self.base_url).unwrap_or(url);
        format!("GET {}", path.split('?').next().unwrap_or(path))
    }

    fn get(&self, http: &mut dyn Http, url: &str) -> Result<Response, ConnectorError> {
        let request = Request::get(url)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .header(
                "user-agent",
                concat!("dependabot-connector/", env!("CARGO_PKG_VERSION")),
            );
        let unknown =
            "the organisation is unknown, or the token cannot see its alerts: check `org`";
        errors::success(&self.endpoint(url), http.send(&request), unknown)
    }

    fn repo_id(&self, repo_id: u64) -> String {
        self.ids.id(&[
            Some("repository"),
            Some(&self.org),
            Some(&repo_id.to_string()),
        ])
    }

    fn asset(&self, repo: Repo, raw: &serde_json::Value) -> Asset {
        Asset {
            id: self.repo_id(repo.id),
            resource_type: "repository".to_string(),
            vendor_id: repo.id.to_string(),
            name: repo.name.clone(),
            slug: Some(repo.name),
            full_name: Some(repo.full_name),
            workspace: Some(self.org.clone()),
            url: repo.html_url,
            default_branch: repo.default_branch,
            visibility: repo
                .private
                .map(|p| if p { "private" } else { "public" }.to_string()),
            archived: repo.archived.unwrap_or(false),
            created_at: repo.created_at.as_deref().and_then(time::to_rfc3339_utc),
            updated_at: repo.updated_at.as_deref().and_then(time::to_rfc3339_utc),
            vendor_data: raw.to_string(),
        }
    }

    fn finding(&self, alert: Alert, raw: &serde_json::Value) -> Finding {
        let advisory = alert.security_advisory;
        let number = alert.number.to_string();
        let repo = &alert.repository.full_name;
        let fixed = alert
            .security_vulnerability
            .and_then(|v| v.first_patched_version)
            .map(|p| p.identifier);
        let updated = time::to_rfc3339_utc(&alert.updated_at);
        let cvss = advisory
            .cvss
            .as_ref()
            .and_then(|c| c.score)
            .filter(|s| *s > 0.0);
        let ids: Vec<String> = [Some(advisory.ghsa_id.clone()), advisory.cve_id.clone()]
            .into_iter()
            .flatten()
            .collect();
        Finding {
            id: self.ids.id(&[
                Some("dependabot-alert"),
                Some(&self.org),
                Some(repo),
                Some(&number),
            ]),
            vendor_id: format!("{repo}#{number}"),
            title: advisory.summary,
            description: advisory.description,
            issue_type: IssueType::Vulnerability,
            finding_type: FindingType::Dependency,
            severity: severity(&advisory.severity),
            vendor_severity: Some(advisory.severity),
            state: match alert.state.as_str() {
                "fixed" | "auto_dismissed" => State::Closed,
                "dismissed" => State::Ignored,
                _ => State::Open,
            },
            first_seen: alert.created_at.as_deref().and_then(time::to_rfc3339_utc),
            last_seen: updated.clone(),
            state_updated_at: updated,
            resource_id: Some(self.repo_id(alert.repository.id)),
            code_repo: Some(repo.clone()),
            branch: None,
            affected_package: Some(AffectedPackage {
                name: alert.dependency.package.name,
                version: None,
                package_manager: Some(alert.dependency.package.ecosystem),
                purl: None,
            }),
            affected_code: alert.dependency.manifest_path.map(|path| AffectedCode {
                file_path: path,
                start_line: None,
                end_line: None,
            }),
            has_fix: fixed.is_some(),
            remediation: fixed.as_ref().map(|f| format!("upgrade to {f}")),
            cvss_score: cvss,
            vulnerability_identifiers: ids.clone(),
            vulnerabilities: ids
                .iter()
                .map(|id| Vulnerability {
                    uid: Some(id.clone()),
                    cvss_score: cvss,
                    cvss_vector: advisory.cvss.as_ref().and_then(|c| c.vector_string.clone()),
                    epss_score: None,
                    epss_percentile: None,
                    is_kev: None,
                    cwe_ids: vec![],
                    fixed_version: fixed.clone(),
                })
                .collect(),
            analytic: Analytic {
                uid: advisory.ghsa_id.clone(),
                name: advisory.ghsa_id,
                url: None,
            },
            kb_url: alert.html_url,
            vendor_data: raw.to_string(),
        }
    }
}

fn severity(s: &str) -> Severity {
    match s.to_ascii_lowercase().as_str() {
        "critical" => Severity::Critical,
        "high" => Severity::High,
        "medium" | "moderate" => Severity::Medium,
        "low" => Severity::Low,
        "" => Severity::Unknown,
        _ => Severity::Other,
    }
}

#[cfg(target_arch = "wasm32")]
connector_sdk::export_connector!(Dependabot);

#[cfg(test)]
mod tests {
    use super::*;
    use connector_sdk::testing::Routes;

    const ALERTS_PATH: &str = "/orgs/acme/dependabot/alerts";

    fn configured(extra: &[(&str, &str)]) -> Dependabot {
        let mut given = vec![
            Setting {
                name: "org".into(),
                value: "acme".into(),
            },
            Setting {
                name: "base-url".into(),
                value: "http://127.0.0.1:9".into(),
            },
        ];
        given.extend(extra.iter().map(|(n, v)| Setting {
            name: n.to_string(),
            value: v.to_string(),
        }));
        let runtime = RuntimeInfo {
            name: "test".into(),
            retries_transient: true,
        };
        Dependabot::configure(&runtime, given).ok().unwrap()
    }

    fn alert(number: u64, updated: &str) -> serde_json::Value {
        serde_json::json!({
            "number": number, "state": "open", "updated_at": updated,
            "dependency": { "package": { "ecosystem": "npm", "name": "lodash" } },
            "security_advisory": { "ghsa_id": "GHSA-1", "summary": "Prototype pollution", "severity": "high" },
            "repository": { "id": 7, "full_name": "acme/web" }
        })
    }

    #[test]
    fn an_incremental_listing_stops_at_the_first_older_alert() {
        let page = serde_json::json!([
            alert(3, "2026-05-03T00:00:00Z"),
            alert(2, "2026-05-01T00:00:00Z"),
            alert(1, "2026-04-01T00:00:00Z")
        ]);
        let mut http = Routes::new().on(
            ALERTS_PATH,
            &[("sort", "updated"), ("direction", "desc")],
            Response::new(200, page.to_string())
                .with_header(
                    "link",
                    "<http://127.0.0.1:9/orgs/acme/dependabot/alerts?after=x>; rel=\"next\"",
                )
                .with_header("date", "Wed, 06 May 2026 10:00:00 GMT"),
        );
        let query = FindingQuery {
            cursor: None,
            updated_since: Some("2026-05-01T00:00:00Z".into()),
        };
        let page = configured(&[])
            .list_findings(&mut http, query)
            .ok()
            .unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(
            page.next_cursor, None,
            "nothing newer lies past an older alert"
        );
        assert_eq!(
            page.query_started_at.as_deref(),
            Some("2026-05-06T10:00:00Z")
        );
        assert_eq!(page.items[0].severity, Severity::High);
    }

    #[test]
    fn states_are_pushed_to_github_and_links_followed_only_to_its_origin() {
        let mut http = Routes::new().on(
            ALERTS_PATH,
            &[("state", "open,fixed")],
            Response::new(200, "[]"),
        );
        let mut c = configured(&[("states", "open, fixed")]);
        let query = FindingQuery {
            cursor: None,
            updated_since: None,
        };
        c.list_findings(&mut http, query).ok().unwrap();
        assert!(
            http.requests[0].url.contains("state=open,fixed"),
            "{}",
            http.requests[0].url
        );
        let stolen = FindingQuery {
            cursor: Some(cursor::encode(ALERTS, "https://evil.example/x")),
            updated_since: None,
        };
        assert!(matches!(
            c.list_findings(&mut http, stolen),
            Err(ConnectorError::InvalidCursor(_))
        ));
    }
}
