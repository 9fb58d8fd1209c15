//! Nimbus leader election on `/leader-lock`, like Curator's `LeaderLatch` that Storm uses.
//!
//! Every contender creates an ephemeral-sequential node `/leader-lock/_c_<uuid>-latch-<seq>` whose data
//! is its participant id (`host:port`); the contender with the lowest sequence number leads, and each
//! other one watches only its predecessor (no herd effect). Anyone can read who leads
//! ([`current_leader`]) and who takes part ([`participants`]), which is what nimbus's `getLeader` and
//! `getClusterInfo` need. The node names follow Curator's, so the tree looks like Storm's.
//!
//! An elector survives a lost session: ephemeral-sequential nodes are not re-created by the storage,
//! so on `SessionReestablished` (or whenever its node is found missing) it re-enters the queue at the
//! back, losing leadership if it had it, like a `LeaderLatch` after a lost session. While the
//! connection is down it does not claim leadership (a `LeaderLatch` on SUSPENDED); when the connection
//! comes back within the session timeout its node is still there and it re-checks its place (unlike
//! Curator, which re-queues on every reconnection).

use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::storage::{
    join_path, node_name, sequence_of, ListenerId, StateStorage, StorageError, WatchEventKind,
};

/// Where the election happens (relative to `storm.zookeeper.root`).
pub const LEADER_LOCK_PATH: &str = "/leader-lock";

/// Curator's node name marker: `<protection prefix>latch-<sequence>`.
const LATCH_NAME: &str = "latch-";

#[derive(Debug, Default)]
struct State {
    /// Our node (full path), once created.
    node: Option<String>,
    leader: bool,
    closed: bool,
}

#[derive(Debug)]
struct Inner {
    storage: Arc<dyn StateStorage>,
    id: String,
    state: Mutex<State>,
    changed: Condvar,
    /// Serialises `check` (callers and the watch listener both run it).
    checking: Mutex<()>,
    listener: Mutex<Option<ListenerId>>,
}

/// One contender in the election. Dropping it leaves the election.
#[derive(Debug)]
pub struct LeaderElector {
    inner: Arc<Inner>,
}

/// The latch nodes under `/leader-lock`, ordered by sequence number (the leader first).
fn sorted_latches(storage: &dyn StateStorage) -> Result<Vec<String>, StorageError> {
    let mut children: Vec<String> = storage
        .get_children(LEADER_LOCK_PATH, false)?
        .into_iter()
        .filter(|c| c.contains(LATCH_NAME))
        .collect();
    children.sort_by_key(|c| (sequence_of(c).unwrap_or(i64::MAX), c.clone()));
    Ok(children)
}

/// The participant ids of every contender, the leader first.
pub fn participants(storage: &dyn StateStorage) -> Result<Vec<String>, StorageError> {
    let mut ids = Vec::new();
    for child in sorted_latches(storage)? {
        if let Some(data) = storage.get_data(&join_path(LEADER_LOCK_PATH, &child), false)? {
            ids.push(String::from_utf8_lossy(&data).into_owned());
        }
    }
    Ok(ids)
}

/// The participant id of the current leader, if anyone contends.
pub fn current_leader(storage: &dyn StateStorage) -> Result<Option<String>, StorageError> {
    // The first node may vanish between listing and reading; then the next one leads.
    for _ in 0..5 {
        let latches = sorted_latches(storage)?;
        let Some(first) = latches.first() else {
            return Ok(None);
        };
        if let Some(data) = storage.get_data(&join_path(LEADER_LOCK_PATH, first), false)? {
            return Ok(Some(String::from_utf8_lossy(&data).into_owned()));
        }
    }
    Ok(None)
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_leader(&self, leader: bool) {
        let mut state = self.lock();
        if state.leader != leader {
            if leader {
                tracing::info!(participant = %self.id, "gained leadership");
            } else {
                tracing::warn!(participant = %self.id, "lost leadership");
            }
        }
        state.leader = leader && !state.closed;
        self.changed.notify_all();
    }

    fn create_node(&self) -> Result<String, StorageError> {
        let prefix = format!(
            "{LEADER_LOCK_PATH}/_c_{}-{LATCH_NAME}",
            uuid::Uuid::new_v4()
        );
        self.storage.create_sequential(&prefix, self.id.as_bytes())
    }

    /// Re-evaluates our place in the queue: leads if first, else watches the predecessor. Re-creates
    /// our node when it is missing (a lost session).
    fn check(&self) -> Result<(), StorageError> {
        let _serial = self.checking.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..10 {
            if self.lock().closed {
                return Ok(());
            }
            let node = self.lock().node.clone();
            let latches = sorted_latches(self.storage.as_ref())?;
            let ours = node
                .as_deref()
                .and_then(|n| latches.iter().position(|c| c == node_name(n)));
            let Some(index) = ours else {
                self.set_leader(false);
                let created = self.create_node()?;
                let mut state = self.lock();
                if state.closed {
                    drop(state);
                    let _ = self.storage.delete(&created);
                    return Ok(());
                }
                state.node = Some(created);
                continue;
            };
            if index == 0 {
                // Watch our own node too: if it vanishes (its session expired after the storage had
                // reconnected), nobody else would tell us, and we would lead beside the next one.
                let own = node.as_deref().unwrap_or_default();
                if !self.storage.exists(own, true)? {
                    continue;
                }
                self.set_leader(true);
                return Ok(());
            }
            self.set_leader(false);
            let predecessor = join_path(LEADER_LOCK_PATH, &latches[index - 1]);
            if self.storage.exists(&predecessor, true)? {
                return Ok(());
            }
            // The predecessor vanished in between: look again.
        }
        Ok(())
    }

    /// Runs [`Inner::check`]; a failure (say, ZooKeeper unreachable for longer than the storage's
    /// retries) is retried every second until a check succeeds or the elector closes, so a contender never
    /// stays out of the queue for want of a further watch event.
    fn check_logged(self: &Arc<Self>) {
        if let Err(e) = self.check() {
            tracing::warn!(participant = %self.id, error = %e, "leader election check failed; retrying in 1 s");
            let weak = Arc::downgrade(self);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(1));
                if let Some(inner) = weak.upgrade() {
                    if !inner.lock().closed {
                        inner.check_logged();
                    }
                }
            });
        }
    }
}

impl LeaderElector {
    /// Joins the election as `participant_id` (nimbus uses `host:port`).
    pub fn new(
        storage: Arc<dyn StateStorage>,
        participant_id: impl Into<String>,
    ) -> Result<LeaderElector, StorageError> {
        storage.mkdirs(LEADER_LOCK_PATH)?;
        let inner = Arc::new(Inner {
            storage,
            id: participant_id.into(),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            checking: Mutex::new(()),
            listener: Mutex::new(None),
        });
        let weak: Weak<Inner> = Arc::downgrade(&inner);
        let listener = inner.storage.add_listener(Arc::new(move |event| {
            let Some(inner) = weak.upgrade() else { return };
            match event.kind {
                // Like a LeaderLatch on SUSPENDED: while cut off from ZooKeeper we cannot know whether
                // our session (and so our place in the queue) survives, so we do not claim to lead.
                WatchEventKind::Disconnected => inner.set_leader(false),
                WatchEventKind::Reconnected | WatchEventKind::SessionReestablished => {
                    inner.check_logged()
                }
                _ if event.path == LEADER_LOCK_PATH
                    || event.path.starts_with(&format!("{LEADER_LOCK_PATH}/")) =>
                {
                    inner.check_logged()
                }
                _ => {}
            }
        }));
        *inner.listener.lock().unwrap_or_else(|e| e.into_inner()) = Some(listener);
        let elector = LeaderElector { inner };
        if let Err(e) = elector.inner.check() {
            elector.close();
            return Err(e);
        }
        Ok(elector)
    }

    /// This contender's participant id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Whether this contender leads now (as last observed; changes arrive through watches).
    pub fn is_leader(&self) -> bool {
        self.inner.lock().leader
    }

    /// The participant id of the current leader (read from the storage).
    pub fn leader(&self) -> Result<Option<String>, StorageError> {
        current_leader(self.inner.storage.as_ref())
    }

    /// Every contender's participant id, the leader first.
    pub fn participants(&self) -> Result<Vec<String>, StorageError> {
        participants(self.inner.storage.as_ref())
    }

    /// Waits until this contender leads; false on timeout or when closed.
    pub fn await_leadership(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.inner.lock();
        loop {
            if state.leader {
                return true;
            }
            if state.closed {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .inner
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Gives up leadership (if held) and re-enters the queue at the back, as Storm's nimbus does when it
    /// lacks a topology's code.
    pub fn requeue(&self) -> Result<(), StorageError> {
        let old = self.inner.lock().node.take();
        self.inner.set_leader(false);
        if let Some(old) = old {
            self.inner.storage.delete(&old)?;
        }
        self.inner.check()
    }

    /// Leaves the election: deletes our node, so the next contender leads at once. Idempotent.
    pub fn close(&self) {
        let node = {
            let mut state = self.inner.lock();
            if state.closed {
                return;
            }
            state.closed = true;
            state.leader = false;
            self.inner.changed.notify_all();
            state.node.take()
        };
        if let Some(id) = self
            .inner
            .listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            self.inner.storage.remove_listener(id);
        }
        if let Some(node) = node {
            if let Err(e) = self.inner.storage.delete(&node) {
                tracing::warn!(node = %node, error = %e, "cannot delete the leader latch node; it goes with the session");
            }
        }
    }
}

impl Drop for LeaderElector {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::memory::MemoryStore;

    #[test]
    fn two_contenders_one_leader_and_takeover() {
        let store = MemoryStore::new();
        let a_storage = Arc::new(store.session());
        let b_storage = Arc::new(store.session());
        let a = LeaderElector::new(a_storage.clone(), "nimbus-a:6627").unwrap();
        let b = LeaderElector::new(b_storage.clone(), "nimbus-b:6627").unwrap();
        assert!(a.await_leadership(Duration::from_secs(5)));
        assert!(!b.is_leader());
        assert_eq!(b.leader().unwrap().as_deref(), Some("nimbus-a:6627"));
        assert_eq!(
            a.participants().unwrap(),
            vec!["nimbus-a:6627".to_string(), "nimbus-b:6627".to_string()]
        );

        // The leader's session ends: b takes over.
        a_storage.close();
        assert!(b.await_leadership(Duration::from_secs(5)));
        assert_eq!(b.leader().unwrap().as_deref(), Some("nimbus-b:6627"));
        drop(a);
    }

    #[test]
    fn close_hands_over_and_requeue_goes_to_the_back() {
        let store = MemoryStore::new();
        let a = LeaderElector::new(Arc::new(store.session()), "a:1").unwrap();
        let b = LeaderElector::new(Arc::new(store.session()), "b:1").unwrap();
        assert!(a.await_leadership(Duration::from_secs(5)));
        a.requeue().unwrap();
        assert!(!a.is_leader());
        assert!(b.await_leadership(Duration::from_secs(5)));
        assert_eq!(
            a.participants().unwrap(),
            vec!["b:1".to_string(), "a:1".to_string()]
        );
        b.close();
        assert!(!b.is_leader());
        assert!(!b.await_leadership(Duration::from_millis(10)));
        assert!(a.await_leadership(Duration::from_secs(5)));
        assert_eq!(
            current_leader(a.inner.storage.as_ref()).unwrap().as_deref(),
            Some("a:1")
        );
    }

    #[test]
    fn session_loss_requeues() {
        let store = MemoryStore::new();
        let a_storage = Arc::new(store.session());
        let a = LeaderElector::new(a_storage.clone(), "a:1").unwrap();
        let b = LeaderElector::new(Arc::new(store.session()), "b:1").unwrap();
        assert!(a.await_leadership(Duration::from_secs(5)));
        a_storage.simulate_session_expiry();
        assert!(b.await_leadership(Duration::from_secs(5)));
        // a re-entered the queue behind b.
        let deadline = Instant::now() + Duration::from_secs(5);
        while a.participants().unwrap() != ["b:1", "a:1"] {
            assert!(
                Instant::now() < deadline,
                "a did not re-enter the queue: {:?}",
                a.participants()
            );
            std::thread::yield_now();
        }
        assert!(!a.is_leader());
        drop(b);
        assert!(a.await_leadership(Duration::from_secs(5)));
    }

    #[test]
    fn nobody_leads_an_empty_election() {
        let s = crate::cluster::MemoryStorage::new();
        assert_eq!(current_leader(&s).unwrap(), None);
        assert!(participants(&s).unwrap().is_empty());
    }
}
