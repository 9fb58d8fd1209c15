//! What the project's small HTTP servers (nimbus's file server, the DRPC HTTP endpoint) share: binding a
//! tiny_http server with a plain `io::Error` and learning the address it got.

use std::net::SocketAddr;
use std::sync::Arc;

/// Binds a tiny_http server on `addr` (`host:port`, port 0 for any free port) and returns it with its
/// bound address.
pub fn bind(addr: &str) -> std::io::Result<(Arc<tiny_http::Server>, SocketAddr)> {
    let server =
        tiny_http::Server::http(addr).map_err(|e| match e.downcast::<std::io::Error>() {
            Ok(io) => *io,
            Err(other) => std::io::Error::other(other.to_string()),
        })?;
    let local = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| std::io::Error::other("the HTTP server is not on an IP address"))?;
    Ok((Arc::new(server), local))
}
