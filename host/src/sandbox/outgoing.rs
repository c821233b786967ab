//! Links `wasi:http` for a connector, with `outgoing-handler.handle` passed through the host.
//!
//! wasmtime-wasi-http 48 reads the `request-options` a guest hands to `handle` but never takes
//! it out of the instance's resource table. waki sends options with every request, so each
//! request would leave one handle behind, and a long run would meet the host-object limit
//! (see `sandbox::budget`) for no fault of its own. Here the options leave the table before the
//! request is handed on; the sandbox hook applies the host's own timeouts and never read the
//! guest's.

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi_http::p2::bindings::http::{outgoing_handler, types};
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};
use wasmtime_wasi_http::{RequestOptions, WasiHttpView};

/// The interface as wasmtime-wasi-http 48 names it in the linker.
const HANDLER: &str = "wasi:http/outgoing-handler@0.2.12";

type Handled = Result<Resource<HostFutureIncomingResponse>, types::ErrorCode>;

/// Adds `wasi:http/types` and `wasi:http/outgoing-handler` to `linker`, the handler wrapped.
pub fn add_to_linker<T: WasiHttpView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
    linker.allow_shadowing(true);
    let added = linker.instance(HANDLER)?.func_wrap("handle", handle::<T>);
    linker.allow_shadowing(false);
    added
}

fn handle<T: WasiHttpView>(
    mut store: StoreContextMut<'_, T>,
    (request, options): (
        Resource<HostOutgoingRequest>,
        Option<Resource<RequestOptions>>,
    ),
) -> wasmtime::Result<(Handled,)> {
    let mut view = store.data_mut().http();
    if let Some(options) = options {
        view.table.delete(options)?;
    }
    match outgoing_handler::Host::handle(&mut view, request, None) {
        Ok(future) => Ok((Ok(future),)),
        // An error code goes back to the guest; anything else is a trap.
        Err(e) => Ok((Err(e.downcast()?),)),
    }
}
