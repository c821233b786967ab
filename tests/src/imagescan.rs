//! An Imagescan-shaped server on 127.0.0.1 for the second connector (`tests/imagescan`): images
//! by offset, vulnerability reports by `Link` header, the API key in `X-Api-Key`, the clock in
//! `Date`. It logs the headers of every request, so a test can see which credential went where.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::server::{Head, parse_query, serve_simple};

/// The data served: `images` images, `vulns` reports spread over them.
#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub images: usize,
    pub vulns: usize,
}

impl Project {
    pub fn image(&self, i: usize) -> serde_json::Value {
        json!({
            "digest": format!("sha256:{i:064x}"),
            "repository": format!("team/service-{}", i % 7),
            "tag": if i.is_multiple_of(3) { serde_json::Value::Null } else { json!(format!("1.{i}")) },
            "pushed_at": format!("2026-0{}-1{}T08:00:00Z", 1 + i % 9, i % 10),
        })
    }

    pub fn vuln(&self, i: usize) -> serde_json::Value {
        let package = ["openssl", "zlib", "glibc", "curl"][i % 4];
        let severity = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "NEGLIGIBLE"][i % 5];
        json!({
            "id": format!("v-{i}"),
            "image_digest": format!("sha256:{:064x}", i % self.images.max(1)),
            "cve": format!("CVE-2026-{:05}", 1000 + i),
            "package": package,
            "installed": format!("1.{}.0", i % 5),
            "fixed": if i.is_multiple_of(2) { json!(format!("1.{}.1", i % 5)) } else { serde_json::Value::Null },
            "severity": severity,
            "status": if i % 6 == 5 { "fixed" } else { "open" },
            "first_seen": "2026-03-01T00:00:00Z",
            "updated_at": "2026-03-02T00:00:00Z",
        })
    }
}

pub struct ImagescanSim {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Head>>>,
}

impl ImagescanSim {
    pub async fn start(project: Project, api_key: &str) -> ImagescanSim {
        let key = api_key.to_string();
        let (addr, log) = serve_simple(move |addr, head| answer(&project, &key, addr, head)).await;
        ImagescanSim { addr, log }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request's headers, in order.
    pub fn requests(&self) -> Vec<Vec<(String, String)>> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|h| h.headers.clone())
            .collect()
    }
}

const PAGE: usize = 100;

fn answer(
    project: &Project,
    key: &str,
    addr: SocketAddr,
    head: &Head,
) -> (u16, Vec<(String, String)>, String) {
    if head.header("x-api-key").as_deref() != Some(key) {
        return (401, vec![], r#"{"error":"bad API key"}"#.to_string());
    }
    let (path, query) = head.target.split_once('?').unwrap_or((&head.target, ""));
    let q = parse_query(query);
    let num = |k: &str, d: usize| {
        q.iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(d)
    };
    let prefix = format!("/v1/projects/{}", project.id);
    let Some(rest) = path.strip_prefix(&prefix) else {
        return (404, vec![], r#"{"error":"no such project"}"#.to_string());
    };
    let date = vec![(
        "Date".to_string(),
        httpdate::fmt_http_date(std::time::SystemTime::now()),
    )];
    match rest {
        "" => (200, date, json!({"id": project.id}).to_string()),
        "/images" => {
            let (offset, limit) = (num("offset", 0), num("limit", 50).min(50));
            let images: Vec<_> = (offset..project.images.min(offset + limit))
                .map(|i| project.image(i))
                .collect();
            let body = json!({"images": images, "total": project.images});
            (200, date, body.to_string())
        }
        "/vulnerabilities" => {
            let page = num("page", 1).max(1);
            let start = (page - 1) * PAGE;
            let end = project.vulns.min(start + PAGE);
            let items: Vec<_> = (start..end).map(|i| project.vuln(i)).collect();
            let mut headers = date;
            if end < project.vulns {
                headers.push((
                    "Link".to_string(),
                    format!(
                        "<http://{addr}{prefix}/vulnerabilities?limit={PAGE}&page={}>; rel=\"next\"",
                        page + 1
                    ),
                ));
            }
            (200, headers, serde_json::Value::Array(items).to_string())
        }
        _ => (404, vec![], r#"{"error":"no such endpoint"}"#.to_string()),
    }
}
