//! When to retry a request, and how long to wait first. Pure: the caller supplies the clock and
//! the jitter. One policy for both sides of the contract: the reference runtime applies it to
//! every request it carries, and [`crate::http::Retrying`] applies it inside a component whose
//! runtime does not retry.

use std::time::{Duration, SystemTime};

/// When to retry a request, and how long to wait between attempts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff; each retry doubles it, with jitter.
    pub base_delay: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
    /// The longest `Retry-After` worth waiting for; a longer one fails fast.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// Five retries, backing off from half a second to 30 s, `Retry-After` heeded up to 2 min.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        max_retries: 5,
        base_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(30),
        max_retry_after: Duration::from_secs(120),
    };
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::DEFAULT
    }
}

/// What to do after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Hand the outcome to the guest as it is.
    Return,
    /// Wait this long, then send again.
    Retry(Duration),
}

/// What one attempt produced.
pub enum Outcome<'a> {
    /// An HTTP response.
    Status {
        /// Its status code.
        status: u16,
        /// Its `Retry-After` header, if any.
        retry_after: Option<&'a str>,
    },
    /// No response: the connection failed or timed out.
    TransportError,
    /// The runtime refused the request (the contract's `HTTP-request-denied`: off the
    /// allow-list, past a cap, nothing recorded for it). Never retried: it would be refused
    /// again, and each attempt counts against the run's cap.
    Refused,
}

impl RetryPolicy {
    /// `retries_so_far` counts retries already made; `jitter` is uniform in [0, 1).
    pub fn decide(
        &self,
        retries_so_far: u32,
        outcome: Outcome<'_>,
        now: SystemTime,
        jitter: f64,
    ) -> Decision {
        if retries_so_far >= self.max_retries {
            return Decision::Return;
        }
        match outcome {
            Outcome::Refused => Decision::Return,
            Outcome::TransportError => Decision::Retry(self.backoff(retries_so_far, jitter)),
            Outcome::Status {
                status: 429,
                retry_after,
            } => match retry_after.and_then(|v| parse_retry_after(v, now)) {
                Some(wait) if wait <= self.max_retry_after => Decision::Retry(wait),
                Some(_) => Decision::Return,
                None => Decision::Retry(self.backoff(retries_so_far, jitter)),
            },
            Outcome::Status {
                status: 408 | 500 | 502 | 503 | 504,
                ..
            } => Decision::Retry(self.backoff(retries_so_far, jitter)),
            Outcome::Status { .. } => Decision::Return,
        }
    }

    /// Exponential backoff with equal jitter: half fixed, half random.
    fn backoff(&self, retries_so_far: u32, jitter: f64) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << retries_so_far.min(20));
        let capped = exp.min(self.max_delay);
        capped.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
    }
}

/// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3); a date in the past is 0.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: SystemTime = SystemTime::UNIX_EPOCH;
    fn p() -> RetryPolicy {
        RetryPolicy::default()
    }
    fn status(s: u16) -> Outcome<'static> {
        Outcome::Status {
            status: s,
            retry_after: None,
        }
    }

    #[test]
    fn retryable_statuses_back_off_exponentially_within_jitter() {
        for s in [408, 500, 502, 503, 504] {
            assert_eq!(
                p().decide(0, status(s), NOW, 0.0),
                Decision::Retry(Duration::from_millis(250)),
                "{s}"
            );
        }
        assert_eq!(
            p().decide(2, status(503), NOW, 0.999_999),
            Decision::Retry(Duration::from_millis(2000).mul_f64(0.999_999_5))
        );
        assert_eq!(
            p().decide(10, Outcome::TransportError, NOW, 1.0),
            Decision::Return
        );
        assert_eq!(
            p().decide(4, Outcome::TransportError, NOW, 0.0),
            Decision::Retry(Duration::from_secs(4))
        );
    }

    #[test]
    fn client_errors_are_never_retried() {
        for s in [200, 400, 401, 403, 404, 409] {
            assert_eq!(p().decide(0, status(s), NOW, 0.5), Decision::Return, "{s}");
        }
    }

    #[test]
    fn rate_limits_wait_retry_after_within_the_bound() {
        let wait = |v: &'static str| {
            p().decide(
                0,
                Outcome::Status {
                    status: 429,
                    retry_after: Some(v),
                },
                NOW,
                0.0,
            )
        };
        assert_eq!(wait("7"), Decision::Retry(Duration::from_secs(7)));
        assert_eq!(
            wait("Thu, 01 Jan 1970 00:00:30 GMT"),
            Decision::Retry(Duration::from_secs(30))
        );
        assert_eq!(wait("1843"), Decision::Return);
        // No usable header: back off like a 503.
        assert_eq!(wait("soon"), Decision::Retry(Duration::from_millis(250)));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(
            parse_retry_after(" 12 ", NOW),
            Some(Duration::from_secs(12))
        );
        let later = NOW + Duration::from_secs(100);
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:30 GMT", later),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-5", NOW), None);
    }

    #[test]
    fn retries_are_bounded() {
        assert_eq!(p().decide(5, status(500), NOW, 0.0), Decision::Return);
    }
}
