//! The `wasi:http` outgoing-request hook: every request the guest makes passes through here.
//!
//! In order: the allow-list (scheme + host + port), the per-run request cap, a place among the
//! instance's requests in flight, the guest's own `Authorization` (and any header a credential
//! travels in) removed and the host's credentials attached, each to its own origin, then the upstream (live, replay or record, behind retries). Redirects
//! are returned to the guest as they are, so a followed redirect is a new request that meets
//! the allow-list again. The response body stays charged to the instance's budget until the
//! guest has read or dropped it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use tokio::sync::Semaphore;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

use super::Stats;
use super::budget::{Budget, HeldBody, MAX_REQUEST_BODY, OUTGOING_BODY_CHUNK, REQUESTS_IN_FLIGHT};
use super::credential::Credential;
use super::limits::HostWork;
use super::policy::{Origin, Policy};
use super::redact::Secrets;
use super::transport::{Incoming, Offline, Outgoing, TransportError, Upstream};
use crate::mutants::{Duty, skips};
use crate::text::{MAX_MESSAGE_CHARS, printable};

/// Removes every secret from a response before the guest sees it: a server that reflects
/// request headers (a debugging echo, a misconfigured proxy) must not hand one over.
fn scrub(secrets: &Secrets, response: &mut Incoming) -> Result<(), TransportError> {
    if let Some(scrubbed) = secrets.redact_bytes(&response.body) {
        let scrubbed = Bytes::from(scrubbed);
        response
            .charge
            .resize(scrubbed.len() as u64)
            .map_err(TransportError::OverBudget)?;
        response.body = scrubbed;
        response.headers.remove(http::header::CONTENT_LENGTH);
        tracing::warn!("a response echoed a secret; it was removed before the component saw it");
    }
    let leaking: Vec<_> = response
        .headers
        .iter()
        .filter(|(_, v)| secrets.occurs_in(v.as_bytes()))
        .map(|(k, _)| k.clone())
        .collect();
    for k in leaking {
        response.headers.remove(k);
    }
    Ok(())
}

/// Per-store hook state; cheap to clone into each request's future.
#[derive(Clone)]
pub struct SandboxHttp {
    /// Where the component may send requests.
    pub policy: Arc<Policy>,
    /// Where admitted requests go (the network, a cassette, a recorder).
    pub upstream: Arc<dyn Upstream>,
    /// The operator's secrets, each bound to its origin.
    pub credentials: Arc<[Credential]>,
    /// Every secret of the run, scrubbed from responses.
    pub secrets: Arc<Secrets>,
    /// What the run's requests did.
    pub stats: Arc<Stats>,
    /// Most requests one run may make.
    pub max_requests: u64,
    /// Response bodies this instance's requests hold in host memory, all together.
    pub buffers: Arc<Budget>,
    /// The host's CPU on this instance's behalf (decoding, scrubbing), charged to its budget;
    /// the instance's own is set when it is created (see `engine::Connector::instantiate`).
    pub host_work: Arc<HostWork>,
    in_flight: Arc<Semaphore>,
}

impl SandboxHttp {
    /// The hook for one instance. `response_budget`: bytes of response bodies the host may hold
    /// for it at once (received, not yet read by the component).
    pub fn new(
        policy: Policy,
        upstream: Arc<dyn Upstream>,
        credentials: Vec<Credential>,
        secrets: Secrets,
        stats: Arc<Stats>,
        max_requests: u64,
        response_budget: u64,
    ) -> SandboxHttp {
        SandboxHttp {
            policy: Arc::new(policy),
            upstream,
            credentials: credentials.into(),
            secrets: Arc::new(secrets),
            stats,
            max_requests,
            buffers: Budget::new(response_budget),
            host_work: Arc::new(HostWork::new(std::time::Duration::MAX)),
            in_flight: Arc::new(Semaphore::new(REQUESTS_IN_FLIGHT)),
        }
    }

    /// A hook that refuses every request: for calls that must not reach the network.
    pub fn offline() -> SandboxHttp {
        SandboxHttp::new(
            Policy::default(),
            Arc::new(Offline),
            Vec::new(),
            Secrets::default(),
            Arc::new(Stats::default()),
            0,
            0,
        )
    }
    /// `calls_at_start`: calls into the instance that had returned when the guest sent this.
    async fn handle(
        self,
        request: http::Request<WasiBody>,
        calls_at_start: u64,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        // Every attempt counts toward the cap, refused or not: refusals are not free.
        let n = self.stats.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let origin = Origin::of(request.uri());
        let label = origin
            .as_ref()
            .map_or_else(|| "(not an http(s) URL)".to_string(), |o| o.to_string());
        let deny = |why: String| {
            let why = printable(&why, MAX_MESSAGE_CHARS);
            if self.stats.count_denial(&label, &why) {
                tracing::warn!("sandbox refused a request: {why}");
            } else {
                tracing::debug!("sandbox refused a request: {why}");
            }
            TransportError::Denied(why).to_wasi()
        };
        let origin = origin
            .ok_or_else(|| deny(format!("{} is not an absolute http(s) URL", request.uri())))?;
        if n > self.max_requests {
            return Err(deny(format!(
                "request {n} to {origin}: the run's cap of {} requests (refused ones included) is reached",
                self.max_requests
            )));
        }
        if !skips(Duty::AllowList) {
            self.policy.check(&origin).map_err(&deny)?;
        }
        self.host_work.check().map_err(&deny)?;
        // Requests past the limit wait here; they hold nothing but their handles meanwhile.
        let _in_flight = self
            .in_flight
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| deny("the instance is shutting down".to_string()))?;
        let (parts, body) = request.into_parts();
        let body = Limited::new(body, MAX_REQUEST_BODY)
            .collect()
            .await
            .map_err(|_| {
                deny(format!(
                    "request body to {origin} is over {MAX_REQUEST_BODY} bytes"
                ))
            })?
            .to_bytes();
        let headers = self.outgoing_headers(parts.headers, &origin);
        tracing::debug!("{} {}{}", parts.method, origin, parts.uri.path());
        let outgoing = Outgoing {
            method: parts.method,
            uri: parts.uri,
            headers,
            body,
            budget: self.buffers.clone(),
            host_work: self.host_work.clone(),
        };
        let mut incoming = self.upstream.send(outgoing).await;
        if skips(Duty::HeldRequests) && self.host_work.calls_ended() != calls_at_start {
            return Err(deny(format!(
                "{origin}: the call that sent this request has returned"
            )));
        }
        if skips(Duty::Scrub) {
            // Nothing is removed.
        } else if let Ok(incoming) = &mut incoming {
            self.host_work
                .charge(|| scrub(&self.secrets, incoming))
                .map_err(|e| deny(format!("response from {origin}: {e}")))?;
        }
        let incoming = match incoming {
            Ok(r) => r,
            Err(TransportError::Denied(why)) => return Err(deny(why)),
            Err(e @ TransportError::OverBudget(_)) => {
                return Err(deny(format!("response from {origin}: {e}")));
            }
            Err(TransportError::Cassette(why)) => {
                let why = printable(&why, MAX_MESSAGE_CHARS);
                tracing::warn!("the cassette cannot answer: {why}");
                *self
                    .stats
                    .last_unrecorded
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(why.clone());
                return Err(TransportError::Cassette(why).to_wasi());
            }
            Err(e) => {
                // The message can hold the request's path and query, which are the component's.
                let e_text = printable(&e.to_string(), MAX_MESSAGE_CHARS);
                tracing::warn!("request to {origin} failed: {e_text}");
                return Err(e.to_wasi());
            }
        };
        let mut response = http::Response::new(
            HeldBody::new(incoming.body, incoming.charge)
                .map_err(|never| match never {})
                .boxed_unsync(),
        );
        *response.status_mut() = incoming.status;
        *response.headers_mut() = incoming.headers;
        Ok(response)
    }
}

impl SandboxHttp {
    /// The guest's headers as they leave: its credentials and content negotiation removed, the
    /// host's credentials for `origin` added.
    fn outgoing_headers(&self, mut headers: http::HeaderMap, origin: &Origin) -> http::HeaderMap {
        if skips(Duty::CredentialHeaders) {
            for c in self.credentials.iter() {
                c.attach(origin, &mut headers);
            }
            return headers;
        }
        headers.remove(http::header::AUTHORIZATION);
        headers.remove(http::header::PROXY_AUTHORIZATION);
        headers.remove(http::header::COOKIE);
        // Content negotiation is the host's (see the live transport): a component that asks for
        // a compressed, transcoded or partial body must not get a secret past the scrub in a
        // form (or in pieces) the scrub does not recognise.
        let negotiated: &[http::HeaderName] = if skips(Duty::Negotiation) {
            &[]
        } else {
            &[
                http::header::ACCEPT_ENCODING,
                http::header::TE,
                http::header::ACCEPT_CHARSET,
                http::header::RANGE,
                http::header::IF_RANGE,
            ]
        };
        for name in negotiated {
            headers.remove(name);
        }
        for c in self.credentials.iter() {
            headers.remove(c.header_name());
        }
        for c in self.credentials.iter() {
            c.attach(origin, &mut headers);
        }
        headers
    }
}

type HttpError = wasmtime_wasi_http::Error;
/// The connection-driver future the hook returns; responses are complete, so it is a no-op.
type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;

impl WasiHttpHooks for SandboxHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send>
    {
        let this = self.clone();
        // Read now, while the guest's call is running: the request's task may start later.
        let calls_at_start = self.host_work.calls_ended();
        Box::new(async move {
            let response = this.handle(request, calls_at_start).await?;
            let io: IoFuture = Box::new(async { Ok(()) });
            Ok((response, io))
        })
    }

    /// Writes to an outgoing body are buffered in host memory until the request is sent: keep
    /// each small (connectors send queries).
    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        OUTGOING_BODY_CHUNK
    }
}
