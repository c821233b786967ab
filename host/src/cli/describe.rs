//! `describe`: a connector's settings as a table for people or JSON for programs.

use crate::settings::HOST_SETTINGS;
use crate::wit::{ConnectorSpec, Credential, CredentialScheme, SettingType};

pub fn spec_json(spec: &ConnectorSpec) -> serde_json::Value {
    serde_json::json!({
        "name": spec.name,
        "version": spec.version,
        "vendor": spec.vendor,
        "description": spec.description,
        "base_url_setting": spec.base_url_setting,
        "tenant_setting": spec.tenant_setting,
        "resource_types": spec.resource_types,
        "settings": spec.settings.iter().map(|s| serde_json::json!({
            "name": s.name,
            "description": s.description,
            "required": s.required,
            "default": s.default_value,
            "secret": s.credential.is_some(),
            "credential": s.credential.as_ref().map(credential_json),
            "suggested_env": s.suggested_env,
            "type": setting_type(s.value_type),
        })).collect::<Vec<_>>(),
        "host_settings": HOST_SETTINGS.iter().map(|h| serde_json::json!({"name": h.name, "description": h.description()})).collect::<Vec<_>>(),
    })
}

fn credential_json(c: &Credential) -> serde_json::Value {
    let scheme = match &c.scheme {
        CredentialScheme::Bearer => serde_json::json!({"scheme": "bearer"}),
        CredentialScheme::BasicUser => serde_json::json!({"scheme": "basic-user"}),
        CredentialScheme::BasicPassword(user) => {
            serde_json::json!({"scheme": "basic-password", "user_setting": user})
        }
        CredentialScheme::Header(h) => {
            serde_json::json!({"scheme": "header", "header": h.name, "prefix": h.prefix})
        }
    };
    serde_json::json!({"origin_setting": c.origin_setting, "applied": scheme})
}

fn setting_type(t: SettingType) -> &'static str {
    match t {
        SettingType::Text => "text",
        SettingType::Boolean => "boolean",
        SettingType::List => "list",
        SettingType::Url => "url",
        SettingType::Integer => "integer",
    }
}

pub fn spec_table(spec: &ConnectorSpec, bold: bool) -> String {
    let b = |s: &str| {
        if bold {
            format!("\x1b[1m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = format!(
        "{} {} ({})\n{}\n\n",
        b(&spec.name),
        spec.version,
        spec.vendor,
        spec.description
    );
    let rows: Vec<[String; 6]> = spec
        .settings
        .iter()
        .map(|s| {
            [
                s.name.clone(),
                if s.required {
                    "yes".into()
                } else {
                    "no".into()
                },
                s.default_value.clone().unwrap_or_default(),
                if s.credential.is_some() {
                    "yes".into()
                } else {
                    "no".into()
                },
                s.suggested_env.join(", "),
                s.description.clone(),
            ]
        })
        .collect();
    let header = [
        "SETTING",
        "REQUIRED",
        "DEFAULT",
        "SECRET",
        "SUGGESTED ENV (grant with --secret)",
        "DESCRIPTION",
    ]
    .map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    for (i, r) in std::iter::once(&header).chain(&rows).enumerate() {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let line = line.join("  ").trim_end().to_string();
        out.push_str(&if i == 0 { b(&line) } else { line });
        out.push('\n');
    }
    out.push_str(&format!("\n{}\n", b("Host settings (sandbox)")));
    for h in HOST_SETTINGS {
        out.push_str(&format!("  {:<28}{}\n", h.name, h.description()));
    }
    out
}
