//! Records into a database, where people query what is open now: one row per record, upserted
//! by id, each page and its checkpoint committed in one transaction, and after a complete, full,
//! unfiltered sync the tenant's records the run did not see closed (or deleted, or kept).
//!
//! The schema (the same for every database; see the README) is versioned by `migrations`:
//! `resources`, `issues`, `findings` keyed by (`connector`, `tenant`, `id`) with the record as
//! its NDJSON line renders it and typed columns for filtering; `sync_runs`, one row per run with
//! its summary; `sync_state`, each (connector, tenant)'s high-water mark and checkpoint, so a
//! runner needs no local state file.

pub mod sqlite;

use serde::Deserialize;

/// What happens, after a complete full sync, to the tenant's records the run did not see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stale {
    /// State `Closed` / `CLOSED`, `state_updated_at` the run's start (resources are kept).
    #[default]
    Close,
    Delete,
    Keep,
}

impl Stale {
    pub fn parse(s: &str) -> Result<Stale, String> {
        match s {
            "close" => Ok(Stale::Close),
            "delete" => Ok(Stale::Delete),
            "keep" => Ok(Stale::Keep),
            other => Err(format!("stale = {other:?}: expected close, delete or keep")),
        }
    }
}

/// Which records a run writes, and whether its listing is the whole picture.
#[derive(Debug, Clone, Copy)]
pub struct RunScope {
    pub resources: bool,
    pub issues: bool,
    pub findings: bool,
    /// A connector setting that narrows the listings (a filter) is set: unseen records may
    /// still exist, so none is closed.
    pub filtered: bool,
    pub stale: Stale,
}

/// The typed columns of one NDJSON line.
#[derive(Debug, Deserialize)]
pub struct Line<'a> {
    pub kind: &'a str,
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub type_: Option<String>,
    pub name: Option<String>,
    pub severity: Option<String>,
    pub state: Option<String>,
    pub resource_id: Option<String>,
    pub package_name: Option<String>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub state_updated_at: Option<String>,
    pub resource_related: Option<Related>,
    pub complete: Option<bool>,
    pub mode: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Related {
    pub affected_package: Option<Package>,
}

#[derive(Debug, Deserialize)]
pub struct Package {
    pub name: Option<String>,
}

/// One row to upsert.
#[derive(Debug, Clone)]
pub struct Row {
    pub table: Table,
    pub id: String,
    pub type_: Option<String>,
    pub name: Option<String>,
    pub severity: Option<String>,
    pub state: Option<String>,
    pub resource_id: Option<String>,
    pub package: Option<String>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub state_updated_at: Option<String>,
    /// The NDJSON line, exactly.
    pub record: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Resources,
    Issues,
    Findings,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Table::Resources => "resources",
            Table::Issues => "issues",
            Table::Findings => "findings",
        }
    }

    /// The closed state as this table's records spell it.
    pub fn closed(self) -> &'static str {
        match self {
            Table::Issues => "Closed",
            _ => "CLOSED",
        }
    }
}

/// What one NDJSON line is for the database.
pub enum Parsed {
    Row(Box<Row>),
    Summary {
        complete: bool,
        mode: String,
        line: String,
    },
}

/// Reads one NDJSON line the host rendered; an OCSF event (no `kind`) is refused.
pub fn parse_line(line: &str) -> Result<Parsed, String> {
    let l: Line<'_> = serde_json::from_str(line)
        .map_err(|e| format!("a database takes the ndjson format: {e}"))?;
    let table = match l.kind {
        "resource" => Table::Resources,
        "issue" => Table::Issues,
        "finding" => Table::Findings,
        "summary" => {
            return Ok(Parsed::Summary {
                complete: l.complete.unwrap_or(false),
                mode: l.mode.unwrap_or_default(),
                line: line.to_string(),
            });
        }
        other => return Err(format!("unknown record kind {other:?}")),
    };
    let package = l
        .package_name
        .or_else(|| l.resource_related?.affected_package?.name);
    Ok(Parsed::Row(Box::new(Row {
        table,
        id: l.id.ok_or("a record without an id")?,
        type_: l.type_,
        name: l.name,
        severity: l.severity,
        state: l.state,
        resource_id: l.resource_id,
        package,
        first_seen: l.first_seen,
        last_seen: l.last_seen,
        state_updated_at: l.state_updated_at,
        record: line.to_string(),
    })))
}
