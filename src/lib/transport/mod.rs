//! The worker-to-worker TCP transport (DESIGN §6): [`TcpTransport`], the cluster implementation of
//! [`RemoteTransport`].
//!
//! * **One mio event loop thread per worker** does all network I/O: it accepts connections on the
//!   worker's slot port, reads and decodes frames, connects to the other workers (reconnecting with
//!   exponential backoff between [`TransportOptions::min_backoff`] and `max_backoff`) and writes.
//! * **Outbound**: each remote worker address has two bounded queues, a data lane
//!   ([`TransportOptions::send_queue_tuples`]) and a larger system lane (acks, ticks, metrics) that is
//!   always sent first; lanes carry batches and are bounded in tuples. [`RemoteTransport::try_send`]
//!   never blocks: a full lane gives the batch back (and [`RemoteTransport::notify_room`] tells the
//!   executor when the loop took from the lane)
//!   (backpressure; the executor keeps it and retries). Tuples for a peer that is down stay queued.
//!   Executors wake the loop through a `mio::Waker`, coalesced: only the first tuple queued since the
//!   loop last looked wakes it. The loop drains up to [`TransportOptions::batch_tuples`] per frame.
//! * **Inbound**: the loop decodes frames straight into tuples and hands them to local executors
//!   through the [`Router`] while their queues have room. Data that does not fit goes to one delivery
//!   thread through a bounded channel (and later data after it, to keep the order); when that channel
//!   is full the loop stops reading (TCP backpressure reaches the sender). Until
//!   [`TcpTransport::attach`] nothing is read.
//! * The wire format is in [`wire`]; a corrupt or oversize frame closes that one connection, naming
//!   the peer in the log.
//! * With [`TransportOptions::auth`] (`storm.messaging.netty.authentication`), every connection
//!   first runs the [`auth`] challenge-response handshake (deadline [`auth::HANDSHAKE_TIMEOUT`]); a
//!   peer that does not prove the topology's secret is refused and logged, and none of its bytes
//!   are decoded.
//! * With [`TransportOptions::tls`] (`storm.messaging.netty.tls.enable`), every connection, accepted
//!   or opened, is a mutual-TLS session over the same non-blocking socket ([`tls`]; the
//!   configurations are [`crate::security::tls::LinkTls`]): the TLS handshake runs first, under the
//!   same deadline, and the authentication handshake and the frames inside it. A plain peer on a TLS
//!   port is refused and logged with the key to set. Each connection's stream is a
//!   `tls::LinkStream` enum, so with TLS off the only cost is one `match` per socket read or write.

pub mod auth;
mod delivery;
mod event_loop;
pub mod tls;
pub mod wire;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

use crate::api::{Tuple, TupleSource, WorkerTopologyContext};
use crate::config::{Config, ConfigError};
use crate::executor::transport::{Batch, Control, Delivery, FastMap, Population, Recycle};
use crate::executor::{RemoteTransport, Router};
use crate::topology::system::is_system_id;
use crate::tuple::Fields;

/// Tuning of the transport. [`TransportOptions::from_conf`] reads Storm's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportOptions {
    /// Largest frame payload sent or accepted (`storm.messaging.netty.buffer_size`).
    pub max_frame_bytes: usize,
    /// Data tuples queued per remote worker before `try_send` gives them back
    /// (`topology.transfer.buffer.size`; a lane below its limit takes one more batch, so it may
    /// overshoot by a batch). The system lane holds four times as many (at least 1024).
    pub send_queue_tuples: usize,
    /// Most tuples per frame (a storm-rs constant: batching is opportunistic, it never waits).
    pub batch_tuples: usize,
    /// First reconnect delay (`storm.messaging.netty.min_wait_ms`).
    pub min_backoff: Duration,
    /// Largest reconnect delay (`storm.messaging.netty.max_wait_ms`).
    pub max_backoff: Duration,
    /// The topology's link key when `storm.messaging.netty.authentication` is on (see [`auth`]).
    pub auth: Option<auth::LinkSecret>,
    /// The TLS configurations when `storm.messaging.netty.tls.enable` is on (see [`tls`]).
    pub tls: Option<crate::security::tls::LinkTls>,
}

impl Default for TransportOptions {
    fn default() -> TransportOptions {
        TransportOptions {
            max_frame_bytes: 5_242_880,
            send_queue_tuples: 1000,
            batch_tuples: 1024,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            auth: None,
            tls: None,
        }
    }
}

impl TransportOptions {
    /// The options a worker runs with under `conf`.
    pub fn from_conf(conf: &Config) -> Result<TransportOptions, ConfigError> {
        let d = TransportOptions::default();
        let size = |key: &str, default: usize| -> Result<usize, ConfigError> {
            if !conf.contains(key) {
                return Ok(default);
            }
            Ok(usize::try_from(conf.get_u64(key)?)
                .unwrap_or(usize::MAX)
                .max(1))
        };
        let millis = |key: &str, default: Duration| -> Result<Duration, ConfigError> {
            if !conf.contains(key) {
                return Ok(default);
            }
            Ok(Duration::from_millis(conf.get_u64(key)?.max(1)))
        };
        let min_backoff = millis("storm.messaging.netty.min_wait_ms", d.min_backoff)?;
        let max_backoff =
            millis("storm.messaging.netty.max_wait_ms", d.max_backoff)?.max(min_backoff);
        Ok(TransportOptions {
            max_frame_bytes: size("storm.messaging.netty.buffer_size", d.max_frame_bytes)?
                .max(1024),
            send_queue_tuples: size("topology.transfer.buffer.size", d.send_queue_tuples)?,
            batch_tuples: d.batch_tuples,
            min_backoff,
            max_backoff,
            auth: None,
            tls: None,
        })
    }

    fn system_queue_tuples(&self) -> usize {
        self.send_queue_tuples.saturating_mul(4).max(1024)
    }
}

/// Why the transport could not start.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error(
        "cannot listen on worker port {port}: {source}; another process (perhaps an old worker of \
         this slot) holds it: stop that process, or remove {port} from supervisor.slots.ports"
    )]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot set up the transport event loop: {0}")]
    Poll(#[source] std::io::Error),
    #[error("cannot start the transport thread {name}: {source}")]
    Thread {
        name: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// Turns a received message's (source task, stream id) into the shared [`TupleSource`] its tuple
/// carries. `None` drops the message (unknown task or stream).
pub trait SourceResolver: Send + Sync {
    fn source(&self, task: i32, stream: &str) -> Option<&'static TupleSource>;
}

/// A [`SourceResolver`] over the worker's topology context, caching one `Arc<TupleSource>` per
/// (task, stream). A system stream (`__…`) the context does not declare gets empty fields; an
/// undeclared user stream is unknown.
pub struct ContextResolver {
    context: Arc<WorkerTopologyContext>,
    cache: RwLock<HashMap<i32, HashMap<String, &'static TupleSource>>>,
}

impl ContextResolver {
    pub fn new(context: Arc<WorkerTopologyContext>) -> ContextResolver {
        ContextResolver {
            context,
            cache: RwLock::new(HashMap::new()),
        }
    }
}

impl SourceResolver for ContextResolver {
    fn source(&self, task: i32, stream: &str) -> Option<&'static TupleSource> {
        if let Some(s) = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&task)
            .and_then(|m| m.get(stream))
        {
            return Some(*s);
        }
        let component = self.context.component_id(task)?;
        let fields = match self.context.component_output_fields(component, stream) {
            Some(f) => f.clone(),
            None if is_system_id(stream) => Fields::empty(),
            None => return None,
        };
        let source = TupleSource::new(component, task, stream, fields).intern();
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        let entry = cache
            .entry(task)
            .or_default()
            .entry(stream.to_owned())
            .or_insert(source);
        Some(*entry)
    }
}

/// The outbound queues of one remote worker: two lanes of batches, each bounded in tuples.
pub(crate) struct PeerQueue {
    pub(crate) addr: SocketAddr,
    data_tx: Sender<Batch>,
    data_rx: Receiver<Batch>,
    data_pop: Population,
    system_tx: Sender<Batch>,
    system_rx: Receiver<Batch>,
    system_pop: Population,
    pub(crate) connected: AtomicBool,
}

impl PeerQueue {
    fn new(addr: SocketAddr, opts: &TransportOptions) -> PeerQueue {
        let (data_tx, data_rx) = unbounded();
        let (system_tx, system_rx) = unbounded();
        PeerQueue {
            addr,
            data_tx,
            data_rx,
            data_pop: Population::new(opts.send_queue_tuples.max(1)),
            system_tx,
            system_rx,
            system_pop: Population::new(opts.system_queue_tuples()),
            connected: AtomicBool::new(false),
        }
    }

    /// Queues a batch on a lane unless the lane is full.
    fn try_push(
        &self,
        dest: i32,
        tuples: Vec<Tuple>,
        system: bool,
        recycle: Option<&Recycle>,
    ) -> Result<(), Vec<Tuple>> {
        let (tx, pop) = if system {
            (&self.system_tx, &self.system_pop)
        } else {
            (&self.data_tx, &self.data_pop)
        };
        let n = tuples.len();
        if !pop.try_add(n) {
            return Err(tuples);
        }
        let batch = Batch {
            dest,
            tuples,
            recycle: recycle.cloned(),
        };
        tx.send(batch).map_err(|e| {
            pop.remove(n);
            e.into_inner().tuples
        })
    }

    /// The next batch to send: system first.
    pub(crate) fn pop(&self) -> Option<Batch> {
        if let Ok(b) = self.system_rx.try_recv() {
            self.system_pop.remove(b.tuples.len());
            return Some(b);
        }
        let b = self.data_rx.try_recv().ok()?;
        self.data_pop.remove(b.tuples.len());
        Some(b)
    }

    pub(crate) fn queued(&self) -> usize {
        self.data_pop.len() + self.system_pop.len()
    }
}

/// Task → remote worker, and the queues of every remote worker.
#[derive(Default)]
pub(crate) struct Routes {
    /// Looked up for every batch sent (`owns`, `try_send`): a fast hasher.
    pub(crate) by_task: FastMap<i32, Arc<PeerQueue>>,
    pub(crate) peers: HashMap<SocketAddr, Arc<PeerQueue>>,
}

/// What the public handle, the event loop and the delivery thread share.
pub(crate) struct Shared {
    pub(crate) topology_id: String,
    pub(crate) opts: TransportOptions,
    pub(crate) resolver: Arc<dyn SourceResolver>,
    waker: mio::Waker,
    /// Set by whoever wakes the loop, cleared by the loop before it looks at the queues and flags.
    wake_pending: AtomicBool,
    pub(crate) routes: RwLock<Routes>,
    pub(crate) routes_version: AtomicU64,
    pub(crate) router: Mutex<Option<Arc<Router>>>,
    pub(crate) attached: AtomicBool,
    pub(crate) stopping: AtomicBool,
    /// The loop stopped reading because the delivery channel was full.
    pub(crate) inbound_paused: AtomicBool,
    /// Frames of data runs handed to the delivery thread and not all delivered yet; while above 0
    /// the event loop does not deliver data itself (order).
    pub(crate) delivery_backlog: AtomicUsize,
}

impl Shared {
    /// Wakes the event loop unless a wake-up is already pending.
    pub(crate) fn wake(&self) {
        fence(Ordering::SeqCst);
        if !self.wake_pending.load(Ordering::SeqCst)
            && !self.wake_pending.swap(true, Ordering::SeqCst)
        {
            if let Err(e) = self.waker.wake() {
                tracing::warn!(topology = %self.topology_id, error = %e, "cannot wake the transport event loop");
            }
        }
    }

    /// Called by the loop before it looks at the queues and flags.
    pub(crate) fn clear_wake(&self) {
        self.wake_pending.store(false, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    pub(crate) fn router(&self) -> Option<Arc<Router>> {
        self.router
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The worker's TCP transport: see the module documentation.
pub struct TcpTransport {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    threads: Mutex<Vec<JoinHandle<()>>>,
    stop_tx: Mutex<Option<Sender<()>>>,
}

impl TcpTransport {
    /// Binds 0.0.0.0:`port` (0 = ephemeral, for tests) and starts the event-loop and delivery
    /// threads. `resolver` turns a wire (source task, stream id) into the `Arc<TupleSource>` receivers
    /// need; `remote_tasks` maps each task of another worker to that worker's address.
    pub fn start(
        port: u16,
        topology_id: &str,
        resolver: Arc<dyn SourceResolver>,
        remote_tasks: HashMap<i32, SocketAddr>,
        opts: TransportOptions,
    ) -> Result<Arc<TcpTransport>, TransportError> {
        let bind_addr = SocketAddr::from(([0, 0, 0, 0], port));
        let listener = mio::net::TcpListener::bind(bind_addr)
            .map_err(|source| TransportError::Bind { port, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| TransportError::Bind { port, source })?;
        let poll = mio::Poll::new().map_err(TransportError::Poll)?;
        let waker =
            mio::Waker::new(poll.registry(), event_loop::WAKER).map_err(TransportError::Poll)?;
        let routes = build_routes(&remote_tasks, &Routes::default(), &opts);
        let shared = Arc::new(Shared {
            topology_id: topology_id.to_owned(),
            opts,
            resolver,
            waker,
            wake_pending: AtomicBool::new(false),
            routes: RwLock::new(routes),
            routes_version: AtomicU64::new(1),
            router: Mutex::new(None),
            attached: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            inbound_paused: AtomicBool::new(false),
            delivery_backlog: AtomicUsize::new(0),
        });
        let (batch_tx, batch_rx) = bounded(delivery::CHANNEL_BATCHES);
        let (stop_tx, stop_rx) = bounded::<()>(0);

        let loop_state = event_loop::EventLoop::new(Arc::clone(&shared), poll, listener, batch_tx)
            .map_err(TransportError::Poll)?;
        let event_thread = std::thread::Builder::new()
            .name("storm-transport".into())
            .spawn(move || loop_state.run())
            .map_err(|source| TransportError::Thread {
                name: "storm-transport",
                source,
            })?;
        let delivery_shared = Arc::clone(&shared);
        let delivery_thread = match std::thread::Builder::new()
            .name("storm-transport-deliver".into())
            .spawn(move || delivery::run(delivery_shared, batch_rx, stop_rx))
        {
            Ok(t) => t,
            Err(source) => {
                shared.stopping.store(true, Ordering::SeqCst);
                shared.wake();
                let _ = event_thread.join();
                return Err(TransportError::Thread {
                    name: "storm-transport-deliver",
                    source,
                });
            }
        };
        tracing::info!(topology = %topology_id, addr = %local_addr, "worker transport listening");
        Ok(Arc::new(TcpTransport {
            shared,
            local_addr,
            threads: Mutex::new(vec![event_thread, delivery_thread]),
            stop_tx: Mutex::new(Some(stop_tx)),
        }))
    }

    /// From now on received tuples are delivered to local executors through `router` (until then
    /// accepted connections are not read, so senders see TCP backpressure). Breaks the
    /// transport ↔ router reference cycle only on [`shutdown`](Self::shutdown).
    pub fn attach(&self, router: Arc<Router>) {
        *self.shared.router.lock().unwrap_or_else(|e| e.into_inner()) = Some(router);
        self.shared.attached.store(true, Ordering::SeqCst);
        self.shared.wake();
    }

    /// Replaces the task → remote worker map (after an assignment change). Queues of workers still in
    /// the map are kept; connections to workers no longer in it are closed and their queued tuples
    /// dropped (acking replays them).
    pub fn set_remote_tasks(&self, remote_tasks: HashMap<i32, SocketAddr>) {
        {
            let mut routes = self
                .shared
                .routes
                .write()
                .unwrap_or_else(|e| e.into_inner());
            let new = build_routes(&remote_tasks, &routes, &self.shared.opts);
            *routes = new;
        }
        self.shared.routes_version.fetch_add(1, Ordering::SeqCst);
        self.shared.wake();
    }

    /// The address the worker listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether a connection to every remote worker is established (Storm's
    /// `activateWorkerWhenAllConnectionsReady`).
    pub fn all_connected(&self) -> bool {
        self.shared
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .peers
            .values()
            .all(|q| q.connected.load(Ordering::SeqCst))
    }

    /// Tuples queued for the remote worker at `addr` (both lanes); 0 for an unknown address.
    pub fn queued(&self, addr: SocketAddr) -> usize {
        self.shared
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .peers
            .get(&addr)
            .map_or(0, |q| q.queued())
    }

    /// Stops the threads, closes every connection and the listener, and forgets the router. Joins
    /// the threads; idempotent; also done on drop.
    pub fn shutdown(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.wake();
        drop(
            self.stop_tx
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        let me = std::thread::current().id();
        for t in threads {
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
        self.shared
            .router
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        for q in self
            .shared
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .peers
            .values()
        {
            q.connected.store(false, Ordering::SeqCst);
        }
    }
}

impl Drop for TcpTransport {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::fmt::Debug for TcpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpTransport")
            .field("topology_id", &self.shared.topology_id)
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl RemoteTransport for TcpTransport {
    fn owns(&self, task: i32) -> bool {
        self.shared
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_task
            .contains_key(&task)
    }

    fn try_send(
        &self,
        task: i32,
        tuples: Vec<Tuple>,
        system: bool,
        recycle: Option<&Recycle>,
    ) -> Delivery {
        let result = {
            let routes = self.shared.routes.read().unwrap_or_else(|e| e.into_inner());
            let Some(q) = routes.by_task.get(&task) else {
                return Delivery::Dropped;
            };
            q.try_push(task, tuples, system, recycle)
        };
        match result {
            Ok(()) => {
                self.shared.wake();
                Delivery::Delivered
            }
            Err(tuples) => Delivery::Full(tuples),
        }
    }

    fn notify_room(&self, task: i32, waiter: &Sender<Control>, n: usize) -> bool {
        let routes = self.shared.routes.read().unwrap_or_else(|e| e.into_inner());
        match routes.by_task.get(&task) {
            Some(q) => q.data_pop.notify_room(waiter, n),
            None => true,
        }
    }
}

/// Routes for `remote_tasks`, reusing the queues `old` has for the same addresses.
fn build_routes(
    remote_tasks: &HashMap<i32, SocketAddr>,
    old: &Routes,
    opts: &TransportOptions,
) -> Routes {
    let mut routes = Routes::default();
    for (&task, &addr) in remote_tasks {
        let q = routes
            .peers
            .entry(addr)
            .or_insert_with(|| {
                old.peers
                    .get(&addr)
                    .cloned()
                    .unwrap_or_else(|| Arc::new(PeerQueue::new(addr, opts)))
            })
            .clone();
        routes.by_task.insert(task, q);
    }
    routes
}
