//! The output file, written so that no run loses or clobbers what an operator already has, and
//! read back by a run that resumes it.
//!
//! Two write modes, named as a scheduler's operator thinks of them:
//! - [`WriteMode::Snapshot`] (the default): each run writes `OUT.partial` beside `OUT` and
//!   renames it over `OUT` only once the run is complete. A failed or interrupted run leaves
//!   `OUT` as it was (the previous complete snapshot); the next run with the same state resumes
//!   the partial file.
//! - [`WriteMode::Append`]: each run appends its records and its summary to `OUT`, the changes
//!   of an incremental run after the snapshot they change (for log shippers).
//!
//! A checkpoint records which file it covers, where this run began in it and a digest of the
//! bytes just before its offset ([`OutputMark`]); a run resumes a file only when all three still
//! hold, and otherwise starts over (a resumed run never claims records it did not write).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Batch, Sink, Summary};

/// How a run writes its output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMode {
    /// Replace the file with this run's complete output, atomically, at the end.
    #[default]
    Snapshot,
    /// Add this run's records and summary at the end of the file.
    Append,
}

impl WriteMode {
    /// `snapshot` or `append`.
    pub fn parse(text: &str) -> Result<WriteMode, String> {
        match text {
            "snapshot" => Ok(WriteMode::Snapshot),
            "append" => Ok(WriteMode::Append),
            other => Err(format!("write mode {other:?}: expected snapshot or append")),
        }
    }
}

/// What a checkpoint knows of the file it covers, beyond its length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputMark {
    /// The file the run writes (`OUT.partial` for a snapshot, `OUT` when appending).
    pub path: PathBuf,
    /// Where this run's records begin in it.
    pub start: u64,
    /// SHA-256 (hex) of the last `TAIL` (4,096) bytes (fewer near the start) before the offset.
    pub tail: String,
}

/// Bytes before a checkpoint's offset whose digest identifies the file it was written to.
pub const TAIL: usize = 4096;

/// Where a snapshot of `out` is written until it is complete.
pub fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    out.with_file_name(name)
}

/// The file a run in `mode` writes for `out`, absolute (a checkpoint compares it).
fn written_path(out: &Path, mode: WriteMode) -> PathBuf {
    let path = match mode {
        WriteMode::Snapshot => partial_path(out),
        WriteMode::Append => out.to_path_buf(),
    };
    std::path::absolute(&path).unwrap_or(path)
}

/// Whether the file a checkpoint covers is still there as it was written: the same file, at
/// least `offset` long, and the same bytes just before `offset`. `Err` says what differs.
pub fn continues(
    out: &Path,
    mode: WriteMode,
    offset: u64,
    mark: Option<&OutputMark>,
) -> Result<(), String> {
    let path = written_path(out, mode);
    let Some(mark) = mark else {
        return Err("the checkpoint does not say which output it covers".to_string());
    };
    if mark.path != path {
        return Err(format!(
            "the checkpoint covers {}, and this run writes {}",
            mark.path.display(),
            path.display()
        ));
    }
    let mut file = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if len < offset || mark.start > offset {
        return Err(format!(
            "{} holds {len} bytes, fewer than the {offset} the checkpoint covers",
            path.display()
        ));
    }
    let from = offset.saturating_sub(TAIL as u64);
    let mut tail = vec![0; (offset - from) as usize];
    file.seek(SeekFrom::Start(from))
        .and_then(|_| file.read_exact(&mut tail))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if hex::encode(Sha256::digest(&tail)) != mark.tail {
        return Err(format!(
            "{} is not the file the checkpoint was written against (its bytes differ)",
            path.display()
        ));
    }
    Ok(())
}

/// An output file, fsynced on commit (see the module doc for the modes). Reopened for a resumed
/// run, it is cut back to the checkpoint, so a page is never in it twice and it never ends in a
/// torn line.
pub struct FileSink {
    file: File,
    /// The file written, and where a complete snapshot goes.
    path: PathBuf,
    publish_to: Option<PathBuf>,
    start: u64,
    len: u64,
    /// The last [`TAIL`] bytes written, for the checkpoint's digest.
    tail: Vec<u8>,
}

impl FileSink {
    /// A new run's output for `out`: a fresh `OUT.partial`, or the end of `OUT` to append to.
    pub fn create(out: &Path, mode: WriteMode) -> io::Result<FileSink> {
        let path = written_path(out, mode);
        let (file, len) = match mode {
            WriteMode::Snapshot => (File::create(&path)?, 0),
            WriteMode::Append => {
                let file = OpenOptions::new().create(true).append(true).open(&path)?;
                let len = file.metadata()?.len();
                (file, len)
            }
        };
        let mut sink = FileSink::at(file, path, out, mode, len);
        sink.tail = read_tail(&sink.path, len)?;
        Ok(sink)
    }

    /// A resumed run's output: the file the checkpoint covers (see `continues`), cut back to
    /// `offset`, this run's records beginning at `start`.
    pub fn resume(out: &Path, mode: WriteMode, offset: u64, start: u64) -> io::Result<FileSink> {
        let path = written_path(out, mode);
        let mut file = OpenOptions::new().write(true).open(&path)?;
        file.set_len(offset)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut sink = FileSink::at(file, path, out, mode, offset);
        sink.start = start;
        sink.tail = read_tail(&sink.path, offset)?;
        Ok(sink)
    }

    fn at(file: File, path: PathBuf, out: &Path, mode: WriteMode, len: u64) -> FileSink {
        FileSink {
            file,
            path,
            publish_to: (mode == WriteMode::Snapshot).then(|| out.to_path_buf()),
            start: len,
            len,
            tail: Vec::new(),
        }
    }
}

/// The last [`TAIL`] bytes of `path` before `len`.
fn read_tail(path: &Path, len: u64) -> io::Result<Vec<u8>> {
    let from = len.saturating_sub(TAIL as u64);
    let mut tail = vec![0; (len - from) as usize];
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(from))?;
    file.read_exact(&mut tail)?;
    Ok(tail)
}

impl Sink for FileSink {
    fn write(&mut self, batch: &Batch<'_>) -> io::Result<()> {
        self.append(batch.text())
    }

    fn summary(&mut self, _summary: &Summary, line: &[u8]) -> io::Result<()> {
        self.append(line)
    }

    fn commit(&mut self) -> io::Result<Option<u64>> {
        self.file.sync_data()?;
        Ok(Some(self.len))
    }

    fn mark(&self) -> Option<OutputMark> {
        Some(OutputMark {
            path: self.path.clone(),
            start: self.start,
            tail: hex::encode(Sha256::digest(&self.tail)),
        })
    }

    /// A complete snapshot replaces the output, atomically and durably; anything else stays
    /// where it was written.
    fn finish(&mut self, complete: bool) -> io::Result<()> {
        let Some(out) = self.publish_to.as_ref().filter(|_| complete) else {
            return Ok(());
        };
        std::fs::rename(&self.path, out)?;
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

impl FileSink {
    /// Writes whole lines at the end, keeping the tail the checkpoint's digest reads.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        if bytes.len() >= TAIL {
            self.tail.clear();
            self.tail.extend_from_slice(&bytes[bytes.len() - TAIL..]);
        } else {
            self.tail.extend_from_slice(bytes);
            let excess = self.tail.len().saturating_sub(TAIL);
            self.tail.drain(..excess);
        }
        Ok(())
    }
}

impl OutputMark {
    /// The ids of the findings (NDJSON `issue` / `finding` lines, or OCSF events) this run wrote
    /// into the file before `offset`: what a resumed run has written already. The reader of what
    /// [`FileSink`] wrote, so it sits beside it.
    pub fn finding_ids(&self, offset: u64) -> io::Result<HashSet<u128>> {
        finding_ids(&self.path, self.start, offset)
    }
}

fn finding_ids(path: &Path, start: u64, offset: u64) -> io::Result<HashSet<u128>> {
    #[derive(Deserialize)]
    struct Line {
        kind: Option<String>,
        id: Option<String>,
        finding_info: Option<Info>,
    }
    #[derive(Deserialize)]
    struct Info {
        uid: Option<String>,
    }
    let mut ids = HashSet::new();
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ids),
        Err(e) => return Err(e),
    };
    file.seek(SeekFrom::Start(start))?;
    let reader = io::BufReader::new(file.take(offset.saturating_sub(start)));
    for line in io::BufRead::split(reader, b'\n') {
        let Ok(l) = serde_json::from_slice::<Line>(&line?) else {
            continue;
        };
        let id = match l.kind.as_deref() {
            Some("issue" | "finding") => l.id,
            _ => l.finding_info.and_then(|i| i.uid),
        };
        if let Some(id) = id {
            ids.insert(id_key(&id));
        }
    }
    Ok(ids)
}

/// A finding id as a set key: the UUID's 128 bits, or a digest of any other text.
pub fn id_key(id: &str) -> u128 {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    if hex.len() == 32
        && let Ok(v) = u128::from_str_radix(&hex, 16)
    {
        return v;
    }
    let d = Sha256::digest(id.as_bytes());
    u128::from_be_bytes(d[..16].try_into().expect("16 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("file-sink-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A snapshot replaces the output only when complete; a resumed one is cut back to its
    /// checkpoint, and only the file it was written against is resumed.
    #[test]
    fn a_snapshot_replaces_the_output_only_when_complete() {
        let dir = scratch("snapshot");
        let out = dir.join("out.ndjson");
        std::fs::write(&out, "previous\n").unwrap();
        let mut sink = FileSink::create(&out, WriteMode::Snapshot).unwrap();
        sink.append(b"{\"kind\":\"a\"}\n").unwrap();
        let offset = sink.commit().unwrap().unwrap();
        let mark = sink.mark().unwrap();
        sink.append(b"{\"kind\":\"b\"}\n{\"kin").unwrap();
        sink.finish(false).unwrap();
        drop(sink);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous\n");
        assert!(continues(&out, WriteMode::Snapshot, offset, Some(&mark)).is_ok());
        // Another output file, or an append to this one, is not what the checkpoint covers.
        let other = dir.join("other.ndjson");
        let why = continues(&other, WriteMode::Snapshot, offset, Some(&mark)).unwrap_err();
        assert!(why.contains("this run writes"), "{why}");
        assert!(continues(&out, WriteMode::Append, offset, Some(&mark)).is_err());
        assert!(continues(&out, WriteMode::Snapshot, offset, None).is_err());

        let mut resumed = FileSink::resume(&out, WriteMode::Snapshot, offset, mark.start).unwrap();
        resumed.append(b"{\"kind\":\"c\"}\n").unwrap();
        resumed.commit().unwrap();
        resumed.finish(true).unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"kind\":\"a\"}\n{\"kind\":\"c\"}\n"
        );
        assert!(!partial_path(&out).exists());
    }

    /// The partial file changed behind the checkpoint's back (rewritten, or cut short): it is
    /// not resumed.
    #[test]
    fn a_changed_file_is_not_resumed() {
        let dir = scratch("changed");
        let out = dir.join("out.ndjson");
        let mut sink = FileSink::create(&out, WriteMode::Snapshot).unwrap();
        sink.append(&vec![b'x'; 10_000]).unwrap();
        let offset = sink.commit().unwrap().unwrap();
        let mark = sink.mark().unwrap();
        drop(sink);
        let partial = partial_path(&out);
        let mut bytes = std::fs::read(&partial).unwrap();
        bytes[9_000] = b'y';
        std::fs::write(&partial, &bytes).unwrap();
        let why = continues(&out, WriteMode::Snapshot, offset, Some(&mark)).unwrap_err();
        assert!(why.contains("bytes differ"), "{why}");
        std::fs::write(&partial, &bytes[..5_000]).unwrap();
        let why = continues(&out, WriteMode::Snapshot, offset, Some(&mark)).unwrap_err();
        assert!(why.contains("fewer than"), "{why}");
    }

    /// Appending keeps what was there; the ids read back are this run's alone.
    #[test]
    fn an_append_keeps_earlier_runs_and_reads_back_only_its_own() {
        let dir = scratch("append");
        let out = dir.join("out.ndjson");
        std::fs::write(&out, "{\"kind\":\"finding\",\"id\":\"old\"}\n").unwrap();
        let mut sink = FileSink::create(&out, WriteMode::Append).unwrap();
        sink.append(b"{\"kind\":\"finding\",\"id\":\"new\"}\n")
            .unwrap();
        let offset = sink.commit().unwrap().unwrap();
        let mark = sink.mark().unwrap();
        sink.finish(true).unwrap();
        assert!(continues(&out, WriteMode::Append, offset, Some(&mark)).is_ok());
        let ids = mark.finding_ids(offset).unwrap();
        assert_eq!(ids, HashSet::from([id_key("new")]));
        assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 2);
    }

    #[test]
    fn id_keys_are_exact_for_uuids() {
        assert_eq!(
            id_key("87d74336-2e04-5ce1-a046-39f9609d2e46"),
            0x87d743362e045ce1a04639f9609d2e46
        );
        assert_ne!(id_key("x"), id_key("y"));
    }
}
