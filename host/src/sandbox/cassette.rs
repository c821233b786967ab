//! Recorded HTTP: replay a cassette offline, or record a live run into one.
//!
//! A cassette is a directory: `cassette.json` lists interactions (method, path, query, status,
//! a few response headers, and the body's file), bodies sit beside it under `bodies/`. Requests
//! match on method + path + query, the query compared as a sorted list of decoded pairs. Request
//! headers are never stored, so a recorded cassette cannot hold the token; response bodies are
//! scrubbed of it too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};

use super::redact::Secrets;
use super::transport::{BoxFuture, Incoming, Outgoing, TransportError, Upstream};

const INDEX: &str = "cassette.json";
/// Response headers worth keeping: the ones connectors read (paging, the server's clock for a
/// high-water mark, rate limits), so that a replay answers as the live run was answered.
const KEPT_HEADERS: [&str; 9] = [
    "content-type",
    "retry-after",
    "link",
    "date",
    "last-modified",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-total-count",
];

#[derive(Debug, Serialize, Deserialize)]
struct Index {
    version: u32,
    interactions: Vec<Interaction>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Interaction {
    method: String,
    path: String,
    #[serde(default)]
    query: String,
    status: u16,
    #[serde(default)]
    headers: Vec<(String, String)>,
    /// Relative to the cassette directory.
    body_file: String,
}

/// The match key: method, path, and the query as sorted decoded pairs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key(String, String, Vec<(String, String)>);

impl Key {
    fn new(method: &str, path: &str, query: &str) -> Key {
        let mut pairs: Vec<(String, String)> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        pairs.sort();
        Key(method.to_ascii_uppercase(), path.to_string(), pairs)
    }

    fn of(req: &Outgoing) -> Key {
        Key::new(
            req.method.as_str(),
            req.uri.path(),
            req.uri.query().unwrap_or(""),
        )
    }
}

/// Serves recorded responses; anything unrecorded fails as a request, naming it.
pub struct Replay {
    dir: PathBuf,
    responses: HashMap<Key, Interaction>,
}

/// The index of the cassette in `dir`.
fn read_index(dir: &Path) -> Result<Index, String> {
    let index_path = dir.join(INDEX);
    let text = std::fs::read_to_string(&index_path)
        .map_err(|e| format!("cassette: cannot read {}: {e}", index_path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "cassette: {} is not a cassette index: {e}",
            index_path.display()
        )
    })
}

impl Replay {
    /// Opens the cassette in `dir`; `Err` says what is missing or unreadable.
    pub fn open(dir: &Path) -> Result<Replay, String> {
        let responses = read_index(dir)?
            .interactions
            .into_iter()
            .map(|i| (Key::new(&i.method, &i.path, &i.query), i))
            .collect();
        Ok(Replay {
            dir: dir.to_path_buf(),
            responses,
        })
    }

    fn respond(&self, req: &Outgoing) -> Result<Incoming, TransportError> {
        let found = self.responses.get(&Key::of(req)).ok_or_else(|| {
            TransportError::Cassette(format!(
                "no recorded response for {} {} in {}",
                req.method,
                req.uri.path_and_query().map_or("/", |p| p.as_str()),
                self.dir.display()
            ))
        })?;
        let body_path = self.dir.join(&found.body_file);
        let unreadable = |e: std::io::Error| {
            TransportError::Cassette(format!("cannot read {}: {e}", body_path.display()))
        };
        let mut charge = req.budget.start();
        let len = std::fs::metadata(&body_path).map_err(unreadable)?.len();
        charge.grow(len).map_err(TransportError::OverBudget)?;
        let body = std::fs::read(&body_path).map_err(unreadable)?;
        let mut headers = HeaderMap::new();
        for (k, v) in &found.headers {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v)) {
                headers.append(k, v);
            }
        }
        let status = StatusCode::from_u16(found.status).map_err(|_| {
            TransportError::Cassette(format!("bad status {} recorded", found.status))
        })?;
        charge
            .resize(body.len() as u64 + super::transport::headers_size(&headers))
            .map_err(TransportError::OverBudget)?;
        Ok(Incoming {
            status,
            headers,
            body: Bytes::from(body),
            charge,
        })
    }
}

impl Upstream for Replay {
    fn send(&self, req: Outgoing) -> BoxFuture<'_, Result<Incoming, TransportError>> {
        let result = self.respond(&req);
        Box::pin(async move { result })
    }
}

/// Passes requests to `inner` and writes what came back into a cassette as it goes. Recording
/// into a cassette that exists adds to it: a request recorded again replaces its earlier answer,
/// and every other recording stays (so `check --record DIR` beside a sync's recording keeps it).
pub struct Recorder {
    inner: Arc<dyn Upstream>,
    dir: PathBuf,
    /// The secrets in every form a server might reflect them, kept out of the cassette.
    secrets: Secrets,
    index: Mutex<Recorded>,
}

struct Recorded {
    interactions: Vec<Interaction>,
    /// The number of the next body file: past every one the cassette already has.
    next_body: usize,
}

impl Recorder {
    /// A recording into `dir`, of what `inner` answers, with `secrets` removed.
    pub fn create(
        dir: &Path,
        inner: Arc<dyn Upstream>,
        secrets: Secrets,
    ) -> Result<Recorder, String> {
        std::fs::create_dir_all(dir.join("bodies"))
            .map_err(|e| format!("record: cannot create {}: {e}", dir.display()))?;
        let interactions = if dir.join(INDEX).exists() {
            read_index(dir)
                .map_err(|e| format!("record: {e} (move it away to record afresh)"))?
                .interactions
        } else {
            Vec::new()
        };
        let next_body = interactions
            .iter()
            .filter_map(|i| {
                i.body_file
                    .strip_prefix("bodies/")?
                    .strip_suffix(".json")?
                    .parse::<usize>()
                    .ok()
            })
            .max()
            .unwrap_or(0)
            + 1;
        Ok(Recorder {
            inner,
            dir: dir.to_path_buf(),
            secrets,
            index: Mutex::new(Recorded {
                interactions,
                next_body,
            }),
        })
    }

    fn store(&self, req: &Outgoing, resp: &Incoming) -> std::io::Result<()> {
        let mut recorded = self.index.lock().unwrap_or_else(|e| e.into_inner());
        let key = Key::of(req);
        let body_file = format!("bodies/{:04}.json", recorded.next_body);
        recorded.next_body += 1;
        let body = match self.secrets.redact_bytes(&resp.body) {
            Some(scrubbed) => Bytes::from(scrubbed),
            None => resp.body.clone(),
        };
        let body_path = self.dir.join(&body_file);
        crate::atomic_file::write(&body_path, &body)?;
        let headers = KEPT_HEADERS
            .iter()
            .filter_map(|h| {
                Some((
                    h.to_string(),
                    resp.headers.get(*h)?.to_str().ok()?.to_string(),
                ))
            })
            .collect();
        let index = &mut recorded.interactions;
        index.retain(|i| Key::new(&i.method, &i.path, &i.query) != key);
        index.push(Interaction {
            method: req.method.to_string(),
            path: req.uri.path().to_string(),
            query: req.uri.query().unwrap_or("").to_string(),
            status: resp.status.as_u16(),
            headers,
            body_file,
        });
        let text = serde_json::to_string_pretty(&Index {
            version: 1,
            interactions: index.clone(),
        })
        .map_err(std::io::Error::other)?;
        crate::atomic_file::write(&self.dir.join(INDEX), text.as_bytes())
    }
}

impl Upstream for Recorder {
    fn send(&self, req: Outgoing) -> BoxFuture<'_, Result<Incoming, TransportError>> {
        Box::pin(async move {
            let resp = self.inner.send(req.clone()).await?;
            if let Err(e) = self.store(&req, &resp) {
                tracing::error!("record: could not write to {}: {e}", self.dir.display());
            }
            Ok(resp)
        })
    }
}

/// A query component decoded the way form encoders write it (`+` for a space).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_query_order_and_encoding() {
        assert_eq!(
            Key::new("get", "/a", "x=1&y=a%20b"),
            Key::new("GET", "/a", "y=a+b&x=1")
        );
        assert_ne!(Key::new("GET", "/a", "x=1"), Key::new("GET", "/a", "x=2"));
        assert_ne!(Key::new("GET", "/a", ""), Key::new("GET", "/b", ""));
    }

    #[test]
    fn percent_decoding_handles_truncated_escapes() {
        assert_eq!(percent_decode("a%2Cb%"), "a,b%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(
            percent_decode("2026-08-10%2009%3A20%3A00"),
            "2026-08-10 09:20:00"
        );
    }
}
