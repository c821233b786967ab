//! Percent-encoding for URL query values and Package URL components.

/// Encodes every byte of `s` except ASCII letters, digits and the bytes in `keep` as `%XX`.
pub fn percent_encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_what_it_is_told() {
        assert_eq!(percent_encode("a b,c@1", b","), "a%20b,c%401");
        assert_eq!(percent_encode("é", b""), "%C3%A9");
    }
}
