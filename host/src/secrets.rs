//! Where a connector's secrets come from: only from sources the operator granted.
//!
//! The operator grants each secret setting a source, `env:VARIABLE` or `file:PATH`, with
//! `--secret NAME=SOURCE` or in the config file's `[secrets]` table (a literal `-s NAME=VALUE`
//! is the operator's too). The environment variables a component declares are suggestions
//! only: `describe` shows them and a missing secret's error names them, but the host reads them
//! for a component only after `connector-host trust` recorded it, pinned to its SHA-256. A
//! component therefore cannot pick a variable of another system's and have its value sent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Failure;
use crate::wit::ConnectorSpec;

/// Largest secret file the host reads (a token, a key; not a keyring).
const MAX_SECRET_FILE: u64 = 64 << 10;

/// Where one secret's value is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An environment variable.
    Env(String),
    /// A file, its content trimmed (a mounted Secret).
    File(PathBuf),
    /// The component's own suggestions, for a component the operator trusted: the first of
    /// these variables that is set.
    Suggested(Vec<String>),
}

impl Source {
    /// `env:VARIABLE` or `file:PATH`.
    pub fn parse(text: &str) -> Result<Source, String> {
        let bad = || format!("{text:?} is not a secret source: use env:VARIABLE or file:PATH");
        match text.split_once(':') {
            Some(("env", var)) if is_env_name(var) => Ok(Source::Env(var.to_string())),
            Some(("file", path)) if !path.is_empty() => Ok(Source::File(PathBuf::from(path))),
            _ => Err(bad()),
        }
    }

    /// The value, trimmed; `Ok(None)` only when no suggested variable is set. Errors name the
    /// source, never a value.
    pub fn read(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>, String> {
        let set = |var: &str| env(var).filter(|v| !v.trim().is_empty());
        match self {
            Source::Env(var) => set(var)
                .map(|v| Some(v.trim().to_string()))
                .ok_or_else(|| format!("the environment variable {var} is not set or is empty")),
            Source::File(path) => read_secret_file(path).map(Some),
            Source::Suggested(vars) => {
                Ok(vars.iter().find_map(|v| set(v)).map(|v| v.trim().into()))
            }
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Env(var) => write!(f, "env:{var}"),
            Source::File(path) => write!(f, "file:{}", path.display()),
            Source::Suggested(vars) => write!(f, "the trusted component's {}", vars.join(" / ")),
        }
    }
}

/// An environment variable name a shell accepts as it is: letters, digits and `_`.
pub fn is_env_name(var: &str) -> bool {
    var.bytes().next().is_some_and(|b| !b.is_ascii_digit())
        && var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn read_secret_file(path: &Path) -> Result<String, String> {
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let len = std::fs::metadata(path).map_err(cannot)?.len();
    if len > MAX_SECRET_FILE {
        return Err(format!(
            "{} is {len} bytes; a secret file may hold at most {MAX_SECRET_FILE}",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(cannot)?;
    match text.trim() {
        "" => Err(format!("{} is empty", path.display())),
        value => Ok(value.to_string()),
    }
}

/// The operator's grants: secret setting name to source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants(BTreeMap<String, Source>);

impl Grants {
    /// The `[secrets]` table of a config file: `name = "env:VAR"` or `name = "file:PATH"`.
    pub fn from_toml(table: &toml::Table) -> Result<Grants, String> {
        let mut grants = Grants::default();
        for (name, value) in table {
            let text = value
                .as_str()
                .ok_or_else(|| format!("secrets.{name}: expected a string like \"env:VAR\""))?;
            let source = Source::parse(text).map_err(|e| format!("secrets.{name}: {e}"))?;
            grants.0.insert(name.clone(), source);
        }
        Ok(grants)
    }

    /// Applies `--secret NAME=SOURCE` arguments (they override the config file).
    pub fn apply_args(&mut self, args: &[String]) -> Result<(), Failure> {
        for arg in args {
            let bad = |why: String| Failure::Config(format!("--secret {arg:?}: {why}"));
            let (name, source) = arg
                .split_once('=')
                .ok_or_else(|| bad("expected NAME=env:VAR or NAME=file:PATH".into()))?;
            let name = name.trim();
            if name.is_empty() {
                return Err(bad("empty setting name".into()));
            }
            self.0
                .insert(name.to_string(), Source::parse(source).map_err(bad)?);
        }
        Ok(())
    }

    /// The source granted for the secret setting `name`.
    pub fn get(&self, name: &str) -> Option<&Source> {
        self.0.get(name)
    }

    /// `other`'s grants over these.
    pub fn merge(&mut self, other: Grants) {
        self.0.extend(other.0);
    }

    /// Relative `file:` sources taken as relative to `dir` (a jobs file's directory).
    pub fn relative_to(mut self, dir: &Path) -> Grants {
        for source in self.0.values_mut() {
            if let Source::File(path) = source
                && path.is_relative()
            {
                *path = dir.join(&*path);
            }
        }
        self
    }

    /// Grants the component's own suggestions where the operator named no source, for a
    /// component the operator trusted.
    pub fn add_trusted(&mut self, suggestions: &BTreeMap<String, Vec<String>>) {
        for (name, vars) in suggestions {
            self.0
                .entry(name.clone())
                .or_insert_with(|| Source::Suggested(vars.clone()));
        }
    }

    /// Every granted name is a secret setting of `spec`.
    pub fn check_against(&self, spec: &ConnectorSpec) -> Result<(), Failure> {
        let secrets: Vec<&str> = spec
            .settings
            .iter()
            .filter(|s| s.credential.is_some())
            .map(|s| s.name.as_str())
            .collect();
        match self.0.keys().find(|n| !secrets.contains(&n.as_str())) {
            None => Ok(()),
            Some(name) => Err(Failure::Config(format!(
                "secret `{name}` is not a secret setting of this connector; its secrets: {}",
                if secrets.is_empty() {
                    "none".to_string()
                } else {
                    secrets.join(", ")
                }
            ))),
        }
    }
}

/// The lines that would grant `name` from its first suggested variable, for error messages.
pub fn how_to_grant(name: &str, suggested: &[String]) -> String {
    let var = suggested.first().map_or("VARIABLE", String::as_str);
    format!(
        "grant it a source: --secret {name}=env:{var}\n  or in the config file:\n    [secrets]\n    \
         {name} = \"env:{var}\"\n  (or {name} = \"file:/path/to/{name}\")"
    )
}

/// Components whose suggested secret sources the operator trusts, pinned to their SHA-256.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TrustStore {
    #[serde(default, rename = "component")]
    components: Vec<Trusted>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Trusted {
    sha256: String,
    name: String,
    version: String,
    /// Secret setting name to the environment variables the component suggested.
    env: BTreeMap<String, Vec<String>>,
}

impl TrustStore {
    /// `$XDG_CONFIG_HOME/connector-host/trusted.toml` (else under `$HOME/.config`).
    pub fn default_path() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(base.join("connector-host").join("trusted.toml"))
    }

    /// The store at `path`; empty when the file does not exist.
    pub fn open(path: &Path) -> Result<TrustStore, Failure> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TrustStore::default()),
            Err(e) => {
                return Err(Failure::Config(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        toml::from_str(&text)
            .map_err(|e| Failure::Config(format!("{}: {}", path.display(), e.message())))
    }

    /// The suggestions trusted for the component with this digest, if it was trusted.
    pub fn suggestions(&self, sha256: &str) -> Option<&BTreeMap<String, Vec<String>>> {
        self.components
            .iter()
            .find(|c| c.sha256 == sha256)
            .map(|c| &c.env)
    }

    /// Trusts the component with `sha256` and `spec`: its secret settings' suggested variables.
    pub fn trust(&mut self, sha256: &str, spec: &ConnectorSpec) -> &BTreeMap<String, Vec<String>> {
        self.components.retain(|c| c.sha256 != sha256);
        let env = spec
            .settings
            .iter()
            .filter(|s| s.credential.is_some() && !s.suggested_env.is_empty())
            .map(|s| (s.name.clone(), s.suggested_env.clone()))
            .collect();
        self.components.push(Trusted {
            sha256: sha256.to_string(),
            name: spec.name.clone(),
            version: spec.version.clone(),
            env,
        });
        &self.components.last().expect("just pushed").env
    }

    /// Writes the trust store to `path`, atomically.
    pub fn save(&self, path: &Path) -> Result<(), Failure> {
        let cannot = |e: String| Failure::Config(format!("cannot write {}: {e}", path.display()));
        let text = toml::to_string_pretty(self).map_err(|e| cannot(e.to_string()))?;
        let header = "# Components whose own suggested secret variables connector-host may read,\n\
                      # pinned to their SHA-256 (written by `connector-host trust`).\n\n";
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| cannot(e.to_string()))?;
        }
        crate::atomic_file::write(path, format!("{header}{text}").as_bytes())
            .map_err(|e| cannot(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_and_read_without_showing_values() {
        assert_eq!(Source::parse("env:A_1"), Ok(Source::Env("A_1".into())));
        assert_eq!(Source::parse("file:/x"), Ok(Source::File("/x".into())));
        for bad in [
            "A_1",
            "env:",
            "env:A-B",
            "env:1A",
            "file:",
            "vault:x",
            "plain-token",
        ] {
            assert!(
                Source::parse(bad)
                    .unwrap_err()
                    .contains("not a secret source"),
                "{bad}"
            );
        }
        let env = |v: &str| (v == "SET").then(|| " tok \n".to_string());
        assert_eq!(Source::Env("SET".into()).read(&env), Ok(Some("tok".into())));
        assert!(
            Source::Env("UNSET".into())
                .read(&env)
                .unwrap_err()
                .contains("UNSET is not set")
        );
        let suggested = Source::Suggested(vec!["UNSET".into(), "SET".into()]);
        assert_eq!(suggested.read(&env), Ok(Some("tok".into())));
        assert_eq!(Source::Suggested(vec!["UNSET".into()]).read(&env), Ok(None));

        let dir = std::env::temp_dir().join(format!("secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "file-secret\n").unwrap();
        assert_eq!(
            Source::File(file.clone()).read(&env),
            Ok(Some("file-secret".into()))
        );
        std::fs::write(&file, "\n").unwrap();
        let err = Source::File(file.clone()).read(&env).unwrap_err();
        assert!(err.contains("is empty"), "{err}");
        let missing = Source::File(dir.join("nope")).read(&env).unwrap_err();
        assert!(missing.contains("cannot read"), "{missing}");
    }

    #[test]
    fn arguments_override_the_config_file() {
        let table: toml::Table = "api-token = \"env:FROM_FILE\"".parse().unwrap();
        let mut grants = Grants::from_toml(&table).unwrap();
        grants
            .apply_args(&["api-token=file:/run/secrets/t".into()])
            .unwrap();
        assert_eq!(
            grants.get("api-token"),
            Some(&Source::File("/run/secrets/t".into()))
        );
        assert!(grants.apply_args(&["api-token".into()]).is_err());
        let table: toml::Table = "t = 3".parse().unwrap();
        assert!(Grants::from_toml(&table).unwrap_err().contains("secrets.t"));
    }
}
