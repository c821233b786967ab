//! The sandbox a connector runs in: outgoing HTTP policy, credentials, transports and limits.

pub mod budget;
pub mod cassette;
pub mod credential;
pub mod fair;
pub mod http;
pub mod limits;
pub mod outgoing;
pub mod policy;
pub mod redact;
/// The retry policy, shared with the guest SDK (`sdk/src/retry.rs`).
pub use connector_sdk::retry;
pub mod transport;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

/// Counters shared by the HTTP layers of one run.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests the guest made, refused ones included (they count toward `max-requests`).
    pub requests: AtomicU64,
    /// Extra attempts made by the retry layer.
    pub retries: AtomicU64,
    /// Requests the sandbox refused.
    pub denied: AtomicU64,
    /// Why the most recent refusal happened, for the run's error message.
    pub last_denial: Mutex<Option<String>>,
    /// Refusals per origin (the first [`MAX_DENIED_ORIGINS`] origins; the rest under `other`),
    /// so a component that hammers the sandbox costs one log line per origin, not one per try.
    pub denied_by_origin: Mutex<BTreeMap<String, u64>>,
    /// The last request a replayed cassette had no recording for (or could not answer): the
    /// component sees a failed request, the operator is told this.
    pub last_unrecorded: Mutex<Option<String>>,
}

/// Origins counted one by one in [`Stats::denied_by_origin`].
pub const MAX_DENIED_ORIGINS: usize = 32;

impl Stats {
    /// Counts one refusal of a request to `origin`; true when it is the first for that origin.
    pub fn count_denial(&self, origin: &str, why: &str) -> bool {
        self.denied
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *self.last_denial.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.to_string());
        let mut by = self
            .denied_by_origin
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let key = if by.contains_key(origin) || by.len() < MAX_DENIED_ORIGINS {
            origin
        } else {
            "other origins"
        };
        let n = by.entry(key.to_string()).or_insert(0);
        *n += 1;
        *n == 1
    }
}
