//! Executor liveness from the `/workerbeats` ZooKeeper heartbeats (Storm's `HeartbeatCache` with
//! `updateFromZkHeartbeat` and `getAliveExecutors`, reference §3.6). Pure: the caller passes the time.
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

#[cfg(test)]
mod tests {
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
