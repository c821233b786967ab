//! The Socket REST client: one function per listing page, over an [`Http`] seam.
//!
//! Retries and waiting out `Retry-After` belong to the runtime, or to the SDK's retrying seam
//! when the runtime does not retry; this layer turns each final response into a page or a
//! [`ConnectorError`] that names the endpoint.

use crate::dates;
use crate::model::{AlertPage, ErrorBody, Quota, RepoPage};
use crate::paging::{self, AlertCursor};
use crate::records::{self, PageFault};
use crate::settings::{Config, Filter};
use crate::wit::{AssetPage, CheckReport, ConnectorError, FindingPage, FindingQuery};

use connector_sdk::errors;
pub use connector_sdk::http::{Http, Request, Response, SendError};

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
        let url = connector_sdk::url::with_query(&format!("{}{path}", cfg.base_url), query);
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
        Request::get_json(&self.url).header("user-agent", USER_AGENT)
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

/// An alerts page whose findings take more than one call (see [`records::CALL_OUTPUT`]), kept
/// between those calls so that it is fetched and walked once. Only the calls that resume it
/// (same request, a cursor with a `skip`) use it: any other call drops it first, and a cursor
/// that resumes a page not held (another instance, a later run) fetches the page again.
pub struct HeldPage {
    url: String,
    text: String,
    /// Where each item starts in `text`.
    starts: Vec<usize>,
    /// The cursor after the page, `None` when it ends the listing.
    after: Option<AlertCursor>,
    query_started_at: Option<String>,
}

/// One page of alerts, fanned out to findings. `held` is the page kept from the previous call,
/// if any, and keeps this one when it takes more calls.
pub fn list_alerts(
    cfg: &Config,
    http: &mut dyn Http,
    query: &FindingQuery,
    held: &mut Option<HeldPage>,
) -> Result<FindingPage, ConnectorError> {
    let this = AlertsCall::new(cfg, query)?;
    // A page held for another cursor is let go before this one's body arrives.
    let resumed = held
        .take()
        .filter(|page| this.cursor.skip > 0 && page.url == this.call.url);
    match resumed {
        Some(page) => this.resume(page, held),
        None => {
            let text = this.fetch(http)?;
            this.first_read(text, held)
        }
    }
}

/// One call of the alerts listing: the page it reads, and how.
struct AlertsCall<'c> {
    cfg: &'c Config,
    cursor: AlertCursor,
    since: Option<dates::Instant>,
    passes: &'static [&'static str],
    call: Call,
    filter: Filter,
    /// Which page, for errors.
    at: String,
}

impl<'c> AlertsCall<'c> {
    fn new(cfg: &'c Config, query: &FindingQuery) -> Result<Self, ConnectorError> {
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
        let at = match &cursor.after {
            Some(c) => format!("{} pass, after cursor {c:?}", passes[cursor.pass]),
            None => format!("{} pass, first page", passes[cursor.pass]),
        };
        Ok(AlertsCall {
            cfg,
            cursor,
            since,
            passes,
            call,
            filter,
            at,
        })
    }

    /// Fetches the page, and sends the request for the page after it.
    fn fetch(&self, http: &mut dyn Http) -> Result<String, ConnectorError> {
        let body = match self.call.send(http) {
            // Socket can reject a cursor it issued; say so distinctly so the host can restart.
            Err(ConnectorError::Upstream(u)) if u.status == 400 && self.cursor.after.is_some() => {
                return Err(ConnectorError::InvalidCursor(format!(
                    "{}: Socket rejected its own cursor (400: {})",
                    u.endpoint, u.message
                )));
            }
            other => other?,
        };
        self.prefetch_next(http, &body);
        String::from_utf8(body).map_err(|e| {
            self.call
                .malformed(format!("{}: body is not UTF-8 text: {e}", self.at))
        })
    }

    /// Sends the request for the page after `body` before `body` is mapped, so that it travels
    /// meanwhile. The next cursor is peeked from the raw page ([`paging::peek_end_cursor`]); a
    /// wrong guess costs a request, never a record: `send` takes a prefetched response only for
    /// the identical request.
    fn prefetch_next(&self, http: &mut dyn Http, body: &[u8]) {
        let Some(end_cursor) = paging::peek_end_cursor(body) else {
            return;
        };
        if let Ok(Some(next)) = self.cursor.next(self.passes, end_cursor.as_deref()) {
            let (call, _) = alerts_call(self.cfg, &next, self.since, self.passes);
            http.prefetch(&call.request());
        }
    }

    /// The first call on a page: walks all of it, maps what fits this call, reads where the
    /// listing goes after the page, and keeps the page in `held` when it takes more calls.
    fn first_read(
        &self,
        text: String,
        held: &mut Option<HeldPage>,
    ) -> Result<FindingPage, ConnectorError> {
        let mut read = records::read_alerts(
            &self.cfg.org,
            &text,
            &self.filter,
            self.cursor.skip,
            records::CALL_OUTPUT,
        )
        .map_err(|e| self.fault(e))?;
        let items = read.items.ok_or_else(|| {
            self.call
                .malformed(format!("{}: no `items` array", self.at))
        })?;
        self.check_skip(items)?;
        let page = envelope(&read.fields).map_err(|e| {
            let detail = format!("{}: body is not the documented JSON: {e}", self.at);
            self.call.malformed(detail)
        })?;
        let after = self
            .cursor
            .next(self.passes, page.end_cursor.as_deref())
            .map_err(|e| self.call.malformed(e))?;
        let query_started_at = page
            .meta
            .and_then(|m| m.query_start_timestamp)
            .and_then(dates::from_epoch_number)
            .map(dates::format_rfc3339);
        let starts = std::mem::take(&mut read.starts);
        let resumes = read.resume_at.is_some();
        let result = self.finding_page(read, after.clone(), query_started_at.clone());
        if resumes {
            *held = Some(HeldPage {
                url: self.call.url.clone(),
                text,
                starts,
                after,
                query_started_at,
            });
        }
        Ok(result)
    }

    /// A later call on a held page: maps from the cursor's item on, and keeps the page in `held`
    /// again while it takes more calls.
    fn resume(
        &self,
        page: HeldPage,
        held: &mut Option<HeldPage>,
    ) -> Result<FindingPage, ConnectorError> {
        self.check_skip(page.starts.len())?;
        let read = records::read_indexed_alerts(
            &self.cfg.org,
            &page.text,
            &page.starts,
            &self.filter,
            self.cursor.skip,
            records::CALL_OUTPUT,
        )
        .map_err(|e| self.fault(e))?;
        let resumes = read.resume_at.is_some();
        let result = self.finding_page(read, page.after.clone(), page.query_started_at.clone());
        if resumes {
            *held = Some(page);
        }
        Ok(result)
    }

    /// A cursor that resumes past the end of its page was not issued for this page.
    fn check_skip(&self, items: usize) -> Result<(), ConnectorError> {
        if self.cursor.skip > items {
            return Err(ConnectorError::InvalidCursor(format!(
                "{}: the cursor resumes at item {} of a page of {items}",
                self.at, self.cursor.skip
            )));
        }
        Ok(())
    }

    /// What this call read of its page, as the contract's page: the next cursor resumes the
    /// page when the call ended early, else it is `after`, the cursor after the page.
    fn finding_page(
        &self,
        read: records::AlertsRead<'_>,
        after: Option<AlertCursor>,
        query_started_at: Option<String>,
    ) -> FindingPage {
        let next = match read.resume_at {
            Some(index) => Some(self.cursor.resume_at(index)),
            None => after,
        };
        FindingPage {
            items: read.findings,
            next_cursor: next.map(|c| c.encode(self.passes)),
            query_started_at,
            vendor_records: read.vendor_records as u32,
            skipped: read.skipped,
        }
    }

    /// A page that could not be read at all, as the error that says where.
    fn fault(&self, fault: PageFault) -> ConnectorError {
        let detail = match fault {
            PageFault::Syntax(e) => e,
            PageFault::Truncated(i, e) => format!("it ends inside items[{i}] ({e})"),
            PageFault::Broken(i, e) => format!("items[{i}]: {e}"),
        };
        let at = &self.at;
        self.call
            .malformed(format!("{at}: body is not the documented JSON: {detail}"))
    }
}

/// `GET /orgs/{org}/alerts` for one page of one pass, and the filter that pass reads with.
fn alerts_call(
    cfg: &Config,
    cursor: &AlertCursor,
    since: Option<dates::Instant>,
    passes: &[&'static str],
) -> (Call, Filter) {
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

/// `GET /quota` (free, no scope) validates the token and reports what is left; one repository
/// (`GET /orgs/{org}/repos?per_page=1`, 1 unit, the `repo:list` scope) validates the
/// organisation, so a wrong `org-slug` fails here and not at the first sync.
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
    let org = Call::new(
        cfg,
        &format!("/orgs/{}/repos", cfg.org),
        &[("per_page", "1".to_string()), ("page", "1".to_string())],
        Some("repo:list"),
    );
    org.send(http)?;
    messages.push(format!(
        "the organisation `{}` is visible to the token, with the repo:list scope (this check \
         cost 1 unit)",
        cfg.org
    ));
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
