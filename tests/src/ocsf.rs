//! A validator for OCSF events against the schema's own definitions (vendored in
//! `tests/fixtures/ocsf-1.5.0`): every attribute an event or object carries is defined for its
//! class or object at that version, every required one is present, every value has its
//! dictionary type, every `_id` enum value is one the schema lists, and the `just_one` /
//! `at_least_one` constraints hold. Profiles are not applied (the host declares none). A null
//! counts as absent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// One version of the schema, as far as it was vendored.
pub struct Schema {
    dir: PathBuf,
    dictionary: Map<String, Value>,
    types: Map<String, Value>,
}

/// An attribute's definition: the dictionary's, with the class's or object's overrides.
type Attributes = BTreeMap<String, Map<String, Value>>;

impl Schema {
    pub fn load(dir: &Path) -> Schema {
        let dict = read(&dir.join("dictionary.json"));
        Schema {
            dir: dir.to_path_buf(),
            dictionary: dict["attributes"].as_object().unwrap().clone(),
            types: dict["types"]["attributes"].as_object().unwrap().clone(),
        }
    }

    /// Every way `event` breaks the schema, each naming the attribute path.
    pub fn violations(&self, event: &Value) -> Vec<String> {
        let class = match event["class_uid"].as_u64() {
            Some(2002) => "vulnerability_finding",
            Some(2007) => "application_security_posture_finding",
            other => return vec![format!("class_uid {other:?} is not a vendored class")],
        };
        let (mut attrs, constraints) = self.definition(&format!("events/findings/{class}.json"));
        // The schema derives these from the class and category (base_event's enums list only
        // the uncategorized 0), so they are checked here rather than against an enum.
        for derived in ["class_uid", "category_uid", "type_uid"] {
            if let Some(def) = attrs.get_mut(derived) {
                def.remove("enum");
            }
        }
        let mut out = Vec::new();
        let number = |k: &str| event[k].as_u64().unwrap_or(0);
        if number("category_uid") != 2 {
            out.push(format!("{class}.category_uid: findings are category 2"));
        }
        if number("type_uid") != number("class_uid") * 100 + number("activity_id") {
            out.push(format!(
                "{class}.type_uid: not class_uid * 100 + activity_id"
            ));
        }
        self.check_object(event, &attrs, &constraints, class, &mut out);
        out
    }

    /// A class's or object's attributes and constraints, its `extends` chain merged in.
    fn definition(&self, file: &str) -> (Attributes, Map<String, Value>) {
        let def = read(&self.dir.join(file));
        let (mut attrs, mut constraints) = match def["extends"].as_str() {
            Some(parent) => {
                let parent_file = if file.starts_with("events/") {
                    if parent == "base_event" {
                        "events/base_event.json".to_string()
                    } else {
                        format!("events/findings/{parent}.json")
                    }
                } else {
                    format!("objects/{parent}.json")
                };
                self.definition(&parent_file)
            }
            None => (Attributes::new(), Map::new()),
        };
        for (name, overrides) in def["attributes"].as_object().unwrap() {
            if name == "$include" {
                continue;
            }
            let mut merged = attrs
                .remove(name)
                .or_else(|| self.dictionary.get(name)?.as_object().cloned())
                .unwrap_or_default();
            for (k, v) in overrides.as_object().unwrap() {
                merged.insert(k.clone(), v.clone());
            }
            attrs.insert(name.clone(), merged);
        }
        if let Some(c) = def["constraints"].as_object() {
            constraints = c.clone();
        }
        (attrs, constraints)
    }

    fn check_object(
        &self,
        value: &Value,
        attrs: &Attributes,
        constraints: &Map<String, Value>,
        path: &str,
        out: &mut Vec<String>,
    ) {
        let Some(object) = value.as_object() else {
            out.push(format!("{path}: expected an object"));
            return;
        };
        let present = |name: &str| object.get(name).is_some_and(|v| !v.is_null());
        for (name, def) in attrs {
            if def["requirement"] == "required" && !present(name) {
                out.push(format!("{path}.{name}: required, missing"));
            }
        }
        for (rule, names) in constraints {
            let names: Vec<&str> = names
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let n = names.iter().filter(|n| present(n)).count();
            let broken = match rule.as_str() {
                "just_one" => n != 1,
                "at_least_one" => n == 0,
                _ => false,
            };
            if broken {
                out.push(format!("{path}: {rule} of {names:?}, found {n}"));
            }
        }
        for (name, v) in object {
            let at = format!("{path}.{name}");
            match attrs.get(name) {
                None => out.push(format!("{at}: not defined at this version")),
                Some(_) if v.is_null() => {}
                Some(def) => self.check_value(v, def, &at, out),
            }
        }
    }

    fn check_value(&self, v: &Value, def: &Map<String, Value>, at: &str, out: &mut Vec<String>) {
        if def.get("is_array").and_then(Value::as_bool) == Some(true) {
            match v.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check_one(item, def, &format!("{at}[{i}]"), out);
                    }
                }
                None => out.push(format!("{at}: expected an array")),
            }
        } else {
            self.check_one(v, def, at, out);
        }
    }

    fn check_one(&self, v: &Value, def: &Map<String, Value>, at: &str, out: &mut Vec<String>) {
        let ty = def["type"].as_str().unwrap_or("object");
        if let Some(values) = def.get("enum").and_then(Value::as_object) {
            let key = match v {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if !values.contains_key(&key) {
                out.push(format!(
                    "{at}: {key} is not one of {:?}",
                    values.keys().collect::<Vec<_>>()
                ));
            }
        }
        if ty == "object" || ty == "json_t" {
            return;
        }
        if let Some(base) = self.base_type(ty) {
            let ok = match base {
                "string_t" => v.is_string(),
                "integer_t" | "long_t" => v.is_i64() || v.is_u64(),
                "float_t" => v.is_number(),
                "boolean_t" => v.is_boolean(),
                _ => true,
            };
            if !ok {
                out.push(format!("{at}: {v} is not a {ty}"));
            }
            return;
        }
        let (attrs, constraints) = self.definition(&format!("objects/{ty}.json"));
        self.check_object(v, &attrs, &constraints, at, out);
    }

    /// The primitive a dictionary type comes down to (`url_t` → `string_t`); `None` for objects.
    fn base_type<'a>(&'a self, ty: &'a str) -> Option<&'a str> {
        let def = self.types.get(ty)?;
        match def.get("type").and_then(Value::as_str) {
            Some(parent) if parent != ty => self.base_type(parent).or(Some(parent)),
            _ => Some(ty),
        }
    }
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (not vendored?)", path.display()));
    serde_json::from_str(&text).unwrap()
}
