# The image the Kubernetes manifests run (deploy/kubernetes): connector-host and the Socket
# component, on a minimal base that fits a glibc binary, as a non-root user.
#
#   docker build -t connector-host:0.1.0 .
#
# Build stage: the toolchain pinned in rust-toolchain.toml (rustup installs it, with the
# wasm32-wasip2 target), a release host and the optimized component.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN rustup toolchain install \
 && cargo build --release --locked -p connector-host \
 && cargo build --locked --profile component --target wasm32-wasip2 -p socket-connector

# Run stage: distroless "cc" (glibc and libgcc, the host's only system libraries; Debian 12's
# glibc is the one the build stage linked against), no shell, user 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/connector-host /usr/local/bin/connector-host
COPY --from=build /src/target/wasm32-wasip2/component/socket_connector.wasm /opt/connectors/socket_connector.wasm
USER 65532:65532
ENTRYPOINT ["connector-host"]
CMD ["--help"]
