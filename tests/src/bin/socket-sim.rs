//! Serves a synthetic Socket organisation on 127.0.0.1 until interrupted.
//!
//! `socket-sim [--org SLUG] [--repos N] [--alerts N] [--padding BYTES] [--page-cap N] [--token T] [--port P]
//!  [--delay-ms MS] [--bandwidth-mbps MB_PER_S] [--gzip] [--close]`
//!
//! `--delay-ms`: time to first byte of every answer; `--bandwidth-mbps`: one cap in megabytes
//! per second over all connections; `--gzip`: compress for clients that accept it; `--close`:
//! one request per connection.

use std::time::Duration;

use connector_tests::org::Org;
use connector_tests::server::{Behaviour, SocketSim};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str, default: &str| -> String {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| default.to_string())
    };
    let num = |name: &str, default: usize| {
        get(name, &default.to_string())
            .parse::<usize>()
            .unwrap_or_else(|_| panic!("{name} takes a number"))
    };
    let org = Org::generate(
        &get("--org", "demo-org"),
        num("--repos", 130),
        num("--alerts", 400),
        num("--padding", 0),
    );
    let flag = |name: &str| args.iter().any(|a| a == name);
    let behaviour = Behaviour {
        alert_page_cap: num("--page-cap", 5000),
        delay: Duration::from_millis(num("--delay-ms", 0) as u64),
        bandwidth: Some(num("--bandwidth-mbps", 0) as u64 * 1_000_000).filter(|b| *b > 0),
        gzip: flag("--gzip"),
        keep_alive: !flag("--close"),
        ..Behaviour::default()
    };
    let port = num("--port", 0);
    let sim = SocketSim::start_on(port as u16, org, &get("--token", "demo-token"), behaviour).await;
    println!("{}", sim.base_url());
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
