//! Thrift's SASL transport (`TSaslTransport`) as Storm's SASL plugins use it: a negotiation of
//! messages (a status byte, a 4-byte big-endian length, the payload) then data frames (a 4-byte
//! length and the bytes, unwrapped with `qop=auth`) — which are byte for byte the frames of
//! Thrift's framed transport, so after [`server_handshake`] / [`client_handshake`] the connection is
//! served and used exactly like a `SimpleTransportPlugin` one.
//!
//! Negotiation (DIGEST-MD5): the client sends `START` with the mechanism name, then `OK` with an
//! empty initial response; the server answers `OK` with its challenge; the client `OK` with its
//! response; the server `COMPLETE` with `rspauth`. Either side may send `BAD` or `ERROR` with a
//! message, and closes.

use std::io::{Read, Write};

use super::digest_md5::{DigestClient, DigestError, DigestServer, MECHANISM};

/// Storm's SASL service name (`ClientAuthUtils.SERVICE`).
pub const SERVICE: &str = "storm_thrift_server";
/// The server name Storm's `DigestSaslTransportPlugin` registers, which is also the realm.
pub const SERVER_NAME: &str = "localhost";
/// The largest negotiation payload accepted.
pub const MAX_NEGOTIATION_BYTES: usize = 8192;

/// Negotiation statuses of `TSaslTransport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Start = 1,
    Ok = 2,
    Bad = 3,
    Error = 4,
    Complete = 5,
}

impl Status {
    fn from_byte(b: u8) -> Option<Status> {
        Some(match b {
            1 => Status::Start,
            2 => Status::Ok,
            3 => Status::Bad,
            4 => Status::Error,
            5 => Status::Complete,
            _ => return None,
        })
    }
}

/// Why a SASL negotiation failed.
#[derive(Debug, thiserror::Error)]
pub enum SaslError {
    #[error("i/o during the SASL handshake: {0}")]
    Io(#[from] std::io::Error),
    /// The first byte is no SASL status: the peer does not speak SASL.
    #[error("the peer does not speak SASL (first byte {0:#04x}); it probably uses storm.thrift.transport = org.apache.storm.security.auth.SimpleTransportPlugin")]
    NotSasl(u8),
    #[error("SASL negotiation message of {0} bytes refused (limit {MAX_NEGOTIATION_BYTES})")]
    TooLong(usize),
    #[error("unexpected SASL message {got:?} (expected {expected})")]
    Unexpected { got: Status, expected: &'static str },
    #[error("the peer refused the SASL negotiation: {0}")]
    PeerRefused(String),
    #[error("{0}")]
    Digest(#[from] DigestError),
    #[error("unsupported SASL mechanism '{0}' (this server speaks DIGEST-MD5)")]
    Mechanism(String),
}

/// Writes one negotiation message.
pub fn write_message(w: &mut impl Write, status: Status, payload: &[u8]) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(payload.len() + 5);
    buf.push(status as u8);
    buf.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    buf.extend_from_slice(payload);
    w.write_all(&buf)?;
    w.flush()
}

/// Reads one negotiation message.
pub fn read_message(r: &mut impl Read) -> Result<(Status, Vec<u8>), SaslError> {
    let mut head = [0u8; 5];
    r.read_exact(&mut head[..1])?;
    let status = Status::from_byte(head[0]).ok_or(SaslError::NotSasl(head[0]))?;
    r.read_exact(&mut head[1..])?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_NEGOTIATION_BYTES {
        return Err(SaslError::TooLong(len));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok((status, payload))
}

fn refused(status: Status, payload: &[u8]) -> SaslError {
    let text = String::from_utf8_lossy(payload).into_owned();
    SaslError::PeerRefused(if text.is_empty() {
        format!("{status:?}")
    } else {
        text
    })
}

/// Runs the server side of a DIGEST-MD5 negotiation on `stream`; returns the authenticated user.
/// On failure the client is told why (an `ERROR`/`BAD` message) when it speaks SASL at all.
pub fn server_handshake<S: Read + Write>(
    stream: &mut S,
    password_of: impl Fn(&str) -> Option<String>,
) -> Result<String, SaslError> {
    let result = server_steps(stream, password_of);
    if let Err(e) = &result {
        let (status, msg) = match e {
            SaslError::Io(_) | SaslError::NotSasl(_) => return result,
            SaslError::Mechanism(_) => (Status::Bad, e.to_string()),
            // Do not tell a stranger which of the two was wrong.
            SaslError::Digest(DigestError::UnknownUser(u) | DigestError::BadPassword(u)) => (
                Status::Error,
                format!("DIGEST-MD5: authentication failed for user '{u}': unknown user or wrong password"),
            ),
            other => (Status::Error, other.to_string()),
        };
        let _ = write_message(stream, status, msg.as_bytes());
    }
    result
}

fn server_steps<S: Read + Write>(
    stream: &mut S,
    password_of: impl Fn(&str) -> Option<String>,
) -> Result<String, SaslError> {
    let (status, mech) = read_message(stream)?;
    match status {
        Status::Start => {}
        Status::Bad | Status::Error => return Err(refused(status, &mech)),
        got => {
            return Err(SaslError::Unexpected {
                got,
                expected: "START",
            })
        }
    }
    let mech = String::from_utf8_lossy(&mech).into_owned();
    if mech != MECHANISM {
        return Err(SaslError::Mechanism(mech));
    }
    let server = DigestServer::new(SERVICE, SERVER_NAME);
    // The client's initial response (empty for DIGEST-MD5).
    let (status, initial) = read_message(stream)?;
    match status {
        Status::Ok | Status::Complete => {}
        Status::Bad | Status::Error => return Err(refused(status, &initial)),
        got => {
            return Err(SaslError::Unexpected {
                got,
                expected: "OK",
            })
        }
    }
    if !initial.is_empty() {
        return Err(SaslError::Digest(DigestError::Protocol(
            "DIGEST-MD5 has no initial response".into(),
        )));
    }
    write_message(stream, Status::Ok, &server.challenge())?;
    let (status, response) = read_message(stream)?;
    match status {
        Status::Ok | Status::Complete => {}
        Status::Bad | Status::Error => return Err(refused(status, &response)),
        got => {
            return Err(SaslError::Unexpected {
                got,
                expected: "OK",
            })
        }
    }
    let (user, rspauth) = server.verify(&response, password_of)?;
    write_message(stream, Status::Complete, &rspauth)?;
    Ok(user)
}

/// Runs the client side of a DIGEST-MD5 negotiation with `host` (used in the `digest-uri`, as
/// Storm's client does).
pub fn client_handshake<S: Read + Write>(
    stream: &mut S,
    username: &str,
    password: &str,
    host: &str,
) -> Result<(), SaslError> {
    let mut client = DigestClient::new(username, password, SERVICE, host);
    write_message(stream, Status::Start, MECHANISM.as_bytes())?;
    write_message(stream, Status::Ok, &[])?;
    let (status, challenge) = read_message(stream)?;
    match status {
        Status::Ok => {}
        Status::Bad | Status::Error => return Err(refused(status, &challenge)),
        got => {
            return Err(SaslError::Unexpected {
                got,
                expected: "OK with a challenge",
            })
        }
    }
    let response = match client.respond(&challenge) {
        Ok(r) => r,
        Err(e) => {
            let _ = write_message(stream, Status::Error, e.to_string().as_bytes());
            return Err(e.into());
        }
    };
    write_message(stream, Status::Ok, &response)?;
    let (status, last) = read_message(stream)?;
    match status {
        Status::Complete => {}
        Status::Bad | Status::Error => return Err(refused(status, &last)),
        got => {
            return Err(SaslError::Unexpected {
                got,
                expected: "COMPLETE",
            })
        }
    }
    client.verify_rspauth(&last)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (c, s)
    }

    #[test]
    fn framing_round_trip() {
        let mut buf = Vec::new();
        write_message(&mut buf, Status::Start, b"DIGEST-MD5").unwrap();
        assert_eq!(&buf[..5], &[1, 0, 0, 0, 10]);
        let (s, p) = read_message(&mut buf.as_slice()).unwrap();
        assert_eq!((s, p.as_slice()), (Status::Start, &b"DIGEST-MD5"[..]));
        // A framed-transport client's first bytes (a length) are not a status.
        assert!(matches!(
            read_message(&mut [0u8, 0, 0, 20].as_slice()),
            Err(SaslError::NotSasl(0))
        ));
        assert!(matches!(
            read_message(&mut [2u8, 0x7f, 0, 0, 0].as_slice()),
            Err(SaslError::TooLong(_))
        ));
    }

    fn run(user: &str, password: &str) -> (Result<String, String>, Result<(), String>) {
        let (mut c, mut s) = pair();
        let server = std::thread::spawn(move || {
            server_handshake(&mut s, |u| (u == "bob").then(|| "secret".to_string()))
                .map_err(|e| e.to_string())
        });
        let client =
            client_handshake(&mut c, user, password, "localhost").map_err(|e| e.to_string());
        (server.join().unwrap(), client)
    }

    #[test]
    fn handshake_succeeds_and_fails_clearly() {
        let (s, c) = run("bob", "secret");
        assert_eq!(s.unwrap(), "bob");
        c.unwrap();
        let (s, c) = run("bob", "wrong");
        assert!(s.unwrap_err().contains("wrong password"));
        let c = c.unwrap_err();
        assert!(c.contains("authentication failed for user 'bob'"), "{c}");
        let (s, c) = run("eve", "secret");
        assert!(s.unwrap_err().contains("unknown user"));
        assert!(c
            .unwrap_err()
            .contains("authentication failed for user 'eve'"));
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            struct Io<'a>(&'a [u8], Vec<u8>);
            impl Read for Io<'_> {
                fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> { self.0.read(b) }
            }
            impl Write for Io<'_> {
                fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.1.extend_from_slice(b); Ok(b.len()) }
                fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
            }
            let mut io = Io(&bytes, Vec::new());
            let _ = server_handshake(&mut io, |_| Some("x".into()));
            let mut io = Io(&bytes, Vec::new());
            let _ = client_handshake(&mut io, "a", "b", "h");
        }
    }
}
