//! `--out postgres://...`: a PostgreSQL server (tokio-postgres), for teams and for runners
//! scaled out by a scheduler: many processes write different tenants into one database at
//! once, and a session advisory lock per (connector, tenant) makes a second sync of the same
//! tenant exit with "already running" instead of interleaving.
//!
//! The store's calls are synchronous (the output writer runs on a blocking thread); each one
//! drives the client on the host's tokio runtime. With `sslmode=require` in the URL the
//! connection uses TLS, verified against the Mozilla roots plus the `ca-file` host setting.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio_postgres::config::SslMode;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};

use super::{
    BIND_SQL, Backend, Commit, DbStore, Dialect, Key, OWNER_SQL, Owner, Row, RunScope, Table,
    migrations, on_conflict, settle_sql, written_tables,
};
use crate::error::{Failure, chain};
use crate::text::{MAX_MESSAGE_CHARS, printable};

/// PostgreSQL's names for the schema's types (`json` keeps a record byte for byte).
const DIALECT: Dialect = Dialect {
    json: "JSON",
    big_int: "BIGINT",
    run_id: "BIGSERIAL PRIMARY KEY",
    boolean: "BOOLEAN",
};

pub(crate) struct Postgres {
    client: Client,
    runtime: Handle,
    /// The URL without its password, for messages.
    shown: String,
    /// A transaction is open: rows written since the last checkpoint are in it.
    open: bool,
}

/// What went wrong, with its causes (tokio-postgres prints none), printable and bounded: the
/// server's messages can quote a row's values, which come from the component.
fn why(e: &tokio_postgres::Error) -> String {
    printable(&chain(e).trim_end().replace('\n', " "), MAX_MESSAGE_CHARS)
}

/// Runs `f` to completion from synchronous code, on a runtime worker or a blocking thread.
fn block<F: Future>(runtime: &Handle, f: F) -> F::Output {
    tokio::task::block_in_place(|| runtime.block_on(f))
}

/// The URL with any password replaced, for messages.
fn shown(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((auth, host)) if auth.contains(':') => {
            let user = auth.split_once(':').map_or(auth, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_string(),
    }
}

/// Connects, brings the schema up to date, and takes the (connector, tenant) lock: a second
/// sync of the same tenant fails at once, saying so.
pub(crate) fn open(
    url: &str,
    key: Key,
    scope: RunScope,
    tls: Arc<rustls::ClientConfig>,
) -> Result<DbStore<Postgres>, Failure> {
    let runtime = Handle::current();
    let where_ = shown(url);
    let fail = |e: tokio_postgres::Error| Failure::Host(format!("database {where_}: {}", why(&e)));
    let config: tokio_postgres::Config = url.parse().map_err(fail)?;
    // TLS when the URL asks for it (`sslmode=require`), verified; `prefer` (the default) would
    // take an unverified certificate, which protects nothing, so it means no TLS here.
    let mut client = if config.get_ssl_mode() != SslMode::Require {
        let (client, connection) = block(&runtime, config.connect(NoTls)).map_err(fail)?;
        runtime.spawn(drive(connection));
        client
    } else {
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new((*tls).clone());
        let (client, connection) = block(&runtime, config.connect(tls)).map_err(fail)?;
        runtime.spawn(drive(connection));
        client
    };
    block(&runtime, migrate(&mut client)).map_err(fail)?;
    // Records of more than 2 KB are compressed as they are stored; PostgreSQL's default (pglz)
    // took most of the server's time in a large sync. lz4 (PostgreSQL 14 and later, when the
    // server was built with it) is several times faster. A server without it keeps its own.
    if let Err(e) = block(
        &runtime,
        client.batch_execute("SET default_toast_compression = lz4"),
    ) {
        tracing::debug!("database {where_}: keeping the server's record compression: {e}");
    }
    let locked: bool = block(
        &runtime,
        client.query_one(
            "SELECT pg_try_advisory_lock(hashtextextended($1::text || '/' || $2::text, 7327))",
            &[&key.connector, &key.tenant],
        ),
    )
    .map_err(fail)?
    .get(0);
    if !locked {
        return Err(Failure::Busy(format!(
            "database {where_}: a sync of {} / {} is already running (its advisory lock is held); \
             this one stops without writing",
            key.connector, key.tenant
        )));
    }
    let backend = Postgres {
        client,
        runtime,
        shown: where_.clone(),
        open: false,
    };
    Ok(DbStore::new(backend, key, scope))
}

/// Runs a connection until it closes; a closed one fails the next statement, which says so.
async fn drive<F: Future<Output = Result<(), tokio_postgres::Error>>>(connection: F) {
    if let Err(e) = connection.await {
        tracing::warn!("database connection closed: {e}");
    }
}

async fn migrate(client: &mut Client) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    // One migrator at a time, across processes.
    tx.execute("SELECT pg_advisory_xact_lock(7327)", &[])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await?;
    let applied: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .get(0);
    for (i, sql) in migrations(&DIALECT)
        .iter()
        .enumerate()
        .skip(applied as usize)
    {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&(i as i32 + 1)],
        )
        .await?;
    }
    tx.commit().await
}

fn now() -> String {
    crate::time::format_seconds(std::time::SystemTime::now())
}

impl Backend for Postgres {
    fn location(&self) -> String {
        self.shown.clone()
    }

    /// Under the namespace's advisory lock (taken at open), so no other run binds it meanwhile.
    fn bind(&mut self, key: &Key, owner: &Owner, adopt: bool) -> Result<Owner, String> {
        let client = &self.client;
        block(&self.runtime, async {
            let held = client
                .query_opt(OWNER_SQL, &[&key.connector, &key.tenant])
                .await?
                .map(|r| Owner {
                    sha256: r.get(0),
                    component: r.get(1),
                    bound_at: r.get(2),
                });
            match held {
                Some(held) if !adopt => Ok(held),
                _ => {
                    let bound_at = now();
                    client
                        .execute(
                            BIND_SQL,
                            &[
                                &key.connector,
                                &key.tenant,
                                &owner.sha256,
                                &owner.component,
                                &bound_at,
                            ],
                        )
                        .await?;
                    Ok(Owner {
                        bound_at,
                        ..owner.clone()
                    })
                }
            }
        })
        .map_err(|e: tokio_postgres::Error| why(&e))
    }

    fn load(&mut self, key: &Key) -> Result<Option<String>, String> {
        let row = block(
            &self.runtime,
            self.client.query_opt(
                "SELECT state::text FROM sync_state WHERE connector = $1 AND tenant = $2",
                &[&key.connector, &key.tenant],
            ),
        )
        .map_err(|e| why(&e))?;
        Ok(row.map(|r| r.get(0)))
    }

    fn begin_run(&mut self, key: &Key, resuming: bool) -> Result<(i64, String), String> {
        let client = &self.client;
        block(&self.runtime, async {
            if resuming
                && let Some(r) = client
                    .query_opt(
                        "SELECT r.run_id, r.started_at FROM sync_state s
                         JOIN sync_runs r ON r.run_id = s.run_id
                         WHERE s.connector = $1 AND s.tenant = $2",
                        &[&key.connector, &key.tenant],
                    )
                    .await?
            {
                return Ok((r.get(0), r.get(1)));
            }
            let started = now();
            let r = client
                .query_one(
                    "INSERT INTO sync_runs (connector, tenant, started_at) VALUES ($1, $2, $3) RETURNING run_id",
                    &[&key.connector, &key.tenant, &started],
                )
                .await?;
            Ok((r.get(0), started))
        })
        .map_err(|e: tokio_postgres::Error| why(&e))
    }

    fn upsert(&mut self, key: &Key, run: i64, rows: &[Row<'_>]) -> Result<(), String> {
        let begin = !std::mem::replace(&mut self.open, true);
        let result = block(&self.runtime, upsert(&self.client, begin, key, run, rows));
        result.map_err(|e| self.abandon(&e))
    }

    fn commit(&mut self, key: &Key, c: &Commit<'_>) -> Result<u64, String> {
        let begin = !std::mem::take(&mut self.open);
        let result = block(&self.runtime, settle_and_save(&self.client, begin, key, c));
        result.map_err(|e| self.abandon(&e))
    }

    fn finish_run(
        &mut self,
        run: i64,
        mode: &str,
        complete: bool,
        summary: &str,
    ) -> Result<(), String> {
        self.rollback();
        block(
            &self.runtime,
            self.client.execute(
                "UPDATE sync_runs SET finished_at = $2, mode = $3, complete = $4, summary = $5::text::json
                 WHERE run_id = $1",
                &[&run, &now(), &mode, &complete, &summary],
            ),
        )
        .map(|_| ())
        .map_err(|e| why(&e))
    }
}

impl Postgres {
    /// Rolls back the open transaction, if any: rows no checkpoint covers are dropped.
    fn rollback(&mut self) {
        if std::mem::take(&mut self.open) {
            let _ = block(&self.runtime, self.client.batch_execute("ROLLBACK"));
        }
    }

    /// A failed statement aborts the transaction: it is rolled back, and the error said.
    fn abandon(&mut self, e: &tokio_postgres::Error) -> String {
        self.open = false;
        let _ = block(&self.runtime, self.client.batch_execute("ROLLBACK"));
        why(e)
    }
}

/// Upserts a batch's rows, one statement per table (`begin`: opening the page's transaction).
async fn upsert(
    client: &Client,
    begin: bool,
    key: &Key,
    run: i64,
    rows: &[Row<'_>],
) -> Result<(), tokio_postgres::Error> {
    if begin {
        client.batch_execute("BEGIN").await?;
    }
    let (k, t) = (&key.connector, &key.tenant);
    for table in Table::ALL {
        let rows = last_of_each_id(rows, table);
        if rows.is_empty() {
            continue;
        }
        // One array per column, so the batch is one statement per table.
        let columns: Vec<Vec<Option<Cow<str>>>> = table
            .columns()
            .iter()
            .map(|col| {
                rows.iter()
                    .map(|r| r.column(col).map(|v| storable(col, v)))
                    .collect()
            })
            .collect();
        let mut values: Vec<&(dyn ToSql + Sync)> = vec![k, t];
        values.extend(columns.iter().map(|v| v as &(dyn ToSql + Sync)));
        values.push(&run);
        client.execute(&bulk_upsert_sql(table), &values).await?;
    }
    Ok(())
}

/// Settles unseen records (when asked), saves the state and commits the page's transaction.
async fn settle_and_save(
    client: &Client,
    begin: bool,
    key: &Key,
    c: &Commit<'_>,
) -> Result<u64, tokio_postgres::Error> {
    if begin {
        client.batch_execute("BEGIN").await?;
    }
    let (k, t) = (&key.connector, &key.tenant);
    let mut settled = 0;
    if let Some((started, scope)) = c.settle {
        let json_set = |e: &str, key: &str, v: &str| {
            format!("jsonb_set(({e})::jsonb, '{{{key}}}', to_jsonb({v}::text))::json")
        };
        for table in written_tables(scope) {
            if let Some((sql, n)) = settle_sql(table, scope.stale, json_set) {
                let closed = table.closed();
                let all: [&(dyn ToSql + Sync); 5] = [k, t, &c.run, &closed, &started];
                settled += client.execute(&sql, &all[..n]).await?;
            }
        }
    }
    let run = c.unfinished.then_some(c.run);
    client.execute(
        "INSERT INTO sync_state (connector, tenant, state, run_id) VALUES ($1, $2, $3::text::json, $4)
         ON CONFLICT (connector, tenant) DO UPDATE SET state = excluded.state, run_id = excluded.run_id",
        &[k, t, &c.state, &run],
    )
    .await?;
    client.batch_execute("COMMIT").await?;
    Ok(settled)
}

/// A page's upsert into `table` as one statement: `$1` connector, `$2` tenant, then one text
/// array per [`Table::columns`], then the run. Sending each row as its own statement, even
/// prepared, cost a round trip per row: 29 s for a sync of 100,000 vendor records, which writes
/// its NDJSON in 1.6 s (BENCHMARKS.md §3).
fn bulk_upsert_sql(table: Table) -> String {
    let columns = table.columns();
    let arrays: Vec<String> = (0..columns.len())
        .map(|i| format!("${}::text[]", i + 3))
        .collect();
    let picked: Vec<String> = columns
        .iter()
        .map(|c| match *c {
            "record" => "u.record::json".to_string(),
            c => format!("u.{c}"),
        })
        .collect();
    format!(
        "INSERT INTO {name} (connector, tenant, {list}, last_run)
         SELECT $1, $2, {picked}, ${run} FROM unnest({arrays}) AS u({list}) {on_conflict}",
        name = table.name(),
        list = columns.join(", "),
        picked = picked.join(", "),
        run = columns.len() + 3,
        arrays = arrays.join(", "),
        on_conflict = on_conflict(table),
    )
}

/// `value` of `column` as PostgreSQL can hold it. Its `text` cannot hold U+0000, nor can a
/// `json` record that the settling step reads as `jsonb`: a typed column gets U+FFFD for it,
/// and the record the escape `\ufffd` for `\u0000` (the NDJSON output keeps what was sent).
/// Without this, one such character failed its page, and every later run with it.
fn storable<'v>(column: &str, value: &'v str) -> Cow<'v, str> {
    match column {
        "record" => json_without_nul(value),
        _ if value.contains('\0') => Cow::Owned(value.replace('\0', "\u{FFFD}")),
        _ => Cow::Borrowed(value),
    }
}

/// `json` with every `\u0000` escape turned into `\ufffd`; an escaped backslash followed by
/// `u0000` is left alone.
fn json_without_nul(json: &str) -> Cow<'_, str> {
    const NUL: &str = "\\u0000";
    if !json.contains(NUL) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len());
    let mut rest = json;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let escape = &rest[at..];
        let taken = if escape.starts_with(NUL) {
            out.push_str("\\ufffd");
            NUL.len()
        } else {
            // The backslash and the character it escapes, copied as they are.
            let n = 1 + escape[1..].chars().next().map_or(0, char::len_utf8);
            out.push_str(&escape[..n]);
            n
        };
        rest = &escape[taken..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// `rows` of `table`, the last of each id only, in their order: one statement may not upsert
/// a row twice, and row by row the last one written is the one that stays. Ids compare as
/// they are stored ([`storable`]), so two that only the store makes equal are one row too.
fn last_of_each_id<'r, 'a>(rows: &'r [Row<'a>], table: Table) -> Vec<&'r Row<'a>> {
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<&Row> = rows
        .iter()
        .rev()
        .filter(|r| r.table == table && seen.insert(storable("id", r.columns.id)))
        .collect();
    kept.reverse();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Columns;

    fn row<'a>(table: Table, id: &'a str, record: &'a str) -> Row<'a> {
        Row {
            table,
            columns: Columns {
                id,
                ..Columns::default()
            },
            record,
        }
    }

    #[test]
    fn a_page_keeps_the_last_copy_of_each_id_per_table_in_order() {
        let rows = [
            row(Table::Issues, "a", "a1"),
            row(Table::Findings, "a", "fa"),
            row(Table::Issues, "b", "b1"),
            row(Table::Issues, "a", "a2"),
            row(Table::Issues, "c", "c1"),
        ];
        let kept: Vec<&str> = last_of_each_id(&rows, Table::Issues)
            .iter()
            .map(|r| r.record)
            .collect();
        assert_eq!(kept, ["b1", "a2", "c1"]);
        assert_eq!(last_of_each_id(&rows, Table::Findings).len(), 1);
        // Two ids the store would make equal (U+0000 is stored as U+FFFD) are one row.
        let twins = [
            row(Table::Issues, "x\0", "nul"),
            row(Table::Issues, "x\u{FFFD}", "replacement"),
        ];
        let kept = last_of_each_id(&twins, Table::Issues);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].record, "replacement");
        assert!(last_of_each_id(&rows, Table::Resources).is_empty());
    }

    #[test]
    fn a_nul_becomes_a_replacement_character_and_other_text_is_borrowed() {
        assert_eq!(storable("package", "pkg\0-1"), "pkg\u{FFFD}-1");
        assert!(matches!(
            storable("package", "pkg-1"),
            Cow::Borrowed("pkg-1")
        ));
        assert_eq!(
            storable("record", r#"{"a":"x\u0000y","b":"\\u0000","c":"\"\u0000"}"#),
            r#"{"a":"x\ufffdy","b":"\\u0000","c":"\"\ufffd"}"#
        );
        assert!(matches!(
            storable("record", r#"{"a":"\n"}"#),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn the_bulk_upsert_unnests_one_array_per_column() {
        let sql = bulk_upsert_sql(Table::Resources);
        assert!(
            sql.contains(
                "SELECT $1, $2, u.id, u.type, u.name, u.record::json, $7 \
                 FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) \
                 AS u(id, type, name, record)"
            ),
            "{sql}"
        );
    }

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(
            shown("postgres://sync:hunter2@db:5432/findings"),
            "postgres://sync:***@db:5432/findings"
        );
        assert_eq!(
            shown("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
    }
}
