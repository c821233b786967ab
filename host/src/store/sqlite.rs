//! `--out sqlite:PATH`: an embedded SQLite database (rusqlite with its bundled SQLite: no
//! server, no system library).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, ToSql, params};

use super::{
    BIND_SQL, Backend, Commit, DbStore, Dialect, Key, OWNER_SQL, Owner, Row, RunScope, Table,
    migrations, settle_sql, upsert_sql, written_tables,
};
use crate::error::Failure;

/// SQLite's names for the schema's types.
const DIALECT: Dialect = Dialect {
    json: "TEXT",
    big_int: "INTEGER",
    run_id: "INTEGER PRIMARY KEY AUTOINCREMENT",
    boolean: "INTEGER",
};

pub(crate) struct Sqlite {
    conn: Connection,
    path: PathBuf,
    /// A transaction is open: rows written since the last checkpoint are in it.
    open: bool,
}

/// Opens (creating) the database at `path`, brings its schema up to date, and binds it to
/// one connector and tenant.
pub(crate) fn open(path: &Path, key: Key, scope: RunScope) -> Result<DbStore<Sqlite>, Failure> {
    let fail =
        |e: rusqlite::Error| Failure::Host(format!("database sqlite:{}: {e}", path.display()));
    let mut conn = Connection::open(path).map_err(fail)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(fail)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(fail)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(fail)?;
    migrate(&mut conn).map_err(fail)?;
    let backend = Sqlite {
        conn,
        path: path.to_path_buf(),
        open: false,
    };
    Ok(DbStore::new(backend, key, scope))
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
    for (i, sql) in migrations(&DIALECT)
        .iter()
        .enumerate()
        .skip(applied as usize)
    {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
            params![i as i64 + 1],
        )?;
    }
    tx.commit()
}

/// SQLite numbers `$n` parameters by first appearance, not by `n`; `?n` it binds by number. The
/// SQL shared with PostgreSQL is written with `$n`, so it passes through here.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        let parameter = c == '$' && chars.peek().is_some_and(char::is_ascii_digit);
        out.push(if parameter { '?' } else { c });
    }
    out
}

fn now() -> String {
    crate::time::format_seconds(std::time::SystemTime::now())
}

impl Backend for Sqlite {
    fn location(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    fn bind(&mut self, key: &Key, owner: &Owner, adopt: bool) -> Result<Owner, String> {
        let mut bind = || -> rusqlite::Result<Owner> {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let held = tx
                .query_row(
                    &numbered(OWNER_SQL),
                    params![key.connector, key.tenant],
                    |r| {
                        Ok(Owner {
                            sha256: r.get(0)?,
                            component: r.get(1)?,
                            bound_at: r.get(2)?,
                        })
                    },
                )
                .optional()?;
            let owner = match held {
                Some(held) if !adopt => held,
                _ => {
                    let bound_at = now();
                    tx.execute(
                        &numbered(BIND_SQL),
                        params![
                            key.connector,
                            key.tenant,
                            owner.sha256,
                            owner.component,
                            bound_at
                        ],
                    )?;
                    Owner {
                        bound_at,
                        ..owner.clone()
                    }
                }
            };
            tx.commit()?;
            Ok(owner)
        };
        bind().map_err(|e| e.to_string())
    }

    fn load(&mut self, key: &Key) -> Result<Option<String>, String> {
        self.conn
            .query_row(
                "SELECT state FROM sync_state WHERE connector = ?1 AND tenant = ?2",
                params![key.connector, key.tenant],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| e.to_string())
    }

    fn begin_run(&mut self, key: &Key, resuming: bool) -> Result<(i64, String), String> {
        let earlier: Option<(i64, String)> = if resuming {
            self.conn
                .query_row(
                    "SELECT r.run_id, r.started_at FROM sync_state s
                     JOIN sync_runs r ON r.run_id = s.run_id
                     WHERE s.connector = ?1 AND s.tenant = ?2",
                    params![key.connector, key.tenant],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(|e| e.to_string())?
        } else {
            None
        };
        if let Some(run) = earlier {
            return Ok(run);
        }
        let started = now();
        self.conn
            .execute(
                "INSERT INTO sync_runs (connector, tenant, started_at) VALUES (?1, ?2, ?3)",
                params![key.connector, key.tenant, started],
            )
            .map_err(|e| e.to_string())?;
        Ok((self.conn.last_insert_rowid(), started))
    }

    fn upsert(&mut self, key: &Key, run: i64, rows: &[Row<'_>]) -> Result<(), String> {
        self.upsert_rows(key, run, rows)
            .map_err(|e| self.abandon(e))
    }

    fn commit(&mut self, key: &Key, c: &Commit<'_>) -> Result<u64, String> {
        self.settle_and_save(key, c).map_err(|e| self.abandon(e))
    }

    fn finish_run(
        &mut self,
        run: i64,
        mode: &str,
        complete: bool,
        summary: &str,
    ) -> Result<(), String> {
        self.rollback();
        self.conn
            .execute(
                "UPDATE sync_runs SET finished_at = ?2, mode = ?3, complete = ?4, summary = ?5
                 WHERE run_id = ?1",
                params![run, now(), mode, complete, summary],
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

impl Sqlite {
    /// Opens the page's transaction, unless it is open.
    fn begin(&mut self) -> rusqlite::Result<()> {
        if !self.open {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.open = true;
        }
        Ok(())
    }

    /// Rolls back the open transaction, if any: rows no checkpoint covers are dropped.
    fn rollback(&mut self) {
        if std::mem::take(&mut self.open) {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    /// A failed statement leaves nothing half-done: the transaction is rolled back.
    fn abandon(&mut self, e: rusqlite::Error) -> String {
        self.rollback();
        e.to_string()
    }

    fn upsert_rows(&mut self, key: &Key, run: i64, rows: &[Row<'_>]) -> rusqlite::Result<()> {
        self.begin()?;
        let (k, t) = (&key.connector, &key.tenant);
        // Built once per batch; `prepare_cached` parses each table's statement once per run.
        let upserts = Table::ALL.map(|table| numbered(&upsert_sql(table)));
        for row in rows {
            let mut stmt = self.conn.prepare_cached(&upserts[row.table as usize])?;
            let columns: Vec<Option<&str>> =
                row.table.columns().iter().map(|c| row.column(c)).collect();
            let mut values: Vec<&dyn ToSql> = Vec::with_capacity(columns.len() + 3);
            values.extend([k as &dyn ToSql, t]);
            values.extend(columns.iter().map(|v| v as &dyn ToSql));
            values.push(&run);
            stmt.execute(&values[..])?;
        }
        Ok(())
    }

    fn settle_and_save(&mut self, key: &Key, c: &Commit<'_>) -> rusqlite::Result<u64> {
        self.begin()?;
        let (k, t) = (&key.connector, &key.tenant);
        let mut settled = 0;
        if let Some((started, scope)) = c.settle {
            let json_set = |e: &str, key: &str, v: &str| format!("json_set({e}, '$.{key}', {v})");
            for table in written_tables(scope) {
                if let Some((sql, n)) = settle_sql(table, scope.stale, json_set) {
                    let all = params![k, t, c.run, table.closed(), started];
                    settled += self.conn.execute(&numbered(&sql), &all[..n])? as u64;
                }
            }
        }
        self.conn.execute(
            "INSERT INTO sync_state (connector, tenant, state, run_id) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (connector, tenant) DO UPDATE SET state = excluded.state, run_id = excluded.run_id",
            params![k, t, c.state, c.unfinished.then_some(c.run)],
        )?;
        self.conn.execute_batch("COMMIT")?;
        self.open = false;
        Ok(settled)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameters_are_bound_by_number_and_json_paths_are_left_alone() {
        assert_eq!(
            super::numbered("SET a = $2, b = json_set(r, '$.state', $1)"),
            "SET a = ?2, b = json_set(r, '$.state', ?1)"
        );
    }
}
