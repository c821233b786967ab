//! URLs: query strings built and read with percent-encoding, the `rel="next"` target of a
//! `Link` header (RFC 8288), and origins compared, so a server's next-page link is followed only
//! where the credentials were meant to go.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Everything but RFC 3986's unreserved characters and `,` (legal in a query, and the list
/// separator APIs read) is encoded in a query name or value.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b',');

/// `base` with `pairs` appended as its query (after any query `base` already has), each name
/// and value percent-encoded: `with_query("https://x/a", &[("q", "a b")])` is
/// `https://x/a?q=a%20b`.
pub fn with_query<K: AsRef<str>, V: AsRef<str>>(base: &str, pairs: &[(K, V)]) -> String {
    let mut url = base.to_string();
    for (i, (name, value)) in pairs.iter().enumerate() {
        let joiner = if i == 0 && !base.contains('?') {
            '?'
        } else {
            '&'
        };
        url.push(joiner);
        url.extend(utf8_percent_encode(name.as_ref(), QUERY_VALUE));
        url.push('=');
        url.extend(utf8_percent_encode(value.as_ref(), QUERY_VALUE));
    }
    url
}

/// The decoded query pairs of `url`, in order (`+` is a space, as forms write it).
pub fn query_pairs(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The first value of query parameter `name` in `url`, decoded.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    query_pairs(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// `scheme://host[:port]` of an absolute URL, lower-cased, default ports dropped.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host_port = host_port.to_ascii_lowercase();
    let host_port = match (scheme.as_str(), host_port.rsplit_once(':')) {
        ("https", Some((host, "443"))) | ("http", Some((host, "80"))) => host.to_string(),
        _ => host_port,
    };
    (!host_port.is_empty()).then(|| format!("{scheme}://{host_port}"))
}

/// Both URLs have the same origin (scheme, host and port).
pub fn same_origin(a: &str, b: &str) -> bool {
    matches!((origin(a), origin(b)), (Some(x), Some(y)) if x == y)
}

/// The target of the link with relation `rel` in a `Link` header value: `<url>; rel="next"`,
/// any number of links, parameters in any order, `rel` quoted or not and possibly holding
/// several relations (`rel="next last"`).
pub fn link(header: &str, rel: &str) -> Option<String> {
    let mut rest = header;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>')? + start;
        let target = &rest[start + 1..end];
        // A link's parameters run to the next link's `<`: a comma may sit in a quoted one.
        let params_end = rest[end..].find('<').map_or(rest.len(), |i| i + end);
        let params = &rest[end + 1..params_end];
        let has_rel = params.split(';').any(|p| {
            let Some((name, value)) = p.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_end_matches(',')
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case(rel))
        });
        if has_rel {
            return Some(target.trim().to_string());
        }
        rest = &rest[params_end..];
    }
    None
}

/// The `rel="next"` target of a `Link` header value.
pub fn next_link(header: &str) -> Option<String> {
    link(header, "next")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_encoded_and_read_back() {
        let url = with_query(
            "https://api.x/v1/items?limit=100",
            &[
                ("since", "2026-01-01T00:00:00+01:00"),
                ("q", "a b&c"),
                ("in", "x,y"),
            ],
        );
        assert_eq!(
            url,
            "https://api.x/v1/items?limit=100&since=2026-01-01T00%3A00%3A00%2B01%3A00&q=a%20b%26c&in=x,y"
        );
        assert_eq!(
            query_param(&url, "since").as_deref(),
            Some("2026-01-01T00:00:00+01:00")
        );
        assert_eq!(query_param(&url, "q").as_deref(), Some("a b&c"));
        assert_eq!(
            query_param("https://x/?per_page=100&page=1", "page").as_deref(),
            Some("1")
        );
        assert_eq!(query_param("https://x/?per_page=100", "page"), None);
    }

    #[test]
    fn next_links_in_the_shapes_servers_send() {
        let github = "<https://api.github.com/organizations/9919/dependabot/alerts?per_page=100&after=Y3Vy>; rel=\"next\", \
                      <https://api.github.com/organizations/9919/dependabot/alerts?per_page=100&before=Y3Vy>; rel=\"prev\"";
        assert_eq!(
            next_link(github).as_deref(),
            Some(
                "https://api.github.com/organizations/9919/dependabot/alerts?per_page=100&after=Y3Vy"
            )
        );
        let prev_first =
            "<https://x/?page=1>; rel=\"prev\", <https://x/?page=3>; title=\"a, b\"; rel=next";
        assert_eq!(next_link(prev_first).as_deref(), Some("https://x/?page=3"));
        assert_eq!(
            next_link("<https://x/?page=9>; rel=\"next last\"").as_deref(),
            Some("https://x/?page=9")
        );
        assert_eq!(next_link("<https://x/?page=1>; rel=\"prev\""), None);
        assert_eq!(next_link("garbage"), None);
        assert_eq!(next_link("<https://x/?page=1>; rel=\"nextish\""), None);
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert!(same_origin(
            "https://API.x.example/v1",
            "https://api.x.example:443/other?a"
        ));
        assert!(!same_origin(
            "https://api.x.example",
            "http://api.x.example"
        ));
        assert!(!same_origin(
            "https://api.x.example",
            "https://api.x.example.evil"
        ));
        assert!(!same_origin(
            "https://api.x.example",
            "https://api.x.example:8443"
        ));
        assert!(!same_origin(
            "https://a@evil.example",
            "https://evil.example@a"
        ));
        assert_eq!(origin("not a url"), None);
    }
}
