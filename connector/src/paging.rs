//! Page decisions, free of I/O.
//!
//! Repositories use offset pages; the host-visible cursor is the page number. Alerts use Socket's
//! `endCursor`; the host-visible cursor is `<pass>:<endCursor>`, where a pass is one
//! `filters.alertStatus` value, or `<pass>+<n>:<endCursor>` to go on with the same page from its
//! item `n` (a page's findings usually take several calls, see [`crate::records::CALL_OUTPUT`]).
//! Listing each status separately gets every status whether or not the server includes cleared
//! alerts by default, and each pass keeps only its own status.

pub const REPOS_PER_PAGE: usize = 100;
/// 1,000,000 repositories; past this the listing is refused rather than looped.
pub const MAX_REPO_PAGES: u32 = 10_000;
pub const ALERTS_PER_PAGE: usize = 5000;

/// After reading repos page `page` with `results` items and Socket's `nextPage`, the page to read
/// next, or `None` when the listing is complete.
///
/// Stops on `nextPage` null or ≤ 0, an empty page or a short page (Socket may answer
/// `nextPage: 1` on the last page). A `nextPage` that does not move forward reads `page + 1`
/// instead, so the walk always advances and ends on the first empty or short page.
pub fn next_repo_page(
    page: u32,
    results: usize,
    next_page: Option<i64>,
) -> Result<Option<u32>, String> {
    let Some(next) = next_page.filter(|n| *n > 0) else {
        return Ok(None);
    };
    if results == 0 || results < REPOS_PER_PAGE {
        return Ok(None);
    }
    let next = if next > i64::from(page) {
        next.min(i64::from(u32::MAX)) as u32
    } else {
        page + 1
    };
    if next > MAX_REPO_PAGES {
        return Err(format!(
            "the repository listing did not end after {MAX_REPO_PAGES} pages; refusing to loop"
        ));
    }
    Ok(Some(next))
}

/// Parses a repos cursor (a page number); `None` is the first page.
pub fn repo_page_of(cursor: Option<&str>) -> Result<u32, String> {
    match cursor {
        None => Ok(1),
        Some(c) => c
            .parse::<u32>()
            .ok()
            .filter(|p| (1..=MAX_REPO_PAGES).contains(p))
            .ok_or_else(|| {
                format!("{c:?} is not a repository page cursor issued by this connector")
            }),
    }
}

/// Alert statuses a listing walks through, in order.
pub fn passes(include_cleared: bool, incremental: bool) -> &'static [&'static str] {
    if include_cleared || incremental {
        &["open", "cleared"]
    } else {
        &["open"]
    }
}

/// Position in an alerts listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertCursor {
    pub pass: usize,
    /// Socket's `startAfterCursor`; `None` starts the pass.
    pub after: Option<String>,
    /// Items of the page already mapped by earlier calls, not mapped again.
    pub skip: usize,
}

impl AlertCursor {
    pub fn parse(cursor: Option<&str>, passes: &[&str]) -> Result<AlertCursor, String> {
        let Some(c) = cursor else {
            return Ok(AlertCursor {
                pass: 0,
                after: None,
                skip: 0,
            });
        };
        let bad =
            || format!("{c:?} is not an alerts cursor issued by this connector for these settings");
        let (position, after) = c.split_once(':').ok_or_else(bad)?;
        let (name, skip) = match position.split_once('+') {
            Some((name, n)) => (
                name,
                n.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(bad)?,
            ),
            None => (position, 0),
        };
        let pass = passes.iter().position(|p| *p == name).ok_or_else(bad)?;
        Ok(AlertCursor {
            pass,
            after: (!after.is_empty()).then(|| after.to_string()),
            skip,
        })
    }

    pub fn encode(&self, passes: &[&str]) -> String {
        let after = self.after.as_deref().unwrap_or("");
        match self.skip {
            0 => format!("{}:{after}", passes[self.pass]),
            n => format!("{}+{n}:{after}", passes[self.pass]),
        }
    }

    /// The cursor that reads this same page again from its item `index` on.
    pub fn resume_at(&self, index: usize) -> AlertCursor {
        AlertCursor {
            skip: index,
            ..self.clone()
        }
    }

    /// The cursor after a page that answered `end_cursor`, or `None` when every pass is done.
    /// An `endCursor` equal to the one sent would repeat the page forever and is an error.
    pub fn next(
        &self,
        passes: &[&str],
        end_cursor: Option<&str>,
    ) -> Result<Option<AlertCursor>, String> {
        match end_cursor.filter(|c| !c.is_empty()) {
            Some(end) if self.after.as_deref() == Some(end) => Err(format!(
                "Socket returned the same endCursor it was sent ({end:?}); refusing to loop"
            )),
            Some(end) => Ok(Some(AlertCursor {
                pass: self.pass,
                after: Some(end.to_string()),
                skip: 0,
            })),
            None if self.pass + 1 < passes.len() => Ok(Some(AlertCursor {
                pass: self.pass + 1,
                after: None,
                skip: 0,
            })),
            None => Ok(None),
        }
    }
}

/// The `endCursor` an alerts page states, found without parsing the page: the value after
/// its first `"endCursor"` key. `Some(None)` for `null`; `None` when there is no such key or
/// its value is neither a string nor null. A guess, for fetching the next page ahead: an
/// alert could carry the same key, so the page's proper reading decides what comes next.
pub fn peek_end_cursor(body: &[u8]) -> Option<Option<String>> {
    const KEY: &[u8] = b"\"endCursor\"";
    let at = memchr::memmem::find(body, KEY)? + KEY.len();
    let rest = body[at..].trim_ascii_start().strip_prefix(b":")?;
    serde_json::Deserializer::from_slice(rest)
        .into_iter::<Option<String>>()
        .next()?
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repos_stop_on_null_zero_empty_and_short_pages() {
        assert_eq!(next_repo_page(1, 100, None), Ok(None));
        assert_eq!(next_repo_page(1, 100, Some(0)), Ok(None));
        assert_eq!(next_repo_page(1, 0, Some(2)), Ok(None));
        assert_eq!(next_repo_page(1, 37, Some(2)), Ok(None));
        assert_eq!(next_repo_page(1, 100, Some(2)), Ok(Some(2)));
    }

    #[test]
    fn repos_next_page_that_does_not_advance_still_advances() {
        // Socket's edge case: nextPage=1 on a full page.
        assert_eq!(next_repo_page(1, 100, Some(1)), Ok(Some(2)));
        assert_eq!(next_repo_page(5, 100, Some(2)), Ok(Some(6)));
    }

    #[test]
    fn repos_are_capped() {
        assert!(next_repo_page(MAX_REPO_PAGES, 100, Some(i64::from(MAX_REPO_PAGES) + 1)).is_err());
    }

    #[test]
    fn repo_cursors_round_trip_and_reject_junk() {
        assert_eq!(repo_page_of(None), Ok(1));
        assert_eq!(repo_page_of(Some("7")), Ok(7));
        assert!(repo_page_of(Some("0")).is_err());
        assert!(repo_page_of(Some("seven")).is_err());
    }

    #[test]
    fn the_end_cursor_is_peeked_wherever_the_key_is_and_junk_is_no_guess() {
        let peek = |s: &str| peek_end_cursor(s.as_bytes());
        assert_eq!(
            peek(r#"{"endCursor":"a\"b","items":[]}"#),
            Some(Some("a\"b".into()))
        );
        assert_eq!(
            peek(r#"{"items":[{"x":1}], "endCursor" : null}"#),
            Some(None)
        );
        assert_eq!(peek(r#"{"items":[],"endCursor":17}"#), None);
        assert_eq!(peek(r#"{"items":[],"endCursor":"#), None);
        assert_eq!(peek(r#"{"items":[]}"#), None);
    }

    #[test]
    fn passes_depend_on_mode() {
        assert_eq!(passes(false, false), &["open"]);
        assert_eq!(passes(true, false), &["open", "cleared"]);
        assert_eq!(passes(false, true), &["open", "cleared"]);
    }

    #[test]
    fn empty_page_with_cursor_is_not_the_end() {
        let p = passes(false, false);
        let start = AlertCursor::parse(None, p).unwrap();
        let next = start.next(p, Some("abc")).unwrap().unwrap();
        assert_eq!(next.encode(p), "open:abc");
        assert_eq!(next.next(p, None), Ok(None));
    }

    #[test]
    fn passes_chain_then_end() {
        let p = passes(true, false);
        let c = AlertCursor::parse(Some("open:x"), p).unwrap();
        let c = c.next(p, None).unwrap().unwrap();
        assert_eq!(
            c,
            AlertCursor {
                pass: 1,
                after: None,
                skip: 0,
            }
        );
        assert_eq!(c.encode(p), "cleared:");
        assert_eq!(AlertCursor::parse(Some("cleared:"), p).unwrap(), c);
        assert_eq!(c.next(p, Some("")), Ok(None));
    }

    #[test]
    fn repeated_cursor_is_refused() {
        let p = passes(false, false);
        let c = AlertCursor::parse(Some("open:same"), p).unwrap();
        assert!(c.next(p, Some("same")).is_err());
    }

    #[test]
    fn foreign_cursors_are_refused() {
        let p = passes(false, false);
        for bad in [
            "cleared:x",
            "nonsense",
            "open+0:x",
            "open+-1:x",
            "open+x:y",
            "+3:x",
        ] {
            assert!(AlertCursor::parse(Some(bad), p).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_page_resumed_mid_way_keeps_its_socket_cursor() {
        let p = passes(true, false);
        let c = AlertCursor::parse(Some("open:a:b"), p).unwrap();
        let resumed = c.resume_at(1200);
        assert_eq!(resumed.encode(p), "open+1200:a:b");
        assert_eq!(
            AlertCursor::parse(Some("open+1200:a:b"), p),
            Ok(resumed.clone())
        );
        let first = AlertCursor::parse(None, p).unwrap().resume_at(7);
        assert_eq!(first.encode(p), "open+7:");
        assert_eq!(AlertCursor::parse(Some("open+7:"), p), Ok(first));
        // The next page starts at its first item again.
        assert_eq!(resumed.next(p, Some("c")).unwrap().unwrap().skip, 0);
    }
}
