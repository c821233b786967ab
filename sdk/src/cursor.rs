//! Opaque cursors: a tag naming the listing, then the connector's position in it. The runtime
//! stores a cursor and hands it back unchanged; a cursor from another listing, another
//! connector or a tampered state file is refused with `invalid-cursor`, which makes the
//! runtime restart the listing once rather than read from a wrong place.

use crate::wit::ConnectorError;

/// `tag:position`.
pub fn encode(tag: &str, position: &str) -> String {
    format!("{tag}:{position}")
}

/// The position in a cursor made by [`encode`] with `tag`.
pub fn decode<'a>(tag: &str, cursor: &'a str) -> Result<&'a str, ConnectorError> {
    cursor
        .strip_prefix(tag)
        .and_then(|rest| rest.strip_prefix(':'))
        .ok_or_else(|| invalid(tag, cursor))
}

/// An offset cursor (`tag:N`).
pub fn offset(tag: &str, n: u64) -> String {
    encode(tag, &n.to_string())
}

/// The offset in a cursor made by [`offset`]; `None` (no cursor) is 0.
pub fn offset_of(tag: &str, cursor: Option<&str>) -> Result<u64, ConnectorError> {
    match cursor {
        None => Ok(0),
        Some(c) => decode(tag, c)?.parse().map_err(|_| invalid(tag, c)),
    }
}

fn invalid(tag: &str, cursor: &str) -> ConnectorError {
    let shown: String = cursor.chars().take(80).collect();
    ConnectorError::InvalidCursor(format!(
        "{shown:?} is not a `{tag}` cursor issued by this connector"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        assert_eq!(
            offset_of("images", Some(&offset("images", 40))).unwrap(),
            40
        );
        assert_eq!(offset_of("images", None).unwrap(), 0);
        assert_eq!(decode("vulns", &encode("vulns", "a:b")).unwrap(), "a:b");
        for bad in ["vulns:3", "images", "images:-1", "images:x"] {
            assert!(
                matches!(offset_of("images", Some(bad)), Err(ConnectorError::InvalidCursor(m)) if m.contains("images")),
                "{bad}"
            );
        }
    }
}
