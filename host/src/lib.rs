//! `connector-host`: runs security-connector components in a wasmtime sandbox.
//!
//! The layers, bottom up:
//! - [`sandbox`]: what a guest may do: the HTTP allow-list and credential hook, transports (live,
//!   replay, record) behind retries, and the memory / CPU meters;
//! - [`engine`]: loading (through [`cache`]) and calling a component under those limits;
//! - [`settings`], [`secrets`], [`state`], [`output`]: configuration and the operator's secret
//!   grants in, checkpoints and NDJSON out;
//! - [`sync`]: the page loop that ties them together; [`cli`]: the command line;
//! - [`text`]: a component's text made safe for a terminal or a log.

pub mod cache;
pub mod cli;
pub mod engine;
pub mod error;
pub mod output;
pub mod sandbox;
pub mod secrets;
pub mod settings;
pub mod state;
pub mod sync;
pub mod text;
