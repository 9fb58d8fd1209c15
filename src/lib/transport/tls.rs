//! TLS on worker links (`storm.messaging.netty.tls.*`): [`LinkStream`], the byte stream of one
//! worker connection, either the plain non-blocking socket or a rustls session over it.
//!
//! The event loop reads and writes a [`LinkStream`] as it would the socket: `read` returns
//! plaintext (`WouldBlock` once the socket has nothing more), `write` takes plaintext
//! (`WouldBlock` when the session's send buffer is full and the socket takes no more). With TLS off
//! the stream is [`LinkStream::Plain`] and each call is one `match` in front of the socket call: no
//! copy, no buffer. A TLS stream moves bytes through rustls
//! (`read_tls` / `process_new_packets` / `reader()`, `writer()` / `write_tls`) and never blocks; the
//! loop drives the handshake with [`LinkStream::drive_handshake`] under the same deadline as the
//! authentication handshake ([`super::auth::HANDSHAKE_TIMEOUT`]), and the authentication handshake
//! then runs inside the session.
//!
//! The accepting side looks at the first byte before rustls does: a peer that does not open with
//! a TLS handshake record (a plain worker, a raw client) gets a TLS alert and is refused with
//! [`LinkTlsError::NotTls`], which names the key to set. TLS failures carry a hint naming the keys
//! to check ([`LinkTlsError::Tls`]).

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;

use crate::security::tls::{
    LinkTls, ALERT_UNEXPECTED_MESSAGE, NETTY_TLS_CIPHERS, NETTY_TLS_CLIENT_KEYSTORE,
    NETTY_TLS_CLIENT_TRUSTSTORE, NETTY_TLS_ENABLE, NETTY_TLS_KEYSTORE, NETTY_TLS_PROTOCOLS,
    NETTY_TLS_TRUSTSTORE,
};

/// The first byte of a TLS handshake record.
const HANDSHAKE_RECORD: u8 = 0x16;

/// Why a worker link's TLS session failed (carried inside the `io::Error` the stream returns).
#[derive(Debug, thiserror::Error)]
pub enum LinkTlsError {
    #[error(
        "not a TLS peer (first byte {first:#04x}) on a TLS worker port: a worker without \
         {NETTY_TLS_ENABLE}: true, or not a worker; set {NETTY_TLS_ENABLE}: true (and its keys) \
         for every worker of the topology"
    )]
    NotTls { first: u8 },
    #[error("TLS failed: {error}; {hint}")]
    Tls { error: rustls::Error, hint: String },
}

/// Which end of the link this worker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Accepted the connection (rustls server).
    Accepting,
    /// Opened the connection (rustls client).
    Connecting,
}

/// The keys to check for `e`, from the point of view of `side`.
fn hint(side: Side, e: &rustls::Error) -> String {
    use rustls::Error as E;
    match (side, e) {
        (Side::Accepting, E::NoCertificatesPresented) => format!(
            "the connecting worker presented no client certificate: set {NETTY_TLS_CLIENT_KEYSTORE} on every worker"
        ),
        (Side::Accepting, E::InvalidCertificate(_)) => format!(
            "the connecting worker's client certificate ({NETTY_TLS_CLIENT_KEYSTORE}) is not signed by a CA in this worker's {NETTY_TLS_TRUSTSTORE} (or has expired, or is not for client authentication)"
        ),
        (Side::Connecting, E::InvalidCertificate(_)) => format!(
            "the worker's certificate ({NETTY_TLS_KEYSTORE}) is not signed by a CA in this worker's {NETTY_TLS_CLIENT_TRUSTSTORE} (or has expired, or is not for server authentication)"
        ),
        (Side::Connecting, E::AlertReceived(_)) => format!(
            "the worker refused this worker's session: its {NETTY_TLS_TRUSTSTORE} must hold the CA of {NETTY_TLS_CLIENT_KEYSTORE}, and both need a common {NETTY_TLS_PROTOCOLS} / {NETTY_TLS_CIPHERS}"
        ),
        (Side::Accepting, E::InvalidMessage(_) | E::InappropriateMessage { .. }) => format!(
            "the peer's TLS handshake is malformed: not a storm-rs worker with {NETTY_TLS_ENABLE}: true"
        ),
        (Side::Connecting, E::InvalidMessage(_) | E::InappropriateMessage { .. }) => format!(
            "the worker does not speak TLS: set {NETTY_TLS_ENABLE}: true for every worker of the topology"
        ),
        (_, E::PeerIncompatible(_) | E::PeerMisbehaved(_)) => format!(
            "the workers have no TLS version or cipher suite in common: check {NETTY_TLS_PROTOCOLS} and {NETTY_TLS_CIPHERS}"
        ),
        _ => format!(
            "check {NETTY_TLS_ENABLE}, {NETTY_TLS_KEYSTORE}, {NETTY_TLS_TRUSTSTORE}, {NETTY_TLS_CLIENT_KEYSTORE} and {NETTY_TLS_CLIENT_TRUSTSTORE} on both workers"
        ),
    }
}

/// A rustls session over a non-blocking socket.
pub(crate) struct TlsLink {
    sock: TcpStream,
    conn: rustls::Connection,
    side: Side,
    /// Accepting side: the first byte has not been checked yet.
    check_first: bool,
    /// The socket reached its end.
    eof: bool,
}

/// The byte stream of one worker connection: see the module documentation.
pub(crate) enum LinkStream {
    Plain(TcpStream),
    Tls(Box<TlsLink>),
}

impl LinkStream {
    /// The accepting side of a connection: a new TLS session when `tls` is set.
    pub(crate) fn accepted(sock: TcpStream, tls: Option<&LinkTls>) -> io::Result<LinkStream> {
        match tls {
            None => Ok(LinkStream::Plain(sock)),
            Some(tls) => Ok(LinkStream::Tls(Box::new(TlsLink {
                sock,
                conn: tls.server_session().map_err(io::Error::other)?.into(),
                side: Side::Accepting,
                check_first: true,
                eof: false,
            }))),
        }
    }

    /// The connecting side of a connection to `addr`: a new TLS session when `tls` is set.
    pub(crate) fn connecting(
        sock: TcpStream,
        addr: SocketAddr,
        tls: Option<&LinkTls>,
    ) -> io::Result<LinkStream> {
        match tls {
            None => Ok(LinkStream::Plain(sock)),
            Some(tls) => Ok(LinkStream::Tls(Box::new(TlsLink {
                sock,
                conn: tls
                    .client_session(addr.ip())
                    .map_err(io::Error::other)?
                    .into(),
                side: Side::Connecting,
                check_first: false,
                eof: false,
            }))),
        }
    }

    /// The socket (registration, connect status, options).
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            LinkStream::Plain(s) => s,
            LinkStream::Tls(t) => &t.sock,
        }
    }

    pub(crate) fn tcp_mut(&mut self) -> &mut TcpStream {
        match self {
            LinkStream::Plain(s) => s,
            LinkStream::Tls(t) => &mut t.sock,
        }
    }

    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, LinkStream::Tls(_))
    }

    /// Whether the TLS handshake is still running (never for a plain stream).
    pub(crate) fn is_handshaking(&self) -> bool {
        match self {
            LinkStream::Plain(_) => false,
            LinkStream::Tls(t) => t.conn.is_handshaking(),
        }
    }

    /// Moves the TLS handshake on as far as the socket allows: `Ok(true)` once it is complete
    /// (plaintext that arrived with it stays buffered for `read`), `Ok(false)` to wait for the
    /// socket, `Err` to refuse the connection.
    pub(crate) fn drive_handshake(&mut self) -> io::Result<bool> {
        let LinkStream::Tls(t) = self else {
            return Ok(true);
        };
        loop {
            t.flush_some()?;
            if !t.conn.is_handshaking() {
                return Ok(true);
            }
            match t.fill() {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the peer closed the connection during the TLS handshake",
                    ))
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends what the TLS session holds for the socket as far as it takes it (nothing to do for a
    /// plain stream). `WouldBlock` is not an error: the rest goes on the next writable event.
    pub(crate) fn flush_pending(&mut self) -> io::Result<()> {
        match self {
            LinkStream::Plain(_) => Ok(()),
            LinkStream::Tls(t) => t.flush_some(),
        }
    }
}

impl Read for LinkStream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            LinkStream::Plain(s) => s.read(buf),
            LinkStream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for LinkStream {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            LinkStream::Plain(s) => s.write(buf),
            LinkStream::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            LinkStream::Plain(s) => s.flush(),
            LinkStream::Tls(t) => t.flush_some(),
        }
    }
}

impl TlsLink {
    fn tls_error(&self, error: rustls::Error) -> io::Error {
        let hint = hint(self.side, &error);
        io::Error::new(
            io::ErrorKind::InvalidData,
            LinkTlsError::Tls { error, hint },
        )
    }

    /// Writes TLS records to the socket until the session has none or the socket would block.
    fn flush_all(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// [`flush_all`](Self::flush_all) where a full socket is not an error.
    fn flush_some(&mut self) -> io::Result<()> {
        match self.flush_all() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            other => other,
        }
    }

    /// Reads TLS records from the socket once and processes them: the bytes read (0: the socket
    /// ended), `WouldBlock` when it has none.
    fn fill(&mut self) -> io::Result<usize> {
        if self.check_first {
            let mut first = [0u8; 1];
            if self.sock.peek(&mut first)? == 0 {
                self.eof = true;
                return Ok(0);
            }
            if first[0] != HANDSHAKE_RECORD {
                let _ = self.sock.write(&ALERT_UNEXPECTED_MESSAGE);
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    LinkTlsError::NotTls { first: first[0] },
                ));
            }
            self.check_first = false;
        }
        let n = self.conn.read_tls(&mut self.sock)?;
        if n == 0 {
            self.eof = true;
        }
        if let Err(e) = self.conn.process_new_packets() {
            // Tell the peer (rustls queued an alert), then give up on the connection.
            let _ = self.flush_all();
            return Err(self.tls_error(e));
        }
        self.flush_some()?;
        Ok(n)
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.conn.wants_write() {
            self.flush_some()?;
        }
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The peer closed the socket without close_notify (workers just close): the end.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            if self.eof {
                return Ok(0);
            }
            self.fill()?;
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            let n = self.conn.writer().write(buf)?;
            if n > 0 || buf.is_empty() {
                self.flush_some()?;
                return Ok(n);
            }
            // The session's buffer is full: make room by writing records to the socket.
            if !self.conn.wants_write() {
                // Plaintext waiting for the handshake: the loop writes again once it is done.
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.flush_all()?;
        }
    }
}
