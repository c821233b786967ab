//! A page's items to unified records: each item read once, an unreadable one left out with its
//! reason (never the page), and one call's output held to a [`Budget`].
//!
//! What stays fatal is a page that is not a page: a body that is not JSON, that ends inside an
//! item, or that lacks its `items` / `results` array. Those are the caller's to report.

use serde_json::value::RawValue;

use crate::model::Alert;
use crate::normalize::{self, Fanout, explain, skipped, value_len};
use crate::settings::Filter;
use crate::split::{self, SplitError};
use crate::wit::{Asset, Finding, SkippedRecord};

/// A page of repositories' items, each mapped or left out with its reason.
pub fn read_repos(org: &str, results: &[&RawValue]) -> (Vec<Asset>, Vec<SkippedRecord>) {
    let mut assets = Vec::with_capacity(results.len());
    let mut left_out = Vec::new();
    for (i, raw) in results.iter().enumerate() {
        match normalize::repo_to_asset(org, raw) {
            Ok(asset) => assets.push(asset),
            Err(why) => left_out.push(skipped(&format!("results[{i}]"), raw.get(), &why)),
        }
    }
    (assets, left_out)
}

/// How much finding text one call holds. A call ends before the alert that would take it past
/// `target`, once it holds any; an alert whose findings alone exceed `cap` is skipped with its
/// reason. Sizes are estimated before an alert is mapped (see [`normalize::alert_to_findings`]).
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub target: usize,
    pub cap: usize,
}

impl Budget {
    /// No call ends early and no alert is too large: everything in one call.
    pub const UNBOUNDED: Budget = Budget {
        target: usize::MAX,
        cap: usize::MAX,
    };
}

/// The budget of every alerts call.
///
/// One alert fans out to one finding per location, each repeating the alert's text (as the
/// contract says), so the output of a page is not bounded by its size: a 32 KB alert with a
/// long title and thousands of locations makes hundreds of megabytes. And every byte a call
/// returns is held about three times at once: built in the component, copied into the runtime,
/// and the runtime's previous page still being written. So a call ends once it holds about
/// `target` (a 5,000-alert page of 2 KB alerts takes five calls) and its cursor resumes
/// at the next alert (see [`crate::paging::AlertCursor::skip`]); the page itself is kept between
/// those calls, not fetched again (see [`crate::api::HeldPage`]). One alert whose findings alone
/// exceed `cap` is skipped with its reason. BENCHMARKS.md §3 has the memory this saves.
pub const CALL_OUTPUT: Budget = Budget {
    target: 4 << 20,
    cap: 64 << 20,
};

/// What one call made of an alerts page.
#[derive(Debug, Default)]
pub struct AlertsRead<'a> {
    pub findings: Vec<Finding>,
    pub skipped: Vec<SkippedRecord>,
    /// Alerts this call read (mapped, filtered out or skipped), not those it read past.
    pub vendor_records: usize,
    /// The first item the output budget left for the next call; `None` when the page is done.
    pub resume_at: Option<usize>,
    /// How many items the page held; `None` when it had no `items` array.
    pub items: Option<usize>,
    /// The page's other fields (`endCursor`, `meta`), raw. Empty from [`read_indexed_alerts`].
    pub fields: Vec<(String, &'a str)>,
    /// Where each item starts in the page's text, for [`read_indexed_alerts`]. Empty from it.
    pub starts: Vec<usize>,
}

/// Why a page could not be read at all.
#[derive(Debug, PartialEq)]
pub enum PageFault {
    /// The body is not a JSON object.
    Syntax(String),
    /// The body ends inside item `n`: the page was cut short.
    Truncated(usize, String),
    /// Item `n` is not JSON, so where the next one starts is unknown.
    Broken(usize, String),
}

/// Walks a whole alerts page: maps its `items` from index `skip` on until `budget` ends the
/// call, and only scans the items before and after (so `resume_at` says where the next call
/// starts, and `starts` where each item is).
pub fn read_alerts<'a>(
    org: &str,
    text: &'a str,
    filter: &Filter,
    skip: usize,
    budget: Budget,
) -> Result<AlertsRead<'a>, PageFault> {
    let mut mapper = Mapper::new(org, filter, skip, budget);
    let mut index = 0usize;
    let mut starts = Vec::new();
    let split = split::split_object(text, "items", |rest| {
        starts.push(text.len() - rest.len());
        let at = index;
        index += 1;
        mapper.item(at, rest)
    })
    .map_err(|e| match e {
        SplitError::Syntax(e) => PageFault::Syntax(e),
        SplitError::Item(f) => f,
    })?;
    Ok(AlertsRead {
        items: split.items,
        fields: split.fields,
        starts,
        ..mapper.read
    })
}

/// Maps the items of a page already walked by [`read_alerts`] (`starts` is what it found) from
/// index `skip` on, until `budget` ends the call. Nothing before `skip` is read again, and
/// nothing after the call's last item.
pub fn read_indexed_alerts<'a>(
    org: &str,
    text: &'a str,
    starts: &[usize],
    filter: &Filter,
    skip: usize,
    budget: Budget,
) -> Result<AlertsRead<'a>, PageFault> {
    let mut mapper = Mapper::new(org, filter, skip, budget);
    for (at, &start) in starts.iter().enumerate().skip(skip) {
        mapper.item(at, &text[start..])?;
        if mapper.read.resume_at.is_some() {
            break;
        }
    }
    Ok(AlertsRead {
        items: Some(starts.len()),
        ..mapper.read
    })
}

/// One call's mapping of a page's items, one item at a time.
struct Mapper<'f> {
    org: &'f str,
    filter: &'f Filter,
    skip: usize,
    budget: Budget,
    /// Estimated bytes of the findings held so far.
    held: usize,
    read: AlertsRead<'static>,
}

impl<'f> Mapper<'f> {
    fn new(org: &'f str, filter: &'f Filter, skip: usize, budget: Budget) -> Self {
        Mapper {
            org,
            filter,
            skip,
            budget,
            held: 0,
            read: AlertsRead::default(),
        }
    }

    /// Reads item `at`, `rest` being the page's text from the item's first byte on; returns
    /// how many bytes the item takes. Items outside this call's share are only scanned: those
    /// before it were read by an earlier call, those after it are read by a later one.
    fn item(&mut self, at: usize, rest: &str) -> Result<usize, PageFault> {
        if at < self.skip || self.read.resume_at.is_some() {
            return split::value_len(rest).map_err(|e| PageFault::Truncated(at, e));
        }
        let read = &mut self.read;
        let (alert, raw) = match normalize::read_alert(rest) {
            Ok(parsed) => parsed,
            Err(e) if e.is_data() => {
                let len = value_len(rest).map_err(|e| fault(at, e))?;
                let record = &rest[..len];
                let why = explain::<Alert>(record);
                read.skipped
                    .push(skipped(&format!("items[{at}]"), record, &why));
                read.vendor_records += 1;
                return Ok(len);
            }
            Err(e) => return Err(fault(at, e)),
        };
        let room = match self.held {
            0 => self.budget.cap,
            held => self.budget.target.saturating_sub(held),
        };
        // Appends only when the alert is mapped: an alert without room adds nothing here.
        let fanout = normalize::alert_to_findings(
            self.org,
            raw,
            &alert,
            self.filter,
            room,
            &mut read.findings,
            &mut read.skipped,
        );
        match fanout {
            Ok(Fanout::Mapped { bytes, .. }) => self.held += bytes,
            Ok(Fanout::NoRoom { .. }) if self.held > 0 => {
                read.resume_at = Some(at);
                return Ok(raw.len());
            }
            Ok(Fanout::NoRoom { bytes }) => {
                let why = format!(
                    "its findings would take {} MiB, more than one call may hold ({} MiB); \
                     it has too many locations for its size",
                    bytes >> 20,
                    self.budget.cap >> 20
                );
                read.skipped
                    .push(skipped(&format!("items[{at}]"), raw, &why));
            }
            Err(why) => read
                .skipped
                .push(skipped(&format!("items[{at}]"), raw, &why)),
        }
        read.vendor_records += 1;
        Ok(raw.len())
    }
}

fn fault(index: usize, e: serde_json::Error) -> PageFault {
    if e.is_eof() {
        PageFault::Truncated(index, e.to_string())
    } else {
        PageFault::Broken(index, e.to_string())
    }
}

#[cfg(test)]
mod tests;
