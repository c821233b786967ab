//! Socket API response shapes, parsed leniently.
//!
//! Every field is optional and enum-like values stay strings, so schema drift on Socket's Beta
//! endpoints (new fields, new categories, missing fields) never fails a sync. Ids are accepted as
//! strings or numbers. Items are first split as raw JSON (borrowed from the body, no copy) so each
//! can keep its original bytes for `vendor_data` and report its own index on a parse error.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer};
use serde_json::value::RawValue;

/// A text field, as the API sends it: borrowed from the body when it is a plain string without
/// escapes (nearly always), so reading an alert allocates for the findings it makes, not for the
/// fields it reads. (serde borrows a bare `Cow<str>` field but not one inside an `Option`.)
///
/// Socket's responses vary in shape where its OpenAPI says "string": the same field arrives as
/// `"main"` on one record and `{"name": "main", "type": null}` on the next. This is the one place
/// that decides what counts as text, for every such field:
/// - a string, as it is;
/// - a number or a boolean, as JSON writes it;
/// - an object, by the first of its keys [`TEXT_KEYS`] that holds text (for ids, [`ID_KEYS`]);
///   an object with none of them is no value;
/// - `null` is no value (the field is an `Option`).
///
/// An array (or an object nested too deep) is an error that says what was found, and the record
/// holding it is skipped by the caller, not the page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Text<'a>(pub Cow<'a, str>);

/// Keys that carry an object's text, most telling first.
pub const TEXT_KEYS: &[&str] = &["name", "value", "id"];
/// The same for identifiers: an object's `id` is its identity, its name only a label.
pub const ID_KEYS: &[&str] = &["id", "value", "name"];

/// How deep an object may wrap text before it is refused (`{"name": {"name": "x"}}` is 2).
const MAX_WRAP_DEPTH: usize = 4;

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
        Ok(TextSeed::new(TEXT_KEYS).deserialize(d)?.unwrap_or_default())
    }
}

/// An identifier: [`Text`] that reads an object by [`ID_KEYS`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Id<'a>(pub Text<'a>);

impl std::ops::Deref for Id<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Id<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Id<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Id(TextSeed::new(ID_KEYS)
            .deserialize(d)?
            .unwrap_or_default()))
    }
}

/// Reads one text-like value; `None` for null or an object without a text key.
struct TextSeed {
    keys: &'static [&'static str],
    depth: usize,
}

impl TextSeed {
    fn new(keys: &'static [&'static str]) -> TextSeed {
        TextSeed { keys, depth: 0 }
    }
}

impl<'de> de::DeserializeSeed<'de> for TextSeed {
    type Value = Option<Text<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> de::Visitor<'de> for TextSeed {
    type Value = Option<Text<'de>>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "text (a string, a number, or an object with `{}`)",
            self.keys[0]
        )
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Text(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Text(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Text(Cow::Owned(v))))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Text(Cow::Owned(v.to_string()))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Text(Cow::Owned(v.to_string()))))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // JSON numbers are finite; render them as JSON does (`7.0`, `1e+99`).
        Ok(serde_json::Number::from_f64(v).map(|n| Text(Cow::Owned(n.to_string()))))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(Text(Cow::Borrowed(if v { "true" } else { "false" }))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if self.depth >= MAX_WRAP_DEPTH {
            return Err(de::Error::custom(format_args!(
                "text wrapped in more than {MAX_WRAP_DEPTH} nested objects"
            )));
        }
        // The best key seen so far: its rank in `keys`, and its text.
        let mut best: Option<(usize, Text<'de>)> = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let rank = self.keys.iter().position(|k| *k == key);
            match rank {
                Some(r) if best.as_ref().is_none_or(|(b, _)| r < *b) => {
                    let inner = TextSeed {
                        keys: self.keys,
                        depth: self.depth + 1,
                    };
                    if let Some(text) = map.next_value_seed(inner)? {
                        best = Some((r, text));
                    }
                }
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(best.map(|(_, t)| t))
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
pub struct Repo<'a> {
    #[serde(borrow)]
    pub id: Option<Id<'a>>,
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
    #[serde(borrow)]
    pub slug: Option<Text<'a>>,
    #[serde(borrow)]
    pub workspace: Option<Text<'a>>,
    #[serde(borrow)]
    pub html_url: Option<Text<'a>>,
    /// A string, or `{"name": "main", "type": null}` (both seen from the same endpoint).
    #[serde(borrow)]
    pub default_branch: Option<Text<'a>>,
    #[serde(borrow)]
    pub visibility: Option<Text<'a>>,
    #[serde(deserialize_with = "lenient_bool")]
    pub archived: Option<bool>,
    #[serde(borrow)]
    pub created_at: Option<Text<'a>>,
    #[serde(borrow)]
    pub updated_at: Option<Text<'a>>,
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
    #[serde(borrow)]
    pub id: Option<Id<'a>>,
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
    #[serde(deserialize_with = "lenient_bool")]
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
    /// A string, or an object carrying `name` (both seen on one page).
    #[serde(borrow)]
    pub branch: Option<Text<'a>>,
    #[serde(borrow)]
    pub patch: Option<Patch<'a>>,
    #[serde(borrow)]
    pub dependency: Option<Dependency<'a>>,
    #[serde(borrow)]
    pub artifact: Option<Artifact<'a>>,
    /// Flat spellings of the repository, seen instead of `repository` on some locations.
    #[serde(borrow, rename = "repoSlug")]
    pub repo_slug: Option<Text<'a>>,
    #[serde(borrow, rename = "repoFullName")]
    pub repo_full_name: Option<Text<'a>>,
}

impl Location<'_> {
    /// The repository's slug, from `repository` or the flat `repoSlug`.
    pub fn repo_slug(&self) -> Option<&str> {
        let nested = self.repository.as_ref().and_then(|r| r.slug.as_deref());
        non_blank(nested).or_else(|| non_blank(self.repo_slug.as_deref()))
    }

    /// The repository's full name: `repository.fullName`, else `workspace/slug`, else the flat
    /// `repoFullName`.
    pub fn repo_full_name(&self) -> Option<String> {
        let repo = self.repository.as_ref();
        if let Some(full) = non_blank(repo.and_then(|r| r.full_name.as_deref())) {
            return Some(full.to_string());
        }
        if let Some(slug) = non_blank(repo.and_then(|r| r.slug.as_deref())) {
            return Some(match non_blank(repo.and_then(|r| r.workspace.as_deref())) {
                Some(ws) => format!("{ws}/{slug}"),
                None => slug.to_string(),
            });
        }
        non_blank(self.repo_full_name.as_deref())
            .or_else(|| non_blank(self.repo_slug.as_deref()))
            .map(str::to_string)
    }
}

/// `s` trimmed, unless that leaves nothing.
pub fn non_blank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LocationRepo<'a> {
    #[serde(borrow, rename = "fullName")]
    pub full_name: Option<Text<'a>>,
    #[serde(borrow)]
    pub id: Option<Id<'a>>,
    #[serde(borrow)]
    pub slug: Option<Text<'a>>,
    #[serde(borrow)]
    pub workspace: Option<Text<'a>>,
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
    #[serde(borrow)]
    pub id: Option<Id<'a>>,
    #[serde(borrow)]
    pub version: Option<Text<'a>>,
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

/// A boolean, or a string spelling one (`"true"`, `"False"`); anything else is `None`.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Scalar::deserialize(d)? {
        Scalar::Bool(b) => Some(b),
        Scalar::Str(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Scalar::Str(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
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
        let nested: Location = serde_json::from_str(r#"{"branch": {"name": "main"}}"#).unwrap();
        assert!(matches!(nested.branch.unwrap().0, Cow::Borrowed("main")));
    }

    fn text(json: &str) -> Result<Option<String>, String> {
        #[derive(Deserialize)]
        struct One<'a> {
            #[serde(borrow)]
            v: Option<Text<'a>>,
        }
        let doc = format!(r#"{{"v": {json}}}"#);
        serde_json::from_str::<One>(&doc)
            .map(|o| o.v.map(|t| t.0.into_owned()).filter(|t| !t.is_empty()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn text_accepts_every_shape_the_api_sends() {
        let rows = [
            (r#""main""#, Some("main")),
            (r#"null"#, None),
            (r#"42"#, Some("42")),
            (r#"4.5"#, Some("4.5")),
            (r#"-3"#, Some("-3")),
            (r#"true"#, Some("true")),
            (r#"{"name": "main", "type": null}"#, Some("main")),
            (r#"{"type": "default", "name": "main"}"#, Some("main")),
            (r#"{"value": "1.2.3"}"#, Some("1.2.3")),
            (r#"{"id": 9}"#, Some("9")),
            (r#"{"id": 9, "value": "v", "name": "n"}"#, Some("n")),
            (r#"{"name": null, "value": "v"}"#, Some("v")),
            (r#"{"name": {"name": "deep"}}"#, Some("deep")),
            (r#"{"type": "default"}"#, None),
            (r#"{}"#, None),
        ];
        for (json, want) in rows {
            assert_eq!(text(json), Ok(want.map(str::to_string)), "{json}");
        }
    }

    #[test]
    fn text_refuses_arrays_and_deep_wrapping_with_a_clear_message() {
        let err = text(r#"["main"]"#).unwrap_err();
        assert!(
            err.contains("invalid type: sequence, expected text (a string, a number, or an object with `name`)"),
            "{err}"
        );
        let err = text(r#"{"name": ["main"]}"#).unwrap_err();
        assert!(err.contains("invalid type: sequence"), "{err}");
        let deep = r#"{"name": {"name": {"name": {"name": {"name": "x"}}}}}"#;
        assert!(text(deep).unwrap_err().contains("nested objects"));
    }

    #[test]
    fn ids_read_an_object_by_its_id_first() {
        let a: Alert =
            serde_json::from_str(r#"{"id": {"name": "label", "id": 77}, "key": {"name": "k"}}"#)
                .unwrap();
        assert_eq!(a.id.as_deref(), Some("77"));
        assert_eq!(a.key.as_deref(), Some("k"));
        let r: Repo = serde_json::from_str(r#"{"id": 48000.0}"#).unwrap();
        assert_eq!(r.id.as_deref(), Some("48000.0"));
    }

    #[test]
    fn every_field_read_as_text_takes_the_object_shape() {
        let loc: Location = serde_json::from_str(
            r#"{"action": {"name": "ignore"}, "branch": {"name": "dev"},
                "repository": {"fullName": {"name": "a/b"}, "id": {"id": 5}, "slug": {"name": "b"}},
                "artifact": {"type": {"name": "npm"}, "namespace": {"name": "@s"}, "name": {"name": "p"},
                             "id": {"id": "a1"}, "version": {"name": "1.0"}},
                "patch": {"status": {"name": "patch_available"}},
                "repoSlug": {"name": "b"}, "repoFullName": {"name": "a/b"}}"#,
        )
        .unwrap();
        let art = loc.artifact.as_ref().unwrap();
        assert_eq!(
            [
                loc.action.as_deref(),
                loc.branch.as_deref(),
                art.artifact_type.as_deref(),
                art.namespace.as_deref(),
                art.name.as_deref(),
                art.id.as_deref(),
                art.version.as_deref(),
                loc.patch.as_ref().unwrap().status.as_deref(),
            ],
            [
                Some("ignore"),
                Some("dev"),
                Some("npm"),
                Some("@s"),
                Some("p"),
                Some("a1"),
                Some("1.0"),
                Some("patch_available")
            ]
        );
        assert_eq!(loc.repo_slug(), Some("b"));
        assert_eq!(loc.repo_full_name().as_deref(), Some("a/b"));
        let v: Vulnerability = serde_json::from_str(
            r#"{"cveId": {"name": "CVE-1"}, "firstPatchedVersionIdentifier": {"name": "2.0"},
                "ghsaIds": [{"name": "GHSA-1"}, "GHSA-2"], "isKev": "true"}"#,
        )
        .unwrap();
        assert_eq!(v.cve_id.as_deref(), Some("CVE-1"));
        assert_eq!(v.first_patched_version_identifier.as_deref(), Some("2.0"));
        assert_eq!(v.ghsa_ids.unwrap().len(), 2);
        assert_eq!(v.is_kev, Some(true));
    }

    #[test]
    fn flat_repository_fields_stand_in_for_a_missing_repository() {
        let loc: Location =
            serde_json::from_str(r#"{"repoSlug": "web", "repoFullName": "acme/web"}"#).unwrap();
        assert_eq!(loc.repo_slug(), Some("web"));
        assert_eq!(loc.repo_full_name().as_deref(), Some("acme/web"));
        let both: Location = serde_json::from_str(
            r#"{"repository": {"slug": "api", "workspace": "acme"}, "repoSlug": "web"}"#,
        )
        .unwrap();
        assert_eq!(both.repo_slug(), Some("api"));
        assert_eq!(both.repo_full_name().as_deref(), Some("acme/api"));
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
