//! [`ClusterState`]: the typed cluster state every daemon uses (Storm's `IStormClusterState`,
//! `StormClusterStateImpl`), over any [`StateStorage`].
//!
//! It keeps Storm's paths (see [`paths`](super::paths)) and payloads (Thrift structs from
//! [`crate::thrift`], gzip-encoded, see [`codec`]), creates Storm's top-level nodes at
//! construction, and mirrors Storm's methods: assignments, storm bases (with `update_storm`'s field
//! merge), supervisor heartbeats (ephemeral), worker heartbeats, errors (ephemeral-sequential, at most
//! 10 per component, plus a persistent last error), nimbus registration, credentials, log configs,
//! backpressure and blobstore nodes.
//!
//! Watches: reading with `watch = true` arms a one-shot watch; when it fires, the callbacks registered
//! with [`ClusterState::on_change`] for that subtree run once (on the storage's dispatch thread) and
//! re-read with `watch = true` to keep watching. After a lost session every callback also gets a
//! `SessionReestablished` event. A payload that does not decode is an error naming its path.
//!
//! ACLs: per-topology nodes take the topology's [`TopologyAcls`] (Storm passes the topology conf to
//! the same methods); everything else is created with the storage's default ACLs.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use thrift::protocol::TSerializable;
use thrift::OrderedFloat;

use super::acl::{NodeAcls, TopologyAcls};
use super::codec;
use super::paths::*;
use super::storage::{
    join_path, sequence_of, ListenerId, StateStorage, StorageError, WatchEvent, WatchEventKind,
};
use crate::thrift::{
    Assignment, ClusterWorkerHeartbeat, Credentials, DebugOptions, ErrorInfo, ExecutorInfo,
    ExecutorStats, LogConfig, NimbusSummary, NodeInfo, StormBase, SupervisorInfo,
    TopologyActionOptions, TopologyStatus,
};

/// The top-level subtrees callbacks can watch (the first path segment).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subtree {
    Assignments,
    Storms,
    Supervisors,
    WorkerBeats,
    Errors,
    Nimbuses,
    Credentials,
    LogConfigs,
    Backpressure,
    Blobstore,
    LeaderLock,
}

impl Subtree {
    /// The subtree a node path belongs to.
    pub fn of_path(path: &str) -> Option<Subtree> {
        let first = path.trim_start_matches('/').split('/').next()?;
        Some(match first {
            "assignments" => Subtree::Assignments,
            "storms" => Subtree::Storms,
            "supervisors" => Subtree::Supervisors,
            "workerbeats" => Subtree::WorkerBeats,
            "errors" => Subtree::Errors,
            "nimbuses" => Subtree::Nimbuses,
            "credentials" => Subtree::Credentials,
            "logconfigs" => Subtree::LogConfigs,
            "backpressure" => Subtree::Backpressure,
            "blobstore" => Subtree::Blobstore,
            "leader-lock" => Subtree::LeaderLock,
            _ => return None,
        })
    }
}

/// A watch notification as seen by cluster-state callbacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterEvent {
    /// The subtree that changed; `None` for `SessionReestablished` (which concerns every subtree).
    pub subtree: Option<Subtree>,
    /// The second path segment (a topology, supervisor or nimbus id), if the watch was on a node below
    /// the subtree root.
    pub id: Option<String>,
    /// The raw storage event.
    pub event: WatchEvent,
}

/// A callback for [`ClusterState::on_change`].
pub type ClusterCallback = Arc<dyn Fn(&ClusterEvent) + Send + Sync>;

/// Identifies a registered callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallbackId(u64);

#[derive(Default)]
struct Callbacks {
    next: AtomicU64,
    map: Mutex<BTreeMap<u64, (Subtree, ClusterCallback)>>,
}

impl Callbacks {
    fn dispatch(&self, event: &WatchEvent) {
        if matches!(
            event.kind,
            WatchEventKind::Disconnected | WatchEventKind::Reconnected
        ) {
            // Watches survive a reconnection; nothing to re-read.
            return;
        }
        let (subtree, id) = if event.kind == WatchEventKind::SessionReestablished {
            (None, None)
        } else {
            match Subtree::of_path(&event.path) {
                Some(s) => (
                    Some(s),
                    event
                        .path
                        .trim_start_matches('/')
                        .split('/')
                        .nth(1)
                        .map(str::to_string),
                ),
                None => {
                    tracing::debug!(path = %event.path, "watch event outside Storm's subtrees");
                    return;
                }
            }
        };
        let cluster_event = ClusterEvent {
            subtree,
            id,
            event: event.clone(),
        };
        let targets: Vec<ClusterCallback> = self
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|(s, _)| subtree.is_none() || subtree == Some(*s))
            .map(|(_, cb)| cb.clone())
            .collect();
        for cb in targets {
            cb(&cluster_event);
        }
    }
}

/// A changes to apply to a topology's [`StormBase`] with [`ClusterState::update_storm`]: `None` fields
/// keep the stored value (like the unset fields of the `StormBase` Storm's nimbus passes).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StormBaseUpdate {
    pub name: Option<String>,
    pub status: Option<TopologyStatus>,
    pub num_workers: Option<i32>,
    /// Merged key-wise into the stored map (new values win).
    pub component_executors: Option<BTreeMap<String, i32>>,
    pub launch_time_secs: Option<i32>,
    pub owner: Option<String>,
    pub topology_action_options: Option<TopologyActionOptions>,
    /// Not merged (as in Storm): the written base has exactly this value.
    pub prev_status: Option<TopologyStatus>,
    /// Merged key-wise: `enable` from the update, `samplingpct` added to the stored one.
    pub component_debug: Option<BTreeMap<String, DebugOptions>>,
    pub principal: Option<String>,
    pub topology_version: Option<String>,
}

/// One executor's view of its worker's heartbeat (Storm's `ExecutorBeat`).
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutorBeat {
    pub time_secs: i32,
    pub uptime_secs: i32,
    pub stats: Option<ExecutorStats>,
}

/// Storm's `IStormClusterState` over a [`StateStorage`].
pub struct ClusterState {
    storage: Arc<dyn StateStorage>,
    callbacks: Arc<Callbacks>,
    listener: ListenerId,
}

impl fmt::Debug for ClusterState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterState")
            .field("storage", &self.storage)
            .finish()
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl ClusterState {
    /// Wraps `storage` and creates Storm's top-level nodes (`/assignments`, `/storms`, `/supervisors`,
    /// `/workerbeats`, `/errors`, `/blobstore`, `/nimbuses`, `/logconfigs`, `/backpressure`).
    pub fn new(storage: Arc<dyn StateStorage>) -> Result<ClusterState, StorageError> {
        for root in ROOTS_CREATED_AT_START {
            storage.mkdirs(root)?;
        }
        let callbacks = Arc::new(Callbacks::default());
        let for_listener = Arc::downgrade(&callbacks);
        let listener = storage.add_listener(Arc::new(move |event: &WatchEvent| {
            if let Some(callbacks) = for_listener.upgrade() {
                callbacks.dispatch(event);
            }
        }));
        Ok(ClusterState {
            storage,
            callbacks,
            listener,
        })
    }

    /// The storage underneath (shared with, e.g., a [`LeaderElector`](super::LeaderElector)).
    pub fn storage(&self) -> &Arc<dyn StateStorage> {
        &self.storage
    }

    /// Registers `callback` for watch events in `subtree` (and `SessionReestablished`).
    pub fn on_change(&self, subtree: Subtree, callback: ClusterCallback) -> CallbackId {
        let id = self.callbacks.next.fetch_add(1, Ordering::SeqCst) + 1;
        self.callbacks
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, (subtree, callback));
        CallbackId(id)
    }

    /// Unregisters a callback; unknown ids are ignored.
    pub fn remove_callback(&self, id: CallbackId) {
        self.callbacks
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id.0);
    }

    /// Stops callbacks and closes the storage (Storm's `disconnect`): this process's ephemeral nodes
    /// (supervisor heartbeat, nimbus registration, errors) vanish.
    pub fn disconnect(&self) {
        self.storage.remove_listener(self.listener);
        self.storage.close();
    }

    fn read<T: TSerializable>(&self, path: &str, watch: bool) -> Result<Option<T>, StorageError> {
        match self.storage.get_data(path, watch)? {
            None => Ok(None),
            Some(bytes) => codec::decode(path, &bytes).map(Some),
        }
    }

    fn write<T: TSerializable>(&self, path: &str, value: &T) -> Result<(), StorageError> {
        self.storage.set_data(path, &codec::encode(value))
    }

    /// Writes a per-topology node: created with `acls` (Storm's `mkTopo*Acls`) when missing.
    fn write_with_acls<T: TSerializable>(
        &self,
        path: &str,
        value: &T,
        acls: &NodeAcls,
    ) -> Result<(), StorageError> {
        self.storage
            .set_data_with_acls(path, &codec::encode(value), acls)
    }

    // ---- assignments ----

    /// Ids of the topologies with an assignment.
    pub fn assignments(&self, watch: bool) -> Result<Vec<String>, StorageError> {
        self.storage.get_children(ASSIGNMENTS_SUBTREE, watch)
    }

    pub fn assignment_info(
        &self,
        storm_id: &str,
        watch: bool,
    ) -> Result<Option<Assignment>, StorageError> {
        self.read(&assignment_path(storm_id), watch)
    }

    /// Writes the topology's assignment; a new node gets the topology's read-only ACLs.
    pub fn set_assignment(
        &self,
        storm_id: &str,
        assignment: &Assignment,
        acls: &TopologyAcls,
    ) -> Result<(), StorageError> {
        self.write_with_acls(&assignment_path(storm_id), assignment, &acls.read_only)
    }

    /// Removes everything nimbus keeps for a killed topology: assignment, credentials, log config,
    /// profiler requests and the storm base.
    pub fn remove_storm(&self, storm_id: &str) -> Result<(), StorageError> {
        self.storage.delete(&assignment_path(storm_id))?;
        self.storage.delete(&credentials_path(storm_id))?;
        self.storage.delete(&log_config_path(storm_id))?;
        self.storage.delete(&profiler_config_path(storm_id))?;
        self.remove_storm_base(storm_id)
    }

    // ---- storm bases ----

    /// Ids of the topologies with a storm base (the live topologies).
    pub fn active_storms(&self) -> Result<Vec<String>, StorageError> {
        self.storage.get_children(STORMS_SUBTREE, false)
    }

    /// Like [`active_storms`](Self::active_storms), optionally arming a children watch.
    pub fn storms(&self, watch: bool) -> Result<Vec<String>, StorageError> {
        self.storage.get_children(STORMS_SUBTREE, watch)
    }

    pub fn storm_base(
        &self,
        storm_id: &str,
        watch: bool,
    ) -> Result<Option<StormBase>, StorageError> {
        self.read(&storm_path(storm_id), watch)
    }

    /// Writes a new topology's base (Storm's `activateStorm`), with the topology's read-only ACLs.
    pub fn activate_storm(
        &self,
        storm_id: &str,
        base: &StormBase,
        acls: &TopologyAcls,
    ) -> Result<(), StorageError> {
        self.write_with_acls(&storm_path(storm_id), base, &acls.read_only)
    }

    /// Merges `update` into the stored base like Storm's `updateStorm` and writes it; returns the
    /// written base. A missing base is an error ([`StorageError::NoNode`]).
    pub fn update_storm(
        &self,
        storm_id: &str,
        update: StormBaseUpdate,
    ) -> Result<StormBase, StorageError> {
        let path = storm_path(storm_id);
        let Some(old) = self.read::<StormBase>(&path, false)? else {
            return Err(StorageError::NoNode {
                op: super::storage::Op::GetData,
                path,
            });
        };
        let merged = merge_storm_base(old, update);
        self.write(&path, &merged)?;
        Ok(merged)
    }

    pub fn remove_storm_base(&self, storm_id: &str) -> Result<(), StorageError> {
        self.storage.delete(&storm_path(storm_id))
    }

    // ---- supervisors ----

    /// Ids of the live supervisors (their ephemeral nodes).
    pub fn supervisors(&self, watch: bool) -> Result<Vec<String>, StorageError> {
        self.storage.get_children(SUPERVISORS_SUBTREE, watch)
    }

    pub fn supervisor_info(
        &self,
        supervisor_id: &str,
    ) -> Result<Option<SupervisorInfo>, StorageError> {
        self.read(&supervisor_path(supervisor_id), false)
    }

    /// Every live supervisor's info, by id (supervisors that vanish while reading are skipped).
    pub fn all_supervisor_info(&self) -> Result<BTreeMap<String, SupervisorInfo>, StorageError> {
        let mut out = BTreeMap::new();
        for id in self.supervisors(false)? {
            if let Some(info) = self.supervisor_info(&id)? {
                out.insert(id, info);
            }
        }
        Ok(out)
    }

    /// Writes the supervisor's ephemeral node (it vanishes when the supervisor's session ends).
    pub fn supervisor_heartbeat(
        &self,
        supervisor_id: &str,
        info: &SupervisorInfo,
    ) -> Result<(), StorageError> {
        let path = supervisor_path(supervisor_id);
        self.storage.set_ephemeral(&path, &codec::encode(info))
    }

    // ---- worker heartbeats ----

    pub fn worker_heartbeat(
        &self,
        storm_id: &str,
        node: &str,
        port: u16,
        heartbeat: &ClusterWorkerHeartbeat,
    ) -> Result<(), StorageError> {
        self.write(&workerbeat_path(storm_id, node, port), heartbeat)
    }

    pub fn get_worker_heartbeat(
        &self,
        storm_id: &str,
        node: &str,
        port: u16,
    ) -> Result<Option<ClusterWorkerHeartbeat>, StorageError> {
        self.read(&workerbeat_path(storm_id, node, port), false)
    }

    pub fn remove_worker_heartbeat(
        &self,
        storm_id: &str,
        node: &str,
        port: u16,
    ) -> Result<(), StorageError> {
        self.storage.delete(&workerbeat_path(storm_id, node, port))
    }

    /// Topology ids with a heartbeat directory.
    pub fn heartbeat_storms(&self) -> Result<Vec<String>, StorageError> {
        self.storage.get_children(WORKERBEATS_SUBTREE, false)
    }

    /// Every worker heartbeat of a topology, keyed by `<node>-<port>`.
    pub fn worker_heartbeats(
        &self,
        storm_id: &str,
    ) -> Result<BTreeMap<String, ClusterWorkerHeartbeat>, StorageError> {
        let root = workerbeat_storm_root(storm_id);
        let mut out = BTreeMap::new();
        for child in self.storage.get_children(&root, false)? {
            if let Some(hb) = self.read(&join_path(&root, &child), false)? {
                out.insert(child, hb);
            }
        }
        Ok(out)
    }

    /// The heartbeat of every assigned executor, read from the heartbeat of the worker it is assigned to
    /// (Storm's `executorBeats`: only assigned node+ports are read, so a stale worker elsewhere cannot
    /// count). Keys are the assignment's executor ids `[start, end]`.
    pub fn executor_beats(
        &self,
        storm_id: &str,
        executor_node_port: &BTreeMap<Vec<i64>, NodeInfo>,
    ) -> Result<BTreeMap<Vec<i64>, ExecutorBeat>, StorageError> {
        let mut by_worker: BTreeMap<(String, i64), Vec<&Vec<i64>>> = BTreeMap::new();
        for (executor, node_info) in executor_node_port {
            if let Some(port) = node_info.port.iter().next() {
                by_worker
                    .entry((node_info.node.clone(), *port))
                    .or_default()
                    .push(executor);
            }
        }
        let mut out = BTreeMap::new();
        for ((node, port), executors) in by_worker {
            let Ok(port) = u16::try_from(port) else {
                continue;
            };
            let Some(hb) = self.get_worker_heartbeat(storm_id, &node, port)? else {
                continue;
            };
            for executor in executors {
                let (Some(&start), Some(&end)) = (executor.first(), executor.last()) else {
                    continue;
                };
                let info = ExecutorInfo {
                    task_start: start as i32,
                    task_end: end as i32,
                };
                out.insert(
                    executor.clone(),
                    ExecutorBeat {
                        time_secs: hb.time_secs,
                        uptime_secs: hb.uptime_secs,
                        stats: hb.executor_stats.get(&info).cloned(),
                    },
                );
            }
        }
        Ok(out)
    }

    /// Creates the topology's heartbeat directory (nimbus, at submit).
    /// The directory gets the topology's read-write ACLs: its workers write under it.
    pub fn setup_heartbeats(
        &self,
        storm_id: &str,
        acls: &TopologyAcls,
    ) -> Result<(), StorageError> {
        self.storage
            .mkdirs_with_acls(&workerbeat_storm_root(storm_id), &acls.read_write)
    }

    /// Removes the topology's heartbeat directory (nimbus cleanup).
    pub fn teardown_heartbeats(&self, storm_id: &str) -> Result<(), StorageError> {
        self.storage.delete(&workerbeat_storm_root(storm_id))
    }

    // ---- errors ----

    /// Creates the topology's error directory (nimbus, at submit).
    /// The directory gets the topology's read-write ACLs: its workers report errors under it.
    pub fn setup_errors(&self, storm_id: &str, acls: &TopologyAcls) -> Result<(), StorageError> {
        self.storage
            .mkdirs_with_acls(&error_storm_root(storm_id), &acls.read_write)
    }

    /// Removes the topology's errors (nimbus cleanup).
    pub fn teardown_topology_errors(&self, storm_id: &str) -> Result<(), StorageError> {
        self.storage.delete(&error_storm_root(storm_id))
    }

    /// Topology ids with an error directory.
    pub fn error_topologies(&self) -> Result<Vec<String>, StorageError> {
        self.storage.get_children(ERRORS_SUBTREE, false)
    }

    /// Records an error of `component_id` reported by the worker at `node:port`, now.
    pub fn report_error(
        &self,
        storm_id: &str,
        component_id: &str,
        node: &str,
        port: u16,
        error: &str,
    ) -> Result<(), StorageError> {
        let info = ErrorInfo {
            error: error.to_string(),
            error_time_secs: i32::try_from(now_secs()).unwrap_or(i32::MAX),
            host: Some(node.to_string()),
            port: Some(i32::from(port)),
        };
        self.report_error_info(storm_id, component_id, &info)
    }

    /// Records `info` like Storm's `reportError`: a new ephemeral-sequential `e<seq>` node, the
    /// persistent `<component>-last-error`, then the oldest nodes are deleted so at most 10 remain.
    pub fn report_error_info(
        &self,
        storm_id: &str,
        component_id: &str,
        info: &ErrorInfo,
    ) -> Result<(), StorageError> {
        let dir = error_path(storm_id, component_id);
        let last = last_error_path(storm_id, component_id);
        let data = codec::encode(info);
        self.storage.mkdirs(&dir)?;
        self.storage.create_sequential(&format!("{dir}/e"), &data)?;
        self.storage.set_data(&last, &data)?;
        let mut children = self.storage.get_children(&dir, false)?;
        children.sort_by_key(|c| sequence_of(c).unwrap_or(i64::MIN));
        let excess = children.len().saturating_sub(MAX_ERRORS_KEPT);
        for child in &children[..excess] {
            self.storage.delete(&join_path(&dir, child))?;
        }
        Ok(())
    }

    /// The component's recent errors, newest first.
    pub fn errors(
        &self,
        storm_id: &str,
        component_id: &str,
    ) -> Result<Vec<ErrorInfo>, StorageError> {
        let dir = error_path(storm_id, component_id);
        let mut found = Vec::new();
        for child in self.storage.get_children(&dir, false)? {
            let path = join_path(&dir, &child);
            if let Some(info) = self.read::<ErrorInfo>(&path, false)? {
                found.push((info.error_time_secs, sequence_of(&child).unwrap_or(0), info));
            }
        }
        found.sort_by_key(|(time, seq, _)| std::cmp::Reverse((*time, *seq)));
        Ok(found.into_iter().map(|(_, _, info)| info).collect())
    }

    /// The component's last error (kept even after the reporting worker's session ended).
    pub fn last_error(
        &self,
        storm_id: &str,
        component_id: &str,
    ) -> Result<Option<ErrorInfo>, StorageError> {
        self.read(&last_error_path(storm_id, component_id), false)
    }

    // ---- nimbuses ----

    /// Registers a nimbus (ephemeral; `nimbus_id` is `host:port`). Storm stores the launch time in
    /// `uptime_secs`; readers convert it.
    pub fn add_nimbus_host(
        &self,
        nimbus_id: &str,
        summary: &NimbusSummary,
    ) -> Result<(), StorageError> {
        let path = nimbus_path(nimbus_id);
        self.storage.set_ephemeral(&path, &codec::encode(summary))
    }

    /// Every registered nimbus.
    pub fn nimbuses(&self) -> Result<Vec<NimbusSummary>, StorageError> {
        let mut out = Vec::new();
        for child in self.storage.get_children(NIMBUSES_SUBTREE, false)? {
            if let Some(summary) = self.read(&nimbus_path(&child), false)? {
                out.push(summary);
            }
        }
        Ok(out)
    }

    // ---- credentials, log configs, backpressure, blobstore ----

    pub fn set_credentials(
        &self,
        storm_id: &str,
        credentials: &Credentials,
        acls: &TopologyAcls,
    ) -> Result<(), StorageError> {
        self.write_with_acls(&credentials_path(storm_id), credentials, &acls.read_only)
    }

    pub fn credentials(
        &self,
        storm_id: &str,
        watch: bool,
    ) -> Result<Option<Credentials>, StorageError> {
        self.read(&credentials_path(storm_id), watch)
    }

    pub fn set_topology_log_config(
        &self,
        storm_id: &str,
        config: &LogConfig,
        acls: &TopologyAcls,
    ) -> Result<(), StorageError> {
        self.write_with_acls(&log_config_path(storm_id), config, &acls.read_only)
    }

    pub fn topology_log_config(
        &self,
        storm_id: &str,
        watch: bool,
    ) -> Result<Option<LogConfig>, StorageError> {
        self.read(&log_config_path(storm_id), watch)
    }

    pub fn setup_backpressure(
        &self,
        storm_id: &str,
        acls: &TopologyAcls,
    ) -> Result<(), StorageError> {
        self.storage
            .mkdirs_with_acls(&backpressure_storm_root(storm_id), &acls.read_write)
    }

    pub fn remove_backpressure(&self, storm_id: &str) -> Result<(), StorageError> {
        self.storage.delete(&backpressure_storm_root(storm_id))
    }

    pub fn backpressure_topologies(&self) -> Result<Vec<String>, StorageError> {
        self.storage.get_children(BACKPRESSURE_SUBTREE, false)
    }

    /// Blob keys with state in ZooKeeper.
    pub fn blobstore(&self, watch: bool) -> Result<Vec<String>, StorageError> {
        self.storage.get_children(BLOBSTORE_SUBTREE, watch)
    }

    /// Records that the nimbus `host_port` holds `version` of blob `key` (an ephemeral
    /// `<host:port>-<version>` node; its older entries are removed first).
    pub fn setup_blob(&self, key: &str, host_port: &str, version: i32) -> Result<(), StorageError> {
        let dir = blobstore_path(key);
        self.storage.mkdirs(&dir)?;
        let prefix = format!("{host_port}-");
        for child in self.storage.get_children(&dir, false)? {
            if child.starts_with(&prefix) {
                self.storage.delete(&join_path(&dir, &child))?;
            }
        }
        self.storage
            .set_ephemeral(&format!("{dir}/{host_port}-{version}"), &[])
    }

    /// The `<host:port>-<version>` entries of a blob.
    pub fn blobstore_info(&self, key: &str) -> Result<Vec<String>, StorageError> {
        self.storage.get_children(&blobstore_path(key), false)
    }

    pub fn remove_blobstore_key(&self, key: &str) -> Result<(), StorageError> {
        self.storage.delete(&blobstore_path(key))
    }

    /// Watches `/blobstore/<key>`'s children (a nimbus registering or dropping a version).
    pub fn watch_blobstore_key(&self, key: &str) -> Result<Vec<String>, StorageError> {
        self.storage.get_children(&blobstore_path(key), true)
    }

    /// The latest update sequence number of blob `key` (`/blobstoremaxkeysequencenumber/<key>`).
    pub fn blob_max_sequence(&self, key: &str) -> Result<Option<i32>, StorageError> {
        Ok(self
            .storage
            .get_data(&blobstore_max_sequence_path(key), false)?
            .and_then(|b| <[u8; 4]>::try_from(b.as_slice()).ok())
            .map(i32::from_be_bytes))
    }

    pub fn set_blob_max_sequence(&self, key: &str, sequence: i32) -> Result<(), StorageError> {
        self.storage
            .set_data(&blobstore_max_sequence_path(key), &sequence.to_be_bytes())
    }

    pub fn remove_blob_max_sequence(&self, key: &str) -> Result<(), StorageError> {
        self.storage.delete(&blobstore_max_sequence_path(key))
    }
}

impl Drop for ClusterState {
    fn drop(&mut self) {
        self.storage.remove_listener(self.listener);
    }
}

fn non_blank(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

/// Storm's `updateStorm` merge.
pub fn merge_storm_base(old: StormBase, update: StormBaseUpdate) -> StormBase {
    let component_executors = match (old.component_executors, update.component_executors) {
        (Some(mut merged), new) => {
            merged.extend(new.unwrap_or_default());
            (!merged.is_empty()).then_some(merged)
        }
        (None, new) => new,
    };
    let old_debug = old.component_debug.unwrap_or_default();
    let new_debug = update.component_debug.unwrap_or_default();
    let mut component_debug = BTreeMap::new();
    for key in old_debug.keys().chain(new_debug.keys()) {
        let mut enable = false;
        let mut samplingpct = 0.0;
        if let Some(o) = old_debug.get(key) {
            enable = o.enable.unwrap_or(false);
            samplingpct = o.samplingpct.map(|p| p.0).unwrap_or(0.0);
        }
        if let Some(n) = new_debug.get(key) {
            enable = n.enable.unwrap_or(false);
            samplingpct += n.samplingpct.map(|p| p.0).unwrap_or(0.0);
        }
        component_debug.insert(
            key.clone(),
            DebugOptions {
                enable: Some(enable),
                samplingpct: Some(OrderedFloat(samplingpct)),
            },
        );
    }
    StormBase {
        name: non_blank(update.name).unwrap_or(old.name),
        status: update.status.unwrap_or(old.status),
        num_workers: update
            .num_workers
            .filter(|n| *n != 0)
            .unwrap_or(old.num_workers),
        component_executors,
        launch_time_secs: update
            .launch_time_secs
            .filter(|t| *t != 0)
            .or(old.launch_time_secs),
        owner: non_blank(update.owner).or(old.owner),
        topology_action_options: update
            .topology_action_options
            .or(old.topology_action_options),
        prev_status: update.prev_status,
        component_debug: (!component_debug.is_empty()).then_some(component_debug),
        principal: non_blank(update.principal).or(old.principal),
        topology_version: non_blank(update.topology_version).or(old.topology_version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::memory::MemoryStore;
    use crate::thrift::{ExecutorSpecificStats, KillOptions, SpoutStats};
    use std::collections::BTreeSet;
    use std::sync::mpsc;
    use std::time::Duration;

    fn state(store: &MemoryStore) -> ClusterState {
        ClusterState::new(Arc::new(store.session())).unwrap()
    }

    fn base(name: &str) -> StormBase {
        StormBase {
            name: name.into(),
            status: TopologyStatus::ACTIVE,
            num_workers: 2,
            component_executors: Some(BTreeMap::from([("spout".into(), 2), ("bolt".into(), 4)])),
            launch_time_secs: Some(1_700_000_000),
            owner: Some("alice".into()),
            topology_action_options: None,
            prev_status: None,
            component_debug: None,
            principal: None,
            topology_version: Some("1.0".into()),
        }
    }

    fn node_info(node: &str, port: i64) -> NodeInfo {
        NodeInfo {
            node: node.into(),
            port: BTreeSet::from([port]),
        }
    }

    fn assignment() -> Assignment {
        Assignment {
            master_code_dir: "/storm-local/nimbus".into(),
            node_host: Some(BTreeMap::from([("sup-1".into(), "host-1".into())])),
            executor_node_port: Some(BTreeMap::from([
                (vec![1, 2], node_info("sup-1", 6700)),
                (vec![3, 3], node_info("sup-1", 6701)),
            ])),
            executor_start_time_secs: Some(BTreeMap::from([(vec![1, 2], 1_700_000_001)])),
            worker_resources: None,
            total_shared_off_heap: None,
            owner: Some("alice".into()),
        }
    }

    fn heartbeat(storm_id: &str) -> ClusterWorkerHeartbeat {
        let stats = ExecutorStats {
            emitted: BTreeMap::from([(
                ":all-time".into(),
                BTreeMap::from([("default".into(), 10)]),
            )]),
            transferred: BTreeMap::new(),
            specific: ExecutorSpecificStats::Spout(SpoutStats {
                acked: BTreeMap::new(),
                failed: BTreeMap::new(),
                complete_ms_avg: BTreeMap::new(),
                failed_timeout: None,
                failed_explicit: None,
            }),
            rate: OrderedFloat(1.0),
            reported_errors: None,
        };
        ClusterWorkerHeartbeat {
            storm_id: storm_id.into(),
            executor_stats: BTreeMap::from([(
                ExecutorInfo {
                    task_start: 1,
                    task_end: 2,
                },
                stats,
            )]),
            time_secs: 1_700_000_100,
            uptime_secs: 30,
        }
    }

    #[test]
    fn construction_creates_storms_roots() {
        let store = MemoryStore::new();
        let _cs = state(&store);
        assert_eq!(
            store.paths(),
            [
                "/assignments",
                "/backpressure",
                "/blobstore",
                "/errors",
                "/logconfigs",
                "/nimbuses",
                "/storms",
                "/supervisors",
                "/workerbeats"
            ]
        );
    }

    #[test]
    fn round_trips() {
        let store = MemoryStore::new();
        let cs = state(&store);
        cs.set_assignment("t-1", &assignment(), &TopologyAcls::open())
            .unwrap();
        assert_eq!(
            cs.assignment_info("t-1", false).unwrap(),
            Some(assignment())
        );
        assert_eq!(cs.assignments(false).unwrap(), ["t-1"]);
        assert_eq!(cs.assignment_info("nope", false).unwrap(), None);

        cs.activate_storm("t-1", &base("wc"), &TopologyAcls::open())
            .unwrap();
        assert_eq!(cs.storm_base("t-1", false).unwrap(), Some(base("wc")));
        assert_eq!(cs.active_storms().unwrap(), ["t-1"]);

        let info = SupervisorInfo {
            time_secs: 1,
            hostname: "host-1".into(),
            assignment_id: Some("sup-1".into()),
            used_ports: Some(vec![]),
            meta: Some(vec![6700, 6701]),
            scheduler_meta: None,
            uptime_secs: Some(5),
            version: Some(crate::STORM_VERSION.into()),
            resources_map: None,
            server_port: Some(6628),
        };
        cs.supervisor_heartbeat("sup-1", &info).unwrap();
        assert_eq!(cs.supervisors(false).unwrap(), ["sup-1"]);
        assert_eq!(cs.supervisor_info("sup-1").unwrap(), Some(info.clone()));
        assert_eq!(
            cs.all_supervisor_info().unwrap(),
            BTreeMap::from([("sup-1".to_string(), info)])
        );

        cs.setup_heartbeats("t-1", &TopologyAcls::open()).unwrap();
        cs.worker_heartbeat("t-1", "sup-1", 6700, &heartbeat("t-1"))
            .unwrap();
        assert_eq!(
            cs.get_worker_heartbeat("t-1", "sup-1", 6700).unwrap(),
            Some(heartbeat("t-1"))
        );
        assert_eq!(cs.heartbeat_storms().unwrap(), ["t-1"]);
        assert_eq!(
            cs.worker_heartbeats("t-1")
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["sup-1-6700"]
        );
        let beats = cs
            .executor_beats("t-1", assignment().executor_node_port.as_ref().unwrap())
            .unwrap();
        assert_eq!(
            beats.len(),
            1,
            "only the worker with a heartbeat counts: {beats:?}"
        );
        let beat = &beats[&vec![1, 2]];
        assert_eq!((beat.time_secs, beat.uptime_secs), (1_700_000_100, 30));
        assert!(beat.stats.is_some());
        cs.remove_worker_heartbeat("t-1", "sup-1", 6700).unwrap();
        assert_eq!(cs.get_worker_heartbeat("t-1", "sup-1", 6700).unwrap(), None);
        cs.teardown_heartbeats("t-1").unwrap();
        assert!(cs.heartbeat_storms().unwrap().is_empty());

        let nimbus = NimbusSummary {
            host: "host-1".into(),
            port: 6627,
            uptime_secs: 1_700_000_000,
            is_leader: false,
            version: crate::STORM_VERSION.into(),
            tls_port: None,
        };
        cs.add_nimbus_host("host-1:6627", &nimbus).unwrap();
        assert_eq!(cs.nimbuses().unwrap(), [nimbus]);

        let creds = Credentials {
            creds: BTreeMap::from([("k".into(), "v".into())]),
            topo_owner: Some("alice".into()),
        };
        cs.set_credentials("t-1", &creds, &TopologyAcls::open())
            .unwrap();
        assert_eq!(cs.credentials("t-1", false).unwrap(), Some(creds));
        cs.set_topology_log_config(
            "t-1",
            &LogConfig {
                named_logger_level: None,
            },
            &TopologyAcls::open(),
        )
        .unwrap();
        assert!(cs.topology_log_config("t-1", false).unwrap().is_some());

        cs.remove_storm("t-1").unwrap();
        assert_eq!(cs.assignment_info("t-1", false).unwrap(), None);
        assert_eq!(cs.storm_base("t-1", false).unwrap(), None);
        assert_eq!(cs.credentials("t-1", false).unwrap(), None);
        assert_eq!(cs.topology_log_config("t-1", false).unwrap(), None);
    }

    #[test]
    fn errors_are_trimmed_to_ten_newest_first() {
        let store = MemoryStore::new();
        let cs = state(&store);
        cs.setup_errors("t-1", &TopologyAcls::open()).unwrap();
        for i in 0..12 {
            let info = ErrorInfo {
                error: format!("error {i}"),
                error_time_secs: 1_700_000_000 + i,
                host: Some("h".into()),
                port: Some(6700),
            };
            cs.report_error_info("t-1", "split sentence", &info)
                .unwrap();
        }
        let dir = error_path("t-1", "split sentence");
        assert_eq!(dir, "/errors/t-1/split+sentence");
        let mut children = cs.storage().get_children(&dir, false).unwrap();
        children.sort();
        assert_eq!(children.len(), 10);
        assert_eq!(
            children.first().map(String::as_str),
            Some("e0000000002"),
            "the two oldest were deleted"
        );
        let errors = cs.errors("t-1", "split sentence").unwrap();
        assert_eq!(errors.len(), 10);
        assert_eq!(errors[0].error, "error 11");
        assert_eq!(errors[9].error, "error 2");
        assert_eq!(
            cs.last_error("t-1", "split sentence")
                .unwrap()
                .unwrap()
                .error,
            "error 11"
        );
        assert_eq!(cs.error_topologies().unwrap(), ["t-1"]);
        assert!(cs.errors("t-1", "other").unwrap().is_empty());

        // Errors are ephemeral: they vanish with the reporting session; the last error stays.
        cs.report_error("t-1", "bolt", "h", 6701, "java.lang.RuntimeException")
            .unwrap();
        let reader = state(&store);
        drop(cs);
        assert!(reader.errors("t-1", "split sentence").unwrap().is_empty());
        assert!(reader.last_error("t-1", "bolt").unwrap().is_some());
        reader.teardown_topology_errors("t-1").unwrap();
        assert!(reader.error_topologies().unwrap().is_empty());
    }

    #[test]
    fn update_storm_merges_like_storm() {
        let store = MemoryStore::new();
        let cs = state(&store);
        let mut original = base("wc");
        original.component_debug = Some(BTreeMap::from([(
            "spout".into(),
            DebugOptions {
                enable: Some(true),
                samplingpct: Some(OrderedFloat(10.0)),
            },
        )]));
        cs.activate_storm("t-1", &original, &TopologyAcls::open())
            .unwrap();

        let kill = TopologyActionOptions::KillOptions(KillOptions {
            wait_secs: Some(30),
        });
        let merged = cs
            .update_storm(
                "t-1",
                StormBaseUpdate {
                    status: Some(TopologyStatus::KILLED),
                    component_executors: Some(BTreeMap::from([
                        ("bolt".into(), 8),
                        ("__acker".into(), 1),
                    ])),
                    component_debug: Some(BTreeMap::from([
                        (
                            "spout".into(),
                            DebugOptions {
                                enable: Some(false),
                                samplingpct: Some(OrderedFloat(5.0)),
                            },
                        ),
                        (
                            "t-1".into(),
                            DebugOptions {
                                enable: Some(true),
                                samplingpct: Some(OrderedFloat(1.0)),
                            },
                        ),
                    ])),
                    topology_action_options: Some(kill.clone()),
                    num_workers: Some(0),
                    owner: Some("  ".into()),
                    ..StormBaseUpdate::default()
                },
            )
            .unwrap();
        assert_eq!(cs.storm_base("t-1", false).unwrap().as_ref(), Some(&merged));
        assert_eq!(merged.name, "wc", "unset name keeps the old one");
        assert_eq!(merged.status, TopologyStatus::KILLED);
        assert_eq!(merged.num_workers, 2, "0 workers means unset");
        assert_eq!(
            merged.owner.as_deref(),
            Some("alice"),
            "blank owner means unset"
        );
        assert_eq!(merged.launch_time_secs, Some(1_700_000_000));
        assert_eq!(merged.topology_version.as_deref(), Some("1.0"));
        assert_eq!(
            merged.component_executors,
            Some(BTreeMap::from([
                ("spout".into(), 2),
                ("bolt".into(), 8),
                ("__acker".into(), 1)
            ]))
        );
        let debug = merged.component_debug.unwrap();
        assert_eq!(
            debug["spout"],
            DebugOptions {
                enable: Some(false),
                samplingpct: Some(OrderedFloat(15.0))
            }
        );
        assert_eq!(
            debug["t-1"],
            DebugOptions {
                enable: Some(true),
                samplingpct: Some(OrderedFloat(1.0))
            }
        );
        assert_eq!(merged.topology_action_options, Some(kill.clone()));

        // Unset action options keep the stored ones; prev_status is taken as given.
        let again = cs
            .update_storm(
                "t-1",
                StormBaseUpdate {
                    prev_status: Some(TopologyStatus::ACTIVE),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(again.topology_action_options, Some(kill));
        assert_eq!(again.prev_status, Some(TopologyStatus::ACTIVE));
        assert_eq!(again.status, TopologyStatus::KILLED);

        assert!(matches!(
            cs.update_storm("missing", StormBaseUpdate::default()),
            Err(StorageError::NoNode { .. })
        ));
    }

    #[test]
    fn callbacks_fire_once_per_armed_watch() {
        let store = MemoryStore::new();
        let reader = state(&store);
        let writer = state(&store);
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        reader.on_change(
            Subtree::Assignments,
            Arc::new(move |e: &ClusterEvent| {
                let _ = tx.lock().unwrap().send(e.clone());
            }),
        );
        assert!(reader.assignments(true).unwrap().is_empty());
        writer
            .set_assignment("t-1", &assignment(), &TopologyAcls::open())
            .unwrap();
        let event = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(event.subtree, Some(Subtree::Assignments));
        assert_eq!(event.event.kind, WatchEventKind::ChildrenChanged);
        // Not re-armed: the next change is not reported...
        writer
            .set_assignment("t-2", &assignment(), &TopologyAcls::open())
            .unwrap();
        // ...until the callback owner re-reads with a watch.
        reader.assignment_info("t-1", true).unwrap();
        writer
            .set_assignment("t-1", &assignment(), &TopologyAcls::open())
            .unwrap();
        let event = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(event.id.as_deref(), Some("t-1"));
        assert_eq!(
            event.event,
            WatchEvent::new(WatchEventKind::DataChanged, "/assignments/t-1")
        );
        // Other subtrees do not reach this callback.
        reader.storms(true).unwrap();
        writer
            .activate_storm("t-1", &base("wc"), &TopologyAcls::open())
            .unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
    }

    #[test]
    fn session_loss_reaches_every_callback() {
        let store = MemoryStore::new();
        let storage = Arc::new(store.session());
        let cs = ClusterState::new(storage.clone()).unwrap();
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        cs.on_change(
            Subtree::Supervisors,
            Arc::new(move |e: &ClusterEvent| {
                let _ = tx.lock().unwrap().send(e.clone());
            }),
        );
        storage.simulate_session_expiry();
        let event = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(event.subtree, None);
        assert_eq!(event.event.kind, WatchEventKind::SessionReestablished);
    }

    #[test]
    fn corrupt_payloads_are_errors_naming_the_path() {
        let store = MemoryStore::new();
        let cs = state(&store);
        cs.storage()
            .set_data("/assignments/bad", b"\x0b\x00\x01\xff\xff\xff\xff")
            .unwrap();
        let err = cs.assignment_info("bad", false).unwrap_err();
        assert_eq!(err.path(), "/assignments/bad");
        assert!(err.to_string().contains("/assignments/bad"), "{err}");
        cs.storage()
            .set_ephemeral("/supervisors/bad", b"garbage")
            .unwrap();
        assert!(cs.all_supervisor_info().is_err());
    }

    #[test]
    fn merge_without_stored_maps() {
        let mut old = base("wc");
        old.component_executors = None;
        let merged = merge_storm_base(old, StormBaseUpdate::default());
        assert_eq!(merged.component_executors, None);
        assert_eq!(merged.component_debug, None);
        let merged = merge_storm_base(base("wc"), StormBaseUpdate::default());
        assert_eq!(merged.component_executors, base("wc").component_executors);
    }
}
