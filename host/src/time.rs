//! The contract's timestamps (RFC 3339 UTC, `Z` suffix, fractional seconds allowed), read and
//! written in one place.

use std::time::SystemTime;

/// An RFC 3339 UTC instant (`...Z`); anything else is `None`.
pub fn parse(s: &str) -> Option<SystemTime> {
    let body = s.strip_suffix('Z')?;
    humantime::parse_rfc3339_weak(body).ok()
}

/// Whole seconds, `Z` suffix.
pub fn format_seconds(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Milliseconds since the Unix epoch (OCSF's timestamps); `None` before 1970 or unreadable.
pub fn epoch_ms(s: &str) -> Option<i64> {
    let t = parse(s)?;
    i64::try_from(t.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_millis()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_contract_allows_and_nothing_else() {
        assert_eq!(epoch_ms("1970-01-01T00:00:01.250Z"), Some(1250));
        assert_eq!(
            format_seconds(parse("2026-08-11T09:20:02.113Z").unwrap()),
            "2026-08-11T09:20:02Z"
        );
        for bad in [
            "2026-08-11T09:20:02+02:00",
            "2026-08-11",
            "last tuesday",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
