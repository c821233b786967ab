//! Package URLs (`pkg:type/namespace/name@version`), built only from valid parts.
//!
//! The purl specification: the type is ASCII letters, digits, `.`, `+` and `-`, not starting with
//! a digit, and is lower-cased; every other component is percent-encoded except ASCII letters,
//! digits, `.-_~` and `:`. A part that cannot be made valid leaves the purl out (`None`) rather
//! than emitting one a consumer would reject: the package's name, version and ecosystem still
//! travel in their own fields.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Bytes a purl component keeps as they are, beside ASCII letters and digits.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'_')
    .remove(b'~')
    .remove(b':');

/// The purl of a package, or `None` when its type is not a valid purl type or it has no name.
/// A missing type is `generic`.
pub fn build(
    kind: Option<&str>,
    namespace: Option<&str>,
    name: &str,
    version: Option<&str>,
) -> Option<String> {
    let kind = match kind.map(str::trim).filter(|k| !k.is_empty()) {
        None => "generic".to_string(),
        Some(k) if valid_type(k) => k.to_ascii_lowercase(),
        Some(_) => return None,
    };
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let mut out = format!("pkg:{kind}/");
    let segments = namespace.into_iter().flat_map(|ns| ns.split('/'));
    for segment in segments.map(str::trim).filter(|s| !s.is_empty()) {
        out.extend(utf8_percent_encode(segment, COMPONENT));
        out.push('/');
    }
    out.extend(utf8_percent_encode(name, COMPONENT));
    if let Some(v) = version.map(str::trim).filter(|v| !v.is_empty()) {
        out.push('@');
        out.extend(utf8_percent_encode(v, COMPONENT));
    }
    Some(out)
}

fn valid_type(kind: &str) -> bool {
    let mut bytes = kind.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'.' || b == b'+' || b == b'-')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'+' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_encoded_as_the_spec_says() {
        assert_eq!(
            build(Some("npm"), Some("@acme"), "xml-toolkit", Some("3.1.0")).as_deref(),
            Some("pkg:npm/%40acme/xml-toolkit@3.1.0")
        );
        assert_eq!(
            build(Some("NPM"), None, "a b", None).as_deref(),
            Some("pkg:npm/a%20b")
        );
        assert_eq!(
            build(
                Some("maven"),
                Some("org.example/sub"),
                "x",
                Some("1.0+build:2")
            )
            .as_deref(),
            Some("pkg:maven/org.example/sub/x@1.0%2Bbuild:2")
        );
        assert_eq!(
            build(None, None, "x", Some("1")).as_deref(),
            Some("pkg:generic/x@1")
        );
        assert_eq!(
            build(Some("pypi"), None, "é?#@", None).as_deref(),
            Some("pkg:pypi/%C3%A9%3F%23%40")
        );
    }

    #[test]
    fn invalid_types_and_empty_names_make_no_purl() {
        for bad in ["np\u{fffd}m", "1npm", "n pm", "npm/x", "a@b", "%6Epm"] {
            assert_eq!(build(Some(bad), None, "x", None), None, "{bad:?}");
        }
        assert_eq!(build(Some("npm"), None, "  ", None), None);
        assert!(build(Some("c++"), None, "x", None).is_some());
    }
}
