use super::*;

fn raw_text(s: &str) -> String {
    Raw::of(s).as_raw().get().to_string()
}

#[test]
fn vendor_data_stays_on_one_line_and_is_always_json() {
    assert_eq!(raw_text(r#"{"a":1}"#), r#"{"a":1}"#);
    assert_eq!(raw_text("{\n  \"a\": \"x\"\r\n}"), r#"{  "a": "x"}"#);
    // Not JSON: carried as a string rather than corrupting the line.
    assert_eq!(raw_text("{broken\n"), r#""{broken\n""#);
}

#[test]
fn models_parse() {
    assert_eq!(
        Models::parse("findings, resources").unwrap(),
        Models {
            resources: true,
            issues: false,
            findings: true
        }
    );
    assert!(Models::parse("").is_err());
    assert!(Models::parse("widgets").unwrap_err().contains("widgets"));
}

/// The shipped `schemas/*.schema.json` match the types; `UPDATE_SCHEMAS=1` rewrites them.
#[test]
fn shipped_schemas_are_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas");
    for (kind, schema) in schemas() {
        let path = dir.join(format!("{kind}.schema.json"));
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if std::env::var_os("UPDATE_SCHEMAS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let shipped = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            shipped == text,
            "{} is stale: run `UPDATE_SCHEMAS=1 cargo test -p connector-host`",
            path.display()
        );
    }
}
