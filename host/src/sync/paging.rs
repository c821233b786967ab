//! The paging contract a component must keep (`wit/connector.wit`, Paging): bounded cursors
//! that never repeat within a listing, bounded pages, and listings that end. The sync loop and
//! the connector check-up both hold a listing to it, page by page.

use std::collections::HashSet;

use crate::error::Failure;
use crate::mutants::{Duty, skips};
use crate::output::id_key;
use crate::text::printable;

/// Longest cursor a component may hand back: it is stored in the state file and sent back on
/// every call, so it must stay small.
pub const MAX_CURSOR_BYTES: usize = 4096;

/// The paging contract a component must keep.
pub(crate) struct PageLimits {
    pub max_pages: u64,
    pub max_records: u64,
}

/// The cursors one listing has handed out, as digests: one handed out again is a cycle.
#[derive(Default)]
pub(crate) struct CursorTrail(HashSet<u128>);

impl PageLimits {
    pub(crate) fn check_page(
        &self,
        call: &str,
        pages: u64,
        records: usize,
        sent: Option<&str>,
        next: Option<&str>,
        trail: &mut CursorTrail,
    ) -> Result<(), Failure> {
        if records as u64 > self.max_records {
            return Err(Failure::Guest(format!(
                "contract violation: `{call}` returned a page of {records} records; the limit is {} (max-page-records)",
                self.max_records
            )));
        }
        let shown = |c: &str| printable(c, 80);
        if skips(Duty::Cursors) {
            return Ok(());
        }
        if let Some(c) = next.filter(|c| c.len() > MAX_CURSOR_BYTES) {
            return Err(Failure::Guest(format!(
                "contract violation: `{call}` returned a cursor of {} bytes; the limit is {MAX_CURSOR_BYTES}",
                c.len()
            )));
        }
        if let Some(c) = next.filter(|_| next == sent) {
            return Err(Failure::Guest(format!(
                "contract violation: `{call}` returned the cursor it was given ({:?}); it would never end",
                shown(c)
            )));
        }
        if let Some(c) = next.filter(|c| !trail.0.insert(id_key(c))) {
            return Err(Failure::Guest(format!(
                "contract violation: `{call}` returned a cursor it had returned before in this listing ({:?}, page {pages}); the listing cycles",
                shown(c)
            )));
        }
        if next.is_some() && pages >= self.max_pages {
            return Err(Failure::Guest(format!(
                "contract violation: `{call}` did not end after {pages} pages (max-pages)"
            )));
        }
        Ok(())
    }
}
