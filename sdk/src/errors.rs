//! HTTP outcomes as [`ConnectorError`]s that name their endpoint and say what to do. A connector
//! adds its vendor's words (a scope, a setting to check) by passing its own texts.

use std::time::SystemTime;

use crate::http::{Response, SendError};
use crate::retry::parse_retry_after;
use crate::wit::{ConnectorError, Malformed, RateLimit, UpstreamFailure};

/// The longest vendor message kept in an error, in characters.
pub const MAX_VENDOR_MESSAGE: usize = 200;

/// `endpoint: <transport failure>`.
pub fn transport(endpoint: &str, failure: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Transport(format!("{endpoint}: {failure}"))
}

/// A response the connector could not read: `MalformedResponse` naming the endpoint.
pub fn malformed(endpoint: &str, detail: impl Into<String>) -> ConnectorError {
    ConnectorError::MalformedResponse(Malformed {
        endpoint: endpoint.to_string(),
        detail: detail.into(),
    })
}

/// A non-success response as an error. `message` is the vendor's own error text (empty when it
/// gave none); `not_found` says what a 404 means for this connector (e.g. which setting to
/// check). A 429 carries its `Retry-After` in seconds, whichever form the server used.
pub fn from_status(
    endpoint: &str,
    response: &Response,
    message: &str,
    not_found: &str,
) -> ConnectorError {
    let said = if message.is_empty() {
        String::new()
    } else {
        format!(" (the server says: {message})")
    };
    let or = |fallback: &str| {
        if message.is_empty() {
            fallback.to_string()
        } else {
            message.to_string()
        }
    };
    match response.status {
        401 => ConnectorError::Unauthorized(format!(
            "{endpoint}: 401 Unauthorized: the credential is invalid or expired{said}"
        )),
        403 => ConnectorError::Forbidden(format!(
            "{endpoint}: 403 Forbidden: the credential may not do this{said}"
        )),
        404 => ConnectorError::NotFound(format!("{endpoint}: 404 Not Found: {not_found}{said}")),
        429 => ConnectorError::RateLimited(RateLimit {
            endpoint: endpoint.to_string(),
            retry_after_seconds: response
                .header("retry-after")
                .and_then(|v| parse_retry_after(v, SystemTime::now()))
                .map(|d| d.as_secs()),
            message: or("rate limited"),
        }),
        status => ConnectorError::Upstream(UpstreamFailure {
            endpoint: endpoint.to_string(),
            status,
            message: or("no error message"),
        }),
    }
}

/// The response to a request sent for `endpoint` when it succeeded (2xx); otherwise the error it
/// means: a transport failure, or [`from_status`] with the body's first words as the vendor's
/// message. `not_found` is what a 404 means for this connector.
pub fn success(
    endpoint: &str,
    sent: Result<Response, SendError>,
    not_found: &str,
) -> Result<Response, ConnectorError> {
    let response = sent.map_err(|e| transport(endpoint, &e))?;
    if response.is_success() {
        return Ok(response);
    }
    let message = body_message(&response.body);
    Err(from_status(endpoint, &response, &message, not_found))
}

/// The body of `response` read as `T`, or `malformed-response` saying where it was wrong.
pub fn json<T: serde::de::DeserializeOwned>(
    endpoint: &str,
    response: &Response,
) -> Result<T, ConnectorError> {
    serde_json::from_slice(&response.body)
        .map_err(|e| malformed(endpoint, format!("not the documented JSON: {e}")))
}

/// A body that is not the vendor's error JSON, as a short printable message: empty for an empty
/// body, a word for an HTML error page, else its first [`MAX_VENDOR_MESSAGE`] characters.
pub fn body_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.starts_with('<') {
        "a non-JSON (HTML) error page".to_string()
    } else {
        shorten(text)
    }
}

/// Control characters as spaces, cut to [`MAX_VENDOR_MESSAGE`] characters.
pub fn shorten(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match clean.char_indices().nth(MAX_VENDOR_MESSAGE) {
        Some((i, _)) => format!("{}…", &clean[..i]),
        None => clean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_carry_retry_after_in_seconds_from_either_form() {
        let dated = Response::new(429, "").with_header(
            "retry-after",
            &httpdate::fmt_http_date(SystemTime::now() + std::time::Duration::from_secs(90)),
        );
        let ConnectorError::RateLimited(r) = from_status("GET /x", &dated, "", "") else {
            panic!("not a rate limit");
        };
        assert!((88..=90).contains(&r.retry_after_seconds.unwrap()), "{r:?}");
        let plain = Response::new(429, "").with_header("retry-after", "7");
        let ConnectorError::RateLimited(r) = from_status("GET /x", &plain, "slow down", "") else {
            panic!("not a rate limit");
        };
        assert_eq!(
            (r.retry_after_seconds, r.message.as_str()),
            (Some(7), "slow down")
        );
    }

    #[test]
    fn statuses_map_to_their_kinds_and_name_the_endpoint() {
        let e = |s| {
            from_status(
                "GET /v1/items",
                &Response::new(s, ""),
                "",
                "check `project`",
            )
        };
        assert!(
            matches!(e(401), ConnectorError::Unauthorized(m) if m.starts_with("GET /v1/items: 401"))
        );
        assert!(matches!(e(403), ConnectorError::Forbidden(_)));
        assert!(matches!(e(404), ConnectorError::NotFound(m) if m.contains("check `project`")));
        assert!(matches!(e(502), ConnectorError::Upstream(u) if u.status == 502));
    }

    #[test]
    fn body_messages_are_short_and_printable() {
        assert_eq!(
            body_message(b"<html>oops</html>"),
            "a non-JSON (HTML) error page"
        );
        assert_eq!(body_message(b" a\nb "), "a b");
        assert_eq!(
            body_message(&[b'x'; 500]).chars().count(),
            MAX_VENDOR_MESSAGE + 1
        );
    }
}
