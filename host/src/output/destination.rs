//! Where a run's records go: an [`Output`] an operator names (`--out`), or a [`Destination`] an
//! embedder supplies; each run opens one [`Sink`] on it.

use std::path::PathBuf;
use std::sync::Arc;

use super::Sink;
use crate::error::Failure;

/// Where records go.
#[derive(Clone)]
pub enum Output {
    /// Standard output.
    Stdout,
    /// A file (see [`super::WriteMode`]), or a device or pipe streamed to.
    File(PathBuf),
    /// The embedder's own destination.
    Custom(Arc<dyn Destination>),
    /// A database, which also keeps the run's state (see [`crate::store`]).
    Database(Database),
}

/// Where `Output::Database` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// `sqlite:PATH`.
    Sqlite(PathBuf),
    /// `postgres://...` or `postgresql://...`.
    Postgres(String),
}

impl Output {
    /// [`Output::parse`] of the text itself, or of what it points at: `env:VARIABLE` (a
    /// database URL from the environment) or `file:PATH` (from a file, e.g. a mounted Secret),
    /// so that a password never has to be on a command line. Errors name the source, never its
    /// value.
    pub fn from_arg(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Output, Failure> {
        let indirect = match text.split_once(':') {
            Some(("env", var)) if crate::secrets::is_env_name(var) => env(var)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("the environment variable {var} is not set or is empty")),
            Some(("file", path)) if !path.is_empty() => std::fs::read_to_string(path)
                .map(|v| v.trim().to_string())
                .map_err(|e| format!("cannot read {path}: {e}")),
            _ => return Ok(Output::parse(text)),
        };
        indirect
            .map(|target| Output::parse(&target))
            .map_err(|why| Failure::Config(format!("--out {text}: {why}")))
    }

    /// `-` (stdout), `sqlite:PATH`, `postgres://...`, or a file path.
    pub fn parse(text: &str) -> Output {
        if text == "-" {
            Output::Stdout
        } else if let Some(path) = text.strip_prefix("sqlite:") {
            Output::Database(Database::Sqlite(PathBuf::from(path)))
        } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Output::Database(Database::Postgres(text.to_string()))
        } else {
            Output::File(PathBuf::from(text))
        }
    }
}

/// A destination an embedder supplies: each run opens one [`Sink`] on it.
pub trait Destination: Send + Sync {
    /// `resume_at`: for a resumed run, the output length its checkpoint covers (what
    /// [`Sink::commit`] last returned); the sink continues from there, dropping anything
    /// written after it.
    fn open(&self, resume_at: Option<u64>) -> std::io::Result<Box<dyn Sink + Send>>;
}
