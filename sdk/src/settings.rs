//! Settings: the spec a connector declares, and the values `configure` receives read against it.
//!
//! The contract has the runtime pass values as the operator gave them (untrimmed, `yes` stays
//! `yes`, a list stays its comma-separated text) and leave defaults to the component. So every
//! connector needs the same reading: trim, apply `default-value`, parse by `setting-type`, refuse
//! unknown names and secrets, and name the setting in every error. [`Settings::read`] does it
//! once, from the same [`ConnectorSpec`] that `describe` returns, so a default is written once.
//!
//! ```
//! use connector_sdk::settings::{self, SettingSpecExt, Settings, SpecBuilder};
//! use connector_sdk::wit::{CredentialScheme, Setting};
//!
//! let spec = SpecBuilder::new("acme", "Acme", "Acme alerts.")
//!     .base_url("base-url", "Acme API base URL", "https://api.acme.example")
//!     .tenant(settings::text("account", "Acme account").required())
//!     .setting(settings::boolean("include-closed", "Also closed alerts").default("false"))
//!     .setting(settings::secret("token", "API token", CredentialScheme::Bearer, "base-url"))
//!     .build();
//! let given = vec![Setting { name: "account".into(), value: " acme ".into() },
//!                  Setting { name: "include-closed".into(), value: "yes".into() }];
//! let s = Settings::read(&spec, &given).unwrap();
//! assert_eq!(s.text("account"), Some("acme"));
//! assert!(s.flag("include-closed"));
//! assert_eq!(s.url("base-url"), Some("https://api.acme.example"));
//! ```

use std::collections::BTreeMap;

use crate::wit::{
    ConnectorError, ConnectorSpec, Credential, CredentialScheme, Setting, SettingSpec, SettingType,
};

/// Builds a [`ConnectorSpec`]; the version defaults to the calling crate's.
#[must_use]
pub struct SpecBuilder(ConnectorSpec);

impl SpecBuilder {
    /// `name` keys stored records with the tenant: a plain word (letters, digits, `-`, `_`, `.`).
    pub fn new(name: &str, vendor: &str, description: &str) -> SpecBuilder {
        SpecBuilder(ConnectorSpec {
            name: name.to_string(),
            version: "0.0.0".to_string(),
            vendor: vendor.to_string(),
            settings: Vec::new(),
            base_url_setting: None,
            tenant_setting: None,
            resource_types: Vec::new(),
            description: description.to_string(),
        })
    }

    /// The connector's version.
    pub fn version(mut self, version: &str) -> SpecBuilder {
        self.0.version = version.to_string();
        self
    }

    /// The API's base URL: a `url` setting with its default, the default allow-list entry, and
    /// the origin credentials go to.
    pub fn base_url(mut self, name: &str, description: &str, default: &str) -> SpecBuilder {
        self.0.base_url_setting = Some(name.to_string());
        self.setting(url(name, description).default(default))
    }

    /// The setting that names the account a sync covers; the runtime keys records by it.
    pub fn tenant(mut self, setting: SettingSpec) -> SpecBuilder {
        self.0.tenant_setting = Some(setting.name.clone());
        self.setting(setting)
    }

    /// A resource type the connector lists (`repository`).
    pub fn resource_type(mut self, resource_type: &str) -> SpecBuilder {
        self.0.resource_types.push(resource_type.to_string());
        self
    }

    /// A setting; build one with [`text`], [`secret`] and the rest.
    pub fn setting(mut self, setting: SettingSpec) -> SpecBuilder {
        self.0.settings.push(setting);
        self
    }

    /// The spec.
    pub fn build(self) -> ConnectorSpec {
        self.0
    }
}

fn spec(name: &str, description: &str, value_type: SettingType) -> SettingSpec {
    SettingSpec {
        name: name.to_string(),
        description: description.to_string(),
        required: false,
        default_value: None,
        credential: None,
        suggested_env: Vec::new(),
        value_type,
        narrows: false,
    }
}

/// A `text` setting, optional and without a default until said otherwise.
pub fn text(name: &str, description: &str) -> SettingSpec {
    spec(name, description, SettingType::Text)
}

/// A `boolean` setting: `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`, any case.
pub fn boolean(name: &str, description: &str) -> SettingSpec {
    spec(name, description, SettingType::Boolean)
}

/// A comma-separated `list` setting (items trimmed, empty items dropped).
pub fn list(name: &str, description: &str) -> SettingSpec {
    spec(name, description, SettingType::List)
}

/// An absolute `http(s)` URL (a trailing `/` is dropped when read).
pub fn url(name: &str, description: &str) -> SettingSpec {
    spec(name, description, SettingType::Url)
}

/// A whole number.
pub fn integer(name: &str, description: &str) -> SettingSpec {
    spec(name, description, SettingType::Integer)
}

/// A required secret the runtime applies as `scheme` to requests for the origin of
/// `origin_setting`; it never reaches `configure`.
pub fn secret(
    name: &str,
    description: &str,
    scheme: CredentialScheme,
    origin_setting: &str,
) -> SettingSpec {
    SettingSpec {
        required: true,
        credential: Some(Credential {
            scheme,
            origin_setting: origin_setting.to_string(),
        }),
        ..text(name, description)
    }
}

/// The optional parts of a [`SettingSpec`], chained: `text("org", "…").required()`.
pub trait SettingSpecExt {
    /// The setting must have a value.
    fn required(self) -> Self;
    /// The setting's value when the operator gives none.
    fn default(self, value: &str) -> Self;
    /// A filter: set, a sync sees only part of the tenant.
    fn narrows(self) -> Self;
    /// Environment variables an operator might grant this secret from.
    fn env(self, names: &[&str]) -> Self;
}

impl SettingSpecExt for SettingSpec {
    fn required(mut self) -> Self {
        self.required = true;
        self
    }

    fn default(mut self, value: &str) -> Self {
        self.default_value = Some(value.to_string());
        self
    }

    fn narrows(mut self) -> Self {
        self.narrows = true;
        self
    }

    fn env(mut self, names: &[&str]) -> Self {
        self.suggested_env = names.iter().map(|s| s.to_string()).collect();
        self
    }
}

/// A setting's value, parsed by its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Text, trimmed.
    Text(String),
    /// A boolean.
    Flag(bool),
    /// A comma-separated list, each item trimmed, empty items dropped.
    List(Vec<String>),
    /// An absolute http(s) URL.
    Url(String),
    /// A whole number.
    Integer(i64),
}

/// The values of one `configure`, read against the spec: trimmed, typed, defaults applied.
/// A setting neither given nor defaulted is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings(BTreeMap<String, Value>);

impl Settings {
    /// Reads `given` against `spec`. Refuses an unknown name, a secret (the runtime keeps
    /// those), a name given twice, a value of the wrong shape and a missing required setting;
    /// each error is `invalid-config` naming the setting.
    pub fn read(spec: &ConnectorSpec, given: &[Setting]) -> Result<Settings, ConnectorError> {
        let mut values = BTreeMap::new();
        for setting in given {
            let def = find(spec, &setting.name)?;
            if values.contains_key(&def.name) {
                return Err(invalid(&def.name, "given twice"));
            }
            if let Some(value) = parse(def, &setting.value)? {
                values.insert(def.name.clone(), value);
            }
        }
        for def in spec.settings.iter().filter(|d| d.credential.is_none()) {
            if values.contains_key(&def.name) {
                continue;
            }
            let default = match &def.default_value {
                Some(d) => parse(def, d).map_err(|e| in_default(&def.name, e))?,
                None => None,
            };
            match default {
                Some(value) => {
                    values.insert(def.name.clone(), value);
                }
                None if def.required => {
                    return Err(invalid(
                        &def.name,
                        &format!("required ({})", def.description),
                    ));
                }
                None => {}
            }
        }
        Ok(Settings(values))
    }

    /// The value as read, if the setting has one.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// A `text` setting.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.value(name)? {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// A `boolean` setting; unset is false.
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.value(name), Some(Value::Flag(true)))
    }

    /// A `list` setting; unset is empty.
    pub fn list(&self, name: &str) -> &[String] {
        match self.value(name) {
            Some(Value::List(items)) => items,
            _ => &[],
        }
    }

    /// A `url` setting, without a trailing `/`.
    pub fn url(&self, name: &str) -> Option<&str> {
        match self.value(name)? {
            Value::Url(s) => Some(s),
            _ => None,
        }
    }

    /// An `integer` setting.
    pub fn integer(&self, name: &str) -> Option<i64> {
        match self.value(name)? {
            Value::Integer(n) => Some(*n),
            _ => None,
        }
    }
}

/// `invalid-config` naming the setting: ``setting `name`: message``.
pub fn invalid(name: &str, message: &str) -> ConnectorError {
    ConnectorError::InvalidConfig(format!("setting `{name}`: {message}"))
}

fn in_default(name: &str, e: ConnectorError) -> ConnectorError {
    match e {
        ConnectorError::InvalidConfig(m) => {
            ConnectorError::InvalidConfig(format!("{m} (the component's own default for `{name}`)"))
        }
        other => other,
    }
}

fn find<'a>(spec: &'a ConnectorSpec, name: &str) -> Result<&'a SettingSpec, ConnectorError> {
    let Some(def) = spec.settings.iter().find(|d| d.name == name) else {
        let known: Vec<&str> = spec
            .settings
            .iter()
            .filter(|d| d.credential.is_none())
            .map(|d| d.name.as_str())
            .collect();
        return Err(invalid(
            name,
            &format!("unknown; this connector takes {}", known.join(", ")),
        ));
    };
    if def.credential.is_some() {
        return Err(invalid(
            name,
            "is secret: the runtime keeps it and attaches it to requests; it must not be passed to the component",
        ));
    }
    Ok(def)
}

/// Parses one value by its setting's type; an empty value is no value (the default applies).
fn parse(def: &SettingSpec, raw: &str) -> Result<Option<Value>, ConnectorError> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let wrong = |what: &str| invalid(&def.name, &format!("{value:?} is not {what}"));
    let parsed = match def.value_type {
        SettingType::Text => Value::Text(value.to_string()),
        SettingType::Boolean => Value::Flag(parse_bool(value).ok_or_else(|| {
            wrong("a boolean (true or false; yes/no, on/off and 1/0 are taken too)")
        })?),
        SettingType::List => Value::List(
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        SettingType::Url => Value::Url(
            parse_http_url(value)
                .ok_or_else(|| wrong("an absolute http(s) URL such as https://api.example.com"))?,
        ),
        SettingType::Integer => Value::Integer(value.parse().map_err(|_| wrong("a whole number"))?),
    };
    Ok(Some(parsed))
}

/// `true`/`yes`/`on`/`1` and `false`/`no`/`off`/`0`, any case.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// An absolute `http(s)` URL with a host and no query, fragment or whitespace, without its
/// trailing `/`.
fn parse_http_url(value: &str) -> Option<String> {
    let trimmed = value.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))?;
    let ok = !rest.is_empty()
        && !rest.starts_with('/')
        && !rest.contains(|c: char| c == '?' || c == '#' || c.is_whitespace() || c.is_control());
    ok.then(|| trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ConnectorSpec {
        SpecBuilder::new("acme", "Acme", "test")
            .version("1.2.3")
            .base_url("base-url", "base", "https://api.acme.example/")
            .tenant(text("account", "Acme account").required())
            .setting(boolean("closed", "closed too").default("no"))
            .setting(list("repos", "repositories").narrows())
            .setting(integer("page-size", "page size").default("100"))
            .setting(secret(
                "token",
                "API token",
                CredentialScheme::Bearer,
                "base-url",
            ))
            .build()
    }

    fn given(pairs: &[(&str, &str)]) -> Vec<Setting> {
        pairs
            .iter()
            .map(|(n, v)| Setting {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect()
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        match Settings::read(&spec(), &given(pairs)) {
            Err(ConnectorError::InvalidConfig(m)) => m,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    #[test]
    fn the_builder_declares_what_describe_says() {
        let s = spec();
        assert_eq!(s.base_url_setting.as_deref(), Some("base-url"));
        assert_eq!(s.tenant_setting.as_deref(), Some("account"));
        assert_eq!(s.version, "1.2.3");
        let token = s.settings.iter().find(|d| d.name == "token").unwrap();
        assert!(token.required && token.credential.is_some());
        assert!(s.settings.iter().any(|d| d.name == "repos" && d.narrows));
    }

    #[test]
    fn values_are_trimmed_typed_and_defaulted() {
        let s = Settings::read(
            &spec(),
            &given(&[
                ("account", "  acme\t"),
                ("repos", " a, ,b ,"),
                ("page-size", " 250 "),
            ]),
        )
        .unwrap();
        assert_eq!(s.text("account"), Some("acme"));
        assert_eq!(s.list("repos"), ["a", "b"]);
        assert_eq!(s.integer("page-size"), Some(250));
        assert!(!s.flag("closed"));
        assert_eq!(s.url("base-url"), Some("https://api.acme.example"));
        for yes in ["yes", "ON", "1", "True"] {
            let s = Settings::read(&spec(), &given(&[("account", "a"), ("closed", yes)])).unwrap();
            assert!(s.flag("closed"), "{yes}");
        }
        let s = Settings::read(&spec(), &given(&[("account", "a"), ("page-size", "")])).unwrap();
        assert_eq!(s.integer("page-size"), Some(100), "empty is unset");
    }

    #[test]
    fn every_refusal_names_its_setting() {
        let cases: [(&[(&str, &str)], &str); 7] = [
            (&[], "`account`: required (Acme account)"),
            (&[("account", "a"), ("closed", "maybe")], "`closed`"),
            (&[("account", "a"), ("page-size", "1e3")], "`page-size`"),
            (&[("account", "a"), ("base-url", "ftp://x")], "`base-url`"),
            (&[("account", "a"), ("colour", "red")], "`colour`: unknown"),
            (&[("account", "a"), ("token", "t")], "`token`: is secret"),
            (&[("account", "a"), ("account", "b")], "given twice"),
        ];
        for (pairs, expected) in cases {
            let message = error(pairs);
            assert!(message.contains(expected), "{message} lacks {expected}");
        }
    }

    #[test]
    fn a_bad_default_is_the_components_fault_and_says_so() {
        let spec = SpecBuilder::new("x", "X", "")
            .setting(integer("n", "").default("ten"))
            .build();
        let Err(ConnectorError::InvalidConfig(m)) = Settings::read(&spec, &[]) else {
            panic!("a bad default is refused");
        };
        assert!(m.contains("own default for `n`"), "{m}");
    }
}
