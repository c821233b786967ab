//! Deterministic record ids, so consumers can upsert.
//!
//! Each id is the SDK's UUIDv5 over the JSON array of its parts (kind first): see
//! `connector_sdk::ids`, which keeps the mapping injective.

use std::sync::OnceLock;

use connector_sdk::ids::Ids;

/// Every id this connector mints is in the namespace UUIDv5(URL, "https://socket.dev/").
fn id_of(parts: &[Option<&str>]) -> String {
    static IDS: OnceLock<Ids> = OnceLock::new();
    IDS.get_or_init(|| Ids::new("https://socket.dev/"))
        .id(parts)
}

/// Resource id: org slug + repository id.
pub fn resource_id(org: &str, repo_id: &str) -> String {
    id_of(&[Some("repository"), Some(org), Some(repo_id)])
}

/// Finding id, shared by the V1 issue and the V2 finding of one (alert, location):
/// org slug + alert id + location repository id + branch name + artifact id.
pub fn finding_id(
    org: &str,
    alert_id: &str,
    repo_id: Option<&str>,
    branch: Option<&str>,
    artifact_id: Option<&str>,
) -> String {
    id_of(&[
        Some("finding"),
        Some(org),
        Some(alert_id),
        repo_id,
        branch,
        artifact_id,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_uuids() {
        let a = resource_id("acme", "48190");
        assert_eq!(a, resource_id("acme", "48190"));
        // Pinned: a change here silently breaks every consumer's upserts.
        assert_eq!(a, "87d74336-2e04-5ce1-a046-39f9609d2e46");
    }

    #[test]
    fn every_part_matters() {
        let base = finding_id("acme", "a1", Some("r1"), Some("main"), Some("x1"));
        let variants = [
            finding_id("acme2", "a1", Some("r1"), Some("main"), Some("x1")),
            finding_id("acme", "a2", Some("r1"), Some("main"), Some("x1")),
            finding_id("acme", "a1", Some("r2"), Some("main"), Some("x1")),
            finding_id("acme", "a1", Some("r1"), Some("dev"), Some("x1")),
            finding_id("acme", "a1", Some("r1"), Some("main"), Some("x2")),
            finding_id("acme", "a1", None, Some("main"), Some("x1")),
            finding_id("acme", "a1", Some(""), Some("main"), Some("x1")),
        ];
        for v in variants {
            assert_ne!(v, base);
        }
    }

    #[test]
    fn separators_inside_values_cannot_collide() {
        assert_ne!(
            finding_id("a", "b/c", None, None, None),
            finding_id("a/b", "c", None, None, None)
        );
        assert_ne!(
            resource_id("acme", "1"),
            finding_id("acme", "1", None, None, None)
        );
    }
}
