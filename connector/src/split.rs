//! Walks a JSON object's top level: hands each item of one array field to a parser as it is
//! reached, and keeps every other field's raw text.
//!
//! A page of alerts must yield, for each alert, both its fields and its exact bytes (kept for
//! `vendor_data`). serde_json's `&RawValue` finds the bytes by running the parser over the whole
//! page, after which each alert is parsed again. Here the item parser reads an alert once and
//! says how many bytes it took, so every alert is parsed once and its bytes come for free. The
//! rest of the object is only scanned (strings and nesting, jumping through strings with
//! `memchr`), not validated: the fields the caller reads are parsed by serde_json, which rejects
//! anything malformed, so a broken body still fails with a clear error rather than a wrong record.

use memchr::memchr2;

/// The top level of an object, once its array field has been handed over item by item.
#[derive(Debug, PartialEq)]
pub struct Split<'a> {
    /// How many items the array field held; `None` if it was absent or not an array.
    pub items: Option<usize>,
    /// Every other field: its key (unescaped) and raw value text.
    pub fields: Vec<(String, &'a str)>,
}

/// Why an object could not be walked.
#[derive(Debug, PartialEq)]
pub enum SplitError<E> {
    /// The text is not shaped like a JSON object; says what was expected where.
    Syntax(String),
    /// The item parser refused an item.
    Item(E),
}

/// Walks `text`, a JSON object. Each item of the array under `array_key` is handed to `item` as
/// the text from its first byte on; `item` returns how many bytes the item took.
pub fn split_object<'a, E>(
    text: &'a str,
    array_key: &str,
    mut item: impl FnMut(&'a str) -> Result<usize, E>,
) -> Result<Split<'a>, SplitError<E>> {
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
            split.items = Some(s.array_items(&mut item)?);
        } else {
            let start = s.at;
            s.at = s.value_end()?;
            split.fields.push((key, &text[start..s.at]));
        }
        s.skip_ws();
        match s.next() {
            Some(b',') => continue,
            Some(b'}') => return s.finish(split),
            _ => return Err(s.unexpected("`,` or `}` after a field")),
        }
    }
}

/// The length of the JSON value at the start of `text`, found by scanning as the walk does (not
/// validated): for reading past items that another call maps.
pub fn value_len(text: &str) -> Result<usize, String> {
    let s = Scanner {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    s.value_end().map_err(|e: SplitError<String>| match e {
        SplitError::Syntax(m) | SplitError::Item(m) => m,
    })
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

    fn expect<E>(&mut self, byte: u8, what: &str) -> Result<(), SplitError<E>> {
        if self.next() == Some(byte) {
            Ok(())
        } else {
            self.at = self.at.saturating_sub(1);
            Err(self.unexpected(what))
        }
    }

    fn unexpected<E>(&self, what: &str) -> SplitError<E> {
        SplitError::Syntax(match self.peek() {
            Some(b) => format!("expected {what} at byte {}, found {:?}", self.at, b as char),
            None => format!("expected {what} at byte {}, found the end", self.at),
        })
    }

    fn finish<E>(mut self, split: Split<'a>) -> Result<Split<'a>, SplitError<E>> {
        self.skip_ws();
        match self.peek() {
            None => Ok(split),
            Some(_) => Err(self.unexpected("the end after the object")),
        }
    }

    /// A key, unescaped when it has escapes.
    fn key<E>(&mut self) -> Result<String, SplitError<E>> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected("a quoted key"));
        }
        let start = self.at;
        let end = self.string_end(start + 1)?;
        self.at = end;
        let quoted = &self.text[start..end];
        if quoted.contains('\\') {
            serde_json::from_str(quoted)
                .map_err(|e| SplitError::Syntax(format!("key at byte {start}: {e}")))
        } else {
            Ok(quoted[1..quoted.len() - 1].to_string())
        }
    }

    /// Hands each item of the array starting here to `item`; how many there were.
    fn array_items<E>(
        &mut self,
        item: &mut impl FnMut(&'a str) -> Result<usize, E>,
    ) -> Result<usize, SplitError<E>> {
        self.expect(b'[', "`[`")?;
        let mut count = 0;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(count);
        }
        loop {
            self.skip_ws();
            if matches!(self.peek(), Some(b',' | b']') | None) {
                return Err(self.unexpected("a value"));
            }
            self.at += item(&self.text[self.at..]).map_err(SplitError::Item)?;
            count += 1;
            self.skip_ws();
            match self.next() {
                Some(b',') => continue,
                Some(b']') => return Ok(count),
                _ => return Err(self.unexpected("`,` or `]` after an array item")),
            }
        }
    }

    /// Where the value starting here ends.
    fn value_end<E>(&self) -> Result<usize, SplitError<E>> {
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
    fn nested_end<E>(&self) -> Result<usize, SplitError<E>> {
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
        Err(SplitError::Syntax(format!(
            "the value at byte {} is not closed before the end",
            self.at
        )))
    }

    /// Just past the closing quote of a string whose contents start at `from`.
    fn string_end<E>(&self, mut from: usize) -> Result<usize, SplitError<E>> {
        loop {
            match memchr2(b'"', b'\\', &self.bytes[from.min(self.bytes.len())..]) {
                Some(n) if self.bytes[from + n] == b'\\' => from += n + 2,
                Some(n) => return Ok(from + n + 1),
                None => {
                    return Err(SplitError::Syntax(format!(
                        "a string is not closed before the end (byte {from})"
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks `text` taking each item verbatim (its length found by scanning).
    fn raw_split(text: &str) -> Result<(Vec<&str>, Split<'_>), String> {
        let mut items = Vec::new();
        let split = split_object(text, "items", |rest| {
            let n = value_len(rest)?;
            items.push(&rest[..n]);
            Ok(n)
        })
        .map_err(|e| match e {
            SplitError::Syntax(m) | SplitError::Item(m) => m,
        })?;
        Ok((items, split))
    }

    #[test]
    fn items_and_fields_are_split_verbatim() {
        let text = r#" { "endCursor" : "a\"b" , "items": [ {"id": "x", "s": "q]}\\"} ,[1, {"a": []}], 7 ,null,"s,"],
            "meta": {"n": 1e3, "t": true} } "#;
        let (items, split) = raw_split(text).unwrap();
        assert_eq!(
            items,
            vec![
                r#"{"id": "x", "s": "q]}\\"}"#,
                r#"[1, {"a": []}]"#,
                "7",
                "null",
                r#""s,""#
            ]
        );
        assert_eq!(split.items, Some(5));
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
        assert_eq!(raw_split("{}").unwrap().1.items, None);
        let (items, null) = raw_split(r#"{"items": null}"#).unwrap();
        assert_eq!((items.len(), null.items), (0, None));
        assert_eq!(null.fields, vec![("items".to_string(), "null")]);
        assert_eq!(raw_split(r#"{"items":[]}"#).unwrap().1.items, Some(0));
    }

    #[test]
    fn escaped_keys_are_unescaped() {
        let (items, split) = raw_split(r#"{"\u0069tems": [1], "k\"": 2}"#).unwrap();
        assert_eq!(items, vec!["1"]);
        assert_eq!(split.fields, vec![("k\"".to_string(), "2")]);
    }

    #[test]
    fn the_item_parser_decides_where_an_item_ends_and_may_refuse_it() {
        let mut seen = Vec::new();
        let split = split_object(r#"{"items": [{"a": 1}, {"b": 2}]}"#, "items", |rest| {
            seen.push(rest.len());
            Ok::<_, ()>(8)
        })
        .unwrap();
        assert_eq!((split.items, seen), (Some(2), vec![20, 10]));
        let refused = split_object(r#"{"items": [1]}"#, "items", |_| Err("no"));
        assert_eq!(refused, Err(SplitError::Item("no")));
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
            let err = raw_split(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
