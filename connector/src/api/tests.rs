use std::collections::VecDeque;

use super::*;
use crate::settings::Config;
use crate::wit::Setting;

/// Answers GETs from a queue and records every URL asked for, and every URL prefetched.
#[derive(Default)]
struct Script {
    responses: VecDeque<Result<Response, SendError>>,
    urls: Vec<String>,
    prefetched: Vec<String>,
}

impl Script {
    fn reply(mut self, status: u16, body: &str) -> Self {
        self.responses.push_back(Ok(Response::new(status, body)));
        self
    }
}

impl Http for Script {
    fn send(&mut self, request: &Request) -> Result<Response, SendError> {
        self.urls.push(request.url.clone());
        self.responses
            .pop_front()
            .expect("an unexpected extra request")
    }

    fn prefetch(&mut self, request: &Request) {
        self.prefetched.push(request.url.clone());
    }
}

fn cfg(extra: &[(&str, &str)]) -> Config {
    let mut s = vec![Setting {
        name: "org-slug".into(),
        value: "acme".into(),
    }];
    s.extend(extra.iter().map(|(n, v)| Setting {
        name: n.to_string(),
        value: v.to_string(),
    }));
    Config::parse(&s).unwrap()
}

fn alerts(query_cursor: Option<&str>, since: Option<&str>) -> FindingQuery {
    FindingQuery {
        cursor: query_cursor.map(str::to_string),
        updated_since: since.map(str::to_string),
    }
}

#[test]
fn repos_request_and_cursor() {
    let body = format!(
        r#"{{"results": [{}], "nextPage": 2}}"#,
        vec![r#"{"id": "1", "slug": "a"}"#; 100].join(",")
    );
    let mut http = Script::default().reply(200, &body);
    let page = list_repos(&cfg(&[]), &mut http, None).unwrap();
    assert_eq!(page.items.len(), 100);
    assert_eq!(page.next_cursor.as_deref(), Some("2"));
    assert_eq!(
        http.urls,
        [
            "https://api.socket.dev/v0/orgs/acme/repos?per_page=100&page=1&include_archived=true&sort=created_at&direction=asc"
        ]
    );
    // The next page was sent for before this one was mapped.
    assert_eq!(
        http.prefetched,
        [
            "https://api.socket.dev/v0/orgs/acme/repos?per_page=100&page=2&include_archived=true&sort=created_at&direction=asc"
        ]
    );
}

#[test]
fn alerts_full_sync_asks_for_open_only_and_follows_end_cursor() {
    let mut http = Script::default()
        .reply(
            200,
            r#"{"endCursor": "c1", "items": [], "meta": {"queryStartTimestamp": 1786440000000}}"#,
        )
        .reply(
            200,
            r#"{"endCursor": null, "items": [{"id": "a", "status": "open"}], "meta": {}}"#,
        );
    let c = cfg(&[]);
    let p1 = list_alerts(&c, &mut http, &alerts(None, None), &mut None).unwrap();
    assert!(p1.items.is_empty());
    assert_eq!(p1.next_cursor.as_deref(), Some("open:c1"));
    assert_eq!(p1.query_started_at.as_deref(), Some("2026-08-11T09:20:00Z"));
    let p2 = list_alerts(
        &c,
        &mut http,
        &alerts(p1.next_cursor.as_deref(), None),
        &mut None,
    )
    .unwrap();
    assert_eq!(
        (p2.items.len(), p2.next_cursor, p2.vendor_records),
        (1, None, 1)
    );
    assert_eq!(
        http.urls,
        [
            "https://api.socket.dev/v0/orgs/acme/alerts?per_page=5000&filters.alertStatus=open",
            "https://api.socket.dev/v0/orgs/acme/alerts?per_page=5000&startAfterCursor=c1&filters.alertStatus=open",
        ]
    );
    // Each page asked for its successor before mapping; the last page has none.
    assert_eq!(http.prefetched, http.urls[1..]);
}

#[test]
fn incremental_sync_walks_both_statuses_since_the_mark() {
    let mut http = Script::default()
        .reply(200, r#"{"endCursor": null, "items": [{"id": "a", "status": "open"}, {"id": "b", "status": "cleared"}]}"#)
        .reply(200, r#"{"endCursor": null, "items": [{"id": "a", "status": "open"}, {"id": "b", "status": "cleared"}]}"#);
    let c = cfg(&[]);
    let since = Some("2026-08-10T09:20:00.5Z");
    let p1 = list_alerts(&c, &mut http, &alerts(None, since), &mut None).unwrap();
    // A server that ignores the status filter still yields each alert once.
    assert_eq!(
        p1.items
            .iter()
            .map(|f| f.vendor_id.as_str())
            .collect::<Vec<_>>(),
        ["a"]
    );
    assert_eq!(p1.next_cursor.as_deref(), Some("cleared:"));
    let p2 = list_alerts(
        &c,
        &mut http,
        &alerts(p1.next_cursor.as_deref(), since),
        &mut None,
    )
    .unwrap();
    assert_eq!(
        p2.items
            .iter()
            .map(|f| f.vendor_id.as_str())
            .collect::<Vec<_>>(),
        ["b"]
    );
    assert_eq!(p2.next_cursor, None);
    assert!(
        http.urls[1].ends_with(
            "filters.alertUpdatedAt.gte=2026-08-10%2009%3A20%3A00&filters.alertStatus=cleared"
        ),
        "{}",
        http.urls[1]
    );
    // The next pass's first page was sent for ahead, with its own status filter.
    assert_eq!(http.prefetched, http.urls[1..]);
}

#[test]
fn statuses_map_to_errors_that_name_the_endpoint() {
    let c = cfg(&[]);
    let case = |status: u16, body: &str| {
        let mut http = Script::default().reply(status, body);
        list_alerts(&c, &mut http, &alerts(None, None), &mut None).unwrap_err()
    };
    match case(
        401,
        r#"{"error": {"message": "Unauthorized", "details": null}}"#,
    ) {
        ConnectorError::Unauthorized(m) => assert!(
            m.contains("GET /v0/orgs/acme/alerts") && m.contains("invalid or expired"),
            "{m}"
        ),
        e => panic!("{e:?}"),
    }
    match case(
        403,
        r#"{"error": {"message": "Insufficient permissions for API method", "details": null}}"#,
    ) {
        ConnectorError::Forbidden(m) => assert!(m.contains("`alerts:list` scope"), "{m}"),
        e => panic!("{e:?}"),
    }
    match case(
        403,
        r#"{"error": {"message": "Organization not allowed", "details": null}}"#,
    ) {
        ConnectorError::Forbidden(m) => assert!(m.contains("plan"), "{m}"),
        e => panic!("{e:?}"),
    }
    match case(404, "") {
        ConnectorError::NotFound(m) => assert!(m.contains("organisation slug"), "{m}"),
        e => panic!("{e:?}"),
    }
    match case(503, "<html><body>Service Unavailable</body></html>") {
        ConnectorError::Upstream(u) => assert_eq!(
            (u.status, u.message.as_str()),
            (503, "a non-JSON (HTML) error page")
        ),
        e => panic!("{e:?}"),
    }
    match case(200, r#"{"endCursor": null, "items": [{"id": "a", "locat"#) {
        ConnectorError::MalformedResponse(m) => {
            assert_eq!(m.endpoint, "GET /v0/orgs/acme/alerts");
            assert!(
                m.detail.contains(
                    "open pass, first page: body is not the documented JSON: it ends inside items[0]"
                ),
                "{}",
                m.detail
            );
        }
        e => panic!("{e:?}"),
    }
    match case(
        200,
        r#"{"endCursor": null, "items": [{"id": "a"}, {"id": "b", "title": tru}]}"#,
    ) {
        ConnectorError::MalformedResponse(m) => assert!(
            m.detail.contains(
                "open pass, first page: body is not the documented JSON: items[1]: expected ident"
            ),
            "{}",
            m.detail
        ),
        e => panic!("{e:?}"),
    }
    match case(200, r#"{"endCursor": null, "items": [{"id": "a"}] "#) {
        ConnectorError::MalformedResponse(m) => assert!(
            m.detail
                .contains("body is not the documented JSON: expected `,` or `}` after a field"),
            "{}",
            m.detail
        ),
        e => panic!("{e:?}"),
    }
    for no_items in [r#"{"endCursor": null}"#, r#"{"items": {"a": 1}}"#] {
        match case(200, no_items) {
            ConnectorError::MalformedResponse(m) => {
                assert!(m.detail.contains("no `items` array"), "{}", m.detail)
            }
            e => panic!("{e:?}"),
        }
    }
}

#[test]
fn unreadable_records_are_reported_beside_the_page() {
    let c = cfg(&[]);
    let mut http = Script::default().reply(
        200,
        r#"{"endCursor": null, "items": [{"id": "a", "locations": [7, {"branch": "main"}]},
            {"id": "b", "severity": ["high"]}, {"id": "c"}]}"#,
    );
    let page = list_alerts(&c, &mut http, &alerts(None, None), &mut None).unwrap();
    let ids: Vec<&str> = page.items.iter().map(|f| f.vendor_id.as_str()).collect();
    assert_eq!(ids, ["a", "c"]);
    assert_eq!(page.vendor_records, 3);
    let reasons: Vec<&str> = page.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert!(reasons[0].starts_with(r#"alert "a", locations[0]: invalid type: integer `7`"#));
    assert!(reasons[1].starts_with(r#"items[1] (id "b"): severity: invalid type: sequence"#));
    assert_eq!(reasons.len(), 2);
}

#[test]
fn rate_limit_carries_retry_after() {
    let mut http = Script::default();
    http.responses.push_back(Ok(Response::new(
        429,
        r#"{"error":{"message":"Insufficient quota for API route","details":null}}"#,
    )
    .with_header("Retry-After", "1843")));
    match list_repos(&cfg(&[]), &mut http, None).unwrap_err() {
        ConnectorError::RateLimited(r) => {
            assert_eq!(r.retry_after_seconds, Some(1843));
            assert_eq!(r.endpoint, "GET /v0/orgs/acme/repos");
        }
        e => panic!("{e:?}"),
    }
}

/// A runtime that passes `Retry-After` on as the server wrote it: the HTTP-date form is read
/// too, as seconds from now.
#[test]
fn rate_limit_reads_a_dated_retry_after() {
    let mut http = Script::default();
    let at = std::time::SystemTime::now() + std::time::Duration::from_secs(600);
    http.responses.push_back(Ok(
        Response::new(429, "").with_header("retry-after", &httpdate::fmt_http_date(at))
    ));
    match list_repos(&cfg(&[]), &mut http, None).unwrap_err() {
        ConnectorError::RateLimited(r) => {
            let secs = r.retry_after_seconds.unwrap();
            assert!((598..=600).contains(&secs), "{secs}");
            assert_eq!(r.message, "quota exhausted");
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn a_rejected_cursor_is_reported_as_such() {
    let mut http = Script::default().reply(
        400,
        r#"{"error": {"message": "Invalid cursor", "details": null}}"#,
    );
    match list_alerts(
        &cfg(&[]),
        &mut http,
        &alerts(Some("open:c9"), None),
        &mut None,
    )
    .unwrap_err()
    {
        ConnectorError::InvalidCursor(m) => assert!(m.contains("rejected its own cursor"), "{m}"),
        e => panic!("{e:?}"),
    }
}

#[test]
fn transport_failures_name_the_endpoint() {
    let mut http = Script::default();
    http.responses
        .push_back(Err(SendError::transport("connection refused")));
    match check(&cfg(&[]), &mut http).unwrap_err() {
        ConnectorError::Transport(m) => assert_eq!(m, "GET /v0/quota: connection refused"),
        e => panic!("{e:?}"),
    }
}

#[test]
fn check_reports_quota_and_validates_the_organisation() {
    let quota = r#"{"quota": 950, "maxQuota": 1000, "nextWindowRefresh": "2026-11-23T10:00:00Z"}"#;
    let mut http = Script::default()
        .reply(200, quota)
        .reply(200, r#"{"results": [], "nextPage": null}"#);
    let r = check(&cfg(&[]), &mut http).unwrap();
    assert_eq!((r.quota_remaining, r.quota_max), (Some(950), Some(1000)));
    assert!(r.messages.iter().any(|m| m.contains("950 of 1000")));
    assert!(r.messages.iter().any(|m| m.contains("`acme` is visible")));
    assert!(http.urls[1].ends_with("/v0/orgs/acme/repos?per_page=1&page=1"));
    // A wrong organisation fails the check, naming it.
    let mut http = Script::default()
        .reply(200, quota)
        .reply(404, r#"{"error": {"message": "Organization not found"}}"#);
    match check(&cfg(&[]), &mut http).unwrap_err() {
        ConnectorError::NotFound(m) => assert!(m.contains("organisation slug is unknown"), "{m}"),
        e => panic!("{e:?}"),
    }
}

/// A page of `n` open alerts of about 2 KB each, then `tail` (its other fields).
fn wide_page(n: usize, tail: &str) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"id": "a{i}", "status": "open", "title": "t", "description": "{}",
                    "locations": [{{"repository": {{"id": "1", "slug": "r"}}}}]}}"#,
                "d".repeat(2000)
            )
        })
        .collect();
    format!(r#"{{"items": [{}]{tail}}}"#, items.join(","))
}

#[test]
fn a_page_larger_than_one_call_is_fetched_once_and_finished_from_the_held_copy() {
    let body = wide_page(
        3000,
        r#", "endCursor": "c2", "meta": {"queryStartTimestamp": 1786440000000}"#,
    );
    let mut http = Script::default().reply(200, &body);
    let c = cfg(&[]);
    let mut held = None;
    let mut cursor = None;
    let mut seen = Vec::new();
    let mut calls = 0;
    let next = loop {
        let p = list_alerts(&c, &mut http, &alerts(cursor.as_deref(), None), &mut held).unwrap();
        calls += 1;
        assert_eq!(p.query_started_at.as_deref(), Some("2026-08-11T09:20:00Z"));
        assert_eq!(p.vendor_records as usize, p.items.len());
        seen.extend(p.items.into_iter().map(|f| f.vendor_id));
        match p.next_cursor {
            Some(c) if c.starts_with("open+") => cursor = Some(c),
            other => break other,
        }
        assert!(held.is_some(), "the page is kept while it is not finished");
    };
    assert!(calls >= 2, "{calls} calls for ~6 MB of findings");
    assert_eq!(next.as_deref(), Some("open:c2"), "then the listing goes on");
    assert!(held.is_none(), "a finished page is let go");
    let want: Vec<String> = (0..3000).map(|i| format!("a{i}")).collect();
    assert_eq!(seen, want, "every alert once, in order");
    assert_eq!(http.urls.len(), 1, "fetched once: {:?}", http.urls);
    assert_eq!(http.prefetched.len(), 1, "its successor asked for once");
}

#[test]
fn a_cursor_into_a_page_not_held_fetches_it_again() {
    let body = wide_page(3000, r#", "endCursor": "c2""#);
    let mut http = Script::default().reply(200, &body).reply(200, &body);
    let c = cfg(&[]);
    let mut held = None;
    let first = list_alerts(&c, &mut http, &alerts(None, None), &mut held).unwrap();
    let resume = first.next_cursor.clone().unwrap();
    assert!(resume.starts_with("open+"), "{resume}");
    // Another instance (or a later run) has nothing held.
    let elsewhere = list_alerts(&c, &mut http, &alerts(Some(&resume), None), &mut None).unwrap();
    let here = list_alerts(&c, &mut http, &alerts(Some(&resume), None), &mut held).unwrap();
    assert_eq!(elsewhere.items, here.items);
    assert_eq!(elsewhere.next_cursor, here.next_cursor);
    assert_eq!(
        http.urls.len(),
        2,
        "only the instance without the page fetched it"
    );
    assert_eq!(http.urls[0], http.urls[1]);
    // A call elsewhere in the listing drops what is held.
    let mut http = Script::default()
        .reply(200, &body)
        .reply(200, r#"{"items": [], "endCursor": null}"#);
    let mut held = None;
    list_alerts(&c, &mut http, &alerts(None, None), &mut held).unwrap();
    assert!(held.is_some());
    list_alerts(&c, &mut http, &alerts(Some("open:c2"), None), &mut held).unwrap();
    assert!(held.is_none());
}
