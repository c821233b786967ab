//! One sync: configure the component, page through resources then findings, write each page and
//! checkpoint it, and finish with a summary line.
//!
//! Ordering is what makes a run safe to kill: a page's records are written and fsynced before the
//! checkpoint that covers them is saved, and a resumed run truncates the output back to the last
//! checkpoint. So a page is in the output once, or not at all.

use crate::mutants::{Duty, skips};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::engine::wit::{
    ConnectorError, ConnectorSpec, FindingPage, FindingQuery, Malformed, RateLimit, SkippedRecord,
    UpstreamFailure,
};
use crate::engine::{Connector, Guarded, Session};
use crate::error::Failure;
use crate::lock::{self, RunLock};
use crate::output::{
    FileSink, Format, Models, Renderer, Sink, StreamSink, Summary, WriteMode, id_key, partial_path,
    written_finding_ids,
};
use crate::sandbox::Stats;
use crate::sandbox::fixtures::{Recorder, Replay};
use crate::sandbox::http::SandboxHttp;
use crate::sandbox::limits::Limits;
use crate::sandbox::transport::tls_client_config;
use crate::sandbox::transport::{Live, Retrying, Upstream};
use crate::settings::{HostSettings, Resolved};
use crate::state::{Checkpoint, Counts, MAX_SKIP_REASONS, Phase, State, StateStore};
use crate::store::{self, DbStore, Key, Owner, RunScope, Stale};
use crate::text::{MAX_MESSAGE_CHARS, printable};
use crate::time;

pub(crate) mod admit;
pub(crate) mod paging;
mod writer;
pub use paging::MAX_CURSOR_BYTES;
use paging::{CursorTrail, PageLimits};
use writer::{Page, PageWriter, Pipeline, Progress, Records, Saved};
pub use writer::{PageProgress, ProgressSink};

/// Where the component's requests go.
#[derive(Debug, Clone)]
pub enum Network {
    Live,
    /// Replay a cassette; a request with nothing recorded fails (see `TransportError::Fixture`).
    Replay(PathBuf),
    /// Live, and write what came back into a cassette.
    Record(PathBuf),
}

/// Where records go.
#[derive(Clone)]
pub enum Output {
    Stdout,
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

#[derive(Clone)]
pub struct SyncOptions {
    pub models: Models,
    pub format: Format,
    pub output: Output,
    /// How a file output is written: a snapshot replaced when the run is complete, or appended
    /// to (see [`crate::output::WriteMode`]).
    pub write: WriteMode,
    /// Where the high-water mark and checkpoint live between runs (e.g. a [`StateFile`]); a
    /// database output keeps them itself.
    pub state: Option<Arc<dyn StateStore>>,
    /// What a database output does with records a complete full sync did not see.
    pub stale: Stale,
    pub full: bool,
    /// With a database output: hand the rows of this connector and tenant to this component
    /// build, though another build wrote them (after an upgrade). See [`crate::store`].
    pub adopt: bool,
    /// Subtracted from the high-water mark, to catch updates that raced the last run.
    pub overlap: Duration,
    pub network: Network,
    /// Told about every committed page (the CLI redraws a status line on a terminal).
    pub progress: Option<Arc<dyn ProgressSink>>,
    /// Once set, the run stops at the next page boundary, its checkpoint saved, and fails with
    /// [`Failure::Interrupted`] (SIGINT / SIGTERM in the CLI).
    pub stop: Option<Arc<AtomicBool>>,
}

/// How a run ended.
pub struct SyncReport {
    pub summary: Summary,
    pub failure: Option<Failure>,
}

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

/// Runs one sync to completion or to its first failure. Never panics on guest or network input.
pub async fn run(
    connector: &Connector,
    spec: &ConnectorSpec,
    resolved: &Resolved,
    opts: &SyncOptions,
) -> SyncReport {
    let started = Instant::now();
    let stats = Arc::new(Stats::default());
    let mut run = Run {
        spec,
        stop: opts.stop.clone(),
        models: opts.models,
        limits: PageLimits {
            max_pages: resolved.host.max_pages,
            max_records: resolved.host.max_page_records,
        },
        mode: "full",
        resumed: false,
        high_water_mark: None,
        mark_source: None,
        skips_logged: 0,
        pipeline: Pipeline::default(),
        locks: Vec::new(),
    };
    let writer = |sink, state, counts| PageWriter {
        renderer: Renderer {
            vendor: spec.name.clone(),
            vendor_name: spec.vendor.clone(),
            models: opts.models,
            format: opts.format,
        },
        sink,
        state,
        secrets: resolved.secrets.clone(),
        progress: opts.progress.clone().map(|sink| Progress {
            sink,
            stats: stats.clone(),
            started,
            pages: 0,
        }),
        counts,
        skipped: Vec::new(),
        stale_records: None,
        buf: Vec::with_capacity(writer::CHUNK + (1 << 16)),
    };
    let result = run
        .execute(connector, resolved, opts, stats.clone(), writer)
        .await;
    // A page still being written finishes (or fails) before the summary says how far we got.
    let settled = run.pipeline.settle().await;
    let failure = result.and(settled).err().map(|f| {
        resolved
            .explain_auth(f)
            .map_message(|m| resolved.secrets.redact(m))
    });
    let writer = run.pipeline.writer();
    // Once the output was opened, a failed snapshot left the previous one in place: say where
    // this run's records are.
    let failure = match (failure, partial_note(opts)) {
        (Some(f), Some(note)) if writer.is_some() => {
            Some(f.map_message(|m| format!("{m}\n  {note}")))
        }
        (failure, _) => failure,
    };
    let summary = Summary {
        kind: "summary",
        complete: failure.is_none(),
        mode: run.mode,
        counts: writer.as_ref().map(|w| w.counts).unwrap_or_default(),
        requests: stats.requests.load(Ordering::Relaxed),
        retries: stats.retries.load(Ordering::Relaxed),
        denied_requests: stats.denied.load(Ordering::Relaxed),
        elapsed_seconds: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        high_water_mark: run.high_water_mark.clone(),
        high_water_mark_source: run.high_water_mark.as_ref().and(run.mark_source),
        skipped: writer
            .as_ref()
            .map(|w| w.skipped.clone())
            .unwrap_or_default(),
        resumed: run.resumed,
        stale_records: writer.as_ref().and_then(|w| w.stale_records),
        error: failure.as_ref().map(|f| f.message().to_string()),
    };
    let failure = match writer.map(|w| w.finish(&summary)) {
        Some(Err(e)) if failure.is_none() => Some(e),
        _ => failure,
    };
    SyncReport { summary, failure }
}

/// The fetching half of a run; [`writer`] is the other.
struct Run<'a> {
    spec: &'a ConnectorSpec,
    stop: Option<Arc<AtomicBool>>,
    models: Models,
    limits: PageLimits,
    mode: &'static str,
    resumed: bool,
    high_water_mark: Option<String>,
    /// Where this run's new high-water mark came from (see [`Summary::high_water_mark_source`]).
    mark_source: Option<&'static str>,
    /// Skip warnings logged so far: past [`MAX_SKIP_LOGS`] they are only counted.
    skips_logged: usize,
    pipeline: Pipeline,
    /// What this run holds exclusively until it has written its summary.
    locks: Vec<RunLock>,
}

/// A configured instance of `connector` (described by `spec`), its requests through `hooks`.
async fn configured(
    connector: &Connector,
    spec: &ConnectorSpec,
    hooks: SandboxHttp,
    limits: Limits,
    resolved: &Resolved,
) -> Result<Session, Failure> {
    let mut session = connector.instantiate(hooks, limits).await?;
    session
        .configure(&resolved.connector)
        .await?
        .map_err(|e| connector_failure(e, &session, spec))?;
    Ok(session)
}

/// What a `list-findings` call gave: the call's own outcome, then the connector's.
type FindingsAnswer = Guarded<Result<FindingPage, ConnectorError>>;

/// Skipped records logged one by one per run; the summary counts them all.
const MAX_SKIP_LOGS: usize = 20;

impl Run<'_> {
    async fn execute(
        &mut self,
        connector: &Connector,
        resolved: &Resolved,
        opts: &SyncOptions,
        stats: Arc<Stats>,
        writer: impl FnOnce(Box<dyn Sink + Send>, Option<Saved>, Counts) -> PageWriter,
    ) -> Result<(), Failure> {
        self.locks = file_locks(opts)?;
        let (output, store) = bind_output(opts, connector, self.spec, resolved, &mut self.locks)?;
        let mut state = load_state(store.as_ref(), opts.full, &resolved.fingerprint())?;
        if let Some(s) = state.as_mut() {
            s.checkpoint = s
                .checkpoint
                .take()
                .filter(|cp| output_continues(&output, opts.write, cp));
        }
        let checkpoint = state.as_ref().and_then(|s| s.checkpoint.clone());
        self.high_water_mark = state.as_ref().and_then(|s| s.high_water_mark.clone());
        let updated_since = self.plan(checkpoint.as_ref(), opts)?;
        let sink = open_sink(&output, opts.write, checkpoint.as_ref())?;
        let counts = checkpoint.as_ref().map(|c| c.counts).unwrap_or_default();
        let saved = store.zip(state);
        let mut writer = writer(sink, saved, counts);
        writer.skipped = checkpoint
            .as_ref()
            .map(|c| c.skipped.clone())
            .unwrap_or_default();
        self.pipeline = Pipeline::new(writer);

        let hooks = sandbox_http(resolved, &opts.network, stats.clone())?;
        let limits = resolved.host.limits;
        let session = configured(connector, self.spec, hooks.clone(), limits, resolved).await?;
        // The second instance has the same limits. Where the process's memory is watched, each
        // instance's backstop counts the other's use too: the resources listing holds little,
        // and an instance that swells the host trips it either way.
        let ahead = if self.overlaps(checkpoint.as_ref()) {
            Some(configured(connector, self.spec, hooks, limits, resolved).await?)
        } else {
            None
        };
        self.listings(session, ahead, checkpoint, updated_since)
            .await
            .map_err(|f| self.explain_replay(f, &opts.network, &stats))?;
        self.pipeline.settle().await?;
        refusals(&stats)?;
        if let Some(writer) = self.pipeline.writer() {
            writer.complete(self.high_water_mark.clone())?;
        }
        Ok(())
    }

    /// A replay that failed on a request with nothing recorded, in an incremental run: the
    /// cassette was most likely recorded by a full sync, and an earlier run left a high-water
    /// mark (a second replay into the same database or state). Says what to do.
    fn explain_replay(&self, failure: Failure, network: &Network, stats: &Stats) -> Failure {
        let unrecorded = stats
            .last_unrecorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        if !(unrecorded && self.mode == "incremental" && matches!(network, Network::Replay(_))) {
            return failure;
        }
        failure.map_message(|m| {
            format!(
                "{m}. This run is incremental (an earlier run left a high-water mark), and the \
                 cassette holds what its recording asked for: replay it with --full"
            )
        })
    }

    /// Whether the findings listing starts beside the resources listing, on an instance of its
    /// own: when the run lists both and the findings listing has not started yet.
    fn overlaps(&self, checkpoint: Option<&Checkpoint>) -> bool {
        self.models.resources
            && (self.models.issues || self.models.findings)
            && checkpoint.is_none_or(|c| c.phase == Phase::Resources)
    }

    /// Decides the run's mode from the checkpoint and the high-water mark: the incremental
    /// lower bound, if any.
    fn plan(
        &mut self,
        checkpoint: Option<&Checkpoint>,
        opts: &SyncOptions,
    ) -> Result<Option<String>, Failure> {
        let updated_since = match checkpoint {
            Some(c) => c.updated_since.clone(),
            None if opts.full => None,
            None => self
                .high_water_mark
                .as_deref()
                .map(|m| minus(m, opts.overlap))
                .transpose()?,
        };
        self.mode = if updated_since.is_some() {
            "incremental"
        } else {
            "full"
        };
        self.resumed = checkpoint.is_some();
        if let Some(c) = checkpoint {
            tracing::info!(
                "resuming an unfinished {} sync at its {:?} phase",
                self.mode,
                c.phase
            );
        }
        Ok(updated_since)
    }

    /// Resources, then findings, from where the checkpoint left off.
    /// Lists the resources, then the findings. With `ahead` (see [`Run::overlaps`]), the first
    /// findings page is fetched and mapped on that instance while the resources are listed
    /// (the listings are independent, and this hides the round trip that starts the findings
    /// listing); its records wait until the resources are committed, then the findings listing
    /// carries on there. An interrupted run discards that page and lists it again on resume.
    async fn listings(
        &mut self,
        mut session: Session,
        mut ahead: Option<Session>,
        checkpoint: Option<Checkpoint>,
        updated_since: Option<String>,
    ) -> Result<(), Failure> {
        // What a resumed run's findings listing wrote before it was interrupted.
        let resumed_findings = checkpoint
            .as_ref()
            .filter(|c| c.phase == Phase::Findings)
            .and_then(|c| Some((c.output.clone()?, c.output_offset?)));
        let mut cp = checkpoint.unwrap_or(Checkpoint {
            phase: Phase::Resources,
            cursor: None,
            updated_since,
            query_started_at: None,
            output_offset: None,
            output: None,
            counts: Counts::default(),
            mark_from_host_clock: false,
            skipped: Vec::new(),
        });
        let mut first_findings = None;
        if cp.phase == Phase::Resources && self.models.resources {
            match ahead.as_mut() {
                Some(findings_session) => {
                    let query = FindingQuery {
                        cursor: None,
                        updated_since: cp.updated_since.clone(),
                    };
                    let started = SystemTime::now();
                    let (resources, first) = tokio::join!(
                        self.resources(&mut session, &mut cp),
                        findings_session.list_findings(&query)
                    );
                    resources?;
                    first_findings = Some((first, started));
                }
                None => self.resources(&mut session, &mut cp).await?,
            }
        }
        if let Some(findings_session) = ahead {
            session = findings_session;
        }
        if cp.phase == Phase::Resources {
            cp = Checkpoint {
                phase: Phase::Findings,
                cursor: None,
                ..cp
            };
        }
        if self.models.issues || self.models.findings {
            // A resumed run whose listing must restart writes none of these again.
            let written = match resumed_findings {
                Some((mark, offset)) => written_finding_ids(&mark.path, mark.start, offset)
                    .map_err(|e| {
                        Failure::Host(format!("reading output {}: {e}", mark.path.display()))
                    })?,
                None => HashSet::new(),
            };
            self.findings(&mut session, &mut cp, written, first_findings)
                .await?;
        }
        if let Some(mark) = cp.query_started_at {
            self.high_water_mark = Some(mark);
            self.mark_source = Some(if cp.mark_from_host_clock {
                "host-clock"
            } else {
                "server"
            });
        }
        Ok(())
    }

    async fn resources(
        &mut self,
        session: &mut Session,
        cp: &mut Checkpoint,
    ) -> Result<(), Failure> {
        let mut pages = 0;
        let mut trail = CursorTrail::default();
        loop {
            let mut page = session
                .list_resources(cp.cursor.as_deref())
                .await?
                .map_err(|e| connector_failure(e, session, self.spec))?;
            pages += 1;
            self.limits.check_page(
                "list-resources",
                pages,
                page.items.len() + page.skipped.len(),
                cp.cursor.as_deref(),
                page.next_cursor.as_deref(),
                &mut trail,
            )?;
            admit::assets(
                &mut page.items,
                &mut page.skipped,
                &self.spec.resource_types,
            );
            tracing::info!("resources: page of {}", page.items.len());
            cp.cursor = page.next_cursor;
            let counts = Counts {
                resources: page.items.len() as u64,
                skipped_records: page.skipped.len() as u64,
                ..Counts::default()
            };
            let records = Records::Resources(page.items);
            if self
                .submit("resources", records, counts, page.skipped, cp)
                .await?
            {
                return Ok(());
            }
        }
    }

    /// Pages through the findings listing. `emitted` holds the ids already in the output (of a
    /// resumed run): should the listing restart, none of them is written twice. `first`: the
    /// first page's answer, already asked for (and when), see [`Run::listings`].
    async fn findings(
        &mut self,
        session: &mut Session,
        cp: &mut Checkpoint,
        mut emitted: HashSet<u128>,
        mut first: Option<(FindingsAnswer, SystemTime)>,
    ) -> Result<(), Failure> {
        let mut restarted = false;
        let mut pages = 0;
        let mut trail = CursorTrail::default();
        loop {
            let query = FindingQuery {
                cursor: cp.cursor.clone(),
                updated_since: cp.updated_since.clone(),
            };
            let (answer, listing_started) = match first.take() {
                Some(first) => first,
                None => {
                    let started = SystemTime::now();
                    (session.list_findings(&query).await, started)
                }
            };
            let mut page = match answer? {
                Ok(page) => page,
                Err(ConnectorError::InvalidCursor(why))
                    if !restarted && cp.cursor.is_some() && !skips(Duty::InvalidCursor) =>
                {
                    let why = printable(&why, MAX_MESSAGE_CHARS);
                    tracing::warn!("{why}; restarting the findings listing once from the start");
                    restarted = true;
                    cp.cursor = None;
                    trail = CursorTrail::default();
                    continue;
                }
                Err(e) => return Err(connector_failure(e, session, self.spec)),
            };
            pages += 1;
            self.limits.check_page(
                "list-findings",
                pages,
                page.items.len() + page.skipped.len(),
                query.cursor.as_deref(),
                page.next_cursor.as_deref(),
                &mut trail,
            )?;
            if query.cursor.is_none() && cp.query_started_at.is_none() {
                let (mark, from_host_clock) =
                    high_water_mark(page.query_started_at.as_deref(), listing_started);
                cp.query_started_at = Some(mark);
                cp.mark_from_host_clock = from_host_clock;
            }
            admit::findings(&mut page.items, &mut page.skipped);
            page.items
                .retain(|f| emitted.insert(id_key(&f.id)) || !restarted);
            let written = page.items.len() as u64;
            tracing::info!(
                "findings: page of {} vendor records → {written} findings",
                page.vendor_records
            );
            cp.cursor = page.next_cursor;
            let counts = Counts {
                issues: if self.models.issues { written } else { 0 },
                findings: if self.models.findings { written } else { 0 },
                vendor_records: u64::from(page.vendor_records),
                skipped_records: page.skipped.len() as u64,
                ..Counts::default()
            };
            let records = Records::Findings(page.items);
            if self
                .submit("findings", records, counts, page.skipped, cp)
                .await?
            {
                return Ok(());
            }
        }
    }

    /// Hands a page of `listing` to the writer with the checkpoint after it; `true` when that
    /// was the listing's last page. Stops here when asked to.
    async fn submit(
        &mut self,
        listing: &str,
        records: Records,
        counts: Counts,
        skipped: Vec<SkippedRecord>,
        cp: &Checkpoint,
    ) -> Result<bool, Failure> {
        let skipped = self.note_skipped(listing, skipped);
        self.pipeline
            .submit(Page {
                records,
                counts,
                checkpoint: cp.clone(),
                skipped,
            })
            .await?;
        if cp.cursor.is_none() {
            return Ok(true);
        }
        self.check_stop()?;
        Ok(false)
    }
}

impl Run<'_> {
    /// After a page is handed to the writer: stop here when asked to.
    fn check_stop(&self) -> Result<(), Failure> {
        match &self.stop {
            Some(stop) if stop.load(Ordering::Relaxed) => Err(Failure::Interrupted(
                "stopped on request at a page boundary; the next run resumes from the checkpoint"
                    .to_string(),
            )),
            _ => Ok(()),
        }
    }

    /// Logs a page's skipped records (the first [`MAX_SKIP_LOGS`] of the run) and returns the
    /// reasons the summary may keep, each made printable and bounded.
    fn note_skipped(&mut self, listing: &str, skipped: Vec<SkippedRecord>) -> Vec<String> {
        let mut reasons = Vec::new();
        for record in skipped {
            let reason = printable(&record.reason, MAX_MESSAGE_CHARS);
            if self.skips_logged < MAX_SKIP_LOGS {
                tracing::warn!("{listing}: skipped a record: {reason}");
                self.skips_logged += 1;
                if self.skips_logged == MAX_SKIP_LOGS {
                    tracing::warn!(
                        "further skipped records are counted in the summary, not logged"
                    );
                }
            }
            if reasons.len() < MAX_SKIP_REASONS {
                reasons.push(reason);
            }
        }
        reasons
    }
}

/// The high-water mark a listing leaves, and whether it is the host's clock: the server time the
/// component reported, if it is a plausible RFC 3339 instant (after 2000, at most a day ahead of
/// this host), else this host's clock when the listing started. Either way the next run asks for
/// what changed since then (less the overlap), and never stays a full sync by accident.
fn high_water_mark(reported: Option<&str>, listing_started: SystemTime) -> (String, bool) {
    let host_clock = || time::format_seconds(listing_started);
    let Some(reported) = reported else {
        tracing::warn!(
            "the connector reported no server time for the findings listing; the next \
             incremental sync starts from this host's clock at the listing's start ({})",
            host_clock()
        );
        return (host_clock(), true);
    };
    let earliest = SystemTime::UNIX_EPOCH + Duration::from_secs(946_684_800);
    let latest = listing_started + Duration::from_secs(86_400);
    match time::parse(reported) {
        Some(t) if (earliest..=latest).contains(&t) => (reported.to_string(), false),
        _ => {
            tracing::warn!(
                "the connector reported an implausible server time {:?} for the findings \
                 listing; using this host's clock at the listing's start ({})",
                printable(reported, 64),
                host_clock()
            );
            (host_clock(), true)
        }
    }
}

/// The output and state store a run writes to: a database output opened for this connector and
/// tenant serves as both (so a page and its checkpoint commit together).
///
/// The rows a run may touch in a database are the operator's to choose: the tenant must be one
/// the operator set (a component's default for it is a claim), and the (connector, tenant) must
/// belong to this component build or be handed to it (`adopt`).
fn bind_output(
    opts: &SyncOptions,
    connector: &Connector,
    spec: &ConnectorSpec,
    resolved: &Resolved,
    locks: &mut Vec<RunLock>,
) -> Result<(Output, Option<Arc<dyn StateStore>>), Failure> {
    let Output::Database(database) = &opts.output else {
        return Ok((opts.output.clone(), opts.state.clone()));
    };
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
    Ok(match database {
        Database::Sqlite(path) => {
            let what = format!(
                "{} / {} in sqlite:{}",
                key.connector,
                key.tenant,
                path.display()
            );
            let lock = lock::for_namespace(path, &key.connector, &key.tenant);
            locks.push(lock::take(&lock, &what)?);
            let db = store::sqlite::open(path, key, scope)?;
            db.bind(&owner, opts.adopt)?;
            both(db)
        }
        Database::Postgres(url) => {
            let tls = tls_client_config(ca_pem(&resolved.host)?.as_deref())
                .map_err(|e| Failure::Config(format!("setting `ca-file`: {e}")))?;
            let db = store::postgres::open(url, key, scope, tls)?;
            db.bind(&owner, opts.adopt)?;
            both(db)
        }
    })
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
fn both<B: store::Backend>(db: DbStore<B>) -> (Output, Option<Arc<dyn StateStore>>) {
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

fn open_sink(
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
fn partial_note(opts: &SyncOptions) -> Option<String> {
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

/// Maps the connector's error to the exit-code family it belongs to. Every text in it is the
/// component's, so it is made printable and bounded before it reaches a terminal or a summary.
/// A 404 points at the setting that names the tenant, when the connector declares one.
pub fn connector_failure(e: ConnectorError, session: &Session, spec: &ConnectorSpec) -> Failure {
    if let Some(why) = session.last_denial() {
        return Failure::Guest(format!("the sandbox refused a request: {why}"));
    }
    if let Some(why) = session.last_unrecorded() {
        return Failure::Upstream(format!(
            "the cassette cannot answer a request the component made ({why}); a replay \
             answers only what was recorded"
        ));
    }
    let e = printable_error(e);
    match e {
        ConnectorError::InvalidConfig(m) => Failure::Config(m),
        ConnectorError::Unauthorized(m) | ConnectorError::Forbidden(m) => Failure::Auth(m),
        ConnectorError::NotFound(m) => Failure::Config(with_tenant_hint(m, spec)),
        ConnectorError::RateLimited(r) => Failure::Upstream(match r.retry_after_seconds {
            Some(s) => format!(
                "{}: quota exhausted, resets in {s} s ({})",
                r.endpoint, r.message
            ),
            None => format!(
                "{}: rate limited and retries ran out ({})",
                r.endpoint, r.message
            ),
        }),
        ConnectorError::Upstream(u) => {
            Failure::Upstream(format!("{}: HTTP {}: {}", u.endpoint, u.status, u.message))
        }
        ConnectorError::Transport(m) => Failure::Upstream(m),
        ConnectorError::MalformedResponse(m) => {
            Failure::Upstream(format!("{}: malformed response: {}", m.endpoint, m.detail))
        }
        ConnectorError::InvalidCursor(m) => Failure::Upstream(m),
    }
}

/// A 404's message, pointing at the tenant setting unless the connector's message names it.
fn with_tenant_hint(message: String, spec: &ConnectorSpec) -> String {
    match &spec.tenant_setting {
        Some(tenant) if !message.contains(&format!("`{tenant}`")) => {
            format!("{message}; check the `{}` setting", printable(tenant, 64))
        }
        _ => message,
    }
}

fn printable_error(e: ConnectorError) -> ConnectorError {
    let p = |s: String| printable(&s, MAX_MESSAGE_CHARS);
    match e {
        ConnectorError::InvalidConfig(m) => ConnectorError::InvalidConfig(p(m)),
        ConnectorError::Unauthorized(m) => ConnectorError::Unauthorized(p(m)),
        ConnectorError::Forbidden(m) => ConnectorError::Forbidden(p(m)),
        ConnectorError::NotFound(m) => ConnectorError::NotFound(p(m)),
        ConnectorError::RateLimited(r) => ConnectorError::RateLimited(RateLimit {
            endpoint: p(r.endpoint),
            message: p(r.message),
            ..r
        }),
        ConnectorError::Upstream(u) => ConnectorError::Upstream(UpstreamFailure {
            endpoint: p(u.endpoint),
            message: p(u.message),
            ..u
        }),
        ConnectorError::Transport(m) => ConnectorError::Transport(p(m)),
        ConnectorError::MalformedResponse(m) => ConnectorError::MalformedResponse(Malformed {
            endpoint: p(m.endpoint),
            detail: p(m.detail),
        }),
        ConnectorError::InvalidCursor(m) => ConnectorError::InvalidCursor(p(m)),
    }
}

/// A run whose component had requests refused is not complete, even if the component carried
/// on: what it meant to fetch is missing. Says how many, to where, and the last reason.
fn refusals(stats: &Stats) -> Result<(), Failure> {
    let denied = stats.denied.load(Ordering::Relaxed);
    if denied == 0 {
        return Ok(());
    }
    let by_origin = stats
        .denied_by_origin
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(origin, n)| format!("{n} to {origin}"))
        .collect::<Vec<_>>()
        .join(", ");
    let last = stats
        .last_denial
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default();
    Err(Failure::Guest(format!(
        "the sandbox refused {denied} of the component's requests ({by_origin}); last: {last}"
    )))
}

/// `mark - overlap`, as RFC 3339 UTC.
fn minus(mark: &str, overlap: Duration) -> Result<String, Failure> {
    let t = time::parse(mark).ok_or_else(|| {
        Failure::Config(format!(
            "state: high-water mark {:?} is not an RFC 3339 UTC time; pass --full",
            printable(mark, 64)
        ))
    })?;
    let since = t.checked_sub(overlap).unwrap_or(SystemTime::UNIX_EPOCH);
    Ok(time::format_seconds(since))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_404_points_at_the_tenant_setting_once() {
        let spec = ConnectorSpec {
            name: "c".into(),
            version: "0".into(),
            vendor: "V".into(),
            description: String::new(),
            settings: vec![],
            base_url_setting: None,
            tenant_setting: Some("project".into()),
            resource_types: vec![],
        };
        assert_eq!(
            with_tenant_hint("GET /x: 404 Not Found".into(), &spec),
            "GET /x: 404 Not Found; check the `project` setting"
        );
        let named = "GET /x: 404: no such project; check `project`".to_string();
        assert_eq!(with_tenant_hint(named.clone(), &spec), named);
    }

    #[test]
    fn overlap_is_subtracted_from_the_mark() {
        assert_eq!(
            minus("2026-08-11T09:20:02.113Z", Duration::from_secs(3600)).unwrap(),
            "2026-08-11T08:20:02Z"
        );
        assert!(minus("last tuesday", Duration::ZERO).is_err());
    }
}
