//! Executor liveness (Storm's `HeartbeatCache`, reference §3.6), fed as Storm 2 feeds it: by RPC
//! (`sendSupervisorWorkerHeartbeats` from supervisors, `sendSupervisorWorkerHeartbeat` from a worker
//! whose supervisor is down: [`HeartbeatCache::update_worker`]); [`HeartbeatCache::update`] is the
//! `/workerbeats` (ZooKeeper) form. Also Storm's `TimeOutWorkerHeartbeatsRecoveryStrategy`
//! ([`Recovery`]): a leader schedules only once every assigned node reported or the wait is over.
//! Pure: the caller passes the time.
//!
//! Per topology and executor, the cache keeps the time the executor last *reported* and the nimbus
//! time at which that report last changed. An executor first seen counts from that moment (so a nimbus
//! that just became leader gives every executor a full timeout). An executor is alive iff it has a start
//! time in the assignment and either its start time is younger than
//! `max(nimbus.task.launch.secs, timeout)` or its report changed less than `timeout` ago.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::scheduler::Executor;

#[derive(Clone, Debug, PartialEq, Eq)]
struct ExecutorCache {
    reported_secs: i64,
    nimbus_secs: i64,
}

/// Storm's `HeartbeatCache` over ZooKeeper heartbeats.
#[derive(Debug, Default)]
pub struct HeartbeatCache {
    topologies: HashMap<String, HashMap<Executor, ExecutorCache>>,
}

impl HeartbeatCache {
    /// Records one round of reports for `executors` (`reported`: executor → reported `time_secs`,
    /// missing = no heartbeat) at nimbus time `now`.
    pub fn update(
        &mut self,
        topology_id: &str,
        executors: &BTreeSet<Executor>,
        reported: &BTreeMap<Executor, i64>,
        now: i64,
    ) {
        let cache = self.topologies.entry(topology_id.to_string()).or_default();
        cache.retain(|e, _| executors.contains(e));
        for e in executors {
            let new = reported.get(e).copied();
            let entry = cache.entry(*e).or_insert_with(|| ExecutorCache {
                reported_secs: new.unwrap_or(0),
                nimbus_secs: now,
            });
            if let Some(t) = new {
                if t != entry.reported_secs {
                    entry.nimbus_secs = now;
                }
                entry.reported_secs = t;
            }
        }
    }

    /// One worker's RPC heartbeat (Storm's `updateHeartbeat`): each of its executors counts from `now`
    /// when first seen or when its reported time changed.
    pub fn update_worker(
        &mut self,
        topology_id: &str,
        executors: &[Executor],
        time_secs: i64,
        now: i64,
    ) {
        let cache = self.topologies.entry(topology_id.to_string()).or_default();
        for e in executors {
            let entry = cache.entry(*e).or_insert(ExecutorCache {
                reported_secs: time_secs,
                nimbus_secs: now,
            });
            if entry.reported_secs != time_secs {
                entry.nimbus_secs = now;
                entry.reported_secs = time_secs;
            }
        }
    }

    /// Drops cached executors a topology no longer has.
    pub fn retain_executors(&mut self, topology_id: &str, executors: &BTreeSet<Executor>) {
        if let Some(c) = self.topologies.get_mut(topology_id) {
            c.retain(|e, _| executors.contains(e));
        }
    }

    /// The alive executors of a topology (see the module doc); `start_times` from the assignment.
    pub fn alive(
        &self,
        topology_id: &str,
        executors: &BTreeSet<Executor>,
        start_times: &BTreeMap<Executor, i64>,
        now: i64,
        launch_secs: i64,
        timeout_secs: i64,
    ) -> BTreeSet<Executor> {
        let cache = self.topologies.get(topology_id);
        let launch = launch_secs.max(timeout_secs);
        executors
            .iter()
            .filter(|e| {
                let Some(start) = start_times.get(e) else {
                    return false;
                };
                let timed_out = cache
                    .and_then(|c| c.get(e))
                    .is_none_or(|c| now - c.nimbus_secs >= timeout_secs);
                now - start < launch || !timed_out
            })
            .copied()
            .collect()
    }

    /// Forgets topologies not in `keep`.
    pub fn retain_topologies(&mut self, keep: &BTreeSet<String>) {
        self.topologies.retain(|id, _| keep.contains(id));
    }

    /// Forgets one topology (its executors start over, as after a rebalance).
    pub fn forget(&mut self, topology_id: &str) {
        self.topologies.remove(topology_id);
    }
}

/// Storm's `TimeOutWorkerHeartbeatsRecoveryStrategy`: after gaining leadership, nimbus waits until
/// every node with assigned workers has reported its workers' heartbeats, or until
/// `supervisor.worker.heartbeats.max.timeout.secs` passed, before it judges liveness.
#[derive(Debug, Default)]
pub struct Recovery {
    started: Option<i64>,
    reported: BTreeSet<String>,
    ready: bool,
}

impl Recovery {
    /// Starts over (on gaining leadership).
    pub fn reset(&mut self) {
        *self = Recovery::default();
    }

    /// A supervisor reported its workers' heartbeats.
    pub fn report_node(&mut self, node: &str) {
        if !self.ready {
            self.reported.insert(node.to_string());
        }
    }

    /// Whether the heartbeats are recovered for `nodes` (the nodes of the current assignments).
    pub fn is_ready(&mut self, nodes: &BTreeSet<String>, now: i64, max_wait_secs: i64) -> bool {
        if self.ready {
            return true;
        }
        let started = *self.started.get_or_insert(now);
        let missing: Vec<&String> = nodes.difference(&self.reported).collect();
        if missing.is_empty() {
            self.ready = true;
        } else if now - started > max_wait_secs {
            tracing::warn!(nodes = ?missing, timeout = max_wait_secs, "failed to recover heartbeats for nodes");
            self.ready = true;
        }
        self.ready
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rpc_heartbeats_keep_executors_alive_and_time_out() {
        let mut c = HeartbeatCache::default();
        let execs: BTreeSet<Executor> = [(1, 1), (2, 2)].into();
        let starts: BTreeMap<Executor, i64> = [((1, 1), 1000), ((2, 2), 1000)].into();
        // Never reported: alive only within the launch grace.
        assert_eq!(c.alive("t", &execs, &starts, 1100, 120, 30), execs);
        assert!(c.alive("t", &execs, &starts, 1120, 120, 30).is_empty());
        // One worker reports (1,1) with advancing times: alive; (2,2) is not.
        c.update_worker("t", &[(1, 1)], 1119, 1120);
        c.update_worker("t", &[(1, 1)], 1140, 1140);
        assert_eq!(
            c.alive("t", &execs, &starts, 1160, 120, 30),
            [(1, 1)].into()
        );
        // The same time reported again (a stopped worker whose supervisor re-sends its last local
        // heartbeat) does not refresh it: dead `timeout` after the last change.
        c.update_worker("t", &[(1, 1)], 1140, 1165);
        assert!(c.alive("t", &execs, &starts, 1170, 120, 30).is_empty());
        // Executors the topology no longer has are dropped.
        c.retain_executors("t", &[(2, 2)].into());
        c.update_worker("t", &[(2, 2)], 1, 1170);
        assert_eq!(
            c.alive("t", &execs, &starts, 1171, 120, 30),
            [(2, 2)].into()
        );
    }

    #[test]
    fn recovery_waits_for_every_node_or_the_timeout() {
        let nodes: BTreeSet<String> = ["a".to_string(), "b".to_string()].into();
        let mut r = Recovery::default();
        assert!(!r.is_ready(&nodes, 100, 600));
        r.report_node("a");
        assert!(!r.is_ready(&nodes, 101, 600));
        r.report_node("b");
        assert!(r.is_ready(&nodes, 102, 600));
        // Stays ready; a reset starts over and the timeout ends the wait.
        assert!(r.is_ready(&["c".to_string()].into(), 103, 600));
        r.reset();
        assert!(!r.is_ready(&nodes, 200, 600));
        assert!(!r.is_ready(&nodes, 800, 600));
        assert!(r.is_ready(&nodes, 801, 600));
        // No assigned nodes: ready at once.
        let mut empty = Recovery::default();
        assert!(empty.is_ready(&BTreeSet::new(), 5, 600));
    }

    use super::*;

    #[test]
    fn alive_while_reports_change_or_launching() {
        let mut c = HeartbeatCache::default();
        let execs: BTreeSet<Executor> = [(1, 1), (2, 2)].into();
        let starts: BTreeMap<Executor, i64> = [((1, 1), 1000), ((2, 2), 1000)].into();
        // First sight at 1000: both count from now, though only (1,1) reported.
        c.update("t", &execs, &[((1, 1), 5)].into(), 1000);
        assert_eq!(c.alive("t", &execs, &starts, 1000, 120, 30), execs);
        // Within the launch grace both are alive whatever they report.
        c.update("t", &execs, &[((1, 1), 5)].into(), 1100);
        assert_eq!(c.alive("t", &execs, &starts, 1100, 120, 30), execs);
        // (1,1) keeps reporting, (2,2) never does: after the grace only (1,1) is alive.
        c.update("t", &execs, &[((1, 1), 6)].into(), 1130);
        c.update("t", &execs, &[((1, 1), 7)].into(), 1150);
        assert_eq!(
            c.alive("t", &execs, &starts, 1150, 120, 30),
            [(1, 1)].into()
        );
        // (1,1) goes silent: dead `timeout` after its last change.
        c.update("t", &execs, &[((1, 1), 7)].into(), 1179);
        assert_eq!(c.alive("t", &execs, &starts, 1179, 120, 30).len(), 1);
        c.update("t", &execs, &[((1, 1), 7)].into(), 1180);
        assert!(c.alive("t", &execs, &starts, 1180, 120, 30).is_empty());
        // No start time: never alive.
        assert!(c
            .alive("t", &execs, &BTreeMap::new(), 1000, 120, 30)
            .is_empty());
        // The launch grace is at least the timeout.
        let mut fresh = HeartbeatCache::default();
        assert_eq!(fresh.alive("u", &execs, &starts, 1199, 10, 200), execs);
        fresh.retain_topologies(&BTreeSet::new());
    }
}
