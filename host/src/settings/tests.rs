use super::*;
use crate::engine::wit::SettingSpec;
use crate::secrets::Grants;

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
fn secrets_come_only_from_granted_sources_and_never_reach_the_connector() {
    let env = |n: &str| match n {
        "FIRST" => Some("   ".to_string()),
        "SECOND" => Some("tok-second".to_string()),
        "GRANTED" => Some("tok-granted".to_string()),
        _ => None,
    };
    // The component suggests FIRST / SECOND; SECOND is set, but nobody granted it.
    let err = resolve(&raw(&["org-slug=a"]), &Grants::default(), &spec(), env).unwrap_err();
    assert!(
        err.message().contains("--secret api-token=env:FIRST")
            && err
                .message()
                .contains("SECOND is set, but the host reads a secret only"),
        "{err}"
    );
    assert!(!err.message().contains("tok-second"));
    let r = resolve(
        &raw(&["org-slug=a"]),
        &grant("api-token=env:GRANTED"),
        &spec(),
        env,
    )
    .unwrap();
    assert_eq!(r.token.as_deref(), Some("tok-granted"));
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
    let r = resolve(&raw(&["org-slug=a"]), &trusted, &spec(), env).unwrap();
    assert_eq!(r.token.as_deref(), Some("tok-second"));
    // A literal on the command line is the operator's too.
    let r = resolve(
        &raw(&["org-slug=a", "api-token=tok-cli"]),
        &Grants::default(),
        &spec(),
        env,
    )
    .unwrap();
    assert_eq!(r.token.as_deref(), Some("tok-cli"));
    // A granted source that is not there is an error naming it, not a fallback.
    let err = resolve(
        &raw(&["org-slug=a"]),
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
        &raw(&["org-slug=a"]),
        &grant("org-slug=env:GRANTED"),
        &spec(),
        env,
    )
    .unwrap_err();
    assert!(
        err.message().contains("`org-slug` is not a secret setting"),
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
        &raw(&["org-slug=a", "api-token=t"]),
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
        &raw(&[
            "org-slug=a",
            "api-token=t",
            "base-url=http://127.0.0.1:9/v0",
        ]),
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
    let err = resolve(&raw(&["org-slug=a"]), &Grants::default(), &spec(), |_| None).unwrap_err();
    assert!(
        err.message().contains("missing secret `api-token`")
            && err
                .message()
                .contains("[secrets]\n    api-token = \"env:FIRST\""),
        "{err}"
    );
    let err = resolve(
        &raw(&["org-slug=a", "api-token=t", "nope=1"]),
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
        Config::from_toml("org-slug = \"x\"")
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
        &Grants::default(),
        &spec(),
        |_| None,
    )
    .unwrap();
    assert_eq!(
        r.host.credential_origin.map(|o| o.to_string()).as_deref(),
        Some("https://api.example.com:8443")
    );
}
