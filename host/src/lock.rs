//! One run at a time per state: a run holds an exclusive lock on each thing it writes (its
//! state file, its output file, its namespace in a SQLite database) from before it reads its
//! checkpoint until its summary is written. A second run on any of them stops at once with
//! [`Failure::Busy`] (its own exit code, so a scheduler can tell a skipped run from a broken
//! disk), naming the holder; it writes nothing. PostgreSQL outputs use the server's advisory
//! lock instead (`store::postgres`).
//!
//! The locks are `flock`s on lock files beside what they guard (`STATE.lock`, `OUT.lock`,
//! `DB.locks/CONNECTOR-TENANT.lock`): the kernel releases them when the process ends, however it
//! ends, so a crashed run never leaves a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::Failure;

/// An exclusive lock, held until dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// The lock file guarding `path`: `PATH.lock`.
pub fn beside(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

/// The lock file guarding one (connector, tenant) of the SQLite database at `db`.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub fn for_namespace(db: &Path, connector: &str, tenant: &str) -> PathBuf {
    use sha2::{Digest, Sha256};
    let mut dir = db.file_name().unwrap_or_default().to_os_string();
    dir.push(".locks");
    let tenant = hex::encode(&Sha256::digest(tenant.as_bytes())[..8]);
    db.with_file_name(dir)
        .join(format!("{connector}-{tenant}.lock"))
}

/// Takes the lock at `path` for a run that writes `what`, or says who holds it.
pub fn take(path: &Path, what: &str) -> Result<RunLock, Failure> {
    let cannot =
        |e: std::io::Error| Failure::Host(format!("cannot take the lock {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(cannot)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(cannot)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = crate::text::printable(holder.trim(), 200);
            return Err(Failure::Busy(format!(
                "another run is writing {what} (held by {}; lock {}): this run stops without \
                 writing",
                if holder.is_empty() {
                    "a run that just started"
                } else {
                    &holder
                },
                path.display()
            )));
        }
        Err(TryLockError::Error(e)) => return Err(cannot(e)),
    }
    // Who holds it, for the message a second run prints.
    let holder = format!(
        "process {} since {}",
        std::process::id(),
        crate::time::format_seconds(std::time::SystemTime::now())
    );
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(holder.as_bytes()))
        .map_err(cannot)?;
    Ok(RunLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second holder is refused, naming the first, until the first lets go; in one process
    /// too (two jobs of `connector-host run`).
    #[test]
    fn one_holder_at_a_time() {
        let dir = std::env::temp_dir().join(format!("lock-test-{}", std::process::id()));
        let path = beside(&dir.join("acme.state"));
        let first = take(&path, "acme.state").unwrap();
        let err = take(&path, "acme.state").unwrap_err();
        assert_eq!(err.exit_code(), 75);
        assert!(
            err.message()
                .contains(&format!("process {}", std::process::id())),
            "{err}"
        );
        drop(first);
        assert!(take(&path, "acme.state").is_ok());
        let a = for_namespace(&dir.join("x.db"), "vendor", "acme");
        let b = for_namespace(&dir.join("x.db"), "vendor", "beta");
        assert_ne!(a, b);
        assert!(a.starts_with(dir.join("x.db.locks")));
    }
}
