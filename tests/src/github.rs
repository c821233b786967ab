//! A GitHub-shaped server on 127.0.0.1 for the guide's worked example (`examples/dependabot`):
//! an organisation's repositories and Dependabot alerts, both paged by `Link` headers whose
//! targets are GitHub's `/organizations/{id}/` form (not the path that was asked), alerts newest
//! update first, the token as a bearer, the clock in `Date`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::server::{Head, parse_query, serve_simple};

/// `repos` repositories and `alerts` alerts; alert `i` was updated on day `i` of 2026.
#[derive(Debug, Clone)]
pub struct GithubOrg {
    pub login: String,
    pub repos: usize,
    pub alerts: usize,
}

impl GithubOrg {
    fn repo(&self, i: usize) -> Value {
        json!({
            "id": 1000 + i, "name": format!("repo-{i}"),
            "full_name": format!("{}/repo-{i}", self.login),
            "private": i.is_multiple_of(2), "archived": i % 9 == 8, "default_branch": "main",
            "created_at": "2025-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
        })
    }

    /// Alert `i`, updated at day `i + 1` of 2026 (alerts are served newest first).
    fn alert(&self, i: usize) -> Value {
        let repo = i % self.repos.max(1);
        let state = ["open", "fixed", "dismissed", "auto_dismissed"][i % 4];
        let severity = ["critical", "high", "medium", "low"][i % 4];
        json!({
            "number": i + 1,
            "state": state,
            "html_url": format!("https://github.com/{}/repo-{repo}/security/dependabot/{}", self.login, i + 1),
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": updated(i),
            "dependency": { "package": { "ecosystem": "npm", "name": format!("pkg-{}", i % 5) },
                            "manifest_path": "package-lock.json" },
            "security_advisory": { "ghsa_id": format!("GHSA-{i:04}"), "cve_id": format!("CVE-2026-{i:05}"),
                                   "summary": format!("Advisory {i}"), "severity": severity,
                                   "cvss": { "score": 7.5, "vector_string": "CVSS:3.1/AV:N" } },
            "security_vulnerability": { "first_patched_version": { "identifier": "2.0.0" } },
            "repository": { "id": 1000 + repo, "full_name": format!("{}/repo-{repo}", self.login) },
        })
    }
}

/// The update time of alert `i`: day `i + 1` of 2026, at noon.
pub fn updated(i: usize) -> String {
    let day = i % 365;
    let (month, day) = month_day(day);
    format!("2026-{month:02}-{day:02}T12:00:00Z")
}

fn month_day(mut day: usize) -> (usize, usize) {
    for (m, len) in [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        .iter()
        .enumerate()
    {
        if day < *len {
            return (m + 1, day + 1);
        }
        day -= len;
    }
    (12, 31)
}

pub struct GithubSim {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Head>>>,
}

const PER_PAGE: usize = 100;

impl GithubSim {
    pub async fn start(org: GithubOrg, token: &str) -> GithubSim {
        let bearer = format!("Bearer {token}");
        let (addr, log) = serve_simple(move |addr, head| answer(&org, &bearer, addr, head)).await;
        GithubSim { addr, log }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request's target (path and query), in order.
    pub fn targets(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|h| h.target.clone())
            .collect()
    }
}

fn answer(
    org: &GithubOrg,
    bearer: &str,
    addr: SocketAddr,
    head: &Head,
) -> (u16, Vec<(String, String)>, String) {
    if head.header("authorization").as_deref() != Some(bearer) {
        return (401, vec![], r#"{"message":"Bad credentials"}"#.into());
    }
    let (path, query) = head.target.split_once('?').unwrap_or((&head.target, ""));
    let q = parse_query(query);
    let param = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let after: usize = param("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let mut headers = vec![(
        "Date".to_string(),
        httpdate::fmt_http_date(std::time::SystemTime::now()),
    )];
    let (items, total, next_path): (Vec<Value>, usize, String) = match path {
        p if p == format!("/orgs/{}/repos", org.login) || p == "/organizations/42/repos" => {
            let end = org.repos.min(after + PER_PAGE);
            (
                (after..end).map(|i| org.repo(i)).collect(),
                org.repos,
                "/organizations/42/repos".into(),
            )
        }
        p if p == format!("/orgs/{}/dependabot/alerts", org.login)
            || p == "/organizations/42/dependabot/alerts" =>
        {
            let states = param("state").unwrap_or_default();
            let newest_first: Vec<usize> = (0..org.alerts)
                .rev()
                .filter(|i| {
                    states.is_empty() || states.split(',').any(|s| org.alert(*i)["state"] == s)
                })
                .collect();
            let end = newest_first.len().min(after + PER_PAGE);
            let items = newest_first[after.min(end)..end]
                .iter()
                .map(|i| org.alert(*i))
                .collect();
            (
                items,
                newest_first.len(),
                "/organizations/42/dependabot/alerts".into(),
            )
        }
        _ => return (404, vec![], r#"{"message":"Not Found"}"#.into()),
    };
    if after + PER_PAGE < total {
        let mut next = format!(
            "http://{addr}{next_path}?per_page={PER_PAGE}&after={}",
            after + PER_PAGE
        );
        if let Some(state) = param("state") {
            next.push_str(&format!("&state={state}"));
        }
        headers.push((
            "Link".into(),
            format!("<{next}>; rel=\"next\", <http://{addr}{next_path}?before=0>; rel=\"prev\""),
        ));
    }
    (200, headers, Value::Array(items).to_string())
}
