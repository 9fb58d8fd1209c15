//! What the project's small HTTP servers (the DRPC HTTP endpoint, the UI, the logviewer) share: binding
//! a tiny_http server with a plain `io::Error` and learning the address it got; URL decoding.

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

fn unhex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Decodes `%XX` (and `+` as a space, as Java's `URLEncoder` writes it); `None` on a bad escape or
/// invalid UTF-8.
pub fn url_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = unhex(*b.get(i + 1)?)?;
                let lo = unhex(*b.get(i + 2)?)?;
                out.push(hi * 16 + lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn url_decode_as_java_encodes() {
        assert_eq!(super::url_decode("a%2Fb+c").as_deref(), Some("a/b c"));
        assert_eq!(super::url_decode("%E2%82%AC").as_deref(), Some("€"));
        assert_eq!(super::url_decode("%zz"), None);
        assert_eq!(super::url_decode("%4"), None);
        assert_eq!(super::url_decode("%FF"), None);
    }
}
