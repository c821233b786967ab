//! `--out sqlite:PATH`: records, runs and state in an embedded SQLite database (rusqlite with
//! its bundled SQLite: no server, no system library). One store serves a run as both its
//! destination and its state store, so a page's rows and its checkpoint commit together.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};

use super::{Parsed, Row, RunScope, Stale, Table, parse_line};
use crate::error::Failure;
use crate::output::Sink;
use crate::state::{State, StateStore};
use crate::sync::Destination;

/// Schema versions, applied in order, each once (recorded in `schema_migrations`).
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE resources (
    connector TEXT NOT NULL, tenant TEXT NOT NULL, id TEXT NOT NULL,
    type TEXT, name TEXT,
    record TEXT NOT NULL, last_run INTEGER NOT NULL,
    PRIMARY KEY (connector, tenant, id)
);
CREATE TABLE issues (
    connector TEXT NOT NULL, tenant TEXT NOT NULL, id TEXT NOT NULL,
    severity TEXT, state TEXT, type TEXT, resource_id TEXT, package TEXT,
    first_seen TEXT, last_seen TEXT, state_updated_at TEXT,
    record TEXT NOT NULL, last_run INTEGER NOT NULL,
    PRIMARY KEY (connector, tenant, id)
);
CREATE TABLE findings (
    connector TEXT NOT NULL, tenant TEXT NOT NULL, id TEXT NOT NULL,
    severity TEXT, state TEXT, type TEXT, resource_id TEXT, package TEXT,
    first_seen TEXT, last_seen TEXT, state_updated_at TEXT,
    record TEXT NOT NULL, last_run INTEGER NOT NULL,
    PRIMARY KEY (connector, tenant, id)
);
CREATE INDEX issues_by_state ON issues (connector, tenant, state, severity);
CREATE INDEX findings_by_state ON findings (connector, tenant, state, severity);
CREATE TABLE sync_runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    connector TEXT NOT NULL, tenant TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT, mode TEXT, complete INTEGER, summary TEXT
);
CREATE TABLE sync_state (
    connector TEXT NOT NULL, tenant TEXT NOT NULL,
    state TEXT NOT NULL, run_id INTEGER,
    PRIMARY KEY (connector, tenant)
);
"#];

/// A run's records, runs and state in one SQLite file. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    conn: Connection,
    path: PathBuf,
    connector: String,
    tenant: String,
    scope: RunScope,
    /// This run's row in `sync_runs` and its start, once the output is opened.
    run: Option<(i64, String)>,
    /// Whether the run lists everything (no `updated_since`), from its checkpoints.
    full: Option<bool>,
    /// Rows written since the last checkpoint: they commit with the next one.
    pending: Vec<Row>,
}

impl SqliteStore {
    /// Opens (creating) the database at `path` and brings its schema up to date.
    pub fn open(
        path: &Path,
        connector: &str,
        tenant: &str,
        scope: RunScope,
    ) -> Result<SqliteStore, Failure> {
        let fail = db_failure(path);
        let mut conn = Connection::open(path).map_err(&fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(&fail)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(&fail)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(&fail)?;
        migrate(&mut conn).map_err(&fail)?;
        Ok(SqliteStore {
            inner: Arc::new(Mutex::new(Inner {
                conn,
                path: path.to_path_buf(),
                connector: connector.to_string(),
                tenant: tenant.to_string(),
                scope,
                run: None,
                full: None,
                pending: Vec::new(),
            })),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn db_failure(path: &Path) -> impl Fn(rusqlite::Error) -> Failure + '_ {
    move |e| Failure::Host(format!("database sqlite:{}: {e}", path.display()))
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    )?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let applied: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
            params![i as i64 + 1],
        )?;
    }
    tx.commit()
}

impl StateStore for SqliteStore {
    fn load(&self) -> Result<Option<State>, Failure> {
        let inner = self.lock();
        let text: Option<String> = inner
            .conn
            .query_row(
                "SELECT state FROM sync_state WHERE connector = ?1 AND tenant = ?2",
                params![inner.connector, inner.tenant],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_failure(&inner.path))?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| {
                Failure::Config(format!(
                    "{}: the saved state is unreadable ({e}); pass --full",
                    self.location()
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
        let path = inner.path.clone();
        inner.commit(state).map_err(db_failure(&path))
    }

    fn location(&self) -> String {
        let inner = self.lock();
        format!(
            "sqlite:{} ({} / {})",
            inner.path.display(),
            inner.connector,
            inner.tenant
        )
    }
}

impl Inner {
    fn commit(&mut self, state: &State) -> rusqlite::Result<()> {
        let run = self.run.as_ref().map_or(0, |(id, _)| *id);
        let rows = std::mem::take(&mut self.pending);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for row in &rows {
            upsert(&tx, &self.connector, &self.tenant, run, row)?;
        }
        if state.checkpoint.is_none() && self.full == Some(true) && !self.scope.filtered {
            let started = self.run.as_ref().map(|(_, s)| s.clone());
            settle_unseen(
                &tx,
                &self.connector,
                &self.tenant,
                run,
                started,
                &self.scope,
            )?;
        }
        tx.execute(
            "INSERT INTO sync_state (connector, tenant, state, run_id) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (connector, tenant) DO UPDATE SET state = excluded.state, run_id = excluded.run_id",
            params![
                self.connector,
                self.tenant,
                serde_json::to_string(state).expect("state serializes"),
                state.checkpoint.as_ref().map(|_| run)
            ],
        )?;
        tx.commit()
    }
}

fn upsert(
    tx: &rusqlite::Transaction<'_>,
    connector: &str,
    tenant: &str,
    run: i64,
    row: &Row,
) -> rusqlite::Result<()> {
    if row.table == Table::Resources {
        tx.prepare_cached(
            "INSERT INTO resources (connector, tenant, id, type, name, record, last_run)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (connector, tenant, id) DO UPDATE SET type = excluded.type,
               name = excluded.name, record = excluded.record, last_run = excluded.last_run",
        )?
        .execute(params![
            connector, tenant, row.id, row.type_, row.name, row.record, run
        ])?;
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO {} (connector, tenant, id, severity, state, type, resource_id, package,
           first_seen, last_seen, state_updated_at, record, last_run)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (connector, tenant, id) DO UPDATE SET severity = excluded.severity,
           state = excluded.state, type = excluded.type, resource_id = excluded.resource_id,
           package = excluded.package, first_seen = excluded.first_seen,
           last_seen = excluded.last_seen, state_updated_at = excluded.state_updated_at,
           record = excluded.record, last_run = excluded.last_run",
        row.table.name()
    );
    tx.prepare_cached(&sql)?.execute(params![
        connector,
        tenant,
        row.id,
        row.severity,
        row.state,
        row.type_,
        row.resource_id,
        row.package,
        row.first_seen,
        row.last_seen,
        row.state_updated_at,
        row.record,
        run
    ])?;
    Ok(())
}

/// After a complete full sync: the tenant's issues and findings this run did not see are
/// closed at the run's start (their `record` too) or deleted; resources are deleted or kept.
fn settle_unseen(
    tx: &rusqlite::Transaction<'_>,
    connector: &str,
    tenant: &str,
    run: i64,
    started: Option<String>,
    scope: &RunScope,
) -> rusqlite::Result<()> {
    let tables = [
        (Table::Resources, scope.resources),
        (Table::Issues, scope.issues),
        (Table::Findings, scope.findings),
    ];
    for (table, _) in tables.into_iter().filter(|(_, written)| *written) {
        let name = table.name();
        match (scope.stale, table) {
            (Stale::Keep, _) | (Stale::Close, Table::Resources) => {}
            (Stale::Delete, _) => {
                tx.execute(
                    &format!(
                        "DELETE FROM {name} WHERE connector = ?1 AND tenant = ?2 AND last_run != ?3"
                    ),
                    params![connector, tenant, run],
                )?;
            }
            (Stale::Close, _) => {
                tx.execute(
                    &format!(
                        "UPDATE {name} SET state = ?4, state_updated_at = ?5,
                           record = json_set(record, '$.state', ?4, '$.state_updated_at', ?5)
                         WHERE connector = ?1 AND tenant = ?2 AND last_run != ?3
                           AND (state IS NULL OR state != ?4)"
                    ),
                    params![connector, tenant, run, table.closed(), started],
                )?;
            }
        }
    }
    Ok(())
}

impl Destination for SqliteStore {
    /// Starts this run's row in `sync_runs`, or takes up the interrupted run's (`resume_at`).
    fn open(&self, resume_at: Option<u64>) -> std::io::Result<Box<dyn Sink + Send>> {
        let mut inner = self.lock();
        let begun = inner
            .begin(resume_at.is_some())
            .map_err(std::io::Error::other)?;
        inner.run = Some(begun);
        Ok(Box::new(SqliteSink {
            store: self.clone(),
        }))
    }
}

impl Inner {
    fn begin(&mut self, resuming: bool) -> rusqlite::Result<(i64, String)> {
        if resuming {
            let earlier: Option<(i64, String)> = self
                .conn
                .query_row(
                    "SELECT r.run_id, r.started_at FROM sync_state s
                     JOIN sync_runs r ON r.run_id = s.run_id
                     WHERE s.connector = ?1 AND s.tenant = ?2",
                    params![self.connector, self.tenant],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some(run) = earlier {
                return Ok(run);
            }
        }
        let started = crate::time::format_seconds(std::time::SystemTime::now());
        self.conn.execute(
            "INSERT INTO sync_runs (connector, tenant, started_at) VALUES (?1, ?2, ?3)",
            params![self.connector, self.tenant, started],
        )?;
        Ok((self.conn.last_insert_rowid(), started))
    }
}

/// The run's records as rows, held until the checkpoint that covers them commits.
struct SqliteSink {
    store: SqliteStore,
}

impl Sink for SqliteSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let text = std::str::from_utf8(bytes).map_err(std::io::Error::other)?;
        let mut inner = self.store.lock();
        for line in text.lines().filter(|l| !l.is_empty()) {
            match parse_line(line).map_err(std::io::Error::other)? {
                Parsed::Row(row) => inner.pending.push(*row),
                Parsed::Summary {
                    complete,
                    mode,
                    line,
                } => inner
                    .finish_run(complete, &mode, &line)
                    .map_err(std::io::Error::other)?,
            }
        }
        Ok(())
    }

    /// Rows commit with their checkpoint (see [`StateStore::save`]); there is no offset.
    fn commit(&mut self) -> std::io::Result<Option<u64>> {
        Ok(None)
    }
}

impl Inner {
    fn finish_run(&mut self, complete: bool, mode: &str, summary: &str) -> rusqlite::Result<()> {
        let Some((run, _)) = &self.run else {
            return Ok(());
        };
        self.conn.execute(
            "UPDATE sync_runs SET finished_at = ?2, mode = ?3, complete = ?4, summary = ?5
             WHERE run_id = ?1",
            params![
                run,
                crate::time::format_seconds(std::time::SystemTime::now()),
                mode,
                complete,
                summary.trim_end()
            ],
        )?;
        Ok(())
    }
}
