//! The status line a terminal sees during a sync, redrawn after every committed page: what a
//! user counts (records, requests), cut to the terminal's width so a redraw never wraps, and
//! cleared before a log line is written so the two never share a line.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::sync::{PageProgress, ProgressSink};

/// Whether a status line is on the terminal now (the next log line clears it first).
static SHOWN: AtomicBool = AtomicBool::new(false);

/// Clears the current terminal line.
const CLEAR: &str = "\r\x1b[2K";

pub struct StatusLine;

impl ProgressSink for StatusLine {
    fn page(&self, p: &PageProgress) {
        let line = status_text(p);
        let shown = fit(&line, terminal_width());
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{CLEAR}{shown}");
        let _ = err.flush();
        SHOWN.store(true, Ordering::Relaxed);
    }

    fn finished(&self) {
        if SHOWN.swap(false, Ordering::Relaxed) {
            eprintln!();
        }
    }
}

fn status_text(p: &PageProgress) -> String {
    let c = &p.counts;
    let retried = match p.retries {
        0 => String::new(),
        n => format!(" ({n} retried)"),
    };
    format!(
        "{} resources · {} findings from {} records · {} requests{retried} · {:.1} s",
        c.resources,
        c.findings.max(c.issues),
        c.vendor_records,
        p.requests,
        p.elapsed.as_secs_f64()
    )
}

/// `line` cut to fit in `width` columns without wrapping (one column left for the cursor).
fn fit(line: &str, width: usize) -> String {
    let room = width.saturating_sub(1).max(1);
    if line.chars().count() <= room {
        return line.to_string();
    }
    let mut cut: String = line.chars().take(room.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The terminal's width in columns: stderr's window size, else `COLUMNS`, else 80.
fn terminal_width() -> usize {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: TIOCGWINSZ writes one `winsize` into the struct passed; stderr is fd 2.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        if unsafe { libc::ioctl(2, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_col > 0 {
            return usize::from(ws.ws_col);
        }
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|c| *c > 0)
        .unwrap_or(80)
}

/// Stderr for log lines: clears a status line on the terminal before the first byte of a log
/// event (the next page redraws it).
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut err = std::io::stderr().lock();
        if SHOWN.swap(false, Ordering::Relaxed) {
            err.write_all(CLEAR.as_bytes())?;
        }
        err.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        LogWriter
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Counts;

    #[test]
    fn the_status_line_fits_an_80_column_terminal_and_counts_records() {
        let p = PageProgress {
            pages: 51,
            counts: Counts {
                resources: 130,
                issues: 100_000,
                findings: 100_000,
                vendor_records: 80_000,
                skipped_records: 0,
            },
            requests: 19,
            retries: 2,
            elapsed: std::time::Duration::from_millis(10_700),
        };
        let line = status_text(&p);
        assert!(!line.contains("pages"), "{line}");
        assert!(line.contains("100000 findings") && line.contains("19 requests"));
        assert!(line.contains("(2 retried)"), "{line}");
        assert!(fit(&line, 80).chars().count() < 80, "{line}");
        let calm = status_text(&PageProgress { retries: 0, ..p });
        assert_eq!(fit(&calm, 80), calm, "a run without retries fits uncut");
        let shown = fit(&line, 40);
        assert!(shown.chars().count() < 40, "{shown}");
        assert!(shown.ends_with('…'));
        assert_eq!(fit("short", 80), "short");
    }
}
