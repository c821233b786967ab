//! Precompiled components on disk, keyed on the engine's compatibility hash and the component's
//! SHA-256, so a cached artifact is only ever loaded by the engine configuration that wrote it.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::Failure;

/// How the component was obtained, for start-up diagnostics and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadPath {
    /// Compiled from its bytes (no cache directory).
    Compiled,
    /// Compiled, and written to the cache for the next start.
    CachedCompiled,
    /// Loaded precompiled from the cache.
    FromCache,
    /// Loaded before by the same runtime.
    InMemory,
}

/// The component's bytes.
pub fn read(wasm: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(wasm)
        .map_err(|e| Failure::Config(format!("cannot read component {}: {e}", wasm.display())))
}

/// SHA-256 of a component's bytes, hex: what a trust decision and the in-memory cache key on.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Compiles `bytes` (read from `wasm`), or loads them from `cache_dir` when a matching artifact
/// is there (storing the artifact after compiling, when a cache dir is given).
pub fn load(
    engine: &Engine,
    bytes: &[u8],
    wasm: &Path,
    cache_dir: Option<&Path>,
) -> Result<(Component, LoadPath), Failure> {
    match cache_dir {
        None => Ok((compile(engine, bytes, wasm)?, LoadPath::Compiled)),
        Some(dir) => cached(engine, bytes, &Sha256::digest(bytes), wasm, dir),
    }
}

fn cached(
    engine: &Engine,
    bytes: &[u8],
    digest: &[u8],
    wasm: &Path,
    dir: &Path,
) -> Result<(Component, LoadPath), Failure> {
    let path = artifact_path(engine, digest, dir);
    if path.exists() {
        // SAFETY: the file is one this host wrote, under a name derived from this engine's
        // compatibility hash and the component's digest; wasmtime re-checks the header.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(c) => return Ok((c, LoadPath::FromCache)),
            Err(e) => tracing::warn!("ignoring unusable cache entry {}: {e:#}", path.display()),
        }
    }
    let component = compile(engine, bytes, wasm)?;
    match component.serialize() {
        Ok(artifact) => {
            if let Err(e) = store(&path, &artifact) {
                tracing::warn!(
                    "could not cache the compiled component in {}: {e}",
                    dir.display()
                );
            }
        }
        Err(e) => tracing::warn!("could not serialize the compiled component: {e:#}"),
    }
    Ok((component, LoadPath::CachedCompiled))
}

fn compile(engine: &Engine, bytes: &[u8], wasm: &Path) -> Result<Component, Failure> {
    Component::new(engine, bytes).map_err(|e| {
        Failure::Guest(format!(
            "{} is not a valid component: {e:#}",
            wasm.display()
        ))
    })
}

fn artifact_path(engine: &Engine, digest: &[u8], dir: &Path) -> PathBuf {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    dir.join(format!(
        "{}-{:016x}.cwasm",
        hex::encode(&digest[..16]),
        h.finish()
    ))
}

fn store(path: &Path, artifact: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::atomic_file::write(path, artifact)
}
