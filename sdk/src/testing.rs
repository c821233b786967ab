//! Native test doubles for a connector's own tests (feature `testing`): [`Routes`] answers by
//! path and query, [`Cassette`] replays a directory the runtime recorded (`--record DIR` on
//! `connector-host`), so a connector's mapping can be tested against real responses without a
//! component build or a runtime.
//!
//! Both record every request they were sent, and implement [`Http`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::http::{Http, Method, Request, Response, SendError};
use crate::url::query_pairs;

/// The path of a URL, without its origin or query.
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split_once(['?', '#']).map_or(rest, |(p, _)| p);
    rest.find('/').map_or("/", |i| &rest[i..])
}

struct Route {
    path: String,
    query: Vec<(String, String)>,
    response: Response,
}

/// Answers each request with the first route whose path equals the request's and whose query
/// pairs are all in the request's query (decoded, compared whole: `page=1` does not match
/// `per_page=1`); anything else gets a 404 naming the request.
#[derive(Default)]
pub struct Routes {
    routes: Vec<Route>,
    /// Every request sent, in order.
    pub requests: Vec<Request>,
}

impl Routes {
    /// No routes yet: every request is answered 404.
    pub fn new() -> Routes {
        Routes::default()
    }

    /// Answers `path` (e.g. `/v1/projects/p1/images`) with at least the pairs of `query`.
    pub fn on(mut self, path: &str, query: &[(&str, &str)], response: Response) -> Routes {
        self.routes.push(Route {
            path: path.to_string(),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            response,
        });
        self
    }

    fn answer(&self, request: &Request) -> Response {
        let path = path_of(&request.url);
        let pairs = query_pairs(&request.url);
        self.routes
            .iter()
            .find(|r| r.path == path && r.query.iter().all(|q| pairs.contains(q)))
            .map_or_else(
                || Response::new(404, format!("no route for {}", request.url)),
                |r| r.response.clone(),
            )
    }
}

impl Http for Routes {
    fn send(&mut self, request: &Request) -> Result<Response, SendError> {
        self.requests.push(request.clone());
        Ok(self.answer(request))
    }
}

/// Method, path, and the query as sorted decoded pairs: how a runtime matches a replay.
type Key = (String, String, Vec<(String, String)>);

fn key(method: &str, url: &str) -> Key {
    let mut pairs = query_pairs(url);
    pairs.sort();
    (method.to_ascii_uppercase(), path_of(url).to_string(), pairs)
}

/// A recorded answer: status, headers, and the body's file in the cassette.
type Recorded = (u16, Vec<(String, String)>, String);

/// A recorded cassette (`cassette.json` and `bodies/`), replayed natively. A request it holds
/// no recording of fails as a transport error that says so.
pub struct Cassette {
    dir: PathBuf,
    answers: HashMap<Key, Recorded>,
    /// Every request sent, in order.
    pub requests: Vec<Request>,
}

impl Cassette {
    /// Reads `dir/cassette.json`; errors name the file and what was wrong.
    pub fn open(dir: impl AsRef<Path>) -> Result<Cassette, String> {
        let dir = dir.as_ref().to_path_buf();
        let index = dir.join("cassette.json");
        let text =
            std::fs::read_to_string(&index).map_err(|e| format!("{}: {e}", index.display()))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", index.display()))?;
        let interactions = json["interactions"]
            .as_array()
            .ok_or_else(|| format!("{}: no `interactions` list", index.display()))?;
        let mut answers = HashMap::new();
        for (i, x) in interactions.iter().enumerate() {
            let field = |name: &str| {
                x[name].as_str().map(str::to_string).ok_or_else(|| {
                    format!("{}: interactions[{i}].{name}: not text", index.display())
                })
            };
            let url = format!("{}?{}", field("path")?, x["query"].as_str().unwrap_or(""));
            let status = x["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .ok_or_else(|| {
                    format!(
                        "{}: interactions[{i}].status: not a status",
                        index.display()
                    )
                })?;
            let headers = x["headers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|h| Some((h[0].as_str()?.to_string(), h[1].as_str()?.to_string())))
                .collect();
            answers.insert(
                key(&field("method")?, &url),
                (status, headers, field("body_file")?),
            );
        }
        Ok(Cassette {
            dir,
            answers,
            requests: Vec::new(),
        })
    }
}

impl Http for Cassette {
    fn send(&mut self, request: &Request) -> Result<Response, SendError> {
        self.requests.push(request.clone());
        let method = match request.method {
            Method::Get => "GET",
            Method::Post => "POST",
        };
        let (status, headers, body_file) = self
            .answers
            .get(&key(method, &request.url))
            .ok_or_else(|| {
                SendError::transport(format!(
                    "{method} {}: the cassette {} holds no recording of this request",
                    request.url,
                    self.dir.display()
                ))
            })?;
        let body = std::fs::read(self.dir.join(body_file))
            .map_err(|e| SendError::transport(format!("{body_file}: {e}")))?;
        Ok(Response {
            status: *status,
            headers: headers.clone(),
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_whole_query_pairs_not_substrings() {
        let mut http = Routes::new()
            .on("/v1/items", &[("page", "1")], Response::new(200, "one"))
            .on("/v1/items", &[("page", "2")], Response::new(200, "two"));
        let body = |http: &mut Routes, url: &str| http.send(&Request::get(url)).unwrap();
        assert_eq!(
            body(&mut http, "https://x/v1/items?per_page=1&page=2").body,
            b"two"
        );
        assert_eq!(
            body(&mut http, "https://x/v1/items?page=1&per_page=100").body,
            b"one"
        );
        assert_eq!(body(&mut http, "https://x/v1/items?per_page=1").status, 404);
        assert_eq!(body(&mut http, "https://x/v1/items/1?page=1").status, 404);
        assert_eq!(http.requests.len(), 4);
    }

    #[test]
    fn a_cassette_replays_in_any_query_order_and_names_a_miss() {
        let dir = std::env::temp_dir().join(format!("sdk-cassette-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("bodies")).unwrap();
        std::fs::write(dir.join("bodies/1.json"), "[1]").unwrap();
        std::fs::write(
            dir.join("cassette.json"),
            r#"{"version":1,"interactions":[{"method":"GET","path":"/v1/items",
               "query":"limit=2&since=2026-01-01T00%3A00%3A00Z","status":200,
               "headers":[["link","<https://x/v1/items?page=2>; rel=\"next\""]],
               "body_file":"bodies/1.json"}]}"#,
        )
        .unwrap();
        let mut cassette = Cassette::open(&dir).unwrap();
        let r = cassette
            .send(&Request::get(
                "https://x/v1/items?since=2026-01-01T00:00:00Z&limit=2",
            ))
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, b"[1]".as_slice()));
        assert!(r.header("link").is_some());
        let miss = cassette
            .send(&Request::get("https://x/v1/items?limit=3"))
            .unwrap_err();
        assert!(miss.message.contains("holds no recording"), "{miss}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
