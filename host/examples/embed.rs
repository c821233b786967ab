//! Embedding the host in another runtime: one [`Runtime`] on the embedder's own wasmtime
//! engine, several connectors syncing concurrently in one process, each job's progress reported
//! through the library's [`ProgressSink`] trait. Nothing here touches the process's logger or
//! exit code: the embedder decides.
//!
//! ```text
//! cargo run -p connector-host --example embed -- OUT_DIR NAME=COMPONENT,CONFIG[,CASSETTE] ...
//! ```
//!
//! Each job writes `OUT_DIR/NAME.ndjson`; CONFIG is a sync config file (`[settings]`,
//! `[secrets]`); CASSETTE, when given, replays recorded responses instead of the network. One
//! line per job on stdout: its name, exit code and record count.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use connector_host::{
    Config, Job, Network, Output, PageProgress, ProgressSink, Runtime, SecretSources, SyncOptions,
    run_job,
};

/// Counts the pages a job committed: the embedder's own view of progress.
#[derive(Default)]
struct PageCounter(AtomicU64);

impl ProgressSink for PageCounter {
    fn page(&self, p: &PageProgress) {
        self.0.store(p.pages, Ordering::Relaxed);
    }
}

fn job(
    runtime: &Runtime,
    out_dir: &Path,
    arg: &str,
) -> Result<(String, Job, Arc<PageCounter>), String> {
    let (name, rest) = arg
        .split_once('=')
        .ok_or_else(|| format!("{arg:?}: expected NAME=COMPONENT,CONFIG[,CASSETTE]"))?;
    let mut parts = rest.split(',');
    let (Some(component), Some(config)) = (parts.next(), parts.next()) else {
        return Err(format!(
            "{arg:?}: expected NAME=COMPONENT,CONFIG[,CASSETTE]"
        ));
    };
    let component = runtime
        .load(Path::new(component))
        .map_err(|f| f.to_string())?;
    let config = Config::from_toml_file(Path::new(config)).map_err(|f| f.to_string())?;
    let pages = Arc::new(PageCounter::default());
    let mut options = SyncOptions::new(Output::File(out_dir.join(format!("{name}.ndjson"))));
    options.full = true;
    if let Some(cassette) = parts.next() {
        options.network = Network::Replay(PathBuf::from(cassette));
    }
    options.progress = Some(pages.clone());
    let job = Job {
        component,
        config,
        options,
        // Other jobs share this process: no process-wide memory backstop.
        sole_instance: false,
    };
    Ok((name.to_string(), job, pages))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((out_dir, specs)) = args.split_first() else {
        eprintln!("usage: embed OUT_DIR NAME=COMPONENT,CONFIG[,CASSETTE] ...");
        return ExitCode::from(2);
    };
    // The embedder's engine, configured as connectors need; one runtime on it for every job.
    let engine = match wasmtime::Engine::new(&Runtime::engine_config()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("engine: {e}");
            return ExitCode::from(1);
        }
    };
    // Components compiled once are kept where `connector-host` keeps them, so a second start
    // loads them in about a millisecond instead of compiling them again.
    let cache = connector_host::default_cache_dir();
    let runtime = match Runtime::with_engine(engine, cache) {
        Ok(r) => r,
        Err(f) => {
            eprintln!("runtime: {f}");
            return ExitCode::from(1);
        }
    };
    let mut jobs = Vec::new();
    for spec in specs {
        match job(&runtime, Path::new(out_dir), spec) {
            Ok(j) => jobs.push(j),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    }
    // Each job in its own task: they run concurrently on the embedder's tokio runtime.
    let tasks: Vec<_> = jobs
        .into_iter()
        .map(|(name, job, pages)| {
            let task =
                tokio::spawn(async move { run_job(&job, SecretSources::process_env()).await });
            (name, pages, task)
        })
        .collect();
    let mut worst = 0;
    for (name, pages, task) in tasks {
        let Ok(report) = task.await else {
            println!("{name} exit_code=1 (the task failed)");
            worst = worst.max(1);
            continue;
        };
        let records = report.summary.as_ref().map_or(0, |s| {
            s.counts.resources + s.counts.issues + s.counts.findings
        });
        println!(
            "{name} exit_code={} records={records} pages={}",
            report.exit_code,
            pages.0.load(Ordering::Relaxed)
        );
        worst = worst.max(report.exit_code);
    }
    ExitCode::from(u8::try_from(worst).unwrap_or(1))
}
