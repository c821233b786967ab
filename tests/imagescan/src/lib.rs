//! Imagescan: a small, made-up container-image scanner, and a connector for it built on the
//! guest SDK. It differs from Socket wherever a vendor can:
//!
//! - credentials: an API key in an `X-Api-Key` header (declared, so the host attaches it);
//! - resources: container images (`container-image`), listed by offset (`?offset=&limit=`);
//! - findings: vulnerability reports, paged by the `Link: <...>; rel="next"` header, with the
//!   server's clock from the standard `Date` header as the high-water mark;
//! - incremental sync: `?updated_since=`.
//!
//! API: `GET {base}/v1/projects/{project}` (check), `.../images`, `.../vulnerabilities`.

use connector_sdk::http::{Http, Request, Response};
use connector_sdk::wit::*;
use connector_sdk::{Connector, cursor, errors};
use serde::Deserialize;

pub const IMAGES_PER_PAGE: u64 = 50;
pub const VULNS_PER_PAGE: u64 = 100;
const IMAGES: &str = "images";
const VULNS: &str = "vulns";
pub const CONTAINER_IMAGE: &str = "container-image";

pub struct Imagescan {
    base_url: String,
    project: String,
}

#[derive(Deserialize)]
struct ImagePage {
    images: Vec<serde_json::Value>,
    total: u64,
}

#[derive(Deserialize)]
struct Image {
    digest: String,
    repository: String,
    tag: Option<String>,
    pushed_at: Option<String>,
}

#[derive(Deserialize)]
struct Vuln {
    id: String,
    image_digest: Option<String>,
    cve: String,
    package: String,
    installed: Option<String>,
    fixed: Option<String>,
    severity: String,
    status: String,
    title: Option<String>,
    first_seen: Option<String>,
    updated_at: Option<String>,
}

fn setting(name: &str, description: &str, required: bool, default: Option<&str>) -> SettingSpec {
    SettingSpec {
        name: name.to_string(),
        description: description.to_string(),
        required,
        default_value: default.map(str::to_string),
        credential: None,
        suggested_env: vec![],
        value_type: SettingType::Text,
        narrows: false,
    }
}

impl Connector for Imagescan {
    fn describe() -> ConnectorSpec {
        ConnectorSpec {
            name: "imagescan".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            vendor: "Imagescan".to_string(),
            description: "Imagescan container images (Resources) and their vulnerability reports."
                .to_string(),
            base_url_setting: Some("base-url".to_string()),
            tenant_setting: Some("project".to_string()),
            resource_types: vec![CONTAINER_IMAGE.to_string()],
            settings: vec![
                setting("project", "Imagescan project id", true, None),
                SettingSpec {
                    value_type: SettingType::Url,
                    ..setting(
                        "base-url",
                        "Imagescan API base URL",
                        false,
                        Some("https://api.imagescan.example"),
                    )
                },
                SettingSpec {
                    credential: Some(Credential {
                        scheme: CredentialScheme::Header(HeaderCredential {
                            name: "X-Api-Key".to_string(),
                            prefix: None,
                        }),
                        origin_setting: "base-url".to_string(),
                    }),
                    suggested_env: vec!["IMAGESCAN_API_KEY".to_string()],
                    ..setting("api-key", "Imagescan API key", true, None)
                },
            ],
        }
    }

    fn configure(_: &RuntimeInfo, settings: Vec<Setting>) -> Result<Self, ConnectorError> {
        let get = |name: &str| {
            settings
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.value.trim())
        };
        let project = get("project")
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            .ok_or_else(|| {
                ConnectorError::InvalidConfig(
                    "setting `project`: required, letters, digits and `-`".to_string(),
                )
            })?;
        let base_url = get("base-url").unwrap_or("https://api.imagescan.example");
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(ConnectorError::InvalidConfig(format!(
                "setting `base-url`: {base_url:?} is not an http(s) URL"
            )));
        }
        Ok(Imagescan {
            base_url: base_url.trim_end_matches('/').to_string(),
            project: project.to_string(),
        })
    }

    fn check(&mut self, http: &mut dyn Http) -> Result<CheckReport, ConnectorError> {
        self.get(http, "", None)?;
        Ok(CheckReport {
            messages: vec![format!("the API key can read project {}", self.project)],
            quota_remaining: None,
            quota_max: None,
            quota_refresh: None,
        })
    }

    fn list_resources(
        &mut self,
        http: &mut dyn Http,
        cursor: Option<String>,
    ) -> Result<AssetPage, ConnectorError> {
        let offset = cursor::offset_of(IMAGES, cursor.as_deref())?;
        let query = format!("?offset={offset}&limit={IMAGES_PER_PAGE}");
        let (endpoint, resp) = self.get(http, "/images", Some(&query))?;
        let page: ImagePage = serde_json::from_slice(&resp.body)
            .map_err(|e| errors::malformed(&endpoint, format!("not the documented JSON: {e}")))?;
        let mut items = Vec::new();
        let mut skipped = Vec::new();
        for (i, raw) in page.images.iter().enumerate() {
            match serde_json::from_value::<Image>(raw.clone()) {
                Ok(image) => items.push(self.asset(image, raw)),
                Err(e) => skipped.push(SkippedRecord {
                    vendor_id: raw
                        .get("digest")
                        .and_then(|d| d.as_str())
                        .map(str::to_string),
                    reason: format!("images[{i}]: {e}"),
                }),
            }
        }
        let read = offset + page.images.len() as u64;
        let more = !page.images.is_empty() && read < page.total;
        Ok(AssetPage {
            items,
            next_cursor: more.then(|| cursor::offset(IMAGES, read)),
            skipped,
        })
    }

    fn list_findings(
        &mut self,
        http: &mut dyn Http,
        query: FindingQuery,
    ) -> Result<FindingPage, ConnectorError> {
        let path_and_query = match &query.cursor {
            Some(c) => cursor::decode(VULNS, c)?.to_string(),
            None => {
                let mut q = format!("/vulnerabilities?limit={VULNS_PER_PAGE}");
                if let Some(since) = &query.updated_since {
                    q.push_str(&format!("&updated_since={since}"));
                }
                q
            }
        };
        let (path, q) = path_and_query
            .split_once('?')
            .map_or((path_and_query.as_str(), None), |(p, q)| (p, Some(q)));
        let q = q.map(|q| format!("?{q}"));
        let (endpoint, resp) = self.get(http, path, q.as_deref())?;
        let records: Vec<serde_json::Value> = serde_json::from_slice(&resp.body)
            .map_err(|e| errors::malformed(&endpoint, format!("not a JSON array: {e}")))?;
        let mut items = Vec::new();
        let mut skipped = Vec::new();
        for (i, raw) in records.iter().enumerate() {
            match serde_json::from_value::<Vuln>(raw.clone()) {
                Ok(v) => items.push(self.finding(v, raw)),
                Err(e) => skipped.push(SkippedRecord {
                    vendor_id: raw.get("id").and_then(|d| d.as_str()).map(str::to_string),
                    reason: format!("vulnerabilities[{i}]: {e}"),
                }),
            }
        }
        let next = next_link(&resp, &self.project_url()).map(|rest| cursor::encode(VULNS, &rest));
        Ok(FindingPage {
            items,
            next_cursor: next,
            query_started_at: resp
                .header("date")
                .and_then(rfc3339_of_http_date)
                .filter(|_| query.cursor.is_none()),
            vendor_records: records.len() as u32,
            skipped,
        })
    }
}

impl Imagescan {
    fn project_url(&self) -> String {
        format!("{}/v1/projects/{}", self.base_url, self.project)
    }

    /// `GET {project}{path}{query}`: the body of a success, else the error it means.
    fn get(
        &self,
        http: &mut dyn Http,
        path: &str,
        query: Option<&str>,
    ) -> Result<(String, Response), ConnectorError> {
        let endpoint = format!("GET /v1/projects/{}{path}", self.project);
        let url = format!("{}{path}{}", self.project_url(), query.unwrap_or(""));
        let resp = http
            .send(&Request::get(url))
            .map_err(|e| errors::transport(&endpoint, &e))?;
        if !resp.is_success() {
            let message = errors::body_message(&resp.body);
            return Err(errors::from_status(
                &endpoint,
                &resp,
                &message,
                "the project is unknown or the key cannot see it",
            ));
        }
        Ok((endpoint, resp))
    }

    fn asset(&self, image: Image, raw: &serde_json::Value) -> Asset {
        let name = match &image.tag {
            Some(tag) => format!("{}:{tag}", image.repository),
            None => format!("{}@{}", image.repository, image.digest),
        };
        Asset {
            id: self.id("image", &image.digest),
            resource_type: CONTAINER_IMAGE.to_string(),
            vendor_id: image.digest,
            name,
            slug: None,
            full_name: Some(image.repository),
            workspace: None,
            url: None,
            default_branch: None,
            visibility: None,
            archived: false,
            created_at: image.pushed_at.clone(),
            updated_at: image.pushed_at,
            vendor_data: raw.to_string(),
        }
    }

    fn finding(&self, v: Vuln, raw: &serde_json::Value) -> Finding {
        let severity = match v.severity.to_ascii_uppercase().as_str() {
            "CRITICAL" => Severity::Critical,
            "HIGH" => Severity::High,
            "MEDIUM" => Severity::Medium,
            "LOW" => Severity::Low,
            "INFO" => Severity::Info,
            "" => Severity::Unknown,
            _ => Severity::Other,
        };
        let state = match v.status.as_str() {
            "fixed" => State::Closed,
            "ignored" => State::Ignored,
            _ => State::Open,
        };
        Finding {
            id: self.id("vuln", &v.id),
            vendor_id: v.id,
            title: v
                .title
                .unwrap_or_else(|| format!("{} in {}", v.cve, v.package)),
            description: None,
            issue_type: IssueType::Vulnerability,
            finding_type: FindingType::Dependency,
            severity,
            vendor_severity: Some(v.severity),
            state,
            first_seen: v.first_seen,
            last_seen: v.updated_at.clone(),
            state_updated_at: v.updated_at,
            resource_id: v.image_digest.as_deref().map(|d| self.id("image", d)),
            code_repo: None,
            branch: None,
            affected_package: Some(AffectedPackage {
                name: v.package,
                version: v.installed,
                package_manager: None,
                purl: None,
            }),
            affected_code: None,
            has_fix: v.fixed.is_some(),
            remediation: v.fixed.as_ref().map(|f| format!("upgrade to {f}")),
            cvss_score: None,
            vulnerability_identifiers: vec![v.cve.clone()],
            vulnerabilities: vec![Vulnerability {
                uid: Some(v.cve.clone()),
                cvss_score: None,
                cvss_vector: None,
                epss_score: None,
                epss_percentile: None,
                is_kev: None,
                cwe_ids: vec![],
                fixed_version: v.fixed,
            }],
            analytic: Analytic {
                uid: v.cve.clone(),
                name: v.cve,
                url: None,
            },
            kb_url: None,
            vendor_data: raw.to_string(),
        }
    }

    /// A stable id from the project, a kind and the vendor's id (not a UUID: this vendor's
    /// consumers need none, and the host takes any id).
    fn id(&self, kind: &str, vendor_id: &str) -> String {
        format!("imagescan:{}:{kind}:{vendor_id}", self.project)
    }
}

/// The `rel="next"` target of the `Link` header, as a path and query under `project_url`;
/// `None` when there is no next page (or it points anywhere else).
pub fn next_link(resp: &Response, project_url: &str) -> Option<String> {
    let link = resp.header("link")?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().eq_ignore_ascii_case("rel=\"next\"") || p.trim() == "rel=next");
        let url = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.strip_prefix(project_url).map(str::to_string))?
    })
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` as `1994-11-06T08:49:37Z`.
pub fn rfc3339_of_http_date(date: &str) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut parts = date.split_whitespace().skip(1);
    let day: u32 = parts.next()?.parse().ok()?;
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)? + 1;
    let year: u32 = parts.next()?.parse().ok()?;
    let time = parts.next()?;
    (parts.next()? == "GMT" && time.len() == 8)
        .then(|| format!("{year:04}-{month:02}-{day:02}T{time}Z"))
}

#[cfg(target_arch = "wasm32")]
connector_sdk::export_connector!(Imagescan);

#[cfg(test)]
mod tests {
    use super::*;
    use connector_sdk::http::Scripted;

    fn configured() -> Imagescan {
        let s = |n: &str, v: &str| Setting {
            name: n.into(),
            value: v.into(),
        };
        Imagescan::configure(
            &RuntimeInfo {
                name: "test".into(),
                retries_transient: true,
            },
            vec![s("project", "p1"), s("base-url", "http://127.0.0.1:9/")],
        )
        .ok()
        .unwrap()
    }

    #[test]
    fn findings_follow_the_link_header_and_take_the_server_clock() {
        let mut http = Scripted::new(|r: &Request| {
            Ok(if r.url.contains("page=2") {
                Response::new(200, "[]")
            } else {
                Response::new(
                    200,
                    r#"[{"id":"v1","image_digest":"sha256:a","cve":"CVE-1","package":"openssl",
                        "severity":"HIGH","status":"fixed","fixed":"3.0.2"},{"id":7}]"#,
                )
                .with_header(
                    "link",
                    "<http://127.0.0.1:9/v1/projects/p1/vulnerabilities?limit=100&page=2>; rel=\"next\"",
                )
                .with_header("date", "Sun, 06 Nov 1994 08:49:37 GMT")
            })
        });
        let mut c = configured();
        let query = FindingQuery {
            cursor: None,
            updated_since: Some("2026-01-01T00:00:00Z".into()),
        };
        let page = c.list_findings(&mut http, query).ok().unwrap();
        assert_eq!(
            http.requests[0].url,
            "http://127.0.0.1:9/v1/projects/p1/vulnerabilities?limit=100&updated_since=2026-01-01T00:00:00Z"
        );
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.skipped.len(), 1);
        assert_eq!(page.items[0].state, State::Closed);
        assert_eq!(
            page.query_started_at.as_deref(),
            Some("1994-11-06T08:49:37Z")
        );
        let next = page.next_cursor.unwrap();
        let query = FindingQuery {
            cursor: Some(next),
            updated_since: None,
        };
        let last = c.list_findings(&mut http, query).ok().unwrap();
        assert!(
            http.requests[1]
                .url
                .ends_with("/vulnerabilities?limit=100&page=2")
        );
        assert_eq!((last.next_cursor, last.query_started_at), (None, None));
    }

    #[test]
    fn images_page_by_offset_until_the_total() {
        let mut http = Scripted::new(|r: &Request| {
            let body = if r.url.contains("offset=0") {
                r#"{"images":[{"digest":"sha256:a","repository":"library/nginx","tag":"1.25"}],"total":2}"#
            } else {
                r#"{"images":[{"digest":"sha256:b","repository":"library/redis"}],"total":2}"#
            };
            Ok(Response::new(200, body))
        });
        let mut c = configured();
        let first = c.list_resources(&mut http, None).ok().unwrap();
        assert_eq!(first.items[0].name, "library/nginx:1.25");
        assert_eq!(first.items[0].resource_type, "container-image");
        let second = c.list_resources(&mut http, first.next_cursor).ok().unwrap();
        assert_eq!(second.items[0].name, "library/redis@sha256:b");
        assert_eq!(second.next_cursor, None);
        assert!(matches!(
            c.list_resources(&mut http, Some("vulns:3".into())),
            Err(ConnectorError::InvalidCursor(_))
        ));
    }
}
