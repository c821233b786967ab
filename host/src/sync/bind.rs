//! Binding a run to what it touches before the first page: the request path (transport,
//! retries, recording, the sandbox hook), the output and the state store (a database serves as
//! both, for the operator's tenant only), the locks that keep two runs off one state, and the
//! checkpoint a run may resume.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Network, SyncOptions};
use crate::engine::Component;
use crate::error::Failure;
use crate::lock::{self, RunLock};
use crate::output::{
    Database, FileSink, Format, Output, Sink, StreamSink, WriteMode, partial_path,
};
use crate::sandbox::Stats;
use crate::sandbox::cassette::{Recorder, Replay};
use crate::sandbox::http::SandboxHttp;
use crate::sandbox::transport::{Live, Retrying, Upstream};
use crate::settings::{HostSettings, Resolved};
use crate::state::{Checkpoint, State, StateStore};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use crate::store::{self, DbStore};
use crate::store::{Key, Owner, RunScope};
use crate::wit::ConnectorSpec;

/// The extra CA certificates of the `ca-file` host setting, when given.
fn ca_pem(host: &HostSettings) -> Result<Option<Vec<u8>>, Failure> {
    host.ca_file
        .as_ref()
        .map(|p| {
            std::fs::read(p).map_err(|e| {
                Failure::Config(format!(
                    "setting `ca-file`: cannot read {}: {e}",
                    p.display()
                ))
            })
        })
        .transpose()
}

/// Builds the request path for a run: transport, retries, recording, then the sandbox hook.
pub fn sandbox_http(
    resolved: &Resolved,
    network: &Network,
    stats: Arc<Stats>,
) -> Result<SandboxHttp, Failure> {
    let host = &resolved.host;
    let live = || -> Result<Arc<dyn Upstream>, Failure> {
        let ca = ca_pem(host)?;
        let live = Live::new(host.timeouts, host.max_response_bytes, ca.as_deref())
            .map_err(|e| Failure::Config(format!("setting `ca-file`: {e}")))?;
        Ok(Arc::new(Retrying {
            inner: Arc::new(live),
            policy: host.retry,
            stats: stats.clone(),
        }))
    };
    let upstream: Arc<dyn Upstream> = match network {
        Network::Live => live()?,
        Network::Replay(dir) => Arc::new(Replay::open(dir).map_err(Failure::Config)?),
        Network::Record(dir) => Arc::new(
            Recorder::create(dir, live()?, resolved.secrets.clone()).map_err(Failure::Config)?,
        ),
    };
    Ok(SandboxHttp::new(
        host.policy.clone(),
        upstream,
        resolved.credentials.clone(),
        resolved.secrets.clone(),
        stats,
        host.max_requests,
        host.max_response_bytes,
    ))
}

/// What a run is bound to before its first page.
pub(super) struct Bound {
    /// Where its records go (a database as the destination it opened).
    pub output: Output,
    /// The state store and the state this run keeps in it; its checkpoint, if any, one this
    /// output can resume.
    pub state: Option<(Arc<dyn StateStore>, State)>,
    /// What the run holds exclusively until it has written its summary.
    pub locks: Vec<RunLock>,
}

/// Binds a run: takes its locks, opens its database (if any) and loads its state.
pub(super) fn bind(
    opts: &SyncOptions,
    connector: &Component,
    spec: &ConnectorSpec,
    resolved: &Resolved,
) -> Result<Bound, Failure> {
    let mut locks = file_locks(opts)?;
    let (output, store) = bind_output(opts, connector, spec, resolved, &mut locks)?;
    let mut state = load_state(store.as_ref(), opts.full, &resolved.fingerprint())?;
    if let Some(s) = state.as_mut() {
        s.checkpoint = s
            .checkpoint
            .take()
            .filter(|cp| output_continues(&output, opts.write, cp));
    }
    Ok(Bound {
        output,
        state: store.zip(state),
        locks,
    })
}

/// The output and state store a run writes to: a database output opened for this connector and
/// tenant serves as both (so a page and its checkpoint commit together).
///
/// The rows a run may touch in a database are the operator's to choose: the tenant must be one
/// the operator set (a component's default for it is a claim), and the (connector, tenant) must
/// belong to this component build or be handed to it (`adopt`).
fn bind_output(
    opts: &SyncOptions,
    connector: &Component,
    spec: &ConnectorSpec,
    resolved: &Resolved,
    locks: &mut Vec<RunLock>,
) -> Result<Opened, Failure> {
    let Output::Database(database) = &opts.output else {
        return Ok((opts.output.clone(), opts.state.clone()));
    };
    if opts.format != Format::Ndjson {
        return Err(Failure::Config(
            "a database output files the ndjson records: drop --format ocsf".to_string(),
        ));
    }
    if opts.state.is_some() {
        return Err(Failure::Config(
            "a database output keeps the run's state itself: drop --state".to_string(),
        ));
    }
    let scope = RunScope {
        resources: opts.models.resources,
        issues: opts.models.issues,
        findings: opts.models.findings,
        filtered: resolved.narrowed(spec),
        stale: opts.stale,
    };
    let key = Key {
        connector: spec.name.clone(),
        tenant: operator_tenant(spec, resolved)?,
    };
    let owner = Owner {
        sha256: connector.sha256.clone(),
        component: format!("{} {}", spec.name, spec.version),
        bound_at: String::new(),
    };
    let rows = Namespace {
        key,
        scope,
        owner,
        adopt: opts.adopt,
    };
    match database {
        Database::Sqlite(path) => sqlite(path, rows, locks),
        Database::Postgres(url) => postgres(url, rows, resolved),
    }
}

/// What a database output returns: the destination and the state store it serves as.
type Opened = (Output, Option<Arc<dyn StateStore>>);

/// The rows a database run may touch: whose, which, and the component build they belong to.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
struct Namespace {
    key: Key,
    scope: RunScope,
    owner: Owner,
    /// The operator hands rows another build wrote to this one.
    adopt: bool,
}

/// Opens the SQLite database at `path` for `key`'s rows, locked against a second run on them.
#[cfg(feature = "sqlite")]
fn sqlite(path: &Path, rows: Namespace, locks: &mut Vec<RunLock>) -> Result<Opened, Failure> {
    let Namespace {
        key,
        scope,
        owner,
        adopt,
    } = rows;
    let what = format!(
        "{} / {} in sqlite:{}",
        key.connector,
        key.tenant,
        path.display()
    );
    let lock = lock::for_namespace(path, &key.connector, &key.tenant);
    locks.push(lock::take(&lock, &what)?);
    let db = store::sqlite::open(path, key, scope)?;
    db.bind(&owner, adopt)?;
    Ok(both(db))
}

/// Connects to PostgreSQL at `url` (TLS with the `ca-file` roots when the URL asks for it).
#[cfg(feature = "postgres")]
fn postgres(url: &str, rows: Namespace, resolved: &Resolved) -> Result<Opened, Failure> {
    let tls = crate::sandbox::transport::tls_client_config(ca_pem(&resolved.host)?.as_deref())
        .map_err(|e| Failure::Config(format!("setting `ca-file`: {e}")))?;
    let db = store::postgres::open(url, rows.key, rows.scope, tls)?;
    db.bind(&rows.owner, rows.adopt)?;
    Ok(both(db))
}

#[cfg(not(feature = "sqlite"))]
fn sqlite(_: &Path, _: Namespace, _: &mut Vec<RunLock>) -> Result<Opened, Failure> {
    Err(left_out("sqlite"))
}

#[cfg(not(feature = "postgres"))]
fn postgres(_: &str, _: Namespace, _: &Resolved) -> Result<Opened, Failure> {
    Err(left_out("postgres"))
}

/// A database output this build left out.
#[cfg(any(not(feature = "sqlite"), not(feature = "postgres")))]
fn left_out(feature: &str) -> Failure {
    Failure::Config(format!(
        "this build of connector-host has no {feature} output: build it with the `{feature}` \
         feature"
    ))
}

/// The locks a run on files takes: its state file's and its output file's (a second run on
/// either would resume the same checkpoint or write the same partial file).
fn file_locks(opts: &SyncOptions) -> Result<Vec<RunLock>, Failure> {
    let mut locks = Vec::new();
    if let Some(state) = &opts.state {
        locks.extend(state.lock()?);
    }
    if let Output::File(path) = &opts.output
        && !is_stream(path)
    {
        let what = format!("the output {}", path.display());
        locks.push(lock::take(&lock::beside(path), &what)?);
    }
    Ok(locks)
}

/// Longest tenant a database keys rows by, in bytes.
pub const MAX_TENANT_BYTES: usize = 256;

/// The tenant whose rows a database run writes: set by the operator, short and printable.
fn operator_tenant(spec: &ConnectorSpec, resolved: &Resolved) -> Result<String, Failure> {
    let setting = spec.tenant_setting.as_deref().unwrap_or_default();
    let tenant = resolved.operator_tenant(spec).ok_or_else(|| {
        Failure::Config(format!(
            "a database output keys its rows by the tenant, and `{setting}` has only the \
             component's default; name the tenant yourself: -s {setting}=..."
        ))
    })?;
    if tenant.len() > MAX_TENANT_BYTES || tenant.chars().any(char::is_control) {
        return Err(Failure::Config(format!(
            "setting `{setting}`: a tenant is at most {MAX_TENANT_BYTES} bytes of printable text"
        )));
    }
    if tenant.is_empty() && spec.tenant_setting.is_some() {
        return Err(Failure::Config(format!(
            "setting `{setting}` is empty: a database output keys its rows by the tenant"
        )));
    }
    Ok(tenant)
}

/// A database store as the run's destination and its state store.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn both<B: store::Backend>(db: DbStore<B>) -> Opened {
    (Output::Custom(Arc::new(db.clone())), Some(Arc::new(db)))
}

/// The saved state for this run's settings: another configuration's state is set aside (a
/// full sync), and `--full` drops the checkpoint.
fn load_state(
    store: Option<&Arc<dyn StateStore>>,
    full: bool,
    fingerprint: &str,
) -> Result<Option<State>, Failure> {
    let Some(store) = store else {
        return Ok(None);
    };
    let mut state = store
        .load()?
        .filter(|s| {
            let same = s.fingerprint == fingerprint;
            if !same {
                tracing::warn!(
                    "state {} belongs to other settings; starting a full sync",
                    store.location()
                );
            }
            same
        })
        .unwrap_or_else(|| State::new(fingerprint.to_string()));
    if full {
        state.checkpoint = None;
    }
    Ok(Some(state))
}

/// Whether a checkpoint may be resumed into `output`: a file must be the one it was written
/// against (else the run starts over, and says why); other outputs keep their own counts.
fn output_continues(output: &Output, mode: WriteMode, cp: &Checkpoint) -> bool {
    let Output::File(path) = output else {
        return true;
    };
    if is_stream(path) {
        return true;
    }
    let offset = cp.output_offset.unwrap_or(0);
    match crate::output::continues(path, mode, offset, cp.output.as_ref()) {
        Ok(()) => true,
        Err(why) => {
            tracing::warn!(
                "not resuming the unfinished run into {}: {why}; starting this run over",
                path.display()
            );
            false
        }
    }
}

/// A device or pipe (`/dev/null`, a FIFO): streamed to, never fsynced, cut or renamed.
fn is_stream(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file())
}

/// Opens the run's sink on `output`, continuing `checkpoint`'s output when there is one.
pub(super) fn open_sink(
    output: &Output,
    mode: WriteMode,
    checkpoint: Option<&Checkpoint>,
) -> Result<Box<dyn Sink + Send>, Failure> {
    let io = |p: &PathBuf, e: std::io::Error| {
        Failure::Host(format!("cannot open output {}: {e}", p.display()))
    };
    Ok(match output {
        Output::Database(_) => {
            return Err(Failure::Host(
                "a database output is opened by the run (bind_output)".to_string(),
            ));
        }
        Output::Custom(destination) => destination
            .open(checkpoint.map(|c| c.output_offset.unwrap_or(0)))
            .map_err(|e| Failure::Host(format!("cannot open the output: {e}")))?,
        Output::Stdout => Box::new(StreamSink(std::io::BufWriter::with_capacity(
            1 << 16,
            std::io::stdout(),
        ))),
        Output::File(p) if is_stream(p) => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(p)
                .map_err(|e| io(p, e))?;
            Box::new(StreamSink(std::io::BufWriter::with_capacity(1 << 16, file)))
        }
        Output::File(p) => match checkpoint {
            // `output_continues` checked the file against the checkpoint.
            Some(c) => {
                let start = c.output.as_ref().map_or(0, |m| m.start);
                let offset = c.output_offset.unwrap_or(start);
                Box::new(FileSink::resume(p, mode, offset, start).map_err(|e| io(p, e))?)
            }
            None => Box::new(FileSink::create(p, mode).map_err(|e| io(p, e))?),
        },
    })
}

/// Where a failed run left a snapshot's records: the output itself is as it was.
pub(super) fn partial_note(opts: &SyncOptions) -> Option<String> {
    match &opts.output {
        Output::File(p) if opts.write == WriteMode::Snapshot && !is_stream(p) => Some(format!(
            "{} is as it was; this run's records so far are in {} (a run with the same \
             --state resumes them)",
            p.display(),
            partial_path(p).display()
        )),
        _ => None,
    }
}
