//! `connector-host`, built as a target of the kit so its tests always check the current code.

fn main() -> std::process::ExitCode {
    connector_host::cli::main()
}
