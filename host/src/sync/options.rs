//! What a sync is asked to do, and one place for every default of it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::ProgressSink;
use crate::output::{Format, Models, Output, WriteMode};
use crate::state::StateStore;
use crate::store::Stale;

/// Where the component's requests go.
#[derive(Debug, Clone)]
pub enum Network {
    /// The network, through the sandbox's allow-list.
    Live,
    /// Replay a cassette; a request with nothing recorded fails (see `TransportError::Cassette`).
    Replay(PathBuf),
    /// Live, and write what came back into a cassette.
    Record(PathBuf),
}

/// What `--models` is unless set: every kind of record.
pub const DEFAULT_MODELS: &str = "resources,issues,findings";
/// What `--format` is unless set.
pub const DEFAULT_FORMAT: &str = "ndjson";
/// What `--write` is unless set (see [`WriteMode`]).
pub const DEFAULT_WRITE: &str = "snapshot";
/// What `--stale` is unless set (see [`Stale`]).
pub const DEFAULT_STALE: &str = "close";
/// What `--overlap-secs` is unless set: an hour taken off the high-water mark.
pub const DEFAULT_OVERLAP_SECS: u64 = 3600;

/// How one sync runs; [`SyncOptions::new`] gives the defaults the CLI and a jobs file use.
#[derive(Clone)]
pub struct SyncOptions {
    /// Which record kinds to write.
    pub models: Models,
    /// The shape of the records.
    pub format: Format,
    /// Where the records go.
    pub output: Output,
    /// How a file output is written: a snapshot replaced when the run is complete, or appended
    /// to (see [`crate::output::WriteMode`]).
    pub write: WriteMode,
    /// Where the high-water mark and checkpoint live between runs (e.g. a [`crate::StateFile`]); a
    /// database output keeps them itself.
    pub state: Option<Arc<dyn StateStore>>,
    /// What a database output does with records a complete full sync did not see.
    pub stale: Stale,
    /// List everything, whatever the high-water mark (a resumed run's checkpoint is dropped).
    pub full: bool,
    /// With a database output: hand the rows of this connector and tenant to this component
    /// build, though another build wrote them (after an upgrade). See [`crate::store`].
    pub adopt: bool,
    /// Subtracted from the high-water mark, to catch updates that raced the last run.
    pub overlap: Duration,
    /// Where the component's requests go.
    pub network: Network,
    /// Told about every committed page (the CLI redraws a status line on a terminal).
    pub progress: Option<Arc<dyn ProgressSink>>,
    /// Once set, the run stops at the next page boundary, its checkpoint saved, and fails with
    /// [`crate::error::Failure::Interrupted`] (SIGINT / SIGTERM in the CLI).
    pub stop: Option<Arc<AtomicBool>>,
}

impl SyncOptions {
    /// A sync into `output` with every default: all models as NDJSON, a snapshot, incremental
    /// after the first run with an hour of overlap, unseen records closed, the live network, no
    /// state file, no progress reports and no stop flag.
    pub fn new(output: Output) -> SyncOptions {
        SyncOptions {
            models: Models::default(),
            format: Format::Ndjson,
            output,
            write: WriteMode::default(),
            state: None,
            stale: Stale::default(),
            full: false,
            adopt: false,
            overlap: Duration::from_secs(DEFAULT_OVERLAP_SECS),
            network: Network::Live,
            progress: None,
            stop: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults the CLI shows in its help are the ones [`SyncOptions::new`] uses.
    #[test]
    fn the_named_defaults_are_the_defaults() {
        let o = SyncOptions::new(Output::Stdout);
        assert_eq!(Models::parse(DEFAULT_MODELS).unwrap(), o.models);
        assert_eq!(Format::parse(DEFAULT_FORMAT).unwrap(), o.format);
        assert_eq!(WriteMode::parse(DEFAULT_WRITE).unwrap(), o.write);
        assert_eq!(Stale::parse(DEFAULT_STALE).unwrap(), o.stale);
        assert_eq!(o.overlap.as_secs(), DEFAULT_OVERLAP_SECS);
    }
}
