//! The cluster state: everything daemons share through ZooKeeper (Storm's `IStormClusterState` over
//! `IStateStorage`), laid out exactly like Storm's tree under `storm.zookeeper.root`.
//!
//! * [`storage`]: the [`StateStorage`] trait (znodes, ephemerals, one-shot watches) and its errors.
//! * [`zk`]: [`ZkStorage`], the ZooKeeper implementation (reconnects, re-creates ephemerals after a
//!   lost session, closes promptly).
//! * [`memory`]: [`MemoryStorage`], the in-memory implementation for local mode and unit tests.
//! * [`state`]: [`ClusterState`], the typed API (assignments, storm bases, supervisors, heartbeats,
//!   errors, nimbuses, …) with Storm's paths ([`paths`]) and payloads ([`codec`]).
//! * [`leader`]: [`LeaderElector`], nimbus leader election on `/leader-lock`.
//!
//! Architecture invariant: only `cluster::zk` talks to ZooKeeper; everything else goes through
//! [`StateStorage`] (usually via [`ClusterState`]). This module does not schedule, decide liveness or
//! interpret assignments; daemons do.

pub mod acl;
pub mod codec;
mod dispatch;
pub mod leader;
pub mod memory;
pub mod paths;
pub mod state;
pub mod storage;
pub mod zk;

pub use acl::{NodeAcls, TopologyAcls, ZkAuth};
pub use leader::{current_leader, participants, LeaderElector, LEADER_LOCK_PATH};
pub use memory::{MemoryStorage, MemoryStore};
pub use state::{
    CallbackId, ClusterCallback, ClusterEvent, ClusterState, ExecutorBeat, StormBaseUpdate, Subtree,
};
pub use storage::{
    ListenerId, Op, StateStorage, StorageError, WatchEvent, WatchEventKind, WatchListener,
};
pub use zk::{ZkSettings, ZkSettingsError, ZkStorage};
