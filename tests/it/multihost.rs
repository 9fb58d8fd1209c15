//! Storm's promises on a real multi-host layout (`hosts_support`: network namespaces, one address and
//! host name per host): a word count spread over three supervisor hosts counts exactly and its
//! workers talk over the hosts' addresses; the leader nimbus killed with `kill -9` hands over to the
//! standby while `storm list` keeps answering; a supervisor host cut off for longer than the
//! heartbeat timeouts loses its executors to the other hosts and its old workers stop once it is
//! back; ZooKeeper down for longer than the session timeout leaves every daemon to recover on its
//! own; one node of the 3-node ZooKeeper ensemble killed with `kill -9` while a word count runs
//! leaves the count exact (the cluster runs on the other two, the node rejoins). The fault tests run the durable ledger topology (`LedgerSpout` replaying unacked ids,
//! `IdLogSink` recording every id) and assert that no emitted id is lost.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use storm::api::{TopologyBuilder, TopologyConf};
use storm::cluster::{ClusterState, StateStorage, ZkSettings, ZkStorage};
use storm::local::components::SplitSentence;
use storm::local::durable::{
    expected_counts, ledger, ledger_report, read_counts, seen_files, CountFileSink, IdLogSink,
    LedgerReport, LedgerSpout,
};
use storm::thrift::{Assignment, TNimbusSyncClient};

use crate::cluster_support::alive;
use crate::hosts_support::{assigned_hosts, tcp_connections, HostCluster, LONG};
use crate::support::{wait_until, wait_until_ok};

use crate::cluster_support::empty_jar;

fn submit(
    c: &HostCluster,
    name: &str,
    topology: &storm::thrift::StormTopology,
    workers: u32,
) -> String {
    let sups = c.supervisor_hosts().len();
    wait_until(LONG, "every supervisor to register", || {
        supervisors(c) == sups
    });
    let mut conf = TopologyConf::new();
    conf.set_num_workers(workers).set_max_spout_pending(200);
    storm::submitter::submit_to_cluster(&c.conf(), name, &conf, topology, &empty_jar(&c.dir))
        .unwrap_or_else(|e| panic!("submit {name}: {e}\n{}", c.logs()));
    let mut id = None;
    wait_until(LONG, "the topology to be in `storm list`", || {
        id = topology_id(c, name);
        id.is_some()
    });
    id.unwrap()
}

/// A ZooKeeper view of the cluster from the root namespace (`None` while ZooKeeper is away).
fn state(c: &HostCluster) -> Option<ClusterState> {
    let settings = ZkSettings::from_config(&c.conf()).ok()?;
    let storage: std::sync::Arc<dyn StateStorage> =
        std::sync::Arc::new(ZkStorage::connect(settings).ok()?);
    ClusterState::new(storage).ok()
}

/// How many supervisors are registered.
fn supervisors(c: &HostCluster) -> usize {
    let Some(s) = state(c) else { return 0 };
    let n = s.supervisors(false).map(|v| v.len()).unwrap_or(0);
    s.disconnect();
    n
}

fn topology_id(c: &HostCluster, name: &str) -> Option<String> {
    let mut client = c.client().ok()?;
    let info = client.raw().get_cluster_info().ok()?;
    info.topologies
        .into_iter()
        .find(|t| t.name == name)
        .map(|t| t.id)
}

fn assignment(c: &HostCluster, id: &str) -> Option<Assignment> {
    let s = state(c)?;
    let a = s.assignment_info(id, false).ok().flatten();
    s.disconnect();
    a
}

/// The ledger topology: `spouts` ledger spout tasks (ids in field `id`) shuffled to `sinks` sinks.
fn ledger_topology(data: &Path, spouts: u32, sinks: u32) -> storm::thrift::StormTopology {
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "ledger",
        LedgerSpout::new(data, 900_000_000, 2).with_ids(),
        spouts,
    );
    b.set_basic_bolt("sink", IdLogSink::new(data), sinks)
        .shuffle_grouping("ledger");
    b.create_topology().unwrap()
}

/// Stops new ids (`STOP`), waits until every emitted id is acked, and returns the report, which must
/// show no lost id.
fn drain_and_check(c: &HostCluster, data: &Path) -> LedgerReport {
    std::fs::write(data.join("STOP"), b"").unwrap();
    let mut last = (0, 0);
    let drained = wait_until_ok(LONG, || {
        let (emitted, acked) = ledger(data);
        last = (emitted.len(), emitted.difference(&acked).count());
        !emitted.is_empty() && emitted.is_subset(&acked)
    });
    let report = ledger_report(data);
    assert!(
        drained,
        "ids still unacked ({} emitted, {} not acked): {}\n{}",
        last.0,
        last.1,
        report.line(),
        c.logs()
    );
    assert_eq!(report.lost_count, 0, "lost ids: {:?}", report.lost);
    assert_eq!(report.acked_unseen, 0, "acked ids the sink never saw");
    eprintln!("ledger: {}", report.line());
    report
}

fn seen_total(data: &Path) -> usize {
    seen_files(data).values().sum()
}

/// Waits until the sink has seen `more` records beyond what it had on entry.
fn wait_progress(c: &HostCluster, data: &Path, more: usize, what: &str) {
    let from = seen_total(data);
    let ok = wait_until_ok(LONG, || seen_total(data) >= from + more);
    assert!(
        ok,
        "no progress {what} (sink stuck at {})\n{}",
        seen_total(data),
        c.logs()
    );
}

#[test]
fn multihost_word_count_across_three_supervisor_hosts_is_exact() {
    let Some(c) = HostCluster::up("wordcount", 6, &[]) else {
        return;
    };
    let data = c.dir.join("data");
    let limit = 300;
    let mut b = TopologyBuilder::new();
    b.set_spout("spout", LedgerSpout::new(&data, limit, 0), 2);
    b.set_basic_bolt("split", SplitSentence::default(), 3)
        .shuffle_grouping("spout");
    b.set_basic_bolt("count", CountFileSink::new(&data), 3)
        .fields_grouping("split", ["word"]);
    let id = submit(&c, "wc", &b.create_topology().unwrap(), 3);

    let expected = expected_counts(limit, 2);
    let mut counts = Default::default();
    let exact = wait_until_ok(LONG, || {
        counts = read_counts(&data);
        counts == expected
    });
    assert!(
        exact,
        "counts {counts:?}\nexpected {expected:?}\n{}",
        c.logs()
    );
    let (emitted, acked) = ledger(&data);
    assert_eq!(emitted.len() as i64, 2 * limit);
    assert!(emitted.is_subset(&acked), "every id acked");

    // One worker on each supervisor host, each advertised by its own host name.
    let a = assignment(&c, &id).expect("assigned");
    let hosts: BTreeSet<String> = assigned_hosts(&a).into_iter().map(|(_, h)| h).collect();
    let want: BTreeSet<String> = c.supervisor_hosts().iter().map(|&i| c.host(i)).collect();
    assert_eq!(hosts, want, "workers on the three supervisor hosts");
    // The workers talk to each other over the hosts' addresses, never loopback.
    let addrs: Vec<String> = c.supervisor_hosts().iter().map(|&i| c.addr(i)).collect();
    for i in c.supervisor_hosts() {
        let pids = c.worker_pids(i);
        assert_eq!(pids.len(), 1, "one worker on {}", c.host(i));
        let conns = tcp_connections(pids[0]);
        let to_peers = conns
            .iter()
            .filter(|(l, r)| {
                l.starts_with(&format!("{}:", c.addr(i)))
                    && addrs.iter().any(|a| r.starts_with(&format!("{a}:")))
                    && !r.starts_with(&format!("{}:", c.addr(i)))
            })
            .count();
        assert!(
            to_peers >= 2,
            "the worker on {} is connected to both other workers by address: {conns:?}",
            c.host(i)
        );
        // `/proc/PID/net/tcp` lists the whole host (network namespace). The only loopback traffic
        // there is the worker's RPC heartbeat to its own supervisor (`127.0.0.1:
        // supervisor.thrift.port`, as in Storm 2); nothing between workers.
        let supervisor_thrift = ":6628";
        let stray: Vec<_> = conns
            .iter()
            .filter(|(l, r)| {
                r.starts_with("127.")
                    && !l.ends_with(supervisor_thrift)
                    && !r.ends_with(supervisor_thrift)
            })
            .collect();
        assert!(
            stray.is_empty(),
            "no loopback connection but the heartbeat to the supervisor: {stray:?} of {conns:?}"
        );
    }
}

#[test]
fn multihost_leader_nimbus_kill9_the_standby_takes_over() {
    let Some(c) = HostCluster::up("leaderkill", 5, &[]) else {
        return;
    };
    let data = c.dir.join("data");
    submit(&c, "ledger", &ledger_topology(&data, 2, 2), 2);
    wait_progress(&c, &data, 100, "before the kill");

    let leader = c.client().unwrap().leader().unwrap();
    let old = c
        .index_of(&leader.host)
        .expect("the leader is one of the hosts");
    assert!(old == 2 || old == 3, "{}", leader.host);
    let killed = Instant::now();
    c.kill(old);
    // `storm list` answers again within seconds, from the standby.
    let mut out = String::new();
    wait_until(Duration::from_secs(30), "`storm list` to answer", || {
        let (code, list, _) = c.storm(&["list"]);
        out = list;
        code == 0 && out.lines().any(|l| l.starts_with("ledger "))
    });
    eprintln!("storm list answered {:?} after the kill", killed.elapsed());
    let now = c.client().unwrap().leader().unwrap();
    assert_eq!(c.index_of(&now.host), Some(5 - old), "the standby leads");
    // The topology never stopped; the old leader comes back as a standby.
    wait_progress(&c, &data, 100, "after the kill");
    c.start(old);
    drain_and_check(&c, &data);
}

#[test]
fn multihost_partitioned_supervisor_host_loses_its_executors_and_heals() {
    let Some(c) = HostCluster::up("partition", 6, &[]) else {
        return;
    };
    let data = c.dir.join("data");
    let id = submit(&c, "ledger", &ledger_topology(&data, 3, 3), 3);
    wait_progress(&c, &data, 100, "before the partition");
    let victim = 6;
    let victim_host = c.host(victim);
    let mut old_workers = Vec::new();
    wait_until(LONG, "a worker on the victim host", || {
        old_workers = c.worker_pids(victim);
        !old_workers.is_empty()
    });

    c.cut(victim);
    // Past the heartbeat timeouts, nimbus moves the victim's executors to the other hosts.
    let moved = wait_until_ok(LONG, || {
        assignment(&c, &id).is_some_and(|a| {
            let hosts = assigned_hosts(&a);
            !hosts.is_empty() && hosts.iter().all(|(_, h)| *h != victim_host)
        })
    });
    if !moved {
        c.heal(victim);
        panic!("executors never left the cut-off host\n{}", c.logs());
    }
    wait_progress(&c, &data, 100, "on the remaining hosts");
    c.heal(victim);

    // Back on the network, the victim's old workers stop (no split brain) and its supervisor registers
    // again; nothing is lost.
    wait_until(LONG, "the cut-off host's old workers to stop", || {
        old_workers.iter().all(|&p| !alive(p))
    });
    let seen_after_stop = seen_files(&data);
    wait_until(LONG, "the healed supervisor to register again", || {
        supervisors(&c) == 3
    });
    wait_progress(&c, &data, 100, "after the heal");
    let after = seen_files(&data);
    for p in &old_workers {
        let suffix = format!("-{p}.ids");
        for (file, n) in &seen_after_stop {
            if file.ends_with(&suffix) {
                assert_eq!(
                    after.get(file),
                    Some(n),
                    "{file} grew after its worker stopped"
                );
            }
        }
    }
    drain_and_check(&c, &data);
}

#[test]
fn multihost_zookeeper_outage_past_the_session_timeout() {
    let Some(c) = HostCluster::up("zkoutage", 5, &[]) else {
        return;
    };
    let data = c.dir.join("data");
    submit(&c, "ledger", &ledger_topology(&data, 2, 2), 2);
    wait_progress(&c, &data, 100, "before the outage");
    let daemons: Vec<i32> = (2..=5).map(|i| c.daemon_pid(i)).collect();
    let workers: Vec<i32> = c
        .supervisor_hosts()
        .iter()
        .flat_map(|&i| c.worker_pids(i))
        .collect();

    c.zk_stop();
    // The fault itself: ZooKeeper stays away longer than the 6 s session timeout.
    std::thread::sleep(Duration::from_secs(9));
    c.zk_start();

    // Every daemon recovers on its own (same processes), the leader answers, supervisors register.
    wait_until(LONG, "`storm list` to answer", || {
        let (code, list, _) = c.storm(&["list"]);
        code == 0 && list.lines().any(|l| l.starts_with("ledger "))
    });
    wait_until(LONG, "both supervisors to register again", || {
        supervisors(&c) == 2
    });
    for (k, pid) in daemons.iter().enumerate() {
        assert!(
            alive(*pid),
            "the daemon of {} died: {}",
            c.host(k + 2),
            c.logs()
        );
    }
    wait_progress(&c, &data, 200, "after ZooKeeper came back");
    let report = drain_and_check(&c, &data);
    eprintln!(
        "workers before the outage: {workers:?}, still alive: {:?}; {}",
        workers.iter().filter(|&&p| alive(p)).collect::<Vec<_>>(),
        report.line()
    );
}

#[test]
fn multihost_zookeeper_node_kill9_word_count_stays_exact() {
    let Some(c) = HostCluster::up("zknode", 5, &[]) else {
        return;
    };
    // The ensemble formed: one leader, two followers.
    let modes: Vec<String> = (1..=3).map(|i| c.zk_mode(i)).collect();
    assert_eq!(
        modes.iter().filter(|m| *m == "leader").count(),
        1,
        "one ZooKeeper leader: {modes:?}"
    );
    assert_eq!(
        modes.iter().filter(|m| *m == "follower").count(),
        2,
        "{modes:?}"
    );
    let data = c.dir.join("data");
    let limit = 2000;
    let mut b = TopologyBuilder::new();
    b.set_spout("spout", LedgerSpout::new(&data, limit, 2), 2);
    b.set_basic_bolt("split", SplitSentence::default(), 2)
        .shuffle_grouping("spout");
    b.set_basic_bolt("count", CountFileSink::new(&data), 2)
        .fields_grouping("split", ["word"]);
    submit(&c, "wc", &b.create_topology().unwrap(), 2);
    wait_until(LONG, "the first counts", || !read_counts(&data).is_empty());

    // kill -9 of the ZooKeeper leader while the words flow: the cluster runs on the other two.
    let leader = 1 + modes.iter().position(|m| m == "leader").unwrap();
    c.zk_kill(leader);
    let others: Vec<usize> = (1..=3).filter(|&i| i != leader).collect();
    wait_until(LONG, "a new ZooKeeper leader among the other two", || {
        others.iter().any(|&i| c.zk_mode(i) == "leader")
    });
    wait_until(LONG, "`storm list` with a ZooKeeper node down", || {
        let (code, list, _) = c.storm(&["list"]);
        code == 0 && list.lines().any(|l| l.starts_with("wc "))
    });
    let (emitted_while_down, _) = ledger(&data);
    // The node restarts and rejoins the quorum as a follower.
    c.zk_start_node(leader);
    assert_eq!(c.zk_mode(leader), "follower", "the restarted node rejoined");

    let expected = expected_counts(limit, 2);
    let mut counts = Default::default();
    let exact = wait_until_ok(LONG, || {
        counts = read_counts(&data);
        counts == expected
    });
    assert!(
        exact,
        "counts {counts:?}\nexpected {expected:?}\n{}",
        c.logs()
    );
    let (emitted, acked) = ledger(&data);
    assert_eq!(emitted.len() as i64, 2 * limit, "every id emitted");
    assert!(emitted.is_subset(&acked), "every id acked (none lost)");
    eprintln!(
        "ZooKeeper leader on {} killed after {} of {} ids; counts exact",
        c.host(leader),
        emitted_while_down.len(),
        2 * limit
    );
}
