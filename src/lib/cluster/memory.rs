//! In-memory [`StateStorage`] for local mode and unit tests.
//!
//! A [`MemoryStore`] plays the ZooKeeper ensemble: one tree of nodes shared by every session opened on
//! it. A [`MemoryStorage`] is one session (one daemon's connection): the ephemeral nodes it writes are
//! owned by it and vanish when it is closed or dropped, its one-shot watches fire once, and each session
//! delivers its events on its own dispatch thread, exactly like [`ZkStorage`](super::ZkStorage).
//! Sequential nodes get ZooKeeper's 10-digit zero-padded suffix, taken from the parent's child-change
//! counter as ZooKeeper does. [`MemoryStorage::simulate_session_expiry`] reproduces what `ZkStorage`
//! does when its session expires, for tests of the callers' recovery.
//!
//! It does no I/O and never talks to ZooKeeper.
//!
//! ACLs are ignored here (the trait's `*_with_acls` defaults): only ZooKeeper enforces them.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};

use super::dispatch::Dispatcher;
use super::storage::{
    join_path, parent_path, validate_path, ListenerId, Op, StateStorage, StorageError, WatchEvent,
    WatchEventKind, WatchListener,
};

#[derive(Debug, Default)]
struct Node {
    data: Vec<u8>,
    /// The session owning an ephemeral node; `None` for persistent nodes.
    owner: Option<u64>,
    children: BTreeSet<String>,
    /// Child-change counter (ZooKeeper's `cversion`), the source of sequence numbers.
    cversion: i64,
}

#[derive(Debug)]
struct Session {
    events: mpsc::Sender<WatchEvent>,
    data_watches: HashSet<String>,
    child_watches: HashSet<String>,
    /// Non-sequential ephemeral nodes written by this session (re-created after a simulated expiry).
    ephemerals: BTreeMap<String, Vec<u8>>,
}

#[derive(Debug)]
struct Tree {
    nodes: BTreeMap<String, Node>,
    sessions: BTreeMap<u64, Session>,
    next_session: u64,
}

impl Tree {
    fn fire_data(&mut self, path: &str, kind: WatchEventKind) {
        for session in self.sessions.values_mut() {
            if session.data_watches.remove(path) {
                let _ = session.events.send(WatchEvent::new(kind, path));
            }
        }
    }

    fn fire_children(&mut self, path: &str, kind: WatchEventKind) {
        for session in self.sessions.values_mut() {
            if session.child_watches.remove(path) {
                let _ = session.events.send(WatchEvent::new(kind, path));
            }
        }
    }

    fn mkdirs(&mut self, op: Op, path: &str) -> Result<(), StorageError> {
        if self.nodes.contains_key(path) {
            return Ok(());
        }
        let parent = parent_path(path).unwrap_or("/");
        self.mkdirs(op, parent)?;
        self.create(op, path, Vec::new(), None)
    }

    /// Creates one node whose parent exists.
    fn create(
        &mut self,
        op: Op,
        path: &str,
        data: Vec<u8>,
        owner: Option<u64>,
    ) -> Result<(), StorageError> {
        let parent = parent_path(path).unwrap_or("/");
        let name = &path[parent.len() + usize::from(parent != "/")..];
        if self.nodes.contains_key(path) {
            return Err(StorageError::NodeExists {
                op,
                path: path.to_string(),
            });
        }
        let Some(parent_node) = self.nodes.get_mut(parent) else {
            return Err(StorageError::NoNode {
                op,
                path: path.to_string(),
            });
        };
        if parent_node.owner.is_some() {
            return Err(StorageError::Other {
                op,
                path: path.to_string(),
                reason: format!("parent {parent} is ephemeral and cannot have children"),
            });
        }
        parent_node.children.insert(name.to_string());
        parent_node.cversion += 1;
        self.nodes.insert(
            path.to_string(),
            Node {
                data,
                owner,
                ..Node::default()
            },
        );
        self.fire_data(path, WatchEventKind::NodeCreated);
        self.fire_children(parent, WatchEventKind::ChildrenChanged);
        Ok(())
    }

    /// Deletes a node and its subtree, firing watches bottom-up.
    fn delete(&mut self, path: &str) {
        let Some(node) = self.nodes.get(path) else {
            return;
        };
        let children: Vec<String> = node.children.iter().map(|c| join_path(path, c)).collect();
        for child in children {
            self.delete(&child);
        }
        if path == "/" {
            return;
        }
        self.nodes.remove(path);
        let parent = parent_path(path).unwrap_or("/");
        if let Some(parent_node) = self.nodes.get_mut(parent) {
            parent_node
                .children
                .remove(&path[parent.len() + usize::from(parent != "/")..]);
            parent_node.cversion += 1;
        }
        for session in self.sessions.values_mut() {
            session.ephemerals.remove(path);
        }
        self.fire_data(path, WatchEventKind::NodeDeleted);
        self.fire_children(path, WatchEventKind::NodeDeleted);
        self.fire_children(parent, WatchEventKind::ChildrenChanged);
    }

    fn remove_ephemerals_of(&mut self, session: u64) {
        let owned: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.owner == Some(session))
            .map(|(p, _)| p.clone())
            .collect();
        for path in owned {
            let remembered = self
                .sessions
                .get(&session)
                .and_then(|s| s.ephemerals.get(&path).cloned());
            self.delete(&path);
            // `delete` forgets the path everywhere; the owner still wants it back after an expiry.
            if let (Some(data), Some(s)) = (remembered, self.sessions.get_mut(&session)) {
                s.ephemerals.insert(path, data);
            }
        }
    }

    fn put_ephemeral(
        &mut self,
        op: Op,
        session: u64,
        path: &str,
        data: &[u8],
    ) -> Result<(), StorageError> {
        self.mkdirs(op, parent_path(path).unwrap_or("/"))?;
        match self.nodes.get_mut(path) {
            Some(node) if node.owner == Some(session) => {
                node.data = data.to_vec();
                self.fire_data(path, WatchEventKind::DataChanged);
            }
            Some(_) => {
                self.delete(path);
                self.create(op, path, data.to_vec(), Some(session))?;
            }
            None => self.create(op, path, data.to_vec(), Some(session))?,
        }
        Ok(())
    }
}

/// The shared in-memory tree (the "ensemble"). Cloning shares the tree.
#[derive(Clone, Debug)]
pub struct MemoryStore {
    tree: Arc<Mutex<Tree>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty tree holding only the root `/`.
    pub fn new() -> MemoryStore {
        let mut nodes = BTreeMap::new();
        nodes.insert("/".to_string(), Node::default());
        MemoryStore {
            tree: Arc::new(Mutex::new(Tree {
                nodes,
                sessions: BTreeMap::new(),
                next_session: 1,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tree> {
        // A panic while holding the lock cannot leave the tree half-updated in a way that matters to
        // tests; keep serving.
        self.tree.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a new session on this tree.
    pub fn session(&self) -> MemoryStorage {
        let mut tree = self.lock();
        let id = tree.next_session;
        tree.next_session += 1;
        let dispatcher = Dispatcher::start(format!("mem-watch-{id}"));
        let events = dispatcher.sender().unwrap_or_else(|| mpsc::channel().0);
        let session = Session {
            events,
            data_watches: HashSet::new(),
            child_watches: HashSet::new(),
            ephemerals: BTreeMap::new(),
        };
        tree.sessions.insert(id, session);
        MemoryStorage {
            store: self.clone(),
            session: id,
            closed: AtomicBool::new(false),
            dispatcher,
        }
    }

    /// Every node path in the tree, sorted (the root `/` excluded).
    pub fn paths(&self) -> Vec<String> {
        self.lock()
            .nodes
            .keys()
            .filter(|p| p.as_str() != "/")
            .cloned()
            .collect()
    }
}

/// One session on a [`MemoryStore`]; implements [`StateStorage`]. Dropping it closes the session.
#[derive(Debug)]
pub struct MemoryStorage {
    store: MemoryStore,
    session: u64,
    closed: AtomicBool,
    dispatcher: Dispatcher,
}

impl Default for MemoryStorage {
    fn default() -> Self {
        MemoryStorage::new()
    }
}

impl MemoryStorage {
    /// A session on a fresh, private tree.
    pub fn new() -> MemoryStorage {
        MemoryStore::new().session()
    }

    /// The tree this session lives on (open more sessions with [`MemoryStore::session`]).
    pub fn store(&self) -> &MemoryStore {
        &self.store
    }

    /// This session's id (unique within its store).
    pub fn session_id(&self) -> u64 {
        self.session
    }

    /// Simulates a ZooKeeper session expiry followed by the recovery `ZkStorage` performs: this
    /// session's ephemeral nodes vanish (other sessions' watches fire), its armed watches are lost, then
    /// its non-sequential ephemerals are re-created, the watches re-armed, and `SessionReestablished`
    /// plus one synthetic event per outstanding watch are delivered.
    pub fn simulate_session_expiry(&self) {
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        let mut tree = self.store.lock();
        tree.remove_ephemerals_of(self.session);
        let Some(session) = tree.sessions.get_mut(&self.session) else {
            return;
        };
        let data_watches: Vec<String> = session.data_watches.drain().collect();
        let child_watches: Vec<String> = session.child_watches.drain().collect();
        let ephemerals = session.ephemerals.clone();
        for (path, data) in &ephemerals {
            if let Err(e) = tree.put_ephemeral(Op::SetEphemeral, self.session, path, data) {
                tracing::warn!(path = %path, error = %e, "cannot re-create ephemeral node after session expiry");
            }
        }
        let Some(session) = tree.sessions.get_mut(&self.session) else {
            return;
        };
        session.ephemerals = ephemerals;
        let _ = session
            .events
            .send(WatchEvent::new(WatchEventKind::SessionReestablished, "/"));
        for path in data_watches {
            let _ = session
                .events
                .send(WatchEvent::new(WatchEventKind::DataChanged, path.clone()));
            session.data_watches.insert(path);
        }
        for path in child_watches {
            let _ = session.events.send(WatchEvent::new(
                WatchEventKind::ChildrenChanged,
                path.clone(),
            ));
            session.child_watches.insert(path);
        }
    }

    fn check(&self, op: Op, path: &str) -> Result<(), StorageError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(StorageError::Closed {
                op,
                path: path.to_string(),
            });
        }
        validate_path(op, path)
    }

    fn with_session<T>(
        &self,
        tree: &mut Tree,
        op: Op,
        path: &str,
        f: impl FnOnce(&mut Session) -> T,
    ) -> Result<T, StorageError> {
        match tree.sessions.get_mut(&self.session) {
            Some(s) => Ok(f(s)),
            None => Err(StorageError::Closed {
                op,
                path: path.to_string(),
            }),
        }
    }
}

impl StateStorage for MemoryStorage {
    fn set_data(&self, path: &str, data: &[u8]) -> Result<(), StorageError> {
        let op = Op::SetData;
        self.check(op, path)?;
        let mut tree = self.store.lock();
        if path == "/" {
            tree.nodes.entry("/".into()).or_default().data = data.to_vec();
            tree.fire_data(path, WatchEventKind::DataChanged);
            return Ok(());
        }
        match tree.nodes.get_mut(path) {
            Some(node) => {
                node.data = data.to_vec();
                tree.fire_data(path, WatchEventKind::DataChanged);
                Ok(())
            }
            None => {
                tree.mkdirs(op, parent_path(path).unwrap_or("/"))?;
                tree.create(op, path, data.to_vec(), None)
            }
        }
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
        let mut tree = self.store.lock();
        self.with_session(&mut tree, op, path, |_| ())?;
        tree.put_ephemeral(op, self.session, path, data)?;
        self.with_session(&mut tree, op, path, |s| {
            s.ephemerals.insert(path.to_string(), data.to_vec())
        })?;
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
        let mut tree = self.store.lock();
        self.with_session(&mut tree, op, prefix, |_| ())?;
        let parent = parent_path(prefix).unwrap_or("/");
        tree.mkdirs(op, parent)?;
        let seq = tree.nodes.get(parent).map(|n| n.cversion).unwrap_or(0);
        let path = format!("{prefix}{seq:010}");
        tree.create(op, &path, data.to_vec(), Some(self.session))?;
        Ok(path)
    }

    fn get_data(&self, path: &str, watch: bool) -> Result<Option<Vec<u8>>, StorageError> {
        let op = Op::GetData;
        self.check(op, path)?;
        let mut tree = self.store.lock();
        let data = tree.nodes.get(path).map(|n| n.data.clone());
        if watch {
            self.with_session(&mut tree, op, path, |s| {
                s.data_watches.insert(path.to_string())
            })?;
        }
        Ok(data)
    }

    fn get_children(&self, path: &str, watch: bool) -> Result<Vec<String>, StorageError> {
        let op = Op::GetChildren;
        self.check(op, path)?;
        let mut tree = self.store.lock();
        let children = tree
            .nodes
            .get(path)
            .map(|n| n.children.iter().cloned().collect::<Vec<_>>());
        if watch {
            let exists = children.is_some();
            self.with_session(&mut tree, op, path, |s| {
                if exists {
                    s.child_watches.insert(path.to_string())
                } else {
                    s.data_watches.insert(path.to_string())
                }
            })?;
        }
        Ok(children.unwrap_or_default())
    }

    fn exists(&self, path: &str, watch: bool) -> Result<bool, StorageError> {
        let op = Op::Exists;
        self.check(op, path)?;
        let mut tree = self.store.lock();
        let exists = tree.nodes.contains_key(path);
        if watch {
            self.with_session(&mut tree, op, path, |s| {
                s.data_watches.insert(path.to_string())
            })?;
        }
        Ok(exists)
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
        self.store.lock().delete(path);
        Ok(())
    }

    fn mkdirs(&self, path: &str) -> Result<(), StorageError> {
        let op = Op::Mkdirs;
        self.check(op, path)?;
        self.store.lock().mkdirs(op, path)
    }

    fn add_listener(&self, listener: WatchListener) -> ListenerId {
        self.dispatcher.listeners.add(listener)
    }

    fn remove_listener(&self, id: ListenerId) {
        self.dispatcher.listeners.remove(id)
    }

    fn close(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        {
            let mut tree = self.store.lock();
            if let Some(s) = tree.sessions.get_mut(&self.session) {
                s.ephemerals.clear();
            }
            tree.remove_ephemerals_of(self.session);
            // Dropping the session drops its event sender, which ends the dispatch thread.
            tree.sessions.remove(&self.session);
        }
        self.dispatcher.stop();
    }
}

impl Drop for MemoryStorage {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{Receiver, RecvTimeoutError};
    use std::time::Duration;

    fn events(storage: &MemoryStorage) -> Receiver<WatchEvent> {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        storage.add_listener(Arc::new(move |e: &WatchEvent| {
            let _ = tx.lock().unwrap().send(e.clone());
        }));
        rx
    }

    fn next(rx: &Receiver<WatchEvent>) -> WatchEvent {
        rx.recv_timeout(Duration::from_secs(5))
            .expect("a watch event")
    }

    fn none(rx: &Receiver<WatchEvent>) {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Err(RecvTimeoutError::Timeout) => {}
            other => panic!("unexpected event {other:?}"),
        }
    }

    #[test]
    fn persistent_nodes_create_parents_and_overwrite() {
        let s = MemoryStorage::new();
        s.set_data("/a/b/c", b"1").unwrap();
        assert_eq!(s.get_data("/a/b/c", false).unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.get_data("/a/b", false).unwrap(), Some(vec![]));
        s.set_data("/a/b/c", b"2").unwrap();
        assert_eq!(s.get_data("/a/b/c", false).unwrap(), Some(b"2".to_vec()));
        assert_eq!(s.get_data("/nope", false).unwrap(), None);
        assert_eq!(
            s.get_children("/nope", false).unwrap(),
            Vec::<String>::new()
        );
        assert!(s.exists("/a", false).unwrap());
        s.delete("/a").unwrap();
        assert!(!s.exists("/a/b/c", false).unwrap());
        s.delete("/a").unwrap();
        assert_eq!(s.store().paths(), Vec::<String>::new());
    }

    #[test]
    fn ephemerals_vanish_with_their_session() {
        let store = MemoryStore::new();
        let a = store.session();
        let b = store.session();
        a.set_ephemeral("/sup/a", b"x").unwrap();
        a.create_sequential("/err/e", b"y").unwrap();
        assert!(b.exists("/sup/a", false).unwrap());
        let rx = events(&b);
        b.get_children("/sup", true).unwrap();
        drop(a);
        assert_eq!(
            next(&rx),
            WatchEvent::new(WatchEventKind::ChildrenChanged, "/sup")
        );
        assert!(!b.exists("/sup/a", false).unwrap());
        assert!(b.get_children("/err", false).unwrap().is_empty());
        assert!(b.exists("/sup", false).unwrap(), "parents are persistent");
        let err = a_closed_op();
        assert!(matches!(err, StorageError::Closed { .. }), "{err}");
    }

    fn a_closed_op() -> StorageError {
        let s = MemoryStorage::new();
        s.close();
        s.set_data("/x", b"").unwrap_err()
    }

    #[test]
    fn ephemerals_cannot_have_children() {
        let s = MemoryStorage::new();
        s.set_ephemeral("/e", b"").unwrap();
        assert!(s.set_data("/e/child", b"").is_err());
    }

    #[test]
    fn sequential_nodes_are_numbered_like_zookeeper() {
        let s = MemoryStorage::new();
        let first = s.create_sequential("/errors/t/c/e", b"1").unwrap();
        let second = s.create_sequential("/errors/t/c/e", b"2").unwrap();
        assert_eq!(first, "/errors/t/c/e0000000000");
        assert_eq!(second, "/errors/t/c/e0000000001");
        s.delete(&first).unwrap();
        let third = s.create_sequential("/errors/t/c/e", b"3").unwrap();
        assert_eq!(
            third, "/errors/t/c/e0000000003",
            "deletes bump the counter too (cversion)"
        );
    }

    #[test]
    fn watches_fire_once() {
        let store = MemoryStore::new();
        let reader = store.session();
        let writer = store.session();
        let rx = events(&reader);
        writer.set_data("/x", b"1").unwrap();
        reader.get_data("/x", true).unwrap();
        reader.get_data("/x", true).unwrap(); // arming twice still fires once
        writer.set_data("/x", b"2").unwrap();
        writer.set_data("/x", b"3").unwrap();
        assert_eq!(
            next(&rx),
            WatchEvent::new(WatchEventKind::DataChanged, "/x")
        );
        none(&rx);

        reader.get_children("/", true).unwrap();
        writer.set_data("/y", b"").unwrap();
        assert_eq!(
            next(&rx),
            WatchEvent::new(WatchEventKind::ChildrenChanged, "/")
        );
        none(&rx);

        reader.exists("/z", true).unwrap();
        writer.set_data("/z", b"").unwrap();
        assert_eq!(
            next(&rx),
            WatchEvent::new(WatchEventKind::NodeCreated, "/z")
        );

        reader.get_data("/z", true).unwrap();
        writer.delete("/z").unwrap();
        assert_eq!(
            next(&rx),
            WatchEvent::new(WatchEventKind::NodeDeleted, "/z")
        );

        reader.get_children("/w", true).unwrap();
        writer.set_data("/w/child", b"").unwrap();
        assert_eq!(
            next(&rx),
            WatchEvent::new(WatchEventKind::NodeCreated, "/w")
        );
        none(&rx);
    }

    #[test]
    fn simulated_expiry_recreates_ephemerals_and_rearms_watches() {
        let store = MemoryStore::new();
        let s = store.session();
        let other = store.session();
        s.set_ephemeral("/supervisors/s1", b"info").unwrap();
        s.create_sequential("/errors/e", b"err").unwrap();
        s.get_data("/storms/t", true).unwrap();
        let rx = events(&s);
        let other_rx = events(&other);
        other.get_children("/supervisors", true).unwrap();
        s.simulate_session_expiry();
        assert_eq!(
            next(&rx),
            WatchEvent::new(WatchEventKind::SessionReestablished, "/")
        );
        assert_eq!(
            next(&rx),
            WatchEvent::new(WatchEventKind::DataChanged, "/storms/t")
        );
        assert_eq!(
            next(&other_rx),
            WatchEvent::new(WatchEventKind::ChildrenChanged, "/supervisors")
        );
        assert_eq!(
            other.get_data("/supervisors/s1", false).unwrap(),
            Some(b"info".to_vec())
        );
        assert!(
            other.get_children("/errors", false).unwrap().is_empty(),
            "sequential nodes are not re-created"
        );
        // The re-armed watch still fires for a real change.
        other.set_data("/storms/t", b"base").unwrap();
        assert_eq!(
            next(&rx),
            WatchEvent::new(WatchEventKind::NodeCreated, "/storms/t")
        );
    }

    #[test]
    fn listeners_can_be_removed_and_may_reenter() {
        let s = Arc::new(MemoryStorage::new());
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let weak = Arc::downgrade(&s);
        let id = s.add_listener(Arc::new(move |e: &WatchEvent| {
            // Re-read (and re-arm) from inside the callback, like Storm's callbacks do.
            if let Some(s) = weak.upgrade() {
                let data = s.get_data(&e.path, true).unwrap();
                let _ = tx.lock().unwrap().send(data);
            }
        }));
        s.get_data("/k", true).unwrap();
        s.set_data("/k", b"1").unwrap();
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            Some(b"1".to_vec())
        );
        s.set_data("/k", b"2").unwrap();
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            Some(b"2".to_vec())
        );
        s.remove_listener(id);
        s.set_data("/k", b"3").unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
    }

    #[test]
    fn replacing_a_foreign_ephemeral_takes_ownership() {
        let store = MemoryStore::new();
        let old = store.session();
        let new = store.session();
        old.set_ephemeral("/nimbuses/h:1", b"old").unwrap();
        new.set_ephemeral("/nimbuses/h:1", b"new").unwrap();
        drop(old);
        assert_eq!(
            new.get_data("/nimbuses/h:1", false).unwrap(),
            Some(b"new".to_vec())
        );
    }
}
