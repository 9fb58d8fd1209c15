//! Scheduling, liveness, rebalancing and cleanup on the nimbus (reference §3.3, §3.6, §3.7): Storm's
//! `mkAssignments` over [`super::scheduler`], the executor heartbeat cache
//! ([`super::heartbeats`]), the REBALANCE / DO_REBALANCE transitions, `doCleanup`, `cleanInbox` and
//! `getTopologyInfo`. Every write happens on the leader under the submit lock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::core::{
    lock, no_transition, now_secs, status_name, to_i32, transition, Nimbus, NimbusError,
    TopologyAction, Transition,
};
use super::scheduler::{self, Executor, Slot, TopologyDetails};
use crate::thrift::{
    Assignment, ExecutorInfo, ExecutorSummary, NodeInfo, RebalanceOptions, StormBase,
    TopologyActionOptions, TopologyInfo, TopologyStatus, WorkerResources,
};
use crate::topology::system::{compute_executors, is_system_id, java_string_cmp};
use thrift::OrderedFloat;

type Result<T> = std::result::Result<T, NimbusError>;

/// `executor_node_port` of an assignment as executor → slot, without the system executor.
pub fn assignment_slots(a: &Assignment) -> BTreeMap<Executor, Slot> {
    let mut out = BTreeMap::new();
    for (k, ni) in a.executor_node_port.iter().flatten() {
        let (Some(info), Some(port)) = (ExecutorInfo::from_key(k), ni.first_port()) else {
            continue;
        };
        if info.task_start < 0 {
            continue;
        }
        out.insert(
            (info.task_start, info.task_end),
            Slot::new(ni.node.clone(), port),
        );
    }
    out
}

fn key(e: &Executor) -> Vec<i64> {
    vec![i64::from(e.0), i64::from(e.1)]
}

/// Storm's `changedExecutors`: the executors of every slot whose sorted executor list differs from
/// before (or that is new).
pub fn changed_executors(
    old: &BTreeMap<Executor, Slot>,
    new: &BTreeMap<Executor, Slot>,
) -> BTreeSet<Executor> {
    let by_slot = |m: &BTreeMap<Executor, Slot>| {
        let mut out: BTreeMap<Slot, Vec<Executor>> = BTreeMap::new();
        for (e, s) in m {
            out.entry(s.clone()).or_default().push(*e);
        }
        out
    };
    let (old, new) = (by_slot(old), by_slot(new));
    new.into_iter()
        .filter(|(s, execs)| old.get(s) != Some(execs))
        .flat_map(|(_, execs)| execs)
        .collect()
}

impl Nimbus {
    /// Starts the monitor timer (`mkAssignments` + cleanup every `nimbus.monitor.freq.secs`) and the
    /// inbox cleaner (every `nimbus.cleanup.inbox.freq.secs`); each first runs one period after start
    /// (Storm: at once; submission schedules at once here, so nothing waits on the first round).
    pub(super) fn start_timers(self: &Arc<Self>) -> anyhow::Result<()> {
        let monitor = Duration::from_secs(self.conf.get_u64("nimbus.monitor.freq.secs")?.max(1));
        let inbox =
            Duration::from_secs(self.conf.get_u64("nimbus.cleanup.inbox.freq.secs")?.max(1));
        self.start_blob_sync()?;
        for (name, period, monitor_round) in [
            ("nimbus-monitor", monitor, true),
            ("nimbus-inbox-cleaner", inbox, false),
        ] {
            let weak = Arc::downgrade(self);
            let stopper = self.stopper.clone();
            let t = std::thread::Builder::new()
                .name(name.into())
                .spawn(move || loop {
                    if stopper.wait(period) {
                        return;
                    }
                    let Some(nimbus) = weak.upgrade() else { return };
                    if monitor_round {
                        nimbus.monitor_round();
                    } else {
                        nimbus.clean_inbox_at(SystemTime::now());
                    }
                })?;
            lock(&self.threads).push(t);
        }
        Ok(())
    }

    /// One monitor round: `mkAssignments` then `doCleanup` (leader only).
    pub fn monitor_round(&self) {
        if !self.elector.is_leader() {
            return;
        }
        let _guard = lock(&self.submit_lock);
        if let Err(e) = self.mk_assignments_locked(now_secs(), None) {
            tracing::error!(error = %e, "cannot compute assignments");
        }
        if let Err(e) = self.cleanup_locked() {
            tracing::error!(error = %e, "cannot clean up removed topologies");
        }
    }

    /// `mkAssignments` at nimbus time `now` (epoch seconds), as the monitor timer runs it: tests drive
    /// the clock through this.
    pub fn mk_assignments_at(&self, now: i64) -> Result<()> {
        let _guard = lock(&self.submit_lock);
        self.mk_assignments_locked(now, None)
    }

    /// The executors of a topology from its storm base's `component_executors`.
    fn topology_executors(&self, id: &str, base: &StormBase) -> Result<BTreeSet<Executor>> {
        let facts = self.facts(id)?;
        let per_component = base.component_executors.clone().unwrap_or_default();
        Ok(compute_executors(&facts.tasks, &per_component)
            .into_iter()
            .collect())
    }

    /// Storm's `mkAssignments`; the caller holds the submit lock. `scratch` is a topology being
    /// rebalanced: its current slots count as free and it is scheduled from scratch.
    pub(super) fn mk_assignments_locked(&self, now: i64, scratch: Option<&str>) -> Result<()> {
        if !self.elector.is_leader() {
            return Ok(());
        }
        let launch_secs = self.conf.get_u64("nimbus.task.launch.secs").unwrap_or(120) as i64;
        let supervisors = self.cluster.all_supervisor_info()?;
        let mut storm_ids = self.cluster.active_storms()?;
        storm_ids.sort();

        let mut bases: BTreeMap<String, StormBase> = BTreeMap::new();
        let mut executors: BTreeMap<String, BTreeSet<Executor>> = BTreeMap::new();
        for id in &storm_ids {
            let Some(base) = self.cluster.storm_base(id, false)? else {
                continue;
            };
            match self.topology_executors(id, &base) {
                Ok(e) => {
                    executors.insert(id.clone(), e);
                    bases.insert(id.clone(), base);
                }
                Err(e) => {
                    tracing::warn!(topology = %id, error = %e, "cannot compute the executors; not scheduled")
                }
            }
        }

        let mut existing: BTreeMap<String, Assignment> = BTreeMap::new();
        for id in self.cluster.assignments(false)? {
            if Some(id.as_str()) == scratch || !bases.contains_key(&id) {
                continue;
            }
            if let Some(a) = self.cluster.assignment_info(&id, false)? {
                existing.insert(id, a);
            }
        }

        // Storm's `isHeartbeatsRecovered`: a new leader waits for every assigned node's report.
        let nodes: BTreeSet<String> = existing
            .values()
            .flat_map(|a| a.node_host.iter().flatten().map(|(n, _)| n.clone()))
            .filter(|n| supervisors.contains_key(n))
            .collect();
        let max_wait = self
            .conf
            .get_u64("supervisor.worker.heartbeats.max.timeout.secs")
            .unwrap_or(600) as i64;
        if !lock(&self.hb_recovery).is_ready(&nodes, now, max_wait) {
            tracing::warn!("waiting for worker heartbeats recovery, skipping assignments");
            return Ok(());
        }

        // Liveness: the heartbeat cache, alive executors and dead ports.
        let mut cluster = scheduler::Cluster::default();
        let mut dead_ports: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
        {
            let mut cache = lock(&self.heartbeats);
            cache.retain_topologies(&bases.keys().cloned().collect());
            for (id, a) in &existing {
                let execs = &executors[id];
                let slots = assignment_slots(a);
                let killed = bases[id].status == TopologyStatus::KILLED;
                // Storm 2: liveness comes by RPC (`sendSupervisorWorkerHeartbeats`), not from
                // `/workerbeats`, which now carries only the executor stats.
                cache.retain_executors(id, execs);
                let starts: BTreeMap<Executor, i64> = a
                    .executor_start_time_secs
                    .iter()
                    .flatten()
                    .filter_map(|(k, t)| {
                        ExecutorInfo::from_key(k).map(|i| ((i.task_start, i.task_end), *t))
                    })
                    .collect();
                let timeout = self
                    .facts(id)
                    .map(|f| f.heartbeat_timeout_secs)
                    .unwrap_or(30);
                let alive = if killed {
                    execs.clone()
                } else {
                    cache.alive(id, execs, &starts, now, launch_secs, timeout)
                };
                for (e, s) in &slots {
                    if execs.contains(e) && !alive.contains(e) {
                        tracing::info!(topology = %id, executor = ?e, node = %s.node, port = s.port, "executor not alive");
                        dead_ports.entry(s.node.clone()).or_default().insert(s.port);
                    }
                }
                let kept: BTreeMap<Executor, Slot> = slots
                    .into_iter()
                    .filter(|(e, _)| killed || alive.contains(e))
                    .collect();
                cluster.assignments.insert(id.clone(), kept);
            }
        }
        for (sid, info) in &supervisors {
            let dead = dead_ports.get(sid);
            let ports: BTreeSet<i64> = info
                .meta
                .iter()
                .flatten()
                .copied()
                .filter(|p| !dead.is_some_and(|d| d.contains(p)))
                .collect();
            cluster.supervisors.insert(sid.clone(), ports);
        }

        let details: Vec<TopologyDetails> = bases
            .iter()
            .filter(|(_, b)| b.status != TopologyStatus::KILLED)
            .map(|(id, b)| TopologyDetails {
                id: id.clone(),
                num_workers: usize::try_from(b.num_workers).unwrap_or(0),
                executors: executors[id].clone(),
            })
            .collect();
        // Executors whose supervisor vanished (or no longer offers the port) lose their slot.
        for t in &details {
            if let Some(a) = cluster.assignments.get_mut(&t.id) {
                a.retain(|_, s| {
                    supervisors
                        .get(&s.node)
                        .is_some_and(|i| i.meta.iter().flatten().any(|p| *p == s.port))
                });
            }
        }
        scheduler::default_schedule(&details, &mut cluster);

        for t in &details {
            let new_slots = cluster.assignments.get(&t.id).cloned().unwrap_or_default();
            let old = existing.get(&t.id);
            if new_slots.is_empty() && old.is_none() {
                continue;
            }
            let old_slots = old.map(assignment_slots).unwrap_or_default();
            let old_starts = old
                .and_then(|a| a.executor_start_time_secs.clone())
                .unwrap_or_default();
            let changed = changed_executors(&old_slots, &new_slots);
            let mut starts = BTreeMap::new();
            let mut enp = BTreeMap::new();
            let mut node_host = BTreeMap::new();
            for (e, s) in &new_slots {
                let k = key(e);
                let start = match old_starts.get(&k) {
                    Some(t) if !changed.contains(e) => *t,
                    _ => now,
                };
                starts.insert(k.clone(), start);
                enp.insert(k, NodeInfo::slot(s.node.clone(), s.port));
                let host = supervisors
                    .get(&s.node)
                    .map(|i| i.hostname.clone())
                    .or_else(|| {
                        old.and_then(|a| a.node_host.as_ref())
                            .and_then(|h| h.get(&s.node).cloned())
                    })
                    .unwrap_or_else(|| s.node.clone());
                node_host.insert(s.node.clone(), host);
            }
            // Storm's DefaultScheduler: a worker's resources are the sum of its executors' requests.
            let resources = self.facts(&t.id).map(|f| f.resources).unwrap_or_default();
            let tasks = self.facts(&t.id).map(|f| f.tasks).unwrap_or_default();
            let mut per_worker: BTreeMap<NodeInfo, super::core::Resources> = BTreeMap::new();
            for (e, s) in &new_slots {
                let component = tasks.get(&e.0).cloned().unwrap_or_default();
                *per_worker
                    .entry(NodeInfo::slot(s.node.clone(), s.port))
                    .or_default() += resources.get(&component).copied().unwrap_or_default();
            }
            let worker_resources = per_worker
                .into_iter()
                .map(|(n, r)| {
                    (
                        n,
                        WorkerResources::new(
                            OrderedFloat(r.on_heap_mb),
                            OrderedFloat(r.off_heap_mb),
                            OrderedFloat(r.cpu),
                            OrderedFloat(0.0),
                            OrderedFloat(0.0),
                            BTreeMap::new(),
                            BTreeMap::new(),
                        ),
                    )
                })
                .collect();
            let assignment = Assignment {
                master_code_dir: self.paths.local_dir().display().to_string(),
                node_host: Some(node_host),
                executor_node_port: Some(enp),
                executor_start_time_secs: Some(starts),
                worker_resources: Some(worker_resources),
                total_shared_off_heap: None,
                owner: bases[&t.id].owner.clone(),
            };
            if old == Some(&assignment) {
                continue;
            }
            let workers: BTreeSet<&Slot> = new_slots.values().collect();
            tracing::info!(
                topology = %t.id,
                executors = new_slots.len(),
                workers = workers.len(),
                "setting new assignment"
            );
            let acls = self.facts(&t.id)?.zk_acls;
            self.cluster.set_assignment(&t.id, &assignment, &acls)?;
        }
        Ok(())
    }

    /// Supervisor id → the ports any assignment uses on it.
    pub(super) fn used_slots_by_node(&self) -> Result<BTreeMap<String, BTreeSet<i64>>> {
        let mut out: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
        for id in self.cluster.assignments(false)? {
            if let Some(a) = self.cluster.assignment_info(&id, false)? {
                for s in assignment_slots(&a).into_values() {
                    out.entry(s.node).or_default().insert(s.port);
                }
            }
        }
        Ok(out)
    }

    // ---- cleanup ----

    /// Storm's `doCleanup` (caller holds the submit lock; leader only): topology ids with a
    /// `/workerbeats` or `/errors` directory or code blobs (`<id>-stormjar.jar`, …) but no storm base
    /// lose them. Storm waits `nimbus.topology.blobstore.deletion.delay.ms` first; storm-rs deletes at
    /// once (REMOVE already deleted them; this only catches leftovers of crashes), which is safe
    /// because submission writes the code blobs under the same lock before `/storms`.
    pub(super) fn cleanup_locked(&self) -> Result<Vec<String>> {
        if !self.elector.is_leader() {
            return Ok(Vec::new());
        }
        let storms: BTreeSet<String> = self.cluster.active_storms()?.into_iter().collect();
        let mut cleaned = BTreeSet::new();
        let mut ids: BTreeSet<String> = self.cluster.heartbeat_storms()?.into_iter().collect();
        ids.extend(self.cluster.error_topologies()?);
        for id in ids.difference(&storms) {
            tracing::info!(topology = %id, "cleaning up heartbeats and errors");
            self.cluster.teardown_heartbeats(id)?;
            self.cluster.teardown_topology_errors(id)?;
            cleaned.insert(id.clone());
        }
        // Code blobs of topologies that are gone (a crash between the removal's steps).
        for key in self.blobs.keys() {
            let Some(id) = super::replication::topology_of_key(&key) else {
                continue;
            };
            if storms.contains(id) {
                continue;
            }
            tracing::info!(%key, "deleting the code of a removed topology");
            if let Err(e) = self.blobs.delete(&key) {
                tracing::warn!(%key, error = %e, "cannot delete");
            }
            if let Err(e) = self.blob_removed(&key) {
                tracing::warn!(%key, error = %e, "cannot remove the blob's ZooKeeper state");
            }
            cleaned.insert(id.to_string());
        }
        lock(&self.facts).retain(|id, _| storms.contains(id));
        Ok(cleaned.into_iter().collect())
    }

    /// Runs the cleanup now (leader only), returning the cleaned topology ids (for tests and tools).
    pub fn cleanup(&self) -> Result<Vec<String>> {
        let _guard = lock(&self.submit_lock);
        self.cleanup_locked()
    }

    /// Storm's `cleanInbox`: deletes `nimbus/inbox` files last modified at least
    /// `nimbus.inbox.jar.expiration.secs` before `now` (uploads in progress are kept). Returns how
    /// many were deleted.
    pub fn clean_inbox_at(&self, now: SystemTime) -> usize {
        let expiration = Duration::from_secs(
            self.conf
                .get_u64("nimbus.inbox.jar.expiration.secs")
                .unwrap_or(3600),
        );
        let Some(cutoff) = now.checked_sub(expiration) else {
            return 0;
        };
        let open: BTreeSet<String> = lock(&self.uploads).keys().cloned().collect();
        let mut deleted = 0;
        let Ok(entries) = std::fs::read_dir(self.paths.nimbus_inbox()) else {
            return 0;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() || open.contains(path.to_string_lossy().as_ref()) {
                continue;
            }
            if meta.modified().is_ok_and(|m| m <= cutoff) {
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        tracing::info!(file = %path.display(), "deleted an expired inbox file");
                        deleted += 1;
                    }
                    Err(e) => {
                        tracing::warn!(file = %path.display(), error = %e, "cannot delete")
                    }
                }
            }
        }
        deleted
    }

    // ---- rebalance ----

    /// `rebalance(name, options)`: validates, writes REBALANCING (with `prev_status` and the options,
    /// `wait_secs` filled in) and schedules DO_REBALANCE after `wait_secs` (default the topology's
    /// `topology.message.timeout.secs`).
    pub fn rebalance(self: &Arc<Self>, name: &str, options: &RebalanceOptions) -> Result<()> {
        self.assert_leader()?;
        let _guard = lock(&self.submit_lock);
        let (id, base) = self.alive(name)?;
        if let Some(requested) = &options.num_executors {
            let user = self.read_user_topology(&id)?;
            let mut valid: Vec<&String> = user
                .spouts
                .keys()
                .chain(user.bolts.keys())
                .chain(user.state_spouts.keys())
                .filter(|c| !is_system_id(c))
                .collect();
            valid.sort_by(|a, b| java_string_cmp(a, b));
            for c in requested.keys() {
                if !valid.contains(&c) {
                    let list: Vec<&str> = valid.iter().map(|s| s.as_str()).collect();
                    return Err(NimbusError::InvalidTopology(format!(
                        "Invalid component {c} for topology {name}, valid values are [{}]",
                        list.join(", ")
                    )));
                }
            }
            if requested.values().any(|n| *n <= 0) {
                return Err(NimbusError::InvalidTopology(
                    "Number of executors must be greater than 0".into(),
                ));
            }
        }
        if transition(base.status, TopologyAction::Rebalance).is_none() {
            return Err(no_transition(TopologyAction::Rebalance, base.status, &id));
        }
        let delay = options
            .wait_secs
            .map(i64::from)
            .unwrap_or_else(|| self.message_timeout(&id))
            .max(0);
        let mut rbo = options.clone();
        rbo.wait_secs = Some(to_i32(delay));
        rbo.num_executors.get_or_insert_with(BTreeMap::new);
        rbo.principal = None;
        self.cluster.update_storm(
            &id,
            crate::cluster::StormBaseUpdate {
                status: Some(TopologyStatus::REBALANCING),
                prev_status: Some(base.status),
                topology_action_options: Some(TopologyActionOptions::RebalanceOptions(rbo)),
                ..Default::default()
            },
        )?;
        tracing::info!(topology = %id, wait_secs = delay, "topology rebalancing");
        self.schedule_do_rebalance(&id, Duration::from_secs(delay as u64));
        Ok(())
    }

    pub(super) fn schedule_do_rebalance(self: &Arc<Self>, id: &str, delay: Duration) {
        let generation = self.removal_seq.fetch_add(1, Ordering::SeqCst) + 1;
        lock(&self.pending_rebalances).insert(id.to_string(), generation);
        self.after_delay(id, delay, "rebalance", move |nimbus, id| {
            nimbus.do_rebalance(id, Some(generation))
        });
    }

    /// The DO_REBALANCE event: for a still-REBALANCING topology (and, from a timer, only the latest
    /// one scheduled), applies `num_executors` (merged) and `num_workers` to the storm base, returns to
    /// `prev_status`, and reschedules the topology from scratch. A no-op in any other state.
    pub fn do_rebalance(&self, id: &str, generation: Option<u64>) -> Result<()> {
        if !self.elector.is_leader() {
            tracing::info!(topology = %id, "not the leader any more; the leader finishes the rebalance");
            return Ok(());
        }
        let _guard = lock(&self.submit_lock);
        if let Some(g) = generation {
            if lock(&self.pending_rebalances).get(id) != Some(&g) {
                return Ok(());
            }
        }
        lock(&self.pending_rebalances).remove(id);
        let Some(base) = self.cluster.storm_base(id, false)? else {
            return Ok(());
        };
        if transition(base.status, TopologyAction::DoRebalance) != Some(Transition::DoRebalance) {
            return Ok(());
        }
        let rbo = match &base.topology_action_options {
            Some(TopologyActionOptions::RebalanceOptions(r)) => r.clone(),
            _ => RebalanceOptions::default(),
        };
        let mut updated = base.clone();
        if let Some(requested) = &rbo.num_executors {
            let mut merged = updated.component_executors.take().unwrap_or_default();
            merged.extend(requested.iter().map(|(c, n)| (c.clone(), *n)));
            updated.component_executors = Some(merged);
        }
        if let Some(n) = rbo.num_workers {
            updated.num_workers = n;
        }
        // As Storm: new executors and workers, then the rescheduling, then the previous status.
        let acls = self.facts(id)?.zk_acls;
        self.cluster.activate_storm(id, &updated, &acls)?;
        lock(&self.heartbeats).forget(id);
        let scheduled = self.mk_assignments_locked(now_secs(), Some(id));
        updated.status = base.prev_status.unwrap_or(TopologyStatus::ACTIVE);
        updated.prev_status = None;
        updated.topology_action_options = None;
        self.cluster.activate_storm(id, &updated, &acls)?;
        tracing::info!(topology = %id, status = %status_name(updated.status), num_workers = updated.num_workers, "topology rebalanced");
        scheduled
    }

    // ---- topology info ----

    /// `getTopologyInfo`: executors (host, port, uptime since their start time, stats in every
    /// window from the worker heartbeats) and every component's recent errors.
    pub fn topology_info(&self, id: &str) -> Result<TopologyInfo> {
        let base = self
            .cluster
            .storm_base(id, false)?
            .ok_or_else(|| NimbusError::NotAlive(id.to_string()))?;
        let facts = self.facts(id)?;
        let now = now_secs();
        let mut executors = Vec::new();
        if let Some(a) = self.cluster.assignment_info(id, false)? {
            let enp = a.executor_node_port.clone().unwrap_or_default();
            let beats = self.cluster.executor_beats(id, &enp)?;
            let starts = a.executor_start_time_secs.clone().unwrap_or_default();
            let hosts = a.node_host.clone().unwrap_or_default();
            for (k, ni) in &enp {
                let Some(info) = ExecutorInfo::from_key(k) else {
                    continue;
                };
                if info.task_start < 0 {
                    continue;
                }
                let component = facts
                    .tasks
                    .get(&info.task_start)
                    .cloned()
                    .unwrap_or_default();
                executors.push(ExecutorSummary {
                    executor_info: info,
                    component_id: component,
                    host: hosts
                        .get(&ni.node)
                        .cloned()
                        .unwrap_or_else(|| ni.node.clone()),
                    port: to_i32(ni.first_port().unwrap_or(0)),
                    uptime_secs: starts.get(k).map_or(0, |t| to_i32((now - t).max(0))),
                    // Every window as the worker reported it (Storm's getTopologyInfo).
                    stats: beats.get(k).and_then(|b| b.stats.clone()),
                });
            }
        }
        let mut errors = BTreeMap::new();
        let components: BTreeSet<&String> = facts.tasks.values().collect();
        for c in components {
            errors.insert(c.clone(), self.cluster.errors(id, c)?);
        }
        let uptime = base
            .launch_time_secs
            .map(|t| to_i32((now - i64::from(t)).max(0)))
            .unwrap_or(0);
        Ok(TopologyInfo {
            id: id.to_string(),
            name: base.name.clone(),
            uptime_secs: uptime,
            executors,
            status: status_name(base.status),
            errors,
            component_debug: base.component_debug.clone(),
            storm_version: Some(crate::STORM_VERSION.to_string()),
            sched_status: None,
            owner: base.owner.clone(),
            replication_count: None,
            requested_memonheap: None,
            requested_memoffheap: None,
            requested_cpu: None,
            assigned_memonheap: None,
            assigned_memoffheap: None,
            assigned_cpu: None,
        })
    }

    /// `getTopologyInfoByName`.
    pub fn topology_info_by_name(&self, name: &str) -> Result<TopologyInfo> {
        let (id, _) = self.alive(name)?;
        self.topology_info(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_executors_follow_storm() {
        let old: BTreeMap<Executor, Slot> = [
            ((1, 1), Slot::new("a", 1)),
            ((2, 2), Slot::new("a", 1)),
            ((3, 3), Slot::new("b", 1)),
        ]
        .into();
        let mut new = old.clone();
        assert!(changed_executors(&old, &new).is_empty());
        // (3,3) moves next to (1,1) and (2,2): a:1 changed (its list differs), b:1 is gone.
        new.insert((3, 3), Slot::new("a", 1));
        assert_eq!(
            changed_executors(&old, &new),
            [(1, 1), (2, 2), (3, 3)].into()
        );
        new.insert((3, 3), Slot::new("c", 1));
        assert_eq!(changed_executors(&old, &new), [(3, 3)].into());
    }
}
