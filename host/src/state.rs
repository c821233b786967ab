//! Sync state (`--state FILE`): the high-water mark for incremental sync and the checkpoint of
//! an unfinished run. Written atomically (temp file, fsync, rename) and only after the records it
//! covers are durable in the output.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Failure;
use crate::output::{Counts, OutputMark};

const VERSION: u32 = 1;

/// What a run keeps between runs: the high-water mark, and the checkpoint of an unfinished run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The state format's version.
    pub version: u32,
    /// Digest of the non-secret settings the state belongs to.
    pub fingerprint: String,
    /// The server's clock at the start of the last complete run (RFC 3339 UTC).
    pub high_water_mark: Option<String>,
    /// Present while a run is unfinished.
    pub checkpoint: Option<Checkpoint>,
}

/// Which listing a checkpoint is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// The resources listing.
    Resources,
    /// The findings listing.
    Findings,
}

/// Where an unfinished run stands: everything before `cursor` is in the output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Which listing the run was in.
    pub phase: Phase,
    /// The cursor to ask for next; `None` starts the phase.
    pub cursor: Option<String>,
    /// The run's incremental lower bound, kept so a resumed run asks the same question.
    pub updated_since: Option<String>,
    /// The server clock at the start of this run's findings listing.
    pub query_started_at: Option<String>,
    /// Output file length after the last completed page; a resumed run truncates back to it.
    pub output_offset: Option<u64>,
    /// Which file that offset is in, and the digest of its bytes before it: a run resumes only
    /// the file the checkpoint was written against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputMark>,
    /// What is durable in the output up to this checkpoint.
    pub counts: Counts,
    /// `query_started_at` is the host's clock: the component did not report the server's.
    #[serde(default)]
    pub mark_from_host_clock: bool,
    /// The first reasons records were skipped for (at most [`MAX_SKIP_REASONS`]).
    #[serde(default)]
    pub skipped: Vec<String>,
}

/// Skip reasons a run keeps for its summary; the count goes on past them.
pub const MAX_SKIP_REASONS: usize = 10;

/// Where a run's state lives between runs: its high-water mark and its checkpoint. A file by
/// default ([`StateFile`]); an embedder may keep it anywhere durable (a database row).
pub trait StateStore: Send + Sync {
    /// The saved state; `None` when there is none yet.
    fn load(&self) -> Result<Option<State>, Failure>;
    /// Saves durably: once it returns, the state survives a crash.
    fn save(&self, state: &State) -> Result<(), Failure>;
    /// Where it is, for messages.
    fn location(&self) -> String;
    /// How many records the run's last save closed or deleted as no longer seen (a database
    /// after a complete full sync); `None` where nothing was settled.
    fn settled(&self) -> Option<u64> {
        None
    }
    /// Takes this state for one run (a lock file); `None` where the store needs no lock of
    /// the host's (a database locks itself).
    fn lock(&self) -> Result<Option<crate::lock::RunLock>, Failure> {
        Ok(None)
    }
}

/// State in a JSON file, replaced atomically.
pub struct StateFile(pub PathBuf);

impl StateStore for StateFile {
    fn load(&self) -> Result<Option<State>, Failure> {
        State::load(&self.0)
    }

    fn save(&self, state: &State) -> Result<(), Failure> {
        state.save(&self.0)
    }

    fn location(&self) -> String {
        self.0.display().to_string()
    }

    fn lock(&self) -> Result<Option<crate::lock::RunLock>, Failure> {
        let what = format!("the state {}", self.0.display());
        crate::lock::take(&crate::lock::beside(&self.0), &what).map(Some)
    }
}

impl State {
    /// A state for the settings `fingerprint` names, with no mark or checkpoint.
    pub fn new(fingerprint: String) -> State {
        State {
            version: VERSION,
            fingerprint,
            high_water_mark: None,
            checkpoint: None,
        }
    }

    /// Reads the state file; a missing file is `None`.
    pub fn load(path: &Path) -> Result<Option<State>, Failure> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Failure::Host(format!(
                    "cannot read state {}: {e}",
                    path.display()
                )));
            }
        };
        let state: State = serde_json::from_str(&text).map_err(|e| {
            Failure::Config(format!(
                "state {} is not a state file ({e}); remove it or pass --full",
                path.display()
            ))
        })?;
        if state.version != VERSION {
            return Err(Failure::Config(format!(
                "state {} has version {}, this host writes {VERSION}",
                path.display(),
                state.version
            )));
        }
        Ok(Some(state))
    }

    /// Writes the state to `path`, atomically and durably.
    pub fn save(&self, path: &Path) -> Result<(), Failure> {
        let fail = |e: std::io::Error| {
            Failure::Host(format!("cannot write state {}: {e}", path.display()))
        };
        let text = serde_json::to_vec_pretty(self).map_err(|e| fail(std::io::Error::other(e)))?;
        crate::atomic_file::write(path, &text).map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_missing_is_none() {
        let dir = std::env::temp_dir().join(format!("state-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.json");
        assert_eq!(State::load(&path).unwrap(), None);
        let mut s = State::new("abc".into());
        s.checkpoint = Some(Checkpoint {
            phase: Phase::Findings,
            cursor: Some("open:x".into()),
            updated_since: None,
            query_started_at: Some("2026-01-01T00:00:00Z".into()),
            output_offset: Some(42),
            output: None,
            counts: Counts {
                resources: 1,
                issues: 2,
                findings: 2,
                vendor_records: 2,
                skipped_records: 1,
            },
            mark_from_host_clock: true,
            skipped: vec!["items[3] (id \"a-1\"): title: expected text".into()],
        });
        s.save(&path).unwrap();
        assert_eq!(State::load(&path).unwrap(), Some(s));
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(State::load(&path), Err(Failure::Config(_))));
    }
}
