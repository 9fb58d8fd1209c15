//! A Thrift RPC server the way Storm's `SimpleTransportPlugin` serves: framed transport (a 4-byte
//! big-endian length before each message), binary protocol (reads strict or not, writes strict), a cap on
//! the frame size (`nimbus.thrift.max_buffer_size`, `drpc.max_buffer_size`), a thread per connection up
//! to a connection limit.
//!
//! Any generated `…SyncProcessor` plugs in. A frame over the cap, a corrupt message or a handler that
//! panics closes that one connection (logged); the server and other clients carry on.

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
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_frame_bytes: 1_048_576,
            max_connections: 64,
            idle_timeout: Duration::from_secs(600),
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
                    let result = serve_connection(&stream, processor.as_ref(), &opts);
                    // The registry holds a clone of this socket: shut it down so the client sees the close.
                    let _ = stream.shutdown(Shutdown::Both);
                    if let Err(reason) = result {
                        tracing::debug!(server = %name, %peer, %reason, "connection closed");
                    }
                    active.fetch_sub(1, Ordering::SeqCst);
                });
                if let Err(e) = spawned {
                    tracing::error!(server = %name2, error = %e, "cannot start a connection thread");
                }
            }
        })?;
        tracing::info!(server = name, addr = %local, "thrift server listening");
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
    let mut frame = Vec::new();
    let mut reply = Vec::new();
    loop {
        let mut len = [0u8; 4];
        match stream.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(format!("read: {e}")),
        }
        let len = i32::from_be_bytes(len);
        if len < 0 || len as usize > opts.max_frame_bytes {
            return Err(format!(
                "frame of {len} bytes refused (limit {} bytes; is the client using framed transport?)",
                opts.max_frame_bytes
            ));
        }
        frame.resize(len as usize, 0);
        stream
            .read_exact(&mut frame)
            .map_err(|e| format!("read frame: {e}"))?;
        reply.clear();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut i = BoundedBinaryInputProtocol::for_slice(&frame);
            let mut o = TBinaryOutputProtocol::new(&mut reply, true);
            processor.process(&mut i, &mut o)
        }));
        match outcome {
            Ok(Ok(())) => {}
            // The generated processor has already written an application exception for errors it
            // recognises; a reply-less failure means the message itself could not be read.
            Ok(Err(e)) if reply.is_empty() => return Err(format!("bad message: {e}")),
            Ok(Err(e)) => tracing::debug!(error = %e, "call failed; the client was told"),
            Err(_) => return Err("the handler panicked".into()),
        }
        if reply.is_empty() {
            continue; // oneway call
        }
        let mut out = Vec::with_capacity(reply.len() + 4);
        out.extend_from_slice(&(reply.len() as u32).to_be_bytes());
        out.extend_from_slice(&reply);
        stream.write_all(&out).map_err(|e| format!("write: {e}"))?;
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
        let (i, o) = crate::client::connect(&addr.to_string(), Duration::from_secs(5)).unwrap();
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
            crate::client::connect(&addr.to_string(), Duration::from_secs(1)).is_err() || {
                // The port may linger in TIME_WAIT for a connect; a call must fail either way.
                client(addr).execute("x".into(), "y".into()).is_err()
            }
        );
    }
}
