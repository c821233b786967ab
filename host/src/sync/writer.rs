//! The output half of a sync: render a page, write it, make it durable, then save the
//! checkpoint that covers it.
//!
//! It runs on a blocking thread while the component fetches and maps the next page, so the two
//! halves of a run overlap. Pages are committed strictly in order and at most one is in flight,
//! so a run holds two pages at most whatever the organisation's size, and the crash-safety
//! argument of [`super`] is unchanged: a checkpoint is saved only after its page is durable.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::task::JoinHandle;

use crate::error::Failure;
use crate::output::{Batch, Counts, Renderer, Sink, Summary, summary_line};
use crate::sandbox::Stats;
use crate::sandbox::redact::Secrets;
use crate::state::{Checkpoint, MAX_SKIP_REASONS, State, StateStore};
use crate::wit::{Asset, Finding};

/// Rendered records are handed to the sink in batches of about this many bytes, so the host
/// never holds a whole page of text (two records per finding, each carrying its `vendor_data`).
pub const CHUNK: usize = 1 << 20;

/// One page of records and the checkpoint that covers it.
pub struct Page {
    pub records: Records,
    /// What this page adds to the run's counts.
    pub counts: Counts,
    pub checkpoint: Checkpoint,
    /// Why records of this page were skipped (printable, bounded; the first few only).
    pub skipped: Vec<String>,
}

pub enum Records {
    Resources(Vec<Asset>),
    Findings(Vec<Finding>),
}

/// The state store and the state this run keeps in it.
pub type Saved = (Arc<dyn StateStore>, State);

/// Owns everything a commit touches: the sink, the state file, the progress line.
pub struct PageWriter {
    pub renderer: Renderer,
    pub sink: Box<dyn Sink + Send>,
    pub state: Option<Saved>,
    /// The run's secrets, scrubbed from output should one ever appear (it cannot by design).
    pub secrets: Secrets,
    pub progress: Option<Progress>,
    /// Counts of what is durable in the output.
    pub counts: Counts,
    /// The run's first skip reasons, kept in the checkpoint for a resumed run's summary.
    pub skipped: Vec<String>,
    /// What the run's completion settled (see [`crate::output::Summary::stale_records`]).
    pub stale_records: Option<u64>,
    /// The text buffer batches are rendered into, kept from page to page.
    pub buf: Vec<u8>,
}

impl PageWriter {
    /// Renders, writes and commits `page`, then saves its checkpoint.
    pub fn commit(&mut self, page: Page) -> Result<(), Failure> {
        let mut batch = Batch::with_buffer(std::mem::take(&mut self.buf));
        match &page.records {
            Records::Resources(items) => {
                for asset in items {
                    self.renderer.resource(asset, &mut batch);
                    self.flush_if_full(&mut batch)?;
                }
            }
            Records::Findings(items) => {
                for finding in items {
                    self.renderer.finding(finding, &mut batch);
                    self.flush_if_full(&mut batch)?;
                }
            }
        }
        self.flush(&mut batch)?;
        self.buf = batch.into_buffer();
        drop(page.records);
        let mut cp = page.checkpoint;
        cp.output_offset = self.sink.commit().map_err(write_failed)?;
        cp.output = self.sink.mark();
        self.counts.add(&page.counts);
        cp.counts = self.counts;
        let room = MAX_SKIP_REASONS.saturating_sub(self.skipped.len());
        self.skipped.extend(page.skipped.into_iter().take(room));
        cp.skipped = self.skipped.clone();
        if let Some(p) = &mut self.progress {
            p.page(&self.counts);
        }
        if let Some((store, state)) = &mut self.state {
            state.checkpoint = Some(cp);
            store.save(state)?;
        }
        Ok(())
    }

    /// The run is complete: keep its high-water mark and drop the checkpoint.
    pub fn complete(&mut self, high_water_mark: Option<String>) -> Result<(), Failure> {
        if let Some((store, state)) = &mut self.state {
            state.high_water_mark = high_water_mark;
            state.checkpoint = None;
            store.save(state)?;
            self.stale_records = store.settled();
        }
        if let Some(n) = self.stale_records.filter(|n| *n > 0) {
            tracing::warn!(
                "{n} records of this tenant were not in this complete full sync: settled as \
                 --stale says (closed by default)"
            );
        }
        Ok(())
    }

    /// Writes the summary as the last line.
    pub fn finish(&mut self, summary: &Summary) -> Result<(), Failure> {
        if let Some(p) = &self.progress {
            p.done();
        }
        self.sink
            .summary(summary, &summary_line(summary))
            .map_err(write_failed)?;
        self.sink.commit().map_err(write_failed)?;
        self.sink.finish(summary.complete).map_err(write_failed)
    }

    fn flush_if_full(&mut self, batch: &mut Batch<'_>) -> Result<(), Failure> {
        if batch.text().len() >= CHUNK {
            self.flush(batch)?;
        }
        Ok(())
    }

    /// Hands the rendered records to the sink.
    fn flush(&mut self, batch: &mut Batch<'_>) -> Result<(), Failure> {
        if batch.redact(&self.secrets) {
            // Unreachable by design (the guest never holds a secret); kept as the last line.
            tracing::error!("a record carried a secret; it was redacted");
        }
        if !batch.is_empty() {
            self.sink.write(batch).map_err(write_failed)?;
        }
        batch.clear();
        Ok(())
    }
}

fn write_failed(e: std::io::Error) -> Failure {
    Failure::Host(format!("writing output: {e}"))
}

/// A commit in flight: the writer comes back with its result.
type InFlight = JoinHandle<(Box<PageWriter>, Result<(), Failure>)>;

/// Runs each commit on a blocking thread, one at a time, in order.
#[derive(Default)]
pub struct Pipeline {
    idle: Option<Box<PageWriter>>,
    busy: Option<InFlight>,
}

impl Pipeline {
    pub fn new(writer: PageWriter) -> Pipeline {
        Pipeline {
            idle: Some(Box::new(writer)),
            busy: None,
        }
    }

    /// Starts committing `page` once the page before it is committed; returns that page's
    /// failure, if it failed.
    pub async fn submit(&mut self, page: Page) -> Result<(), Failure> {
        self.settle().await?;
        let Some(mut writer) = self.idle.take() else {
            return Err(Failure::Host("no output is open".to_string()));
        };
        self.busy = Some(tokio::task::spawn_blocking(move || {
            let result = writer.commit(page);
            (writer, result)
        }));
        Ok(())
    }

    /// Waits for the page in flight, if any; its failure, if it failed.
    pub async fn settle(&mut self) -> Result<(), Failure> {
        if let Some(busy) = self.busy.take() {
            let (writer, result) = busy
                .await
                .map_err(|e| Failure::Host(format!("the output writer stopped: {e}")))?;
            self.idle = Some(writer);
            result?;
        }
        Ok(())
    }

    /// The writer, once settled (`None` if no output was opened, or it is still busy).
    pub fn writer(&mut self) -> Option<&mut PageWriter> {
        self.idle.as_deref_mut()
    }
}

/// Reports each committed page to the run's [`ProgressSink`].
pub struct Progress {
    pub sink: Arc<dyn ProgressSink>,
    pub stats: Arc<Stats>,
    pub started: Instant,
    pub pages: u64,
}

impl Progress {
    fn page(&mut self, c: &Counts) {
        self.pages += 1;
        self.sink.page(&PageProgress {
            pages: self.pages,
            counts: *c,
            requests: self.stats.requests.load(Ordering::Relaxed),
            retries: self.stats.retries.load(Ordering::Relaxed),
            elapsed: self.started.elapsed(),
        });
    }

    fn done(&self) {
        self.sink.finished();
    }
}

/// Where a run reports how far it got: after every committed page, and once at the end.
pub trait ProgressSink: Send + Sync {
    /// A page and everything before it is durable.
    fn page(&self, progress: &PageProgress);
    /// The run has ended.
    fn finished(&self) {}
}

/// What is durable after a page.
#[derive(Debug, Clone, Copy)]
pub struct PageProgress {
    /// Pages committed so far.
    pub pages: u64,
    /// Records durable so far.
    pub counts: Counts,
    /// HTTP requests so far.
    pub requests: u64,
    /// Retries so far.
    pub retries: u64,
    /// Time since the run started.
    pub elapsed: std::time::Duration,
}
