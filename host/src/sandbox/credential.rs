//! The credentials the host attaches, as each secret setting declares (see `credential-scheme`
//! in `wit/connector.wit`): the header it goes in, and the one origin it goes to.

use crate::mutants::{Duty, skips};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::policy::Origin;

/// How a secret becomes a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: Bearer <secret>`.
    Bearer,
    /// `Authorization: Basic base64(<secret>:)`.
    BasicUser,
    /// `Authorization: Basic base64(<user>:<secret>)`.
    BasicPassword {
        /// The user name.
        user: String,
    },
    /// `<name>: <prefix><secret>`.
    Header {
        /// The header's name.
        name: String,
        /// What goes before the secret (`Token `), or nothing.
        prefix: String,
    },
}

/// One secret as a header bound to one origin; its `Debug` never shows the value.
#[derive(Clone)]
pub struct Credential {
    /// The secret setting it came from, for messages.
    pub setting: String,
    name: HeaderName,
    value: HeaderValue,
    bound_to: Origin,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credential({} in `{}` to {}: [REDACTED])",
            self.setting, self.name, self.bound_to
        )
    }
}

impl Credential {
    /// The credential a secret setting declares, bound to `origin`; `Err` names what is wrong with
    /// its header.
    pub fn new(
        setting: &str,
        scheme: &Scheme,
        secret: &str,
        bound_to: Origin,
    ) -> Result<Credential, String> {
        let basic = |user: &str, password: &str| {
            format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
        };
        let (name, text) = match scheme {
            Scheme::Bearer => (http::header::AUTHORIZATION, format!("Bearer {secret}")),
            Scheme::BasicUser => (http::header::AUTHORIZATION, basic(secret, "")),
            Scheme::BasicPassword { user } => (http::header::AUTHORIZATION, basic(user, secret)),
            Scheme::Header { name, prefix } => (
                HeaderName::try_from(name.as_str()).map_err(|_| {
                    format!("secret `{setting}`: `{name}` is not a valid header name")
                })?,
                format!("{prefix}{secret}"),
            ),
        };
        if is_forbidden(&name) {
            return Err(format!(
                "secret `{setting}`: the header `{name}` is the host's to set, not a credential's"
            ));
        }
        let mut value = HeaderValue::from_str(&text).map_err(|_| {
            format!("secret `{setting}` contains characters that cannot go in an HTTP header")
        })?;
        value.set_sensitive(true);
        Ok(Credential {
            setting: setting.to_string(),
            name,
            value,
            bound_to,
        })
    }

    /// The header this credential travels in: removed from every request the guest makes.
    pub fn header_name(&self) -> &HeaderName {
        &self.name
    }

    /// Adds the credential when the request is bound for its origin.
    pub fn attach(&self, origin: &Origin, headers: &mut HeaderMap) {
        if *origin == self.bound_to || skips(Duty::CredentialOrigin) {
            headers.insert(self.name.clone(), self.value.clone());
        }
    }

    /// Two credentials in one header to one origin would overwrite each other.
    pub fn collides_with(&self, other: &Credential) -> bool {
        self.name == other.name && self.bound_to == other.bound_to
    }
}

/// Headers that decide how a request is framed or routed, which a credential must not set.
fn is_forbidden(name: &HeaderName) -> bool {
    use http::header::*;
    [
        HOST,
        CONTENT_LENGTH,
        TRANSFER_ENCODING,
        CONNECTION,
        UPGRADE,
        TE,
        ACCEPT_ENCODING,
        PROXY_AUTHORIZATION,
        COOKIE,
    ]
    .contains(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(s: &str) -> Origin {
        Origin::parse(s).unwrap()
    }

    fn sent(c: &Credential, to: &str) -> Option<String> {
        let mut h = HeaderMap::new();
        c.attach(&origin(to), &mut h);
        Some(h.get(c.header_name())?.to_str().ok()?.to_string())
    }

    #[test]
    fn each_scheme_writes_its_header_to_its_origin_only() {
        let api = "https://api.example.com";
        let c = |scheme| Credential::new("key", &scheme, "s3cr3t", origin(api)).unwrap();
        assert_eq!(sent(&c(Scheme::Bearer), api).unwrap(), "Bearer s3cr3t");
        assert_eq!(
            sent(&c(Scheme::BasicUser), api).unwrap(),
            "Basic czNjcjN0Og=="
        );
        let pair = c(Scheme::BasicPassword { user: "bot".into() });
        assert_eq!(sent(&pair, api).unwrap(), "Basic Ym90OnMzY3IzdA==");
        let header = c(Scheme::Header {
            name: "X-Api-Key".into(),
            prefix: "Key ".into(),
        });
        assert_eq!(header.header_name().as_str(), "x-api-key");
        assert_eq!(sent(&header, api).unwrap(), "Key s3cr3t");
        assert_eq!(sent(&header, "https://evil.example.com"), None);
        assert_eq!(sent(&header, "http://api.example.com"), None);
        assert!(!format!("{header:?}").contains("s3cr3t"));
    }

    #[test]
    fn bad_headers_are_refused_with_the_setting_named() {
        let bad = |name: &str, secret: &str| {
            let scheme = Scheme::Header {
                name: name.into(),
                prefix: String::new(),
            };
            Credential::new("key", &scheme, secret, origin("https://a.example")).unwrap_err()
        };
        assert!(bad("X Key", "s").contains("`X Key` is not a valid header name"));
        assert!(bad("Host", "s").contains("the host's to set"));
        assert!(bad("X-Key", "a\nb").starts_with("secret `key` contains"));
    }
}
