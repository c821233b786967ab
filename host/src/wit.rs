//! The contract's types (`wit/connector.wit`), and the bindings of its `security-connector`
//! world: the bottom layer, which every other module names and which names none of them.

#![allow(missing_docs)] // Generated: the WIT file documents every type.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "security-connector",
    exports: { default: async },
});

pub use unified_security::connector::types::*;
