use super::*;
use crate::engine::wit::SettingSpec;

fn spec() -> ConnectorSpec {
    let s = |name: &str, required: bool, secret: bool, default: Option<&str>, env: &[&str]| {
        SettingSpec {
            name: name.into(),
            description: format!("the {name}"),
            required,
            default_value: default.map(str::to_string),
            secret,
            env_vars: env.iter().map(|e| e.to_string()).collect(),
            value_type: "string".into(),
        }
    };
    ConnectorSpec {
        name: "t".into(),
        version: "0".into(),
        vendor: "T".into(),
        description: String::new(),
        base_url_setting: Some("base-url".into()),
        settings: vec![
            s("org-slug", true, false, None, &[]),
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

fn raw(pairs: &[&str]) -> RawSettings {
    let mut r = RawSettings::default();
    r.apply_overrides(&pairs.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .unwrap();
    r
}

#[test]
fn secrets_come_from_settings_or_the_first_set_env_var_and_never_reach_the_connector() {
    let env = |n: &str| match n {
        "FIRST" => Some("   ".to_string()),
        "SECOND" => Some("tok-second".to_string()),
        _ => None,
    };
    let r = resolve(&raw(&["org-slug=a"]), &spec(), env).unwrap();
    assert_eq!(r.token.as_deref(), Some("tok-second"));
    assert!(r.connector.iter().all(|s| s.name != "api-token"));
    assert_eq!(r.secrets.redact("x tok-second y"), "x [REDACTED] y");
    let r = resolve(&raw(&["org-slug=a", "api-token=tok-cli"]), &spec(), env).unwrap();
    assert_eq!(r.token.as_deref(), Some("tok-cli"));
}

#[test]
fn the_allow_list_defaults_to_the_base_url_origin() {
    let r = resolve(&raw(&["org-slug=a", "api-token=t"]), &spec(), |_| None).unwrap();
    assert_eq!(
        r.host.policy.allowed(),
        &[Origin::parse("https://api.example.com").unwrap()]
    );
    let r = resolve(
        &raw(&[
            "org-slug=a",
            "api-token=t",
            "base-url=http://127.0.0.1:9/v0",
        ]),
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
    let err = resolve(&raw(&["org-slug=a"]), &spec(), |_| None).unwrap_err();
    assert!(
        err.message().contains("`api-token`") && err.message().contains("FIRST / SECOND"),
        "{err}"
    );
    let err = resolve(
        &raw(&["org-slug=a", "api-token=t", "nope=1"]),
        &spec(),
        |_| None,
    )
    .unwrap_err();
    assert!(err.message().contains("unknown setting `nope`"), "{err}");
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn toml_values_of_every_kind_become_text() {
    let r = RawSettings::from_toml("[settings]\na = \"x\"\nb = true\nc = 3\nd = [\"p\", \"q\"]\n")
        .unwrap();
    let got: Vec<(&str, &str)> = r.0.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(got, [("a", "x"), ("b", "true"), ("c", "3"), ("d", "p,q")]);
    assert!(
        RawSettings::from_toml("org-slug = \"x\"")
            .unwrap_err()
            .contains("[settings]")
    );
}

#[test]
fn limits_are_read_before_the_spec_is_known() {
    let l = limits(&raw(&[
        "memory-limit-mb=64",
        "call-timeout-secs=3",
        "org-slug=whatever",
    ]))
    .unwrap();
    assert_eq!(l.memory_bytes, 64 << 20);
    assert_eq!(l.wall_per_call, Duration::from_secs(3));
    assert_eq!(l.cpu_per_call, Duration::from_secs(60));
    let err = limits(&raw(&["cpu-limit-secs=soon"])).unwrap_err();
    assert!(
        err.to_string().contains("setting `cpu-limit-secs`"),
        "{err}"
    );
}

#[test]
fn the_credential_is_bound_to_the_base_url_origin() {
    let r = resolve(
        &raw(&[
            "org-slug=a",
            "api-token=t",
            "base-url=https://api.example.com:8443/v0",
            "allowed-hosts=https://api.example.com:8443,https://cdn.example.com",
        ]),
        &spec(),
        |_| None,
    )
    .unwrap();
    assert_eq!(
        r.host.credential_origin.map(|o| o.to_string()).as_deref(),
        Some("https://api.example.com:8443")
    );
}
