//! A component that meets every `wasi:sockets` import with a refusal. CPython (componentize-py)
//! links the socket interfaces whether or not a connector uses them, and the host refuses any
//! component that imports them. Composed into the Python component (`polyglot-compose`), this
//! takes their place inside it:
//!
//! - `create-tcp-socket`, `create-udp-socket` and `resolve-addresses` answer `access-denied`;
//! - `instance-network` hands out a network that grants nothing;
//! - no socket or address stream can therefore exist: their types are uninhabited, so every
//!   method on one is unreachable by construction (`match *self {}`), not by a check.

#[allow(warnings, clippy::all)]
mod bindings;

use bindings::exports::wasi::sockets::{
    instance_network, ip_name_lookup, network, tcp, tcp_create_socket, udp, udp_create_socket,
};
use network::{ErrorCode, IpAddressFamily, IpSocketAddress, NetworkBorrow};

struct Denied;

/// The network `instance-network` returns: it opens nothing.
struct NoNetwork;

/// A socket or stream, of which there is none.
enum Never {}

impl network::Guest for Denied {
    type Network = NoNetwork;
}

impl network::GuestNetwork for NoNetwork {}

impl instance_network::Guest for Denied {
    fn instance_network() -> network::Network {
        network::Network::new(NoNetwork)
    }
}

impl ip_name_lookup::Guest for Denied {
    type ResolveAddressStream = Never;

    fn resolve_addresses(
        _: NetworkBorrow<'_>,
        _: String,
    ) -> Result<ip_name_lookup::ResolveAddressStream, ErrorCode> {
        Err(ErrorCode::AccessDenied)
    }
}

impl ip_name_lookup::GuestResolveAddressStream for Never {
    fn resolve_next_address(&self) -> Result<Option<network::IpAddress>, ErrorCode> {
        match *self {}
    }
    fn subscribe(&self) -> ip_name_lookup::Pollable {
        match *self {}
    }
}

impl tcp_create_socket::Guest for Denied {
    fn create_tcp_socket(_: IpAddressFamily) -> Result<tcp::TcpSocket, ErrorCode> {
        Err(ErrorCode::AccessDenied)
    }
}

impl udp_create_socket::Guest for Denied {
    fn create_udp_socket(_: IpAddressFamily) -> Result<udp::UdpSocket, ErrorCode> {
        Err(ErrorCode::AccessDenied)
    }
}

impl tcp::Guest for Denied {
    type TcpSocket = Never;
}

impl udp::Guest for Denied {
    type UdpSocket = Never;
    type IncomingDatagramStream = Never;
    type OutgoingDatagramStream = Never;
}

/// Every method of a socket that cannot exist.
macro_rules! unreachable_methods {
    ($($name:ident(&self $(, $arg:ty)*) -> $ret:ty;)*) => {
        $(fn $name(&self $(, _: $arg)*) -> $ret { match *self {} })*
    };
}

impl tcp::GuestTcpSocket for Never {
    unreachable_methods! {
        start_bind(&self, NetworkBorrow<'_>, IpSocketAddress) -> Result<(), ErrorCode>;
        finish_bind(&self) -> Result<(), ErrorCode>;
        start_connect(&self, NetworkBorrow<'_>, IpSocketAddress) -> Result<(), ErrorCode>;
        finish_connect(&self) -> Result<(tcp::InputStream, tcp::OutputStream), ErrorCode>;
        start_listen(&self) -> Result<(), ErrorCode>;
        finish_listen(&self) -> Result<(), ErrorCode>;
        accept(&self) -> Result<(tcp::TcpSocket, tcp::InputStream, tcp::OutputStream), ErrorCode>;
        local_address(&self) -> Result<IpSocketAddress, ErrorCode>;
        remote_address(&self) -> Result<IpSocketAddress, ErrorCode>;
        is_listening(&self) -> bool;
        address_family(&self) -> IpAddressFamily;
        set_listen_backlog_size(&self, u64) -> Result<(), ErrorCode>;
        keep_alive_enabled(&self) -> Result<bool, ErrorCode>;
        set_keep_alive_enabled(&self, bool) -> Result<(), ErrorCode>;
        keep_alive_idle_time(&self) -> Result<tcp::Duration, ErrorCode>;
        set_keep_alive_idle_time(&self, tcp::Duration) -> Result<(), ErrorCode>;
        keep_alive_interval(&self) -> Result<tcp::Duration, ErrorCode>;
        set_keep_alive_interval(&self, tcp::Duration) -> Result<(), ErrorCode>;
        keep_alive_count(&self) -> Result<u32, ErrorCode>;
        set_keep_alive_count(&self, u32) -> Result<(), ErrorCode>;
        hop_limit(&self) -> Result<u8, ErrorCode>;
        set_hop_limit(&self, u8) -> Result<(), ErrorCode>;
        receive_buffer_size(&self) -> Result<u64, ErrorCode>;
        set_receive_buffer_size(&self, u64) -> Result<(), ErrorCode>;
        send_buffer_size(&self) -> Result<u64, ErrorCode>;
        set_send_buffer_size(&self, u64) -> Result<(), ErrorCode>;
        subscribe(&self) -> tcp::Pollable;
        shutdown(&self, tcp::ShutdownType) -> Result<(), ErrorCode>;
    }
}

impl udp::GuestUdpSocket for Never {
    unreachable_methods! {
        start_bind(&self, NetworkBorrow<'_>, IpSocketAddress) -> Result<(), ErrorCode>;
        finish_bind(&self) -> Result<(), ErrorCode>;
        stream(&self, Option<IpSocketAddress>) -> Result<(udp::IncomingDatagramStream, udp::OutgoingDatagramStream), ErrorCode>;
        local_address(&self) -> Result<IpSocketAddress, ErrorCode>;
        remote_address(&self) -> Result<IpSocketAddress, ErrorCode>;
        address_family(&self) -> IpAddressFamily;
        unicast_hop_limit(&self) -> Result<u8, ErrorCode>;
        set_unicast_hop_limit(&self, u8) -> Result<(), ErrorCode>;
        receive_buffer_size(&self) -> Result<u64, ErrorCode>;
        set_receive_buffer_size(&self, u64) -> Result<(), ErrorCode>;
        send_buffer_size(&self) -> Result<u64, ErrorCode>;
        set_send_buffer_size(&self, u64) -> Result<(), ErrorCode>;
        subscribe(&self) -> udp::Pollable;
    }
}

impl udp::GuestIncomingDatagramStream for Never {
    unreachable_methods! {
        receive(&self, u64) -> Result<Vec<udp::IncomingDatagram>, ErrorCode>;
        subscribe(&self) -> udp::Pollable;
    }
}

impl udp::GuestOutgoingDatagramStream for Never {
    unreachable_methods! {
        check_send(&self) -> Result<u64, ErrorCode>;
        send(&self, Vec<udp::OutgoingDatagram>) -> Result<u64, ErrorCode>;
        subscribe(&self) -> udp::Pollable;
    }
}

bindings::export!(Denied with_types_in bindings);

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    /// `bindings.rs` names the digest of the WIT it was generated from.
    #[test]
    fn the_checked_in_bindings_are_generated_from_the_current_wit() {
        let wit = concat!(
            include_str!("../wit/world.wit"),
            include_str!("../wit/deps/clocks.wit"),
            include_str!("../wit/deps/io.wit"),
            include_str!("../wit/deps/sockets.wit"),
        );
        let digest: String = Sha256::digest(wit.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let stated = include_str!("bindings.rs")
            .lines()
            .nth(1)
            .unwrap_or_default();
        assert_eq!(
            stated,
            format!("// sha256 {digest}. Do not edit."),
            "polyglot/no-sockets/wit changed since its bindings were generated: run scripts/gen-bindings.sh"
        );
    }
}
