//! Socket API response shapes, parsed leniently.
//!
//! Every field is optional and enum-like values stay strings, so schema drift on Socket's Beta
//! endpoints (new fields, new categories, missing fields) never fails a sync. Ids are accepted as
//! strings or numbers. Items are first split as raw JSON (borrowed from the body, no copy) so each
//! can keep its original bytes for `vendor_data` and report its own index on a parse error.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::value::RawValue;

/// A string field: borrowed from the body when it has no escapes (nearly always), so reading an
/// alert allocates for the findings it makes, not for the fields it reads. (serde borrows a bare
/// `Cow<str>` field but not one inside an `Option`, hence this type.)
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

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
    #[serde(borrow)]
    pub key: Option<Text<'a>>,
    #[serde(borrow, rename = "type")]
    pub alert_type: Option<Text<'a>>,
    #[serde(borrow)]
    pub category: Option<Text<'a>>,
    #[serde(borrow)]
    pub title: Option<Text<'a>>,
    #[serde(borrow)]
    pub description: Option<Text<'a>>,
    #[serde(borrow)]
    pub severity: Option<Text<'a>>,
    #[serde(borrow)]
    pub status: Option<Text<'a>>,
    #[serde(borrow, rename = "createdAt")]
    pub created_at: Option<Text<'a>>,
    #[serde(borrow, rename = "updatedAt")]
    pub updated_at: Option<Text<'a>>,
    #[serde(borrow, rename = "clearedAt")]
    pub cleared_at: Option<Text<'a>>,
    #[serde(borrow, rename = "dashboardUrl")]
    pub dashboard_url: Option<Text<'a>>,
    #[serde(borrow)]
    pub fix: Option<Fix<'a>>,
    #[serde(borrow)]
    pub vulnerability: Option<Vulnerability<'a>>,
    #[serde(borrow, deserialize_with = "raw_items")]
    pub locations: Option<Vec<&'a RawValue>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Fix<'a> {
    #[serde(borrow, rename = "type")]
    pub fix_type: Option<Text<'a>>,
    #[serde(borrow)]
    pub description: Option<Text<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Vulnerability<'a> {
    #[serde(borrow)]
    pub cve_id: Option<Text<'a>>,
    #[serde(borrow)]
    pub cve_title: Option<Text<'a>>,
    #[serde(borrow)]
    pub cve_description: Option<Text<'a>>,
    #[serde(deserialize_with = "lenient_f64")]
    pub cvss_score: Option<f64>,
    #[serde(borrow)]
    pub cvss_vector_string: Option<Text<'a>>,
    #[serde(borrow)]
    pub cwe_ids: Option<Vec<Text<'a>>>,
    #[serde(borrow)]
    pub ghsa_ids: Option<Vec<Text<'a>>>,
    #[serde(deserialize_with = "lenient_f64")]
    pub epss_score: Option<f64>,
    #[serde(deserialize_with = "lenient_f64")]
    pub epss_percentile: Option<f64>,
    pub is_kev: Option<bool>,
    #[serde(borrow)]
    pub first_patched_version_identifier: Option<Text<'a>>,
    #[serde(borrow)]
    pub url: Option<Text<'a>>,
}

/// One `locations[]` entry: where an alert occurs.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Location<'a> {
    #[serde(borrow)]
    pub action: Option<Text<'a>>,
    #[serde(borrow)]
    pub repository: Option<LocationRepo<'a>>,
    #[serde(borrow)]
    pub branch: Option<Branch<'a>>,
    #[serde(borrow)]
    pub patch: Option<Patch<'a>>,
    #[serde(borrow)]
    pub dependency: Option<Dependency<'a>>,
    #[serde(borrow)]
    pub artifact: Option<Artifact<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LocationRepo<'a> {
    #[serde(borrow, rename = "fullName")]
    pub full_name: Option<Text<'a>>,
    #[serde(deserialize_with = "lenient_string")]
    pub id: Option<String>,
    #[serde(borrow)]
    pub slug: Option<Text<'a>>,
    #[serde(borrow)]
    pub workspace: Option<Text<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Branch<'a> {
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Patch<'a> {
    #[serde(borrow)]
    pub status: Option<Text<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Dependency<'a> {
    #[serde(borrow, rename = "manifestFiles")]
    pub manifest_files: Option<Vec<ManifestFile<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ManifestFile<'a> {
    #[serde(borrow)]
    pub file: Option<Text<'a>>,
    #[serde(deserialize_with = "lenient_i64")]
    pub start: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub end: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Artifact<'a> {
    #[serde(borrow, rename = "type")]
    pub artifact_type: Option<Text<'a>>,
    #[serde(borrow)]
    pub namespace: Option<Text<'a>>,
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
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
    fn text_is_borrowed_unless_it_has_escapes() {
        let a: Alert =
            serde_json::from_str(r#"{"title": "plain", "description": "tab\there"}"#).unwrap();
        assert!(matches!(a.title.unwrap().0, Cow::Borrowed("plain")));
        assert!(matches!(a.description.unwrap().0, Cow::Owned(d) if d == "tab\there"));
        let wrong: Result<Alert, _> = serde_json::from_str(r#"{"title": 7}"#);
        assert!(wrong.unwrap_err().to_string().contains("expected a string"));
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
