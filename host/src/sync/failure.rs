//! A failed call as the exit-code family it belongs to, its text made safe: every word of a
//! connector's error is the component's, so it is made printable and bounded before it reaches
//! a terminal, a log or a summary.

use std::sync::atomic::Ordering;

use super::Network;
use crate::engine::Session;
use crate::error::Failure;
use crate::sandbox::Stats;
use crate::text::{MAX_MESSAGE_CHARS, printable};
use crate::wit::{ConnectorError, ConnectorSpec, Malformed, RateLimit, UpstreamFailure};

/// Maps the connector's error to the exit-code family it belongs to. Every text in it is the
/// component's, so it is made printable and bounded before it reaches a terminal or a summary.
/// A 404 points at the setting that names the tenant, when the connector declares one.
pub fn connector_failure(e: ConnectorError, session: &Session, spec: &ConnectorSpec) -> Failure {
    if let Some(why) = session.last_denial() {
        return Failure::Guest(format!("the sandbox refused a request: {why}"));
    }
    if let Some(why) = session.last_unrecorded() {
        return Failure::Upstream(format!(
            "the cassette cannot answer a request the component made ({why}); a replay \
             answers only what was recorded"
        ));
    }
    let e = printable_error(e);
    match e {
        ConnectorError::InvalidConfig(m) => Failure::Config(m),
        ConnectorError::Unauthorized(m) | ConnectorError::Forbidden(m) => Failure::Auth(m),
        ConnectorError::NotFound(m) => Failure::Config(with_tenant_hint(m, spec)),
        ConnectorError::RateLimited(r) => Failure::Upstream(match r.retry_after_seconds {
            Some(s) => format!(
                "{}: quota exhausted, resets in {s} s ({})",
                r.endpoint, r.message
            ),
            None => format!(
                "{}: rate limited and retries ran out ({})",
                r.endpoint, r.message
            ),
        }),
        ConnectorError::Upstream(u) => {
            Failure::Upstream(format!("{}: HTTP {}: {}", u.endpoint, u.status, u.message))
        }
        ConnectorError::Transport(m) => Failure::Upstream(m),
        ConnectorError::MalformedResponse(m) => {
            Failure::Upstream(format!("{}: malformed response: {}", m.endpoint, m.detail))
        }
        ConnectorError::InvalidCursor(m) => Failure::Upstream(m),
    }
}

/// A 404's message, pointing at the tenant setting unless the connector's message names it.
fn with_tenant_hint(message: String, spec: &ConnectorSpec) -> String {
    match &spec.tenant_setting {
        Some(tenant) if !message.contains(&format!("`{tenant}`")) => {
            format!("{message}; check the `{}` setting", printable(tenant, 64))
        }
        _ => message,
    }
}

fn printable_error(e: ConnectorError) -> ConnectorError {
    let p = |s: String| printable(&s, MAX_MESSAGE_CHARS);
    match e {
        ConnectorError::InvalidConfig(m) => ConnectorError::InvalidConfig(p(m)),
        ConnectorError::Unauthorized(m) => ConnectorError::Unauthorized(p(m)),
        ConnectorError::Forbidden(m) => ConnectorError::Forbidden(p(m)),
        ConnectorError::NotFound(m) => ConnectorError::NotFound(p(m)),
        ConnectorError::RateLimited(r) => ConnectorError::RateLimited(RateLimit {
            endpoint: p(r.endpoint),
            message: p(r.message),
            ..r
        }),
        ConnectorError::Upstream(u) => ConnectorError::Upstream(UpstreamFailure {
            endpoint: p(u.endpoint),
            message: p(u.message),
            ..u
        }),
        ConnectorError::Transport(m) => ConnectorError::Transport(p(m)),
        ConnectorError::MalformedResponse(m) => ConnectorError::MalformedResponse(Malformed {
            endpoint: p(m.endpoint),
            detail: p(m.detail),
        }),
        ConnectorError::InvalidCursor(m) => ConnectorError::InvalidCursor(p(m)),
    }
}

/// A run whose component had requests refused is not complete, even if the component carried
/// on: what it meant to fetch is missing. Says how many, to where, and the last reason.
pub(super) fn refusals(stats: &Stats) -> Result<(), Failure> {
    let denied = stats.denied.load(Ordering::Relaxed);
    if denied == 0 {
        return Ok(());
    }
    let by_origin = stats
        .denied_by_origin
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(origin, n)| format!("{n} to {origin}"))
        .collect::<Vec<_>>()
        .join(", ");
    let last = stats
        .last_denial
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default();
    Err(Failure::Guest(format!(
        "the sandbox refused {denied} of the component's requests ({by_origin}); last: {last}"
    )))
}

/// A replay that failed on a request with nothing recorded, in an incremental run: the
/// cassette was most likely recorded by a full sync, and an earlier run left a high-water mark
/// (a second replay into the same database or state). Says what to do.
pub(super) fn explain_replay(
    failure: Failure,
    incremental: bool,
    network: &Network,
    stats: &Stats,
) -> Failure {
    let unrecorded = stats
        .last_unrecorded
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .is_some();
    if !(unrecorded && incremental && matches!(network, Network::Replay(_))) {
        return failure;
    }
    failure.map_message(|m| {
        format!(
            "{m}. This run is incremental (an earlier run left a high-water mark), and the \
             cassette holds what its recording asked for: replay it with --full"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_404_points_at_the_tenant_setting_once() {
        let spec = ConnectorSpec {
            name: "c".into(),
            version: "0".into(),
            vendor: "V".into(),
            description: String::new(),
            settings: vec![],
            base_url_setting: None,
            tenant_setting: Some("project".into()),
            resource_types: vec![],
        };
        assert_eq!(
            with_tenant_hint("GET /x: 404 Not Found".into(), &spec),
            "GET /x: 404 Not Found; check the `project` setting"
        );
        let named = "GET /x: 404: no such project; check `project`".to_string();
        assert_eq!(with_tenant_hint(named.clone(), &spec), named);
    }
}
