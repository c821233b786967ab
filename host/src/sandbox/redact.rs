//! Finding the credential in bytes a server sent back, in the forms a reflecting server writes
//! it: as it is, base64 (standard or URL-safe, at any alignment), hex, percent-encoded, or with
//! JSON `\u` escapes. The host owns content negotiation, so the body itself arrives in identity
//! form; these are the encodings a reflecting endpoint applies on its own.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Percent-encoding that keeps RFC 3986's unreserved characters, as URL and form encoders do.
const KEEP_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What replaces every form of the credential.
pub const REDACTED: &str = "[REDACTED]";

/// The forms of one secret to look for.
#[derive(Clone)]
pub struct Redactor {
    forms: Vec<Vec<u8>>,
}

impl Redactor {
    /// `None` for secrets too short to look for without false matches.
    pub fn new(secret: &[u8]) -> Option<Redactor> {
        if secret.len() < 4 {
            return None;
        }
        let mut forms = vec![secret.to_vec()];
        for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
            // Base64 of the secret depends on where it starts in the encoded text (its offset
            // modulo 3): for each offset, keep only the characters the secret alone decides.
            for offset in 0..3 {
                let mut padded = vec![0u8; offset];
                padded.extend_from_slice(secret);
                let encoded = engine.encode(&padded);
                let start = (offset * 8).div_ceil(6);
                let end = (padded.len() * 8) / 6;
                if end > start + 4 {
                    forms.push(encoded.as_bytes()[start..end].to_vec());
                }
            }
        }
        let hex = hex::encode(secret);
        forms.push(hex.to_ascii_uppercase().into_bytes());
        forms.push(hex.into_bytes());
        if let Ok(text) = std::str::from_utf8(secret) {
            for set in [NON_ALPHANUMERIC, KEEP_UNRESERVED] {
                forms.push(utf8_percent_encode(text, set).to_string().into_bytes());
            }
            forms.push(text.replace('/', "\\/").into_bytes());
            let escaped: String = text
                .chars()
                .map(|c| format!("\\u{:04x}", c as u32))
                .collect();
            forms.push(escaped.into_bytes());
        }
        forms.sort();
        forms.dedup();
        Some(Redactor { forms })
    }

    /// `bytes` with every form replaced by [`REDACTED`], or `None` when none occurs.
    pub fn redact(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        if !self.occurs_in(bytes) {
            return None;
        }
        let mut out = bytes.to_vec();
        for form in &self.forms {
            out = replace_all(&out, form);
        }
        Some(out)
    }

    /// Whether any form occurs in `bytes`.
    pub fn occurs_in(&self, bytes: &[u8]) -> bool {
        self.forms
            .iter()
            .any(|f| memchr::memmem::find(bytes, f).is_some())
    }
}

/// Every secret of a run, each in all its forms: what the response scrub, the cassette
/// recorder, the output writer and error messages all redact with.
#[derive(Clone, Default)]
pub struct Secrets {
    redactors: Vec<Redactor>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} redacted)", self.redactors.len())
    }
}

impl Secrets {
    /// Adds a secret; one under 4 bytes cannot be told apart from ordinary text and is skipped.
    pub fn add(&mut self, secret: &str) {
        self.redactors.extend(Redactor::new(secret.as_bytes()));
    }

    /// `bytes` with every secret removed, or `None` when none occurs.
    pub fn redact_bytes(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        let mut out: Option<Vec<u8>> = None;
        for r in &self.redactors {
            if let Some(scrubbed) = r.redact(out.as_deref().unwrap_or(bytes)) {
                out = Some(scrubbed);
            }
        }
        out
    }

    /// `text` with every secret removed.
    pub fn redact(&self, text: &str) -> String {
        match self.redact_bytes(text.as_bytes()) {
            Some(scrubbed) => String::from_utf8_lossy(&scrubbed).into_owned(),
            None => text.to_string(),
        }
    }

    /// Whether any secret, in any of its forms, is in `bytes`.
    pub fn occurs_in(&self, bytes: &[u8]) -> bool {
        self.redactors.iter().any(|r| r.occurs_in(bytes))
    }
}

fn replace_all(haystack: &[u8], needle: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = memchr::memmem::find(rest, needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(REDACTED.as_bytes());
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &[u8] = b"sktsec_abc123/+=?&";

    #[test]
    fn every_form_a_reflecting_server_writes_is_found() {
        let r = Redactor::new(TOKEN).unwrap();
        let mut reflections: Vec<String> = vec![
            String::from_utf8(TOKEN.to_vec()).unwrap(),
            hex::encode(TOKEN),
            hex::encode_upper(TOKEN),
            utf8_percent_encode("sktsec_abc123/+=?&", NON_ALPHANUMERIC).to_string(),
            utf8_percent_encode("sktsec_abc123/+=?&", KEEP_UNRESERVED).to_string(),
            "sktsec_abc123\\/+=?&".to_string(),
            "sktsec_abc123/+=?&"
                .chars()
                .map(|c| format!("\\u{:04x}", c as u32))
                .collect(),
        ];
        // Base64 of a header line, the token at every offset, in both alphabets.
        for prefix in ["", "B", "Be", "Bearer "] {
            let line = [prefix.as_bytes(), TOKEN].concat();
            reflections.push(base64::engine::general_purpose::STANDARD.encode(&line));
            reflections.push(URL_SAFE_NO_PAD.encode(&line));
        }
        for reflected in reflections {
            let body = format!("{{\"echo\": \"{reflected}\"}}");
            let out = r.redact(body.as_bytes()).expect(&reflected);
            assert!(!r.occurs_in(&out), "{reflected}");
            assert!(String::from_utf8(out).unwrap().contains(REDACTED));
        }
        assert_eq!(r.redact(b"{\"items\": []}"), None);
        assert!(Redactor::new(b"abc").is_none());
    }

    #[test]
    fn secrets_redact_each_of_several() {
        let mut s = Secrets::default();
        s.add("first-secret");
        s.add("second-secret");
        s.add("abc");
        let text = "a first-secret and a second-secret and abc";
        assert_eq!(s.redact(text), "a [REDACTED] and a [REDACTED] and abc");
        assert!(s.occurs_in(b"xx second-secret"));
        assert_eq!(s.redact_bytes(b"nothing"), None);
    }
}
