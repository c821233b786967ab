use serde_json::value::RawValue;

use super::*;

fn alert(id: &str, extra: &str) -> String {
    format!(
        r#"{{"id": "{id}", "title": "t-{id}", "severity": "high"{extra},
            "locations": [{{"repository": {{"id": "1", "slug": "r"}}, "branch": "main"}}]}}"#
    )
}

fn page(items: &[String], tail: &str) -> String {
    format!(r#"{{"items": [{}]{tail}}}"#, items.join(","))
}

fn ids(read: &AlertsRead) -> Vec<String> {
    read.findings.iter().map(|f| f.vendor_id.clone()).collect()
}

#[test]
fn an_unreadable_alert_is_skipped_and_the_page_goes_on() {
    let body = page(
        &[
            alert("a1", ""),
            alert("a2", r#", "description": ["x"]"#),
            alert("a3", r#", "vulnerability": {"cveId": {"name": ["CVE"]}}"#),
            r#"{"type": "noIdAtAll"}"#.to_string(),
            alert("a5", ""),
        ],
        r#", "endCursor": "c1", "meta": {"queryStartTimestamp": 1786440000000}"#,
    );
    let read = read_alerts("acme", &body, &Filter::default(), 0, Budget::UNBOUNDED).unwrap();
    assert_eq!(ids(&read), ["a1", "a5"]);
    assert_eq!(read.vendor_records, 5);
    assert_eq!(read.items, Some(5));
    assert_eq!(read.resume_at, None);
    let reasons: Vec<&str> = read.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert!(
        reasons[0].starts_with(r#"items[1] (id "a2"): description: invalid type: sequence"#),
        "{reasons:?}"
    );
    assert!(
        reasons[1]
            .starts_with(r#"items[2] (id "a3"): vulnerability.cveId.name: invalid type: sequence"#),
        "{reasons:?}"
    );
    assert_eq!(reasons[2], "items[3]: alert has neither `id` nor `key`");
    assert_eq!(read.skipped[0].vendor_id.as_deref(), Some("a2"));
    assert_eq!(read.fields.len(), 2, "the envelope is still read");
}

#[test]
fn a_broken_or_cut_body_still_fails_the_page() {
    let good = alert("a1", "");
    let broken = format!(r#"{{"items": [{good}, {{"id": "a2", "title": tru}}]}}"#);
    assert!(matches!(
        read_alerts("acme", &broken, &Filter::default(), 0, Budget::UNBOUNDED),
        Err(PageFault::Broken(1, _))
    ));
    let cut = format!(r#"{{"items": [{good}, {{"id": "a2", "title": "#);
    assert!(matches!(
        read_alerts("acme", &cut, &Filter::default(), 0, Budget::UNBOUNDED),
        Err(PageFault::Truncated(1, _))
    ));
    // An unreadable field in an alert cut short is still a cut body, not a skip.
    let cut_after_bad = format!(r#"{{"items": [{good}, {{"id": "a2", "title": [1], "x": "#);
    assert!(matches!(
        read_alerts(
            "acme",
            &cut_after_bad,
            &Filter::default(),
            0,
            Budget::UNBOUNDED
        ),
        Err(PageFault::Truncated(1, _))
    ));
    assert!(matches!(
        read_alerts("acme", "[1]", &Filter::default(), 0, Budget::UNBOUNDED),
        Err(PageFault::Syntax(_))
    ));
}

/// Estimated bytes of one `alert(..)`'s finding, as the budget counts them.
fn per_alert(item: &str) -> usize {
    let body = page(&[item.to_string()], "");
    let r = read_alerts("acme", &body, &Filter::default(), 0, Budget::UNBOUNDED).unwrap();
    let f = &r.findings[0];
    f.vendor_data.len() + 2 * f.title.len() + 512
}

#[test]
fn the_target_ends_a_call_early_and_the_next_resumes_where_it_stopped() {
    let items: Vec<String> = (0..10).map(|i| alert(&format!("a{i}"), "")).collect();
    let body = page(&items, r#", "endCursor": "next""#);
    let one = read_alerts("acme", &body, &Filter::default(), 0, Budget::UNBOUNDED).unwrap();
    assert_eq!(one.findings.len(), 10);
    assert_eq!(one.starts.len(), 10);
    // Room for about three alerts' findings per call.
    let per_alert = per_alert(&items[0]);
    let budget = Budget {
        target: per_alert * 3 + per_alert / 2,
        cap: usize::MAX,
    };
    let mut skip = 0;
    let mut seen = Vec::new();
    let mut calls = 0;
    loop {
        let r = read_alerts("acme", &body, &Filter::default(), skip, budget).unwrap();
        calls += 1;
        assert!(r.findings.len() <= 3, "{}", r.findings.len());
        assert_eq!(r.vendor_records, r.findings.len());
        seen.extend(ids(&r));
        assert_eq!(r.fields.len(), 1, "the envelope is read on every walk");
        assert_eq!(r.starts, one.starts, "every walk finds every item");
        match r.resume_at {
            Some(at) => {
                assert!(at > skip, "each call makes progress");
                skip = at;
            }
            None => break,
        }
    }
    assert_eq!(calls, 4);
    let want: Vec<String> = (0..10).map(|i| format!("a{i}")).collect();
    assert_eq!(seen, want, "every alert once, in order");
}

#[test]
fn a_walked_page_is_finished_from_its_index_with_the_same_findings() {
    let items: Vec<String> = (0..10)
        .map(|i| match i {
            4 => alert("a4", r#", "description": ["not text"]"#),
            _ => alert(&format!("a{i}"), ""),
        })
        .collect();
    let body = page(&items, r#", "endCursor": "next""#);
    let whole = read_alerts("acme", &body, &Filter::default(), 0, Budget::UNBOUNDED).unwrap();
    let budget = Budget {
        target: per_alert(&items[0]) * 2,
        cap: usize::MAX,
    };
    let first = read_alerts("acme", &body, &Filter::default(), 0, budget).unwrap();
    let (mut findings, mut skipped) = (first.findings, first.skipped);
    let mut vendor_records = first.vendor_records;
    let mut at = first.resume_at;
    let mut calls = 1;
    while let Some(skip) = at {
        let r = read_indexed_alerts(
            "acme",
            &body,
            &first.starts,
            &Filter::default(),
            skip,
            budget,
        )
        .unwrap();
        assert!(
            r.fields.is_empty() && r.starts.is_empty(),
            "nothing is walked again"
        );
        assert_eq!(r.items, Some(10));
        findings.extend(r.findings);
        skipped.extend(r.skipped);
        vendor_records += r.vendor_records;
        at = r.resume_at;
        calls += 1;
    }
    assert!(calls >= 4, "{calls}");
    assert_eq!(findings, whole.findings);
    assert_eq!(skipped, whole.skipped);
    assert_eq!(vendor_records, 10);
}

#[test]
fn an_alert_too_large_for_any_call_is_skipped_with_its_reason() {
    let locations = vec![r#"{"branch": "b"}"#; 2000].join(",");
    let wide = format!(
        r#"{{"id": "wide", "title": "{}", "locations": [{locations}]}}"#,
        "t".repeat(20_000)
    );
    let body = page(&[alert("a1", ""), wide, alert("a3", "")], "");
    let budget = Budget {
        target: 1 << 20,
        cap: 8 << 20,
    };
    let first = read_alerts("acme", &body, &Filter::default(), 0, budget).unwrap();
    // a1 fits; `wide` does not fit what is left, so the call ends before it.
    assert_eq!(
        (ids(&first), first.resume_at),
        (vec!["a1".to_string()], Some(1))
    );
    let second = read_alerts("acme", &body, &Filter::default(), 1, budget).unwrap();
    assert_eq!(ids(&second), ["a3"]);
    assert_eq!(second.resume_at, None);
    assert_eq!(second.skipped.len(), 1);
    let reason = &second.skipped[0].reason;
    assert!(
        reason.starts_with(r#"items[1] (id "wide"): its findings would take "#)
            && reason.contains("more than one call may hold (8 MiB)"),
        "{reason}"
    );
}

#[test]
fn an_alert_over_the_target_but_under_the_cap_is_mapped_alone() {
    let locations = vec![r#"{"branch": "b"}"#; 50].join(",");
    let wide = format!(r#"{{"id": "wide", "title": "t", "locations": [{locations}]}}"#);
    let body = page(&[alert("a1", ""), wide, alert("a3", "")], "");
    let budget = Budget {
        target: per_alert(&alert("a1", "")) * 2,
        cap: 8 << 20,
    };
    let first = read_alerts("acme", &body, &Filter::default(), 0, budget).unwrap();
    assert_eq!(
        (ids(&first), first.resume_at),
        (vec!["a1".to_string()], Some(1))
    );
    let second =
        read_indexed_alerts("acme", &body, &first.starts, &Filter::default(), 1, budget).unwrap();
    assert_eq!(second.findings.len(), 50, "all of it, in a call of its own");
    assert_eq!(second.resume_at, Some(2));
}

#[test]
fn unreadable_repositories_are_skipped_by_index_and_id() {
    let raws: Vec<&RawValue> = [
        r#"{"id": 1, "slug": "a", "default_branch": {"name": "main", "type": null}}"#,
        r#"{"id": 2, "slug": ["b"]}"#,
        r#"{"slug": "c"}"#,
        r#"{"id": 4, "slug": "d", "default_branch": "trunk"}"#,
    ]
    .iter()
    .map(|s| serde_json::from_str(s).unwrap())
    .collect();
    let (assets, skipped) = read_repos("acme", &raws);
    let branches: Vec<_> = assets.iter().map(|a| a.default_branch.clone()).collect();
    assert_eq!(branches, [Some("main".into()), Some("trunk".into())]);
    assert_eq!(skipped.len(), 2);
    assert!(
        skipped[0]
            .reason
            .starts_with(r#"results[1] (id "2"): slug: invalid type: sequence"#),
        "{}",
        skipped[0].reason
    );
    assert_eq!(skipped[1].reason, "results[2]: id: missing or empty");
}

mod props {
    use proptest::prelude::*;

    use super::*;

    /// A page of `sizes.len()` alerts whose descriptions have those lengths; every fifth one is
    /// unreadable (its description is an array).
    fn varied_page(sizes: &[usize]) -> String {
        let items: Vec<String> = sizes
            .iter()
            .enumerate()
            .map(|(i, n)| match i % 5 {
                4 => alert(&format!("a{i}"), r#", "description": ["x"]"#),
                _ => alert(
                    &format!("a{i}"),
                    &format!(r#", "description": "{}""#, "d".repeat(*n)),
                ),
            })
            .collect();
        page(&items, r#", "endCursor": "next""#)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// However small the target, a page read over several calls (the first walking it, the
        /// rest from its index, or each one walking it again) gives exactly what one call does.
        #[test]
        fn calls_of_any_target_add_up_to_one_call(
            sizes in proptest::collection::vec(0usize..3000, 1..12),
            target in 1usize..12_000,
        ) {
            let body = varied_page(&sizes);
            let all = read_alerts("acme", &body, &Filter::default(), 0, Budget::UNBOUNDED).unwrap();
            let budget = Budget { target, cap: usize::MAX };
            let first = read_alerts("acme", &body, &Filter::default(), 0, budget).unwrap();
            let (mut indexed, mut walked) = (first.findings.clone(), first.findings.clone());
            let (mut skips, mut records) = (first.skipped.clone(), first.vendor_records);
            let mut at = first.resume_at;
            while let Some(skip) = at {
                let r = read_indexed_alerts("acme", &body, &first.starts, &Filter::default(), skip, budget)
                    .unwrap();
                let again = read_alerts("acme", &body, &Filter::default(), skip, budget).unwrap();
                prop_assert_eq!(&again.findings, &r.findings);
                prop_assert_eq!(again.resume_at, r.resume_at);
                prop_assert!(r.resume_at.is_none_or(|next| next > skip), "progress");
                indexed.extend(r.findings);
                walked.extend(again.findings);
                skips.extend(r.skipped);
                records += r.vendor_records;
                at = r.resume_at;
            }
            prop_assert_eq!(&indexed, &all.findings);
            prop_assert_eq!(&walked, &all.findings);
            prop_assert_eq!(skips, all.skipped);
            prop_assert_eq!(records, sizes.len());
        }
    }
}
