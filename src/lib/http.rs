//! What the project's small HTTP servers (the DRPC HTTP endpoint, the UI, the logviewer) share: binding
//! a tiny_http server with a plain `io::Error` and learning the address it got; URL encoding as Java's
//! `URLEncoder` writes it, URL decoding (strict and lenient) and query strings.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The largest request header section (request line and headers) [`bind_guarded`] lets through:
/// Jetty's default request header size, which Storm's HTTP servers keep.
pub const MAX_HEADER_BYTES: usize = 8192;
/// How long a client may take to send its request header section.
const HEADER_DEADLINE: Duration = Duration::from_secs(30);
/// Connections [`bind_guarded`] holds at once; more are closed at once (logged).
const MAX_GUARDED_CONNECTIONS: usize = 4096;
/// The header carrying the client's address from the guard to the tiny_http server behind it.
const PEER_HEADER: &str = "X-Storm-Peer";

/// The front of a [`bind_guarded`] server; dropping it (or [`HeaderGuard::shutdown`]) stops it.
pub struct HeaderGuard {
    stopping: Arc<AtomicBool>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

impl HeaderGuard {
    /// Stops accepting connections (those in progress finish).
    pub fn shutdown(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
    }
}

impl Drop for HeaderGuard {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Like [`bind`], but tiny_http (which reads request headers without any bound) listens on a
/// loopback port behind a guard on `addr`: the guard reads each connection's request header
/// section, answers `431 Request Header Fields Too Large` (logged) when it is over
/// `max_header_bytes` or relays the request with `Connection: close` (one request per connection,
/// so every request is checked) and the client's address in a header [`peer_addr`] reads. Returns
/// the server, the guard's bound address and the guard.
pub fn bind_guarded(
    addr: &str,
    name: &'static str,
    max_header_bytes: usize,
) -> std::io::Result<(Arc<tiny_http::Server>, SocketAddr, HeaderGuard)> {
    let front = TcpListener::bind(addr)?;
    let local = front.local_addr()?;
    let (server, inner) = bind("127.0.0.1:0")?;
    let stopping = Arc::new(AtomicBool::new(false));
    let stop = stopping.clone();
    let open = Arc::new(AtomicUsize::new(0));
    let acceptor = std::thread::Builder::new()
        .name(format!("{name}-http-guard"))
        .spawn(move || {
            for conn in front.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let client = match conn {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::debug!(server = name, error = %e, "HTTP accept failed");
                        continue;
                    }
                };
                if open.load(Ordering::SeqCst) >= MAX_GUARDED_CONNECTIONS {
                    tracing::warn!(
                        server = name,
                        limit = MAX_GUARDED_CONNECTIONS,
                        "too many HTTP connections: closing a new one"
                    );
                    continue;
                }
                open.fetch_add(1, Ordering::SeqCst);
                let open_now = open.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("{name}-http-relay"))
                    .spawn(move || {
                        if let Err(e) = relay(client, inner, max_header_bytes, name) {
                            tracing::debug!(server = name, error = %e, "HTTP connection ended");
                        }
                        open_now.fetch_sub(1, Ordering::SeqCst);
                    });
                if let Err(e) = spawned {
                    open.fetch_sub(1, Ordering::SeqCst);
                    tracing::error!(server = name, error = %e, "cannot start an HTTP relay thread");
                }
            }
        })?;
    Ok((
        server,
        local,
        HeaderGuard {
            stopping,
            addr: local,
            acceptor: Some(acceptor),
        },
    ))
}

/// The client's address of a request served behind [`bind_guarded`] (else its direct peer).
pub fn peer_addr(request: &tiny_http::Request) -> Option<SocketAddr> {
    let direct = request.remote_addr().copied();
    if direct.is_some_and(|a| a.ip().is_loopback()) {
        let relayed = request
            .headers()
            .iter()
            .find(|h| h.field.equiv(PEER_HEADER))
            .and_then(|h| h.value.as_str().parse().ok());
        if relayed.is_some() {
            return relayed;
        }
    }
    direct
}

/// The request header section of `head` (up to and with the blank line) rewritten for the server
/// behind the guard: `Connection` and [`PEER_HEADER`] headers replaced.
fn rewrite_head(head: &[u8], peer: SocketAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len() + 64);
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let name = line
            .split(|&b| b == b':')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        if name.eq_ignore_ascii_case(b"connection")
            || name.eq_ignore_ascii_case(PEER_HEADER.as_bytes())
        {
            continue;
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Connection: close\r\n{PEER_HEADER}: {peer}\r\n\r\n").as_bytes());
    out
}

/// Copies the server's answer to the client, saying `Connection: close` in its header (tiny_http
/// closes the connection after a `Connection: close` request without saying so, and a keep-alive
/// client would send its next request into the closed connection).
fn relay_response(upstream: &TcpStream, client: &TcpStream) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4) else {
            // The server's own header: bounded only as a safety net.
            if buf.len() > 1 << 20 {
                break;
            }
            let n = (&*upstream).read(&mut chunk)?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            continue;
        };
        let informational = buf.starts_with(b"HTTP/1.1 1") || buf.starts_with(b"HTTP/1.0 1");
        if informational {
            // `100 Continue`: forwarded as is; the final answer follows.
            (&*client).write_all(&buf[..end])?;
            buf.drain(..end);
            continue;
        }
        let mut head = Vec::with_capacity(end + 32);
        for line in buf[..end].split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let name = line
                .split(|&b| b == b':')
                .next()
                .unwrap_or_default()
                .trim_ascii();
            if line.is_empty() || name.eq_ignore_ascii_case(b"connection") {
                continue;
            }
            head.extend_from_slice(line);
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"Connection: close\r\n\r\n");
        (&*client).write_all(&head)?;
        buf.drain(..end);
        break;
    }
    (&*client).write_all(&buf)?;
    std::io::copy(&mut &*upstream, &mut &*client)?;
    Ok(())
}

/// Serves one guarded connection: reads the header section within [`HEADER_DEADLINE`] and
/// `max_header_bytes`, then relays the request to `inner` and the answer back.
fn relay(
    client: TcpStream,
    inner: SocketAddr,
    max_header_bytes: usize,
    name: &str,
) -> std::io::Result<()> {
    let peer = client.peer_addr()?;
    let deadline = Instant::now() + HEADER_DEADLINE;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let end = loop {
        let found = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
        if found.map_or(buf.len(), |e| e) > max_header_bytes {
            tracing::warn!(
                server = name,
                %peer,
                limit = max_header_bytes,
                "refused an HTTP request whose header section is over {max_header_bytes} bytes (431)"
            );
            let body = format!("request header fields larger than {max_header_bytes} bytes\n");
            let _ = (&client).write_all(
                format!(
                    "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
            let _ = client.shutdown(Shutdown::Write);
            // Let the client read the answer before the close resets the connection.
            client.set_read_timeout(Some(Duration::from_millis(200)))?;
            while matches!((&client).read(&mut chunk), Ok(n) if n > 0) {}
            return Ok(());
        }
        if let Some(e) = found {
            break e;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            tracing::debug!(server = name, %peer, "HTTP client too slow to send its request header");
            return Ok(());
        }
        client.set_read_timeout(Some(left))?;
        let n = (&client).read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let upstream = TcpStream::connect(inner)?;
    client.set_read_timeout(None)?;
    (&upstream).write_all(&rewrite_head(&buf[..end], peer))?;
    (&upstream).write_all(&buf[end..])?;
    let (mut from, mut to) = (client.try_clone()?, upstream.try_clone()?);
    let up = std::thread::Builder::new()
        .name("http-relay-up".into())
        .spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
        })?;
    let _ = relay_response(&upstream, &client);
    let _ = client.shutdown(Shutdown::Both);
    let _ = upstream.shutdown(Shutdown::Both);
    let _ = up.join();
    Ok(())
}

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

/// Java's `URLEncoder.encode(s, "UTF-8")`: `A-Za-z0-9.-*_` stay, a space is `+`, every other byte is
/// `%XX` (upper-case hex).
pub fn url_encode(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Decodes `%XX` escapes (and `+` as a space when `plus` is set, as in a query) leniently: a bad
/// escape stays as it is, invalid UTF-8 becomes U+FFFD.
pub fn url_decode_lossy(s: &str, plus: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => match (
                b.get(i + 1).and_then(|c| unhex(*c)),
                b.get(i + 2).and_then(|c| unhex(*c)),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A request's query parameters, decoded leniently (`+` is a space); the first value of a repeated
/// name wins, as the servlet API's `getParameter` does.
#[derive(Debug, Default, Clone)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(query: &str) -> Query {
        Query(
            query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (url_decode_lossy(k, true), url_decode_lossy(v, true))
                })
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter (`sys=true`, also `1`, `yes`, `on`); absent is false.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "on"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn encode_and_lenient_decode_round_trip() {
        let s = "wc-1-2/6700/worker.log ü+%";
        assert_eq!(super::url_decode_lossy(&super::url_encode(s), true), s);
        assert_eq!(super::url_encode("a b/é"), "a+b%2F%C3%A9");
        assert_eq!(super::url_decode_lossy("%zz%4", true), "%zz%4");
        assert_eq!(super::url_decode_lossy("a+b", false), "a+b");
        let q = super::Query::parse("a=1&b=x+y%2Fz&a=2&sys=1&bad=%zz");
        assert_eq!(q.get("a"), Some("1"));
        assert_eq!(q.get("b"), Some("x y/z"));
        assert_eq!(q.get("bad"), Some("%zz"));
        assert!(q.flag("sys") && !q.flag("a2"));
    }

    #[test]
    fn url_decode_as_java_encodes() {
        assert_eq!(super::url_decode("a%2Fb+c").as_deref(), Some("a/b c"));
        assert_eq!(super::url_decode("%E2%82%AC").as_deref(), Some("€"));
        assert_eq!(super::url_decode("%zz"), None);
        assert_eq!(super::url_decode("%4"), None);
        assert_eq!(super::url_decode("%FF"), None);
    }
}
