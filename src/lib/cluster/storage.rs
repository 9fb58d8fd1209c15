//! The storage seam under the cluster state: what Storm's `IStateStorage` is.
//!
//! [`StateStorage`] is a small ZooKeeper-shaped API (znodes addressed by `/`-separated paths, persistent,
//! ephemeral and ephemeral-sequential nodes, one-shot watches) with two implementations:
//! [`ZkStorage`](super::ZkStorage) on a real ZooKeeper and [`MemoryStorage`](super::MemoryStorage) in
//! memory for local mode and unit tests. Both implement exactly the semantics written on the trait, so the
//! typed [`ClusterState`](super::ClusterState) above them behaves the same on either.
//!
//! Paths are absolute within the storage (`/assignments/topo-1-1`); for ZooKeeper they are relative to
//! the chroot `storm.zookeeper.root`. This module only defines the contract; it does no I/O.

use std::fmt;
use std::sync::Arc;

use super::acl::NodeAcls;

/// What happened to a watched node (the event types of ZooKeeper one-shot watches, plus our own
/// session event).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WatchEventKind {
    /// A node watched with `exists`/`get_data` (while missing) was created.
    NodeCreated,
    /// A node watched with `get_data`, `exists` or `get_children` was deleted.
    NodeDeleted,
    /// The data of a node watched with `get_data` or `exists` changed.
    DataChanged,
    /// A child of a node watched with `get_children` was created or deleted.
    ChildrenChanged,
    /// The storage lost its session and built a new one: ephemeral nodes this process created have been
    /// re-created and outstanding watches re-armed, but changes made meanwhile were not observed. Callers
    /// should re-read everything they cache. The path is `/`.
    SessionReestablished,
    /// The connection to ZooKeeper was lost. The session may still be alive: if the client reconnects
    /// within the session timeout, watches and ephemeral nodes survive and `Reconnected` follows;
    /// otherwise `SessionReestablished` does. The path is `/`. (The in-memory storage never emits it.)
    Disconnected,
    /// The connection came back within the session timeout: nothing was lost. The path is `/`.
    Reconnected,
}

/// One watch notification, delivered to every listener once.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WatchEvent {
    pub kind: WatchEventKind,
    /// The node the watch was set on (relative to the storage root); `/` for session events.
    pub path: String,
}

impl WatchEvent {
    pub fn new(kind: WatchEventKind, path: impl Into<String>) -> WatchEvent {
        WatchEvent {
            kind,
            path: path.into(),
        }
    }
}

/// A callback for watch events. It runs on the storage's dispatch thread, never while the storage holds
/// a lock, so it may call back into the storage (for example to re-read with `watch = true`). It should
/// return quickly: events are delivered in order, one at a time.
pub type WatchListener = Arc<dyn Fn(&WatchEvent) + Send + Sync>;

/// Identifies a listener registered with [`StateStorage::add_listener`], for
/// [`StateStorage::remove_listener`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerId(pub u64);

/// The operation a [`StorageError`] happened in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Connect,
    SetData,
    SetEphemeral,
    CreateSequential,
    GetData,
    GetChildren,
    Exists,
    Delete,
    Mkdirs,
    /// Decoding a node's payload (done above the storage, by the cluster state).
    Decode,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Connect => "connect",
            Op::SetData => "set_data",
            Op::SetEphemeral => "set_ephemeral",
            Op::CreateSequential => "create_sequential",
            Op::GetData => "get_data",
            Op::GetChildren => "get_children",
            Op::Exists => "exists",
            Op::Delete => "delete",
            Op::Mkdirs => "mkdirs",
            Op::Decode => "decode",
        })
    }
}

/// Why a storage operation failed. Every variant names the operation and the path.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// ZooKeeper stayed unreachable through every retry (or the session could not be re-established in
    /// time). Retrying later may succeed.
    #[error("{op} {path}: ZooKeeper unavailable after retries: {reason}")]
    Unavailable {
        op: Op,
        path: String,
        reason: String,
    },
    /// The node an operation needs does not exist (for example the parent of an ephemeral node is
    /// itself ephemeral and cannot have children, or a sequential parent vanished).
    #[error("{op} {path}: no such node")]
    NoNode { op: Op, path: String },
    /// The node exists where the operation needs it not to (only from operations that cannot overwrite).
    #[error("{op} {path}: node already exists")]
    NodeExists { op: Op, path: String },
    /// The path is not a valid absolute node path.
    #[error("{op} {path}: invalid path: {reason}")]
    BadPath {
        op: Op,
        path: String,
        reason: String,
    },
    /// A payload stored at `path` could not be decoded.
    #[error("{op} {path}: corrupt data: {reason}")]
    Corrupt {
        op: Op,
        path: String,
        reason: String,
    },
    /// The storage was closed.
    #[error("{op} {path}: storage is closed")]
    Closed { op: Op, path: String },
    /// ZooKeeper refused the operation: the node's ACL does not grant this session's identity the
    /// permission (NoAuth), or the session's credentials were rejected (AuthFailed).
    #[error(
        "{op} {path}: not authorized by ZooKeeper ({reason}); check storm.zookeeper.auth.scheme / \
         storm.zookeeper.auth.payload (daemons) or storm.zookeeper.topology.auth.* (workers)"
    )]
    NoAuth {
        op: Op,
        path: String,
        reason: String,
    },
    /// Any other error reported by ZooKeeper.
    #[error("{op} {path}: {reason}")]
    Other {
        op: Op,
        path: String,
        reason: String,
    },
}

impl StorageError {
    /// The path the failed operation was about.
    pub fn path(&self) -> &str {
        match self {
            StorageError::Unavailable { path, .. }
            | StorageError::NoNode { path, .. }
            | StorageError::NodeExists { path, .. }
            | StorageError::BadPath { path, .. }
            | StorageError::Corrupt { path, .. }
            | StorageError::Closed { path, .. }
            | StorageError::NoAuth { path, .. }
            | StorageError::Other { path, .. } => path,
        }
    }

    /// The operation that failed.
    pub fn op(&self) -> Op {
        match self {
            StorageError::Unavailable { op, .. }
            | StorageError::NoNode { op, .. }
            | StorageError::NodeExists { op, .. }
            | StorageError::BadPath { op, .. }
            | StorageError::Corrupt { op, .. }
            | StorageError::Closed { op, .. }
            | StorageError::NoAuth { op, .. }
            | StorageError::Other { op, .. } => *op,
        }
    }

    /// True when the same call may succeed later (ZooKeeper unreachable), false for errors that will
    /// repeat (bad path, corrupt data, closed storage).
    pub fn is_retryable(&self) -> bool {
        matches!(self, StorageError::Unavailable { .. })
    }
}

/// A ZooKeeper-shaped store of znodes (Storm's `IStateStorage`).
///
/// Semantics shared by every implementation:
/// * Paths are absolute (`/a/b`), without a trailing slash; `/` is the root.
/// * Writes create missing parents as persistent nodes.
/// * `watch = true` arms a **one-shot** watch: the next change of that kind is delivered to every
///   listener once, then the watch is gone; the caller re-reads with `watch = true` to re-arm. Arming an
///   already armed watch is a no-op (the pending notification still comes once).
/// * A data watch (`get_data` or `exists`) fires `DataChanged` or `NodeDeleted`; when the node is
///   missing it fires `NodeCreated` on creation. A children watch fires `ChildrenChanged` or
///   `NodeDeleted`; on a missing node it waits for `NodeCreated`.
/// * Ephemeral nodes belong to the storage's session: they vanish when it is closed or its session ends.
///   An implementation that survives a lost session re-creates the ephemeral (non-sequential) nodes it
///   wrote and then delivers [`WatchEventKind::SessionReestablished`].
pub trait StateStorage: Send + Sync + fmt::Debug {
    /// Writes `data` to a persistent node, creating it (and its parents) or overwriting it.
    fn set_data(&self, path: &str, data: &[u8]) -> Result<(), StorageError>;

    /// Writes `data` to an ephemeral node owned by this session, creating it (parents are persistent)
    /// or overwriting it. A node left by another (older) session is replaced, so it vanishes with ours.
    fn set_ephemeral(&self, path: &str, data: &[u8]) -> Result<(), StorageError>;

    /// Creates an ephemeral-sequential node named `prefix` + a 10-digit zero-padded sequence number
    /// (parents are created persistent) and returns the full path of the created node.
    fn create_sequential(&self, prefix: &str, data: &[u8]) -> Result<String, StorageError>;

    /// The node's data, or `None` if the node does not exist. With `watch`, arms a data watch (an
    /// exists watch when the node is missing).
    fn get_data(&self, path: &str, watch: bool) -> Result<Option<Vec<u8>>, StorageError>;

    /// The names (not paths) of the node's children, unsorted. A missing node has no children: the
    /// result is empty, not an error. With `watch`, arms a children watch (an exists watch when the
    /// node is missing).
    fn get_children(&self, path: &str, watch: bool) -> Result<Vec<String>, StorageError>;

    /// Whether the node exists. With `watch`, arms a data watch (fires on creation, change, deletion).
    fn exists(&self, path: &str, watch: bool) -> Result<bool, StorageError>;

    /// Deletes the node and everything under it. A missing node is not an error.
    fn delete(&self, path: &str) -> Result<(), StorageError>;

    /// Creates the persistent node and its missing parents (empty data). Existing nodes are kept.
    fn mkdirs(&self, path: &str) -> Result<(), StorageError>;

    /// [`set_data`](Self::set_data), creating the node (not its parents, which get the storage's
    /// default ACLs) with `acls`. An existing node keeps its ACLs. Storages without ACLs (the
    /// in-memory one) ignore them.
    fn set_data_with_acls(
        &self,
        path: &str,
        data: &[u8],
        acls: &NodeAcls,
    ) -> Result<(), StorageError> {
        let _ = acls;
        self.set_data(path, data)
    }

    /// [`mkdirs`](Self::mkdirs), creating the last node with `acls` (missing parents get the
    /// storage's default ACLs). Storages without ACLs ignore them.
    fn mkdirs_with_acls(&self, path: &str, acls: &NodeAcls) -> Result<(), StorageError> {
        let _ = acls;
        self.mkdirs(path)
    }

    /// Registers a callback for every watch event of this storage.
    fn add_listener(&self, listener: WatchListener) -> ListenerId;

    /// Unregisters a listener; unknown ids are ignored.
    fn remove_listener(&self, id: ListenerId);

    /// Ends the session now (its ephemeral nodes vanish at once) and stops delivering events. Further
    /// operations fail with [`StorageError::Closed`]. Idempotent.
    fn close(&self);
}

/// Checks that `path` is absolute, has no empty or `.`/`..` segments and no trailing slash.
pub fn validate_path(op: Op, path: &str) -> Result<(), StorageError> {
    let bad = |reason: &str| {
        Err(StorageError::BadPath {
            op,
            path: path.to_string(),
            reason: reason.to_string(),
        })
    };
    if !path.starts_with('/') {
        return bad("must start with '/'");
    }
    if path == "/" {
        return Ok(());
    }
    if path.ends_with('/') {
        return bad("must not end with '/'");
    }
    for segment in path[1..].split('/') {
        match segment {
            "" => return bad("empty path segment"),
            "." | ".." => return bad("relative segment"),
            s if s.contains('\0') => return bad("NUL character"),
            _ => {}
        }
    }
    Ok(())
}

/// The parent of an absolute path (`/a/b` → `/a`, `/a` → `/`); `None` for the root.
pub fn parent_path(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// The last segment of an absolute path (`/a/b` → `b`).
pub fn node_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Joins a parent path and a child name (`/` + `a` → `/a`, `/a` + `b` → `/a/b`).
pub fn join_path(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// The numeric suffix of a sequential node name (`e0000000042` → 42), if it ends in digits.
pub fn sequence_of(name: &str) -> Option<i64> {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    name[name.len() - digits..].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_validated() {
        assert!(validate_path(Op::GetData, "/").is_ok());
        assert!(validate_path(Op::GetData, "/a/b-c").is_ok());
        for bad in ["", "a", "/a/", "/a//b", "/a/./b", "/.."] {
            let err = validate_path(Op::SetData, bad).unwrap_err();
            assert_eq!(err.path(), bad);
            assert_eq!(err.op(), Op::SetData);
            assert!(err.to_string().starts_with("set_data "), "{err}");
        }
    }

    #[test]
    fn path_helpers() {
        assert_eq!(parent_path("/a/b"), Some("/a"));
        assert_eq!(parent_path("/a"), Some("/"));
        assert_eq!(parent_path("/"), None);
        assert_eq!(node_name("/a/b"), "b");
        assert_eq!(join_path("/", "a"), "/a");
        assert_eq!(join_path("/a", "b"), "/a/b");
        assert_eq!(sequence_of("e0000000042"), Some(42));
        assert_eq!(sequence_of("_c_x-latch-0000000007"), Some(7));
        assert_eq!(sequence_of("abc"), None);
    }
}
