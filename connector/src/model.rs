//! Socket API response shapes, parsed leniently.
//!
//! Every field is optional and enum-like values stay strings, so schema drift on Socket's Beta
//! endpoints (new fields, new categories, missing fields) never fails a sync. Ids are accepted as
//! strings or numbers. Items are first split as raw JSON (borrowed from the body, no copy) so each
//! can keep its original bytes for `vendor_data` and report its own index on a parse error.

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::value::RawValue;

/// `GET /orgs/{org}/repos` body.
#[derive(Debug, Deserialize)]
pub struct RepoPage<'a> {
    #[serde(borrow, default)]
    pub results: Option<Vec<&'a RawValue>>,
    #[serde(default, rename = "nextPage", deserialize_with = "lenient_i64")]
    pub next_page: Option<i64>,
}

/// One repository list item.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Repo {
    #[serde(deserialize_with = "lenient_string")]
    pub id: Option<String>,
    pub name: Option<String>,
    pub slug: Option<String>,
    pub workspace: Option<String>,
    pub html_url: Option<String>,
    pub default_branch: Option<String>,
    pub visibility: Option<String>,
    pub archived: Option<bool>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// `GET /orgs/{org}/alerts` body, less its items (read one by one, see [`crate::split`]).
#[derive(Debug, Default)]
pub struct AlertPage {
    pub end_cursor: Option<String>,
    pub meta: Option<AlertMeta>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AlertMeta {
    #[serde(rename = "queryStartTimestamp", deserialize_with = "lenient_f64")]
    pub query_start_timestamp: Option<f64>,
}

/// One alert. Each of its `locations` stays raw (split, not parsed, in the same pass): each is
/// parsed on its own and spliced into its finding's `vendor_data`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Alert<'a> {
    #[serde(deserialize_with = "lenient_string")]
    pub id: Option<String>,
    pub key: Option<String>,
    #[serde(rename = "type")]
    pub alert_type: Option<String>,
    pub category: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub severity: Option<String>,
    pub status: Option<String>,
    #[serde(rename = "createdAt")]
    pub created_at: Option<String>,
    #[serde(rename = "updatedAt")]
    pub updated_at: Option<String>,
    #[serde(rename = "clearedAt")]
    pub cleared_at: Option<String>,
    #[serde(rename = "dashboardUrl")]
    pub dashboard_url: Option<String>,
    pub fix: Option<Fix>,
    pub vulnerability: Option<Vulnerability>,
    #[serde(borrow, deserialize_with = "raw_items")]
    pub locations: Option<Vec<&'a RawValue>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Fix {
    #[serde(rename = "type")]
    pub fix_type: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Vulnerability {
    pub cve_id: Option<String>,
    pub cve_title: Option<String>,
    pub cve_description: Option<String>,
    #[serde(deserialize_with = "lenient_f64")]
    pub cvss_score: Option<f64>,
    pub cvss_vector_string: Option<String>,
    pub cwe_ids: Option<Vec<String>>,
    pub ghsa_ids: Option<Vec<String>>,
    #[serde(deserialize_with = "lenient_f64")]
    pub epss_score: Option<f64>,
    #[serde(deserialize_with = "lenient_f64")]
    pub epss_percentile: Option<f64>,
    pub is_kev: Option<bool>,
    pub first_patched_version_identifier: Option<String>,
    pub url: Option<String>,
}

/// One `locations[]` entry: where an alert occurs.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Location {
    pub action: Option<String>,
    pub repository: Option<LocationRepo>,
    pub branch: Option<Branch>,
    pub patch: Option<Patch>,
    pub dependency: Option<Dependency>,
    pub artifact: Option<Artifact>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LocationRepo {
    #[serde(rename = "fullName")]
    pub full_name: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub id: Option<String>,
    pub slug: Option<String>,
    pub workspace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Branch {
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Patch {
    pub status: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Dependency {
    #[serde(rename = "manifestFiles")]
    pub manifest_files: Option<Vec<ManifestFile>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ManifestFile {
    pub file: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub start: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub end: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Artifact {
    #[serde(rename = "type")]
    pub artifact_type: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub version: Option<String>,
}

/// `GET /quota` body.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Quota {
    #[serde(deserialize_with = "lenient_f64")]
    pub quota: Option<f64>,
    #[serde(deserialize_with = "lenient_f64")]
    pub max_quota: Option<f64>,
    pub next_window_refresh: Option<String>,
}

/// Socket's error envelope: `{"error": {"message": ..., "details": ...}}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    pub error: Option<ErrorDetail>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorDetail {
    pub message: Option<String>,
}

/// An array's items as raw JSON (null is `None`); an error names the field as `locations`.
fn raw_items<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<&'de RawValue>>, D::Error> {
    Option::<Vec<&'de RawValue>>::deserialize(d)
        .map_err(|e| de::Error::custom(format!("locations: {e}")))
}

/// A string, or a number / bool rendered as text; anything else (or null) is `None`.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Scalar::deserialize(d)? {
        Scalar::Str(s) => Some(s),
        Scalar::Num(n) => Some(n.to_string()),
        Scalar::Bool(b) => Some(b.to_string()),
        Scalar::Other => None,
    })
}

/// A number, or a string holding one; anything else is `None`.
fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Scalar::deserialize(d)? {
        Scalar::Num(n) => n.as_f64(),
        Scalar::Str(s) => s.trim().parse().ok(),
        _ => None,
    })
}

fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Scalar::deserialize(d)? {
        Scalar::Num(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Scalar::Str(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A JSON scalar of any type, or a marker for everything else (objects and arrays are skipped).
enum Scalar {
    Str(String),
    Num(serde_json::Number),
    Bool(bool),
    Other,
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar::Str(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Num(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Num(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(serde_json::Number::from_f64(v).map_or(Scalar::Other, Scalar::Num))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
                Scalar::deserialize(d)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Scalar, A::Error> {
                while a.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> Result<Scalar, A::Error> {
                while a.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_may_be_numbers_and_unknown_fields_are_ignored() {
        let r: Repo = serde_json::from_str(
            r#"{"id": 42, "name": "x", "brandNew": {"a": 1}, "archived": null}"#,
        )
        .unwrap();
        assert_eq!(r.id.as_deref(), Some("42"));
        assert_eq!(r.archived, None);
    }

    #[test]
    fn numbers_may_be_strings_and_odd_types_are_dropped() {
        let v: Vulnerability =
            serde_json::from_str(r#"{"cvssScore": "7.5", "epssScore": {"x": 1}, "isKev": true}"#)
                .unwrap();
        assert_eq!(v.cvss_score, Some(7.5));
        assert_eq!(v.epss_score, None);
        assert_eq!(v.is_kev, Some(true));
    }

    #[test]
    fn next_page_null_zero_and_text() {
        for (body, want) in [
            (r#"{"results":[],"nextPage":null}"#, None),
            (r#"{"results":[],"nextPage":0}"#, Some(0)),
            (r#"{"results":[],"nextPage":"3"}"#, Some(3)),
            (r#"{"results":[]}"#, None),
        ] {
            let p: RepoPage = serde_json::from_str(body).unwrap();
            assert_eq!(p.next_page, want, "{body}");
        }
    }
}
