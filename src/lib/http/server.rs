//! The HTTP server under the DRPC HTTP endpoint, the UI and the logviewer: hyper 1.x (HTTP/1.1 with
//! keep-alive) on a tokio runtime of its own thread, handing every request to a synchronous
//! [`Handler`] on tokio's blocking pool, with our own small [`Request`] and [`Response`] types so the
//! handlers know nothing of hyper.
//!
//! Limits ([`Limits`]), all enforced before a handler runs:
//!
//! * request header section (request line and headers) at most [`Limits::max_header_bytes`]
//!   ([`super::MAX_HEADER_BYTES`], 8 KiB, Jetty's default): hyper's `max_header_size`; over it the
//!   client gets `431 Request Header Fields Too Large` (logged with the peer) and the connection is
//!   closed, so a header line that never ends costs at most about twice the limit in memory;
//! * the header section must arrive within [`Limits::header_timeout`] (30 s; also the most a
//!   keep-alive connection idles between requests), else the connection is closed;
//! * at most [`Limits::max_connections`] connections at once; a new one over it is closed at once
//!   (logged);
//! * request bodies are read up to [`Limits::max_body_bytes`]; a longer body is not read further and
//!   the handler sees [`Request::body_too_large`] (and answers `413` or its own error);
//! * at most [`Limits::workers`] handlers run at once; with [`Limits::queue`] set, a request arriving
//!   when that many already wait is answered at once with [`Handler::busy`] (`503`), else it waits.
//!
//! A response body is either bytes or a reader ([`Body::Stream`]) read in 64 KiB chunks on the blocking
//! pool as the client takes them, so a slow download holds no thread. A handler that panics is
//! answered `500` (logged). The client's address is the connection's real peer address.
//!
//! After a connection ends on a refused request (431, an unread body), the server shuts its side down
//! and reads what the client still sends for a moment (a bounded "lingering close"), so the client reads
//! the answer instead of a connection reset.
//!
//! [`Server::shutdown`] (or drop) stops accepting, lets the requests in progress finish (idle
//! keep-alive connections are closed) for up to [`SHUTDOWN_GRACE`], then stops the runtime.

use std::convert::Infallible;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::header::{HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::StatusCode;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch, Semaphore};
use tokio::task::JoinSet;

/// How long [`Server::shutdown`] lets the requests in progress finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// The default [`Limits::header_timeout`].
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes of a streamed response body read at a time.
const STREAM_CHUNK: usize = 64 * 1024;
/// A lingering close reads at most this much, for at most [`LINGER_TIME`].
const LINGER_BYTES: usize = 256 * 1024;
const LINGER_TIME: Duration = Duration::from_secs(2);

/// What a [`Server`] accepts; see the module doc.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The largest request header section (request line and headers), in bytes.
    pub max_header_bytes: usize,
    /// How long a client may take to send a request header section (and idle between requests).
    pub header_timeout: Duration,
    /// Connections at once.
    pub max_connections: usize,
    /// The largest request body read for a handler.
    pub max_body_bytes: usize,
    /// Handlers running at once.
    pub workers: usize,
    /// Requests that may wait for a worker before [`Handler::busy`] answers (`None`: all wait).
    pub queue: Option<usize>,
}

impl Limits {
    /// [`super::MAX_HEADER_BYTES`], [`HEADER_TIMEOUT`], 1024 connections, `workers` handlers, no
    /// request bodies, no queue bound.
    pub fn new(workers: usize) -> Limits {
        Limits {
            max_header_bytes: super::MAX_HEADER_BYTES,
            header_timeout: HEADER_TIMEOUT,
            max_connections: 1024,
            max_body_bytes: 0,
            workers: workers.max(1),
            queue: None,
        }
    }
}

/// A request's method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Patch,
    Other,
}

impl Method {
    fn from_hyper(m: &hyper::Method) -> Method {
        match m.as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            "PATCH" => Method::Patch,
            _ => Method::Other,
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Patch => "PATCH",
            Method::Other => "OTHER",
        })
    }
}

/// A request as a [`Handler`] sees it: the body is already read (up to [`Limits::max_body_bytes`]).
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    peer: SocketAddr,
    body: Vec<u8>,
    body_too_large: bool,
}

impl Request {
    /// A request without headers or body (for tests and tools).
    pub fn new(method: Method, url: &str, peer: SocketAddr) -> Request {
        Request {
            method,
            url: url.to_string(),
            headers: Vec::new(),
            peer,
            body: Vec::new(),
            body_too_large: false,
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: Vec<u8>) -> Request {
        self.body = body;
        self
    }

    pub fn method(&self) -> Method {
        self.method
    }

    /// The request target: path and query, as sent (`/api/v1/log?file=a%2Fb`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The first value of header `name` (case-insensitive); a value that is not UTF-8 has U+FFFD
    /// where the bad bytes were.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All headers, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The client's address (the connection's peer).
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The body (empty when it was over the limit).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Whether the body was over [`Limits::max_body_bytes`] (and so not read).
    pub fn body_too_large(&self) -> bool {
        self.body_too_large
    }
}

/// A response body.
pub enum Body {
    Bytes(Vec<u8>),
    /// Read as the client takes it; `len` (when known) is sent as `Content-Length`, else the body is
    /// chunked.
    Stream {
        reader: Box<dyn Read + Send>,
        len: Option<u64>,
    },
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Body::Stream { len, .. } => write!(f, "Stream({len:?} bytes)"),
        }
    }
}

/// A handler's answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Header names and values; an invalid one is dropped (logged) when the response is sent.
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Response {
    /// `status` with `body` and no headers.
    pub fn new(status: u16, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Bytes(body),
        }
    }

    /// `status` with `body` as `Content-Type: content_type`.
    pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response::new(status, body).with_header("Content-Type", content_type)
    }

    /// `status` with a plain-text body.
    pub fn text(status: u16, body: &str) -> Response {
        Response::bytes(
            status,
            "text/plain; charset=utf-8",
            body.as_bytes().to_vec(),
        )
    }

    /// `status` with a body streamed from `reader` (`len` bytes, when known).
    pub fn stream(status: u16, reader: Box<dyn Read + Send>, len: Option<u64>) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Stream { reader, len },
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The whole body (a stream is read to its end).
    pub fn into_body_bytes(self) -> io::Result<Vec<u8>> {
        match self.body {
            Body::Bytes(b) => Ok(b),
            Body::Stream { mut reader, .. } => {
                let mut out = Vec::new();
                reader.read_to_end(&mut out)?;
                Ok(out)
            }
        }
    }
}

/// Answers requests; runs on tokio's blocking pool, so it may block.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, request: Request) -> Response;

    /// The answer when [`Limits::queue`] requests already wait for a worker.
    fn busy(&self) -> Response {
        Response::text(503, "the server is busy; try again\n")
    }
}

impl<F> Handler for F
where
    F: Fn(Request) -> Response + Send + Sync + 'static,
{
    fn handle(&self, request: Request) -> Response {
        self(request)
    }
}

/// A running server; [`Server::shutdown`] (or drop) stops it.
pub struct Server {
    addr: SocketAddr,
    name: &'static str,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    name: &'static str,
    limits: Limits,
    handler: Arc<dyn Handler>,
    /// Admission to the workers when the queue is bounded.
    admit: Option<Arc<Semaphore>>,
}

impl Server {
    /// Binds `addr` (`host:port`, port 0 for any free port) and serves `handler` on it from a thread
    /// named `<name>-http` (the blocking pool's threads are `<name>-http-worker`).
    pub fn bind(
        addr: &str,
        name: &'static str,
        limits: Limits,
        handler: impl Handler,
    ) -> io::Result<Server> {
        Server::serve(std::net::TcpListener::bind(addr)?, name, limits, handler)
    }

    /// [`bind`](Self::bind) on a listener already bound (to learn its address first).
    pub fn serve(
        std_listener: std::net::TcpListener,
        name: &'static str,
        limits: Limits,
        handler: impl Handler,
    ) -> io::Result<Server> {
        std_listener.set_nonblocking(true)?;
        let local = std_listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(limits.workers.max(1))
            .thread_name(format!("{name}-http-worker"))
            .build()?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(std_listener)?
        };
        let admit = limits
            .queue
            .map(|q| Arc::new(Semaphore::new(limits.workers.max(1).saturating_add(q))));
        let shared = Arc::new(Shared {
            name,
            limits,
            handler: Arc::new(handler),
            admit,
        });
        let (stop, stopped) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name(format!("{name}-http"))
            .spawn(move || {
                runtime.block_on(accept_loop(listener, stopped, shared));
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;
        tracing::debug!(server = name, addr = %local, "HTTP server listening");
        Ok(Server {
            addr: local,
            name,
            stop,
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections, lets the requests in progress finish (up to [`SHUTDOWN_GRACE`])
    /// and waits for the server's thread.
    pub fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
            tracing::debug!(server = self.name, "HTTP server stopped");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn accept_loop(listener: TcpListener, mut stop: watch::Receiver<bool>, shared: Arc<Shared>) {
    let connections = Arc::new(Semaphore::new(shared.limits.max_connections.max(1)));
    let mut open = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some(_) = open.join_next(), if !open.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Ok(permit) = connections.clone().try_acquire_owned() else {
                        tracing::warn!(
                            server = shared.name,
                            %peer,
                            limit = shared.limits.max_connections,
                            "too many HTTP connections: closing a new one"
                        );
                        continue;
                    };
                    let (shared, stop) = (shared.clone(), stop.clone());
                    open.spawn(async move {
                        serve_connection(stream, peer, shared, stop).await;
                        drop(permit);
                    });
                }
                Err(e) => {
                    // Out of descriptors and the like: do not spin.
                    tracing::warn!(server = shared.name, error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while open.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!(
            server = shared.name,
            connections = open.len(),
            "HTTP connections still open after the shutdown grace; closing them"
        );
    }
}

/// The connection's socket, handed back (through `back`) when hyper drops it, for a lingering close.
struct Conn {
    stream: Option<TcpStream>,
    back: Option<oneshot::Sender<TcpStream>>,
}

impl Conn {
    fn stream(&mut self) -> Pin<&mut TcpStream> {
        Pin::new(
            self.stream
                .as_mut()
                .expect("the stream is taken only on drop"),
        )
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let (Some(stream), Some(back)) = (self.stream.take(), self.back.take()) {
            let _ = back.send(stream);
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().stream().poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().stream().poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().stream().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().stream().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().stream().poll_shutdown(cx)
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let (back, returned) = oneshot::channel();
    let io = TokioIo::new(Conn {
        stream: Some(stream),
        back: Some(back),
    });
    let name = shared.name;
    let limits = shared.limits.clone();
    // Set by `answer` when it leaves a request body unread: the connection cannot be reused then.
    let unread_body = Arc::new(AtomicBool::new(false));
    let unread = unread_body.clone();
    let service = service_fn(move |request| answer(request, peer, shared.clone(), unread.clone()));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits.max_header_bytes)
        .keep_alive(true)
        .title_case_headers(true);
    let outcome = {
        let conn = builder.serve_connection(io, service);
        tokio::pin!(conn);
        let mut stopping = *stop.borrow();
        if stopping {
            conn.as_mut().graceful_shutdown();
        }
        loop {
            tokio::select! {
                r = conn.as_mut() => break r,
                changed = stop.changed(), if !stopping => {
                    stopping = true;
                    if changed.is_ok() {
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    };
    let linger = match &outcome {
        Ok(()) => unread_body.load(Ordering::Relaxed),
        Err(e) if e.is_parse_too_large() => {
            tracing::warn!(
                server = name,
                %peer,
                limit = limits.max_header_bytes,
                "refused an HTTP request whose header section is over {} bytes (431)",
                limits.max_header_bytes
            );
            true
        }
        Err(e) if e.is_timeout() => {
            tracing::debug!(server = name, %peer, "HTTP client too slow to send its request header");
            false
        }
        Err(e) => {
            tracing::debug!(server = name, %peer, error = %e, "HTTP connection ended");
            e.is_parse()
        }
    };
    // hyper has dropped the socket by now; it comes back here unless the connection failed outright.
    if let Ok(mut stream) = returned.await {
        if linger {
            lingering_close(&mut stream).await;
        }
    }
}

/// Shuts the sending side and reads (and drops) what the client still sends, within bounds, so that
/// closing does not reset the connection before the client has read the answer.
async fn lingering_close(stream: &mut TcpStream) {
    let _ = stream.shutdown().await;
    let _ = tokio::time::timeout(LINGER_TIME, async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut total = 0usize;
        while total < LINGER_BYTES {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    })
    .await;
}

async fn answer(
    request: hyper::Request<Incoming>,
    peer: SocketAddr,
    shared: Arc<Shared>,
    unread_body: Arc<AtomicBool>,
) -> Result<hyper::Response<WireBody>, Infallible> {
    let (parts, mut incoming) = request.into_parts();
    let max_body = shared.limits.max_body_bytes;
    let mut body = Vec::new();
    let mut body_too_large = hyper::body::Body::size_hint(&incoming).lower() > max_body as u64;
    while !body_too_large {
        let frame =
            std::future::poll_fn(|cx| hyper::body::Body::poll_frame(Pin::new(&mut incoming), cx))
                .await;
        match frame {
            None => break,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if body.len() + data.len() > max_body {
                        body_too_large = true;
                    } else {
                        body.extend_from_slice(&data);
                    }
                }
            }
            Some(Err(e)) => {
                tracing::debug!(server = shared.name, %peer, error = %e, "cannot read an HTTP request body");
                return Ok(to_wire(
                    Response::text(400, "bad request body\n"),
                    shared.name,
                ));
            }
        }
    }
    if body_too_large {
        body = Vec::new();
    }
    let url = parts.uri.path_and_query().map_or_else(
        || parts.uri.path().to_string(),
        |pq| pq.as_str().to_string(),
    );
    let request = Request {
        method: Method::from_hyper(&parts.method),
        url,
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        peer,
        body,
        body_too_large,
    };
    let _admitted = match &shared.admit {
        Some(admit) => match admit.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                let busy = to_wire(shared.handler.busy(), shared.name);
                return Ok(end_if_unread(busy, body_too_large, &unread_body));
            }
        },
        None => None,
    };
    let handler = shared.handler.clone();
    let response = match tokio::task::spawn_blocking(move || handler.handle(request)).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(server = shared.name, url = %parts.uri, error = %e, "an HTTP handler panicked");
            Response::text(500, "Internal Server Error")
        }
    };
    let wire = to_wire(response, shared.name);
    Ok(end_if_unread(wire, body_too_large, &unread_body))
}

/// After a request whose body was left unread (the rest is still on the wire) the connection ends with
/// this answer: it says `Connection: close`, so a pooling client does not send its next request on a
/// connection about to close, and the connection is marked for a lingering close.
fn end_if_unread(
    mut wire: hyper::Response<WireBody>,
    body_unread: bool,
    unread_body: &AtomicBool,
) -> hyper::Response<WireBody> {
    if body_unread {
        unread_body.store(true, Ordering::Relaxed);
        wire.headers_mut()
            .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    }
    wire
}

fn to_wire(response: Response, name: &'static str) -> hyper::Response<WireBody> {
    let body = match response.body {
        Body::Bytes(b) => WireBody::Full(Some(Bytes::from(b))),
        Body::Stream { reader, len } => {
            let (tx, rx) = tokio::sync::mpsc::channel(2);
            tokio::spawn(pump(reader, tx, name));
            WireBody::Stream { rx, len }
        }
    };
    let mut wire = hyper::Response::new(body);
    *wire.status_mut() =
        StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name_, value) in response.headers {
        match (
            HeaderName::from_bytes(name_.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            (Ok(n), Ok(v)) => {
                wire.headers_mut().append(n, v);
            }
            _ => {
                tracing::debug!(server = name, header = %name_, "dropped an invalid response header")
            }
        }
    }
    wire
}

/// Reads a streamed body on the blocking pool, a chunk at a time, as the client takes it.
async fn pump(
    reader: Box<dyn Read + Send>,
    tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>,
    name: &'static str,
) {
    let mut reader = Some(reader);
    while let Some(mut r) = reader.take() {
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; STREAM_CHUNK];
            let n = r.read(&mut buf);
            (
                r,
                n.map(|n| {
                    buf.truncate(n);
                    buf
                }),
            )
        })
        .await;
        let chunk = match read {
            Ok((_, Ok(buf))) if buf.is_empty() => return,
            Ok((r, Ok(buf))) => {
                reader = Some(r);
                Ok(Bytes::from(buf))
            }
            Ok((_, Err(e))) => {
                tracing::warn!(server = name, error = %e, "cannot read an HTTP response body");
                Err(e)
            }
            Err(e) => {
                tracing::error!(server = name, error = %e, "an HTTP response body panicked");
                Err(io::Error::other("the response body panicked"))
            }
        };
        if tx.send(chunk).await.is_err() {
            // The client went away.
            return;
        }
    }
}

/// The body hyper writes.
enum WireBody {
    Full(Option<Bytes>),
    Stream {
        rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
        len: Option<u64>,
    },
}

impl hyper::body::Body for WireBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            WireBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            WireBody::Stream { rx, .. } => rx.poll_recv(cx).map(|c| c.map(|r| r.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, WireBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            WireBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            WireBody::Full(None) => SizeHint::with_exact(0),
            WireBody::Stream { len: Some(n), .. } => SizeHint::with_exact(*n),
            WireBody::Stream { len: None, .. } => SizeHint::default(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpStream as StdStream;

    fn echo_server(limits: Limits) -> Server {
        Server::bind("127.0.0.1:0", "test", limits, |r: Request| {
            let body = format!(
                "{} {} peer={} body={}",
                r.method(),
                r.url(),
                r.peer(),
                if r.body_too_large() {
                    "too-large".to_string()
                } else {
                    String::from_utf8_lossy(r.body()).into_owned()
                }
            );
            Response::text(200, &body).with_header("X-Test", "yes")
        })
        .unwrap()
    }

    fn connect(server: &Server) -> StdStream {
        let s = StdStream::connect(server.local_addr()).unwrap();
        // A generous bound so that a broken server fails the test instead of hanging it.
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s
    }

    /// Reads one response (head and `Content-Length` body) from `s` (also for other modules' HTTP
    /// tests).
    pub(crate) fn read_response(s: &mut StdStream) -> (String, String) {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            let n = s.read(&mut byte).unwrap();
            assert_eq!(
                n,
                1,
                "connection closed mid-head: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.push(byte[0]);
        }
        let head = String::from_utf8(buf).unwrap();
        let len = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().unwrap())
            })
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).unwrap();
        (head, String::from_utf8(body).unwrap())
    }

    /// Reads until the server closes the connection (EOF or reset).
    fn read_to_close(s: &mut StdStream) -> String {
        let mut out = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match s.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("the server did not close the connection: {e}"),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn keep_alive_serves_two_requests_on_one_connection() {
        let server = echo_server(Limits::new(2));
        let mut s = connect(&server);
        s.write_all(b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n")
            .unwrap();
        let (head, body) = read_response(&mut s);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("X-Test: yes\r\n"), "{head}");
        assert!(
            head.contains("Content-Type: text/plain; charset=utf-8\r\n"),
            "{head}"
        );
        let local = s.local_addr().unwrap();
        assert_eq!(body, format!("GET /a?x=1 peer={local} body="));
        s.write_all(b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        let (head, body) = read_response(&mut s);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert_eq!(body, format!("GET /b peer={local} body="));
    }

    #[test]
    fn oversized_header_sections_get_431_and_the_server_keeps_serving() {
        let server = echo_server(Limits::new(2));
        let mut big = b"GET /nowhere HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 3 * crate::http::MAX_HEADER_BYTES));
        big.extend_from_slice(b"\r\n\r\n");
        let mut s = connect(&server);
        s.write_all(&big).unwrap();
        let answer = read_to_close(&mut s);
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
        // Just under the limit is served.
        let mut fits = b"GET /fits HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
        fits.extend(std::iter::repeat_n(
            b'a',
            crate::http::MAX_HEADER_BYTES - 100,
        ));
        fits.extend_from_slice(b"\r\n\r\n");
        let mut s = connect(&server);
        s.write_all(&fits).unwrap();
        let (head, body) = read_response(&mut s);
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert!(body.starts_with("GET /fits "), "{body}");
        // Many small headers adding up to more than the limit are refused too.
        let mut many = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
        for i in 0..90 {
            many.extend_from_slice(format!("X-H{i}: {}\r\n", "v".repeat(100)).as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        let mut s = connect(&server);
        s.write_all(&many).unwrap();
        let answer = read_to_close(&mut s);
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    }

    #[test]
    fn an_endless_header_line_is_cut_off_at_the_limit() {
        let server = echo_server(Limits::new(2));
        let mut s = connect(&server);
        s.write_all(b"GET / HTTP/1.1\r\nX-Endless: ").unwrap();
        // Keep sending header bytes without a line end; the server must stop reading them. Were it
        // to keep reading, this writer would send all of CAP and the assertion below would fail.
        const CAP: usize = 512 << 20;
        let mut writer = s.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            let chunk = [b'b'; 16 * 1024];
            let mut sent = 0usize;
            while sent < CAP {
                match writer.write(&chunk) {
                    Ok(n) => sent += n,
                    Err(_) => break,
                }
            }
            sent
        });
        let answer = read_to_close(&mut s);
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
        let _ = s.shutdown(std::net::Shutdown::Both);
        let sent = sender.join().unwrap();
        assert!(sent < CAP, "the server read {sent} header bytes");
        // And it keeps serving.
        let mut s = connect(&server);
        s.write_all(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert!(read_response(&mut s).0.starts_with("HTTP/1.1 200 "));
    }

    #[test]
    fn a_client_that_never_finishes_its_header_is_dropped() {
        let mut limits = Limits::new(2);
        limits.header_timeout = Duration::from_millis(200);
        let server = echo_server(limits);
        let mut s = connect(&server);
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: a")
            .unwrap();
        // The server closes the connection (after the header timeout); the read's own 60 s bound
        // only keeps a broken server from hanging the test.
        let answer = read_to_close(&mut s);
        assert!(!answer.contains(" 200 "), "{answer}");
        // An idle keep-alive connection is closed the same way.
        let mut s = connect(&server);
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert!(read_response(&mut s).0.starts_with("HTTP/1.1 200 "));
        assert_eq!(read_to_close(&mut s), "");
    }

    #[test]
    fn bodies_are_read_up_to_the_limit() {
        let mut limits = Limits::new(2);
        limits.max_body_bytes = 10;
        let server = echo_server(limits);
        let mut s = connect(&server);
        s.write_all(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
            .unwrap();
        assert!(read_response(&mut s).1.ends_with("body=hello"));
        let mut s = connect(&server);
        let mut big = b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n".to_vec();
        big.extend(std::iter::repeat_n(b'z', 100_000));
        s.write_all(&big).unwrap();
        let (head, body) = read_response(&mut s);
        assert!(body.ends_with("body=too-large"));
        // The unread rest of the body ends the connection, and the answer says so.
        assert!(
            head.to_ascii_lowercase().contains("connection: close"),
            "{head}"
        );
        assert_eq!(read_to_close(&mut s), "");
        // Chunked, over the limit.
        let mut s = connect(&server);
        s.write_all(b"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n")
            .unwrap();
        assert!(read_response(&mut s).1.ends_with("body=too-large"));
    }

    #[test]
    fn a_full_queue_is_answered_busy_at_once() {
        let (entered_tx, entered) = std::sync::mpsc::channel::<()>();
        let (release, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = std::sync::Mutex::new(release_rx);
        let entered_tx = std::sync::Mutex::new(entered_tx);
        let limits = Limits {
            queue: Some(0),
            ..Limits::new(1)
        };
        let server = Server::bind("127.0.0.1:0", "test", limits, move |r: Request| {
            if r.url() == "/block" {
                let _ = entered_tx.lock().unwrap().send(());
                let _ = release_rx.lock().unwrap().recv();
            }
            Response::text(200, "done")
        })
        .unwrap();
        let mut first = connect(&server);
        first
            .write_all(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        entered.recv().unwrap();
        let mut second = connect(&server);
        second
            .write_all(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let (head, _) = read_response(&mut second);
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        release.send(()).unwrap();
        let (head, body) = read_response(&mut first);
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert_eq!(body, "done");
        // The worker is free again.
        second
            .write_all(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert!(read_response(&mut second).0.starts_with("HTTP/1.1 200 "));
    }

    #[test]
    fn streams_panics_head_and_shutdown() {
        struct H;
        impl Handler for H {
            fn handle(&self, r: Request) -> Response {
                match r.url() {
                    "/panic" => panic!("boom"),
                    "/stream" => Response::stream(
                        200,
                        Box::new(io::Cursor::new(vec![b'x'; 200_000])),
                        Some(200_000),
                    ),
                    "/chunked" => {
                        Response::stream(200, Box::new(io::Cursor::new(b"abc".to_vec())), None)
                    }
                    _ => Response::text(200, "ok"),
                }
            }
        }
        let mut server = Server::bind("127.0.0.1:0", "test", Limits::new(2), H).unwrap();
        let mut s = connect(&server);
        s.write_all(b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let (head, body) = read_response(&mut s);
        assert!(head.starts_with("HTTP/1.1 500 "), "{head}");
        assert_eq!(body, "Internal Server Error");
        s.write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let (head, body) = read_response(&mut s);
        assert!(head.contains("Content-Length: 200000\r\n"), "{head}");
        assert_eq!(body.len(), 200_000);
        s.write_all(b"HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        s.write_all(b"GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let rest = read_to_close(&mut s);
        assert!(rest.starts_with("HTTP/1.1 200 "), "{rest}");
        assert!(rest.contains("Transfer-Encoding: chunked\r\n"), "{rest}");
        assert!(rest.ends_with("3\r\nabc\r\n0\r\n\r\n"), "{rest}");
        let addr = server.local_addr();
        server.shutdown();
        assert!(StdStream::connect(addr).is_err());
    }
}
