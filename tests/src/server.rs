//! A Socket-shaped HTTP server on 127.0.0.1 that misbehaves on request.
//!
//! Serves `/v0/orgs/{org}/repos`, `/v0/orgs/{org}/alerts` and `/v0/quota` from an [`Org`], checks
//! the bearer token, logs every request, and consumes queued [`Fault`]s (a status with headers
//! and body, a dropped connection, a stall, a custom body) before answering normally.
//!
//! It can shape the network as well: a time to first byte for every answer, one bandwidth cap
//! shared by all connections, gzip, and keep-alive (on by default, as real APIs do); it counts
//! the connections it accepted and the bytes it sent.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::org::Org;

/// What to do instead of answering normally.
#[derive(Debug, Clone)]
pub enum Fault {
    Status {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Close the connection without a response.
    Drop,
    /// Wait, then answer normally.
    Stall(Duration),
    /// Answer 200 with this body.
    Body(String),
}

impl Fault {
    pub fn status(status: u16, body: &str) -> Fault {
        Fault::Status {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub accept_encoding: Option<String>,
    /// Every header name, lowercased.
    pub header_names: Vec<String>,
}

#[derive(Default)]
struct Shared {
    faults: VecDeque<(String, Fault)>,
    log: Vec<Seen>,
    connections: u64,
    bytes_sent: u64,
}

/// Tuning of the normal answers.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Most alerts per page, whatever `per_page` asks.
    pub alert_page_cap: usize,
    /// After this many alert pages of a listing, insert one empty page (cursor kept).
    pub empty_page_after: Option<usize>,
    /// Answer `nextPage = page + 1` even on the last repos page (Socket's edge case).
    pub repos_next_page_on_last: bool,
    /// Time to first byte of every answer, counted from the end of the request (the time the
    /// server takes to build and compress the body included).
    pub delay: Duration,
    /// Bytes per second all connections together may send.
    pub bandwidth: Option<u64>,
    /// Serve further requests on a connection until the client closes it (HTTP/1.1's
    /// default); off, every answer closes its connection.
    pub keep_alive: bool,
    /// Leave `meta` (and its `queryStartTimestamp`) out of alerts pages, as some servers do.
    pub omit_meta: bool,
    /// Gzip every answer whose request accepts it (`Accept-Encoding: gzip`).
    pub gzip: bool,
    /// Build each distinct answer once and replay it (benchmarks: the server's own CPU then
    /// stays out of the client's measurement on a machine with few cores). Faults and
    /// [`SocketSim::set_org`] are not seen by answers already built.
    pub memoize: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            alert_page_cap: 5000,
            empty_page_after: Some(1),
            repos_next_page_on_last: true,
            delay: Duration::ZERO,
            bandwidth: None,
            keep_alive: true,
            memoize: false,
            omit_meta: false,
            gzip: false,
        }
    }
}

pub struct SocketSim {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    org: Arc<Mutex<Arc<Org>>>,
    tls: bool,
}

impl SocketSim {
    /// Starts serving on an ephemeral loopback port; stops when the runtime does.
    pub async fn start(org: Org, token: &str, behaviour: Behaviour) -> SocketSim {
        Self::start_on(0, org, token, behaviour).await
    }

    /// As [`SocketSim::start`], on a chosen port (0: any free one).
    pub async fn start_on(port: u16, org: Org, token: &str, behaviour: Behaviour) -> SocketSim {
        Self::serve_on(port, org, token, behaviour, None).await
    }

    /// Serves HTTPS for `localhost` with a certificate signed by a CA generated here; returns the
    /// server and that CA's PEM, which a client must be told to trust.
    pub async fn start_tls(org: Org, token: &str, behaviour: Behaviour) -> (SocketSim, String) {
        let (acceptor, ca_pem) = tls_acceptor();
        let mut sim = Self::serve_on(0, org, token, behaviour, Some(acceptor)).await;
        sim.tls = true;
        (sim, ca_pem)
    }

    async fn serve_on(
        port: u16,
        org: Org,
        token: &str,
        behaviour: Behaviour,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> SocketSim {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let org = Arc::new(Mutex::new(Arc::new(org)));
        let pace = behaviour.bandwidth.map(Pace::new);
        let ctx = Arc::new(Ctx {
            org: org.clone(),
            token: token.to_string(),
            behaviour,
            shared: shared.clone(),
            pace,
            memo: Mutex::default(),
        });
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let ctx = ctx.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let _ = match tls {
                        Some(acceptor) => match acceptor.accept(stream).await {
                            Ok(stream) => ctx.serve(stream).await,
                            Err(_) => Ok(()),
                        },
                        None => ctx.serve(stream).await,
                    };
                });
            }
        });
        SocketSim {
            addr,
            shared,
            org,
            tls: false,
        }
    }

    pub fn base_url(&self) -> String {
        if self.tls {
            format!("https://localhost:{}/v0", self.addr.port())
        } else {
            format!("http://{}/v0", self.addr)
        }
    }

    /// Queues a fault for the next request whose path and query contain `matching`.
    pub fn fault(&self, matching: &str, fault: Fault) {
        self.shared
            .lock()
            .unwrap()
            .faults
            .push_back((matching.to_string(), fault));
    }

    /// Replaces the organisation served from now on (alerts change between syncs).
    pub fn set_org(&self, org: Org) {
        *self.org.lock().unwrap() = Arc::new(org);
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.shared.lock().unwrap().log.clone()
    }

    /// Connections accepted so far (TCP; a TLS server counts them before the handshake).
    pub fn connections(&self) -> u64 {
        self.shared.lock().unwrap().connections
    }

    /// Bytes of responses written so far, heads included: what went over the wire.
    pub fn bytes_sent(&self) -> u64 {
        self.shared.lock().unwrap().bytes_sent
    }
}

/// One bandwidth cap shared by every connection: each chunk is sent when the link would have
/// carried the ones before it.
struct Pace {
    bytes_per_second: u64,
    next: Mutex<Instant>,
}

impl Pace {
    fn new(bytes_per_second: u64) -> Pace {
        Pace {
            bytes_per_second: bytes_per_second.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    /// When a chunk of `len` bytes may leave. An idle link saves up no credit beyond a few
    /// milliseconds (what a timer may oversleep), so a burst after a pause is paced too.
    fn due(&self, len: usize) -> Instant {
        let mut next = self.next.lock().unwrap();
        let now = Instant::now();
        let slack = now.checked_sub(Duration::from_millis(5)).unwrap_or(now);
        let start = (*next).max(slack);
        *next = start + Duration::from_secs_f64(len as f64 / self.bytes_per_second as f64);
        *next
    }
}

struct Ctx {
    org: Arc<Mutex<Arc<Org>>>,
    token: String,
    behaviour: Behaviour,
    shared: Arc<Mutex<Shared>>,
    pace: Option<Pace>,
    memo: Mutex<std::collections::HashMap<String, Vec<u8>>>,
}

impl Ctx {
    /// `Bearer <token>`, or HTTP Basic with the token as user name (what Socket's SDKs send).
    fn authorized(&self, authorization: Option<&str>) -> bool {
        let basic = |b64: &str| {
            let colon = base64_encode(format!("{}:", self.token).as_bytes());
            b64 == colon || b64 == base64_encode(self.token.as_bytes())
        };
        match authorization.and_then(|a| a.split_once(' ')) {
            Some(("Bearer", t)) => t == self.token,
            Some(("Basic", b)) => basic(b),
            _ => false,
        }
    }

    fn org(&self) -> Arc<Org> {
        self.org.lock().unwrap().clone()
    }

    /// Serves one connection: one request, or with keep-alive every request until the client
    /// closes it or asks to.
    async fn serve<S: AsyncRead + AsyncWrite + Unpin>(&self, mut stream: S) -> std::io::Result<()> {
        self.shared.lock().unwrap().connections += 1;
        while let Some(head) = read_head(&mut stream).await? {
            let asked_to_close = head
                .header("connection")
                .is_some_and(|c| c.eq_ignore_ascii_case("close"));
            let keep_alive = self.behaviour.keep_alive && !asked_to_close;
            let Some(response) = self.respond(&head, keep_alive).await? else {
                return Ok(()); // a dropped connection
            };
            self.send(&mut stream, &response).await?;
            if !keep_alive {
                return stream.shutdown().await;
            }
        }
        Ok(())
    }

    /// Writes `bytes`, paced by the bandwidth cap, and counts them.
    async fn send<S: AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        bytes: &[u8],
    ) -> std::io::Result<()> {
        const CHUNK: usize = 64 << 10;
        for chunk in bytes.chunks(CHUNK) {
            if let Some(pace) = &self.pace {
                tokio::time::sleep_until(pace.due(chunk.len()).into()).await;
            }
            stream.write_all(chunk).await?;
        }
        stream.flush().await?;
        self.shared.lock().unwrap().bytes_sent += bytes.len() as u64;
        Ok(())
    }

    /// The encoded response to `head`, sent no sooner than the time to first byte; `None` for
    /// a connection to drop.
    async fn respond(&self, head: &Head, keep_alive: bool) -> std::io::Result<Option<Vec<u8>>> {
        let started = Instant::now();
        let target = head.target.clone();
        let authorization = head.header("authorization");
        let accept_encoding = head.header("accept-encoding");
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let seen = Seen {
            path: path.to_string(),
            query: query.to_string(),
            authorization: authorization.clone(),
            accept_encoding: accept_encoding.clone(),
            header_names: head
                .headers
                .iter()
                .map(|(k, _)| k.to_ascii_lowercase())
                .collect(),
        };
        let fault = {
            let mut s = self.shared.lock().unwrap();
            s.log.push(seen);
            let at = s
                .faults
                .iter()
                .position(|(m, _)| target.contains(m.as_str()));
            at.and_then(|i| s.faults.remove(i)).map(|(_, f)| f)
        };
        let gzip = self.behaviour.gzip && accept_encoding.is_some_and(|a| a.contains("gzip"));
        let memo_key = (self.behaviour.memoize && fault.is_none())
            .then(|| format!("{gzip} {keep_alive} {authorization:?} {target}"));
        let hit = memo_key
            .as_ref()
            .and_then(|key| self.memo.lock().unwrap().get(key).cloned());
        if let Some(response) = hit {
            tokio::time::sleep_until((started + self.behaviour.delay).into()).await;
            return Ok(Some(response));
        }
        let (status, headers, body) = match fault {
            Some(Fault::Drop) => return Ok(None),
            Some(Fault::Status {
                status,
                headers,
                body,
            }) => (status, headers, body),
            Some(Fault::Body(body)) => (200, Vec::new(), body),
            Some(Fault::Stall(d)) => {
                tokio::time::sleep(d).await;
                self.answer(path, query, authorization.as_deref())
            }
            None => self.answer(path, query, authorization.as_deref()),
        };
        let response = encode_response(status, headers, body, gzip, keep_alive)?;
        if let Some(key) = memo_key {
            self.memo.lock().unwrap().insert(key, response.clone());
        }
        tokio::time::sleep_until((started + self.behaviour.delay).into()).await;
        Ok(Some(response))
    }

    fn answer(
        &self,
        path: &str,
        query: &str,
        authorization: Option<&str>,
    ) -> (u16, Vec<(String, String)>, String) {
        let error = |status: u16, msg: &str| {
            (
                status,
                Vec::new(),
                format!(r#"{{"error":{{"message":"{msg}","details":null}}}}"#),
            )
        };
        if path == "/v0/echo" {
            // A reflecting endpoint, as a debugging proxy might have: it hands back the credential.
            let body = serde_json::json!({ "authorization": authorization }).to_string();
            return (200, Vec::new(), body);
        }
        if path == "/v0/zeros" {
            // 32 MiB of one character: a few dozen KiB once gzipped (a decompression bomb).
            return (200, Vec::new(), "0".repeat(32 << 20));
        }
        if path == "/v0/echo64" {
            // The same, base64-encoded, as a debugging endpoint that dumps raw headers might.
            use base64::Engine;
            let encoded =
                authorization.map(|a| base64::engine::general_purpose::STANDARD.encode(a));
            let body = serde_json::json!({ "authorization": encoded }).to_string();
            return (200, Vec::new(), body);
        }
        if !self.authorized(authorization) {
            return error(401, "Unauthorized");
        }
        let q = parse_query(query);
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let org_prefix = format!("/v0/orgs/{}/", self.org().slug);
        match path.strip_prefix(&org_prefix) {
            Some("repos") => (200, Vec::new(), self.repos(get("page"), get("per_page"))),
            Some("alerts") => match self.alerts(
                get("per_page"),
                get("startAfterCursor"),
                get("filters.alertStatus"),
                get("filters.alertUpdatedAt.gte"),
            ) {
                Some(body) => (200, Vec::new(), body),
                None => error(400, "Invalid cursor"),
            },
            _ if path == "/v0/quota" => (
                200,
                Vec::new(),
                r#"{"quota":990,"maxQuota":1000,"nextWindowRefresh":"2026-11-23T12:00:00.000Z"}"#
                    .to_string(),
            ),
            _ if path.starts_with("/v0/orgs/") => error(404, "Organization not found"),
            _ => error(404, "Not found"),
        }
    }

    fn repos(&self, page: Option<&str>, per_page: Option<&str>) -> String {
        let page: usize = page.and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
        let per_page: usize = per_page
            .and_then(|p| p.parse().ok())
            .unwrap_or(30)
            .clamp(1, 100);
        let start = (page - 1) * per_page;
        let org = self.org();
        let items: Vec<&str> = org
            .repos
            .iter()
            .skip(start)
            .take(per_page)
            .map(String::as_str)
            .collect();
        let more = start + items.len() < org.repos.len();
        let next = if more || self.behaviour.repos_next_page_on_last {
            (page + 1).to_string()
        } else {
            "null".to_string()
        };
        format!(r#"{{"results":[{}],"nextPage":{next}}}"#, items.join(","))
    }

    /// `None` is a rejected cursor.
    fn alerts(
        &self,
        per_page: Option<&str>,
        after: Option<&str>,
        status: Option<&str>,
        since: Option<&str>,
    ) -> Option<String> {
        let org = self.org();
        let per_page: usize = per_page
            .and_then(|p| p.parse().ok())
            .unwrap_or(1000)
            .clamp(1, 5000)
            .min(self.behaviour.alert_page_cap);
        // Cursor: "<offset>.<pages served>", opaque to clients.
        let (offset, pages) = match after.filter(|a| !a.is_empty()) {
            None => (0usize, 0usize),
            Some(c) => {
                let (o, p) = c.split_once('.')?;
                (o.parse().ok()?, p.parse().ok()?)
            }
        };
        let since = since.map(|s| s.replace(' ', "T"));
        let matching = |a: &&crate::org::AlertRow| {
            status.is_none_or(|s| a.status == s)
                && since.as_deref().is_none_or(|s| a.updated_at.as_str() >= s)
        };
        let selected: Vec<&crate::org::AlertRow> = org.alerts.iter().filter(matching).collect();
        let empty_now = self.behaviour.empty_page_after == Some(pages) && offset < selected.len();
        let items: Vec<&str> = if empty_now {
            Vec::new()
        } else {
            selected
                .iter()
                .skip(offset)
                .take(per_page)
                .map(|a| a.json.as_str())
                .collect()
        };
        let next_offset = offset + items.len();
        let end_cursor = if next_offset < selected.len() || empty_now {
            format!(r#""{next_offset}.{}""#, pages + 1)
        } else {
            "null".to_string()
        };
        let meta = if self.behaviour.omit_meta {
            String::new()
        } else {
            format!(
                r#","meta":{{"organizationId":"8912","queryStartTimestamp":{},"filters":{{}}}}"#,
                org.now_ms
            )
        };
        Some(format!(
            r#"{{"endCursor":{end_cursor},"items":[{}]{meta}}}"#,
            items.join(",")
        ))
    }
}

/// A request head: its method, target and headers (names and values trimmed).
pub struct Head {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

/// Reads a request head (bodies are not read: every endpoint here is a GET); `None` when the
/// client went away or sent more than 64 KiB of head.
pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<Option<Head>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() > 64 * 1024 {
            return Ok(None);
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("").to_string();
    let target = request_line.next().unwrap_or("/").to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Some(Head {
        method,
        target,
        headers,
    }))
}

/// Writes one JSON response and closes the connection; gzipped when `gzip`.
pub async fn write_response<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    gzip: bool,
) -> std::io::Result<()> {
    let response = encode_response(status, headers, body, gzip, false)?;
    stream.write_all(&response).await?;
    stream.shutdown().await
}

/// One JSON response, head and body; gzipped when `gzip`. Without `keep_alive` it says the
/// connection closes after it.
pub fn encode_response(
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    gzip: bool,
    keep_alive: bool,
) -> std::io::Result<Vec<u8>> {
    let body = if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut enc, body.as_bytes())?;
        enc.finish()?
    } else {
        body.into_bytes()
    };
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {}\r\n",
        reason(status),
        body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    );
    if gzip {
        out.push_str("Content-Encoding: gzip\r\n");
    }
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut response = out.into_bytes();
    response.extend_from_slice(&body);
    Ok(response)
}

/// A loopback server of one request per connection: `answer` gives each request's status,
/// headers and body (and sees the server's own address, for links); every request's head is
/// kept, in order, in the log returned.
pub async fn serve_simple<F>(answer: F) -> (SocketAddr, Arc<Mutex<Vec<Head>>>)
where
    F: Fn(SocketAddr, &Head) -> (u16, Vec<(String, String)>, String) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (kept, answer) = (log.clone(), Arc::new(answer));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (log, answer) = (kept.clone(), answer.clone());
            tokio::spawn(async move {
                let Ok(Some(head)) = read_head(&mut stream).await else {
                    return;
                };
                let (status, headers, body) = answer(addr, &head);
                log.lock().unwrap().push(head);
                let _ = write_response(&mut stream, status, headers, body, false).await;
            });
        }
    });
    (addr, log)
}

pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// A query component decoded the way form encoders write it (`+` for a space).
fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// A CA and a `localhost` server certificate it signs, generated fresh for each server.
fn tls_acceptor() -> (tokio_rustls::TlsAcceptor, String) {
    let (config, ca_pem) = tls_server_config(Vec::new());
    (tokio_rustls::TlsAcceptor::from(config), ca_pem)
}

/// A TLS server configuration for `localhost` with a certificate signed by a CA generated here,
/// offering `alpn` (e.g. `h2`); returns it with that CA's PEM, which a client must trust.
pub fn tls_server_config(alpn: Vec<Vec<u8>>) -> (Arc<rustls::ServerConfig>, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    config.alpn_protocols = alpn;
    (Arc::new(config), ca.pem())
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
