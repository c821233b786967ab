//! `connector-host run JOBS.toml`: every job of a jobs file, at once (see [`crate::jobs`]), and
//! the signals that stop them.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;
use serde_json::json;

use super::{runtime, trust_store};
use crate::error::Failure;
use crate::jobs::{self, Outcome};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The jobs file.
    pub jobs: PathBuf,
    /// Jobs running at once (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
    /// Where precompiled components are cached (default: $XDG_CACHE_HOME/connector-host).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile each component instead of using the cache.
    #[arg(long)]
    pub no_cache: bool,
}

pub async fn jobs_cmd(a: RunArgs) -> Result<i32, Failure> {
    let specs = jobs::read(&a.jobs)?;
    let runtime = runtime(a.no_cache, a.cache_dir)?;
    let parallel = a
        .parallel
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let stop = Arc::new(AtomicBool::new(false));
    stop_on_signals(stop.clone());
    let trust = trust_store()?;
    let highest = jobs::run_all(&runtime, specs, parallel, trust, stop, print_outcome).await;
    Ok(highest)
}

/// One JSON line per finished job: its name, exit code and summary (and error, if it failed
/// before its sync began).
fn print_outcome(o: Outcome) {
    let line = json!({
        "job": o.name,
        "exit_code": o.report.exit_code,
        "summary": o.report.summary,
        "error": o.report.failure.as_ref().map(|f| f.message()),
    });
    println!("{line}");
}

/// The first SIGINT or SIGTERM sets `stop` (every run ends at its next page boundary with its
/// checkpoint saved); a second one exits at once.
pub fn stop_on_signals(stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            return;
        };
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            if stop.swap(true, Ordering::Relaxed) {
                std::process::exit(130);
            }
            tracing::warn!("stopping at the next page boundary (again to stop at once)");
        }
    });
}
