//! `connector-host`: see the library's `cli` module.

fn main() -> std::process::ExitCode {
    fixed_mmap_threshold();
    connector_host::cli::main()
}

/// glibc's malloc raises its mmap threshold each time it frees a large block (up to 32 MiB), so
/// after the first pages the page-sized bodies and record buffers come from heap arenas it keeps
/// rather than from the OS. A fixed threshold (which also stops that raising) hands them back
/// when freed: peak RSS of the 100k-record benchmark sync 130 → 113 MB (BENCHMARKS.md §3).
/// The program's choice, not the library's: an embedder owns its process's allocator.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fixed_mmap_threshold() {
    // SAFETY: mallopt only sets an allocator parameter; called before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fixed_mmap_threshold() {}
