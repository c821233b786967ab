//! Records into a database, where people query what is open now: one row per record, upserted
//! by id, each page and its checkpoint committed in one transaction, and after a complete, full,
//! unfiltered sync the tenant's records the run did not see closed (or deleted, or kept).
//!
//! The schema (the same for every database; see docs/operator-guide.md) is versioned by `migrations`:
//! `resources`, `issues`, `findings` keyed by (`connector`, `tenant`, `id`) with the record as
//! its NDJSON line renders it and typed columns for filtering; `sync_runs`, one row per run with
//! its summary; `sync_state`, each (connector, tenant)'s high-water mark and checkpoint, so a
//! runner needs no local state file; `namespaces`, the component build (SHA-256) each
//! (connector, tenant) belongs to.
//!
//! A component names itself, so its name is a claim: the first build that writes a (connector,
//! tenant) is bound to it, and any other build (an impostor keeping another connector's name, or
//! an upgrade) is refused until the operator hands the rows over (`--adopt`).

// What the databases share; a build with neither (an embedder's) keeps it unused.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

use std::sync::{Arc, Mutex};

use crate::error::Failure;
use crate::output::{Batch, Columns, Destination, Kind, Sink, Summary};
use crate::state::{State, StateStore};

/// What happens, after a complete full sync, to the tenant's records the run did not see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stale {
    /// State `Closed` / `CLOSED`, `state_updated_at` the run's start (resources are kept).
    #[default]
    Close,
    /// Delete them.
    Delete,
    /// Leave them as they are.
    Keep,
}

impl Stale {
    /// `close`, `delete` or `keep`.
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
pub(crate) struct RunScope {
    pub resources: bool,
    pub issues: bool,
    pub findings: bool,
    /// A connector setting that narrows the listings (a filter) is set: unseen records may
    /// still exist, so none is closed.
    pub filtered: bool,
    pub stale: Stale,
}

/// One row to upsert: a rendered record's columns and line, borrowed from the batch that
/// carries them (a row is written into the open transaction, never held).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row<'a> {
    pub table: Table,
    pub columns: Columns<'a>,
    /// The NDJSON line, exactly.
    pub record: &'a str,
}

impl<'a> Row<'a> {
    /// The value of `column`, one of [`Table::columns`].
    pub fn column(&self, column: &str) -> Option<&'a str> {
        let c = &self.columns;
        match column {
            "id" => Some(c.id),
            "type" => c.type_,
            "name" => c.name,
            "severity" => c.severity,
            "state" => c.state,
            "resource_id" => c.resource_id,
            "package" => c.package,
            "first_seen" => c.first_seen,
            "last_seen" => c.last_seen,
            "state_updated_at" => c.state_updated_at,
            "record" => Some(self.record),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Table {
    Resources,
    Issues,
    Findings,
}

impl Table {
    /// The table a record of `kind` goes to; an OCSF event has none (a database output takes
    /// the NDJSON format, see [`crate::sync`]).
    pub fn of(kind: Kind) -> Option<Table> {
        match kind {
            Kind::Resource => Some(Table::Resources),
            Kind::Issue => Some(Table::Issues),
            Kind::Finding => Some(Table::Findings),
            Kind::Event => None,
        }
    }

    /// Every table, in declaration order: `ALL[t as usize] == t`.
    pub const ALL: [Table; 3] = [Table::Resources, Table::Issues, Table::Findings];

    pub fn name(self) -> &'static str {
        match self {
            Table::Resources => "resources",
            Table::Issues => "issues",
            Table::Findings => "findings",
        }
    }

    /// The columns a row fills beside `connector`, `tenant` and `last_run`, in order: `id`
    /// first, `record` (the NDJSON line) last. [`Row::column`] reads them.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Resources => &["id", "type", "name", "record"],
            Table::Issues | Table::Findings => &[
                "id",
                "severity",
                "state",
                "type",
                "resource_id",
                "package",
                "first_seen",
                "last_seen",
                "state_updated_at",
                "record",
            ],
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

/// What one database does; [`DbStore`] holds the logic common to all of them.
pub(crate) trait Backend: Send + 'static {
    /// `sqlite:PATH`, `postgres://host/db` (no password), for messages.
    fn location(&self) -> String;
    /// In one transaction: `key`'s owner, binding `owner` when there is none, or over another
    /// when `adopt`. Returns the owner the namespace has now.
    fn bind(&mut self, key: &Key, owner: &Owner, adopt: bool) -> Result<Owner, String>;
    /// The saved state's JSON for (connector, tenant).
    fn load(&mut self, key: &Key) -> Result<Option<String>, String>;
    /// The interrupted run's id and start (when `resuming` and there is one), else a new run.
    fn begin_run(&mut self, key: &Key, resuming: bool) -> Result<(i64, String), String>;
    /// Upserts `rows` (of run `run`) in the open transaction, beginning one when none is open:
    /// they become visible, and durable, with the checkpoint that [`Backend::commit`] saves.
    fn upsert(&mut self, key: &Key, run: i64, rows: &[Row<'_>]) -> Result<(), String>;
    /// In the open transaction (or one of its own): settle unseen records (when asked), save
    /// the state, commit. Returns how many records the settling closed or deleted.
    fn commit(&mut self, key: &Key, commit: &Commit<'_>) -> Result<u64, String>;
    /// Records the run's end in `sync_runs`, after rolling back rows no checkpoint covers.
    fn finish_run(
        &mut self,
        run: i64,
        mode: &str,
        complete: bool,
        summary: &str,
    ) -> Result<(), String>;
}

/// Whose rows: the component's name and the tenant setting's value.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub connector: String,
    pub tenant: String,
}

/// The component build a namespace belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    /// SHA-256 of the component's bytes, hex.
    pub sha256: String,
    /// `name version`, for messages.
    pub component: String,
    /// When it was bound (RFC 3339), for messages; empty for a new binding.
    pub bound_at: String,
}

/// SQL that reads a namespace's owner: $1 connector, $2 tenant.
pub(crate) const OWNER_SQL: &str = "SELECT component_sha256, component, bound_at FROM namespaces WHERE connector = $1 AND tenant = $2";

/// SQL that binds a namespace to an owner: $1 connector, $2 tenant, $3 sha256, $4 component,
/// $5 the time.
pub(crate) const BIND_SQL: &str =
    "INSERT INTO namespaces (connector, tenant, component_sha256, component, bound_at)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (connector, tenant) DO UPDATE SET component_sha256 = excluded.component_sha256,
         component = excluded.component, bound_at = excluded.bound_at";

/// One transaction's worth of work.
pub(crate) struct Commit<'a> {
    pub run: i64,
    /// The state as JSON; `run_id` is kept with it while the run is unfinished.
    pub state: String,
    pub unfinished: bool,
    /// After a complete full unfiltered sync: the run's start, and what to do with the rest.
    pub settle: Option<(&'a str, &'a RunScope)>,
}

/// A database as a run's destination and state store at once, so a page's rows and its
/// checkpoint commit together. Cheap to clone.
pub(crate) struct DbStore<B> {
    inner: Arc<Mutex<Inner<B>>>,
}

impl<B> Clone for DbStore<B> {
    fn clone(&self) -> Self {
        DbStore {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<B> {
    backend: B,
    key: Key,
    scope: RunScope,
    /// This run's row in `sync_runs` and its start, once the output is opened.
    run: Option<(i64, String)>,
    /// Whether the run lists everything (no `updated_since`), from its checkpoints.
    full: Option<bool>,
    /// Records the run's settling closed or deleted, once it has settled.
    settled: Option<u64>,
}

impl<B: Backend> DbStore<B> {
    pub fn new(backend: B, key: Key, scope: RunScope) -> DbStore<B> {
        DbStore {
            inner: Arc::new(Mutex::new(Inner {
                backend,
                key,
                scope,
                run: None,
                full: None,
                settled: None,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<B>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<B: Backend> DbStore<B> {
    /// Binds the run's namespace to `owner`, the component build it runs; refuses a namespace
    /// that belongs to another build unless the operator said `adopt`.
    pub fn bind(&self, owner: &Owner, adopt: bool) -> Result<(), Failure> {
        let mut inner = self.lock();
        let key = inner.key.clone();
        let location = inner.backend.location();
        let held = inner
            .backend
            .bind(&key, owner, adopt)
            .map_err(|e| Failure::Host(format!("database {location}: {e}")))?;
        if held.sha256 == owner.sha256 {
            return Ok(());
        }
        Err(Failure::Config(format!(
            "database {location}: the rows of {} / {} belong to another component build \
             ({}, sha256 {}, since {}); this one is {}, sha256 {}. A component's name is its own \
             claim, so a different build does not write them: if this is an upgrade of that \
             connector, hand the rows over once with --adopt; otherwise give this run its own \
             database or tenant",
            key.connector,
            key.tenant,
            held.component,
            short(&held.sha256),
            held.bound_at,
            owner.component,
            short(&owner.sha256)
        )))
    }
}

/// The first 12 hex digits of a digest, for messages.
fn short(sha256: &str) -> &str {
    sha256.get(..12).unwrap_or(sha256)
}

impl<B: Backend> StateStore for DbStore<B> {
    fn load(&self) -> Result<Option<State>, Failure> {
        let mut inner = self.lock();
        let key = inner.key.clone();
        let text = inner
            .backend
            .load(&key)
            .map_err(|e| Failure::Host(format!("database {}: {e}", inner.backend.location())))?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| {
                Failure::Config(format!(
                    "database {}: the saved state of {} / {} is unreadable ({e}); pass --full",
                    inner.backend.location(),
                    key.connector,
                    key.tenant
                ))
            })
        })
        .transpose()
    }

    /// Commits the rows written since the last checkpoint with this one; the last save of a
    /// run (no checkpoint) also settles the records it did not see.
    fn save(&self, state: &State) -> Result<(), Failure> {
        let mut inner = self.lock();
        if let Some(cp) = &state.checkpoint {
            inner.full = Some(cp.updated_since.is_none());
        }
        let (run, started) = inner.run.clone().unwrap_or((0, String::new()));
        let finished_full = state.checkpoint.is_none() && inner.full == Some(true);
        let scope = inner.scope;
        let commit = Commit {
            run,
            state: serde_json::to_string(state).expect("state serializes"),
            unfinished: state.checkpoint.is_some(),
            settle: (finished_full && !scope.filtered).then_some((started.as_str(), &scope)),
        };
        let key = inner.key.clone();
        let settling = commit.settle.is_some();
        let settled = inner
            .backend
            .commit(&key, &commit)
            .map_err(|e| Failure::Host(format!("database {}: {e}", inner.backend.location())))?;
        if settling {
            inner.settled = Some(settled);
        }
        Ok(())
    }

    fn settled(&self) -> Option<u64> {
        self.lock().settled
    }

    fn location(&self) -> String {
        let inner = self.lock();
        format!(
            "{} ({} / {})",
            inner.backend.location(),
            inner.key.connector,
            inner.key.tenant
        )
    }
}

impl<B: Backend> Destination for DbStore<B> {
    /// Starts this run's row in `sync_runs`, or takes up the interrupted run's (`resume_at`).
    fn open(&self, resume_at: Option<u64>) -> std::io::Result<Box<dyn Sink + Send>> {
        let mut inner = self.lock();
        let key = inner.key.clone();
        let begun = inner
            .backend
            .begin_run(&key, resume_at.is_some())
            .map_err(std::io::Error::other)?;
        inner.run = Some(begun);
        Ok(Box::new(DbSink {
            store: self.clone(),
        }))
    }
}

/// The run's records as rows, upserted batch by batch into the transaction that the checkpoint
/// covering them commits (a failed page is rolled back).
struct DbSink<B> {
    store: DbStore<B>,
}

impl<B: Backend> Sink for DbSink<B> {
    /// Each record as its row, by the columns the renderer gave (no line is parsed), into the
    /// transaction the page's checkpoint commits.
    fn write(&mut self, batch: &Batch<'_>) -> std::io::Result<()> {
        let rows = batch
            .records()
            .map(|(record, line)| {
                let table = Table::of(record.kind).ok_or_else(|| {
                    std::io::Error::other("a database takes the ndjson format, not OCSF events")
                })?;
                Ok(Row {
                    table,
                    columns: record.columns,
                    record: line,
                })
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        let mut inner = self.store.lock();
        let Some((run, _)) = inner.run else {
            return Err(std::io::Error::other("the database output is not open"));
        };
        let key = inner.key.clone();
        inner.backend.upsert(&key, run, &rows).map_err(|e| {
            std::io::Error::other(format!("database {}: {e}", inner.backend.location()))
        })
    }

    /// Ends the run's row in `sync_runs` with its summary.
    fn summary(&mut self, summary: &Summary, line: &[u8]) -> std::io::Result<()> {
        let mut inner = self.store.lock();
        let Some((run, _)) = inner.run.clone() else {
            return Ok(());
        };
        let line = std::str::from_utf8(line).map_err(std::io::Error::other)?;
        let location = inner.backend.location();
        inner
            .backend
            .finish_run(run, summary.mode, summary.complete, line.trim_end())
            .map_err(|e| std::io::Error::other(format!("database {location}: {e}")))
    }

    /// Rows commit with their checkpoint (see [`StateStore::save`]); there is no offset.
    fn commit(&mut self) -> std::io::Result<Option<u64>> {
        Ok(None)
    }
}

/// The SQL that settles one table's unseen records and how many of the parameters it takes, or
/// `None` when there is nothing to do. Parameters: $1 connector, $2 tenant, $3 run, then for a
/// close $4 the closed state and $5 the run's start; `json_set(expr, key, value)` is the
/// database's way to set a top-level key of a record.
pub(crate) fn settle_sql(
    table: Table,
    stale: Stale,
    json_set: impl Fn(&str, &str, &str) -> String,
) -> Option<(String, usize)> {
    let name = table.name();
    let p = |n: usize| format!("${n}");
    let (c, t, r) = (p(1), p(2), p(3));
    match (stale, table) {
        (Stale::Keep, _) | (Stale::Close, Table::Resources) => None,
        (Stale::Delete, _) => Some((
            format!(
                "DELETE FROM {name} WHERE connector = {c} AND tenant = {t} AND last_run <> {r}"
            ),
            3,
        )),
        (Stale::Close, _) => {
            let record = json_set(
                &json_set("record", "state", &p(4)),
                "state_updated_at",
                &p(5),
            );
            let sql = format!(
                "UPDATE {name} SET state = {s}, state_updated_at = {at}, record = {record}
                 WHERE connector = {c} AND tenant = {t} AND last_run <> {r}
                   AND (state IS NULL OR state <> {s})",
                s = p(4),
                at = p(5),
            );
            Some((sql, 5))
        }
    }
}

/// The tables a run wrote, each with its closed state.
pub(crate) fn written_tables(scope: &RunScope) -> impl Iterator<Item = Table> + '_ {
    [
        (Table::Resources, scope.resources),
        (Table::Issues, scope.issues),
        (Table::Findings, scope.findings),
    ]
    .into_iter()
    .filter(|(_, written)| *written)
    .map(|(table, _)| table)
}

/// The upsert of one row into `table` (SQLite's; PostgreSQL upserts a page per statement), with
/// `$n` placeholders: 1 connector, 2 tenant, then [`Table::columns`], then the run.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn upsert_sql(table: Table) -> String {
    let columns = table.columns();
    let values: Vec<String> = (0..columns.len()).map(|i| format!("${}", i + 3)).collect();
    format!(
        "INSERT INTO {name} (connector, tenant, {columns}, last_run)
         VALUES ($1, $2, {values}, ${run}) {on_conflict}",
        name = table.name(),
        columns = columns.join(", "),
        values = values.join(", "),
        run = columns.len() + 3,
        on_conflict = on_conflict(table),
    )
}

/// What an upsert into `table` does to a row already there: takes every column of the new one.
pub(crate) fn on_conflict(table: Table) -> String {
    let set: Vec<String> = table.columns()[1..]
        .iter()
        .chain(["last_run"].iter())
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "ON CONFLICT (connector, tenant, id) DO UPDATE SET {}",
        set.join(", ")
    )
}

/// A database's names for the schema's types.
pub(crate) struct Dialect {
    pub json: &'static str,
    pub big_int: &'static str,
    /// An auto-incrementing primary key.
    pub run_id: &'static str,
    pub boolean: &'static str,
}

/// The schema's versions, in order, in `d`'s types (one migration each).
pub(crate) fn migrations(d: &Dialect) -> Vec<String> {
    let finding_table = |name: &str| {
        format!(
            "CREATE TABLE {name} (
                connector TEXT NOT NULL, tenant TEXT NOT NULL, id TEXT NOT NULL,
                severity TEXT, state TEXT, type TEXT, resource_id TEXT, package TEXT,
                first_seen TEXT, last_seen TEXT, state_updated_at TEXT,
                record {json} NOT NULL, last_run {int} NOT NULL,
                PRIMARY KEY (connector, tenant, id)
            );
            CREATE INDEX {name}_by_state ON {name} (connector, tenant, state, severity);",
            json = d.json,
            int = d.big_int,
        )
    };
    let v1 = format!(
        "CREATE TABLE resources (
            connector TEXT NOT NULL, tenant TEXT NOT NULL, id TEXT NOT NULL,
            type TEXT, name TEXT,
            record {json} NOT NULL, last_run {int} NOT NULL,
            PRIMARY KEY (connector, tenant, id)
        );
        {issues}
        {findings}
        CREATE TABLE sync_runs (
            run_id {run_id},
            connector TEXT NOT NULL, tenant TEXT NOT NULL,
            started_at TEXT NOT NULL, finished_at TEXT, mode TEXT, complete {boolean},
            summary {json}
        );
        CREATE TABLE sync_state (
            connector TEXT NOT NULL, tenant TEXT NOT NULL,
            state {json} NOT NULL, run_id {int},
            PRIMARY KEY (connector, tenant)
        );",
        json = d.json,
        int = d.big_int,
        run_id = d.run_id,
        boolean = d.boolean,
        issues = finding_table("issues"),
        findings = finding_table("findings"),
    );
    // Which component build each namespace belongs to. A namespace written before this
    // migration is bound by the next run that writes it.
    let v2 = "CREATE TABLE namespaces (
            connector TEXT NOT NULL, tenant TEXT NOT NULL,
            component_sha256 TEXT NOT NULL, component TEXT NOT NULL, bound_at TEXT NOT NULL,
            PRIMARY KEY (connector, tenant)
        );"
    .to_string();
    vec![v1, v2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_of_every_table_reads_its_own_field() {
        let row = Row {
            table: Table::Findings,
            columns: Columns {
                id: "id",
                type_: Some("type"),
                name: Some("name"),
                severity: Some("severity"),
                state: Some("state"),
                resource_id: Some("resource_id"),
                package: Some("package"),
                first_seen: Some("first_seen"),
                last_seen: Some("last_seen"),
                state_updated_at: Some("state_updated_at"),
            },
            record: "record",
        };
        for table in [Table::Resources, Table::Issues, Table::Findings] {
            for column in table.columns() {
                assert_eq!(
                    row.column(column),
                    Some(*column),
                    "{}.{column}",
                    table.name()
                );
            }
        }
    }

    #[test]
    fn all_tables_are_listed_at_their_own_index() {
        for (i, table) in Table::ALL.into_iter().enumerate() {
            assert_eq!(table as usize, i);
        }
    }

    #[test]
    fn the_row_upsert_numbers_every_column_and_takes_them_all_on_conflict() {
        let sql = upsert_sql(Table::Resources);
        assert!(
            sql.contains("(connector, tenant, id, type, name, record, last_run)"),
            "{sql}"
        );
        assert!(sql.contains("VALUES ($1, $2, $3, $4, $5, $6, $7)"), "{sql}");
        assert!(
            sql.ends_with(
                "DO UPDATE SET type = excluded.type, name = excluded.name, \
                 record = excluded.record, last_run = excluded.last_run"
            ),
            "{sql}"
        );
        assert!(upsert_sql(Table::Issues).contains("$12, $13)"));
    }
}
