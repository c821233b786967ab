//! Socket's own time formats, over the SDK's RFC 3339 instants (`connector_sdk::time`): its
//! date filter, and the epoch number it gives a query's start in.

pub use connector_sdk::time::{Instant, format_rfc3339, parse, to_rfc3339_utc};

/// Socket's date filter format: `YYYY-MM-DD HH:MM:SS`, UTC, whole seconds (rounded down).
pub fn format_socket_filter(t: Instant) -> String {
    let (date, time) = connector_sdk::time::split(t.secs);
    format!("{date} {time}")
}

/// `meta.queryStartTimestamp` is a number whose unit Socket does not document: values past
/// year 5138 in seconds are read as milliseconds.
pub fn from_epoch_number(n: f64) -> Option<Instant> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let millis = if n >= 1e11 { n } else { n * 1000.0 };
    if millis > (Instant::LAST_SECOND as f64 + 1.0) * 1000.0 {
        return None;
    }
    let millis = millis as i64;
    Instant::new(
        millis.div_euclid(1000),
        (millis.rem_euclid(1000) as u32) * 1_000_000,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_numbers_in_millis_and_seconds() {
        let ms = from_epoch_number(1_786_440_002_113.0).unwrap();
        assert_eq!(format_rfc3339(ms), "2026-08-11T09:20:02.113Z");
        let s = from_epoch_number(1_786_440_002.0).unwrap();
        assert_eq!(format_rfc3339(s), "2026-08-11T09:20:02Z");
        assert_eq!(from_epoch_number(f64::NAN), None);
        assert_eq!(from_epoch_number(-1.0), None);
        for n in [1e99, 1e300, f64::MAX, 253_402_300_800_000.0] {
            assert_eq!(from_epoch_number(n), None, "{n}");
        }
        assert!(from_epoch_number(253_402_300_799_000.0).is_some());
    }

    #[test]
    fn socket_filter_format_is_space_separated_utc_seconds() {
        let t = parse("2026-08-11T09:20:02.999+00:00").unwrap();
        assert_eq!(format_socket_filter(t), "2026-08-11 09:20:02");
    }
}
