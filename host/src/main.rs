use clap::Parser;
use connector_host::cli::{self, Cli};
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = Cli::parse();
    let default_level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("connector_host={default_level},warn")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let code = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(cli::run(cli)),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            1
        }
    };
    std::process::exit(code);
}
