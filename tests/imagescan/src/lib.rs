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
use connector_sdk::ids::Ids;
use connector_sdk::page::{json_field, read_each};
use connector_sdk::settings::{self, SettingSpecExt, Settings, SpecBuilder};
use connector_sdk::wit::*;
use connector_sdk::{Connector, cursor, errors, time, url};
use serde::Deserialize;

pub const IMAGES_PER_PAGE: u64 = 50;
pub const VULNS_PER_PAGE: u64 = 100;
const IMAGES: &str = "images";
const VULNS: &str = "vulns";
pub const CONTAINER_IMAGE: &str = "container-image";

pub struct Imagescan {
    base_url: String,
    project: String,
    ids: Ids,
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

impl Connector for Imagescan {
    fn describe() -> ConnectorSpec {
        SpecBuilder::new(
            "imagescan",
            "Imagescan",
            "Imagescan container images (Resources) and their vulnerability reports.",
        )
        .version(env!("CARGO_PKG_VERSION"))
        .tenant(settings::text("project", "Imagescan project id").required())
        .base_url(
            "base-url",
            "Imagescan API base URL",
            "https://api.imagescan.example",
        )
        .setting(
            settings::secret(
                "api-key",
                "Imagescan API key",
                CredentialScheme::Header(HeaderCredential {
                    name: "X-Api-Key".to_string(),
                    prefix: None,
                }),
                "base-url",
            )
            .env(&["IMAGESCAN_API_KEY"]),
        )
        .resource_type(CONTAINER_IMAGE)
        .build()
    }

    fn configure(_: &RuntimeInfo, given: Vec<Setting>) -> Result<Self, ConnectorError> {
        let s = Settings::read(&Self::describe(), &given)?;
        let project = s.text("project").unwrap_or_default();
        if !project
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(settings::invalid("project", "letters, digits and `-` only"));
        }
        Ok(Imagescan {
            base_url: s.url("base-url").unwrap_or_default().to_string(),
            project: project.to_string(),
            ids: Ids::new("https://api.imagescan.example/"),
        })
    }

    fn check(&mut self, http: &mut dyn Http) -> Result<CheckReport, ConnectorError> {
        self.get(http, "", &self.project_url())?;
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
        let url = url::with_query(
            &format!("{}/images", self.project_url()),
            &[("offset", offset), ("limit", IMAGES_PER_PAGE)].map(|(k, v)| (k, v.to_string())),
        );
        let (endpoint, resp) = self.get(http, "/images", &url)?;
        let page: ImagePage = errors::json(&endpoint, &resp)?;
        let read_page = read_each(
            "images",
            &page.images,
            |raw| json_field(raw, "digest"),
            |raw| {
                let image = Image::deserialize(raw).map_err(|e| e.to_string())?;
                Ok(self.asset(image, raw))
            },
        );
        let read = offset + page.images.len() as u64;
        let more = !page.images.is_empty() && read < page.total;
        Ok(AssetPage {
            items: read_page.items,
            next_cursor: more.then(|| cursor::offset(IMAGES, read)),
            skipped: read_page.skipped,
        })
    }

    fn list_findings(
        &mut self,
        http: &mut dyn Http,
        query: FindingQuery,
    ) -> Result<FindingPage, ConnectorError> {
        let url = match &query.cursor {
            Some(c) => self.next_page_url(cursor::decode(VULNS, c)?)?,
            None => {
                let mut q = vec![("limit", VULNS_PER_PAGE.to_string())];
                if let Some(since) = &query.updated_since {
                    q.push(("updated_since", since.clone()));
                }
                url::with_query(&format!("{}/vulnerabilities", self.project_url()), &q)
            }
        };
        let (endpoint, resp) = self.get(http, "/vulnerabilities", &url)?;
        let records: Vec<serde_json::Value> = errors::json(&endpoint, &resp)?;
        let read_page = read_each(
            "vulnerabilities",
            &records,
            |raw| json_field(raw, "id"),
            |raw| {
                let vuln = Vuln::deserialize(raw).map_err(|e| e.to_string())?;
                Ok(self.finding(vuln, raw))
            },
        );
        let next = resp.header("link").and_then(url::next_link);
        Ok(FindingPage {
            items: read_page.items,
            next_cursor: next.map(|next| cursor::encode(VULNS, &next)),
            query_started_at: resp
                .header("date")
                .and_then(time::rfc3339_of_http_date)
                .filter(|_| query.cursor.is_none()),
            vendor_records: records.len() as u32,
            skipped: read_page.skipped,
        })
    }
}

impl Imagescan {
    fn project_url(&self) -> String {
        format!("{}/v1/projects/{}", self.base_url, self.project)
    }

    /// A next-page link from the server, followed only to the origin the key was meant for
    /// (a cursor is stored between runs, and the runtime would attach the key to that origin).
    fn next_page_url(&self, link: &str) -> Result<String, ConnectorError> {
        if url::same_origin(link, &self.base_url) {
            Ok(link.to_string())
        } else {
            Err(ConnectorError::InvalidCursor(format!(
                "the next-page link {link:?} leaves {}",
                self.base_url
            )))
        }
    }

    /// `GET url` (under the project, `path` naming the endpoint): the success, else the error
    /// it means.
    fn get(
        &self,
        http: &mut dyn Http,
        path: &str,
        url: &str,
    ) -> Result<(String, Response), ConnectorError> {
        let endpoint = format!("GET /v1/projects/{}{path}", self.project);
        let sent = http.send(&Request::get_json(url));
        let unknown = "the project is unknown or the key cannot see it";
        Ok((endpoint.clone(), errors::success(&endpoint, sent, unknown)?))
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

    /// A deterministic UUID from the project, a kind and the vendor's id.
    fn id(&self, kind: &str, vendor_id: &str) -> String {
        self.ids
            .id(&[Some(kind), Some(&self.project), Some(vendor_id)])
    }
}

#[cfg(target_arch = "wasm32")]
connector_sdk::export_connector!(Imagescan);

#[cfg(test)]
mod tests {
    use super::*;
    use connector_sdk::testing::Routes;

    const VULNS_PATH: &str = "/v1/projects/p1/vulnerabilities";

    fn configured() -> Imagescan {
        let s = |n: &str, v: &str| Setting {
            name: n.into(),
            value: v.into(),
        };
        let runtime = RuntimeInfo {
            name: "test".into(),
            retries_transient: true,
        };
        Imagescan::configure(
            &runtime,
            vec![s("project", " p1 "), s("base-url", "http://127.0.0.1:9/")],
        )
        .ok()
        .unwrap()
    }

    #[test]
    fn findings_follow_the_link_header_and_take_the_server_clock() {
        let first = r#"[{"id":"v1","image_digest":"sha256:a","cve":"CVE-1","package":"openssl",
                         "severity":"HIGH","status":"fixed","fixed":"3.0.2"},{"id":7}]"#;
        let mut http = Routes::new()
            .on(VULNS_PATH, &[("page", "2")], Response::new(200, "[]"))
            .on(
                VULNS_PATH,
                &[("updated_since", "2026-01-01T00:00:00Z")],
                Response::new(200, first)
                    .with_header(
                        "link",
                        "<http://127.0.0.1:9/v1/projects/p1/vulnerabilities?limit=100&page=2>; rel=\"next\"",
                    )
                    .with_header("date", "Sun, 06 Nov 1994 08:49:37 GMT"),
            );
        let mut c = configured();
        let query = FindingQuery {
            cursor: None,
            updated_since: Some("2026-01-01T00:00:00Z".into()),
        };
        let page = c.list_findings(&mut http, query).ok().unwrap();
        assert_eq!(
            http.requests[0].url,
            "http://127.0.0.1:9/v1/projects/p1/vulnerabilities?limit=100&updated_since=2026-01-01T00%3A00%3A00Z"
        );
        assert_eq!(page.items.len(), 1);
        assert_eq!(
            page.skipped[0].reason.split(':').next(),
            Some("vulnerabilities[1] (record 7)")
        );
        assert_eq!(page.items[0].state, State::Closed);
        assert_eq!(page.items[0].id.len(), 36, "a UUID");
        assert_eq!(
            page.query_started_at.as_deref(),
            Some("1994-11-06T08:49:37Z")
        );
        let query = FindingQuery {
            cursor: page.next_cursor,
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
    fn a_next_link_to_another_origin_is_not_followed() {
        let mut c = configured();
        let query = FindingQuery {
            cursor: Some(cursor::encode(VULNS, "http://127.0.0.1:10/v1/steal")),
            updated_since: None,
        };
        let mut http = Routes::new();
        assert!(matches!(
            c.list_findings(&mut http, query),
            Err(ConnectorError::InvalidCursor(_))
        ));
        assert!(http.requests.is_empty());
    }

    #[test]
    fn images_page_by_offset_until_the_total() {
        let images = "/v1/projects/p1/images";
        let mut http = Routes::new()
            .on(
                images,
                &[("offset", "0")],
                Response::new(
                    200,
                    r#"{"images":[{"digest":"sha256:a","repository":"library/nginx","tag":"1.25"}],"total":2}"#,
                ),
            )
            .on(
                images,
                &[("offset", "1")],
                Response::new(
                    200,
                    r#"{"images":[{"digest":"sha256:b","repository":"library/redis"}],"total":2}"#,
                ),
            );
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
