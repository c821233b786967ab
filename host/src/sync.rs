//! One sync: configure the component, page through resources then findings, write each page and
//! checkpoint it, and finish with a summary line.
//!
//! Ordering is what makes a run safe to kill: a page's records are written and fsynced before the
//! checkpoint that covers them is saved, and a resumed run truncates the output back to the last
//! checkpoint. So a page is in the output once, or not at all.
//!
//! This file is the page loop alone. Around it, one module per decision:
//! - [`options`](SyncOptions): what a sync is asked to do, and every default of it;
//! - `bind`: what a run touches before its first page (the request path, the output and state
//!   store, the locks, the checkpoint it may resume);
//! - `paging`: the paging contract a listing must keep, and the high-water mark it leaves;
//! - `admit`: the records a page may carry into the output;
//! - `writer`: the output half (render, write, commit, checkpoint), on a thread of its own;
//! - `failure`: a failed call as the exit-code family it belongs to, its text made safe.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};

use crate::engine::{Component, Guarded, Session};
use crate::error::Failure;
use crate::lock::RunLock;
use crate::mutants::{Duty, skips};
use crate::output::{Counts, Models, Renderer, Sink, Summary, id_key};
use crate::sandbox::Stats;
use crate::sandbox::http::SandboxHttp;
use crate::sandbox::limits::Limits;
use crate::settings::Resolved;
use crate::state::{Checkpoint, MAX_SKIP_REASONS, Phase};
use crate::text::{MAX_MESSAGE_CHARS, printable};
use crate::wit::{ConnectorError, ConnectorSpec, FindingPage, FindingQuery, SkippedRecord};

pub(crate) mod admit;
mod bind;
mod failure;
mod options;
pub(crate) mod paging;
mod writer;

use bind::partial_note;
pub use bind::{MAX_TENANT_BYTES, sandbox_http};
pub use failure::connector_failure;
pub use options::{
    DEFAULT_FORMAT, DEFAULT_MODELS, DEFAULT_OVERLAP_SECS, DEFAULT_STALE, DEFAULT_WRITE, Network,
    SyncOptions,
};
pub use paging::MAX_CURSOR_BYTES;
use paging::{CursorTrail, PageLimits, high_water_mark, minus};
use writer::{Page, PageWriter, Pipeline, Progress, Records, Saved};
pub use writer::{PageProgress, ProgressSink};

/// How a run ended.
pub struct SyncReport {
    /// The run's summary, as its last line says it.
    pub summary: Summary,
    /// Why the run did not complete, when it did not.
    pub failure: Option<Failure>,
}

/// Runs one sync to completion or to its first failure. Never panics on guest or network input.
pub async fn run(
    connector: &Component,
    spec: &ConnectorSpec,
    resolved: &Resolved,
    opts: &SyncOptions,
) -> SyncReport {
    let started = Instant::now();
    let stats = Arc::new(Stats::default());
    let mut run = Listings {
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
struct Listings<'a> {
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
    connector: &Component,
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

impl Listings<'_> {
    async fn execute(
        &mut self,
        connector: &Component,
        resolved: &Resolved,
        opts: &SyncOptions,
        stats: Arc<Stats>,
        writer: impl FnOnce(Box<dyn Sink + Send>, Option<Saved>, Counts) -> PageWriter,
    ) -> Result<(), Failure> {
        let bound = bind::bind(opts, connector, self.spec, resolved)?;
        self.locks = bound.locks;
        let state = bound.state;
        let checkpoint = state.as_ref().and_then(|(_, s)| s.checkpoint.clone());
        self.high_water_mark = state.as_ref().and_then(|(_, s)| s.high_water_mark.clone());
        let updated_since = self.plan(checkpoint.as_ref(), opts)?;
        let sink = bind::open_sink(&bound.output, opts.write, checkpoint.as_ref())?;
        let counts = checkpoint.as_ref().map(|c| c.counts).unwrap_or_default();
        let mut writer = writer(sink, state, counts);
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
        self.both_listings(session, ahead, checkpoint, updated_since)
            .await
            .map_err(|f| {
                failure::explain_replay(f, self.mode == "incremental", &opts.network, &stats)
            })?;
        self.pipeline.settle().await?;
        failure::refusals(&stats)?;
        if let Some(writer) = self.pipeline.writer() {
            writer.complete(self.high_water_mark.clone())?;
        }
        Ok(())
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
    /// Lists the resources, then the findings. With `ahead` (see [`Listings::overlaps`]), the first
    /// findings page is fetched and mapped on that instance while the resources are listed
    /// (the listings are independent, and this hides the round trip that starts the findings
    /// listing); its records wait until the resources are committed, then the findings listing
    /// carries on there. An interrupted run discards that page and lists it again on resume.
    async fn both_listings(
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
                Some((mark, offset)) => mark.finding_ids(offset).map_err(|e| {
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
    /// first page's answer, already asked for (and when), see [`Listings::both_listings`].
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

impl Listings<'_> {
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
