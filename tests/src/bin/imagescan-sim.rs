//! An Imagescan-shaped server on 127.0.0.1 (`connector_tests::imagescan`), for trying the
//! Imagescan connector and its Python and JavaScript ports by hand:
//! `imagescan-sim [IMAGES] [VULNS]` prints its base URL (project `p1`, key `isk_demo`) and serves
//! until stopped.

use connector_tests::imagescan::{ImagescanSim, Project};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let images = args.next().and_then(Result::ok).unwrap_or(120);
    let vulns = args.next().and_then(Result::ok).unwrap_or(250);
    let project = Project {
        id: "p1".into(),
        images,
        vulns,
    };
    let sim = ImagescanSim::start(project, "isk_demo").await;
    println!("{}", sim.base_url());
    std::future::pending::<()>().await;
}
