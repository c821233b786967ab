//! Sending requests on the guest's behalf: the [`Upstream`] seam and its live implementation.
//!
//! Responses are buffered whole in the host before the guest sees them. That bounds their size
//! before they reach guest memory, lets a failure mid-body be retried like any transport error,
//! and gives record mode the bytes it stores. The guest would read the whole body anyway.
//! Every byte buffered is charged, as it arrives, to the instance's [`Budget`]: a component
//! cannot make the host hold more for it than that, however many requests it has in flight.

use crate::mutants::{Duty, skips};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};

use super::Stats;
use super::budget::{Budget, Charge, OverBudget};
use super::limits::HostWork;
use super::retry::{Decision, Outcome, RetryPolicy};
use crate::error::{causes, chain};

/// A boxed future that may cross threads.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A request as the host sends it: credentials already attached.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The request method.
    pub method: Method,
    /// The absolute URI.
    pub uri: Uri,
    /// The headers, credentials attached.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    /// What the response's body is charged to while the host holds it.
    pub budget: Arc<Budget>,
    /// What decoding the response is charged to: the instance's CPU budget.
    pub host_work: Arc<HostWork>,
}

/// A complete response.
#[derive(Debug)]
pub struct Incoming {
    /// The response status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The whole body, decompressed.
    pub body: Bytes,
    /// The body's bytes, held against the request's budget until this is dropped.
    pub charge: Charge,
}

/// Why no response came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// Refused by the sandbox (allow-list, request cap): never retried, and fails the run.
    Denied(String),
    /// The cassette being replayed cannot answer (nothing recorded for the request, or its
    /// recording unreadable). Like a network with nothing there, it fails only the request: a
    /// component that fetched ahead and never reads the answer loses nothing, and one that needed
    /// it fails with its own error (the host logs this message either way).
    Cassette(String),
    /// No connection could be made.
    Connect(String),
    /// A timeout of [`Timeouts`] passed.
    Timeout(String),
    /// The TLS handshake failed.
    Tls(String),
    /// The response body exceeded the cap (bytes).
    TooLarge(u64),
    /// The connection broke or spoke something other than HTTP.
    Protocol(String),
    /// The body came in a content encoding the host did not ask for, or did not decode.
    Encoding(String),
    /// The instance's buffers are full: the component holds responses it has not read.
    OverBudget(OverBudget),
}

impl TransportError {
    /// Whether a retry may succeed where this failed.
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            TransportError::Denied(_)
                | TransportError::Cassette(_)
                | TransportError::TooLarge(_)
                | TransportError::Encoding(_)
                | TransportError::OverBudget(_)
        )
    }

    /// The `wasi:http` error code the guest receives.
    pub fn to_wasi(&self) -> wasmtime_wasi_http::Error {
        use wasmtime_wasi_http::Error as E;
        match self {
            TransportError::Denied(_)
            | TransportError::Cassette(_)
            | TransportError::OverBudget(_) => E::HttpRequestDenied,
            TransportError::Connect(_) => E::ConnectionRefused,
            TransportError::Timeout(_) => E::ConnectionTimeout,
            TransportError::Tls(_) => E::TlsProtocolError,
            TransportError::TooLarge(n) => E::HttpResponseBodySize(Some(*n)),
            TransportError::Protocol(_) | TransportError::Encoding(_) => E::HttpProtocolError,
        }
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::Denied(m) => write!(f, "denied: {m}"),
            TransportError::Cassette(m) => write!(f, "cassette: {m}"),
            TransportError::Connect(m) => write!(f, "connect failed: {m}"),
            TransportError::Timeout(m) => write!(f, "timed out: {m}"),
            TransportError::Tls(m) => write!(f, "TLS failed: {m}"),
            TransportError::TooLarge(n) => write!(f, "response body larger than the {n}-byte cap"),
            TransportError::Protocol(m) => write!(f, "connection failed: {m}"),
            TransportError::Encoding(m) => write!(f, "undecodable body: {m}"),
            TransportError::OverBudget(o) => write!(
                f,
                "host buffer limit: the component holds {} MiB of response bodies it has not \
                 read, and the host holds at most {} MiB for it (`max-response-mb`)",
                o.held >> 20,
                o.cap >> 20
            ),
        }
    }
}

/// Where requests go: the network, a cassette, or a recorder around the network.
pub trait Upstream: Send + Sync {
    /// Sends `req` and reads the whole response.
    fn send(&self, req: Outgoing) -> BoxFuture<'_, Result<Incoming, TransportError>>;
}

/// How long one request may take, by phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To connect (TCP and TLS).
    pub connect: Duration,
    /// From sending the request to the response head.
    pub first_byte: Duration,
    /// The longest silence within a body.
    pub between_bytes: Duration,
}

impl Timeouts {
    /// 10 s to connect, a minute to the response head, 30 s of silence within a body.
    pub const DEFAULT: Timeouts = Timeouts {
        connect: Duration::from_secs(10),
        first_byte: Duration::from_secs(60),
        between_bytes: Duration::from_secs(30),
    };
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::DEFAULT
    }
}

/// The network, through reqwest: HTTP/1.1, or HTTP/2 where the server offers it (ALPN);
/// connections kept alive and pooled per origin for the run, so a sync makes one TCP and TLS
/// handshake per origin; and the operator's `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` /
/// `NO_PROXY`, HTTPS going through a CONNECT tunnel. TLS is rustls with the bundled web roots
/// plus any extra CA. reqwest follows no redirect and decodes nothing here: every redirect goes
/// back to the guest (and meets the allow-list again as a new request), and the host decodes
/// bodies itself, each byte charged to the instance's budget.
#[derive(Clone)]
pub struct Live {
    client: reqwest::Client,
    timeouts: Timeouts,
    max_body: u64,
    /// The runtime of the caller of [`Live::new`], where every request is sent.
    runtime: Option<tokio::runtime::Handle>,
}

impl Live {
    /// `extra_ca_pem`: more trusted roots, for corporate proxies and self-hosted gateways.
    pub fn new(
        timeouts: Timeouts,
        max_body: u64,
        extra_ca_pem: Option<&[u8]>,
    ) -> Result<Live, String> {
        let mut tls = (*tls_client_config(extra_ca_pem)?).clone();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeouts.connect)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {}", chain(&e)))?;
        Ok(Live {
            client,
            timeouts,
            max_body,
            runtime: tokio::runtime::Handle::try_current().ok(),
        })
    }
}

/// The host's TLS client configuration: the Mozilla roots (webpki-roots) plus `extra_ca_pem`
/// (corporate proxies, self-hosted gateways, a database's own CA).
pub fn tls_client_config(extra_ca_pem: Option<&[u8]>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    };
    if let Some(pem) = extra_ca_pem {
        let mut added = 0;
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(pem) {
            let cert: rustls::pki_types::CertificateDer =
                cert.map_err(|e| format!("not a PEM certificate: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("unusable CA certificate: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err("no PEM certificate found".to_string());
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(tls))
}

impl Live {
    async fn send_once(&self, req: Outgoing) -> Result<Incoming, TransportError> {
        let t = self.timeouts;
        let url = request_url(&req.uri)
            .ok_or_else(|| TransportError::Denied(format!("{}: not an http(s) URL", req.uri)))?;
        let mut request = reqwest::Request::new(req.method, url);
        let mut headers = req.headers;
        // reqwest writes `Host` (HTTP/1.1) or `:authority` (HTTP/2) from the normalized URL.
        headers.remove(http::header::HOST);
        // The host owns content negotiation: it asks for what it decodes, and the component
        // (and the credential scrub, and any cassette) only ever sees identity bodies.
        headers.insert(
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip"),
        );
        *request.headers_mut() = headers;
        if !req.body.is_empty() {
            *request.body_mut() = Some(req.body.into());
        }
        // Connecting (through any proxy) has its own limit inside this one.
        let mut response =
            tokio::time::timeout(t.connect + t.first_byte, self.client.execute(request))
                .await
                .map_err(|_| {
                    TransportError::Timeout(format!("no response within {:?}", t.first_byte))
                })?
                .map_err(transport_error)?;
        if response
            .content_length()
            .is_some_and(|len| len > self.max_body)
        {
            return Err(TransportError::TooLarge(self.max_body));
        }
        let mut headers = std::mem::take(response.headers_mut());
        // The headers are held as long as the body: they count too.
        let mut charge = req.budget.start();
        charge
            .grow(headers_size(&headers))
            .map_err(TransportError::OverBudget)?;
        let status = response.status();
        let body = self.receive(response, &mut charge).await?;
        let body = req
            .host_work
            .charge(|| decode(&mut headers, body, self.max_body, &mut charge))?;
        Ok(Incoming {
            status,
            headers,
            body,
            charge,
        })
    }

    /// The whole body, each chunk charged as it arrives and checked against the size cap.
    /// Dropping the response early (an error) closes its connection rather than pooling it.
    async fn receive(
        &self,
        mut response: reqwest::Response,
        charge: &mut Charge,
    ) -> Result<Bytes, TransportError> {
        let t = self.timeouts;
        let mut buf = BytesMut::new();
        loop {
            let chunk = tokio::time::timeout(t.between_bytes, response.chunk())
                .await
                .map_err(|_| {
                    TransportError::Timeout(format!(
                        "the body stalled for over {:?}",
                        t.between_bytes
                    ))
                })?
                .map_err(transport_error)?;
            let Some(data) = chunk else {
                return Ok(buf.freeze());
            };
            if buf.len() as u64 + data.len() as u64 > self.max_body {
                return Err(TransportError::TooLarge(self.max_body));
            }
            charge
                .grow(data.len() as u64)
                .map_err(TransportError::OverBudget)?;
            buf.extend_from_slice(&data);
        }
    }
}

/// The URL a request goes to, rebuilt from its origin as the allow-list understood it (no user
/// info such as `evil@`, no leading zeros in the port) and its path and query.
fn request_url(uri: &Uri) -> Option<reqwest::Url> {
    let origin = super::policy::Origin::of(uri)?;
    let authority = host_header(uri)?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let authority = authority.to_str().ok()?;
    reqwest::Url::parse(&format!("{}://{authority}{path}", origin.scheme)).ok()
}

/// A reqwest failure as the host classifies it: TLS, connecting (through a proxy too), timing
/// out, or a broken exchange. The message is the chain of causes without the request's URL
/// (its path and query are the component's to choose: they stay out of the log), bounded and
/// printable.
fn transport_error(e: reqwest::Error) -> TransportError {
    let e = e.without_url();
    let text = crate::text::printable(&chain(&e), crate::text::MAX_MESSAGE_CHARS);
    if causes(&e).any(|c| c.is::<rustls::Error>()) {
        TransportError::Tls(text)
    } else if e.is_timeout() {
        TransportError::Timeout(text)
    } else if e.is_connect() {
        TransportError::Connect(text)
    } else {
        TransportError::Protocol(text)
    }
}

/// Bytes a header map takes in memory, roughly: names, values and a per-entry overhead.
pub fn headers_size(headers: &HeaderMap) -> u64 {
    headers
        .iter()
        .map(|(k, v)| (k.as_str().len() + v.len() + 32) as u64)
        .sum()
}

/// `Host` as the allow-list understood the request: host and port only, normalized (no user
/// info such as `evil@`, no leading zeros in the port, the default port left out), whatever
/// the component wrote.
fn host_header(uri: &Uri) -> Option<HeaderValue> {
    let origin = super::policy::Origin::of(uri)?;
    let default_port = if origin.scheme == "https" { 443 } else { 80 };
    let host = if origin.host.contains(':') {
        format!("[{}]", origin.host)
    } else {
        origin.host
    };
    let value = if origin.port == default_port {
        host
    } else {
        format!("{host}:{}", origin.port)
    };
    HeaderValue::from_str(&value).ok()
}

/// The identity form of a body received with `headers`: gzip is decoded (its output capped at
/// `max_body`, so a small bomb cannot become a large body), identity passes, and anything else
/// is refused: the host asked for gzip alone. `Content-Encoding` is removed and
/// `Content-Length` set to the decoded size. `charge` covers `body` on entry and the result on
/// return; while decoding it covers both.
fn decode(
    headers: &mut HeaderMap,
    body: Bytes,
    max_body: u64,
    charge: &mut Charge,
) -> Result<Bytes, TransportError> {
    let encoding = match headers.get(http::header::CONTENT_ENCODING) {
        None => return Ok(body),
        Some(v) => v
            .to_str()
            .unwrap_or("(not text)")
            .trim()
            .to_ascii_lowercase(),
    };
    let decoded = match encoding.as_str() {
        "" | "identity" => body,
        "gzip" | "x-gzip" => {
            let out = gunzip(&body, max_body, charge)?;
            drop(body);
            charge
                .resize(out.len() as u64)
                .map_err(TransportError::OverBudget)?;
            out
        }
        other => {
            return Err(TransportError::Encoding(format!(
                "the response is encoded as {:?}, which the host did not ask for",
                crate::text::printable(other, 40)
            )));
        }
    };
    headers.remove(http::header::CONTENT_ENCODING);
    headers.insert(
        http::header::CONTENT_LENGTH,
        HeaderValue::from(decoded.len()),
    );
    Ok(decoded)
}

/// Decodes a gzip body, charging the output as it grows (a bomb meets the budget and the cap
/// long before it meets the machine's memory).
fn gunzip(body: &[u8], max_body: u64, charge: &mut Charge) -> Result<Bytes, TransportError> {
    use std::io::Read;
    let mut reader = flate2::read::MultiGzDecoder::new(body);
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max_body as usize));
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = reader
            .read(&mut chunk)
            .map_err(|e| TransportError::Encoding(format!("gzip body: {e}")))?;
        if n == 0 {
            return Ok(Bytes::from(out));
        }
        if (out.len() + n) as u64 > max_body {
            return Err(TransportError::TooLarge(max_body));
        }
        charge.grow(n as u64).map_err(TransportError::OverBudget)?;
        out.extend_from_slice(&chunk[..n]);
    }
}

impl Upstream for Live {
    fn send(&self, req: Outgoing) -> BoxFuture<'_, Result<Incoming, TransportError>> {
        // On the runtime the client was built on, whatever runtime polls this: wasmtime-wasi
        // may run the hook on its own ambient runtime, and a connection whose driver and pool
        // tasks live on one runtime while its requests come from another is not reused (one new
        // connection per request, measured). The task is cancelled with the request.
        let this = self.clone();
        Box::pin(async move {
            match this.runtime.clone() {
                Some(rt) => {
                    let task = rt.spawn(async move { this.send_once(req).await });
                    wasmtime_wasi::runtime::AbortOnDropJoinHandle::from(task).await
                }
                None => this.send_once(req).await,
            }
        })
    }
}

/// Retries an inner upstream per [`RetryPolicy`], counting retries in [`Stats`].
pub struct Retrying {
    /// Where each attempt goes.
    pub inner: Arc<dyn Upstream>,
    /// When to retry, and how long to wait.
    pub policy: RetryPolicy,
    /// Counts the retries.
    pub stats: Arc<Stats>,
}

impl Upstream for Retrying {
    fn send(&self, req: Outgoing) -> BoxFuture<'_, Result<Incoming, TransportError>> {
        Box::pin(async move {
            let mut retries = 0;
            loop {
                let result = self.inner.send(req.clone()).await;
                if skips(Duty::Retries) {
                    return result.map(retry_after_in_seconds);
                }
                let outcome = match &result {
                    Ok(r) => Outcome::Status {
                        status: r.status.as_u16(),
                        retry_after: r
                            .headers
                            .get(http::header::RETRY_AFTER)
                            .and_then(|v| v.to_str().ok())
                            .filter(|_| !skips(Duty::RetryAfter)),
                    },
                    Err(e) if e.is_retryable() => Outcome::TransportError,
                    Err(_) => Outcome::Refused,
                };
                match self
                    .policy
                    .decide(retries, outcome, SystemTime::now(), fastrand::f64())
                {
                    Decision::Return => return result.map(retry_after_in_seconds),
                    Decision::Retry(wait) => {
                        retries += 1;
                        self.stats.retries.fetch_add(1, Ordering::Relaxed);
                        let what = match &result {
                            Ok(r) => format!("HTTP {}", r.status.as_u16()),
                            Err(e) => e.to_string(),
                        };
                        tracing::warn!(
                            "{} {}: {what}; retry {retries}/{} in {:.1} s",
                            req.method,
                            req.uri.path(),
                            self.policy.max_retries,
                            wait.as_secs_f64()
                        );
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        })
    }
}

/// No network at all: for calls that must not make requests (`describe`).
pub struct Offline;

impl Upstream for Offline {
    fn send(&self, req: Outgoing) -> BoxFuture<'_, Result<Incoming, TransportError>> {
        let why = format!(
            "{} {}: this call has no network access",
            req.method, req.uri
        );
        Box::pin(async move { Err(TransportError::Denied(why)) })
    }
}

/// A 429's `Retry-After` as delay-seconds, whichever form the server used, so the component can
/// say when the quota resets.
fn retry_after_in_seconds(mut r: Incoming) -> Incoming {
    if r.status != StatusCode::TOO_MANY_REQUESTS {
        return r;
    }
    let secs = r
        .headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| super::retry::parse_retry_after(v, SystemTime::now()))
        .map(|d| d.as_secs());
    if let Some(secs) = secs {
        r.headers
            .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(data: &[u8]) -> Bytes {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut enc, data).unwrap();
        Bytes::from(enc.finish().unwrap())
    }

    fn with_encoding(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::CONTENT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    #[tokio::test]
    async fn a_failed_request_says_why_without_the_components_url() {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let live = Live::new(Timeouts::default(), 1 << 20, None).unwrap();
        let marker = "component-chosen-".repeat(1500);
        let err = live
            .send(Outgoing {
                method: Method::GET,
                uri: format!("http://127.0.0.1:1/{marker}?q={marker}")
                    .parse()
                    .unwrap(),
                headers: HeaderMap::new(),
                body: Bytes::new(),
                budget: Budget::new(1 << 20),
                host_work: Arc::new(HostWork::new(Duration::MAX)),
            })
            .await
            .unwrap_err();
        assert!(matches!(err, TransportError::Connect(_)), "{err:?}");
        let text = err.to_string();
        assert!(!text.contains("component-chosen"), "{text}");
        assert!(
            text.chars().count() <= crate::text::MAX_MESSAGE_CHARS + 20,
            "{text}"
        );
    }

    #[test]
    fn the_host_header_is_the_normalized_origin() {
        let host = |u: &str| host_header(&u.parse().unwrap()).unwrap();
        assert_eq!(host("http://evil@127.0.0.1:08080/x"), "127.0.0.1:8080");
        assert_eq!(host("https://API.example.com:443/v0"), "api.example.com");
        assert_eq!(host("http://[::1]:81/"), "[::1]:81");
    }

    fn charge() -> Charge {
        Budget::new(u64::MAX).start()
    }

    #[test]
    fn gzip_is_decoded_and_the_headers_say_identity() {
        let mut h = with_encoding("gzip");
        let body = decode(&mut h, gzip(b"{\"items\": []}"), 1 << 20, &mut charge()).unwrap();
        assert_eq!(&body[..], b"{\"items\": []}");
        assert!(h.get(http::header::CONTENT_ENCODING).is_none());
        assert_eq!(h[http::header::CONTENT_LENGTH], "13");
        let mut plain = HeaderMap::new();
        assert_eq!(
            &decode(&mut plain, Bytes::from_static(b"x"), 10, &mut charge()).unwrap()[..],
            b"x"
        );
    }

    #[test]
    fn a_bomb_stops_at_the_cap_and_unknown_encodings_are_refused() {
        let bomb = gzip(&vec![0u8; 8 << 20]);
        assert!(bomb.len() < 64 << 10);
        let err = decode(
            &mut with_encoding("gzip"),
            bomb.clone(),
            1 << 20,
            &mut charge(),
        );
        assert_eq!(err.unwrap_err(), TransportError::TooLarge(1 << 20));
        let budget = Budget::new(512 << 10);
        let mut small = budget.start();
        small.grow(bomb.len() as u64).unwrap();
        let err = decode(&mut with_encoding("gzip"), bomb, 8 << 20, &mut small).unwrap_err();
        assert!(matches!(err, TransportError::OverBudget(_)), "{err:?}");
        drop(small);
        assert_eq!(budget.held(), 0);
        for enc in ["br", "deflate", "gzip, gzip", "zstd"] {
            let err = decode(
                &mut with_encoding(enc),
                Bytes::from_static(b"x"),
                10,
                &mut charge(),
            )
            .unwrap_err();
            assert!(matches!(err, TransportError::Encoding(_)), "{enc}: {err:?}");
        }
        let err = decode(
            &mut with_encoding("gzip"),
            Bytes::from_static(b"not gzip"),
            10,
            &mut charge(),
        );
        assert!(matches!(err, Err(TransportError::Encoding(_))));
    }
}
