//! Splits a JSON object's text into its top-level fields, and one array field into its items,
//! without parsing any of them.
//!
//! A page of alerts must be read twice over in any case: once to find where each alert starts
//! and ends (its bytes are kept for `vendor_data`), once to read its fields. serde_json's
//! `&RawValue` finds the boundaries by running the full parser over every byte; this only tracks
//! strings and nesting, jumping through strings with `memchr`. It does not validate: every item
//! and field it yields is then parsed by serde_json, which rejects anything malformed, so a
//! broken body still fails with a clear error rather than a wrong record.

use memchr::memchr2;

/// The top level of an object: the items of the array under one key, and every other field.
#[derive(Debug, PartialEq)]
pub struct Split<'a> {
    /// The items of the array field asked for, as raw JSON text; `None` if the field is absent
    /// or null.
    pub items: Option<Vec<&'a str>>,
    /// Every other field: its key (unescaped only if it had escapes) and raw value text.
    pub fields: Vec<(String, &'a str)>,
}

/// Splits `text`, a JSON object, taking the array under `array_key` apart item by item.
pub fn split_object<'a>(text: &'a str, array_key: &str) -> Result<Split<'a>, String> {
    let mut s = Scanner {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut split = Split {
        items: None,
        fields: Vec::new(),
    };
    s.skip_ws();
    s.expect(b'{', "the body to be a JSON object")?;
    s.skip_ws();
    if s.peek() == Some(b'}') {
        s.at += 1;
        return s.finish(split);
    }
    loop {
        s.skip_ws();
        let key = s.key()?;
        s.skip_ws();
        s.expect(b':', "`:` after a key")?;
        s.skip_ws();
        if key == array_key && s.peek() == Some(b'[') {
            split.items = Some(s.array_items()?);
        } else {
            let start = s.at;
            let end = s.value_end()?;
            s.at = end;
            split.fields.push((key, &text[start..end]));
        }
        s.skip_ws();
        match s.next() {
            Some(b',') => continue,
            Some(b'}') => return s.finish(split),
            _ => return Err(s.unexpected("`,` or `}` after a field")),
        }
    }
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), String> {
        if self.next() == Some(byte) {
            Ok(())
        } else {
            self.at = self.at.saturating_sub(1);
            Err(self.unexpected(what))
        }
    }

    fn unexpected(&self, what: &str) -> String {
        match self.peek() {
            Some(b) => format!("expected {what} at byte {}, found {:?}", self.at, b as char),
            None => format!("expected {what} at byte {}, found the end", self.at),
        }
    }

    fn finish(mut self, split: Split<'a>) -> Result<Split<'a>, String> {
        self.skip_ws();
        match self.peek() {
            None => Ok(split),
            Some(_) => Err(self.unexpected("the end after the object")),
        }
    }

    /// A key, unescaped when it has escapes.
    fn key(&mut self) -> Result<String, String> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected("a quoted key"));
        }
        let start = self.at;
        let end = self.string_end(start + 1)?;
        self.at = end;
        let quoted = &self.text[start..end];
        if quoted.contains('\\') {
            serde_json::from_str(quoted).map_err(|e| format!("key at byte {start}: {e}"))
        } else {
            Ok(quoted[1..quoted.len() - 1].to_string())
        }
    }

    /// The items of the array starting here.
    fn array_items(&mut self) -> Result<Vec<&'a str>, String> {
        self.expect(b'[', "`[`")?;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(items);
        }
        loop {
            self.skip_ws();
            let start = self.at;
            let end = self.value_end()?;
            items.push(&self.text[start..end]);
            self.at = end;
            self.skip_ws();
            match self.next() {
                Some(b',') => continue,
                Some(b']') => return Ok(items),
                _ => return Err(self.unexpected("`,` or `]` after an array item")),
            }
        }
    }

    /// Where the value starting here ends.
    fn value_end(&self) -> Result<usize, String> {
        match self.peek() {
            Some(b'"') => self.string_end(self.at + 1),
            Some(b'{' | b'[') => self.nested_end(),
            Some(b',' | b'}' | b']') | None => Err(self.unexpected("a value")),
            Some(_) => Ok(self.bytes[self.at..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
                .map_or(self.bytes.len(), |n| self.at + n)),
        }
    }

    /// Where the object or array starting here ends.
    fn nested_end(&self) -> Result<usize, String> {
        let mut depth = 0usize;
        let mut i = self.at;
        while let Some(&b) = self.bytes.get(i) {
            match b {
                b'"' => {
                    i = self.string_end(i + 1)?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(i + 1);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        Err(format!(
            "the value at byte {} is not closed before the end",
            self.at
        ))
    }

    /// Just past the closing quote of a string whose contents start at `from`.
    fn string_end(&self, mut from: usize) -> Result<usize, String> {
        loop {
            match memchr2(b'"', b'\\', &self.bytes[from.min(self.bytes.len())..]) {
                Some(n) if self.bytes[from + n] == b'\\' => from += n + 2,
                Some(n) => return Ok(from + n + 1),
                None => {
                    return Err(format!(
                        "a string is not closed before the end (byte {from})"
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_and_fields_are_split_verbatim() {
        let text = r#" { "endCursor" : "a\"b" , "items": [ {"id": "x", "s": "q]}\\"} ,[1, {"a": []}], 7 ,null,"s,"],
            "meta": {"n": 1e3, "t": true} } "#;
        let split = split_object(text, "items").unwrap();
        assert_eq!(
            split.items.unwrap(),
            vec![
                r#"{"id": "x", "s": "q]}\\"}"#,
                r#"[1, {"a": []}]"#,
                "7",
                "null",
                r#""s,""#
            ]
        );
        assert_eq!(
            split.fields,
            vec![
                ("endCursor".to_string(), r#""a\"b""#),
                ("meta".to_string(), r#"{"n": 1e3, "t": true}"#)
            ]
        );
    }

    #[test]
    fn absent_null_and_empty_arrays() {
        assert_eq!(split_object("{}", "items").unwrap().items, None);
        let null = split_object(r#"{"items": null}"#, "items").unwrap();
        assert_eq!(null.items, None);
        assert_eq!(null.fields, vec![("items".to_string(), "null")]);
        assert_eq!(
            split_object(r#"{"items":[]}"#, "items").unwrap().items,
            Some(vec![])
        );
    }

    #[test]
    fn escaped_keys_are_unescaped() {
        let split = split_object(r#"{"\u0069tems": [1], "k\"": 2}"#, "items").unwrap();
        assert_eq!(split.items, Some(vec!["1"]));
        assert_eq!(split.fields, vec![("k\"".to_string(), "2")]);
    }

    #[test]
    fn broken_bodies_say_where() {
        for (text, want) in [
            (
                "",
                "expected the body to be a JSON object at byte 0, found the end",
            ),
            (
                "[1]",
                "expected the body to be a JSON object at byte 0, found '['",
            ),
            (
                r#"{"items": [1, 2"#,
                "expected `,` or `]` after an array item at byte 15",
            ),
            (r#"{"items": [{"a": 1}"#, "expected `,` or `]`"),
            (r#"{"items": [{"a": 1"#, "not closed before the end"),
            (r#"{"a": "open}"#, "a string is not closed"),
            (
                r#"{"a": 1} x"#,
                "expected the end after the object at byte 9",
            ),
            (r#"{"a" 1}"#, "expected `:` after a key at byte 5"),
            (r#"{a: 1}"#, "expected a quoted key at byte 1"),
            (r#"{"a": }"#, "expected a value at byte 6"),
            (r#"{"items": [1,]}"#, "expected a value at byte 13"),
        ] {
            let err = split_object(text, "items").unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
