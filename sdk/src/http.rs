//! The HTTP seam between a connector's vendor logic and the network.
//!
//! In a component, [`WasiHttp`] sends requests through `wasi:http/outgoing-handler` (via waki);
//! in native tests, [`Scripted`] answers them from a closure and keeps what was asked.
//! [`Retrying`] wraps either with the bounded retry policy, for runtimes that do not retry.
//! Credentials are never set here: the runtime attaches them (see the contract).

use std::time::{Duration, SystemTime};

use crate::retry::{Decision, Outcome, RetryPolicy};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// An outgoing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// `GET url`, asking for JSON.
    pub fn get(url: impl Into<String>) -> Request {
        Request {
            method: Method::Get,
            url: url.into(),
            headers: vec![("accept".to_string(), "application/json".to_string())],
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }
}

/// A response, its body read whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

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

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Sends requests. `Err` is a transport failure (no response at all), described for the user.
pub trait Http {
    fn send(&mut self, request: &Request) -> Result<Response, String>;
}

/// A test double: answers each request with `answer` and records every request.
pub struct Scripted<F> {
    answer: F,
    pub requests: Vec<Request>,
}

impl<F: FnMut(&Request) -> Result<Response, String>> Scripted<F> {
    pub fn new(answer: F) -> Scripted<F> {
        Scripted {
            answer,
            requests: Vec::new(),
        }
    }
}

impl<F: FnMut(&Request) -> Result<Response, String>> Http for Scripted<F> {
    fn send(&mut self, request: &Request) -> Result<Response, String> {
        self.requests.push(request.clone());
        (self.answer)(request)
    }
}

/// Retries transport failures, 408, 429 and 5xx under [`RetryPolicy`], waiting out
/// `Retry-After` in either form. Only for runtimes that say they do not retry: under one that
/// does, retries would multiply.
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
    fn send(&mut self, request: &Request) -> Result<Response, String> {
        let mut attempt = 0;
        loop {
            let result = self.inner.send(request);
            let outcome = match &result {
                Ok(r) => Outcome::Status {
                    status: r.status,
                    retry_after: r.header("retry-after"),
                },
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
}

/// Uniform in [0, 1), from the wall clock's nanoseconds: spreads retries without a random source.
fn jitter() -> f64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1_000_000) / 1_000_000.0
}

/// Outgoing HTTP through `wasi:http` (via waki) in a component; the runtime clamps timeouts and
/// sizes. Outside a component every request fails: native tests use [`Scripted`].
#[derive(Default)]
pub struct WasiHttp;

impl WasiHttp {
    pub fn new() -> WasiHttp {
        WasiHttp
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Http for WasiHttp {
    fn send(&mut self, request: &Request) -> Result<Response, String> {
        Err(format!("{}: no WASI HTTP outside a component", request.url))
    }
}

#[cfg(target_arch = "wasm32")]
impl Http for WasiHttp {
    fn send(&mut self, request: &Request) -> Result<Response, String> {
        wasi::send(request)
    }
}

#[cfg(target_arch = "wasm32")]
mod wasi {
    use std::time::Duration;

    use super::{Method, Request, Response};

    /// Most bytes asked for in one read: a large page arrives in one piece, yet a wrong
    /// `Content-Length` cannot make the guest reserve more than this up front.
    const MAX_READ: u64 = 64 << 20;

    pub fn send(request: &Request) -> Result<Response, String> {
        let client = waki::Client::new();
        let builder = match request.method {
            Method::Get => client.get(&request.url),
            Method::Post => client.post(&request.url).body(request.body.clone()),
        };
        let mut builder = builder.connect_timeout(Duration::from_secs(30));
        for (name, value) in &request.headers {
            let name = waki::header::HeaderName::try_from(name.as_str())
                .map_err(|_| format!("{name:?} is not a header name"))?;
            builder = builder.header(name, value.as_str());
        }
        let resp = builder.send().map_err(|e| e.to_string())?;
        let status = resp.status_code();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let body = read_body(&resp).map_err(|e| format!("reading the body: {e}"))?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// Reads the body in as few pieces as it arrives in. The first read asks for the whole
    /// `Content-Length`, so a page usually lands in one allocation and is never copied again
    /// (waki's `body()` reads 1 MiB at a time into a growing buffer: two copies and twice the
    /// memory).
    fn read_body(resp: &waki::Response) -> Result<Vec<u8>, String> {
        let declared = resp
            .header("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let want = declared.clamp(1 << 16, MAX_READ);
        let mut body: Vec<u8> = Vec::new();
        while let Some(chunk) = resp.chunk(want).map_err(|e| e.to_string())? {
            if body.is_empty() {
                body = chunk;
            } else {
                body.extend_from_slice(&chunk);
            }
        }
        Ok(body)
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
        let script = Scripted::new(|_: &Request| Err("connection reset".to_string()));
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

    #[test]
    fn header_lookup_ignores_case() {
        let r = Response::new(200, "").with_header("Link", "<x>; rel=\"next\"");
        assert_eq!(r.header("link"), Some("<x>; rel=\"next\""));
        assert_eq!(r.header("LINK"), Some("<x>; rel=\"next\""));
        assert_eq!(r.header("etag"), None);
    }
}
