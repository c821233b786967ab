//! Deterministic record ids, as the contract asks: the same vendor record gives the same id on
//! every run, so consumers upsert instead of duplicating.
//!
//! Each id is a UUIDv5 in a namespace of the vendor's own (a UUIDv5 of its URL) over a JSON
//! array of its parts, kind first. JSON framing keeps the mapping injective: no choice of part
//! values makes two different part lists collide, and a missing part (`None`, `null`) differs
//! from an empty one (`""`).
//!
//! ```
//! let ids = connector_sdk::ids::Ids::new("https://api.acme.example/");
//! let a = ids.id(&[Some("alert"), Some("acme"), Some("42")]);
//! assert_eq!(a, ids.id(&[Some("alert"), Some("acme"), Some("42")]));
//! assert_eq!(a.len(), 36);
//! ```

use uuid::Uuid;

/// Mints ids in one vendor's namespace.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    namespace: Uuid,
}

impl Ids {
    /// The namespace is UUIDv5(URL namespace, `vendor_url`): pick the vendor's URL once and
    /// never change it, or every consumer's upserts break.
    pub fn new(vendor_url: &str) -> Ids {
        Ids {
            namespace: Uuid::new_v5(&Uuid::NAMESPACE_URL, vendor_url.as_bytes()),
        }
    }

    /// The id of a record named by `parts` (put its kind first, then the tenant, then the
    /// vendor's own keys).
    pub fn id(&self, parts: &[Option<&str>]) -> String {
        let name = serde_json::to_string(parts).expect("a list of strings always serializes");
        Uuid::new_v5(&self.namespace, name.as_bytes()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_version_5_uuids() {
        let ids = Ids::new("https://socket.dev/");
        let a = ids.id(&[Some("repository"), Some("acme"), Some("48190")]);
        assert_eq!(Uuid::parse_str(&a).unwrap().get_version_num(), 5);
        // Pinned: the Socket connector's ids, which consumers have stored.
        assert_eq!(a, "87d74336-2e04-5ce1-a046-39f9609d2e46");
    }

    #[test]
    fn parts_cannot_collide_through_separators_or_absence() {
        let ids = Ids::new("https://x.example/");
        assert_ne!(
            ids.id(&[Some("a"), Some("b/c")]),
            ids.id(&[Some("a/b"), Some("c")])
        );
        assert_ne!(ids.id(&[Some("a"), None]), ids.id(&[Some("a"), Some("")]));
        assert_ne!(
            Ids::new("https://x.example/").id(&[Some("a")]),
            Ids::new("https://y.example/").id(&[Some("a")])
        );
    }
}
