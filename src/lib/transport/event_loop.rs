//! The transport's mio event loop: the one thread that accepts, reads, decodes, connects, reconnects
//! and writes for a worker.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use super::auth::{self, ClientHandshake, ServerHandshake, ServerStep};
use super::delivery::{self, FrameDecoder, Run};
use super::tls::LinkStream;
use super::wire::{self, FRAME_HEADER_BYTES};
use super::{PeerQueue, Shared};
use crate::executor::transport::Current;
use crate::executor::Router;

pub(crate) const LISTENER: Token = Token(0);
pub(crate) const WAKER: Token = Token(1);
const FIRST_CONN: usize = 2;

/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 64 * 1024;
/// Frames written to one peer per loop turn before the others get a turn.
const FRAMES_PER_TURN: usize = 16;
/// How often a paused loop re-checks the delivery channel even without a wake-up.
const PAUSE_RECHECK: Duration = Duration::from_millis(50);

struct Inbound {
    stream: LinkStream,
    peer: SocketAddr,
    /// Receive buffer, all of it initialised once (reads are not preceded by zeroing): at least
    /// [`READ_CHUNK`] bytes, more only while a larger frame is being read.
    buf: Vec<u8>,
    /// The unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Decoded data runs the delivery channel had no room for.
    pending: Option<Vec<Run>>,
    /// Reading stopped before `WouldBlock` (not attached yet, or no room): resume on wake-up.
    stalled: bool,
    /// The authentication handshake in progress (nothing is decoded until it is done).
    handshake: Option<ServerHandshake>,
    /// The TLS handshake is not complete yet (it runs before the authentication handshake).
    tls_handshaking: bool,
    /// When an unfinished (TLS or authentication) handshake is given up.
    deadline: Option<Instant>,
}

struct Outbound {
    stream: LinkStream,
    addr: SocketAddr,
    connected: bool,
    wbuf: Vec<u8>,
    wpos: usize,
    /// No frame is written before the server proved the topology's secret.
    authenticated: bool,
    handshake: Option<ClientHandshake>,
    /// The server's CHALLENGE so far.
    hs_buf: Vec<u8>,
    /// The TLS handshake is not complete yet.
    tls_handshaking: bool,
    deadline: Option<Instant>,
}

enum Conn {
    In(Inbound),
    Out(Outbound),
}

struct Peer {
    queue: Arc<PeerQueue>,
    token: Option<Token>,
    backoff: Duration,
    next_attempt: Instant,
    failures: u32,
    /// The rest of a batch taken from the queue that did not fit in the last frame.
    /// The batch being sent (spent batches go back to their producers).
    carry: Option<Current>,
}

pub(crate) struct EventLoop {
    shared: Arc<Shared>,
    poll: Poll,
    listener: TcpListener,
    conns: HashMap<Token, Conn>,
    next_token: usize,
    peers: HashMap<SocketAddr, Peer>,
    routes_version: u64,
    batches: Sender<Vec<Run>>,
    decoder: FrameDecoder,
    /// Some peer stopped writing before `WouldBlock` (fairness): poll without waiting.
    more_work: bool,
}

enum ReadOutcome {
    Open,
    Closed(String),
}

impl EventLoop {
    pub(crate) fn new(
        shared: Arc<Shared>,
        poll: Poll,
        mut listener: TcpListener,
        batches: Sender<Vec<Run>>,
    ) -> io::Result<EventLoop> {
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(EventLoop {
            shared,
            poll,
            listener,
            conns: HashMap::new(),
            next_token: FIRST_CONN,
            peers: HashMap::new(),
            routes_version: 0,
            batches,
            decoder: FrameDecoder::default(),
            more_work: false,
        })
    }

    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(256);
        self.sync_routes();
        loop {
            if self.shared.stopping.load(Ordering::SeqCst) {
                break;
            }
            self.connect_due();
            self.expire_handshakes();
            let timeout = self.poll_timeout();
            self.more_work = false;
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                tracing::error!(topology = %self.shared.topology_id, error = %e, "transport event loop cannot poll; stopping");
                break;
            }
            let mut woken = false;
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => woken = true,
                    token => self.conn_event(token, event.is_readable(), event.is_writable()),
                }
            }
            // Every turn (cheap): new routes, attach, room for delivery, queued output.
            if woken {
                self.shared.clear_wake();
            }
            if self.shared.stopping.load(Ordering::SeqCst) {
                break;
            }
            self.sync_routes();
            self.resume_inbound();
            self.write_all();
        }
        tracing::debug!(topology = %self.shared.topology_id, "transport event loop stopped");
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if self.more_work {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        let mut timeout = self
            .peers
            .values()
            .filter(|p| p.token.is_none())
            .map(|p| p.next_attempt.saturating_duration_since(now))
            .min();
        if let Some(deadline) = self
            .conns
            .values()
            .filter_map(|c| match c {
                Conn::In(i) => i.deadline,
                Conn::Out(o) => o.deadline,
            })
            .min()
        {
            let left = deadline.saturating_duration_since(now);
            timeout = Some(timeout.map_or(left, |t| t.min(left)));
        }
        if self.shared.inbound_paused.load(Ordering::SeqCst)
            || self
                .conns
                .values()
                .any(|c| matches!(c, Conn::In(i) if i.stalled))
        {
            timeout = Some(timeout.map_or(PAUSE_RECHECK, |t| t.min(PAUSE_RECHECK)));
        }
        timeout
    }

    /// Closes connections whose authentication handshake is overdue.
    fn expire_handshakes(&mut self) {
        let now = Instant::now();
        let overdue: Vec<(Token, bool)> = self
            .conns
            .iter()
            .filter_map(|(t, c)| match c {
                Conn::In(i) if i.deadline.is_some_and(|d| d <= now) => Some((*t, true)),
                Conn::Out(o) if o.deadline.is_some_and(|d| d <= now) => Some((*t, false)),
                _ => None,
            })
            .collect();
        for (token, inbound) in overdue {
            if inbound {
                if let Some(Conn::In(conn)) = self.close(token) {
                    tracing::warn!(topology = %self.shared.topology_id, peer = %conn.peer, "refused a worker connection: no TLS or authentication handshake within the deadline");
                }
            } else {
                self.drop_outbound(
                    token,
                    "the worker-link TLS or authentication handshake timed out",
                );
            }
        }
    }

    fn token(&mut self) -> Token {
        let t = Token(self.next_token);
        self.next_token += 1;
        t
    }

    // ---- routes and connections ------------------------------------------------------------------

    fn sync_routes(&mut self) {
        let version = self.shared.routes_version.load(Ordering::SeqCst);
        if version == self.routes_version {
            return;
        }
        self.routes_version = version;
        let wanted: HashMap<SocketAddr, Arc<PeerQueue>> = self
            .shared
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .peers
            .clone();
        let gone: Vec<SocketAddr> = self
            .peers
            .keys()
            .filter(|a| !wanted.contains_key(a))
            .copied()
            .collect();
        for addr in gone {
            if let Some(peer) = self.peers.remove(&addr) {
                peer.queue.connected.store(false, Ordering::SeqCst);
                if let Some(token) = peer.token {
                    self.close(token);
                }
                tracing::info!(topology = %self.shared.topology_id, peer = %addr, "no tasks at this worker any more; connection closed");
            }
        }
        let now = Instant::now();
        for (addr, queue) in wanted {
            let min_backoff = self.shared.opts.min_backoff;
            let peer = self.peers.entry(addr).or_insert_with(|| Peer {
                queue: Arc::clone(&queue),
                token: None,
                backoff: min_backoff,
                next_attempt: now,
                failures: 0,
                carry: None,
            });
            if !Arc::ptr_eq(&peer.queue, &queue) {
                peer.queue = queue;
                peer.carry = None;
            }
        }
    }

    fn connect_due(&mut self) {
        let now = Instant::now();
        let due: Vec<SocketAddr> = self
            .peers
            .iter()
            .filter(|(_, p)| p.token.is_none() && p.next_attempt <= now)
            .map(|(a, _)| *a)
            .collect();
        for addr in due {
            match TcpStream::connect(addr) {
                Ok(stream) => {
                    let token = self.token();
                    let mut stream =
                        match LinkStream::connecting(stream, addr, self.shared.opts.tls.as_ref()) {
                            Ok(s) => s,
                            Err(e) => {
                                self.connect_failed(addr, &format!("cannot start TLS: {e}"));
                                continue;
                            }
                        };
                    if let Err(e) = self.poll.registry().register(
                        stream.tcp_mut(),
                        token,
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        self.connect_failed(addr, &e.to_string());
                        continue;
                    }
                    self.conns.insert(
                        token,
                        Conn::Out(Outbound {
                            stream,
                            addr,
                            connected: false,
                            wbuf: Vec::new(),
                            wpos: 0,
                            authenticated: false,
                            handshake: None,
                            hs_buf: Vec::new(),
                            tls_handshaking: false,
                            deadline: None,
                        }),
                    );
                    if let Some(p) = self.peers.get_mut(&addr) {
                        p.token = Some(token);
                    }
                }
                Err(e) => self.connect_failed(addr, &e.to_string()),
            }
        }
    }

    /// Schedules the next attempt for `addr` with exponential backoff.
    fn connect_failed(&mut self, addr: SocketAddr, reason: &str) {
        let max = self.shared.opts.max_backoff;
        let Some(peer) = self.peers.get_mut(&addr) else {
            return;
        };
        peer.token = None;
        peer.queue.connected.store(false, Ordering::SeqCst);
        peer.failures += 1;
        let delay = peer.backoff;
        peer.next_attempt = Instant::now() + delay;
        peer.backoff = (peer.backoff * 2).min(max);
        if peer.failures == 1 || peer.failures % 50 == 0 {
            tracing::info!(topology = %self.shared.topology_id, peer = %addr, attempts = peer.failures, retry_in_ms = delay.as_millis() as u64, reason, "cannot connect to worker; retrying");
        } else {
            tracing::debug!(topology = %self.shared.topology_id, peer = %addr, attempts = peer.failures, retry_in_ms = delay.as_millis() as u64, reason, "cannot connect to worker; retrying");
        }
    }

    fn close(&mut self, token: Token) -> Option<Conn> {
        let mut conn = self.conns.remove(&token)?;
        let registry = self.poll.registry();
        let _ = match &mut conn {
            Conn::In(i) => registry.deregister(i.stream.tcp_mut()),
            Conn::Out(o) => registry.deregister(o.stream.tcp_mut()),
        };
        Some(conn)
    }

    /// An outbound connection failed or dropped: close it and reconnect later.
    fn drop_outbound(&mut self, token: Token, reason: &str) {
        let Some(Conn::Out(out)) = self.close(token) else {
            return;
        };
        let addr = out.addr;
        if out.connected {
            tracing::warn!(topology = %self.shared.topology_id, peer = %addr, reason, "connection to worker lost; reconnecting");
            if let Some(p) = self.peers.get_mut(&addr) {
                p.failures = 0;
                p.backoff = self.shared.opts.min_backoff;
            }
        }
        if self
            .peers
            .get(&addr)
            .is_some_and(|p| p.token == Some(token))
        {
            self.connect_failed(addr, reason);
        }
    }

    // ---- events ----------------------------------------------------------------------------------

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    let token = self.token();
                    let tls = self.shared.opts.tls.as_ref();
                    let _ = stream.set_nodelay(true);
                    let mut stream = match LinkStream::accepted(stream, tls) {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::warn!(topology = %self.shared.topology_id, peer = %peer, error = %e, "cannot start a TLS session for an accepted connection");
                            continue;
                        }
                    };
                    // A TLS session also writes while it reads (handshake): writable events too.
                    let interest = match tls {
                        Some(_) => Interest::READABLE | Interest::WRITABLE,
                        None => Interest::READABLE,
                    };
                    if let Err(e) = self
                        .poll
                        .registry()
                        .register(stream.tcp_mut(), token, interest)
                    {
                        tracing::warn!(topology = %self.shared.topology_id, peer = %peer, error = %e, "cannot register accepted connection");
                        continue;
                    }
                    tracing::debug!(topology = %self.shared.topology_id, peer = %peer, "accepted worker connection");
                    let handshakes = tls.is_some() || self.shared.opts.auth.is_some();
                    let tls_handshaking = tls.is_some();
                    self.conns.insert(
                        token,
                        Conn::In(Inbound {
                            stream,
                            peer,
                            buf: Vec::new(),
                            start: 0,
                            end: 0,
                            pending: None,
                            stalled: true,
                            handshake: self.shared.opts.auth.as_ref().map(ServerHandshake::new),
                            tls_handshaking,
                            deadline: handshakes.then(|| Instant::now() + auth::HANDSHAKE_TIMEOUT),
                        }),
                    );
                    self.read_inbound(token);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of descriptors and the like: try again on the next event.
                    tracing::warn!(topology = %self.shared.topology_id, error = %e, "cannot accept a worker connection");
                    return;
                }
            }
        }
    }

    fn conn_event(&mut self, token: Token, readable: bool, writable: bool) {
        match self.conns.get(&token) {
            Some(Conn::In(_)) => self.read_inbound(token),
            Some(Conn::Out(_)) => self.outbound_event(token, readable, writable),
            None => {}
        }
    }

    fn outbound_event(&mut self, token: Token, readable: bool, _writable: bool) {
        let Some(Conn::Out(out)) = self.conns.get_mut(&token) else {
            return;
        };
        if !out.connected {
            match out.stream.tcp().take_error() {
                Ok(Some(e)) | Err(e) => return self.drop_outbound(token, &e.to_string()),
                Ok(None) => {}
            }
            match out.stream.tcp().peer_addr() {
                Ok(_) => {}
                Err(e)
                    if e.kind() == io::ErrorKind::NotConnected
                        || e.raw_os_error() == Some(nix::libc::EINPROGRESS) =>
                {
                    return; // still connecting
                }
                Err(e) => return self.drop_outbound(token, &e.to_string()),
            }
            out.connected = true;
            let _ = out.stream.tcp().set_nodelay(true);
            // With TLS the HELLO waits in the session until its handshake is done.
            match &self.shared.opts.auth {
                Some(secret) => {
                    let (hs, hello) = ClientHandshake::start(secret);
                    out.handshake = Some(hs);
                    out.wbuf = hello;
                    out.wpos = 0;
                    out.deadline = Some(Instant::now() + auth::HANDSHAKE_TIMEOUT);
                }
                None => out.authenticated = !out.stream.is_tls(),
            }
            if out.stream.is_tls() {
                out.tls_handshaking = true;
                out.deadline = Some(Instant::now() + auth::HANDSHAKE_TIMEOUT);
            }
            let addr = out.addr;
            if let Some(p) = self.peers.get_mut(&addr) {
                p.backoff = self.shared.opts.min_backoff;
                p.failures = 0;
                p.queue.connected.store(true, Ordering::SeqCst);
            }
            tracing::info!(topology = %self.shared.topology_id, peer = %addr, "connected to worker");
        }
        if readable {
            // Workers answer only the handshake; otherwise reading only notices the peer closing.
            let mut scratch = [0u8; 1024];
            loop {
                let Some(Conn::Out(out)) = self.conns.get_mut(&token) else {
                    return;
                };
                match out.stream.read(&mut scratch) {
                    Ok(0) if out.tls_handshaking => {
                        return self.drop_outbound(
                            token,
                            &format!(
                                "closed by peer during the TLS handshake: does the worker have {}: true, and does its {} hold the CA of this worker's {}?",
                                crate::security::tls::NETTY_TLS_ENABLE,
                                crate::security::tls::NETTY_TLS_TRUSTSTORE,
                                crate::security::tls::NETTY_TLS_CLIENT_KEYSTORE,
                            ),
                        )
                    }
                    Ok(0) => return self.drop_outbound(token, "closed by peer"),
                    Ok(n) => {
                        if out.handshake.is_none()
                            && !out.stream.is_tls()
                            && crate::security::tls::looks_like_tls(&scratch[..n])
                        {
                            return self.drop_outbound(
                                token,
                                &format!(
                                    "the worker answered with TLS: set {}: true for every worker of the topology",
                                    crate::security::tls::NETTY_TLS_ENABLE
                                ),
                            );
                        }
                        if let Some(hs) = &out.handshake {
                            out.hs_buf.extend_from_slice(&scratch[..n]);
                            if out.hs_buf.len() > auth::CHALLENGE_LEN {
                                return self.drop_outbound(
                                    token,
                                    "the peer sent more than a handshake challenge",
                                );
                            }
                            match hs.on_challenge(&out.hs_buf) {
                                Ok(None) => {}
                                Ok(Some(proof)) => {
                                    out.wbuf.drain(..out.wpos);
                                    out.wpos = 0;
                                    out.wbuf.extend_from_slice(&proof);
                                    out.handshake = None;
                                    out.hs_buf = Vec::new();
                                    out.deadline = None;
                                    out.authenticated = true;
                                    tracing::info!(topology = %self.shared.topology_id, peer = %out.addr, "worker link authenticated");
                                }
                                Err(e) => {
                                    return self.drop_outbound(
                                        token,
                                        &format!("worker-link authentication failed: {e}"),
                                    )
                                }
                            }
                        }
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return self.drop_outbound(token, &e.to_string()),
                }
            }
            if let Some(Conn::Out(out)) = self.conns.get_mut(&token) {
                if out.tls_handshaking && !out.stream.is_handshaking() {
                    out.tls_handshaking = false;
                    if self.shared.opts.auth.is_none() {
                        out.authenticated = true;
                        out.deadline = None;
                    }
                    tracing::info!(topology = %self.shared.topology_id, peer = %out.addr, "worker link TLS session established");
                }
            }
        }
        self.write_peer(token);
    }

    // ---- inbound ---------------------------------------------------------------------------------

    fn resume_inbound(&mut self) {
        if !self.shared.attached.load(Ordering::SeqCst) {
            return;
        }
        let stalled: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, c)| matches!(c, Conn::In(i) if i.stalled))
            .map(|(t, _)| *t)
            .collect();
        for token in stalled {
            self.read_inbound(token);
        }
    }

    fn read_inbound(&mut self, token: Token) {
        let attached = self.shared.attached.load(Ordering::SeqCst);
        let max = self.shared.opts.max_frame_bytes;
        let Some(Conn::In(conn)) = self.conns.get_mut(&token) else {
            return;
        };
        if conn.tls_handshaking {
            match conn.stream.drive_handshake() {
                Ok(true) => {
                    conn.tls_handshaking = false;
                    if conn.handshake.is_none() {
                        conn.deadline = None;
                    }
                    tracing::debug!(topology = %self.shared.topology_id, peer = %conn.peer, "worker connection: TLS session established");
                }
                Ok(false) => return,
                Err(e) => {
                    if let Some(Conn::In(conn)) = self.close(token) {
                        tracing::warn!(topology = %self.shared.topology_id, peer = %conn.peer, reason = %e, "refused a worker connection: no valid TLS handshake");
                    }
                    return;
                }
            }
        }
        if conn.handshake.is_some() {
            match handshake_inbound(conn) {
                Ok(true) => {
                    tracing::debug!(topology = %self.shared.topology_id, peer = %conn.peer, "worker connection authenticated");
                }
                Ok(false) => return,
                Err(reason) => {
                    if let Some(Conn::In(conn)) = self.close(token) {
                        tracing::warn!(topology = %self.shared.topology_id, peer = %conn.peer, reason = %reason, "refused an unauthenticated worker connection");
                    }
                    return;
                }
            }
        }
        if !attached {
            conn.stalled = true;
            return;
        }
        let Some(router) = self.shared.router() else {
            conn.stalled = true;
            return;
        };
        let outcome = read_frames(
            conn,
            max,
            &self.batches,
            &self.shared,
            &router,
            &mut self.decoder,
        );
        if let ReadOutcome::Closed(reason) = outcome {
            if let Some(Conn::In(conn)) = self.close(token) {
                if reason.is_empty() {
                    tracing::debug!(topology = %self.shared.topology_id, peer = %conn.peer, "worker connection closed by peer");
                } else {
                    tracing::warn!(topology = %self.shared.topology_id, peer = %conn.peer, reason = %reason, "closing worker connection");
                }
            }
        }
    }

    // ---- outbound --------------------------------------------------------------------------------

    fn write_all(&mut self) {
        let tokens: Vec<Token> = self.peers.values().filter_map(|p| p.token).collect();
        for token in tokens {
            self.write_peer(token);
        }
    }

    fn write_peer(&mut self, token: Token) {
        let mut frames = 0;
        loop {
            let Some(Conn::Out(out)) = self.conns.get_mut(&token) else {
                return;
            };
            if !out.connected {
                return;
            }
            if out.wpos == out.wbuf.len() {
                if !out.authenticated {
                    // Handshake bytes sent; frames wait for the server's proof.
                    if let Err(e) = out.stream.flush_pending() {
                        return self.drop_outbound(token, &e.to_string());
                    }
                    return;
                }
                if frames == FRAMES_PER_TURN {
                    self.more_work = true;
                    return;
                }
                let addr = out.addr;
                out.wbuf.clear();
                out.wpos = 0;
                let Some(peer) = self.peers.get_mut(&addr) else {
                    return;
                };
                if !fill_frame(&mut out.wbuf, peer, &self.shared) {
                    // Nothing more to send: hand the TLS session's records to the socket.
                    if let Err(e) = out.stream.flush_pending() {
                        return self.drop_outbound(token, &e.to_string());
                    }
                    return;
                }
                frames += 1;
            }
            match out.stream.write(&out.wbuf[out.wpos..]) {
                Ok(0) => return self.drop_outbound(token, "connection closed while writing"),
                Ok(n) => out.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.drop_outbound(token, &e.to_string()),
            }
        }
    }
}

/// Runs the server side of the authentication handshake on what the client sent: `Ok(true)` once
/// the client proved the secret (bytes after its proof stay buffered as frames), `Ok(false)` while
/// waiting for more, `Err` (the reason) to refuse it.
fn handshake_inbound(conn: &mut Inbound) -> Result<bool, String> {
    let Some(mut hs) = conn.handshake.take() else {
        return Ok(true);
    };
    if conn.buf.len() < READ_CHUNK {
        conn.buf.resize(READ_CHUNK, 0);
    }
    loop {
        loop {
            match hs
                .advance(&conn.buf[conn.start..conn.end])
                .map_err(|e| match e {
                    auth::HandshakeError::NotHandshake(ref first)
                        if crate::security::tls::looks_like_tls(first) =>
                    {
                        format!(
                            "{e}; the bytes look like a TLS handshake: the peer has {}: true and this worker does not; set it for every worker of the topology",
                            crate::security::tls::NETTY_TLS_ENABLE
                        )
                    }
                    e => e.to_string(),
                })?
            {
                ServerStep::NeedMore => break,
                ServerStep::Reply { bytes, consumed } => {
                    conn.start += consumed;
                    write_now(&mut conn.stream, &bytes)?;
                }
                ServerStep::Done { consumed } => {
                    conn.start += consumed;
                    conn.deadline = None;
                    return Ok(true);
                }
            }
        }
        if conn.start > 0 {
            conn.buf.copy_within(conn.start..conn.end, 0);
            conn.end -= conn.start;
            conn.start = 0;
        }
        let end = conn.end;
        match conn.stream.read(&mut conn.buf[end..]) {
            Ok(0) => return Err("closed by the peer during the handshake".into()),
            Ok(n) => conn.end += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                conn.handshake = Some(hs);
                return Ok(false);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Writes a few handshake bytes to a fresh socket (its buffer has room; if not, give up).
fn write_now(stream: &mut LinkStream, mut bytes: &[u8]) -> Result<(), String> {
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err("connection closed while answering the handshake".into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("cannot answer the handshake: {e}")),
        }
    }
    Ok(())
}

/// Reads and decodes frames until the socket would block, the delivery channel is full, or the
/// connection must close.
fn read_frames(
    conn: &mut Inbound,
    max: usize,
    batches: &Sender<Vec<Run>>,
    shared: &Shared,
    router: &Router,
    decoder: &mut FrameDecoder,
) -> ReadOutcome {
    conn.stalled = false;
    loop {
        if let Some(batch) = conn.pending.take() {
            if let Err(batch) = hand_over(batch, batches, shared) {
                conn.pending = Some(batch);
                conn.stalled = true;
                return ReadOutcome::Open;
            }
        }
        // Whole frames already buffered.
        let buffered = &conn.buf[conn.start..conn.end];
        let frame_len = match wire::peek_frame_len(buffered, max) {
            Ok(len) => len,
            Err(e) if crate::security::tls::looks_like_tls(buffered) => {
                return ReadOutcome::Closed(format!(
                    "{e}; the bytes look like a TLS handshake: the peer has {}: true and this worker does not; set it for every worker of the topology",
                    crate::security::tls::NETTY_TLS_ENABLE
                ))
            }
            Err(e) => return ReadOutcome::Closed(e.to_string()),
        };
        if let Some(len) = frame_len {
            let total = FRAME_HEADER_BYTES + len;
            if buffered.len() >= total {
                let decoded = decoder.decode(shared, router, &buffered[FRAME_HEADER_BYTES..total]);
                conn.start += total;
                if conn.start == conn.end {
                    conn.start = 0;
                    conn.end = 0;
                }
                match decoded {
                    Ok(runs) => {
                        // Only this thread adds to the backlog: 0 means the delivery thread holds
                        // nothing, so delivering here keeps the order.
                        let direct = shared.delivery_backlog.load(Ordering::SeqCst) == 0;
                        let left = delivery::deliver_now(router, runs, direct, decoder.recycler());
                        if !left.is_empty() {
                            conn.pending = Some(left);
                        }
                    }
                    Err(e) => return ReadOutcome::Closed(format!("bad frame: {e}")),
                }
                continue;
            }
        }
        // Need more bytes: move the partial frame to the front, and make room for more of it.
        if conn.start > 0 {
            conn.buf.copy_within(conn.start..conn.end, 0);
            conn.end -= conn.start;
            conn.start = 0;
        }
        let want = read_room(frame_len, conn.end);
        if conn.buf.len() < want {
            conn.buf.resize(want, 0);
        } else if conn.buf.len() > want && conn.end <= want {
            // A large frame was read: give the memory back.
            conn.buf.truncate(want);
            conn.buf.shrink_to_fit();
        }
        let end = conn.end;
        let read = conn.stream.read(&mut conn.buf[end..]);
        match read {
            Ok(0) => return ReadOutcome::Closed(String::new()),
            Ok(n) => conn.end += n,
            Err(e) => match e.kind() {
                io::ErrorKind::WouldBlock => return ReadOutcome::Open,
                io::ErrorKind::Interrupted => {}
                _ => return ReadOutcome::Closed(e.to_string()),
            },
        }
    }
}

/// How large the receive buffer should be to read on, holding `buffered` bytes of a frame whose
/// payload is `frame_len` bytes (`None`: the length prefix is not complete): one chunk, or room for
/// the rest of the frame as it arrives, at most twice what is buffered. The buffer never grows to
/// what a length prefix promises before those bytes are here: a peer sending prefixes of
/// `storm.messaging.netty.buffer_size` on many connections costs what it sends, not what it
/// promises.
fn read_room(frame_len: Option<usize>, buffered: usize) -> usize {
    frame_len.map_or(READ_CHUNK, |len| {
        (FRAME_HEADER_BYTES + len)
            .min(buffered.saturating_mul(2))
            .max(READ_CHUNK)
    })
}

/// Gives data runs to the delivery thread (counting them in its backlog), or back when its channel
/// is full (after asking it to wake the loop once it takes one).
fn hand_over(batch: Vec<Run>, batches: &Sender<Vec<Run>>, shared: &Shared) -> Result<(), Vec<Run>> {
    shared.delivery_backlog.fetch_add(1, Ordering::SeqCst);
    let result = match batches.try_send(batch) {
        Ok(()) => Ok(()),
        Err(TrySendError::Disconnected(_)) => return Ok(()), // shutting down: dropped
        Err(TrySendError::Full(batch)) => {
            // Set the flag first, then retry: the delivery thread either sees the flag after taking a
            // batch (and wakes us) or made room before our retry.
            shared.inbound_paused.store(true, Ordering::SeqCst);
            match batches.try_send(batch) {
                Ok(()) => Ok(()),
                Err(TrySendError::Disconnected(_)) => return Ok(()),
                Err(TrySendError::Full(batch)) => Err(batch),
            }
        }
    };
    if result.is_err() {
        // Not taken; the channel is full, so the backlog stays above zero anyway.
        shared.delivery_backlog.fetch_sub(1, Ordering::SeqCst);
    }
    result
}

/// Builds the next frame for `peer` into `buf`: system tuples first, then data, at most
/// `batch_tuples` and `max_frame_bytes`. Returns false when there is nothing to send.
fn fill_frame(buf: &mut Vec<u8>, peer: &mut Peer, shared: &Shared) -> bool {
    let max_payload = shared.opts.max_frame_bytes;
    let mut frame = wire::FrameBuilder::begin(buf);
    while (frame.messages() as usize) < shared.opts.batch_tuples.max(1) {
        if peer.carry.as_ref().is_none_or(Current::is_done) {
            if let Some(spent) = peer.carry.take() {
                spent.retire();
            }
            peer.carry = peer.queue.pop().map(Current::new);
        }
        let Some(carry) = peer.carry.as_mut() else {
            break;
        };
        let dest = carry.dest;
        let Some(tuple) = carry.peek() else {
            continue;
        };
        let (before, state) = (buf.len(), frame);
        if let Err(e) = frame.push_tuple(buf, dest, tuple) {
            tracing::warn!(topology = %shared.topology_id, peer = %peer.queue.addr, task = dest, error = %e, "cannot send tuple; dropped");
            carry.advance();
            continue;
        }
        if frame.payload_len(buf) > max_payload {
            buf.truncate(before);
            frame = state;
            if frame.messages() == 0 {
                tracing::warn!(topology = %shared.topology_id, peer = %peer.queue.addr, task = dest, max_frame_bytes = max_payload, "tuple larger than a frame may be (storm.messaging.netty.buffer_size); dropped");
                carry.advance();
                continue;
            }
            break;
        }
        carry.advance();
    }
    let sent = frame.messages() > 0;
    frame.finish(buf);
    sent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_grows_with_the_bytes_not_with_the_length_prefix() {
        let max = 5 * 1024 * 1024;
        // Only the prefix is here: one chunk, however much it promises.
        assert_eq!(read_room(Some(max), FRAME_HEADER_BYTES), READ_CHUNK);
        assert_eq!(read_room(Some(max), FRAME_HEADER_BYTES + 1), READ_CHUNK);
        assert_eq!(read_room(None, 2), READ_CHUNK);
        // It doubles as the frame arrives, up to the frame.
        assert_eq!(read_room(Some(max), READ_CHUNK), 2 * READ_CHUNK);
        assert_eq!(read_room(Some(max), 3 * READ_CHUNK), 6 * READ_CHUNK);
        assert_eq!(read_room(Some(max), max), FRAME_HEADER_BYTES + max);
        // A small frame: one chunk.
        assert_eq!(read_room(Some(100), 50), READ_CHUNK);
        // Always room for the buffered bytes and at least one more (a read into no room would
        // look like the end of the stream).
        for buffered in [0, 1, 4, 65_535, 65_536, 1 << 20, max] {
            assert!(read_room(Some(max), buffered) > buffered);
        }
    }
}
