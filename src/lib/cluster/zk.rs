//! [`ZkStorage`]: the [`StateStorage`] on a real Apache ZooKeeper (what Storm's `ZKStateStorage` does
//! with Curator). This is the only module that talks to ZooKeeper.
//!
//! It drives the async `zookeeper-client` crate from synchronous code: each storage owns one tokio
//! runtime with a single worker thread, which keeps the session alive (pings) while callers are idle;
//! every call is a `block_on` on it. Behaviour:
//!
//! * **Connect**: an un-chrooted session creates `storm.zookeeper.root` (like Storm), then the same
//!   session is chrooted there, so every path is relative to the root. Connecting retries
//!   `storm.zookeeper.retry.times` times, `storm.zookeeper.retry.interval` apart.
//! * **Connection loss**: operations failing with `ConnectionLoss` are retried (bounded, with the
//!   interval); requests made while disconnected wait for the client to reconnect. A ZooKeeper restart
//!   shorter than the session timeout is invisible to callers, and the session's ephemerals survive it.
//! * **One-shot watches only** (no persistent watches: ZOOKEEPER-4466 makes a persistent watch silently
//!   replace a one-shot child watch on the same path). An armed watch is remembered by (kind, path);
//!   arming it again is a no-op until it fires; when it fires every listener gets the event once, on
//!   the dispatch thread.
//! * **Session expiry** is terminal for a ZooKeeper client, so a state monitor builds a new client,
//!   re-creates every (non-sequential) ephemeral node this storage wrote, re-arms the outstanding
//!   watches, and delivers `SessionReestablished` plus one synthetic event per outstanding watch (logged
//!   at warn). Operations made meanwhile wait for the new session.
//! * **Close** (also on drop) ends the session with CloseSession at once, so ephemerals vanish
//!   immediately rather than after the session timeout.
//! * **Authentication and ACLs** ([`super::acl`]): every session (the first and each one replacing an
//!   expired session) adds [`ZkSettings::auth`] (`addauth digest user:password`); nodes are created
//!   with [`ZkSettings::default_acls`] unless the caller names others
//!   ([`StateStorage::set_data_with_acls`], [`StateStorage::mkdirs_with_acls`]). Missing parents are
//!   created only after checking that they do not exist (as Storm's `ClientZookeeper.mkdirs` does):
//!   ZooKeeper checks the parent's CREATE permission before existence, so blindly re-creating an
//!   existing `/storm/workerbeats` would fail with NoAuth for a worker. A refusal is
//!   [`StorageError::NoAuth`].
//!
//! Calls must not be made from inside an async runtime (they block); they return an error instead.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use zookeeper_client as zk;

use super::acl::{self, AclError, NodeAcls, ZkAuth};
use super::dispatch::Dispatcher;
use super::storage::{
    join_path, parent_path, validate_path, ListenerId, Op, StateStorage, StorageError, WatchEvent,
    WatchEventKind, WatchListener,
};

/// How to reach ZooKeeper, with Storm's knobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkSettings {
    /// `host1:port,host2:port` (no chroot suffix).
    pub servers: String,
    /// `storm.zookeeper.root`, e.g. `/storm`; every storage path is relative to it.
    pub root: String,
    /// `storm.zookeeper.session.timeout` (the server clamps it to [2, 20] × its tickTime).
    pub session_timeout: Duration,
    /// `storm.zookeeper.connection.timeout`.
    pub connection_timeout: Duration,
    /// `storm.zookeeper.retry.times`: how often a failed connect or operation is retried.
    pub retry_times: u32,
    /// `storm.zookeeper.retry.interval`: the pause between retries.
    pub retry_interval: Duration,
    /// Credentials every session adds (Storm's `ZookeeperAuthInfo`); `None`: anonymous.
    pub auth: Option<ZkAuth>,
    /// The ACLs of nodes this storage creates unless told otherwise (Storm's
    /// `DaemonType.getDefaultZkAcls`); open when empty.
    pub default_acls: NodeAcls,
}

/// Why [`ZkSettings`] cannot be built from a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ZkSettingsError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Acl(#[from] AclError),
}

impl ZkSettings {
    /// Settings with Storm's defaults (session 20 s, connection 15 s, 5 retries 1 s apart).
    pub fn new(servers: impl Into<String>, root: impl Into<String>) -> ZkSettings {
        ZkSettings {
            servers: servers.into(),
            root: root.into(),
            session_timeout: Duration::from_millis(20_000),
            connection_timeout: Duration::from_millis(15_000),
            retry_times: 5,
            retry_interval: Duration::from_millis(1_000),
            auth: None,
            default_acls: NodeAcls::open(),
        }
    }

    /// These settings with `auth` added to every session.
    pub fn with_auth(mut self, auth: Option<ZkAuth>) -> ZkSettings {
        self.auth = auth;
        self
    }

    /// These settings creating nodes with `acls` by default.
    pub fn with_default_acls(mut self, acls: NodeAcls) -> ZkSettings {
        self.default_acls = acls;
        self
    }

    /// A worker's settings: the daemon settings of `conf`, authenticated as the topology
    /// (`storm.zookeeper.topology.auth.*` from `topo_conf`, Storm's `ZookeeperAuthInfo`) and creating
    /// its nodes with Storm's worker ACLs (`Utils.getWorkerACL`).
    pub fn for_worker(
        conf: &crate::config::Config,
        topo_conf: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<ZkSettings, ZkSettingsError> {
        let mut merged = conf.to_json();
        merged.extend(topo_conf.clone());
        let settings = ZkSettings::from_config(conf)?;
        Ok(settings
            .with_auth(acl::session_auth(&merged))
            .with_default_acls(acl::worker_acls(&merged)?))
    }

    /// Reads `storm.zookeeper.{servers,port,root,session.timeout,connection.timeout,retry.times,
    /// retry.interval}` and the daemon's authentication (`storm.zookeeper.auth.scheme`/`.payload`,
    /// with `CREATOR_ALL` ACLs when both are set).
    pub fn from_config(
        conf: &crate::config::Config,
    ) -> Result<ZkSettings, crate::config::ConfigError> {
        Ok(ZkSettings {
            servers: conf.zookeeper_connect_string()?,
            root: conf.get_str("storm.zookeeper.root")?.to_string(),
            session_timeout: Duration::from_millis(
                conf.get_u64("storm.zookeeper.session.timeout")?,
            ),
            connection_timeout: Duration::from_millis(
                conf.get_u64("storm.zookeeper.connection.timeout")?,
            ),
            retry_times: u32::try_from(conf.get_u64("storm.zookeeper.retry.times")?)
                .unwrap_or(u32::MAX),
            retry_interval: Duration::from_millis(conf.get_u64("storm.zookeeper.retry.interval")?),
            auth: acl::session_auth(&conf.to_json()),
            default_acls: acl::daemon_acls(&conf.to_json()),
        })
    }

    /// How long one attempt of an operation may take before it counts as a connection loss: requests
    /// made while disconnected wait for the reconnect, which the client gives up after 7/5 of the
    /// session timeout.
    fn attempt_timeout(&self) -> Duration {
        self.session_timeout * 2 + self.connection_timeout
    }

    /// How long an operation waits for a lost session to be replaced.
    fn reestablish_wait(&self) -> Duration {
        self.session_timeout
            + self.connection_timeout
            + self.retry_interval * self.retry_times.max(1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum WatchKind {
    /// `get_data` / `exists` (ZooKeeper's data and exist watches).
    Data,
    /// `get_children` (an exist watch while the node is missing).
    Children,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct WatchKey {
    kind: WatchKind,
    path: String,
}

#[derive(Clone, Copy, Debug)]
struct Armed {
    token: u64,
    generation: u64,
}

/// What belongs to the current session.
#[derive(Debug, Default)]
struct Slot {
    /// The live client (`None` while a lost session is being replaced, or once closed).
    client: Option<zk::Client>,
    /// Bumped every time a new session replaces a lost one.
    generation: u64,
    /// Non-sequential ephemerals written through this storage (path → latest data), re-created on a
    /// new session.
    ephemerals: BTreeMap<String, Vec<u8>>,
    /// Outstanding one-shot watches.
    watches: HashMap<WatchKey, Armed>,
}

struct Shared {
    settings: ZkSettings,
    /// `settings.default_acls` as ZooKeeper takes them.
    default_acls: Vec<zk::Acl>,
    slot: Mutex<Slot>,
    generation_tx: tokio::sync::watch::Sender<u64>,
    shutdown_tx: tokio::sync::watch::Sender<bool>,
    closed: AtomicBool,
    next_token: AtomicU64,
    dispatcher: Dispatcher,
}

/// A [`StateStorage`] on ZooKeeper. See the module documentation for its behaviour.
pub struct ZkStorage {
    rt: Option<tokio::runtime::Runtime>,
    shared: Arc<Shared>,
}

impl fmt::Debug for ZkStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZkStorage")
            .field("servers", &self.shared.settings.servers)
            .field("root", &self.shared.settings.root)
            .field("session_id", &self.session_id())
            .field("closed", &self.shared.closed.load(Ordering::SeqCst))
            .finish()
    }
}

/// `acls` as ZooKeeper takes them (open = `world:anyone` ALL).
fn zk_acls(acls: &NodeAcls) -> Vec<zk::Acl> {
    acls.entries()
        .into_iter()
        .map(|e| zk::Acl::new(permission(e.perms), zk::AuthId::new(&e.scheme, &e.id)))
        .collect()
}

fn permission(bits: i32) -> zk::Permission {
    [
        (acl::perms::READ, zk::Permission::READ),
        (acl::perms::WRITE, zk::Permission::WRITE),
        (acl::perms::CREATE, zk::Permission::CREATE),
        (acl::perms::DELETE, zk::Permission::DELETE),
        (acl::perms::ADMIN, zk::Permission::ADMIN),
    ]
    .into_iter()
    .filter(|(bit, _)| bits & bit != 0)
    .fold(zk::Permission::NONE, |p, (_, q)| p | q)
}

fn permission_bits(p: zk::Permission) -> i32 {
    [
        (acl::perms::READ, zk::Permission::READ),
        (acl::perms::WRITE, zk::Permission::WRITE),
        (acl::perms::CREATE, zk::Permission::CREATE),
        (acl::perms::DELETE, zk::Permission::DELETE),
        (acl::perms::ADMIN, zk::Permission::ADMIN),
    ]
    .into_iter()
    .filter(|(_, q)| p.has(*q))
    .fold(0, |bits, (bit, _)| bits | bit)
}

fn persistent(acls: &[zk::Acl]) -> zk::CreateOptions<'_> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::new(acls))
}

fn ephemeral(acls: &[zk::Acl]) -> zk::CreateOptions<'_> {
    zk::CreateMode::Ephemeral.with_acls(zk::Acls::new(acls))
}

fn ephemeral_sequential(acls: &[zk::Acl]) -> zk::CreateOptions<'_> {
    zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::new(acls))
}

/// Drops `client` and waits (bounded) until its session is closed, so its ephemerals vanish now.
async fn close_client(client: zk::Client, timeout: Duration) {
    let mut states = client.state_watcher();
    drop(client);
    let _ = tokio::time::timeout(timeout, async {
        if states.state().is_terminated() {
            return;
        }
        while !states.changed().await.is_terminated() {}
    })
    .await;
}

/// Errors after which the same request may succeed on the same session.
fn is_connection_error(e: &zk::Error) -> bool {
    matches!(
        e,
        zk::Error::ConnectionLoss | zk::Error::Timeout | zk::Error::Throttled
    )
}

/// Errors meaning the session is gone and a new one is needed.
fn is_session_error(e: &zk::Error) -> bool {
    matches!(
        e,
        zk::Error::SessionExpired | zk::Error::SessionMoved | zk::Error::ClientClosed
    )
}

fn map_error(op: Op, path: &str, e: zk::Error) -> StorageError {
    let path = path.to_string();
    match e {
        zk::Error::NoNode => StorageError::NoNode { op, path },
        zk::Error::NodeExists => StorageError::NodeExists { op, path },
        zk::Error::BadArguments(reason) => StorageError::BadPath {
            op,
            path,
            reason: reason.to_string(),
        },
        zk::Error::NoAuth | zk::Error::AuthFailed | zk::Error::InvalidAcl => StorageError::NoAuth {
            op,
            path,
            reason: e.to_string(),
        },
        zk::Error::NoChildrenForEphemerals => StorageError::Other {
            op,
            path,
            reason: "the parent is ephemeral and cannot have children".into(),
        },
        e if is_connection_error(&e) || is_session_error(&e) => StorageError::Unavailable {
            op,
            path,
            reason: e.to_string(),
        },
        e => StorageError::Other {
            op,
            path,
            reason: e.to_string(),
        },
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    async fn shutdown_signal(&self) {
        let mut rx = self.shutdown_tx.subscribe();
        let _ = rx.wait_for(|closed| *closed).await;
    }

    /// Connects a new session chrooted at the root (creating the root first), with bounded retries.
    async fn connect(&self) -> Result<zk::Client, zk::Error> {
        let s = &self.settings;
        let mut last = zk::Error::NoHosts;
        for attempt in 0..=s.retry_times {
            if attempt > 0 {
                tokio::time::sleep(s.retry_interval).await;
            }
            if self.is_closed() {
                return Err(zk::Error::ClientClosed);
            }
            match tokio::time::timeout(s.connection_timeout, self.connect_once()).await {
                Ok(Ok(client)) => return Ok(client),
                Ok(Err(e)) => last = e,
                Err(_) => last = zk::Error::Timeout,
            }
            tracing::warn!(servers = %s.servers, attempt = attempt + 1, error = %last, "cannot connect to ZooKeeper");
        }
        Err(last)
    }

    async fn connect_once(&self) -> Result<zk::Client, zk::Error> {
        let s = &self.settings;
        let mut connector = zk::Client::connector();
        connector = connector
            .with_session_timeout(s.session_timeout)
            .with_connection_timeout(s.connection_timeout);
        if let Some(auth) = &s.auth {
            connector = connector.with_auth(&auth.scheme, auth.payload.as_bytes());
        }
        let client = connector.connect(&s.servers).await?;
        let root = s.root.trim_end_matches('/');
        if root.is_empty() {
            return Ok(client);
        }
        if let Err(e) = ensure_path(&client, root, &self.default_acls, &self.default_acls).await {
            close_client(client, s.connection_timeout).await;
            return Err(e);
        }
        match client.chroot(root.to_string()) {
            Ok(client) => Ok(client),
            Err(client) => {
                close_client(client, s.connection_timeout).await;
                Err(zk::Error::BadArguments(
                    &"storm.zookeeper.root is not a valid ZooKeeper path",
                ))
            }
        }
    }

    /// The current client and its generation, waiting (bounded) while a lost session is replaced.
    async fn client(&self, op: Op, path: &str) -> Result<(zk::Client, u64), StorageError> {
        let mut generations = self.generation_tx.subscribe();
        let wait = tokio::time::sleep(self.settings.reestablish_wait());
        tokio::pin!(wait);
        loop {
            if self.is_closed() {
                return Err(StorageError::Closed {
                    op,
                    path: path.to_string(),
                });
            }
            {
                let slot = self.lock();
                if let Some(client) = &slot.client {
                    return Ok((client.clone(), slot.generation));
                }
            }
            tokio::select! {
                changed = generations.changed() => {
                    if changed.is_err() {
                        return Err(StorageError::Closed { op, path: path.to_string() });
                    }
                }
                _ = self.shutdown_signal() => {}
                _ = &mut wait => {
                    return Err(StorageError::Unavailable {
                        op,
                        path: path.to_string(),
                        reason: "the ZooKeeper session was lost and no new one could be established".into(),
                    });
                }
            }
        }
    }

    /// Waits (bounded) until the session of generation `generation` has been replaced.
    async fn wait_for_new_session(&self, generation: u64) {
        let mut generations = self.generation_tx.subscribe();
        let _ = tokio::time::timeout(self.settings.reestablish_wait(), async {
            tokio::select! {
                _ = generations.wait_for(|g| *g != generation) => {}
                _ = self.shutdown_signal() => {}
            }
        })
        .await;
    }

    /// Runs `attempt` on the current client, retrying connection losses and lost sessions.
    async fn run<T, F, Fut>(&self, op: Op, path: &str, attempt: F) -> Result<T, StorageError>
    where
        F: Fn(zk::Client, u64) -> Fut,
        Fut: Future<Output = Result<T, zk::Error>>,
    {
        let s = &self.settings;
        let mut failures = 0u32;
        loop {
            let (client, generation) = self.client(op, path).await?;
            let error = match tokio::time::timeout(s.attempt_timeout(), attempt(client, generation))
                .await
            {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => e,
                Err(_) => zk::Error::Timeout,
            };
            if self.is_closed() {
                return Err(StorageError::Closed {
                    op,
                    path: path.to_string(),
                });
            }
            if !is_connection_error(&error) && !is_session_error(&error) {
                return Err(map_error(op, path, error));
            }
            failures += 1;
            if failures > s.retry_times {
                return Err(map_error(op, path, error));
            }
            tracing::debug!(%op, path, error = %error, failures, "ZooKeeper operation failed; retrying");
            if is_session_error(&error) {
                self.wait_for_new_session(generation).await;
            } else {
                tokio::time::sleep(s.retry_interval).await;
            }
        }
    }

    /// Remembers a freshly armed watcher and spawns the task that waits for it. Returns false (and
    /// drops the watcher) when the client that armed it has been replaced meanwhile.
    fn arm(self: &Arc<Self>, key: WatchKey, generation: u64, watcher: zk::OneshotWatcher) -> bool {
        let token = self.next_token.fetch_add(1, Ordering::SeqCst);
        {
            let mut slot = self.lock();
            if slot.generation != generation || self.is_closed() {
                return false;
            }
            slot.watches
                .insert(key.clone(), Armed { token, generation });
        }
        let shared = self.clone();
        tokio::spawn(async move {
            let event = watcher.changed().await;
            shared.fired(key, token, event);
        });
        true
    }

    fn is_armed(&self, key: &WatchKey) -> bool {
        self.lock().watches.contains_key(key)
    }

    fn fired(&self, key: WatchKey, token: u64, event: zk::WatchedEvent) {
        let kind = match event.event_type {
            // The session ended: the entry stays so a new session re-arms it.
            zk::EventType::Session => return,
            zk::EventType::NodeCreated => WatchEventKind::NodeCreated,
            zk::EventType::NodeDeleted => WatchEventKind::NodeDeleted,
            zk::EventType::NodeDataChanged => WatchEventKind::DataChanged,
            zk::EventType::NodeChildrenChanged => WatchEventKind::ChildrenChanged,
        };
        {
            let mut slot = self.lock();
            match slot.watches.get(&key) {
                Some(armed) if armed.token == token => {
                    slot.watches.remove(&key);
                }
                _ => return,
            }
        }
        self.dispatcher.send(WatchEvent::new(kind, key.path));
    }

    /// Arms the watch `key` on `client` and returns what the read saw: the data (for `Data`) or the
    /// children (for `Children`), `None` when the node is missing.
    async fn read_and_arm(
        self: &Arc<Self>,
        client: &zk::Client,
        generation: u64,
        key: &WatchKey,
    ) -> Result<Option<Read>, zk::Error> {
        let armed = match key.kind {
            WatchKind::Data => match client.get_and_watch_data(&key.path).await {
                Ok((data, _, watcher)) => Some((Read::Data(data), watcher)),
                Err(zk::Error::NoNode) => None,
                Err(e) => return Err(e),
            },
            WatchKind::Children => match client.list_and_watch_children(&key.path).await {
                Ok((children, watcher)) => Some((Read::Children(children), watcher)),
                Err(zk::Error::NoNode) => None,
                Err(e) => return Err(e),
            },
        };
        let (read, watcher) = match armed {
            Some((read, watcher)) => (Some(read), watcher),
            None => {
                // Missing node: an exists watch reports its creation.
                let (stat, watcher) = client.check_and_watch_stat(&key.path).await?;
                let read = match (stat, key.kind) {
                    (None, _) => None,
                    // Created between the two calls: read it (the exists watch covers changes).
                    (Some(_), WatchKind::Data) => match client.get_data(&key.path).await {
                        Ok((data, _)) => Some(Read::Data(data)),
                        Err(zk::Error::NoNode) => None,
                        Err(e) => return Err(e),
                    },
                    (Some(_), WatchKind::Children) => match client.list_children(&key.path).await {
                        Ok(children) => Some(Read::Children(children)),
                        Err(zk::Error::NoNode) => None,
                        Err(e) => return Err(e),
                    },
                };
                (read, watcher)
            }
        };
        if !self.arm(key.clone(), generation, watcher) {
            // The session changed under us; the caller retries on the new one.
            return Err(zk::Error::SessionExpired);
        }
        Ok(read)
    }

    /// Watches the session of generation `generation`; replaces it when it ends.
    async fn monitor(self: Arc<Self>, mut states: zk::StateWatcher, mut generation: u64) {
        loop {
            let state = tokio::select! {
                state = states.changed() => state,
                _ = self.shutdown_signal() => return,
            };
            match state {
                zk::SessionState::Disconnected => {
                    tracing::warn!(servers = %self.settings.servers, "lost the ZooKeeper connection; reconnecting");
                    self.dispatcher
                        .send(WatchEvent::new(WatchEventKind::Disconnected, "/"));
                }
                zk::SessionState::SyncConnected | zk::SessionState::ConnectedReadOnly => {
                    tracing::info!(servers = %self.settings.servers, "reconnected to ZooKeeper");
                    self.dispatcher
                        .send(WatchEvent::new(WatchEventKind::Reconnected, "/"));
                }
                terminal => {
                    if self.is_closed() {
                        return;
                    }
                    tracing::warn!(state = %terminal, "the ZooKeeper session ended; establishing a new one");
                    match self.reestablish(generation).await {
                        Some((new_states, new_generation)) => {
                            states = new_states;
                            generation = new_generation;
                        }
                        None => return,
                    }
                }
            }
        }
    }

    /// Builds a new session after the one of generation `old` ended: re-creates the ephemerals,
    /// publishes the client, re-arms the watches and tells the listeners. Returns the new session's
    /// state watcher and generation (`None` when closed meanwhile).
    async fn reestablish(self: &Arc<Self>, old: u64) -> Option<(zk::StateWatcher, u64)> {
        let old_client = {
            let mut slot = self.lock();
            if slot.generation != old {
                return None;
            }
            slot.client.take()
        };
        drop(old_client);
        let client = loop {
            tokio::select! {
                connected = self.connect() => match connected {
                    Ok(client) => break client,
                    Err(e) => tracing::warn!(error = %e, "cannot re-establish the ZooKeeper session yet; retrying"),
                },
                _ = self.shutdown_signal() => return None,
            }
            tokio::select! {
                _ = tokio::time::sleep(self.settings.retry_interval) => {}
                _ = self.shutdown_signal() => return None,
            }
        };
        let ephemerals = self.lock().ephemerals.clone();
        for (path, data) in &ephemerals {
            if let Err(e) = put_ephemeral(&client, path, data, &self.default_acls).await {
                tracing::warn!(path = %path, error = %e, "cannot re-create an ephemeral node on the new session");
            }
        }
        let generation = {
            let mut slot = self.lock();
            if self.is_closed() {
                drop(slot);
                close_client(client, self.settings.connection_timeout).await;
                return None;
            }
            slot.generation += 1;
            slot.client = Some(client.clone());
            slot.generation
        };
        let _ = self.generation_tx.send(generation);
        let states = client.state_watcher();

        let outstanding: Vec<WatchKey> = {
            let slot = self.lock();
            slot.watches
                .iter()
                .filter(|(_, a)| a.generation < generation)
                .map(|(k, _)| k.clone())
                .collect()
        };
        for key in &outstanding {
            if let Err(e) = self.read_and_arm(&client, generation, key).await {
                tracing::warn!(path = %key.path, error = %e, "cannot re-arm a watch on the new session");
                self.lock().watches.remove(key);
            }
        }
        tracing::warn!(
            session_id = %client.session_id(),
            ephemerals = ephemerals.len(),
            watches = outstanding.len(),
            "ZooKeeper session re-established; ephemerals re-created and watches re-armed"
        );
        self.dispatcher
            .send(WatchEvent::new(WatchEventKind::SessionReestablished, "/"));
        for key in outstanding {
            let kind = match key.kind {
                WatchKind::Data => WatchEventKind::DataChanged,
                WatchKind::Children => WatchEventKind::ChildrenChanged,
            };
            self.dispatcher.send(WatchEvent::new(kind, key.path));
        }
        Some((states, generation))
    }
}

enum Read {
    Data(Vec<u8>),
    Children(Vec<String>),
}

/// Creates the parents of `path` (persistent, with `acls`) unless the parent is the root.
async fn mkdir_parent(client: &zk::Client, path: &str, acls: &[zk::Acl]) -> Result<(), zk::Error> {
    match parent_path(path) {
        Some(parent) if parent != "/" => ensure_path(client, parent, acls, acls).await,
        _ => Ok(()),
    }
}

/// Creates the persistent node `path` (with `last`) and its missing ancestors (with `parents`),
/// checking existence before creating: ZooKeeper checks the parent's CREATE permission before it
/// reports an existing node, so creating what exists can fail with NoAuth.
async fn ensure_path(
    client: &zk::Client,
    path: &str,
    last: &[zk::Acl],
    parents: &[zk::Acl],
) -> Result<(), zk::Error> {
    // The missing nodes, deepest first.
    let mut missing = Vec::new();
    let mut at = path;
    while at != "/" && !at.is_empty() {
        if client.check_stat(at).await?.is_some() {
            break;
        }
        missing.push(at);
        at = match parent_path(at) {
            Some(p) => p,
            None => break,
        };
    }
    for node in missing.into_iter().rev() {
        let acls = if node == path { last } else { parents };
        match client.create(node, &[], &persistent(acls)).await {
            Ok(_) | Err(zk::Error::NodeExists) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes an ephemeral node owned by `client`'s session: create, or overwrite our own node, or replace
/// a node left by another session.
async fn put_ephemeral(
    client: &zk::Client,
    path: &str,
    data: &[u8],
    acls: &[zk::Acl],
) -> Result<(), zk::Error> {
    mkdir_parent(client, path, acls).await?;
    let mut last = zk::Error::NodeExists;
    for _ in 0..5 {
        match client.create(path, data, &ephemeral(acls)).await {
            Ok(_) => return Ok(()),
            Err(zk::Error::NodeExists) => {}
            Err(zk::Error::NoNode) => {
                mkdir_parent(client, path, acls).await?;
                continue;
            }
            Err(e) => return Err(e),
        }
        match client.check_stat(path).await? {
            Some(stat) if stat.ephemeral_owner == client.session_id().0 => {
                match client.set_data(path, data, None).await {
                    Ok(_) => return Ok(()),
                    Err(zk::Error::NoNode) => continue,
                    Err(e) => return Err(e),
                }
            }
            Some(_) => match client.delete(path, None).await {
                Ok(()) | Err(zk::Error::NoNode) => continue,
                Err(e) => {
                    last = e;
                    break;
                }
            },
            None => continue,
        }
    }
    Err(last)
}

/// Deletes `path` and its subtree; a missing node is fine.
async fn delete_recursive(client: &zk::Client, path: &str) -> Result<(), zk::Error> {
    for _ in 0..10 {
        match client.delete(path, None).await {
            Ok(()) | Err(zk::Error::NoNode) => return Ok(()),
            Err(zk::Error::NotEmpty) => {}
            Err(e) => return Err(e),
        }
        // Collect the subtree breadth-first, then delete deepest first.
        let mut nodes = vec![path.to_string()];
        let mut i = 0;
        while i < nodes.len() {
            match client.list_children(&nodes[i]).await {
                Ok(children) => {
                    let parent = nodes[i].clone();
                    nodes.extend(children.iter().map(|c| join_path(&parent, c)));
                }
                Err(zk::Error::NoNode) => {}
                Err(e) => return Err(e),
            }
            i += 1;
        }
        for node in nodes.iter().skip(1).rev() {
            match client.delete(node, None).await {
                Ok(()) | Err(zk::Error::NoNode) | Err(zk::Error::NotEmpty) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Err(zk::Error::NotEmpty)
}

impl ZkStorage {
    /// Connects (creating `settings.root` if needed) and starts watching the session.
    pub fn connect(settings: ZkSettings) -> Result<ZkStorage, StorageError> {
        let op = Op::Connect;
        let path = settings.root.clone();
        let unavailable = |reason: String| StorageError::Unavailable {
            op,
            path: path.clone(),
            reason,
        };
        let root = settings.root.trim_end_matches('/');
        if !root.is_empty() {
            validate_path(op, root)?;
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(StorageError::Other {
                op,
                path,
                reason:
                    "ZkStorage is a blocking API and cannot be used from inside an async runtime"
                        .into(),
            });
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("zk-runtime")
            .enable_all()
            .build()
            .map_err(|e| unavailable(format!("cannot start the ZooKeeper runtime: {e}")))?;
        let (generation_tx, _) = tokio::sync::watch::channel(0u64);
        let (shutdown_tx, _) = tokio::sync::watch::channel(false);
        if settings.default_acls.needs_auth() && settings.auth.is_none() {
            return Err(StorageError::NoAuth {
                op,
                path,
                reason: "nodes would be created CREATOR_ALL but the session has no credentials \
                         (storm.zookeeper.auth.payload / storm.zookeeper.topology.auth.payload unset)"
                    .into(),
            });
        }
        let default_acls = zk_acls(&settings.default_acls);
        let shared = Arc::new(Shared {
            default_acls,
            settings,
            slot: Mutex::new(Slot::default()),
            generation_tx,
            shutdown_tx,
            closed: AtomicBool::new(false),
            next_token: AtomicU64::new(1),
            dispatcher: Dispatcher::start("zk-watch-dispatch".into()),
        });
        let client = match rt.block_on(shared.connect()) {
            Ok(client) => client,
            Err(e) => {
                shared.dispatcher.stop();
                return Err(unavailable(format!(
                    "cannot connect to {}: {e}",
                    shared.settings.servers
                )));
            }
        };
        tracing::info!(
            servers = %shared.settings.servers,
            root = %shared.settings.root,
            session_id = %client.session_id(),
            session_timeout_ms = client.session_timeout().as_millis() as u64,
            "connected to ZooKeeper"
        );
        let states = client.state_watcher();
        shared.lock().client = Some(client);
        rt.spawn(shared.clone().monitor(states, 0));
        Ok(ZkStorage {
            rt: Some(rt),
            shared,
        })
    }

    /// The settings this storage was built with.
    pub fn settings(&self) -> &ZkSettings {
        &self.shared.settings
    }

    /// The current ZooKeeper session id (`None` while a lost session is being replaced, or once closed).
    pub fn session_id(&self) -> Option<i64> {
        self.shared.lock().client.as_ref().map(|c| c.session_id().0)
    }

    /// The negotiated session timeout of the current session.
    pub fn negotiated_session_timeout(&self) -> Option<Duration> {
        self.shared
            .lock()
            .client
            .as_ref()
            .map(|c| c.session_timeout())
    }

    /// How many times a lost session has been replaced by a new one.
    pub fn session_generation(&self) -> u64 {
        self.shared.lock().generation
    }

    /// Whether the current session is connected to a server right now.
    pub fn is_connected(&self) -> bool {
        self.shared.lock().client.as_ref().is_some_and(|c| {
            matches!(
                c.state(),
                zk::SessionState::SyncConnected | zk::SessionState::ConnectedReadOnly
            )
        })
    }

    fn block_on<F: Future>(
        &self,
        op: Op,
        path: &str,
        future: F,
    ) -> Result<F::Output, StorageError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(StorageError::Other {
                op,
                path: path.to_string(),
                reason:
                    "ZkStorage is a blocking API and cannot be called from inside an async runtime"
                        .into(),
            });
        }
        match &self.rt {
            Some(rt) => Ok(rt.block_on(future)),
            None => Err(StorageError::Closed {
                op,
                path: path.to_string(),
            }),
        }
    }

    fn check(&self, op: Op, path: &str) -> Result<(), StorageError> {
        if self.shared.is_closed() {
            return Err(StorageError::Closed {
                op,
                path: path.to_string(),
            });
        }
        validate_path(op, path)
    }

    /// `set_data`, creating a missing node with `acls` (default: the storage's).
    fn write_data(
        &self,
        path: &str,
        data: &[u8],
        acls: Option<Vec<zk::Acl>>,
    ) -> Result<(), StorageError> {
        let op = Op::SetData;
        self.check(op, path)?;
        let shared = &self.shared;
        let acls = acls.as_deref().unwrap_or(&shared.default_acls);
        self.block_on(
            op,
            path,
            shared.run(op, path, |client, _| async move {
                match client.set_data(path, data, None).await {
                    Ok(_) => return Ok(()),
                    Err(zk::Error::NoNode) => {}
                    Err(e) => return Err(e),
                }
                mkdir_parent(&client, path, &shared.default_acls).await?;
                match client.create(path, data, &persistent(acls)).await {
                    Ok(_) => Ok(()),
                    Err(zk::Error::NodeExists) => {
                        client.set_data(path, data, None).await.map(|_| ())
                    }
                    Err(e) => Err(e),
                }
            }),
        )??;
        Ok(())
    }

    /// `mkdirs`, creating the last node with `acls` (default: the storage's).
    fn make_dirs(&self, path: &str, acls: Option<Vec<zk::Acl>>) -> Result<(), StorageError> {
        let op = Op::Mkdirs;
        self.check(op, path)?;
        if path == "/" {
            return Ok(());
        }
        let shared = &self.shared;
        let acls = acls.as_deref().unwrap_or(&shared.default_acls);
        self.block_on(
            op,
            path,
            shared.run(op, path, |client, _| async move {
                ensure_path(&client, path, acls, &shared.default_acls).await
            }),
        )?
    }

    /// The ACLs of `path` as ZooKeeper reports them (`None` for a missing node).
    pub fn get_acl(&self, path: &str) -> Result<Option<NodeAcls>, StorageError> {
        let op = Op::GetData;
        self.check(op, path)?;
        self.block_on(
            op,
            path,
            self.shared.run(op, path, |client, _| async move {
                match client.get_acl(path).await {
                    Ok((acls, _)) => Ok(Some(NodeAcls(
                        acls.iter()
                            .map(|a| {
                                acl::AclEntry::new(
                                    permission_bits(a.permission()),
                                    a.scheme(),
                                    a.id(),
                                )
                            })
                            .collect(),
                    ))),
                    Err(zk::Error::NoNode) => Ok(None),
                    Err(e) => Err(e),
                }
            }),
        )?
    }

    fn read(&self, op: Op, key: WatchKey, watch: bool) -> Result<Option<Read>, StorageError> {
        self.check(op, &key.path)?;
        let shared = &self.shared;
        let path = key.path.clone();
        self.block_on(
            op,
            &path,
            shared.run(op, &path, |client, generation| {
                let key = key.clone();
                async move {
                    if watch && !shared.is_armed(&key) {
                        return shared.read_and_arm(&client, generation, &key).await;
                    }
                    match key.kind {
                        WatchKind::Data => match client.get_data(&key.path).await {
                            Ok((data, _)) => Ok(Some(Read::Data(data))),
                            Err(zk::Error::NoNode) => Ok(None),
                            Err(e) => Err(e),
                        },
                        WatchKind::Children => match client.list_children(&key.path).await {
                            Ok(children) => Ok(Some(Read::Children(children))),
                            Err(zk::Error::NoNode) => Ok(None),
                            Err(e) => Err(e),
                        },
                    }
                }
            }),
        )?
    }
}

impl StateStorage for ZkStorage {
    fn set_data(&self, path: &str, data: &[u8]) -> Result<(), StorageError> {
        self.write_data(path, data, None)
    }

    fn set_data_with_acls(
        &self,
        path: &str,
        data: &[u8],
        acls: &NodeAcls,
    ) -> Result<(), StorageError> {
        self.write_data(path, data, Some(zk_acls(acls)))
    }

    fn mkdirs_with_acls(&self, path: &str, acls: &NodeAcls) -> Result<(), StorageError> {
        self.make_dirs(path, Some(zk_acls(acls)))
    }

    fn set_ephemeral(&self, path: &str, data: &[u8]) -> Result<(), StorageError> {
        let op = Op::SetEphemeral;
        self.check(op, path)?;
        if path == "/" {
            return Err(StorageError::BadPath {
                op,
                path: path.into(),
                reason: "the root cannot be ephemeral".into(),
            });
        }
        let shared = &self.shared;
        self.block_on(
            op,
            path,
            shared.run(op, path, |client, generation| async move {
                put_ephemeral(&client, path, data, &shared.default_acls).await?;
                let mut slot = shared.lock();
                if slot.generation != generation {
                    // Written on a session that has since been replaced: write again on the new one.
                    return Err(zk::Error::SessionExpired);
                }
                slot.ephemerals.insert(path.to_string(), data.to_vec());
                Ok(())
            }),
        )??;
        Ok(())
    }

    fn create_sequential(&self, prefix: &str, data: &[u8]) -> Result<String, StorageError> {
        let op = Op::CreateSequential;
        self.check(op, prefix)?;
        if prefix == "/" {
            return Err(StorageError::BadPath {
                op,
                path: prefix.into(),
                reason: "missing node name prefix".into(),
            });
        }
        let shared = &self.shared;
        self.block_on(
            op,
            prefix,
            shared.run(op, prefix, |client, _| async move {
                mkdir_parent(&client, prefix, &shared.default_acls).await?;
                let (_, sequence) = client
                    .create(prefix, data, &ephemeral_sequential(&shared.default_acls))
                    .await?;
                Ok(format!("{prefix}{sequence}"))
            }),
        )?
    }

    fn get_data(&self, path: &str, watch: bool) -> Result<Option<Vec<u8>>, StorageError> {
        let key = WatchKey {
            kind: WatchKind::Data,
            path: path.to_string(),
        };
        Ok(match self.read(Op::GetData, key, watch)? {
            Some(Read::Data(data)) => Some(data),
            _ => None,
        })
    }

    fn get_children(&self, path: &str, watch: bool) -> Result<Vec<String>, StorageError> {
        let key = WatchKey {
            kind: WatchKind::Children,
            path: path.to_string(),
        };
        Ok(match self.read(Op::GetChildren, key, watch)? {
            Some(Read::Children(children)) => children,
            _ => Vec::new(),
        })
    }

    fn exists(&self, path: &str, watch: bool) -> Result<bool, StorageError> {
        let op = Op::Exists;
        self.check(op, path)?;
        let shared = &self.shared;
        let key = WatchKey {
            kind: WatchKind::Data,
            path: path.to_string(),
        };
        self.block_on(
            op,
            path,
            shared.run(op, path, |client, generation| {
                let key = key.clone();
                async move {
                    if watch && !shared.is_armed(&key) {
                        let (stat, watcher) = client.check_and_watch_stat(&key.path).await?;
                        if !shared.arm(key, generation, watcher) {
                            return Err(zk::Error::SessionExpired);
                        }
                        return Ok(stat.is_some());
                    }
                    Ok(client.check_stat(&key.path).await?.is_some())
                }
            }),
        )?
    }

    fn delete(&self, path: &str) -> Result<(), StorageError> {
        let op = Op::Delete;
        self.check(op, path)?;
        if path == "/" {
            return Err(StorageError::BadPath {
                op,
                path: path.into(),
                reason: "cannot delete the root".into(),
            });
        }
        self.block_on(
            op,
            path,
            self.shared.run(op, path, |client, _| async move {
                delete_recursive(&client, path).await
            }),
        )??;
        let prefix = format!("{path}/");
        self.shared
            .lock()
            .ephemerals
            .retain(|p, _| p != path && !p.starts_with(&prefix));
        Ok(())
    }

    fn mkdirs(&self, path: &str) -> Result<(), StorageError> {
        self.make_dirs(path, None)
    }

    fn add_listener(&self, listener: WatchListener) -> ListenerId {
        self.shared.dispatcher.listeners.add(listener)
    }

    fn remove_listener(&self, id: ListenerId) {
        self.shared.dispatcher.listeners.remove(id)
    }

    fn close(&self) {
        if self.shared.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let _ = self.shared.shutdown_tx.send(true);
        let client = {
            let mut slot = self.shared.lock();
            slot.watches.clear();
            slot.ephemerals.clear();
            slot.client.take()
        };
        if let Some(client) = client {
            let timeout = self
                .shared
                .settings
                .connection_timeout
                .min(Duration::from_secs(5));
            if self
                .block_on(Op::Connect, "/", close_client(client, timeout))
                .is_err()
            {
                tracing::warn!("ZkStorage closed from inside an async runtime; its session ends at the session timeout");
            }
        }
        self.shared.dispatcher.stop();
    }
}

impl Drop for ZkStorage {
    fn drop(&mut self) {
        self.close();
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}
