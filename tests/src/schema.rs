//! Checks a JSON value against the JSON Schema subset schemars emits: `type` (one or a list),
//! `properties` / `required`, `items`, `$ref` into `$defs`, `anyOf` / `oneOf`, `enum`, `const`.
//! Strict about objects: a property the schema does not name is an error.

use serde_json::Value;

/// `Err` names the path of the first mismatch.
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    check(schema, schema, value, "$")
}

fn check(root: &Value, schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or_default();
        return check(root, &root["$defs"][name], value, path);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = schema[key].as_array() {
            if options.iter().any(|o| check(root, o, value, path).is_ok()) {
                return Ok(());
            }
            return Err(format!("{path}: matches none of {key}"));
        }
    }
    if let Some(c) = schema.get("const")
        && c != value
    {
        return Err(format!("{path}: expected {c}, got {value}"));
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        return Err(format!("{path}: {value} is not one of {options:?}"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| has_type(value, t)) {
        return Err(format!("{path}: {value:.80} is not of type {types:?}"));
    }
    if let Value::Object(map) = value
        && let Some(props) = schema["properties"].as_object()
    {
        for req in schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !map.contains_key(req) {
                return Err(format!("{path}: missing required `{req}`"));
            }
        }
        for (k, v) in map {
            let sub = props
                .get(k)
                .ok_or_else(|| format!("{path}: `{k}` is not in the schema"))?;
            check(root, sub, v, &format!("{path}.{k}"))?;
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            check(root, item_schema, v, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        _ => true,
    }
}
