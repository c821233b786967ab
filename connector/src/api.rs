//! The Socket REST client: one function per listing page, over an [`Http`] seam.
//!
//! Retries and waiting out `Retry-After` belong to the runtime, or to the SDK's retrying seam
//! when the runtime does not retry; this layer turns each final response into a page or a
//! [`ConnectorError`] that names the endpoint.

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
use crate::wit::{AssetPage, CheckReport, ConnectorError, FindingPage, FindingQuery};

use connector_sdk::errors;
pub use connector_sdk::http::{Http, Request, Response};

const USER_AGENT: &str = concat!("socket-connector/", env!("CARGO_PKG_VERSION"));

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

    fn request(&self) -> Request {
        Request::get(&self.url).header("user-agent", USER_AGENT)
    }

    fn send(&self, http: &mut dyn Http) -> Result<Vec<u8>, ConnectorError> {
        let resp = http
            .send(&self.request())
            .map_err(|e| errors::transport(&self.endpoint, &e))?;
        if resp.is_success() {
            return Ok(resp.body);
        }
        Err(status_error(&self.endpoint, self.scope, &resp))
    }

    fn malformed(&self, detail: impl Into<String>) -> ConnectorError {
        errors::malformed(&self.endpoint, detail)
    }
}

/// One page of repositories.
pub fn list_repos(
    cfg: &Config,
    http: &mut dyn Http,
    cursor: Option<&str>,
) -> Result<AssetPage, ConnectorError> {
    let page = paging::repo_page_of(cursor).map_err(ConnectorError::InvalidCursor)?;
    let call = repos_call(cfg, page);
    let body = call.send(http)?;
    let parsed: RepoPage = serde_json::from_slice(&body).map_err(|e| {
        call.malformed(format!("page {page}: body is not the documented JSON: {e}"))
    })?;
    let results = parsed
        .results
        .ok_or_else(|| call.malformed(format!("page {page}: no `results` array")))?;
    let next = paging::next_repo_page(page, results.len(), parsed.next_page)
        .map_err(|e| call.malformed(e))?;
    if let Some(next) = next {
        http.prefetch(&repos_call(cfg, next).request());
    }
    let (items, skipped) = records::read_repos(&cfg.org, &results);
    Ok(AssetPage {
        items,
        next_cursor: next.map(|p| p.to_string()),
        skipped,
    })
}

/// `GET /orgs/{org}/repos` for page `page`.
fn repos_call(cfg: &Config, page: u32) -> Call {
    let query = [
        ("per_page", paging::REPOS_PER_PAGE.to_string()),
        ("page", page.to_string()),
        ("include_archived", "true".to_string()),
        ("sort", "created_at".to_string()),
        ("direction", "asc".to_string()),
    ];
    Call::new(
        cfg,
        &format!("/orgs/{}/repos", cfg.org),
        &query,
        Some("repo:list"),
    )
}

/// One page of alerts, fanned out to findings.
pub fn list_alerts(
    cfg: &Config,
    http: &mut dyn Http,
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
    let (call, filter) = alerts_call(cfg, &cursor, since, passes);
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
    prefetch_next_alerts(cfg, http, &body, &cursor, since, passes);
    let at = match &cursor.after {
        Some(c) => format!("{} pass, after cursor {c:?}", passes[cursor.pass]),
        None => format!("{} pass, first page", passes[cursor.pass]),
    };
    alerts_page(cfg, &call, &body, &filter, &cursor, passes, &at)
}

/// Sends the request for the page after `body` before `body` is mapped, so that it travels
/// meanwhile. The next cursor is peeked from the raw page ([`paging::peek_end_cursor`]); a wrong
/// guess costs a request, never a record: `send` takes a prefetched response only for the
/// identical request.
fn prefetch_next_alerts(
    cfg: &Config,
    http: &mut dyn Http,
    body: &[u8],
    cursor: &AlertCursor,
    since: Option<dates::Instant>,
    passes: &[&'static str],
) {
    let Some(end_cursor) = paging::peek_end_cursor(body) else {
        return;
    };
    if let Ok(Some(next)) = cursor.next(passes, end_cursor.as_deref()) {
        http.prefetch(&alerts_call(cfg, &next, since, passes).0.request());
    }
}

/// `GET /orgs/{org}/alerts` for one page of one pass, and the filter that pass reads with.
fn alerts_call(
    cfg: &Config,
    cursor: &AlertCursor,
    since: Option<dates::Instant>,
    passes: &[&'static str],
) -> (Call, crate::settings::Filter) {
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
    (call, filter)
}

/// An alerts page's body read into findings, its next cursor and the server's clock. `at`
/// says which page, for errors.
fn alerts_page(
    cfg: &Config,
    call: &Call,
    body: &[u8],
    filter: &crate::settings::Filter,
    cursor: &AlertCursor,
    passes: &[&str],
    at: &str,
) -> Result<FindingPage, ConnectorError> {
    let not_documented =
        |e: String| call.malformed(format!("{at}: body is not the documented JSON: {e}"));
    let text = std::str::from_utf8(body)
        .map_err(|e| call.malformed(format!("{at}: body is not UTF-8 text: {e}")))?;
    let read = records::read_alerts(&cfg.org, text, filter, cursor.skip, CALL_OUTPUT_BUDGET)
        .map_err(|e| {
            not_documented(match e {
                PageFault::Syntax(e) => e.to_string(),
                PageFault::Truncated(i, e) => format!("it ends inside items[{i}] ({e})"),
                PageFault::Broken(i, e) => format!("items[{i}]: {e}"),
            })
        })?;
    let items = read
        .items
        .ok_or_else(|| call.malformed(format!("{at}: no `items` array")))?;
    if cursor.skip > items {
        return Err(ConnectorError::InvalidCursor(format!(
            "{at}: the cursor resumes at item {} of a page of {items}",
            cursor.skip
        )));
    }
    let page = envelope(&read.fields).map_err(not_documented)?;
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
pub fn check(cfg: &Config, http: &mut dyn Http) -> Result<CheckReport, ConnectorError> {
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
fn status_error(endpoint: &str, scope: Option<&str>, resp: &Response) -> ConnectorError {
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
        429 if message.is_empty() => errors::from_status(endpoint, resp, "quota exhausted", ""),
        _ => errors::from_status(endpoint, resp, &message, ""),
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
        return errors::shorten(&m);
    }
    errors::body_message(body)
}

#[cfg(test)]
mod tests;
