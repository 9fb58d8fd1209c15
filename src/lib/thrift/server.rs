//! A Thrift RPC server the way Storm's `SimpleTransportPlugin` serves: framed transport (a 4-byte
//! big-endian length before each message), binary protocol (reads strict or not, writes strict), a cap on
//! the frame size (`nimbus.thrift.max_buffer_size`, `drpc.max_buffer_size`), a thread per connection up
//! to a connection limit.
//!
//! Any generated `…SyncProcessor` plugs in. A call whose arguments cannot be read (a missing
//! argument, a wrong type) is answered with a `TApplicationException` (`PROTOCOL_ERROR`) naming the
//! method, and the connection stays open. A frame over the cap, a message whose header cannot be read
//! or a handler that panics closes that one connection (logged); the server and other clients carry
//! on.
//!
//! With [`ServerOptions::tls`] (Storm's `TlsTransportPlugin`, `nimbus.thrift.tls.port`) every
//! connection is a TLS session (handshake under the same deadline as SASL's) carrying **unframed**
//! binary Thrift, as Storm's TLS server speaks it; messages are cut out of the stream by walking
//! their structure ([`read_unframed_message`]), capped at `max_frame_bytes`, and then answered like
//! frames. The client certificate's subject becomes the principal.
//!
//! Java clients send a `null` string argument by leaving the field out, which the generated Rust
//! processors refuse. [`ServerOptions::nullable_string_args`] lists the (method, field id) pairs where
//! Storm's own clients do that (the UI's `getSupervisorPageInfo(id, null, …)`); a missing one is
//! filled in as `""` before the processor reads the call.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use thrift::protocol::TBinaryOutputProtocol;
use thrift::server::TProcessor;

use super::BoundedBinaryInputProtocol;

/// Limits of one server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The largest frame a client may send (Storm: `*.thrift.max_buffer_size`, 1 MiB).
    pub max_frame_bytes: usize,
    /// Connections served at once; more are accepted and closed at once (logged).
    pub max_connections: usize,
    /// A connection idle for this long is closed (Storm: `storm.thrift.socket.timeout.ms`).
    pub idle_timeout: Duration,
    /// String arguments a client may leave out (Java's `null`), per method: they arrive as `""`.
    pub nullable_string_args: &'static [(&'static str, &'static [i16])],
    /// How each connection authenticates before it is served (`storm.thrift.transport`); unused
    /// when `tls` is set.
    pub transport: Arc<crate::security::ServerTransport>,
    /// Serve TLS sessions with unframed Thrift instead (`nimbus.thrift.tls.port`).
    pub tls: Option<Arc<crate::security::tls::TlsServer>>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_frame_bytes: 1_048_576,
            max_connections: 64,
            idle_timeout: Duration::from_secs(600),
            nullable_string_args: &[],
            transport: Arc::default(),
            tls: None,
        }
    }
}

/// A running server; [`ThriftServer::shutdown`] (or drop) stops it.
pub struct ThriftServer {
    name: String,
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl ThriftServer {
    /// Binds `addr` and serves `processor` on it. `name` appears in logs ("nimbus", "drpc", …).
    pub fn start<P>(
        name: &str,
        addr: &str,
        processor: P,
        opts: ServerOptions,
    ) -> std::io::Result<ThriftServer>
    where
        P: TProcessor + Send + Sync + 'static,
    {
        let transport_name = if opts.tls.is_some() {
            "TlsTransportPlugin"
        } else {
            opts.transport.name()
        };
        let listener = TcpListener::bind(addr)?;
        let local = listener.local_addr()?;
        let processor = Arc::new(processor);
        let stopping = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::new(Mutex::new(Vec::new()));
        let active = Arc::new(AtomicUsize::new(0));
        let (stop2, conns2, name2) = (stopping.clone(), conns.clone(), name.to_string());
        let acceptor = std::thread::Builder::new().name(format!("{name}-thrift-accept")).spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let stream = match stream {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(server = %name2, error = %e, "accept failed");
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                };
                let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
                if active.load(Ordering::SeqCst) >= opts.max_connections {
                    tracing::warn!(server = %name2, %peer, limit = opts.max_connections, "too many connections; closing this one");
                    continue;
                }
                if let Ok(clone) = stream.try_clone() {
                    let mut all = conns2.lock().unwrap_or_else(|e| e.into_inner());
                    all.retain(|c| c.peer_addr().is_ok());
                    all.push(clone);
                }
                active.fetch_add(1, Ordering::SeqCst);
                let (processor, active, opts, name) = (processor.clone(), active.clone(), opts.clone(), name2.clone());
                let spawned = std::thread::Builder::new().name(format!("{name}-thrift-conn")).spawn(move || {
                    // The handshake runs on this connection's thread, under a deadline, and counts
                    // against the connection cap: a silent client holds one slot for a bounded time.
                    let deadline = crate::security::transport::HANDSHAKE_TIMEOUT.min(opts.idle_timeout);
                    let result = if let Some(tls) = &opts.tls {
                        serve_tls(tls, &stream, processor.as_ref(), &opts, deadline, &name, &peer)
                    } else { match opts.transport.accept(&stream, deadline) {
                        Ok(principal) => {
                            if let Some(p) = &principal {
                                tracing::debug!(server = %name, %peer, principal = %p, "authenticated");
                            }
                            crate::security::ReqContext { principal, remote: stream.peer_addr().ok() }.install();
                            let result = serve_connection(&stream, processor.as_ref(), &opts);
                            crate::security::ReqContext::clear();
                            result
                        }
                        Err(e) => {
                            tracing::warn!(server = %name, %peer, transport = opts.transport.name(), error = %e, "authentication failed; connection refused");
                            Ok(())
                        }
                    } };
                    // The slot is free before the client sees the close, so it may reconnect at once.
                    active.fetch_sub(1, Ordering::SeqCst);
                    // The registry holds a clone of this socket: shut it down so the client sees the close.
                    let _ = stream.shutdown(Shutdown::Both);
                    if let Err(reason) = result {
                        tracing::debug!(server = %name, %peer, %reason, "connection closed");
                    }
                });
                if let Err(e) = spawned {
                    tracing::error!(server = %name2, error = %e, "cannot start a connection thread");
                }
            }
        })?;
        tracing::info!(server = name, addr = %local, transport = transport_name, "thrift server listening");
        Ok(ThriftServer {
            name: name.to_string(),
            addr: local,
            stopping,
            conns,
            acceptor: Some(acceptor),
        })
    }

    /// The bound address (useful when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes every connection and waits for the acceptor.
    pub fn shutdown(&mut self) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for c in self
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            let _ = c.shutdown(Shutdown::Both);
        }
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        tracing::info!(server = %self.name, "thrift server stopped");
    }
}

impl Drop for ThriftServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Serves one connection until the client closes it or misbehaves; returns why it ended.
fn serve_connection(
    mut stream: &TcpStream,
    processor: &dyn TProcessor,
    opts: &ServerOptions,
) -> Result<(), String> {
    stream
        .set_read_timeout(Some(opts.idle_timeout))
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    serve_stream(&mut stream, processor, opts)
}

/// Serves one TLS connection: the handshake within `deadline`, then unframed messages until the
/// client closes the session or misbehaves.
fn serve_tls(
    tls: &crate::security::tls::TlsServer,
    stream: &TcpStream,
    processor: &dyn TProcessor,
    opts: &ServerOptions,
    deadline: Duration,
    name: &str,
    peer: &str,
) -> Result<(), String> {
    let (mut session, principal) = match tls.accept(stream, deadline) {
        Ok(s) => s,
        // A connection closed before its first byte is a port probe, not worth a warning.
        Err(e @ crate::security::tls::TlsAcceptError::Closed) => {
            tracing::debug!(server = %name, %peer, error = %e, "TLS connection closed");
            return Ok(());
        }
        Err(e) => {
            tracing::warn!(server = %name, %peer, error = %e, "TLS connection refused");
            return Ok(());
        }
    };
    tracing::debug!(server = %name, %peer, %principal, "TLS session established");
    stream
        .set_read_timeout(Some(opts.idle_timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(opts.idle_timeout))
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    crate::security::ReqContext {
        principal: Some(principal),
        remote: stream.peer_addr().ok(),
    }
    .install();
    let result = serve_unframed(&mut session, processor, opts);
    crate::security::ReqContext::clear();
    session.conn.send_close_notify();
    let _ = session.conn.complete_io(&mut session.sock);
    result
}

/// Reads unframed messages from `stream` and answers each (the TLS half of [`ThriftServer`]).
pub fn serve_unframed(
    stream: &mut (impl Read + Write),
    processor: &dyn TProcessor,
    opts: &ServerOptions,
) -> Result<(), String> {
    let mut reply = Vec::new();
    loop {
        let mut message = match read_unframed_message(stream, opts.max_frame_bytes) {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(()),
            Err(e) => return Err(e),
        };
        process_frame(&mut message, processor, opts, &mut reply)?;
        if reply.is_empty() {
            continue; // oneway call
        }
        stream
            .write_all(&reply)
            .and_then(|()| stream.flush())
            .map_err(|e| format!("write: {e}"))?;
    }
}

/// Copies bytes of one message from a stream, refusing more than `max` in all.
struct MessageCopier<'a, R> {
    r: &'a mut R,
    buf: Vec<u8>,
    max: usize,
}

impl<R: Read> MessageCopier<'_, R> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.buf.len().saturating_add(n) > self.max {
            return Err(format!(
                "message over {} bytes refused (nimbus.thrift.tls.max_buffer_size)",
                self.max
            ));
        }
        let at = self.buf.len();
        self.buf.resize(at + n, 0);
        self.r
            .read_exact(&mut self.buf[at..])
            .map_err(|e| format!("read: {e}"))?;
        Ok(&self.buf[at..])
    }

    fn int(&mut self) -> Result<i32, String> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn len(&mut self) -> Result<usize, String> {
        let n = self.int()?;
        usize::try_from(n).map_err(|_| format!("negative length {n}"))
    }

    fn value(&mut self, ty: u8, depth: u32) -> Result<(), String> {
        if depth > 64 {
            return Err("message nested too deeply".into());
        }
        match ty {
            2 | 3 => self.take(1).map(drop),
            6 => self.take(2).map(drop),
            8 => self.take(4).map(drop),
            4 | 10 => self.take(8).map(drop),
            11 => {
                let n = self.len()?;
                self.take(n).map(drop)
            }
            12 => self.fields(depth + 1),
            13 => {
                let kv = self.take(2)?;
                let (k, v) = (kv[0], kv[1]);
                let n = self.len()?;
                for _ in 0..n {
                    self.value(k, depth + 1)?;
                    self.value(v, depth + 1)?;
                }
                Ok(())
            }
            14 | 15 => {
                let e = self.take(1)?[0];
                let n = self.len()?;
                for _ in 0..n {
                    self.value(e, depth + 1)?;
                }
                Ok(())
            }
            other => Err(format!("unknown field type {other}")),
        }
    }

    fn fields(&mut self, depth: u32) -> Result<(), String> {
        loop {
            let ty = self.take(1)?[0];
            if ty == 0 {
                return Ok(());
            }
            self.take(2)?;
            self.value(ty, depth)?;
        }
    }
}

/// Reads one binary-protocol message (header and arguments struct, strict or old-style header) from
/// an unframed stream: its bytes, `None` at a clean end of input before a message, `Err` for bad or
/// oversized input (every element costs at least one byte, so `max` bounds the work too).
pub fn read_unframed_message(r: &mut impl Read, max: usize) -> Result<Option<Vec<u8>>, String> {
    let mut first = [0u8; 1];
    loop {
        match r.read(&mut first) {
            Ok(0) => return Ok(None),
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    let mut c = MessageCopier {
        r,
        buf: Vec::with_capacity(256),
        max: max.max(1),
    };
    c.buf.push(first[0]);
    let rest = c.take(3)?;
    let word = i32::from_be_bytes([first[0], rest[0], rest[1], rest[2]]);
    if word < 0 {
        // Strict: version | type, name, sequence id.
        if (word as u32) & 0xffff_0000 != 0x8001_0000 {
            return Err(format!("bad protocol version {:#x}", word as u32));
        }
        let n = c.len()?;
        c.take(n)?;
        c.take(4)?;
    } else {
        // Old style: name (the word was its length), type byte, sequence id.
        let n = usize::try_from(word).unwrap_or(usize::MAX);
        c.take(n)?;
        c.take(5)?;
    }
    c.fields(0)?;
    Ok(Some(c.buf))
}

/// Reads frames from `stream` and answers each until end of input or an error (which ends the
/// connection): the framing half of [`ThriftServer`], over any byte stream (the fuzz targets feed it
/// bytes from memory).
pub fn serve_stream(
    stream: &mut (impl Read + Write),
    processor: &dyn TProcessor,
    opts: &ServerOptions,
) -> Result<(), String> {
    let mut frame = Vec::new();
    let mut reply = Vec::new();
    loop {
        let mut len = [0u8; 4];
        match stream.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(format!("read: {e}")),
        }
        if crate::security::tls::looks_like_tls(&len) {
            tracing::warn!("a TLS client on a plain Thrift port; TLS clients (nimbus.thrift.client.use.tls) must use nimbus.thrift.tls.port");
            return Err("a TLS ClientHello on a plain Thrift port".into());
        }
        let len = i32::from_be_bytes(len);
        if len < 0 || len as usize > opts.max_frame_bytes {
            return Err(format!(
                "frame of {len} bytes refused (limit {} bytes; is the client using framed transport?)",
                opts.max_frame_bytes
            ));
        }
        // The buffer grows with the bytes that arrive, never to what the prefix promises: a
        // client sending prefixes at the cap on every connection costs what it sends.
        frame.clear();
        let got = Read::by_ref(stream)
            .take(len as u64)
            .read_to_end(&mut frame)
            .map_err(|e| format!("read frame: {e}"))?;
        if got < len as usize {
            return Err(format!(
                "read frame: the connection ended after {got} of {len} bytes"
            ));
        }
        process_frame(&mut frame, processor, opts, &mut reply)?;
        if reply.is_empty() {
            continue; // oneway call
        }
        let mut out = Vec::with_capacity(reply.len() + 4);
        out.extend_from_slice(&(reply.len() as u32).to_be_bytes());
        out.extend_from_slice(&reply);
        stream.write_all(&out).map_err(|e| format!("write: {e}"))?;
    }
}

/// Answers one call: `frame` is a frame's payload (without its length prefix), `reply` receives the
/// reply message (empty after a oneway call). `Err` when the connection must be closed (a message
/// whose header cannot be read, a handler panic). The server loop and the fuzz targets (`fuzz/`) run
/// every frame through here.
pub fn process_frame(
    frame: &mut Vec<u8>,
    processor: &dyn TProcessor,
    opts: &ServerOptions,
    reply: &mut Vec<u8>,
) -> Result<(), String> {
    reply.clear();
    let header = parse_header(frame);
    if let Some(h) = &header {
        if let Some((_, ids)) = opts.nullable_string_args.iter().find(|(m, _)| *m == h.name) {
            fill_missing_strings(frame, h.args_start, ids);
        }
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut i = BoundedBinaryInputProtocol::for_slice(frame);
        let mut o = TBinaryOutputProtocol::new(&mut *reply, true);
        processor.process(&mut i, &mut o)
    }));
    match outcome {
        Ok(Ok(())) => {}
        // The generated processor has already written an application exception for errors it
        // recognises; a reply-less failure means the call could not be read: answer it when at
        // least its header is readable.
        Ok(Err(e)) if reply.is_empty() => match &header {
            Some(h) => {
                tracing::debug!(method = %h.name, error = %e, "unreadable arguments; the client was told");
                write_protocol_error(reply, h, &e);
            }
            None => return Err(format!("bad message: {e}")),
        },
        Ok(Err(e)) => tracing::debug!(error = %e, "call failed; the client was told"),
        Err(_) => return Err("the handler panicked".into()),
    }
    Ok(())
}

/// The header of a call: method name, sequence number, where the arguments start.
struct Header {
    name: String,
    seq: i32,
    args_start: usize,
}

fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Reads a binary-protocol message header (strict or not).
fn parse_header(b: &[u8]) -> Option<Header> {
    let first = be_i32(b, 0)?;
    let (name_at, after_name_extra) = if first < 0 {
        // Strict: version | type, then the name.
        (4, 0)
    } else {
        // Old style: the name first, then a type byte.
        (0, 1)
    };
    let len = usize::try_from(be_i32(b, name_at)?).ok()?;
    let name = std::str::from_utf8(b.get(name_at + 4..name_at + 4 + len)?).ok()?;
    let seq_at = name_at + 4 + len + after_name_extra;
    let seq = be_i32(b, seq_at)?;
    Some(Header {
        name: name.to_string(),
        seq,
        args_start: seq_at + 4,
    })
}

/// Skips one binary-protocol value of type `ty` at `at`; the offset after it. Bounded nesting.
fn skip_value(b: &[u8], at: usize, ty: u8, depth: u32) -> Option<usize> {
    if depth > 32 {
        return None;
    }
    let fixed = |n: usize| (at + n <= b.len()).then_some(at + n);
    match ty {
        2 | 3 => fixed(1),
        4 | 10 => fixed(8),
        6 => fixed(2),
        8 => fixed(4),
        11 => {
            let len = usize::try_from(be_i32(b, at)?).ok()?;
            fixed(4 + len)
        }
        12 => skip_struct(b, at, depth + 1).map(|(end, _)| end),
        13 => {
            let (kt, vt) = (*b.get(at)?, *b.get(at + 1)?);
            let n = usize::try_from(be_i32(b, at + 2)?).ok()?;
            let mut p = at + 6;
            for _ in 0..n {
                p = skip_value(b, p, kt, depth + 1)?;
                p = skip_value(b, p, vt, depth + 1)?;
            }
            Some(p)
        }
        14 | 15 => {
            let et = *b.get(at)?;
            let n = usize::try_from(be_i32(b, at + 1)?).ok()?;
            let mut p = at + 5;
            for _ in 0..n {
                p = skip_value(b, p, et, depth + 1)?;
            }
            Some(p)
        }
        _ => None,
    }
}

/// Skips a struct at `at`: (offset after its stop byte, the field ids it has).
fn skip_struct(b: &[u8], mut at: usize, depth: u32) -> Option<(usize, Vec<i16>)> {
    let mut ids = Vec::new();
    loop {
        let ty = *b.get(at)?;
        if ty == 0 {
            return Some((at + 1, ids));
        }
        let id = i16::from_be_bytes(b.get(at + 1..at + 3)?.try_into().ok()?);
        ids.push(id);
        at = skip_value(b, at + 3, ty, depth)?;
    }
}

/// Adds `""` for every id of `ids` missing from the arguments struct at `args_start` (inserted
/// before its stop byte). A frame that cannot be walked is left as it is.
fn fill_missing_strings(frame: &mut Vec<u8>, args_start: usize, ids: &[i16]) {
    let Some((end, present)) = skip_struct(frame, args_start, 0) else {
        return;
    };
    let mut extra = Vec::new();
    for id in ids.iter().filter(|id| !present.contains(id)) {
        extra.push(11u8);
        extra.extend_from_slice(&id.to_be_bytes());
        extra.extend_from_slice(&0i32.to_be_bytes());
    }
    if !extra.is_empty() {
        let stop = end - 1;
        frame.splice(stop..stop, extra);
    }
}

/// Writes a `TApplicationException` reply (`PROTOCOL_ERROR`) for a call whose arguments could not be
/// read.
fn write_protocol_error(reply: &mut Vec<u8>, h: &Header, e: &thrift::Error) {
    use thrift::protocol::{TMessageIdentifier, TMessageType, TOutputProtocol};
    let err = thrift::ApplicationError::new(
        thrift::ApplicationErrorKind::ProtocolError,
        format!("cannot read the arguments of {}: {e}", h.name),
    );
    let mut o = TBinaryOutputProtocol::new(&mut *reply, true);
    let written = o
        .write_message_begin(&TMessageIdentifier::new(
            h.name.clone(),
            TMessageType::Exception,
            h.seq,
        ))
        .and_then(|()| thrift::Error::write_application_error_to_out_protocol(&err, &mut o))
        .and_then(|()| o.write_message_end())
        .and_then(|()| o.flush());
    if written.is_err() {
        reply.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thrift::{
        DRPCExceptionType, DRPCExecutionException, DistributedRPCSyncClient,
        DistributedRPCSyncHandler, DistributedRPCSyncProcessor, TDistributedRPCSyncClient,
    };

    struct Echo;
    impl DistributedRPCSyncHandler for Echo {
        fn handle_execute(
            &self,
            function_name: String,
            func_args: String,
        ) -> thrift::Result<String> {
            match function_name.as_str() {
                "fail" => Err(thrift::Error::User(Box::new(DRPCExecutionException {
                    msg: "Request failed".into(),
                    type_: Some(DRPCExceptionType::FAILED_REQUEST),
                }))),
                "panic" => panic!("handler bug"),
                _ => Ok(format!("{func_args}!")),
            }
        }
    }

    fn client(
        addr: SocketAddr,
    ) -> DistributedRPCSyncClient<crate::client::InProto, crate::client::OutProto> {
        let (i, o) = crate::client::connect(
            &addr.to_string(),
            Duration::from_secs(5),
            &crate::client::ClientTransport::Simple,
        )
        .unwrap();
        DistributedRPCSyncClient::new(i, o)
    }

    #[test]
    fn serves_calls_declared_exceptions_and_survives_bad_clients() {
        let opts = ServerOptions {
            max_frame_bytes: 1024,
            ..ServerOptions::default()
        };
        let mut server = ThriftServer::start(
            "test",
            "127.0.0.1:0",
            DistributedRPCSyncProcessor::new(Echo),
            opts,
        )
        .unwrap();
        let addr = server.local_addr();
        let mut c = client(addr);
        assert_eq!(
            c.execute("exclaim".into(), "hello".into()).unwrap(),
            "hello!"
        );
        match c.execute("fail".into(), "x".into()) {
            Err(thrift::Error::User(e)) => {
                let e = e
                    .downcast_ref::<DRPCExecutionException>()
                    .expect("declared exception");
                assert_eq!(e.type_, Some(DRPCExceptionType::FAILED_REQUEST));
            }
            other => panic!("expected the declared exception, got {other:?}"),
        }
        // The same connection still works after a declared exception.
        assert_eq!(c.execute("a".into(), "b".into()).unwrap(), "b!");

        // A frame over the limit, garbage, and a panicking handler each lose only their own connection.
        let mut raw = TcpStream::connect(addr).unwrap();
        raw.write_all(&(10_000u32).to_be_bytes()).unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(
            raw.read(&mut buf).unwrap_or(0),
            0,
            "oversized frame closes the connection"
        );
        let mut raw = TcpStream::connect(addr).unwrap();
        raw.write_all(&[0, 0, 0, 5, 0xde, 0xad, 0xbe, 0xef, 0x00])
            .unwrap();
        assert_eq!(
            raw.read(&mut buf).unwrap_or(0),
            0,
            "garbage closes the connection"
        );
        assert!(client(addr).execute("panic".into(), "x".into()).is_err());
        assert_eq!(
            client(addr).execute("again".into(), "ok".into()).unwrap(),
            "ok!"
        );
        server.shutdown();
        assert!(
            crate::client::connect(
                &addr.to_string(),
                Duration::from_secs(1),
                &crate::client::ClientTransport::Simple,
            )
            .is_err()
                || {
                    // The port may linger in TIME_WAIT for a connect; a call must fail either way.
                    client(addr).execute("x".into(), "y".into()).is_err()
                }
        );
    }

    /// A reader that serves `head` and then fails, recording the largest buffer it was asked to
    /// fill.
    struct Promise {
        head: Vec<u8>,
        at: usize,
        largest_read: usize,
    }

    impl Read for Promise {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.largest_read = self.largest_read.max(buf.len());
            if self.at == self.head.len() {
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "silent"));
            }
            let n = buf.len().min(self.head.len() - self.at);
            buf[..n].copy_from_slice(&self.head[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    impl Write for Promise {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_length_prefix_is_not_allocated_before_its_bytes_arrive() {
        let opts = ServerOptions {
            max_frame_bytes: 64 << 20,
            ..ServerOptions::default()
        };
        let processor = DistributedRPCSyncProcessor::new(Echo);
        // A prefix at the cap and two bytes, then silence: the server never asks for (so never
        // allocates) anything like the 64 MiB promised.
        let mut io = Promise {
            head: vec![0x04, 0, 0, 0, 0x80, 0x01],
            at: 0,
            largest_read: 0,
        };
        let e = serve_stream(&mut io, &processor, &opts).unwrap_err();
        assert!(e.contains("read frame"), "{e}");
        assert!(
            io.largest_read < 1 << 20,
            "asked for {} bytes",
            io.largest_read
        );
        // A frame that ends early is an error naming what arrived.
        let mut short = vec![0, 0, 0, 10, 1, 2, 3];
        let e = serve_stream(&mut std::io::Cursor::new(&mut short), &processor, &opts).unwrap_err();
        assert!(e.contains("after 3 of 10 bytes"), "{e}");
    }

    fn call_frame(args: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&0x8001_0001u32.to_be_bytes());
        m.extend_from_slice(&7i32.to_be_bytes());
        m.extend_from_slice(b"execute");
        m.extend_from_slice(&9i32.to_be_bytes());
        m.extend_from_slice(args);
        let mut f = (m.len() as u32).to_be_bytes().to_vec();
        f.extend(m);
        f
    }

    fn read_reply(s: &mut TcpStream) -> Vec<u8> {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut body).unwrap();
        body
    }

    #[test]
    fn unreadable_arguments_get_an_answer_and_nullable_strings_are_filled() {
        let opts = ServerOptions {
            nullable_string_args: &[("execute", &[2])],
            ..ServerOptions::default()
        };
        let mut server = ThriftServer::start(
            "test",
            "127.0.0.1:0",
            DistributedRPCSyncProcessor::new(Echo),
            opts,
        )
        .unwrap();
        let mut raw = TcpStream::connect(server.local_addr()).unwrap();
        // No arguments at all: function_name is missing and not nullable.
        raw.write_all(&call_frame(&[0])).unwrap();
        let reply = read_reply(&mut raw);
        let h = parse_header(&reply).unwrap();
        assert_eq!((h.name.as_str(), h.seq), ("execute", 9));
        assert_eq!(reply[3], 3, "an exception message");
        let text = String::from_utf8_lossy(&reply);
        assert!(text.contains("missing required field"), "{text}");
        // The same connection: func_args (field 2) left out, as Java does for null.
        let mut args = vec![11u8, 0, 1];
        args.extend_from_slice(&5i32.to_be_bytes());
        args.extend_from_slice(b"hello");
        args.push(0);
        raw.write_all(&call_frame(&args)).unwrap();
        let reply = read_reply(&mut raw);
        assert_eq!(reply[3], 2, "a reply");
        assert!(String::from_utf8_lossy(&reply).contains('!'));
        server.shutdown();
    }

    #[test]
    fn sasl_handshake_has_a_deadline_and_counts_against_the_cap() {
        use crate::security::ServerTransport;
        let users = [("bob".to_string(), "secret".to_string())]
            .into_iter()
            .collect();
        let opts = ServerOptions {
            max_connections: 1,
            // The handshake deadline is min(HANDSHAKE_TIMEOUT, idle_timeout).
            idle_timeout: Duration::from_millis(300),
            transport: Arc::new(ServerTransport::DigestSasl {
                users,
                jaas: "test.conf".into(),
            }),
            ..ServerOptions::default()
        };
        let mut server = ThriftServer::start(
            "test",
            "127.0.0.1:0",
            DistributedRPCSyncProcessor::new(Echo),
            opts,
        )
        .unwrap();
        let addr = server.local_addr();
        // A silent client takes the only slot until its handshake deadline closes it.
        let mut silent = TcpStream::connect(addr).unwrap();
        silent
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(
            silent.read(&mut buf).unwrap_or(0),
            0,
            "closed at the deadline"
        );
        let digest = crate::client::ClientTransport::DigestSasl {
            username: "bob".into(),
            password: "secret".into(),
            jaas: "client.conf".into(),
            key: "storm.thrift.transport",
        };
        let (i, o) = crate::client::connect(&addr.to_string(), Duration::from_secs(5), &digest)
            .expect("the slot is free again");
        let mut c = DistributedRPCSyncClient::new(i, o);
        assert_eq!(
            c.execute("x".into(), "authenticated".into()).unwrap(),
            "authenticated!"
        );
        server.shutdown();
    }

    #[test]
    fn unframed_messages_are_cut_out_of_a_stream_and_capped() {
        let framed = call_frame(&[11, 0, 1, 0, 0, 0, 2, b'h', b'i', 0]);
        let message = framed[4..].to_vec();
        // Two messages back to back, then a clean end.
        let mut input = message.clone();
        input.extend_from_slice(&message);
        let mut r = &input[..];
        assert_eq!(
            read_unframed_message(&mut r, 1024).unwrap(),
            Some(message.clone())
        );
        assert_eq!(
            read_unframed_message(&mut r, 1024).unwrap(),
            Some(message.clone())
        );
        assert_eq!(read_unframed_message(&mut r, 1024).unwrap(), None);
        // Over the cap, truncated, or a bad version: errors, never a hang or a panic.
        assert!(read_unframed_message(&mut &message[..], 10).is_err());
        assert!(read_unframed_message(&mut &message[..message.len() - 1], 1024).is_err());
        assert!(read_unframed_message(&mut &[0x80u8, 0x02, 0, 1, 0, 0, 0, 0][..], 1024).is_err());
        // A huge declared list costs only the bytes that are really there.
        let mut list = vec![0x80u8, 0x01, 0x00, 0x01, 0, 0, 0, 1, b'x', 0, 0, 0, 1];
        list.extend_from_slice(&[15, 0, 1, 8, 0x7f, 0xff, 0xff, 0xff]);
        assert!(read_unframed_message(&mut &list[..], 1 << 20).is_err());
    }
}
