//! Property tests: whatever a component returns, what the host writes is one valid JSON line
//! per record, readable by a parser with serde_json's default depth limit, or a refusal.

use proptest::prelude::*;

use super::*;
use crate::sync::admit;
use crate::wit::{AffectedCode, AffectedPackage, Analytic, SkippedRecord, Vulnerability};

/// Text as a hostile component would send it: any characters, controls and separators
/// included, now and then far past the text limit.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => any::<String>(),
        2 => "[\\x00-\\x1f\\x7f\\u{2028}\\u{202e}\"\\\\\\n\\r]{0,40}",
        1 => (0usize..3).prop_map(|n| "x".repeat((256 << 10) + n)),
    ]
}

/// `vendor_data`: JSON and not, flat and nested far past every reader's limit.
fn vendor_data() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        (0usize..300, 0usize..300).prop_map(|(open, close)| "[".repeat(open) + &"]".repeat(close)),
        (0usize..200).prop_map(|n| "{\"a\":".repeat(n) + "1" + &"}".repeat(n)),
        Just("{\n \"ok\": [1, \"two\\n\", null]\r\n}".to_string()),
    ]
}

fn finding() -> impl Strategy<Value = Finding> {
    let texts = (text(), text(), proptest::option::of(text()), text());
    let more = (
        vendor_data(),
        any::<f64>(),
        prop::collection::vec(text(), 0..4),
    );
    let kinds = (0u8..7, 0u8..3, any::<bool>(), any::<Option<i64>>());
    (texts, more, kinds).prop_map(
        |(
            (id, title, description, name),
            (vendor_data, score, ids),
            (severity, state, fix, line),
        )| Finding {
            id: id.clone(),
            vendor_id: id,
            title,
            description,
            issue_type: IssueType::Custom,
            finding_type: FindingType::Unknown,
            severity: [
                Severity::Critical,
                Severity::High,
                Severity::Medium,
                Severity::Low,
                Severity::Info,
                Severity::Unknown,
                Severity::Other,
            ][severity as usize],
            vendor_severity: Some(name.clone()),
            state: [
                FindingState::Open,
                FindingState::Closed,
                FindingState::Ignored,
            ][state as usize],
            first_seen: Some(name.clone()),
            last_seen: None,
            state_updated_at: None,
            resource_id: None,
            code_repo: Some(name.clone()),
            branch: None,
            affected_package: Some(AffectedPackage {
                name: name.clone(),
                version: None,
                package_manager: None,
                purl: Some(name.clone()),
            }),
            affected_code: Some(AffectedCode {
                file_path: name.clone(),
                start_line: line,
                end_line: None,
            }),
            has_fix: fix,
            remediation: None,
            cvss_score: Some(score),
            vulnerability_identifiers: ids.clone(),
            vulnerabilities: vec![Vulnerability {
                uid: ids.first().cloned(),
                cvss_score: Some(score),
                cvss_vector: None,
                epss_score: Some(-score),
                epss_percentile: None,
                is_kev: Some(fix),
                cwe_ids: ids,
                fixed_version: None,
            }],
            analytic: Analytic {
                uid: name.clone(),
                name,
                url: None,
            },
            kb_url: None,
            vendor_data,
        },
    )
}

/// The columns a database files a line by, read back out of the line as JSON: what the typed
/// columns the renderer hands over must equal.
fn columns_in(v: &serde_json::Value) -> Columns<'_> {
    let text = |key: &str| v.get(key).and_then(serde_json::Value::as_str);
    let package = text("package_name").or_else(|| {
        v.pointer("/resource_related/affected_package/name")?
            .as_str()
    });
    Columns {
        id: text("id").unwrap_or_default(),
        type_: text("type"),
        // Only a resource's name is a column: an issue's `name` is its title.
        name: (text("kind") == Some("resource"))
            .then(|| text("name"))
            .flatten(),
        severity: text("severity"),
        state: text("state"),
        resource_id: text("resource_id"),
        package,
        first_seen: text("first_seen"),
        last_seen: text("last_seen"),
        state_updated_at: text("state_updated_at"),
    }
}

fn renderer(format: Format) -> Renderer {
    Renderer {
        vendor: "prop".into(),
        vendor_name: "Prop".into(),
        models: Models::default(),
        format,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_admitted_record_renders_as_valid_single_json_lines(
        findings in prop::collection::vec(finding(), 0..6),
        ocsf in any::<bool>(),
    ) {
        let total = findings.len();
        let mut kept = findings;
        let mut skipped: Vec<SkippedRecord> = Vec::new();
        admit::findings(&mut kept, &mut skipped);
        prop_assert_eq!(kept.len() + skipped.len(), total);
        let format = if ocsf { Format::Ocsf } else { Format::Ndjson };
        let renderer = renderer(format);
        let mut batch = Batch::default();
        for f in &kept {
            renderer.finding(f, &mut batch);
        }
        let out = batch.text();
        let text = std::str::from_utf8(out).expect("output is UTF-8");
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        let per_record = if ocsf { 1 } else { 2 };
        prop_assert_eq!(lines.len(), kept.len() * per_record);
        prop_assert_eq!(batch.len(), lines.len());
        prop_assert!(out.is_empty() || out.ends_with(b"\n"));
        for (line, (record, own)) in lines.iter().zip(batch.records()) {
            prop_assert_eq!(*line, own);
            prop_assert!(!line.contains('\r'));
            let value: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| TestCaseError::fail(format!("{e}: {line:.200}")))?;
            prop_assert!(value.is_object());
            if !ocsf {
                prop_assert_eq!(&columns_in(&value), &record.columns);
            }
        }
        for s in &skipped {
            prop_assert!(s.reason.contains("refused by the host"));
        }
    }
}
