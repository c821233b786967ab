//! The paging contract a component must keep (`wit/connector.wit`, Paging): bounded cursors
//! that never repeat within a listing, bounded pages, and listings that end. The sync loop and
//! the connector check-up both hold a listing to it, page by page. And the high-water mark a
//! findings listing leaves for the next incremental run.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use crate::error::Failure;
use crate::mutants::{Duty, skips};
use crate::output::id_key;
use crate::text::printable;
use crate::time;

/// Longest cursor a component may hand back: it is stored in the state file and sent back on
/// every call, so it must stay small.
pub const MAX_CURSOR_BYTES: usize = 4096;

/// The paging contract a component must keep.
pub(crate) struct PageLimits {
    pub max_pages: u64,
    pub max_records: u64,
}

/// The cursors one listing has handed out, as digests: one handed out again is a cycle.
#[derive(Default)]
pub(crate) struct CursorTrail(HashSet<u128>);

impl PageLimits {
    pub(crate) fn check_page(
        &self,
        call: &str,
        pages: u64,
        records: usize,
        sent: Option<&str>,
        next: Option<&str>,
        trail: &mut CursorTrail,
    ) -> Result<(), Failure> {
        if records as u64 > self.max_records {
            return Err(Failure::Guest(format!(
                "contract violation: `{call}` returned a page of {records} records; the limit is {} (max-page-records)",
                self.max_records
            )));
        }
        let shown = |c: &str| printable(c, 80);
        if skips(Duty::Cursors) {
            return Ok(());
        }
        if let Some(c) = next.filter(|c| c.len() > MAX_CURSOR_BYTES) {
            return Err(Failure::Guest(format!(
                "contract violation: `{call}` returned a cursor of {} bytes; the limit is {MAX_CURSOR_BYTES}",
                c.len()
            )));
        }
        if let Some(c) = next.filter(|_| next == sent) {
            return Err(Failure::Guest(format!(
                "contract violation: `{call}` returned the cursor it was given ({:?}); it would never end",
                shown(c)
            )));
        }
        if let Some(c) = next.filter(|c| !trail.0.insert(id_key(c))) {
            return Err(Failure::Guest(format!(
                "contract violation: `{call}` returned a cursor it had returned before in this listing ({:?}, page {pages}); the listing cycles",
                shown(c)
            )));
        }
        if next.is_some() && pages >= self.max_pages {
            return Err(Failure::Guest(format!(
                "contract violation: `{call}` did not end after {pages} pages (max-pages)"
            )));
        }
        Ok(())
    }
}

/// The high-water mark a listing leaves, and whether it is the host's clock: the server time the
/// component reported, if it is a plausible RFC 3339 instant (after 2000, at most a day ahead of
/// this host), else this host's clock when the listing started. Either way the next run asks for
/// what changed since then (less the overlap), and never stays a full sync by accident.
pub(crate) fn high_water_mark(
    reported: Option<&str>,
    listing_started: SystemTime,
) -> (String, bool) {
    let host_clock = || time::format_seconds(listing_started);
    let Some(reported) = reported else {
        tracing::warn!(
            "the connector reported no server time for the findings listing; the next \
             incremental sync starts from this host's clock at the listing's start ({})",
            host_clock()
        );
        return (host_clock(), true);
    };
    let earliest = SystemTime::UNIX_EPOCH + Duration::from_secs(946_684_800);
    let latest = listing_started + Duration::from_secs(86_400);
    match time::parse(reported) {
        Some(t) if (earliest..=latest).contains(&t) => (reported.to_string(), false),
        _ => {
            tracing::warn!(
                "the connector reported an implausible server time {:?} for the findings \
                 listing; using this host's clock at the listing's start ({})",
                printable(reported, 64),
                host_clock()
            );
            (host_clock(), true)
        }
    }
}

/// `mark - overlap`, as RFC 3339 UTC.
pub(crate) fn minus(mark: &str, overlap: Duration) -> Result<String, Failure> {
    let t = time::parse(mark).ok_or_else(|| {
        Failure::Config(format!(
            "state: high-water mark {:?} is not an RFC 3339 UTC time; pass --full",
            printable(mark, 64)
        ))
    })?;
    let since = t.checked_sub(overlap).unwrap_or(SystemTime::UNIX_EPOCH);
    Ok(time::format_seconds(since))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_is_subtracted_from_the_mark() {
        assert_eq!(
            minus("2026-08-11T09:20:02.113Z", Duration::from_secs(3600)).unwrap(),
            "2026-08-11T08:20:02Z"
        );
        assert!(minus("last tuesday", Duration::ZERO).is_err());
    }
}
