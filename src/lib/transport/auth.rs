//! Worker-link authentication (`storm.messaging.netty.authentication`): the challenge-response
//! handshake two workers of one topology run on every new connection before any frame flows.
//!
//! The shared secret is the topology's ZooKeeper digest payload
//! (`storm.zookeeper.topology.auth.payload`, which nimbus generates at submit; Storm's netty SASL
//! uses the same payload). It never crosses the wire: both sides prove they hold it with
//! HMAC-SHA256 over fresh nonces, in both directions.
//!
//! ```text
//! client → server  HELLO     "SRWA" 0x01 client-nonce[32]                       (37 bytes)
//! server → client  CHALLENGE "SRWA" 0x01 server-nonce[32] mac_s[32]             (69 bytes)
//! client → server  PROOF     mac_c[32]                                          (32 bytes)
//! key   = HMAC(payload, "storm-rs worker link v1" ‖ topology id)
//! mac_s = HMAC(key, "server" ‖ client-nonce ‖ server-nonce)
//! mac_c = HMAC(key, "client" ‖ server-nonce ‖ client-nonce)
//! ```
//!
//! The client sends no tuple before it verified `mac_s`; the server decodes no frame before it
//! verified `mac_c`. Distinct labels stop a reflected answer; fresh nonces stop a replayed one.
//! Anything else (a raw frame, garbage, a wrong MAC) is refused: the connection is closed and the
//! peer logged. The handshake is per connection, so steady-state throughput is unchanged.
//! These are pure state machines over byte buffers; the event loop does the I/O and the deadline.

use std::fmt;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde_json::{Map, Value};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// First bytes of a handshake (a frame starts with its length, which never looks like this).
pub const MAGIC: &[u8; 4] = b"SRWA";
pub const VERSION: u8 = 1;
const NONCE: usize = 32;
const MAC: usize = 32;
pub const HELLO_LEN: usize = 4 + 1 + NONCE;
pub const CHALLENGE_LEN: usize = 4 + 1 + NONCE + MAC;
pub const PROOF_LEN: usize = MAC;
/// How long a connection may take to authenticate before it is closed (storm-rs constant).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a handshake failed (the connection is closed; the reason is logged with the peer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error(
        "not a storm-rs worker-link handshake (first bytes {0:02x?}); unauthenticated peer refused"
    )]
    NotHandshake(Vec<u8>),
    #[error("unsupported worker-link handshake version {0}")]
    Version(u8),
    #[error("the peer does not know the topology's secret (bad HMAC); refused")]
    BadMac,
}

/// The configuration asks for authenticated links but gives no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "storm.messaging.netty.authentication is true but the topology has no \
     storm.zookeeper.topology.auth.payload (nimbus generates one at submit; resubmit the topology \
     through a storm-rs nimbus, or set the payload \"user:secret\" in the topology conf)"
)]
pub struct NoSecret;

/// The per-topology link key. Debug never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkSecret([u8; 32]);

impl fmt::Debug for LinkSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkSecret(<redacted>)")
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn verify(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.verify_slice(tag).is_ok()
}

fn nonce() -> [u8; NONCE] {
    let mut n = [0u8; NONCE];
    crate::cluster::acl::fill_random(&mut n);
    n
}

impl LinkSecret {
    /// The key of `topology_id`'s links from its payload.
    pub fn derive(payload: &str, topology_id: &str) -> LinkSecret {
        LinkSecret(hmac(
            payload.as_bytes(),
            &[b"storm-rs worker link v1", topology_id.as_bytes()],
        ))
    }

    /// `None` unless `storm.messaging.netty.authentication` is true; then the topology's payload.
    pub fn from_topology_conf(
        conf: &Map<String, Value>,
        topology_id: &str,
    ) -> Result<Option<LinkSecret>, NoSecret> {
        let on = conf
            .get(crate::cluster::acl::NETTY_AUTHENTICATION)
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if !on {
            return Ok(None);
        }
        conf.get(crate::cluster::acl::TOPOLOGY_AUTH_PAYLOAD)
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .map(|p| Some(LinkSecret::derive(p, topology_id)))
            .ok_or(NoSecret)
    }
}

/// The connecting side.
pub struct ClientHandshake {
    secret: LinkSecret,
    client_nonce: [u8; NONCE],
}

impl ClientHandshake {
    /// Starts a handshake; returns it and the HELLO to send.
    pub fn start(secret: &LinkSecret) -> (ClientHandshake, Vec<u8>) {
        let client_nonce = nonce();
        let mut hello = Vec::with_capacity(HELLO_LEN);
        hello.extend_from_slice(MAGIC);
        hello.push(VERSION);
        hello.extend_from_slice(&client_nonce);
        (
            ClientHandshake {
                secret: secret.clone(),
                client_nonce,
            },
            hello,
        )
    }

    /// Given what the server sent so far: `Ok(None)` until the whole CHALLENGE is there, then the
    /// PROOF to send (the server is authenticated). The CHALLENGE is `received[..CHALLENGE_LEN]`.
    pub fn on_challenge(&self, received: &[u8]) -> Result<Option<Vec<u8>>, HandshakeError> {
        check_prefix(received)?;
        if received.len() < CHALLENGE_LEN {
            return Ok(None);
        }
        let server_nonce = &received[5..5 + NONCE];
        let mac_s = &received[5 + NONCE..CHALLENGE_LEN];
        let key = &self.secret.0;
        if !verify(key, &[b"server", &self.client_nonce, server_nonce], mac_s) {
            return Err(HandshakeError::BadMac);
        }
        Ok(Some(
            hmac(key, &[b"client", server_nonce, &self.client_nonce]).to_vec(),
        ))
    }
}

/// What the accepting side does next.
#[derive(Debug, PartialEq, Eq)]
pub enum ServerStep {
    /// Wait for more bytes.
    NeedMore,
    /// Send these bytes (the CHALLENGE); `consumed` bytes of the input were the HELLO.
    Reply { bytes: Vec<u8>, consumed: usize },
    /// The client is authenticated; `consumed` bytes were the PROOF, frames follow.
    Done { consumed: usize },
}

/// The accepting side.
pub struct ServerHandshake {
    secret: LinkSecret,
    server_nonce: [u8; NONCE],
    /// The client's nonce once its HELLO was read.
    client_nonce: Option<[u8; NONCE]>,
}

fn check_prefix(received: &[u8]) -> Result<(), HandshakeError> {
    let n = received.len().min(MAGIC.len());
    if received[..n] != MAGIC[..n] {
        return Err(HandshakeError::NotHandshake(
            received[..received.len().min(8)].to_vec(),
        ));
    }
    if received.len() > 4 && received[4] != VERSION {
        return Err(HandshakeError::Version(received[4]));
    }
    Ok(())
}

impl ServerHandshake {
    pub fn new(secret: &LinkSecret) -> ServerHandshake {
        ServerHandshake {
            secret: secret.clone(),
            server_nonce: nonce(),
            client_nonce: None,
        }
    }

    /// Feeds the unread bytes from the client (the caller drops `consumed` bytes after each step).
    pub fn advance(&mut self, received: &[u8]) -> Result<ServerStep, HandshakeError> {
        let key = &self.secret.0;
        match self.client_nonce {
            None => {
                check_prefix(received)?;
                if received.len() < HELLO_LEN {
                    return Ok(ServerStep::NeedMore);
                }
                let mut client_nonce = [0u8; NONCE];
                client_nonce.copy_from_slice(&received[5..HELLO_LEN]);
                self.client_nonce = Some(client_nonce);
                let mac_s = hmac(key, &[b"server", &client_nonce, &self.server_nonce]);
                let mut bytes = Vec::with_capacity(CHALLENGE_LEN);
                bytes.extend_from_slice(MAGIC);
                bytes.push(VERSION);
                bytes.extend_from_slice(&self.server_nonce);
                bytes.extend_from_slice(&mac_s);
                Ok(ServerStep::Reply {
                    bytes,
                    consumed: HELLO_LEN,
                })
            }
            Some(client_nonce) => {
                if received.len() < PROOF_LEN {
                    return Ok(ServerStep::NeedMore);
                }
                let proof = &received[..PROOF_LEN];
                if !verify(key, &[b"client", &self.server_nonce, &client_nonce], proof) {
                    return Err(HandshakeError::BadMac);
                }
                Ok(ServerStep::Done {
                    consumed: PROOF_LEN,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(client_secret: &LinkSecret, server_secret: &LinkSecret) -> Result<(), HandshakeError> {
        let (client, hello) = ClientHandshake::start(client_secret);
        let mut server = ServerHandshake::new(server_secret);
        // Byte by byte: partial input is never an error.
        for i in 0..hello.len() - 1 {
            assert_eq!(server.advance(&hello[..=i]).unwrap(), ServerStep::NeedMore);
        }
        let ServerStep::Reply { bytes, consumed } = server.advance(&hello)? else {
            panic!("no challenge")
        };
        assert_eq!(consumed, HELLO_LEN);
        assert_eq!(client.on_challenge(&bytes[..10])?, None);
        let proof = client.on_challenge(&bytes)?.expect("proof");
        assert_eq!(server.advance(&proof[..5])?, ServerStep::NeedMore);
        assert_eq!(
            server.advance(&proof)?,
            ServerStep::Done {
                consumed: PROOF_LEN
            }
        );
        Ok(())
    }

    #[test]
    fn same_secret_authenticates_both_ways() {
        let s = LinkSecret::derive("alice:x", "t-1");
        run(&s, &s).unwrap();
    }

    #[test]
    fn a_wrong_secret_or_topology_is_refused_on_both_sides() {
        let s = LinkSecret::derive("alice:x", "t-1");
        // The client checks the server's MAC first: an impostor server gets no tuple.
        assert_eq!(
            run(&LinkSecret::derive("alice:y", "t-1"), &s),
            Err(HandshakeError::BadMac)
        );
        assert_eq!(
            run(&s, &LinkSecret::derive("alice:x", "t-2")),
            Err(HandshakeError::BadMac)
        );
        // A client that replays the server's own MAC as its proof (reflection) is refused.
        let (_, hello) = ClientHandshake::start(&s);
        let mut server = ServerHandshake::new(&s);
        let ServerStep::Reply { bytes, .. } = server.advance(&hello).unwrap() else {
            panic!()
        };
        assert_eq!(
            server.advance(&bytes[5 + NONCE..]),
            Err(HandshakeError::BadMac)
        );
    }

    #[test]
    fn the_secret_never_appears_on_the_wire_and_nonces_are_fresh() {
        let payload = "alice:supersecretvalue";
        let s = LinkSecret::derive(payload, "t-1");
        let (_, h1) = ClientHandshake::start(&s);
        let (_, h2) = ClientHandshake::start(&s);
        assert_ne!(h1, h2);
        let mut server = ServerHandshake::new(&s);
        let ServerStep::Reply { bytes, .. } = server.advance(&h1).unwrap() else {
            panic!()
        };
        for wire in [&h1, &bytes] {
            assert!(!wire
                .windows(6)
                .any(|w| payload.as_bytes().windows(6).any(|p| p == w)));
        }
        assert!(!format!("{s:?}").contains("supersecret"));
    }

    #[test]
    fn a_plain_frame_is_not_a_handshake() {
        let s = LinkSecret::derive("a:b", "t");
        let mut server = ServerHandshake::new(&s);
        // A frame starts with its big-endian length.
        assert!(matches!(
            server.advance(&[0, 0, 0, 40, 0, 0, 0, 1]),
            Err(HandshakeError::NotHandshake(_))
        ));
        assert!(matches!(
            server.advance(b"SRWA\x09"),
            Err(HandshakeError::Version(9))
        ));
    }

    #[test]
    fn secret_comes_from_the_topology_conf() {
        let conf = |v: serde_json::Value| v.as_object().unwrap().clone();
        assert_eq!(
            LinkSecret::from_topology_conf(&conf(serde_json::json!({})), "t"),
            Ok(None)
        );
        assert_eq!(
            LinkSecret::from_topology_conf(
                &conf(serde_json::json!({"storm.messaging.netty.authentication": true})),
                "t"
            ),
            Err(NoSecret)
        );
        let on = conf(serde_json::json!({
            "storm.messaging.netty.authentication": true,
            "storm.zookeeper.topology.auth.payload": "a:b"
        }));
        assert_eq!(
            LinkSecret::from_topology_conf(&on, "t"),
            Ok(Some(LinkSecret::derive("a:b", "t")))
        );
    }

    proptest! {
        #[test]
        fn garbage_never_panics_nor_authenticates(
            first in proptest::collection::vec(any::<u8>(), 0..100),
            second in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let s = LinkSecret::derive("a:b", "t");
            let mut server = ServerHandshake::new(&s);
            let mut done = false;
            if let Ok(ServerStep::Reply { .. }) = server.advance(&first) {
                done = matches!(server.advance(&second), Ok(ServerStep::Done { .. }));
            }
            prop_assert!(!done);
            let (client, _) = ClientHandshake::start(&s);
            prop_assert!(!matches!(client.on_challenge(&first), Ok(Some(_))));
        }
    }
}
