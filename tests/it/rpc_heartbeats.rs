//! Storm 2's liveness path (issue 16 item 4): nimbus keeps a topology's executors alive from the RPC
//! heartbeats alone (worker → its supervisor's `Supervisor` Thrift service; supervisor →
//! `sendSupervisorWorkerHeartbeats` → nimbus), while `/workerbeats` is written only every
//! `executor.metrics.frequency.secs`; and it reassigns when the worker stops heartbeating.

use std::time::Duration;

use storm::api::{TopologyBuilder, TopologyConf};
use storm::local::perf::ConstSpout;
use storm::thrift::TNimbusSyncClient;

use crate::cluster_support::TestCluster;
use crate::support::wait_until;

use crate::cluster_support::empty_jar;

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn nimbus_keeps_executors_alive_from_rpc_heartbeats_and_reassigns_a_stopped_worker() {
    // Stats reach ZooKeeper only at worker start (every 600 s); the supervisor would kill a hung
    // worker only after 120 s, so it is nimbus (timeout 6 s) that notices the stopped worker.
    let mut c = TestCluster::start(
        "rpc-heartbeats",
        &[
            ("executor.metrics.frequency.secs", "600"),
            ("supervisor.worker.timeout.secs", "120"),
        ],
    );
    c.add_supervisor(1);
    c.add_supervisor(1);
    c.wait_supervisors(2);
    let mut b = TopologyBuilder::new();
    b.set_spout("spout", ConstSpout::new("x", false).with_rate(10), 1);
    let topology = b.create_topology().unwrap();
    let mut conf = TopologyConf::new();
    conf.set_num_workers(1);
    conf.set_num_ackers(0);
    storm::submitter::submit_to_cluster(&c.conf(), "rpc-hb", &conf, &topology, &empty_jar(&c.dir))
        .unwrap_or_else(|e| panic!("submit: {e}\n{}", c.logs()));
    let id = c.topology_id("rpc-hb").expect("topology id");
    let mut first = Vec::new();
    wait_until(Duration::from_secs(90), "the worker to run", || {
        first = c.slots(&id);
        !first.is_empty()
            && c.supervisors
                .iter()
                .map(|s| s.worker_pids().len())
                .sum::<usize>()
                == 1
    });
    let assignment = c.assignment(&id).unwrap();
    let enp = assignment.executor_node_port.clone().unwrap();
    // Past the launch grace (10 s) and several task timeouts (6 s): still assigned, unchanged, while
    // the newest `/workerbeats` entry is older than the task timeout.
    let end = std::time::Instant::now() + Duration::from_secs(25);
    wait_until(Duration::from_secs(60), "25 s of steady assignment", || {
        assert_eq!(
            c.assignment(&id).as_ref(),
            Some(&assignment),
            "{}",
            c.logs()
        );
        std::time::Instant::now() >= end
    });
    let beats = c.state().executor_beats(&id, &enp).unwrap();
    let newest = beats
        .values()
        .map(|b| i64::from(b.time_secs))
        .max()
        .unwrap_or(0);
    assert!(
        now_secs() - newest > 10,
        "/workerbeats was written {} s ago: liveness must not come from it",
        now_secs() - newest
    );
    let info = {
        let mut client = c.nimbus_client();
        client.raw().get_topology_info(id.clone()).unwrap()
    };
    let spout = info
        .executors
        .iter()
        .find(|e| e.component_id == "spout")
        .expect("spout executor in getTopologyInfo");
    assert!(spout.uptime_secs >= 20, "uptime {}", spout.uptime_secs);
    assert!(
        spout.stats.is_some(),
        "stats from /workerbeats reach getTopologyInfo"
    );

    // Stop the worker: its local heartbeat stops, the supervisor keeps reporting the last time, and
    // nimbus moves the executors to the other supervisor's slot.
    let (sup, pid) = c
        .supervisors
        .iter()
        .enumerate()
        .find_map(|(i, s)| s.worker_pids().first().map(|p| (i, *p)))
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(pid);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(
            Duration::from_secs(60),
            "nimbus to reassign the stopped worker",
            || {
                let now = c.slots(&id);
                !now.is_empty() && now != first
            },
        );
    }));
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT);
    if result.is_err() {
        panic!(
            "not reassigned (stopped worker on supervisor {sup})\n{}",
            c.logs()
        );
    }
}
