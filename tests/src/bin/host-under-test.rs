//! The `connector-host` program, built as a target of this package so the end-to-end tests
//! always run the current code (`CARGO_BIN_EXE_host-under-test`).

fn main() -> std::process::ExitCode {
    connector_host::cli::main()
}
