//! A page of vendor records read one by one: one unreadable record is skipped with a reason
//! naming where it was, and the rest of the page stands (the contract's `skipped-record`).

use crate::wit::SkippedRecord;

/// What a page's records became: the ones read, and the ones left out with their reasons.
#[derive(Debug)]
pub struct Read<T> {
    /// The records that were read.
    pub items: Vec<T>,
    /// The records that were not, each with why.
    pub skipped: Vec<SkippedRecord>,
}

/// Reads each of `raw` with `read`. A record `read` refuses is skipped with the reason
/// `{what}[{index}] (record {vendor id}): {error}`; `vendor_id` reads the id when it can.
pub fn read_each<R, T>(
    what: &str,
    raw: &[R],
    vendor_id: impl Fn(&R) -> Option<String>,
    mut read: impl FnMut(&R) -> Result<T, String>,
) -> Read<T> {
    let mut page = Read {
        items: Vec::with_capacity(raw.len()),
        skipped: Vec::new(),
    };
    for (i, record) in raw.iter().enumerate() {
        match read(record) {
            Ok(item) => page.items.push(item),
            Err(error) => {
                let id = vendor_id(record);
                let at = match &id {
                    Some(id) => format!("{what}[{i}] (record {id})"),
                    None => format!("{what}[{i}]"),
                };
                page.skipped.push(SkippedRecord {
                    vendor_id: id,
                    reason: format!("{at}: {error}"),
                });
            }
        }
    }
    page
}

/// Field `name` of a JSON object as text, when it is a string or a number: the usual shape of
/// a vendor id, for [`read_each`]'s `vendor_id`.
pub fn json_field(raw: &serde_json::Value, name: &str) -> Option<String> {
    match raw.get(name)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_record_is_skipped_with_where_it_was() {
        let raw: Vec<serde_json::Value> =
            serde_json::from_str(r#"[{"id":"a","n":1},{"id":7,"n":"x"},{"n":3},{"id":"d","n":4}]"#)
                .unwrap();
        let page = read_each(
            "items",
            &raw,
            |r| json_field(r, "id"),
            |r| {
                r["n"]
                    .as_u64()
                    .ok_or_else(|| "n: expected a number".to_string())
            },
        );
        assert_eq!(page.items, [1, 3, 4]);
        assert_eq!(page.skipped.len(), 1);
        assert_eq!(page.skipped[0].vendor_id.as_deref(), Some("7"));
        assert_eq!(
            page.skipped[0].reason,
            "items[1] (record 7): n: expected a number"
        );
    }
}
