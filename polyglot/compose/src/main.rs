//! `polyglot-compose SOCKET.wasm PLUG.wasm OUT.wasm`: the component `SOCKET` with every import
//! that `PLUG` exports (the same name, or a semver-compatible one) met by an instance of `PLUG`,
//! written to `OUT`. What `wac plug` does, on its library.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};

fn main() -> Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [socket, plug, out] = args.as_slice() else {
        bail!("usage: polyglot-compose SOCKET.wasm PLUG.wasm OUT.wasm");
    };
    let mut graph = CompositionGraph::new();
    let read =
        |path: &PathBuf| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    let socket_pkg = Package::from_bytes("socket", None, read(socket)?, graph.types_mut())
        .with_context(|| format!("{} is not a component", socket.display()))?;
    let socket_id = graph.register_package(socket_pkg)?;
    let plug_pkg = Package::from_bytes("plug:stub", None, read(plug)?, graph.types_mut())
        .with_context(|| format!("{} is not a component", plug.display()))?;
    let plug_id = graph.register_package(plug_pkg)?;
    wac_graph::plug(&mut graph, vec![plug_id], socket_id)
        .with_context(|| format!("plugging {} into {}", plug.display(), socket.display()))?;
    let bytes = graph.encode(EncodeOptions::default())?;
    std::fs::write(out, bytes).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}
