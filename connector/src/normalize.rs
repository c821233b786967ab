//! Socket repositories and alerts to the unified model of `wit/connector.wit` (the mapping
//! tables are in `mapping`).
//!
//! One finding per (alert, location); an alert without locations is one finding with no resource.
//! `vendor_data` keeps Socket's original bytes: the alert's JSON with its `locations` array
//! narrowed to the one location, spliced from the body rather than re-serialized.

use std::collections::HashSet;
use std::ops::Range;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::model::{Alert, Artifact, Location, Repo, Text, non_blank};
use crate::settings::Filter;
use crate::wit::{
    AffectedCode, AffectedPackage, Analytic, Asset, Finding, SkippedRecord, Vulnerability,
};
use crate::{dates, ids, mapping, purl};

/// Why one vendor record could not be read: the field and what was wrong with it.
pub type ItemError = String;

/// Fixed per-finding cost beside its text: ids, enums, timestamps, small fields.
const FINDING_OVERHEAD: usize = 512;

/// Repository list item to a Resource.
pub fn repo_to_asset(org: &str, raw: &RawValue) -> Result<Asset, ItemError> {
    let repo: Repo = serde_json::from_str(raw.get()).map_err(|_| explain::<Repo>(raw.get()))?;
    let vendor_id = text(&repo.id.map(|i| i.0)).ok_or("id: missing or empty")?;
    let slug = text(&repo.slug);
    let workspace = text(&repo.workspace);
    let full_name = slug.as_deref().map(|slug| match &workspace {
        Some(ws) => format!("{ws}/{slug}"),
        None => slug.to_string(),
    });
    Ok(Asset {
        id: ids::resource_id(org, &vendor_id),
        resource_type: mapping::REPOSITORY.to_string(),
        name: text(&repo.name)
            .or_else(|| slug.clone())
            .unwrap_or_else(|| vendor_id.clone()),
        vendor_id,
        slug,
        full_name,
        workspace,
        url: text(&repo.html_url),
        default_branch: text(&repo.default_branch),
        visibility: text(&repo.visibility),
        archived: repo.archived.unwrap_or(false),
        created_at: repo.created_at.as_deref().and_then(dates::to_rfc3339_utc),
        updated_at: repo.updated_at.as_deref().and_then(dates::to_rfc3339_utc),
        vendor_data: raw.get().to_string(),
    })
}

/// A record left out: `what` it was (`items[3]`), its id when that much reads, and `why`.
pub fn skipped(what: &str, record: &str, why: &str) -> SkippedRecord {
    let vendor_id = vendor_id_of(record);
    let reason = match &vendor_id {
        Some(id) => format!("{what} (id {id:?}): {why}"),
        None => format!("{what}: {why}"),
    };
    SkippedRecord { vendor_id, reason }
}

/// Bytes of the JSON value at the start of `text`; `Err` when it is not JSON.
pub fn value_len(text: &str) -> Result<usize, serde_json::Error> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<serde::de::IgnoredAny>();
    match stream.next() {
        Some(Ok(_)) => Ok(stream.byte_offset()),
        Some(Err(e)) => Err(e),
        None => Err(serde::de::Error::custom("expected a value, found the end")),
    }
}

/// A record's `id` (else `key`), for naming it. Only those two fields are kept: the rest of a
/// record being skipped (perhaps a huge one) is read past, not built.
fn vendor_id_of(record: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Ident {
        #[serde(default)]
        id: serde_json::Value,
        #[serde(default)]
        key: serde_json::Value,
    }
    let ident: Ident = serde_json::from_str(record).ok()?;
    [ident.id, ident.key].into_iter().find_map(|v| match v {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// Why `text` does not read as `T`, with the path of the field at fault
/// (`locations[0].branch: expected text ..., found an array`). Only called on the error path:
/// tracking the path costs time on every field.
pub fn explain<'a, T: Deserialize<'a>>(text: &'a str) -> String {
    let mut de = serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(_) => "unreadable".to_string(),
        Err(e) => match e.path().to_string().as_str() {
            "." => e.inner().to_string(),
            path => format!("{path}: {}", e.inner()),
        },
    }
}

/// Parses the alert at the start of `rest` (a page's text from that item on): the alert, and
/// its own text, found where the parser stopped, so it is read once.
/// An error that [`serde_json::Error::is_eof`] means the text ended inside the alert.
pub fn read_alert(rest: &str) -> Result<(Alert<'_>, &str), serde_json::Error> {
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Alert>();
    let alert = stream
        .next()
        .unwrap_or_else(|| Err(serde::de::Error::custom("expected an alert, found the end")))?;
    Ok((alert, &rest[..stream.byte_offset()]))
}

/// What one alert became.
#[derive(Debug, PartialEq)]
pub enum Fanout {
    /// Its findings were appended: how many, and their estimated bytes.
    Mapped { findings: usize, bytes: usize },
    /// Its findings would take `bytes`, more than the `room` the caller has left; nothing was
    /// appended.
    NoRoom { bytes: usize },
}

/// Alert (`text` is its JSON, `alert` that parsed) to its findings, one per location kept by
/// `filter`, appended to `out`, if their estimated size fits in `room` bytes. A location that
/// cannot be read is left out and reported in `skipped`; an alert that cannot be read at all
/// (no id) is an error. Only a mapped alert appends anything, to either list.
pub fn alert_to_findings(
    org: &str,
    text: &str,
    alert: &Alert,
    filter: &Filter,
    room: usize,
    out: &mut Vec<Finding>,
    skipped: &mut Vec<SkippedRecord>,
) -> Result<Fanout, ItemError> {
    if !filter.keeps_alert(alert) {
        return Ok(Fanout::Mapped {
            findings: 0,
            bytes: 0,
        });
    }
    let common = AlertCommon::new(alert)?;
    let raw_locations = alert.locations.as_deref().unwrap_or_default();
    let Some(span) = array_span(text, raw_locations) else {
        if !filter.keeps_unlocated() {
            return Ok(Fanout::Mapped {
                findings: 0,
                bytes: 0,
            });
        }
        let bytes = common.shared_bytes() + text.len();
        if bytes > room {
            return Ok(Fanout::NoRoom { bytes });
        }
        out.push(common.finding(org, alert, &Location::default(), text.to_string()));
        return Ok(Fanout::Mapped { findings: 1, bytes });
    };
    // Each finding is the alert less its locations, plus its own location, plus the text
    // every finding repeats. Counted as the locations are read, so an alert too wide for the
    // room is given up before its locations are all held.
    let per_finding = text.len() - span.len() + 2 + common.shared_bytes();
    let mut locations = Vec::new();
    let mut unreadable = Vec::new();
    let mut bytes = 0usize;
    for (i, raw) in raw_locations.iter().enumerate() {
        match serde_json::from_str::<Location>(raw.get()) {
            Ok(loc) if filter.keeps_location(&loc) => {
                bytes += per_finding + raw.get().len();
                if bytes > room {
                    let rest = raw_locations[i + 1..].iter();
                    let at_most = rest.map(|r| per_finding + r.get().len()).sum::<usize>();
                    return Ok(Fanout::NoRoom {
                        bytes: bytes + at_most,
                    });
                }
                locations.push((loc, raw.get()));
            }
            Ok(_) => {}
            Err(_) => unreadable.push(SkippedRecord {
                vendor_id: Some(common.vendor_id.clone()),
                reason: format!(
                    "alert {:?}, locations[{i}]: {}",
                    common.vendor_id,
                    explain::<Location>(raw.get())
                ),
            }),
        }
    }
    // Reported only now: an alert with no room is read again by the next call.
    skipped.append(&mut unreadable);
    for (loc, raw) in &locations {
        let vendor_data = splice(text, span.clone(), raw);
        out.push(common.finding(org, alert, loc, vendor_data));
    }
    Ok(Fanout::Mapped {
        findings: locations.len(),
        bytes,
    })
}

/// The parts of a finding that are the same for every location of an alert.
struct AlertCommon {
    vendor_id: String,
    title: String,
    description: Option<String>,
    vulnerability_identifiers: Vec<String>,
    vulnerabilities: Vec<Vulnerability>,
    fixed_version: Option<String>,
}

impl AlertCommon {
    fn new(alert: &Alert) -> Result<Self, ItemError> {
        let vendor_id = text(&alert.id.as_ref().map(|i| i.0.clone()))
            .or_else(|| text(&alert.key))
            .ok_or("alert has neither `id` nor `key`")?;
        let title = [&alert.title, &alert.alert_type]
            .into_iter()
            .find_map(text)
            .unwrap_or_else(|| "Socket alert".to_string());
        let vuln = alert.vulnerability.as_ref();
        let description =
            text(&alert.description).or_else(|| vuln.and_then(|v| text(&v.cve_description)));
        let fixed_version = vuln.and_then(|v| text(&v.first_patched_version_identifier));
        let vulnerability_identifiers = vuln
            .map(|v| {
                unique(
                    v.cve_id
                        .iter()
                        .chain(v.ghsa_ids.iter().flatten())
                        .chain(v.cwe_ids.iter().flatten()),
                )
            })
            .unwrap_or_default();
        let vulnerabilities = vuln
            .map(|v| {
                vec![Vulnerability {
                    uid: text(&v.cve_id)
                        .or_else(|| first_text(&v.ghsa_ids))
                        .or_else(|| first_text(&v.cwe_ids)),
                    cvss_score: v.cvss_score,
                    cvss_vector: text(&v.cvss_vector_string),
                    epss_score: v.epss_score,
                    epss_percentile: v.epss_percentile,
                    is_kev: v.is_kev,
                    cwe_ids: v
                        .cwe_ids
                        .iter()
                        .flatten()
                        .filter_map(|s| text(&Some(s)))
                        .collect(),
                    fixed_version: fixed_version.clone(),
                }]
            })
            .unwrap_or_default();
        Ok(Self {
            vendor_id,
            title,
            description,
            vulnerability_identifiers,
            vulnerabilities,
            fixed_version,
        })
    }

    /// Bytes of text every finding of this alert repeats, beside `vendor_data`.
    fn shared_bytes(&self) -> usize {
        let list = |l: &[String]| l.iter().map(|s| s.len() + 3).sum::<usize>();
        FINDING_OVERHEAD
            + 2 * self.title.len()
            + self.description.as_ref().map_or(0, String::len)
            + self.fixed_version.as_ref().map_or(0, String::len) * 3
            + list(&self.vulnerability_identifiers)
            + self
                .vulnerabilities
                .iter()
                .map(|v| list(&v.cwe_ids) + v.cvss_vector.as_ref().map_or(0, String::len))
                .sum::<usize>()
    }

    fn finding(&self, org: &str, alert: &Alert, loc: &Location, vendor_data: String) -> Finding {
        let repo = loc.repository.as_ref();
        let repo_id = repo.and_then(|r| text(&r.id.as_ref().map(|i| i.0.clone())));
        let code_repo = loc.repo_full_name();
        let branch = text(&loc.branch);
        let artifact = loc.artifact.as_ref();
        let artifact_id = artifact.and_then(|a| text(&a.id.as_ref().map(|i| i.0.clone())));
        let (issue_type, finding_type) = mapping::category(alert.category.as_deref());
        let state = mapping::state(loc.action.as_deref(), alert.status.as_deref());
        let cleared = matches!(state, crate::wit::State::Closed);
        let timestamp = |t: &Option<Text>| t.as_deref().and_then(dates::to_rfc3339_utc);
        let updated_at = timestamp(&alert.updated_at);
        let patch_status = loc.patch.as_ref().and_then(|p| p.status.as_deref());
        let has_fix = alert.fix.is_some()
            || self.fixed_version.is_some()
            || matches!(patch_status, Some("patch_available" | "patch_applied"));
        let remediation = alert
            .fix
            .as_ref()
            .and_then(|f| text(&f.description))
            .or_else(|| {
                self.fixed_version
                    .as_ref()
                    .map(|v| format!("Upgrade to version {v} or later."))
            });
        let affected_package = artifact.and_then(affected_package);
        let affected_code = affected_code(loc);
        let state_updated_at = if cleared {
            timestamp(&alert.cleared_at).or_else(|| updated_at.clone())
        } else {
            updated_at.clone()
        };
        // Without a repository id, the repository's name keeps two locations apart.
        let repo_part = repo_id.clone().or_else(|| code_repo.clone());
        Finding {
            id: ids::finding_id(
                org,
                &self.vendor_id,
                repo_part.as_deref(),
                branch.as_deref(),
                artifact_id.as_deref(),
            ),
            vendor_id: self.vendor_id.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            issue_type,
            finding_type,
            severity: mapping::severity(alert.severity.as_deref()),
            vendor_severity: alert
                .severity
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            state,
            first_seen: timestamp(&alert.created_at),
            last_seen: updated_at,
            state_updated_at,
            resource_id: repo_id.as_deref().map(|r| ids::resource_id(org, r)),
            code_repo,
            branch,
            affected_package,
            affected_code,
            has_fix,
            remediation,
            cvss_score: alert.vulnerability.as_ref().and_then(|v| v.cvss_score),
            vulnerability_identifiers: self.vulnerability_identifiers.clone(),
            vulnerabilities: self.vulnerabilities.clone(),
            analytic: Analytic {
                uid: alert.alert_type.as_deref().unwrap_or_default().to_string(),
                name: self.title.clone(),
                url: text(&alert.dashboard_url),
            },
            kb_url: text(&alert.dashboard_url),
            vendor_data,
        }
    }
}

/// The location's package, when its artifact is named.
fn affected_package(a: &Artifact<'_>) -> Option<AffectedPackage> {
    let name = text(&a.name)?;
    let kind = text(&a.artifact_type);
    let version = text(&a.version);
    Some(AffectedPackage {
        purl: purl::build(
            kind.as_deref(),
            a.namespace.as_deref(),
            &name,
            version.as_deref(),
        ),
        name,
        version,
        package_manager: kind,
    })
}

/// The location's first named manifest file.
fn affected_code(loc: &Location<'_>) -> Option<AffectedCode> {
    loc.dependency
        .as_ref()
        .and_then(|d| d.manifest_files.as_ref())
        .and_then(|files| files.iter().find_map(|f| Some((f, text(&f.file)?))))
        .map(|(f, file_path)| AffectedCode {
            file_path,
            start_line: f.start,
            end_line: f.end,
        })
}

/// Where the array holding `items` (borrowed from `text`, in order) sits in `text`, brackets
/// included; `None` when there are no items. Items are found by pointer offset, so every other
/// byte of the alert is kept exactly.
fn array_span(text: &str, items: &[&RawValue]) -> Option<Range<usize>> {
    let (first, last) = (items.first()?.get(), items.last()?.get());
    let first_at = first.as_ptr() as usize - text.as_ptr() as usize;
    let last_end = last.as_ptr() as usize - text.as_ptr() as usize + last.len();
    // Only whitespace lies between an array's brackets and its first and last items.
    let start = text[..first_at].rfind('[')?;
    let end = last_end + text[last_end..].find(']')? + 1;
    Some(start..end)
}

/// `text` with the bytes in `span` replaced by `[item]`.
fn splice(text: &str, span: Range<usize>, item: &str) -> String {
    let mut out = String::with_capacity(text.len() - span.len() + item.len() + 2);
    out.push_str(&text[..span.start]);
    out.push('[');
    out.push_str(item);
    out.push(']');
    out.push_str(&text[span.end..]);
    out
}

/// A text field trimmed, unless that leaves nothing.
fn text<S: AsRef<str>>(s: &Option<S>) -> Option<String> {
    non_blank(s.as_ref().map(AsRef::as_ref)).map(str::to_string)
}

fn first_text<S: AsRef<str>>(list: &Option<Vec<S>>) -> Option<String> {
    list.iter().flatten().find_map(|s| text(&Some(s)))
}

/// Each non-blank value once, in first-seen order (a set: one alert may carry many thousands).
fn unique<'a, S: AsRef<str> + 'a>(values: impl Iterator<Item = &'a S>) -> Vec<String> {
    let mut seen = HashSet::new();
    values
        .filter_map(|s| non_blank(Some(s.as_ref())))
        .filter(|s| seen.insert(*s))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests;
