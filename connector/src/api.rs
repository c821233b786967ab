//! The Socket REST client: one function per listing page, over an [`Http`] seam.
//!
//! Retries and waiting out `Retry-After` are the host's job (it sees every request); this layer
//! turns each final response into a page or a [`ConnectorError`] that names the endpoint.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::dates;

/// Bytes a query value keeps as they are, beside ASCII letters and digits: RFC 3986's unreserved
/// ones and `,`, Socket's list separator.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b',');
use crate::model::{AlertPage, ErrorBody, Quota, RepoPage};
use crate::normalize::CALL_OUTPUT_BUDGET;
use crate::paging::{self, AlertCursor};
use crate::records::{self, PageFault};
use crate::settings::Config;
use crate::wit::{
    AssetPage, CheckReport, ConnectorError, FindingPage, FindingQuery, Malformed, RateLimit,
    UpstreamFailure,
};

/// A response as the connector needs it.
pub struct HttpResponse {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

/// Outgoing GET requests. The host attaches credentials; the connector never sees them.
pub trait Http {
    /// `Err` is a transport failure (no response at all), described for the user.
    fn get(&mut self, url: &str) -> Result<HttpResponse, String>;
}

/// One endpoint call: its URL, and the `GET /path` label every error carries.
struct Call {
    url: String,
    endpoint: String,
    /// The token scope the endpoint needs, named in 403 errors.
    scope: Option<&'static str>,
}

impl Call {
    fn new(
        cfg: &Config,
        path: &str,
        query: &[(&str, String)],
        scope: Option<&'static str>,
    ) -> Call {
        let mut url = format!("{}{path}", cfg.base_url);
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            url.push('=');
            url.extend(utf8_percent_encode(v, QUERY_VALUE));
        }
        let base_path = cfg
            .base_url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("");
        Call {
            url,
            endpoint: format!("GET {base_path}{path}"),
            scope,
        }
    }

    fn send(&self, http: &mut impl Http) -> Result<Vec<u8>, ConnectorError> {
        let resp = http
            .get(&self.url)
            .map_err(|e| ConnectorError::Transport(format!("{}: {e}", self.endpoint)))?;
        if (200..300).contains(&resp.status) {
            return Ok(resp.body);
        }
        Err(status_error(&self.endpoint, self.scope, &resp))
    }

    fn malformed(&self, detail: impl Into<String>) -> ConnectorError {
        ConnectorError::MalformedResponse(Malformed {
            endpoint: self.endpoint.clone(),
            detail: detail.into(),
        })
    }
}

/// One page of repositories.
pub fn list_repos(
    cfg: &Config,
    http: &mut impl Http,
    cursor: Option<&str>,
) -> Result<AssetPage, ConnectorError> {
    let page = paging::repo_page_of(cursor).map_err(ConnectorError::InvalidCursor)?;
    let query = [
        ("per_page", paging::REPOS_PER_PAGE.to_string()),
        ("page", page.to_string()),
        ("include_archived", "true".to_string()),
        ("sort", "created_at".to_string()),
        ("direction", "asc".to_string()),
    ];
    let call = Call::new(
        cfg,
        &format!("/orgs/{}/repos", cfg.org),
        &query,
        Some("repo:list"),
    );
    let body = call.send(http)?;
    let parsed: RepoPage = serde_json::from_slice(&body).map_err(|e| {
        call.malformed(format!("page {page}: body is not the documented JSON: {e}"))
    })?;
    let results = parsed
        .results
        .ok_or_else(|| call.malformed(format!("page {page}: no `results` array")))?;
    let (items, skipped) = records::read_repos(&cfg.org, &results);
    let next = paging::next_repo_page(page, results.len(), parsed.next_page)
        .map_err(|e| call.malformed(e))?;
    Ok(AssetPage {
        items,
        next_cursor: next.map(|p| p.to_string()),
        skipped,
    })
}

/// One page of alerts, fanned out to findings.
pub fn list_alerts(
    cfg: &Config,
    http: &mut impl Http,
    query: &FindingQuery,
) -> Result<FindingPage, ConnectorError> {
    let since = query
        .updated_since
        .as_deref()
        .map(|s| {
            dates::parse(s).ok_or_else(|| {
                ConnectorError::InvalidConfig(format!(
                    "updated-since {s:?} is not an RFC 3339 timestamp"
                ))
            })
        })
        .transpose()?;
    let passes = paging::passes(cfg.include_cleared, since.is_some());
    let cursor = AlertCursor::parse(query.cursor.as_deref(), passes)
        .map_err(ConnectorError::InvalidCursor)?;
    let mut filter = cfg.filter.clone();
    filter.status = Some(passes[cursor.pass]);

    let mut params = vec![("per_page", paging::ALERTS_PER_PAGE.to_string())];
    if let Some(after) = &cursor.after {
        params.push(("startAfterCursor", after.clone()));
    }
    if let Some(t) = since {
        params.push(("filters.alertUpdatedAt.gte", dates::format_socket_filter(t)));
    }
    params.extend(filter.query_params());
    let call = Call::new(
        cfg,
        &format!("/orgs/{}/alerts", cfg.org),
        &params,
        Some("alerts:list"),
    );
    let body = match call.send(http) {
        // Socket can reject a cursor it issued; say so distinctly so the host can restart.
        Err(ConnectorError::Upstream(u)) if u.status == 400 && cursor.after.is_some() => {
            return Err(ConnectorError::InvalidCursor(format!(
                "{}: Socket rejected its own cursor (400: {})",
                u.endpoint, u.message
            )));
        }
        other => other?,
    };
    let at = || match &cursor.after {
        Some(c) => format!("{} pass, after cursor {c:?}", passes[cursor.pass]),
        None => format!("{} pass, first page", passes[cursor.pass]),
    };
    let text = std::str::from_utf8(&body)
        .map_err(|e| call.malformed(format!("{}: body is not UTF-8 text: {e}", at())))?;
    let read = records::read_alerts(&cfg.org, text, &filter, cursor.skip, CALL_OUTPUT_BUDGET)
        .map_err(|e| {
            call.malformed(match e {
                PageFault::Syntax(e) => format!("{}: body is not the documented JSON: {e}", at()),
                PageFault::Truncated(i, e) => format!(
                    "{}: body is not the documented JSON: it ends inside items[{i}] ({e})",
                    at()
                ),
                PageFault::Broken(i, e) => {
                    format!("{}: body is not the documented JSON: items[{i}]: {e}", at())
                }
            })
        })?;
    let items = read
        .items
        .ok_or_else(|| call.malformed(format!("{}: no `items` array", at())))?;
    if cursor.skip > items {
        return Err(ConnectorError::InvalidCursor(format!(
            "{}: the cursor resumes at item {} of a page of {items}",
            at(),
            cursor.skip
        )));
    }
    let page = envelope(&read.fields)
        .map_err(|e| call.malformed(format!("{}: body is not the documented JSON: {e}", at())))?;
    let next = match read.resume_at {
        Some(index) => Some(cursor.resume_at(index)),
        None => cursor
            .next(passes, page.end_cursor.as_deref())
            .map_err(|e| call.malformed(e))?,
    };
    let query_started_at = page
        .meta
        .and_then(|m| m.query_start_timestamp)
        .and_then(dates::from_epoch_number)
        .map(dates::format_rfc3339);
    Ok(FindingPage {
        items: read.findings,
        next_cursor: next.map(|c| c.encode(passes)),
        query_started_at,
        vendor_records: read.vendor_records as u32,
        skipped: read.skipped,
    })
}

/// The fields of an alerts page other than its items.
fn envelope(fields: &[(String, &str)]) -> Result<AlertPage, String> {
    let mut page = AlertPage::default();
    for (key, raw) in fields {
        let field = |e: serde_json::Error| format!("`{key}`: {e}");
        match key.as_str() {
            "endCursor" => page.end_cursor = serde_json::from_str(raw).map_err(field)?,
            "meta" => page.meta = serde_json::from_str(raw).map_err(field)?,
            _ => {}
        }
    }
    Ok(page)
}

/// `GET /quota`: free, needs no scope, so it validates the token without spending anything.
pub fn check(cfg: &Config, http: &mut impl Http) -> Result<CheckReport, ConnectorError> {
    let call = Call::new(cfg, "/quota", &[], None);
    let body = call.send(http)?;
    let q: Quota = serde_json::from_slice(&body)
        .map_err(|e| call.malformed(format!("body is not the documented JSON: {e}")))?;
    let remaining = q.quota.map(|v| v as u64);
    let max = q.max_quota.map(|v| v as u64);
    let mut messages = vec!["the API token is valid".to_string()];
    match (remaining, max) {
        (Some(r), Some(m)) => messages.push(format!("quota: {r} of {m} units left")),
        (Some(r), None) => messages.push(format!("quota: {r} units left")),
        _ => {}
    }
    if let Some(t) = &q.next_window_refresh {
        messages.push(format!("quota window refreshes at {t}"));
    }
    messages.push(
        "a full sync costs 1 unit per 100 repositories and 10 units per 5000 alerts".to_string(),
    );
    Ok(CheckReport {
        messages,
        quota_remaining: remaining,
        quota_max: max,
        quota_refresh: q.next_window_refresh,
    })
}

/// Maps a non-success response to an error that says what to do about it.
fn status_error(endpoint: &str, scope: Option<&str>, resp: &HttpResponse) -> ConnectorError {
    let message = error_message(&resp.body);
    let said = if message.is_empty() {
        String::new()
    } else {
        format!(" (Socket says: {message})")
    };
    match resp.status {
        401 => ConnectorError::Unauthorized(format!(
            "{endpoint}: 401 Unauthorized: the API token is invalid or expired{said}"
        )),
        403 => ConnectorError::Forbidden(forbidden_reason(endpoint, scope, &message, &said)),
        404 => ConnectorError::NotFound(format!(
            "{endpoint}: 404 Not Found: the organisation slug is unknown or the token cannot see it{said}"
        )),
        429 => {
            let retry = resp
                .retry_after
                .as_deref()
                .and_then(|v| v.trim().parse::<u64>().ok());
            ConnectorError::RateLimited(RateLimit {
                endpoint: endpoint.to_string(),
                retry_after_seconds: retry,
                message: if message.is_empty() {
                    "quota exhausted".to_string()
                } else {
                    message
                },
            })
        }
        status => ConnectorError::Upstream(UpstreamFailure {
            endpoint: endpoint.to_string(),
            status,
            message: if message.is_empty() {
                "no error message".to_string()
            } else {
                message
            },
        }),
    }
}

/// Socket's 403 messages, read the way its Python SDK reads them.
fn forbidden_reason(endpoint: &str, scope: Option<&str>, message: &str, said: &str) -> String {
    let m = message.to_ascii_lowercase();
    if m.contains("insufficient permissions") {
        match scope {
            Some(s) => format!(
                "{endpoint}: 403 Forbidden: the API token lacks the `{s}` scope; add it in Socket's \
                 dashboard (Settings → API Tokens){said}"
            ),
            None => {
                format!("{endpoint}: 403 Forbidden: the API token lacks a required scope{said}")
            }
        }
    } else if m.contains("organization not allowed") {
        format!(
            "{endpoint}: 403 Forbidden: the organisation's Socket plan does not include this API{said}"
        )
    } else if m.contains("max quota") || m.contains("max_quota") {
        format!(
            "{endpoint}: 403 Forbidden: the token's maximum quota is below this endpoint's cost; \
             raise the token's max quota{said}"
        )
    } else {
        format!("{endpoint}: 403 Forbidden: access denied{said}")
    }
}

/// Socket's `error.message`, or a short printable prefix of a body that is not Socket's JSON.
fn error_message(body: &[u8]) -> String {
    if let Ok(ErrorBody { error: Some(e) }) = serde_json::from_slice::<ErrorBody>(body)
        && let Some(m) = e.message
    {
        return shorten(&m);
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else if text.starts_with('<') {
        "a non-JSON (HTML) error page".to_string()
    } else {
        shorten(text)
    }
}

fn shorten(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match clean.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &clean[..i]),
        None => clean,
    }
}

#[cfg(test)]
mod tests;
