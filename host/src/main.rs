//! `connector-host`: see the library's `cli` module.

fn main() -> std::process::ExitCode {
    connector_host::cli::main()
}
