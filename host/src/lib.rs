//! `connector-host`: runs security-connector components in a wasmtime sandbox, as a program or
//! embedded in another runtime.
//!
//! The layers, bottom up:
//! - [`sandbox`]: what a guest may do: the HTTP allow-list and credentials, transports (live,
//!   replay, record) behind retries, and the memory / CPU meters;
//! - [`engine`]: the [`engine::Runtime`] (one per wasmtime engine), loading (through [`cache`])
//!   and calling a component under those limits; [`contract`]: what its self-description must
//!   keep;
//! - [`settings`], [`secrets`], [`state`], [`output`]: configuration and the operator's secret
//!   grants in, checkpoints and records out;
//! - [`sync`]: the page loop that ties them together; [`job`]: one sync from a component and
//!   its configuration; [`jobs`]: many at once, from a jobs file;
//! - [`text`]: a component's text made safe for a terminal or a log;
//! - `cli` (feature `cli`, on by default): the command line, its logging and its exit codes.
//!   An embedder turns the feature off: the library then never exits the process, installs no
//!   global logger and writes nothing to the terminal itself.

pub mod atomic_file;
pub mod cache;
pub mod checkup;
#[cfg(feature = "cli")]
pub mod cli;
pub mod contract;
pub mod engine;
pub mod error;
pub mod job;
pub mod jobs;
pub mod lock;
pub(crate) mod mutants;
pub mod output;
pub mod sandbox;
pub mod secrets;
pub mod settings;
pub mod state;
pub mod store;
pub mod sync;
pub mod text;
pub mod time;
