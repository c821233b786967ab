//! The status line a terminal sees during a sync, redrawn after every committed page.

use crate::sync::{PageProgress, ProgressSink};

pub struct StatusLine;

impl ProgressSink for StatusLine {
    fn page(&self, p: &PageProgress) {
        let c = &p.counts;
        eprint!(
            "\r\x1b[2K{} pages · {} resources · {} findings from {} vendor records · {} requests · {} retries · {:.1} s",
            p.pages,
            c.resources,
            c.findings.max(c.issues),
            c.vendor_records,
            p.requests,
            p.retries,
            p.elapsed.as_secs_f64()
        );
    }

    fn finished(&self) {
        eprintln!();
    }
}
