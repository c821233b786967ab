//! `connector-host`: see the library's `cli` module.

fn main() {
    connector_host::cli::main()
}
