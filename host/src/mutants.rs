//! Duties a debug build of the host can be told to skip, one at a time, so the conformance kit
//! (`conformance/`) proves that each of its checks fails on a runtime that skips that duty.
//!
//! `CONNECTOR_HOST_SKIP_DUTY=<duty>[,<duty>...]` names them. Only builds with debug assertions
//! read it: a release build (what operators deploy, and the container image) performs every
//! duty whatever its environment says.

/// A runtime duty of the contract (`wit/connector.wit`) that can be skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duty {
    /// Refuse requests to origins off the allow-list.
    AllowList,
    /// Send a secret only to its origin.
    CredentialOrigin,
    /// Drop the component's own credential headers.
    CredentialHeaders,
    /// Choose the encoding and drop the component's content negotiation.
    Negotiation,
    /// Remove echoed secrets from responses.
    Scrub,
    /// Retry transient failures.
    Retries,
    /// Wait out `Retry-After`.
    RetryAfter,
    /// Keep a request running between calls.
    HeldRequests,
    /// Refuse oversized and repeated cursors.
    Cursors,
    /// Restart a findings listing once on `invalid-cursor`.
    InvalidCursor,
    /// Skip records whose ids are unusable.
    Admission,
    /// Refuse a setting value of the wrong shape before `configure`.
    SettingShapes,
    /// Bound the component's memory.
    MemoryLimit,
}

impl Duty {
    /// The name `CONNECTOR_HOST_SKIP_DUTY` takes (read only by builds with debug assertions).
    #[cfg_attr(not(debug_assertions), allow(dead_code))]
    pub fn name(self) -> &'static str {
        match self {
            Duty::AllowList => "allow-list",
            Duty::CredentialOrigin => "credential-origin",
            Duty::CredentialHeaders => "credential-headers",
            Duty::Negotiation => "negotiation",
            Duty::Scrub => "scrub",
            Duty::Retries => "retries",
            Duty::RetryAfter => "retry-after",
            Duty::HeldRequests => "held-requests",
            Duty::Cursors => "cursors",
            Duty::InvalidCursor => "invalid-cursor",
            Duty::Admission => "admission",
            Duty::SettingShapes => "setting-shapes",
            Duty::MemoryLimit => "memory-limit",
        }
    }
}

/// This build was told to skip `duty` (never in a release build).
#[cfg(debug_assertions)]
pub fn skips(duty: Duty) -> bool {
    use std::sync::OnceLock;
    static SKIPPED: OnceLock<Vec<String>> = OnceLock::new();
    let skipped = SKIPPED.get_or_init(|| {
        let names = std::env::var("CONNECTOR_HOST_SKIP_DUTY").unwrap_or_default();
        let names: Vec<String> = names.split(',').map(|s| s.trim().to_string()).collect();
        if names.iter().any(|n| !n.is_empty()) {
            tracing::warn!("this debug build skips duties: {}", names.join(", "));
        }
        names
    });
    skipped.iter().any(|n| n == duty.name())
}

/// This build was told to skip `duty` (never in a release build).
#[cfg(not(debug_assertions))]
pub fn skips(_: Duty) -> bool {
    false
}
