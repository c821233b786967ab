//! Socket.dev security connector.
//!
//! Compiled for `wasm32-wasip2` this crate is a component exporting the `unified-security`
//! connector world (see `wit/connector.wit`). It is built on the guest SDK (`sdk/`), which holds the
//! bindings, the WASI HTTP transport and the export glue; everything here is vendor logic in
//! plain Rust that unit-tests natively:
//!
//! - [`api`]: the Socket REST client, one request per page, over an [`api::Http`] seam;
//! - [`model`]: Socket's JSON shapes, parsed leniently;
//! - [`records`], [`normalize`] and [`mapping`]: Socket records to the unified model, an
//!   unreadable record left out with its reason;
//! - [`paging`]: when a listing continues and when it is done;
//! - [`settings`]: the connector's settings, their validation and the filters they make;
//! - [`ids`], [`dates`] and [`purl`]: deterministic ids, RFC 3339 timestamps, Package URLs.

/// The unified model's types, as generated from the WIT contract (see `sdk/`).
pub use connector_sdk::wit;

pub mod api;
pub mod dates;
pub mod ids;
pub mod mapping;
pub mod model;
pub mod normalize;
pub mod paging;
pub mod purl;
pub mod records;
pub mod settings;
pub mod split;

#[cfg(target_arch = "wasm32")]
mod component;
