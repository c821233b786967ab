//! `connector-host`: runs security-connector components in a wasmtime sandbox, as a program or
//! embedded in another runtime.
//!
//! An embedder needs only the names at the crate root: a [`Runtime`] loads a [`Component`]; a
//! [`Job`] is that component, its [`Config`] and its [`SyncOptions`]; [`run_job`] syncs it and
//! [`check`] asks the vendor whether the settings work. Records go to an [`Output`] the operator
//! names or a [`Destination`] of the embedder's own, whose [`Sink`] receives each [`Batch`] of
//! rendered records with their typed [`Columns`].
//!
//! The layers, bottom up:
//! - [`wit`]: the contract's types and bindings (`wit/connector.wit`);
//! - [`sandbox`]: what a guest may do: the HTTP allow-list and credentials, transports (live,
//!   replay, record) behind retries, and the memory / CPU meters;
//! - [`engine`]: the [`Runtime`] (one per wasmtime engine), loading and calling a component
//!   under those limits;
//! - [`settings`], [`secrets`], [`state`], [`output`], [`store`]: configuration and the
//!   operator's secret grants in, checkpoints and records out;
//! - [`sync`]: the page loop that ties them together; [`job`]: one sync from a component and
//!   its configuration; [`jobs`]: many at once, from a jobs file;
//! - `cli` (feature `cli`, on by default): the command line, its logging and its exit codes.
//!   An embedder turns the feature off: the library then never exits the process, installs no
//!   global logger and writes nothing to the terminal itself.
//!
//! Features `sqlite` and `postgres` (on by default) build the database outputs; an embedder
//! that leaves one out gets a clear error naming the feature from a run that asks for it.

#![warn(missing_docs)]

pub(crate) mod atomic_file;
pub(crate) mod cache;
#[cfg(feature = "cli")]
pub(crate) mod checkup;
#[cfg(feature = "cli")]
pub mod cli;
pub(crate) mod contract;
pub mod engine;
pub mod error;
pub mod job;
pub mod jobs;
pub(crate) mod lock;
pub(crate) mod mutants;
pub mod output;
pub mod sandbox;
pub mod secrets;
pub mod settings;
pub mod state;
pub mod store;
pub mod sync;
pub(crate) mod text;
pub(crate) mod time;
pub mod wit;

pub use contract::describe;
pub use engine::{Component, Runtime, Session, default_cache_dir};
pub use error::Failure;
pub use job::{CheckOutcome, Job, JobReport, SecretSources, check, run as run_job};
pub use output::{
    Batch, Columns, Counts, Database, Destination, Format, Kind, Models, Output, Record, Sink,
    Summary, WriteMode,
};
pub use settings::{Config, RawSettings};
pub use state::{StateFile, StateStore};
pub use store::Stale;
pub use sync::{Network, PageProgress, ProgressSink, SyncOptions, SyncReport};
