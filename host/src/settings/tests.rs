use super::*;
use crate::secrets::Grants;
use crate::wit::{Credential as Declared, HeaderCredential, SettingSpec, SettingType};

fn setting(
    name: &str,
    required: bool,
    secret: bool,
    default: Option<&str>,
    env: &[&str],
) -> SettingSpec {
    SettingSpec {
        name: name.into(),
        description: format!("the {name}"),
        required,
        default_value: default.map(str::to_string),
        credential: secret.then(|| Declared {
            scheme: CredentialScheme::Bearer,
            origin_setting: "base-url".into(),
        }),
        suggested_env: env.iter().map(|e| e.to_string()).collect(),
        value_type: SettingType::Text,
        narrows: false,
    }
}

fn spec() -> ConnectorSpec {
    let s = setting;
    ConnectorSpec {
        name: "t".into(),
        version: "0".into(),
        vendor: "T".into(),
        description: String::new(),
        base_url_setting: Some("base-url".into()),
        tenant_setting: Some("account".into()),
        resource_types: vec![],
        settings: vec![
            s("account", true, false, None, &[]),
            s("api-token", true, true, None, &["FIRST", "SECOND"]),
            s(
                "base-url",
                false,
                false,
                Some("https://api.example.com/v0"),
                &[],
            ),
        ],
    }
}

/// The header values the run's credentials put on a request to `origin`.
fn sent(r: &Resolved, origin: &str) -> Vec<(String, String)> {
    let mut headers = http::HeaderMap::new();
    for c in &r.credentials {
        c.attach(&Origin::parse(origin).unwrap(), &mut headers);
    }
    headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect()
}

fn bearer(token: &str) -> Vec<(String, String)> {
    vec![("authorization".into(), format!("Bearer {token}"))]
}

const API: &str = "https://api.example.com";

fn raw(pairs: &[&str]) -> RawSettings {
    let mut r = RawSettings::default();
    r.apply_overrides(&pairs.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .unwrap();
    r
}

#[test]
fn secrets_come_only_from_granted_sources_and_never_reach_the_connector() {
    let env = |n: &str| match n {
        "FIRST" => Some("   ".to_string()),
        "SECOND" => Some("tok-second".to_string()),
        "GRANTED" => Some("tok-granted".to_string()),
        _ => None,
    };
    // The component suggests FIRST / SECOND; SECOND is set, but nobody granted it.
    let err = resolve(&raw(&["account=a"]), &Grants::default(), &spec(), env).unwrap_err();
    assert!(
        err.message().contains("--secret api-token=env:FIRST")
            && err
                .message()
                .contains("SECOND is set, but the host reads a secret only"),
        "{err}"
    );
    assert!(!err.message().contains("tok-second"));
    let r = resolve(
        &raw(&["account=a"]),
        &grant("api-token=env:GRANTED"),
        &spec(),
        env,
    )
    .unwrap();
    assert_eq!(sent(&r, API), bearer("tok-granted"));
    assert!(r.connector.iter().all(|s| s.name != "api-token"));
    assert_eq!(r.secrets.redact("x tok-granted y"), "x [REDACTED] y");
    // Trusted, the component's own suggestions apply: the first that is set.
    let mut trusted = Grants::default();
    trusted.add_trusted(
        &[(
            "api-token".to_string(),
            vec!["FIRST".into(), "SECOND".into()],
        )]
        .into(),
    );
    let r = resolve(&raw(&["account=a"]), &trusted, &spec(), env).unwrap();
    assert_eq!(sent(&r, API), bearer("tok-second"));
    // A literal on the command line is the operator's too.
    let r = resolve(
        &raw(&["account=a", "api-token=tok-cli"]),
        &Grants::default(),
        &spec(),
        env,
    )
    .unwrap();
    assert_eq!(sent(&r, API), bearer("tok-cli"));
    // A granted source that is not there is an error naming it, not a fallback.
    let err = resolve(
        &raw(&["account=a"]),
        &grant("api-token=env:UNSET"),
        &spec(),
        env,
    )
    .unwrap_err();
    assert!(
        err.message().contains("secret `api-token` from env:UNSET"),
        "{err}"
    );
    let err = resolve(
        &raw(&["account=a"]),
        &grant("account=env:GRANTED"),
        &spec(),
        env,
    )
    .unwrap_err();
    assert!(
        err.message().contains("`account` is not a secret setting"),
        "{err}"
    );
}

fn grant(arg: &str) -> Grants {
    let mut g = Grants::default();
    g.apply_args(&[arg.to_string()]).unwrap();
    g
}

#[test]
fn the_allow_list_defaults_to_the_base_url_origin() {
    let r = resolve(
        &raw(&["account=a", "api-token=t"]),
        &Grants::default(),
        &spec(),
        |_| None,
    )
    .unwrap();
    assert_eq!(
        r.host.policy.allowed(),
        &[Origin::parse("https://api.example.com").unwrap()]
    );
    let r = resolve(
        &raw(&["account=a", "api-token=t", "base-url=http://127.0.0.1:9/v0"]),
        &Grants::default(),
        &spec(),
        |_| None,
    )
    .unwrap();
    assert_eq!(
        r.host.policy.allowed(),
        &[Origin::parse("http://127.0.0.1:9").unwrap()]
    );
}

#[test]
fn missing_and_unknown_settings_are_named() {
    let err = resolve(&raw(&["account=a"]), &Grants::default(), &spec(), |_| None).unwrap_err();
    assert!(
        err.message().contains("missing secret `api-token`")
            && err
                .message()
                .contains("[secrets]\n    api-token = \"env:FIRST\""),
        "{err}"
    );
    let err = resolve(
        &raw(&["account=a", "api-token=t", "nope=1"]),
        &Grants::default(),
        &spec(),
        |_| None,
    )
    .unwrap_err();
    assert!(err.message().contains("unknown setting `nope`"), "{err}");
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn toml_values_of_every_kind_become_text() {
    let c = Config::from_toml(
        "[settings]\na = \"x\"\nb = true\nc = 3\nd = [\"p\", \"q\"]\n[secrets]\nt = \"file:/s\"\n",
    )
    .unwrap();
    assert_eq!(
        c.grants.get("t"),
        Some(&crate::secrets::Source::File("/s".into()))
    );
    let r = c.settings;
    let got: Vec<(&str, &str)> = r.0.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(got, [("a", "x"), ("b", "true"), ("c", "3"), ("d", "p,q")]);
    assert!(
        Config::from_toml("account = \"x\"")
            .unwrap_err()
            .contains("[settings]")
    );
}

#[test]
fn limits_are_read_before_the_spec_is_known() {
    let l = limits(
        &raw(&[
            "memory-limit-mb=64",
            "call-timeout-secs=3",
            "account=whatever",
        ]),
        true,
    )
    .unwrap();
    assert_eq!(l.memory_bytes, 64 << 20);
    assert_eq!(l.wall_per_call, Duration::from_secs(3));
    assert_eq!(l.cpu_per_call, Duration::from_secs(60));
    assert!(l.watch_host_memory);
    assert!(!limits(&raw(&[]), false).unwrap().watch_host_memory);
    let err = limits(&raw(&["cpu-limit-secs=soon"]), true).unwrap_err();
    assert!(
        err.to_string().contains("setting `cpu-limit-secs`"),
        "{err}"
    );
}

#[test]
fn the_credential_is_bound_to_the_base_url_origin() {
    let r = resolve(
        &raw(&[
            "account=a",
            "api-token=t",
            "base-url=https://api.example.com:8443/v0",
            "allowed-hosts=https://api.example.com:8443,https://cdn.example.com",
        ]),
        &Grants::default(),
        &spec(),
        |_| None,
    )
    .unwrap();
    assert_eq!(sent(&r, "https://api.example.com:8443"), bearer("t"));
    assert_eq!(sent(&r, "https://cdn.example.com"), vec![]);
    assert_eq!(sent(&r, API), vec![]);
}

/// A connector with two secrets, each applied its own way to its own origin: neither is
/// dropped, and neither reaches the other's origin.
#[test]
fn several_secrets_each_go_their_own_way() {
    let mut spec = spec();
    spec.settings.extend([
        setting(
            "registry-url",
            false,
            false,
            Some("https://registry.example.com"),
            &[],
        ),
        setting("registry-user", false, false, Some("robot"), &[]),
        SettingSpec {
            credential: Some(Declared {
                scheme: CredentialScheme::BasicPassword("registry-user".into()),
                origin_setting: "registry-url".into(),
            }),
            ..setting("registry-password", true, true, None, &[])
        },
        SettingSpec {
            credential: Some(Declared {
                scheme: CredentialScheme::Header(HeaderCredential {
                    name: "X-Api-Key".into(),
                    prefix: None,
                }),
                origin_setting: "base-url".into(),
            }),
            ..setting("api-key", true, true, None, &[])
        },
    ]);
    let given = [
        "account=a",
        "api-token=tok-1",
        "registry-password=pw-2",
        "api-key=key-3",
    ];
    // The registry's origin is only the component's default: no secret follows it.
    let err = resolve(&raw(&given), &Grants::default(), &spec, |_| None).unwrap_err();
    assert!(
        err.message().contains(
            "secret `registry-password` would go to the origin in setting `registry-url`, \
             which only the component's default sets"
        ),
        "{err}"
    );
    let given = [&given[..], &["registry-url=https://registry.example.com"]].concat();
    let r = resolve(&raw(&given), &Grants::default(), &spec, |_| None).unwrap();
    let mut api = sent(&r, API);
    api.sort();
    assert_eq!(
        api,
        vec![
            ("authorization".to_string(), "Bearer tok-1".to_string()),
            ("x-api-key".to_string(), "key-3".to_string()),
        ]
    );
    // base64("robot:pw-2")
    assert_eq!(
        sent(&r, "https://registry.example.com"),
        vec![(
            "authorization".to_string(),
            "Basic cm9ib3Q6cHctMg==".to_string()
        )]
    );
    for secret in ["tok-1", "pw-2", "key-3"] {
        assert_eq!(r.secrets.redact(secret), "[REDACTED]");
    }
    // Two secrets in one header to one origin would overwrite each other.
    spec.settings[6].credential.as_mut().unwrap().scheme = CredentialScheme::Bearer;
    let err = resolve(&raw(&given), &Grants::default(), &spec, |_| None).unwrap_err();
    assert!(err.message().contains("`api-token` and `api-key`"), "{err}");
}

#[test]
fn values_are_checked_against_their_declared_type() {
    let mut typed = spec();
    typed.settings.extend([
        SettingSpec {
            value_type: SettingType::Boolean,
            ..setting("flag", false, false, None, &[])
        },
        SettingSpec {
            value_type: SettingType::Integer,
            ..setting("limit", false, false, None, &[])
        },
    ]);
    typed.settings[2].value_type = SettingType::Url;
    let check = |extra: &str| {
        resolve(
            &raw(&["account=a", "api-token=t", extra]),
            &Grants::default(),
            &typed,
            |_| None,
        )
    };
    assert!(check("flag=true").is_ok() && check("limit=-3").is_ok());
    for (bad, says) in [
        (
            "flag=maybe",
            "setting `flag`: \"maybe\" is not a boolean (true or false)",
        ),
        (
            "limit=ten",
            "setting `limit`: \"ten\" is not a whole number",
        ),
        ("base-url=api.example.com", "setting `base-url`"),
    ] {
        let err = check(bad).unwrap_err();
        assert!(err.message().contains(says), "{bad}: {err}");
    }
}

/// A host setting's name is the host's, plain or as `host.NAME` (which wins); a connector
/// cannot declare one (`contract`), so an operator's limit always reaches the host.
#[test]
fn host_setting_names_are_the_hosts() {
    let r = resolve(
        &raw(&[
            "account=a",
            "api-token=t",
            "max-retries=9",
            "host.max-retries=2",
            "max-requests=50",
        ]),
        &Grants::default(),
        &spec(),
        |_| None,
    )
    .unwrap();
    assert_eq!(r.host.retry.max_retries, 2);
    assert_eq!(r.host.max_requests, 50);
    assert!(r.connector.iter().all(|s| s.name == "account"));
    let config = Config::from_toml("[host]\nmax-retries = 4\n[settings]\naccount = \"a\"").unwrap();
    assert_eq!(
        config
            .settings
            .0
            .get("host.max-retries")
            .map(String::as_str),
        Some("4")
    );
    assert!(
        Config::from_toml("[host]\nretries = 4")
            .unwrap_err()
            .contains("not a host setting")
    );
}

/// An error raised while settings are resolved never shows a secret, even when the operator
/// put the secret's value where a URL belongs.
#[test]
fn resolution_errors_have_the_secrets_removed() {
    let mut typed = spec();
    typed.settings[2].value_type = SettingType::Url;
    let err = resolve(
        &raw(&["account=a", "base-url=s3cr3t-t0ken"]),
        &grant("api-token=env:TOKEN"),
        &typed,
        |v| (v == "TOKEN").then(|| "s3cr3t-t0ken".to_string()),
    )
    .unwrap_err();
    assert!(err.message().contains("setting `base-url`"), "{err}");
    assert!(!err.message().contains("s3cr3t-t0ken"), "{err}");
}

/// Only a tenant the operator set is the operator's: a component's default is not.
#[test]
fn the_operator_tenant_is_the_one_the_operator_set() {
    let mut defaulted = spec();
    defaulted.settings[0].required = false;
    defaulted.settings[0].default_value = Some("victim-org".into());
    let r = resolve(
        &raw(&["api-token=t"]),
        &Grants::default(),
        &defaulted,
        |_| None,
    )
    .unwrap();
    assert_eq!(r.operator_tenant(&defaulted), None);
    let r = resolve(
        &raw(&["api-token=t", "account= acme "]),
        &Grants::default(),
        &defaulted,
        |_| None,
    )
    .unwrap();
    assert_eq!(r.operator_tenant(&defaulted).as_deref(), Some("acme"));
}

/// Every number setting has its default in the table, and reading no settings gives exactly the
/// defaults the sandbox's own types declare.
#[test]
fn every_default_lives_in_the_table_and_matches_the_types() {
    for h in HOST_SETTINGS {
        let numeric = !matches!(h.name, "allowed-hosts" | "ca-file");
        assert_eq!(h.default.is_some(), numeric, "{}", h.name);
        assert!(h.description().starts_with(h.help));
    }
    assert_eq!(limits(&raw(&[]), false).unwrap(), Limits::DEFAULT);
    let values = BTreeMap::new();
    let host = host_settings(&values, None).unwrap();
    assert_eq!(host.timeouts, Timeouts::DEFAULT);
    assert_eq!(host.retry, RetryPolicy::DEFAULT);
    assert_eq!(host.max_requests, DEFAULT_MAX_REQUESTS);
    assert_eq!(host.max_response_bytes, DEFAULT_MAX_RESPONSE_MB << 20);
}

/// docs/reference.md's table of host settings names every one with the default the table here
/// gives it, so the operator's reference cannot drift from the code.
#[test]
fn the_reference_lists_every_host_setting_with_its_default() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/reference.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let rows: Vec<(Vec<String>, Vec<String>)> = text
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let names = cells.get(1)?;
            let split = |c: &str| -> Vec<String> {
                c.split(" / ")
                    .map(|x| x.trim_matches('`').to_string())
                    .collect()
            };
            names
                .starts_with('`')
                .then(|| (split(names), split(cells[2])))
        })
        .collect();
    for h in HOST_SETTINGS {
        let (names, defaults) = rows
            .iter()
            .find(|(names, _)| names.iter().any(|n| n == h.name))
            .unwrap_or_else(|| panic!("docs/reference.md does not list `{}`", h.name));
        if let Some(default) = h.default {
            let at = names.iter().position(|n| n == h.name).unwrap();
            assert_eq!(
                defaults.get(at).map(String::as_str),
                Some(default.to_string().as_str()),
                "docs/reference.md: the default of `{}`",
                h.name
            );
        }
    }
}
