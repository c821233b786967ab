//! The outgoing-HTTP allow-list: scheme + host + port, deny by default, plain http only to
//! loopback.

use std::fmt;
use std::net::IpAddr;

/// Where a request goes: the unit the allow-list is written in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: String,
    /// The host name or address, lower-case.
    pub host: String,
    /// The port, the scheme's default when the URL names none.
    pub port: u16,
}

impl Origin {
    /// Parses `scheme://host[:port][/...]`; the port defaults from the scheme.
    pub fn parse(url: &str) -> Result<Origin, String> {
        let uri: http::Uri = url
            .trim()
            .parse()
            .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        Origin::of(&uri).ok_or_else(|| format!("{url:?} is not an absolute http(s) URL"))
    }

    /// The origin of an absolute request URI.
    pub fn of(uri: &http::Uri) -> Option<Origin> {
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let host = uri
            .host()?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host.is_empty() {
            return None;
        }
        Some(Origin {
            scheme,
            host,
            port: uri.port_u16().unwrap_or(default_port),
        })
    }

    /// Whether it is this machine (`localhost`, 127.0.0.0/8, `::1`).
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.scheme, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

/// The allow-list for one run.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    allowed: Vec<Origin>,
}

impl Policy {
    /// Builds the list; plain-http origins off loopback are refused here, at configuration time.
    pub fn new(allowed: Vec<Origin>) -> Result<Policy, String> {
        if let Some(o) = allowed
            .iter()
            .find(|o| o.scheme == "http" && !o.is_loopback())
        {
            return Err(format!(
                "allowed host {o}: plain http is only allowed to loopback; use https"
            ));
        }
        Ok(Policy { allowed })
    }

    /// The origins the component may call.
    pub fn allowed(&self) -> &[Origin] {
        &self.allowed
    }

    /// `Err` says why the request is refused.
    pub fn check(&self, origin: &Origin) -> Result<(), String> {
        if origin.scheme == "http" && !origin.is_loopback() {
            return Err(format!("{origin}: plain http is only allowed to loopback"));
        }
        if self.allowed.contains(origin) {
            Ok(())
        } else {
            let list: Vec<String> = self.allowed.iter().map(Origin::to_string).collect();
            Err(format!(
                "{origin} is not on the allow-list [{}]",
                list.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_default_ports_and_normalise_case() {
        assert_eq!(
            Origin::parse("https://API.example.com/v0")
                .unwrap()
                .to_string(),
            "https://api.example.com:443"
        );
        assert_eq!(Origin::parse("http://127.0.0.1:8080").unwrap().port, 8080);
        assert_eq!(
            Origin::parse("http://[::1]:9/x").unwrap().to_string(),
            "http://[::1]:9"
        );
        assert!(Origin::parse("ftp://x").is_err());
        assert!(Origin::parse("/relative").is_err());
    }

    #[test]
    fn scheme_host_and_port_must_all_match() {
        let p = Policy::new(vec![Origin::parse("https://api.example.com").unwrap()]).unwrap();
        assert!(
            p.check(&Origin::parse("https://api.example.com/v0/x").unwrap())
                .is_ok()
        );
        for other in [
            "https://api.example.com:8443",
            "https://evil.example",
            "http://api.example.com",
        ] {
            assert!(p.check(&Origin::parse(other).unwrap()).is_err(), "{other}");
        }
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(Policy::new(vec![Origin::parse("http://example.com").unwrap()]).is_err());
        let p = Policy::new(vec![Origin::parse("http://127.0.0.1:9000").unwrap()]).unwrap();
        assert!(
            p.check(&Origin::parse("http://127.0.0.1:9000").unwrap())
                .is_ok()
        );
        assert!(
            p.check(&Origin::parse("http://127.0.0.2:9000").unwrap())
                .is_err()
        );
        assert!(Origin::parse("http://localhost:1").unwrap().is_loopback());
        assert!(!Origin::parse("http://10.0.0.1:1").unwrap().is_loopback());
    }

    #[test]
    fn empty_list_denies_everything() {
        let p = Policy::default();
        assert!(
            p.check(&Origin::parse("https://api.example.com").unwrap())
                .is_err()
        );
    }
}
