//! How a run fails, and the exit code each failure maps to (docs/reference.md, "Exit codes").

use std::fmt;

/// A failure the user can act on. The message never contains a secret: everything that reaches
/// the user passes through [`crate::sandbox::redact::Secrets::redact`] on the way out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Exit 2: bad command line, configuration or setting.
    Config(String),
    /// Exit 3: the vendor refused the credentials (401) or their permissions (403).
    Auth(String),
    /// Exit 4: the vendor or the network failed, after retries.
    Upstream(String),
    /// Exit 5: the component misbehaved: trapped, hit a limit, broke the contract.
    Guest(String),
    /// Exit 1: the host itself could not do its job (I/O on output or state, ...).
    Host(String),
    /// Exit 130: stopped on request (SIGINT / SIGTERM) at a page boundary.
    Interrupted(String),
    /// Exit 75 (`EX_TEMPFAIL`): another run holds the state or output; this one wrote nothing
    /// and may simply run again later.
    Busy(String),
}

impl Failure {
    /// The process exit code of this family (see the CLI's help).
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Host(_) => 1,
            Failure::Config(_) => 2,
            Failure::Auth(_) => 3,
            Failure::Upstream(_) => 4,
            Failure::Guest(_) => 5,
            Failure::Interrupted(_) => 130,
            Failure::Busy(_) => 75,
        }
    }

    /// What went wrong, without the family.
    pub fn message(&self) -> &str {
        match self {
            Failure::Config(m)
            | Failure::Auth(m)
            | Failure::Upstream(m)
            | Failure::Guest(m)
            | Failure::Host(m)
            | Failure::Interrupted(m)
            | Failure::Busy(m) => m,
        }
    }

    /// The same failure with its message rewritten (e.g. redacted).
    pub fn map_message(self, f: impl FnOnce(&str) -> String) -> Failure {
        match self {
            Failure::Config(m) => Failure::Config(f(&m)),
            Failure::Auth(m) => Failure::Auth(f(&m)),
            Failure::Upstream(m) => Failure::Upstream(f(&m)),
            Failure::Guest(m) => Failure::Guest(f(&m)),
            Failure::Host(m) => Failure::Host(f(&m)),
            Failure::Interrupted(m) => Failure::Interrupted(f(&m)),
            Failure::Busy(m) => Failure::Busy(f(&m)),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Failure {}

/// A result whose error is a [`Failure`].
pub type Result<T, E = Failure> = std::result::Result<T, E>;

/// An error and its causes, `: `-separated, each said once (reqwest repeats its inner errors;
/// tokio-postgres does not print them at all).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in causes(e) {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// `e` and every error under it. An `io::Error` wrapping another error is descended into
/// (its `source` skips the wrapped error itself: rustls's arrive that way, wrapped twice).
pub fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| match e.downcast_ref::<std::io::Error>() {
        Some(io) => io
            .get_ref()
            .map(|inner| inner as &(dyn std::error::Error + 'static)),
        None => e.source(),
    })
}
