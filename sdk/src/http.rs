//! The HTTP seam between a connector's vendor logic and the network.
//!
//! In a component, [`WasiHttp`] sends requests through `wasi:http/outgoing-handler`; in native
//! tests, [`Scripted`] answers them from a closure and keeps what was asked.
//! [`Retrying`] wraps either with the bounded retry policy, for runtimes that do not retry.
//! Credentials are never set here: the runtime attaches them (see the contract).

use std::time::{Duration, SystemTime};

use crate::retry::{Decision, Outcome, RetryPolicy};

/// The HTTP methods a connector uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

/// An outgoing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The absolute URL.
    pub url: String,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body (empty for a `GET`).
    pub body: Vec<u8>,
}

impl Request {
    /// `GET url`, with no headers: say what the API wants with [`Request::header`].
    pub fn get(url: impl Into<String>) -> Request {
        Request {
            method: Method::Get,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `GET url`, asking for JSON (`accept: application/json`).
    pub fn get_json(url: impl Into<String>) -> Request {
        Request::get(url).header("accept", "application/json")
    }

    /// Sets header `name` (any case), replacing every value it had.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.add_header(name, value)
    }

    /// Adds a value of header `name`, keeping those it had (for headers that repeat).
    pub fn add_header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }
}

/// A response, its body read whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response of `status` with `body` and no headers.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// This response with a header added (its name lower-cased).
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a request got no response at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    /// The runtime refused the request (`HTTP-request-denied`): the contract says it must not
    /// be retried.
    pub refused: bool,
    /// What went wrong, for the user.
    pub message: String,
}

impl SendError {
    /// The request left (or tried to) and no response came: worth a retry.
    pub fn transport(message: impl Into<String>) -> SendError {
        SendError {
            refused: false,
            message: message.into(),
        }
    }

    /// The runtime refused the request.
    pub fn refused(message: impl Into<String>) -> SendError {
        SendError {
            refused: true,
            message: message.into(),
        }
    }
}

impl From<String> for SendError {
    fn from(message: String) -> SendError {
        SendError::transport(message)
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Sends requests. `Err` is no response at all: a transport failure, or the runtime's refusal.
pub trait Http {
    /// Sends `request` and reads the whole response.
    fn send(&mut self, request: &Request) -> Result<Response, SendError>;

    /// Sends `request` ahead of need, so that its response travels while the connector maps
    /// the page in hand and the runtime commits it: a later [`Http::send`] of the identical
    /// request takes that response instead of asking again. A hint: one request is held at a
    /// time, a different request drops it, and a seam may ignore it (the default).
    fn prefetch(&mut self, _request: &Request) {}
}

/// A test double: answers each request with `answer` and records every request, and every
/// request it was asked to prefetch (it answers those only when they are sent).
pub struct Scripted<F> {
    answer: F,
    /// Every request sent, in order.
    pub requests: Vec<Request>,
    /// Every request it was asked to prefetch, in order.
    pub prefetched: Vec<Request>,
}

impl<F: FnMut(&Request) -> Result<Response, SendError>> Scripted<F> {
    /// A double that answers with `answer`.
    pub fn new(answer: F) -> Scripted<F> {
        Scripted {
            answer,
            requests: Vec::new(),
            prefetched: Vec::new(),
        }
    }
}

impl<F: FnMut(&Request) -> Result<Response, SendError>> Http for Scripted<F> {
    fn send(&mut self, request: &Request) -> Result<Response, SendError> {
        self.requests.push(request.clone());
        (self.answer)(request)
    }

    fn prefetch(&mut self, request: &Request) {
        self.prefetched.push(request.clone());
    }
}

/// Retries transport failures, 408, 429 and 5xx under [`RetryPolicy`], waiting out
/// `Retry-After` in either form; a request the runtime refused is never retried. Only for
/// runtimes that say they do not retry: under one that does, retries would multiply.
pub struct Retrying<H> {
    inner: H,
    policy: RetryPolicy,
    sleep: fn(Duration),
    /// Retries made so far, over every request.
    pub retries: u32,
}

impl<H: Http> Retrying<H> {
    /// Fewer retries and shorter waits than the reference host's defaults: a component's call
    /// runs under the runtime's per-call time limit.
    pub fn new(inner: H) -> Retrying<H> {
        Retrying::with_policy(
            inner,
            RetryPolicy {
                max_retries: 3,
                max_retry_after: Duration::from_secs(60),
                ..RetryPolicy::default()
            },
            std::thread::sleep,
        )
    }

    /// Retries `inner`'s requests under `policy`, sleeping with `sleep` (a test passes one that
    /// does not).
    pub fn with_policy(inner: H, policy: RetryPolicy, sleep: fn(Duration)) -> Retrying<H> {
        Retrying {
            inner,
            policy,
            sleep,
            retries: 0,
        }
    }
}

impl<H: Http> Http for Retrying<H> {
    fn send(&mut self, request: &Request) -> Result<Response, SendError> {
        let mut attempt = 0;
        loop {
            let result = self.inner.send(request);
            let outcome = match &result {
                Ok(r) => Outcome::Status {
                    status: r.status,
                    retry_after: r.header("retry-after"),
                },
                Err(e) if e.refused => Outcome::Refused,
                Err(_) => Outcome::TransportError,
            };
            match self
                .policy
                .decide(attempt, outcome, SystemTime::now(), jitter())
            {
                Decision::Return => return result,
                Decision::Retry(wait) => {
                    (self.sleep)(wait);
                    attempt += 1;
                    self.retries += 1;
                }
            }
        }
    }

    fn prefetch(&mut self, request: &Request) {
        self.inner.prefetch(request);
    }
}

/// Uniform in [0, 1), from the wall clock's nanoseconds: spreads retries without a random source.
fn jitter() -> f64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1_000_000) / 1_000_000.0
}

/// Outgoing HTTP through `wasi:http/outgoing-handler` in a component; the runtime clamps
/// timeouts and sizes. Outside a component every request fails: native tests use [`Scripted`].
///
/// [`Http::prefetch`] is real here: the request leaves at once and its response future is
/// held (one at a time) between calls into the component, so the next page travels while the
/// runtime commits this one. Only standard `wasi:http` is used, so any runtime that spawns
/// outgoing requests (wasmtime, jco) overlaps them.
#[derive(Default)]
pub struct WasiHttp;

impl WasiHttp {
    /// The component's own WASI HTTP.
    pub fn new() -> WasiHttp {
        WasiHttp
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Http for WasiHttp {
    fn send(&mut self, request: &Request) -> Result<Response, SendError> {
        Err(SendError::transport(format!(
            "{}: no WASI HTTP outside a component",
            request.url
        )))
    }
}

#[cfg(target_arch = "wasm32")]
impl Http for WasiHttp {
    fn send(&mut self, request: &Request) -> Result<Response, SendError> {
        match wasi::take_prefetched(request) {
            Some(pending) => pending.wait(),
            None => wasi::start(request)?.wait(),
        }
    }

    fn prefetch(&mut self, request: &Request) {
        // A request that cannot even start is left for `send`, which reports why.
        if let Ok(pending) = wasi::start(request) {
            wasi::hold(request.clone(), pending);
        }
    }
}

/// The raw `wasi:http` client. waki (the usual convenience client) blocks until the response
/// arrives, which rules out holding a request in flight between calls; the protocol itself
/// is a few calls, written out here against the standard bindings (`wasip2`).
#[cfg(target_arch = "wasm32")]
mod wasi {
    use std::cell::RefCell;
    use std::time::Duration;

    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{
        ErrorCode, Fields, FutureIncomingResponse, IncomingBody, Method as WasiMethod,
        OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
    };
    use wasip2::io::streams::StreamError;

    use super::{Method, Request, Response, SendError};

    /// Most bytes asked for in one read: a large page arrives in one piece, yet a wrong
    /// `Content-Length` cannot make the guest reserve more than this up front.
    const MAX_READ: u64 = 64 << 20;
    /// `blocking-write-and-flush` takes at most 4096 bytes a call.
    const WRITE_CHUNK: usize = 4096;

    thread_local! {
        /// The one request sent ahead, with the request it answers.
        static PREFETCHED: RefCell<Option<(Request, Pending)>> = const { RefCell::new(None) };
    }

    /// A request on its way: its response arrives whether or not the guest is running.
    pub struct Pending(FutureIncomingResponse);

    /// Keeps `pending` for a later `send` of `request`; one held before is dropped (and the
    /// runtime cancels it).
    pub fn hold(request: Request, pending: Pending) {
        PREFETCHED.set(Some((request, pending)));
    }

    /// The held request if it is `request`, byte for byte; a held one that is not is dropped,
    /// since the listing has moved elsewhere.
    pub fn take_prefetched(request: &Request) -> Option<Pending> {
        let (held, pending) = PREFETCHED.take()?;
        (held == *request).then_some(pending)
    }

    pub fn start(request: &Request) -> Result<Pending, SendError> {
        let (scheme, rest) = request
            .url
            .split_once("://")
            .ok_or_else(|| format!("{}: not an absolute URL", request.url))?;
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let path = match path {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        let headers: Vec<(String, Vec<u8>)> = request
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
            .collect();
        let fields = Fields::from_list(&headers).map_err(|e| {
            SendError::refused(format!("{}: a header was refused: {e:?}", request.url))
        })?;
        let outgoing = OutgoingRequest::new(fields);
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            other => Scheme::Other(other.to_string()),
        };
        let method = match request.method {
            Method::Get => WasiMethod::Get,
            Method::Post => WasiMethod::Post,
        };
        let refused = |what: &str| {
            SendError::refused(format!("{}: the runtime refused the {what}", request.url))
        };
        outgoing
            .set_method(&method)
            .map_err(|()| refused("method"))?;
        outgoing
            .set_scheme(Some(&scheme))
            .map_err(|()| refused("scheme"))?;
        outgoing
            .set_authority(Some(authority))
            .map_err(|()| refused("authority"))?;
        outgoing
            .set_path_with_query(Some(&path))
            .map_err(|()| refused("path"))?;
        let body = outgoing.body().map_err(|()| refused("body"))?;
        let options = RequestOptions::new();
        let _ = options.set_connect_timeout(Some(Duration::from_secs(30).as_nanos() as u64));
        let future = outgoing_handler::handle(outgoing, Some(options)).map_err(|e| failed(&e))?;
        write_body(body, &request.body)
            .map_err(|e| SendError::transport(format!("{}: sending the body: {e}", request.url)))?;
        Ok(Pending(future))
    }

    fn write_body(body: OutgoingBody, bytes: &[u8]) -> Result<(), String> {
        {
            let stream = body.write().map_err(|()| "no body stream".to_string())?;
            for chunk in bytes.chunks(WRITE_CHUNK) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(|e| format!("{e:?}"))?;
            }
        }
        OutgoingBody::finish(body, None).map_err(|e| describe(&e))
    }

    impl Pending {
        /// Blocks until the response has arrived, then reads its body.
        pub fn wait(self) -> Result<Response, SendError> {
            let response = loop {
                match self.0.get() {
                    Some(result) => break result,
                    None => self.0.subscribe().block(),
                }
            };
            let response = response
                .map_err(|()| SendError::transport("the response was already taken"))?
                .map_err(|e| failed(&e))?;
            let status = response.status();
            let headers = response
                .headers()
                .entries()
                .into_iter()
                .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), String::from_utf8(v).ok()?)))
                .collect::<Vec<_>>();
            let declared = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
            let body = response
                .consume()
                .map_err(|()| "the body was already taken".to_string())?;
            let body = read_body(body, declared).map_err(|e| format!("reading the body: {e}"))?;
            Ok(Response {
                status,
                headers,
                body,
            })
        }
    }

    /// Reads the body in as few pieces as it arrives in. The first read asks for the whole
    /// `Content-Length`, so a page usually lands in one allocation and is never copied again.
    fn read_body(body: IncomingBody, declared: u64) -> Result<Vec<u8>, String> {
        let want = declared.clamp(1 << 16, MAX_READ);
        let mut out: Vec<u8> = Vec::new();
        {
            let stream = body.stream().map_err(|()| "no body stream".to_string())?;
            loop {
                match stream.blocking_read(want) {
                    Ok(chunk) if out.is_empty() => out = chunk,
                    Ok(chunk) => out.extend_from_slice(&chunk),
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(e)) => return Err(e.to_debug_string()),
                }
            }
        }
        // Trailers are not used; finishing releases the body.
        drop(IncomingBody::finish(body));
        Ok(out)
    }

    fn describe(e: &ErrorCode) -> String {
        format!("{e:?}")
    }

    /// No response: refused by the runtime (never to be retried), or a transport failure.
    fn failed(e: &ErrorCode) -> SendError {
        match e {
            ErrorCode::HttpRequestDenied => SendError::refused(describe(e)),
            _ => SendError::transport(describe(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_sleep(_: Duration) {}

    #[test]
    fn retrying_waits_out_a_dated_retry_after_and_then_returns_the_success() {
        let mut n = 0;
        let script = Scripted::new(|_: &Request| {
            n += 1;
            Ok(match n {
                1 => Response::new(503, "busy"),
                2 => Response::new(429, "").with_header(
                    "Retry-After",
                    &httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2)),
                ),
                _ => Response::new(200, "ok"),
            })
        });
        let mut http = Retrying::with_policy(script, RetryPolicy::default(), no_sleep);
        let r = http.send(&Request::get("https://x/a")).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, b"ok".as_slice()));
        assert_eq!(http.retries, 2);
        assert_eq!(http.inner.requests.len(), 3);
    }

    #[test]
    fn retrying_is_bounded_and_leaves_client_errors_alone() {
        let script = Scripted::new(|_: &Request| Err("connection reset".to_string().into()));
        let mut http = Retrying::with_policy(
            script,
            RetryPolicy {
                max_retries: 2,
                ..RetryPolicy::default()
            },
            no_sleep,
        );
        assert!(http.send(&Request::get("https://x/a")).is_err());
        assert_eq!(http.inner.requests.len(), 3);

        let script = Scripted::new(|_: &Request| Ok(Response::new(404, "")));
        let mut http = Retrying::with_policy(script, RetryPolicy::default(), no_sleep);
        assert_eq!(http.send(&Request::get("https://x/a")).unwrap().status, 404);
        assert_eq!(http.retries, 0);
    }

    /// The contract: a request the runtime refused is never retried, whatever the policy.
    #[test]
    fn retrying_never_retries_a_refused_request() {
        let script = Scripted::new(|_: &Request| Err(SendError::refused("HttpRequestDenied")));
        let mut http = Retrying::with_policy(script, RetryPolicy::default(), no_sleep);
        let err = http.send(&Request::get("https://x/a")).unwrap_err();
        assert!(err.refused && err.message.contains("Denied"), "{err:?}");
        assert_eq!((http.inner.requests.len(), http.retries), (1, 0));
    }

    #[test]
    fn request_headers_replace_unless_added() {
        let r = Request::get_json("https://x/a")
            .header("Accept", "application/vnd.github+json")
            .header("x-trace", "1")
            .add_header("X-Trace", "2");
        assert_eq!(
            r.headers,
            [
                (
                    "accept".to_string(),
                    "application/vnd.github+json".to_string()
                ),
                ("x-trace".to_string(), "1".to_string()),
                ("x-trace".to_string(), "2".to_string()),
            ]
        );
        assert!(Request::get("https://x/a").headers.is_empty());
    }

    #[test]
    fn header_lookup_ignores_case() {
        let r = Response::new(200, "").with_header("Link", "<x>; rel=\"next\"");
        assert_eq!(r.header("link"), Some("<x>; rel=\"next\""));
        assert_eq!(r.header("LINK"), Some("<x>; rel=\"next\""));
        assert_eq!(r.header("etag"), None);
    }
}
