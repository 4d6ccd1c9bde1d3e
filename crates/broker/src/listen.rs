//! Listening sockets: the client, WebSocket and monitoring ports bind the way nats-server's
//! do (the wildcard host dual-stack, a deep accept backlog).

use std::net::SocketAddr;

use tokio::net::TcpListener;

/// Pending connections the kernel queues before `accept`: nats-server (Go) gets the system's
/// maximum, typically 4096; the std default of 128 drops SYNs under a reconnect storm, and each
/// dropped SYN costs the client a one-second retransmit.
const LISTEN_BACKLOG: i32 = 4096;

pub(crate) async fn listen(host: &str, port: u16) -> std::io::Result<TcpListener> {
    if is_wildcard(host) {
        // Go binds the wildcard dual-stack: one socket for IPv4 and IPv6 clients alike (so a
        // client that resolves `localhost` to ::1 first still gets in). Without IPv6 on the
        // machine, IPv4 alone.
        let any6 = SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port));
        if let Ok(listener) = listen_on(any6, true) {
            return Ok(listener);
        }
        return listen_on(
            SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, port)),
            false,
        );
    }
    let mut last_err = None;
    for sa in tokio::net::lookup_host(join_host_port(host, port)).await? {
        match listen_on(sa, false) {
            Ok(listener) => return Ok(listener),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| std::io::Error::other("no address to listen on")))
}

/// Whether `host` means every interface (nats-server's default `0.0.0.0`, or `::`).
pub(crate) fn is_wildcard(host: &str) -> bool {
    matches!(host, "" | "0.0.0.0" | "::" | "[::]")
}

fn listen_on(sa: SocketAddr, dual_stack: bool) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(sa), Type::STREAM, Some(Protocol::TCP))?;
    if dual_stack {
        socket.set_only_v6(false)?;
    }
    socket.set_reuse_address(true)?;
    socket.bind(&sa.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

/// `host:port`, bracketing IPv6 literals.
pub(crate) fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
