//! The contract's timestamps (RFC 3339 UTC, `Z` suffix, fractional seconds allowed), read and
//! written in one place, on the same RFC 3339 code the connectors use (`connector_sdk::time`).

use std::time::{Duration, SystemTime};

use connector_sdk::time::{self as rfc3339, Instant};

/// An RFC 3339 UTC instant (`YYYY-MM-DDTHH:MM:SS[.frac]Z`); anything else is `None`.
pub fn parse(s: &str) -> Option<SystemTime> {
    let strict = s.len() >= 20 && s.as_bytes()[10] == b'T' && s.ends_with('Z');
    let t = rfc3339::parse(s).filter(|_| strict)?;
    let since_epoch = Duration::new(t.secs.unsigned_abs(), 0);
    let whole = if t.secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(since_epoch)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(since_epoch)
    };
    whole?.checked_add(Duration::from_nanos(u64::from(t.nanos)))
}

/// Whole seconds, `Z` suffix.
pub fn format_seconds(t: SystemTime) -> String {
    let secs = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs_f64().ceil() as u64).unwrap_or(i64::MAX),
    };
    let secs = secs.clamp(Instant::FIRST_SECOND, Instant::LAST_SECOND);
    rfc3339::format_rfc3339(Instant::new(secs, 0).expect("clamped to what RFC 3339 writes"))
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
            "2026-08-11 09:20:02Z",
            "2026-08-11T10:15:60Z",
            "2026-08-11",
            "last tuesday",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
