//! A page's items to unified records: each item read once, an unreadable one left out with its
//! reason (never the page), and one call's output held to a budget
//! ([`crate::normalize::CALL_OUTPUT_BUDGET`]).
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
    /// The page's other fields (`endCursor`, `meta`), raw.
    pub fields: Vec<(String, &'a str)>,
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

/// Reads an alerts page's `items` from index `skip` on, mapping each alert to findings until
/// `budget` bytes of findings are held; the rest of the page is only scanned, and `resume_at`
/// says where the next call starts.
pub fn read_alerts<'a>(
    org: &str,
    text: &'a str,
    filter: &Filter,
    skip: usize,
    budget: usize,
) -> Result<AlertsRead<'a>, PageFault> {
    let mut read = AlertsRead::default();
    let mut held = 0usize;
    let mut index = 0usize;
    let split = split::split_object(text, "items", |rest| {
        let at = index;
        index += 1;
        if at < skip || read.resume_at.is_some() {
            return value_len(rest).map_err(|e| fault(at, e));
        }
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
        // Appends only when the alert is mapped: an alert without room adds nothing here.
        let fanout = normalize::alert_to_findings(
            org,
            raw,
            &alert,
            filter,
            budget - held,
            &mut read.findings,
            &mut read.skipped,
        );
        match fanout {
            Ok(Fanout::Mapped { bytes, .. }) => held += bytes,
            Ok(Fanout::NoRoom { .. }) if held > 0 => {
                read.resume_at = Some(at);
                return Ok(raw.len());
            }
            Ok(Fanout::NoRoom { bytes }) => {
                let why = format!(
                    "its findings would take {} MiB, more than one call may hold ({} MiB); \
                     it has too many locations for its size",
                    bytes >> 20,
                    budget >> 20
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
    })
    .map_err(|e| match e {
        SplitError::Syntax(e) => PageFault::Syntax(e),
        SplitError::Item(f) => f,
    })?;
    read.items = split.items;
    read.fields = split.fields;
    Ok(read)
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
