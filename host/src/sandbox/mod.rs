//! The sandbox a connector runs in: outgoing HTTP policy, credentials, transports and limits.

pub mod fixtures;
pub mod http;
pub mod limits;
pub mod policy;
pub mod retry;
pub mod transport;

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

/// Counters shared by the HTTP layers of one run.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests the guest made that the sandbox let through.
    pub requests: AtomicU64,
    /// Extra attempts made by the retry layer.
    pub retries: AtomicU64,
    /// Requests the sandbox refused.
    pub denied: AtomicU64,
    /// Why the most recent refusal happened, for the run's error message.
    pub last_denial: Mutex<Option<String>>,
}
