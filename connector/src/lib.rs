//! Socket.dev security connector.
//!
//! Compiled for `wasm32-wasip2` this crate is a component exporting the `unified-security`
//! connector world (see `wit/connector.wit`). Everything but the thin [`component`] glue and the
//! waki transport is plain Rust that unit-tests natively:
//!
//! - [`api`]: the Socket REST client, one call per page, over an [`api::Http`] seam;
//! - [`model`]: Socket's JSON shapes, parsed leniently;
//! - [`records`], [`normalize`] and [`mapping`]: Socket records to the unified model, an
//!   unreadable record left out with its reason;
//! - [`paging`]: when a listing continues and when it is done;
//! - [`settings`]: the connector's settings, their validation and the filters they make;
//! - [`ids`], [`dates`] and [`purl`]: deterministic ids, RFC 3339 timestamps, Package URLs.

wit_bindgen::generate!({
    path: "../wit",
    world: "security-connector",
    additional_derives: [PartialEq],
});

/// The unified model's types, as generated from the WIT contract.
pub use unified_security::connector::types as wit;

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
