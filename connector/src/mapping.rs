//! The integration card's mapping tables, made exact: severity, state and category.

use crate::wit::{FindingType, IssueType, Severity, State};

/// The resource type of every Socket resource.
pub const REPOSITORY: &str = "repository";

/// `critical`/`high`/`medium`/`middle`/`low`/`info` (any case) to the unified severity; a
/// missing or empty one is Unknown and any other label Other (both render as Info in V1 / V2).
/// `/alerts` says `medium`; older Socket data says `middle`.
pub fn severity(raw: Option<&str>) -> Severity {
    match raw.map(str::trim) {
        None | Some("") => Severity::Unknown,
        Some(s) if s.eq_ignore_ascii_case("critical") => Severity::Critical,
        Some(s) if s.eq_ignore_ascii_case("high") => Severity::High,
        Some(s) if s.eq_ignore_ascii_case("medium") || s.eq_ignore_ascii_case("middle") => {
            Severity::Medium
        }
        Some(s) if s.eq_ignore_ascii_case("low") => Severity::Low,
        Some(s) if s.eq_ignore_ascii_case("info") => Severity::Info,
        Some(_) => Severity::Other,
    }
}

/// State of one (alert, location), in this order: the location's `action == "ignore"` is Ignored;
/// else the alert's `status == "cleared"` is Closed; else Open.
pub fn state(location_action: Option<&str>, alert_status: Option<&str>) -> State {
    if location_action.is_some_and(|a| a.trim().eq_ignore_ascii_case("ignore")) {
        State::Ignored
    } else if alert_status.is_some_and(|s| s.trim().eq_ignore_ascii_case("cleared")) {
        State::Closed
    } else {
        State::Open
    }
}

/// Category to (V1 issue type, V2 finding type); `other` and unknown values are (custom, UNKNOWN).
pub fn category(raw: Option<&str>) -> (IssueType, FindingType) {
    match raw.map(str::trim).unwrap_or("") {
        "vulnerability" | "supplyChainRisk" => (IssueType::Vulnerability, FindingType::Dependency),
        "maintenance" => (IssueType::Config, FindingType::Dependency),
        "license" => (IssueType::License, FindingType::Dependency),
        "quality" => (IssueType::Code, FindingType::Code),
        _ => (IssueType::Custom, FindingType::Unknown),
    }
}

/// Rank for `min-severity` comparisons: Info (and Unknown, Other) 0 .. Critical 4.
pub fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Info | Severity::Unknown | Severity::Other => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_table() {
        let rows = [
            (Some("critical"), Severity::Critical),
            (Some("high"), Severity::High),
            (Some("medium"), Severity::Medium),
            (Some("middle"), Severity::Medium),
            (Some("low"), Severity::Low),
            (Some("HIGH"), Severity::High),
            (Some(""), Severity::Unknown),
            (Some("severe"), Severity::Other),
            (Some("info"), Severity::Info),
            (None, Severity::Unknown),
        ];
        for (raw, want) in rows {
            assert_eq!(severity(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn state_precedence() {
        let rows = [
            (Some("ignore"), Some("cleared"), State::Ignored),
            (Some("ignore"), Some("open"), State::Ignored),
            (Some("error"), Some("cleared"), State::Closed),
            (Some("warn"), Some("cleared"), State::Closed),
            (None, Some("cleared"), State::Closed),
            (Some("monitor"), Some("open"), State::Open),
            (Some("defer"), None, State::Open),
            (None, None, State::Open),
            (Some("error"), Some("unknown-status"), State::Open),
        ];
        for (action, status, want) in rows {
            assert_eq!(state(action, status), want, "{action:?} {status:?}");
        }
    }

    #[test]
    fn category_table() {
        use FindingType as F;
        use IssueType as I;
        let rows = [
            (Some("vulnerability"), I::Vulnerability, F::Dependency),
            (Some("supplyChainRisk"), I::Vulnerability, F::Dependency),
            (Some("maintenance"), I::Config, F::Dependency),
            (Some("license"), I::License, F::Dependency),
            (Some("quality"), I::Code, F::Code),
            (Some("other"), I::Custom, F::Unknown),
            (Some("miscellaneous"), I::Custom, F::Unknown),
            (Some(""), I::Custom, F::Unknown),
            (None, I::Custom, F::Unknown),
        ];
        for (raw, v1, v2) in rows {
            assert_eq!(category(raw), (v1, v2), "{raw:?}");
        }
    }
}
