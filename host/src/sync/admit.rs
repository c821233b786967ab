//! What the host accepts from a component before writing it: every record within named size
//! and depth limits. A record past one is left out and reported like a record the component
//! could not read (counted in `skipped_records`, its reason in the summary), so one hostile or
//! broken record neither sinks the run nor reaches a reader that cannot parse it.

use crate::mutants::{Duty, skips};
use crate::text::printable;
use crate::wit::{Asset, Finding, SkippedRecord};

/// Longest text field of a record (a title, a description, an id), in bytes.
pub const MAX_TEXT_BYTES: usize = 256 << 10;
/// Longest `vendor_data`, in bytes.
pub const MAX_VENDOR_DATA_BYTES: usize = 16 << 20;
/// Deepest nesting of `vendor_data`: common JSON readers refuse documents much deeper than this
/// (serde_json at 128 levels by default; Python's `json` at its recursion limit).
pub const MAX_JSON_DEPTH: usize = 64;
/// Most entries in one list field (identifiers, CWE ids, vulnerabilities).
pub const MAX_LIST_ENTRIES: usize = 10_000;
/// Longest id (a record's, or the resource a finding points at), in bytes. Ids key database
/// rows, and every store must be able to index them: PostgreSQL's B-tree refuses an index row
/// over about 2.7 kB, and one refused row would fail its page on every run. The contract's ids
/// are UUIDs (36 bytes).
pub const MAX_ID_BYTES: usize = 512;

/// An id every store can index and compare as sent: at most [`MAX_ID_BYTES`], no control
/// characters (a store that cannot hold U+0000 would make two ids one).
fn check_id(field: &str, id: Option<&String>) -> Result<(), String> {
    let Some(id) = id.filter(|_| !skips(Duty::Admission)) else {
        return Ok(());
    };
    if id.is_empty() && field == "id" {
        return Err("`id` is empty".to_string());
    }
    if id.len() > MAX_ID_BYTES {
        return Err(format!(
            "`{field}` is {} bytes; an id may be at most {MAX_ID_BYTES}",
            id.len()
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(format!("`{field}` holds a control character"));
    }
    Ok(())
}

/// Keeps the findings within the limits; the others become skip records.
pub fn findings(items: &mut Vec<Finding>, skipped: &mut Vec<SkippedRecord>) {
    keep_within(items, skipped, check_finding, |f| (&f.vendor_id, &f.id));
}

/// Keeps the resources within the limits and of a type the connector declared (any
/// well-formed type when it declared none); the others become skip records.
pub fn assets(items: &mut Vec<Asset>, skipped: &mut Vec<SkippedRecord>, declared: &[String]) {
    let check = |a: &Asset| {
        check_resource_type(&a.resource_type, declared)?;
        check_asset(a)
    };
    keep_within(items, skipped, check, |a| (&a.vendor_id, &a.id));
}

/// Longest resource type, in bytes.
pub const MAX_RESOURCE_TYPE_BYTES: usize = 64;

/// A resource type is a short lower-case word (`repository`, `container-image`): it becomes a
/// column value and a filter, so nothing else gets through.
fn check_resource_type(t: &str, declared: &[String]) -> Result<(), String> {
    let well_formed = !t.is_empty()
        && t.len() <= MAX_RESOURCE_TYPE_BYTES
        && t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if !well_formed {
        return Err(format!(
            "resource type {:?} is not a lower-case word of at most {MAX_RESOURCE_TYPE_BYTES} bytes",
            printable(t, 80)
        ));
    }
    if !declared.is_empty() && !declared.iter().any(|d| d == t) {
        return Err(format!(
            "resource type {t:?} is not one the connector declares ({})",
            declared.join(", ")
        ));
    }
    Ok(())
}

fn keep_within<T>(
    items: &mut Vec<T>,
    skipped: &mut Vec<SkippedRecord>,
    check: impl Fn(&T) -> Result<(), String>,
    ids: impl Fn(&T) -> (&str, &str),
) {
    items.retain(|item| match check(item) {
        Ok(()) => true,
        Err(why) => {
            let (vendor_id, id) = ids(item);
            skipped.push(refusal(vendor_id, id, &why));
            false
        }
    });
}

fn refusal(vendor_id: &str, id: &str, why: &str) -> SkippedRecord {
    let vendor_id = printable(vendor_id, 100);
    SkippedRecord {
        reason: format!(
            "record {:?} (id {:?}) refused by the host: {why}",
            vendor_id,
            printable(id, 100)
        ),
        vendor_id: Some(vendor_id),
    }
}

fn check_finding(f: &Finding) -> Result<(), String> {
    let lists = [
        (
            "vulnerability_identifiers",
            f.vulnerability_identifiers.len(),
        ),
        ("vulnerabilities", f.vulnerabilities.len()),
    ]
    .into_iter()
    .chain(
        f.vulnerabilities
            .iter()
            .map(|v| ("cwe_ids", v.cwe_ids.len())),
    );
    for (name, n) in lists {
        if n > MAX_LIST_ENTRIES {
            return Err(format!(
                "`{name}` has {n} entries; the limit is {MAX_LIST_ENTRIES}"
            ));
        }
    }
    check_id("id", Some(&f.id))?;
    check_id("resource_id", f.resource_id.as_ref())?;
    let package = f.affected_package.as_ref();
    let texts = [
        ("id", Some(&f.id)),
        ("vendor_id", Some(&f.vendor_id)),
        ("title", Some(&f.title)),
        ("vendor_severity", f.vendor_severity.as_ref()),
        ("description", f.description.as_ref()),
        ("first_seen", f.first_seen.as_ref()),
        ("last_seen", f.last_seen.as_ref()),
        ("state_updated_at", f.state_updated_at.as_ref()),
        ("resource_id", f.resource_id.as_ref()),
        ("code_repo", f.code_repo.as_ref()),
        ("branch", f.branch.as_ref()),
        ("remediation", f.remediation.as_ref()),
        ("kb_url", f.kb_url.as_ref()),
        ("analytic.uid", Some(&f.analytic.uid)),
        ("analytic.name", Some(&f.analytic.name)),
        ("analytic.url", f.analytic.url.as_ref()),
        ("affected_package.name", package.map(|p| &p.name)),
        (
            "affected_package.version",
            package.and_then(|p| p.version.as_ref()),
        ),
        (
            "affected_package.package_manager",
            package.and_then(|p| p.package_manager.as_ref()),
        ),
        (
            "affected_package.purl",
            package.and_then(|p| p.purl.as_ref()),
        ),
        (
            "affected_code.file_path",
            f.affected_code.as_ref().map(|c| &c.file_path),
        ),
    ];
    let listed = f
        .vulnerability_identifiers
        .iter()
        .map(|s| ("vulnerability_identifiers[]", Some(s)))
        .chain(f.vulnerabilities.iter().flat_map(|v| {
            [
                ("vulnerabilities[].uid", v.uid.as_ref()),
                ("vulnerabilities[].cvss_vector", v.cvss_vector.as_ref()),
                ("vulnerabilities[].fixed_version", v.fixed_version.as_ref()),
            ]
            .into_iter()
            .chain(
                v.cwe_ids
                    .iter()
                    .map(|c| ("vulnerabilities[].cwe_ids[]", Some(c))),
            )
        }));
    check_texts(texts.into_iter().chain(listed))?;
    check_vendor_data(&f.vendor_data)
}

fn check_asset(a: &Asset) -> Result<(), String> {
    check_id("id", Some(&a.id))?;
    let texts = [
        ("id", Some(&a.id)),
        ("vendor_id", Some(&a.vendor_id)),
        ("name", Some(&a.name)),
        ("slug", a.slug.as_ref()),
        ("full_name", a.full_name.as_ref()),
        ("workspace", a.workspace.as_ref()),
        ("url", a.url.as_ref()),
        ("default_branch", a.default_branch.as_ref()),
        ("visibility", a.visibility.as_ref()),
        ("created_at", a.created_at.as_ref()),
        ("updated_at", a.updated_at.as_ref()),
    ];
    check_texts(texts.into_iter())?;
    check_vendor_data(&a.vendor_data)
}

fn check_texts<'a>(
    texts: impl Iterator<Item = (&'a str, Option<&'a String>)>,
) -> Result<(), String> {
    for (name, text) in texts {
        if let Some(t) = text.filter(|t| t.len() > MAX_TEXT_BYTES) {
            return Err(format!(
                "`{name}` is {} bytes; the limit is {MAX_TEXT_BYTES}",
                t.len()
            ));
        }
    }
    Ok(())
}

fn check_vendor_data(text: &str) -> Result<(), String> {
    if text.len() > MAX_VENDOR_DATA_BYTES {
        return Err(format!(
            "`vendor_data` is {} bytes; the limit is {MAX_VENDOR_DATA_BYTES}",
            text.len()
        ));
    }
    match json_depth(text.as_bytes()) {
        depth if depth > MAX_JSON_DEPTH => Err(format!(
            "`vendor_data` is nested more than {MAX_JSON_DEPTH} levels deep"
        )),
        _ => Ok(()),
    }
}

/// The deepest nesting of arrays and objects in `json` (strings skipped, escapes honoured);
/// stops counting once past [`MAX_JSON_DEPTH`]. Invalid JSON is measured all the same: it is
/// written as a string, whatever its depth.
fn json_depth(json: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => {
                i += 1;
                while i < json.len() && json[i] != b'"' {
                    i += if json[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > MAX_JSON_DEPTH {
                    return deepest;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_nesting_outside_strings() {
        assert_eq!(
            json_depth(br#"{"a": [1, {"b": "[[[{{{"}], "c": "\"[" }"#),
            3
        );
        assert_eq!(json_depth(b"1"), 0);
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert_eq!(json_depth(deep.as_bytes()), MAX_JSON_DEPTH + 1);
        assert!(
            check_vendor_data(&deep)
                .unwrap_err()
                .contains("nested more than 64")
        );
        let ok = "[".repeat(64) + &"]".repeat(64);
        assert!(check_vendor_data(&ok).is_ok());
    }

    /// A resource type reaches a database column and a filter: a hostile or undeclared one is
    /// refused, and the record is skipped with its reason.
    #[test]
    fn resource_types_are_plain_declared_words() {
        let declared = ["container-image".to_string()];
        assert!(check_resource_type("container-image", &declared).is_ok());
        assert!(check_resource_type("anything.else_1", &[]).is_ok());
        for bad in ["", "Image", "image\u{1b}[2J", "a b", &"x".repeat(65)] {
            let why = check_resource_type(bad, &[]).unwrap_err();
            assert!(why.contains("is not a lower-case word"), "{bad:?}: {why}");
        }
        let why = check_resource_type("repository", &declared).unwrap_err();
        assert!(
            why.contains("not one the connector declares (container-image)"),
            "{why}"
        );
    }

    /// Ids key database rows: one no store can index, or two only a store makes equal, is
    /// refused and skipped with its reason, never left to fail a page on every run.
    #[test]
    fn ids_are_short_plain_text() {
        let id = |s: &str| Some(s.to_string());
        assert!(check_id("id", id("87d74336-2e04-5ce1-a046-39f9609d2e46").as_ref()).is_ok());
        assert!(check_id("resource_id", None).is_ok());
        let long = "x".repeat(MAX_ID_BYTES + 1);
        for (bad, says) in [
            (long.as_str(), "513 bytes; an id may be at most 512"),
            ("a\0b", "control character"),
            ("", "is empty"),
        ] {
            let why = check_id("id", id(bad).as_ref()).unwrap_err();
            assert!(why.contains(says), "{bad:?}: {why}");
        }
    }
}
