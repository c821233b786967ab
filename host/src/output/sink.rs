//! The output seam: rendered records, each with the columns its renderer already knew, handed to
//! a [`Sink`]. A file or a stream writes the lines in large chunks; a database files each record
//! by its columns. Nothing downstream parses a line back.

use std::io::{self, Write};
use std::ops::Range;

use serde::Serialize;

use super::{OutputMark, Summary};
use crate::sandbox::redact::Secrets;

/// What a rendered record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A `resource` line.
    Resource,
    /// An AppSec Issue (V1), an `issue` line.
    Issue,
    /// A Vulnerability Finding (V2), a `finding` line.
    Finding,
    /// An OCSF finding event.
    Event,
}

/// The typed columns of one rendered record: what a database files and filters it by, as the
/// renderer wrote them into the line. Text is borrowed from the record the line renders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Columns<'a> {
    /// The record's deterministic id.
    pub id: &'a str,
    /// The resource type, the issue type (`vulnerability`) or the finding type (`DEPENDENCY`).
    pub type_: Option<&'a str>,
    /// A resource's name.
    pub name: Option<&'a str>,
    /// As the line spells it (`High` in an issue, `HIGH` in a finding).
    pub severity: Option<&'a str>,
    /// As the line spells it (`Open` in an issue, `OPEN` in a finding).
    pub state: Option<&'a str>,
    /// The resource a finding is on.
    pub resource_id: Option<&'a str>,
    /// The affected package's name.
    pub package: Option<&'a str>,
    /// When the vendor first saw the finding (RFC 3339).
    pub first_seen: Option<&'a str>,
    /// When the vendor last saw it.
    pub last_seen: Option<&'a str>,
    /// When its state last changed (an issue's only).
    pub state_updated_at: Option<&'a str>,
}

/// One record of a [`Batch`]: what it is, its columns, and where its line is.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    /// What it is.
    pub kind: Kind,
    /// What a database files it by.
    pub columns: Columns<'a>,
    line: Range<usize>,
}

/// Rendered records for a sink: their lines one after another (each ending in `\n`), and what
/// each line is. Its text buffer is reused from page to page ([`Batch::into_buffer`]).
#[derive(Debug, Default)]
pub struct Batch<'a> {
    text: Vec<u8>,
    records: Vec<Record<'a>>,
}

impl<'a> Batch<'a> {
    /// An empty batch that writes into `buffer` (cleared).
    pub fn with_buffer(mut buffer: Vec<u8>) -> Batch<'a> {
        buffer.clear();
        Batch {
            text: buffer,
            records: Vec::new(),
        }
    }

    /// The text buffer, for the next batch.
    pub fn into_buffer(self) -> Vec<u8> {
        self.text
    }

    /// Every line, in order.
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// Each record with its line (without the newline).
    pub fn records(&self) -> impl Iterator<Item = (&Record<'a>, &str)> {
        self.records.iter().map(|r| (r, self.line(r)))
    }

    /// How many records it holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Drops every record, keeping the buffer.
    pub fn clear(&mut self) {
        self.text.clear();
        self.records.clear();
    }

    fn line(&self, r: &Record<'a>) -> &str {
        let bytes = &self.text[r.line.start..r.line.end - 1];
        // Only `push` writes the text, and serde_json writes UTF-8.
        std::str::from_utf8(bytes).expect("rendered lines are UTF-8")
    }

    /// Renders `value` as the next line, a record of `kind` with `columns`.
    pub(crate) fn push<T: Serialize>(&mut self, kind: Kind, columns: Columns<'a>, value: &T) {
        let start = self.text.len();
        serde_json::to_writer(&mut self.text, value)
            .expect("records of strings and numbers always serialize");
        self.text.push(b'\n');
        self.records.push(Record {
            kind,
            columns,
            line: start..self.text.len(),
        });
    }

    /// Removes any of `secrets` from the lines and columns; `true` when one was there.
    ///
    /// Unreachable by design (a component never holds a secret): the last line of defence, so
    /// it is simple rather than fast. A column that held a secret is replaced whole.
    pub(crate) fn redact(&mut self, secrets: &Secrets) -> bool {
        if !secrets.occurs_in(&self.text) {
            return false;
        }
        let mut text = Vec::with_capacity(self.text.len());
        for record in &mut self.records {
            let line = &self.text[record.line.clone()];
            let start = text.len();
            text.extend_from_slice(&secrets.redact_bytes(line).unwrap_or_else(|| line.to_vec()));
            record.line = start..text.len();
            record.columns = record.columns.without(secrets);
        }
        self.text = text;
        true
    }
}

impl<'a> Columns<'a> {
    /// These columns, each that holds one of `secrets` replaced whole.
    fn without(self, secrets: &Secrets) -> Columns<'a> {
        const REDACTED: &str = "[redacted]";
        let clean = |v: &'a str| {
            if secrets.occurs_in(v.as_bytes()) {
                REDACTED
            } else {
                v
            }
        };
        let opt = |v: Option<&'a str>| v.map(clean);
        Columns {
            id: clean(self.id),
            type_: opt(self.type_),
            name: opt(self.name),
            severity: opt(self.severity),
            state: opt(self.state),
            resource_id: opt(self.resource_id),
            package: opt(self.package),
            first_seen: opt(self.first_seen),
            last_seen: opt(self.last_seen),
            state_updated_at: opt(self.state_updated_at),
        }
    }
}

/// Where a run's records go. A page arrives in one or more batches of whole records, then is
/// committed: after `commit` returns, the page survives a crash.
pub trait Sink {
    /// The next records of the page being written.
    fn write(&mut self, batch: &Batch<'_>) -> io::Result<()>;
    /// The run's last record, its summary, with the line that renders it.
    fn summary(&mut self, summary: &Summary, line: &[u8]) -> io::Result<()>;
    /// Makes everything written so far durable; returns the output length, when it has one.
    fn commit(&mut self) -> io::Result<Option<u64>>;
    /// What a checkpoint should record to tell, on resume, that the output is still the one
    /// it covers (a file's path and the digest of its last bytes); `None` when nothing.
    fn mark(&self) -> Option<OutputMark> {
        None
    }
    /// The run has ended, its summary committed; `complete` when it wrote everything (a
    /// snapshot file replaces the output then).
    fn finish(&mut self, _complete: bool) -> io::Result<()> {
        Ok(())
    }
}

/// Standard output (or any writer), flushed per page.
pub struct StreamSink<W: Write>(pub W);

impl<W: Write> Sink for StreamSink<W> {
    fn write(&mut self, batch: &Batch<'_>) -> io::Result<()> {
        self.0.write_all(batch.text())
    }

    fn summary(&mut self, _summary: &Summary, line: &[u8]) -> io::Result<()> {
        self.0.write_all(line)
    }

    fn commit(&mut self) -> io::Result<Option<u64>> {
        self.0.flush()?;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_record_reads_back_its_own_line_and_a_secret_leaves_neither_line_nor_column() {
        let mut batch = Batch::default();
        let a = Columns {
            id: "a",
            name: Some("tok-123 inside"),
            ..Columns::default()
        };
        batch.push(
            Kind::Resource,
            a,
            &serde_json::json!({"id": "a", "n": "tok-123"}),
        );
        batch.push(
            Kind::Issue,
            Columns { id: "b", ..a },
            &serde_json::json!({"id": "b"}),
        );
        let lines: Vec<&str> = batch.records().map(|(_, l)| l).collect();
        assert_eq!(lines, [r#"{"id":"a","n":"tok-123"}"#, r#"{"id":"b"}"#]);

        let mut secrets = Secrets::default();
        secrets.add("tok-123");
        assert!(batch.redact(&secrets));
        assert!(!secrets.occurs_in(batch.text()));
        let (first, line) = batch.records().next().unwrap();
        assert!(
            !line.contains("tok-123") && line.starts_with(r#"{"id":"a""#),
            "{line}"
        );
        assert_eq!(first.columns.name, Some("[redacted]"));
        assert_eq!(first.columns.id, "a");
        assert_eq!(batch.records().nth(1).unwrap().1, r#"{"id":"b"}"#);
        assert!(!batch.redact(&secrets));
    }
}
