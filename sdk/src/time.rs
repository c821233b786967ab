//! Timestamps: the contract's RFC 3339 UTC form, from a vendor's ISO 8601 strings and HTTP
//! dates (`Date`, `Last-Modified`), and instants that compare.
//!
//! Hand-rolled civil-from-days arithmetic rather than a date crate: a connector needs only
//! parse, convert to UTC and format, and this is a few hundred bytes of code in the component.
//! A property test checks it against the `time` crate (a dev-dependency only) on every input
//! shape, leap seconds included.

/// Seconds and nanoseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant {
    /// Whole seconds.
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

impl Instant {
    /// 0000-01-01T00:00:00Z: RFC 3339 writes years with four digits, so none before this.
    pub const FIRST_SECOND: i64 = -62_167_219_200;
    /// 9999-12-31T23:59:59Z, the last second RFC 3339 can write.
    pub const LAST_SECOND: i64 = 253_402_300_799;

    /// An instant RFC 3339 can write (years 0000 to 9999, in UTC), else `None`.
    pub fn new(secs: i64, nanos: u32) -> Option<Instant> {
        (Self::FIRST_SECOND..=Self::LAST_SECOND)
            .contains(&secs)
            .then_some(Instant { secs, nanos })
    }
}

/// Normalizes a timestamp to RFC 3339 UTC (`YYYY-MM-DDTHH:MM:SS[.fff]Z`).
///
/// A value already in UTC `Z` form is returned unchanged (keeping its precision); an offset is
/// converted to UTC; a space instead of `T` is accepted. Anything unparseable yields `None`: the
/// raw value still travels in `vendor_data`.
pub fn to_rfc3339_utc(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let instant = parse(raw)?;
    let canonical_z = raw.len() >= 20 && raw.as_bytes()[10] == b'T' && raw.ends_with('Z');
    if canonical_z {
        return Some(raw.to_string());
    }
    Some(format_rfc3339(instant))
}

/// Parses `YYYY-MM-DD[T ]HH:MM:SS[.frac](Z|±HH:MM)`; a missing zone is taken as UTC.
pub fn parse(s: &str) -> Option<Instant> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &b[19..];
    let mut nanos: u32 = 0;
    if let Some((b'.', frac)) = rest.split_first() {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        for (i, c) in frac[..n].iter().enumerate().take(9) {
            nanos += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
        }
        rest = &frac[n..];
    }
    let offset_secs: i64 = match rest {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = digits(&[*h1, *h2]).filter(|h| *h <= 23)?;
            let m = digits(&[*m1, *m2]).filter(|m| *m <= 59)?;
            let off = h * 3600 + m * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    if second == 60 {
        // A leap second exists only as 23:59:60 UTC on a month's last day (the next second
        // starts a month); it sorts as the last instant of 23:59:59.
        let next_month = secs.rem_euclid(86_400) == 0 && civil_from_days(secs / 86_400).2 == 1;
        return next_month.then(|| Instant::new(secs - 1, 999_999_999))?;
    }
    Instant::new(secs, nanos)
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, or the obsolete RFC 850 and asctime forms)
/// as an instant, e.g. the server's clock from a `Date` header.
pub fn from_http_date(value: &str) -> Option<Instant> {
    let t = httpdate::parse_http_date(value.trim()).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Instant::new(i64::try_from(secs).ok()?, 0)
}

/// An HTTP date in the contract's form: `Sun, 06 Nov 1994 08:49:37 GMT` is
/// `1994-11-06T08:49:37Z`.
pub fn rfc3339_of_http_date(value: &str) -> Option<String> {
    from_http_date(value).map(format_rfc3339)
}

/// Formats as `YYYY-MM-DDTHH:MM:SS[.mmm]Z` (milliseconds when there is a fraction).
pub fn format_rfc3339(t: Instant) -> String {
    let (date, time) = split(t.secs);
    let millis = t.nanos / 1_000_000;
    if t.nanos == 0 {
        format!("{date}T{time}Z")
    } else {
        format!("{date}T{time}.{millis:03}Z")
    }
}

/// The date (`YYYY-MM-DD`) and time of day (`HH:MM:SS`) of an instant, in UTC.
pub fn split(secs: i64) -> (String, String) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60),
    )
}

fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_z_values_pass_through_unchanged() {
        assert_eq!(
            to_rfc3339_utc("2026-07-28T10:14:02.000Z").as_deref(),
            Some("2026-07-28T10:14:02.000Z")
        );
        assert_eq!(
            to_rfc3339_utc("2026-07-28T10:14:02Z").as_deref(),
            Some("2026-07-28T10:14:02Z")
        );
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        assert_eq!(
            to_rfc3339_utc("2026-01-01T01:30:00+02:00").as_deref(),
            Some("2025-12-31T23:30:00Z")
        );
        assert_eq!(
            to_rfc3339_utc("2026-02-28T23:00:00.250-01:30").as_deref(),
            Some("2026-03-01T00:30:00.250Z")
        );
    }

    #[test]
    fn space_separated_and_zoneless_values_are_utc() {
        assert_eq!(
            to_rfc3339_utc("2026-08-02 13:08:19").as_deref(),
            Some("2026-08-02T13:08:19Z")
        );
    }

    #[test]
    fn garbage_and_impossible_dates_are_rejected() {
        for bad in [
            "",
            "yesterday",
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01T00:00:00+2",
        ] {
            assert_eq!(to_rfc3339_utc(bad), None, "{bad}");
        }
    }

    /// Second 60 is a leap second only at 23:59:60 UTC on a month's last day (in any offset's
    /// local time).
    #[test]
    fn second_60_is_taken_only_as_a_leap_second() {
        for bad in [
            "2026-08-11T10:15:60Z",
            "2016-12-31T23:58:60Z",
            "2016-12-31T23:59:60+01:00",
            "2016-12-30T23:59:60Z",
        ] {
            assert_eq!(to_rfc3339_utc(bad), None, "{bad}");
        }
        let leap = parse("2016-12-31T23:59:60Z").unwrap();
        assert_eq!(Some(leap), parse("2016-12-31T15:59:60-08:00"));
        assert!(parse("2016-12-31T23:59:59.5Z").unwrap() < leap);
        assert!(leap < parse("2017-01-01T00:00:00Z").unwrap());
        assert_eq!(
            to_rfc3339_utc("2016-12-31T15:59:60-08:00").as_deref(),
            Some("2016-12-31T23:59:59.999Z")
        );
    }

    #[test]
    fn http_dates_in_all_three_forms() {
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(
                rfc3339_of_http_date(form).as_deref(),
                Some("1994-11-06T08:49:37Z"),
                "{form}"
            );
        }
        assert_eq!(rfc3339_of_http_date("06 Nov 1994"), None);
    }

    #[test]
    fn instants_outside_years_0000_to_9999_are_unparseable() {
        for bad in [
            "0000-01-01T00:00:00+00:01",
            "9999-12-31T23:59:59-00:01",
            "2026-01-01T00:00:00+24:00",
            "2026-01-01T00:00:00+05:60",
        ] {
            assert_eq!(to_rfc3339_utc(bad), None, "{bad}");
        }
        assert_eq!(
            to_rfc3339_utc("0000-01-01T00:30:00+00:30").as_deref(),
            Some("0000-01-01T00:00:00Z")
        );
        assert_eq!(
            to_rfc3339_utc("9999-12-31T23:59:59+00:00").as_deref(),
            Some("9999-12-31T23:59:59Z")
        );
    }

    #[test]
    fn civil_round_trip_over_leap_years() {
        for days in [-719_468, -1, 0, 59, 60, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(
            parse("2024-02-29T00:00:00Z").map(|t| t.secs),
            Some(1_709_164_800)
        );
    }

    mod props {
        use proptest::prelude::*;
        use time::OffsetDateTime;
        use time::format_description::well_known::Rfc3339;

        use super::super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4096))]

            /// Any RFC 3339 text with a `T` and an explicit zone: accepted exactly when the
            /// `time` crate accepts it, at the same instant (leap seconds included).
            #[test]
            fn parse_agrees_with_the_time_crate(
                year in 1u32..9999, month in 1u32..=12, day in 1u32..=31,
                hour in 0u32..=23, minute in prop_oneof![0u32..=59, Just(59)],
                second in prop_oneof![0u32..=60, Just(60)],
                frac in proptest::option::of(0u32..1_000_000_000),
                zone in prop_oneof![Just(None), (-23i32..=23, 0u32..=59).prop_map(Some)],
            ) {
                let frac = frac.map_or(String::new(), |f| format!(".{f:09}"));
                let zone = match zone {
                    None => "Z".to_string(),
                    Some((h, m)) => format!("{}{:02}:{m:02}", if h < 0 { '-' } else { '+' }, h.abs()),
                };
                let text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{frac}{zone}");
                let ours = parse(&text).map(|t| (t.secs, t.nanos));
                let theirs = OffsetDateTime::parse(&text, &Rfc3339)
                    .ok()
                    .map(|t| (t.unix_timestamp(), t.nanosecond()));
                prop_assert_eq!(ours, theirs, "{}", text);
            }
        }
    }
}
