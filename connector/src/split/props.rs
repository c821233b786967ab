//! Property tests for the page splitter and the alert reader: arbitrary bytes and deep
//! nesting never panic, and on valid JSON the splitter agrees with serde_json.

use proptest::prelude::*;
use serde_json::Value;

use super::{SplitError, split_object};
use crate::records::{Budget, read_alerts};
use crate::settings::Filter;

/// Any JSON value, up to a few levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A split as values: the items, and the other fields by key.
type Walked = (Vec<Value>, serde_json::Map<String, Value>);

/// Splits `text`, each item's extent found by serde_json.
fn split_with_serde(text: &str) -> Result<Walked, String> {
    let mut items = Vec::new();
    let split = split_object(text, "items", |rest| {
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        let item = stream.next().ok_or("no item")?.map_err(|e| e.to_string())?;
        items.push(item);
        Ok::<_, String>(stream.byte_offset())
    })
    .map_err(|e| match e {
        SplitError::Syntax(m) | SplitError::Item(m) => m,
    })?;
    let fields = split
        .fields
        .into_iter()
        .map(|(k, raw)| {
            (
                k,
                serde_json::from_str(raw).expect("a field's raw text is JSON"),
            )
        })
        .collect();
    Ok((items, fields))
}

/// Text that is mostly JSON punctuation: the splitter's own scanning, not serde's, is tried.
fn jsonish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("{"),
            Just("}"),
            Just("["),
            Just("]"),
            Just("\""),
            Just("\\"),
            Just(":"),
            Just(","),
            Just(" "),
            Just("\"items\""),
            Just("1"),
            Just("null"),
            Just("é"),
        ],
        0..64,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_text_never_panics(text in prop_oneof![any::<String>(), jsonish()]) {
        let _ = split_with_serde(&text);
        let _ = read_alerts("org", &text, &Filter::default(), 0, Budget::UNBOUNDED);
    }

    #[test]
    fn deep_nesting_never_panics(depth in 0usize..200_000, closed in any::<bool>()) {
        let close = if closed { "]".repeat(depth) } else { String::new() };
        let text = format!("{{\"items\": [{}{}], \"x\": {}{}}}", "[".repeat(depth), close, "[".repeat(depth), close);
        let _ = split_with_serde(&text);
        let _ = read_alerts("org", &text, &Filter::default(), 0, Budget::UNBOUNDED);
    }

    #[test]
    fn on_valid_json_the_split_agrees_with_serde(
        items in prop::collection::vec(json(), 0..8),
        others in prop::collection::btree_map("[a-z]{1,6}", json(), 0..4),
    ) {
        let mut object = serde_json::Map::new();
        for (k, v) in &others {
            if k != "items" {
                object.insert(k.clone(), v.clone());
            }
        }
        object.insert("items".into(), Value::Array(items));
        let text = serde_json::to_string_pretty(&Value::Object(object)).unwrap();
        // Compared with serde_json's own reading of the same text (floats round-trip only
        // as closely as serde_json parses them).
        let Value::Object(mut whole) = serde_json::from_str(&text).unwrap() else {
            unreachable!("an object was written");
        };
        let (got_items, fields) = split_with_serde(&text).map_err(TestCaseError::fail)?;
        prop_assert_eq!(Value::Array(got_items), whole.remove("items").unwrap());
        prop_assert_eq!(fields, whole);
    }
}
