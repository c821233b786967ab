//! The kit's loopback server: three origins on 127.0.0.1 (the base URL, a second allowed
//! origin, and one the runtime must refuse), each recording every request that reached it, and
//! answering the probe's paths as each check needs.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Which of the three origins a request reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Base,
    Other,
    Denied,
}

/// A request as it reached the server.
#[derive(Debug, Clone)]
pub struct Seen {
    pub origin: Origin,
    pub method: String,
    pub path: String,
    pub query: String,
    /// Names lower-cased, in arrival order; repeated headers appear once per value.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Seen {
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    /// Requests per path and query so far, for answers that change with repetition.
    counts: HashMap<String, u32>,
}

/// The running server; dropping it stops nothing (tasks end with the process's runtime).
#[derive(Clone)]
pub struct Server {
    state: Arc<Mutex<State>>,
    addrs: [SocketAddr; 3],
    /// The secret whose echo the `/echo` path returns in every form.
    echo: String,
}

impl Server {
    pub async fn start(echo: &str) -> std::io::Result<Server> {
        let state = Arc::new(Mutex::new(State::default()));
        let mut addrs = Vec::new();
        let mut listeners = Vec::new();
        for _ in 0..3 {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            addrs.push(listener.local_addr()?);
            listeners.push(listener);
        }
        let server = Server {
            state,
            addrs: [addrs[0], addrs[1], addrs[2]],
            echo: echo.to_string(),
        };
        for (listener, origin) in
            listeners
                .into_iter()
                .zip([Origin::Base, Origin::Other, Origin::Denied])
        {
            tokio::spawn(server.clone().serve(listener, origin));
        }
        Ok(server)
    }

    pub fn url(&self, origin: Origin) -> String {
        let i = match origin {
            Origin::Base => 0,
            Origin::Other => 1,
            Origin::Denied => 2,
        };
        format!("http://{}", self.addrs[i])
    }

    /// Every request so far, and forgets them (each check starts from nothing).
    pub fn take(&self) -> Vec<Seen> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.counts.clear();
        std::mem::take(&mut state.seen)
    }

    async fn serve(self, listener: TcpListener, origin: Origin) {
        while let Ok((stream, _)) = listener.accept().await {
            let this = self.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| this.clone().answer(origin, req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    async fn answer(
        self,
        origin: Origin,
        req: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default();
        let path = parts.uri.path().to_string();
        let query = parts.uri.query().unwrap_or("").to_string();
        let headers = parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect::<Vec<_>>();
        let gzip = headers
            .iter()
            .any(|(n, v)| n == "accept-encoding" && v.contains("gzip"));
        let n = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.seen.push(Seen {
                origin,
                method: parts.method.to_string(),
                path: path.clone(),
                query: query.clone(),
                headers,
                body,
                at: Instant::now(),
            });
            let count = state.counts.entry(format!("{path}?{query}")).or_default();
            *count += 1;
            *count
        };
        Ok(self.respond(&path, &query, n, gzip).await)
    }

    /// The answer to the `n`-th request for this path and query.
    async fn respond(&self, path: &str, query: &str, n: u32, gzip: bool) -> Response<Full<Bytes>> {
        match (path, query) {
            ("/flaky", _) if n <= 2 => status(503, ""),
            ("/missing", _) => status(404, "no such thing"),
            ("/limited", _) if n == 1 => with(status(429, "slow down"), "retry-after", "2"),
            ("/limited-long", _) => with(status(429, "come back tomorrow"), "retry-after", "86400"),
            ("/echo", _) => self.echo_response(gzip),
            ("/page", _) => status(200, &n.to_string()),
            ("/ic", "page=2") if n == 1 => status(410, "gone"),
            ("/held", "page=2") => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                status(200, "page 2")
            }
            _ => status(200, "ok"),
        }
    }

    /// The secret in every form a scrub must catch, in the body and in a header, gzip-encoded
    /// when the runtime asked for it.
    fn echo_response(&self, gzip: bool) -> Response<Full<Bytes>> {
        let body = crate::checks::echo_forms(&self.echo).join("\n");
        let response = if gzip {
            use std::io::Write;
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let _ = encoder.write_all(body.as_bytes());
            let mut r = Response::new(Full::new(Bytes::from(encoder.finish().unwrap_or_default())));
            r.headers_mut()
                .insert("content-encoding", http::HeaderValue::from_static("gzip"));
            r
        } else {
            status(200, &body)
        };
        match http::HeaderValue::from_str(&self.echo) {
            Ok(v) => {
                let mut r = response;
                r.headers_mut().insert("x-echo", v);
                r
            }
            Err(_) => response,
        }
    }
}

fn status(code: u16, body: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::OK);
    r
}

fn with(
    mut r: Response<Full<Bytes>>,
    name: &'static str,
    value: &'static str,
) -> Response<Full<Bytes>> {
    r.headers_mut()
        .insert(name, http::HeaderValue::from_static(value));
    r
}
