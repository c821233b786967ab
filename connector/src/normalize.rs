//! Socket repositories and alerts to the unified model (SPEC §5).
//!
//! One finding per (alert, location); an alert without locations is one finding with no resource.
//! `vendor_data` keeps Socket's original bytes: the alert's JSON with its `locations` array
//! narrowed to the one location, spliced from the body rather than re-serialized.

use std::ops::Range;

use serde_json::value::RawValue;

use crate::model::{Alert, Location, Repo, Text};
use crate::percent::percent_encode;
use crate::settings::Filter;
use crate::wit::{AffectedCode, AffectedPackage, Analytic, Asset, Finding, Vulnerability};
use crate::{dates, ids, mapping};

/// Characters a purl component keeps as they are, beside ASCII letters and digits.
const PURL_KEEP: &[u8] = b".-_~+";

/// Why one vendor record could not be read.
pub type ItemError = String;

/// Repository list item to a Resource.
pub fn repo_to_asset(org: &str, raw: &RawValue) -> Result<Asset, ItemError> {
    let repo: Repo = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
    let vendor_id = repo
        .id
        .filter(|s| !s.is_empty())
        .ok_or("repository has no `id`")?;
    let workspace = repo.workspace.filter(|w| !w.is_empty());
    let full_name = repo.slug.as_deref().map(|slug| match &workspace {
        Some(ws) => format!("{ws}/{slug}"),
        None => slug.to_string(),
    });
    Ok(Asset {
        id: ids::resource_id(org, &vendor_id),
        name: repo
            .name
            .or_else(|| repo.slug.clone())
            .unwrap_or_else(|| vendor_id.clone()),
        vendor_id,
        slug: repo.slug,
        full_name,
        workspace,
        url: repo.html_url,
        default_branch: repo.default_branch,
        visibility: repo.visibility,
        archived: repo.archived.unwrap_or(false),
        created_at: repo.created_at.as_deref().and_then(dates::to_rfc3339_utc),
        updated_at: repo.updated_at.as_deref().and_then(dates::to_rfc3339_utc),
        vendor_data: raw.get().to_string(),
    })
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

/// Alert (`text` is its JSON, `alert` that parsed) to its findings, one per location kept by
/// `filter`, appended to `out`. Returns how many findings were appended.
pub fn alert_to_findings(
    org: &str,
    text: &str,
    alert: &Alert,
    filter: &Filter,
    out: &mut Vec<Finding>,
) -> Result<usize, ItemError> {
    if !filter.keeps_alert(alert) {
        return Ok(0);
    }
    let locations = alert.locations.as_deref().unwrap_or_default();
    let common = AlertCommon::new(alert)?;
    let before = out.len();
    let Some(span) = array_span(text, locations) else {
        if filter.keeps_unlocated() {
            out.push(common.finding(org, alert, &Location::default(), text.to_string()));
        }
        return Ok(out.len() - before);
    };
    for (i, loc_raw) in locations.iter().enumerate() {
        let loc: Location =
            serde_json::from_str(loc_raw.get()).map_err(|e| format!("locations[{i}]: {e}"))?;
        if !filter.keeps_location(&loc) {
            continue;
        }
        let vendor_data = splice(text, span.clone(), loc_raw.get());
        out.push(common.finding(org, alert, &loc, vendor_data));
    }
    Ok(out.len() - before)
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
        let vendor_id = alert
            .id
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| {
                alert
                    .key
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            })
            .ok_or("alert has neither `id` nor `key`")?;
        let title = [&alert.title, &alert.alert_type]
            .into_iter()
            .flatten()
            .find(|s| !s.trim().is_empty())
            .map_or_else(|| "Socket alert".to_string(), |s| s.to_string());
        let vuln = alert.vulnerability.as_ref();
        let description = non_empty(&alert.description)
            .or_else(|| vuln.and_then(|v| non_empty(&v.cve_description)));
        let fixed_version = vuln.and_then(|v| non_empty(&v.first_patched_version_identifier));
        let mut identifiers: Vec<String> = Vec::new();
        if let Some(v) = vuln {
            let all = v
                .cve_id
                .iter()
                .chain(v.ghsa_ids.iter().flatten())
                .chain(v.cwe_ids.iter().flatten());
            for id in all.map(|s| s.trim()).filter(|s| !s.is_empty()) {
                if !identifiers.iter().any(|x| x == id) {
                    identifiers.push(id.to_string());
                }
            }
        }
        let vulnerabilities = vuln
            .map(|v| {
                vec![Vulnerability {
                    uid: non_empty(&v.cve_id)
                        .or_else(|| first_non_empty(&v.ghsa_ids))
                        .or_else(|| first_non_empty(&v.cwe_ids)),
                    cvss_score: v.cvss_score,
                    cvss_vector: non_empty(&v.cvss_vector_string),
                    epss_score: v.epss_score,
                    epss_percentile: v.epss_percentile,
                    is_kev: v.is_kev,
                    cwe_ids: v.cwe_ids.iter().flatten().map(|s| s.to_string()).collect(),
                    fixed_version: fixed_version.clone(),
                }]
            })
            .unwrap_or_default();
        Ok(Self {
            vendor_id,
            title,
            description,
            vulnerability_identifiers: identifiers,
            vulnerabilities,
            fixed_version,
        })
    }

    fn finding(&self, org: &str, alert: &Alert, loc: &Location, vendor_data: String) -> Finding {
        let repo = loc.repository.as_ref();
        let repo_id = repo.and_then(|r| non_empty(&r.id));
        let branch = loc
            .branch
            .as_ref()
            .and_then(|b| b.name.as_deref())
            .map(str::to_string);
        let artifact = loc.artifact.as_ref();
        let artifact_id = artifact.and_then(|a| non_empty(&a.id));
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
            .and_then(|f| non_empty(&f.description))
            .or_else(|| {
                self.fixed_version
                    .as_ref()
                    .map(|v| format!("Upgrade to version {v} or later."))
            });
        let affected_package = artifact.and_then(|a| {
            let name = non_empty(&a.name)?;
            Some(AffectedPackage {
                purl: Some(purl(
                    a.artifact_type.as_deref(),
                    a.namespace.as_deref(),
                    &name,
                    a.version.as_deref(),
                )),
                name,
                version: non_empty(&a.version),
                package_manager: non_empty(&a.artifact_type),
            })
        });
        let affected_code = loc
            .dependency
            .as_ref()
            .and_then(|d| d.manifest_files.as_ref())
            .and_then(|files| {
                files
                    .iter()
                    .find(|f| f.file.as_deref().is_some_and(|p| !p.is_empty()))
            })
            .map(|f| AffectedCode {
                file_path: f.file.as_deref().unwrap_or_default().to_string(),
                start_line: f.start,
                end_line: f.end,
            });
        let code_repo = repo.and_then(|r| {
            non_empty(&r.full_name).or_else(|| {
                let slug = non_empty(&r.slug)?;
                Some(match non_empty(&r.workspace) {
                    Some(ws) => format!("{ws}/{slug}"),
                    None => slug,
                })
            })
        });
        let state_updated_at = if cleared {
            timestamp(&alert.cleared_at).or_else(|| updated_at.clone())
        } else {
            updated_at.clone()
        };
        Finding {
            id: ids::finding_id(
                org,
                &self.vendor_id,
                repo_id.as_deref(),
                branch.as_deref(),
                artifact_id.as_deref(),
            ),
            vendor_id: self.vendor_id.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            issue_type,
            finding_type,
            severity: mapping::severity(alert.severity.as_deref()),
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
                url: alert.dashboard_url.as_deref().map(str::to_string),
            },
            kb_url: alert.dashboard_url.as_deref().map(str::to_string),
            vendor_data,
        }
    }
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

/// A Package URL: `pkg:type/namespace/name@version`, components percent-encoded.
pub fn purl(
    kind: Option<&str>,
    namespace: Option<&str>,
    name: &str,
    version: Option<&str>,
) -> String {
    let kind = kind
        .filter(|k| !k.is_empty())
        .unwrap_or("generic")
        .to_ascii_lowercase();
    let mut out = format!("pkg:{kind}/");
    if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
        for segment in ns.split('/') {
            out.push_str(&percent_encode(segment, PURL_KEEP));
            out.push('/');
        }
    }
    out.push_str(&percent_encode(name, PURL_KEEP));
    if let Some(v) = version.filter(|v| !v.is_empty()) {
        out.push('@');
        out.push_str(&percent_encode(v, PURL_KEEP));
    }
    out
}

fn non_empty<S: AsRef<str>>(s: &Option<S>) -> Option<String> {
    s.as_ref()
        .map(|s| s.as_ref().trim())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn first_non_empty<S: AsRef<str>>(list: &Option<Vec<S>>) -> Option<String> {
    list.iter()
        .flatten()
        .map(|s| s.as_ref().trim())
        .find(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests;
