//! The cluster end to end: one nimbus, two supervisors with two slots each, real worker processes
//! exchanging tuples over TCP, and the failures Storm promises to survive (reference §12): a worker
//! `kill -9`ed, a supervisor `kill -9`ed (its workers are adopted), a whole supervisor gone (its
//! executors move), nimbus restarted (topologies keep running; a pending kill completes), and the
//! status machine (deactivate, activate, rebalance, kill with wait).
//!
//! The topology is a word count over the file-backed test components of `storm::local::durable`:
//! `LedgerSpout` (durable ids, replays what was never acked) → `SplitSentence` (shuffle) →
//! `CountFileSink` (fields on `word`), run by the stock `worker` binary (the artifact is a zip).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use storm::api::{TopologyBuilder, TopologyConf};
use storm::local::components::SplitSentence;
use storm::local::durable::{
    expected_counts, ledger, read_counts, CountFileSink, CrashOnceBolt, LedgerSpout,
};
use storm::thrift::{
    KillOptions, RebalanceOptions, StormTopology, TNimbusSyncClient, TopologyStatus,
};

use crate::cluster_support::{alive, worker_pids, TestCluster};
use crate::support::wait_until;

const LONG: Duration = Duration::from_secs(90);

use crate::cluster_support::empty_jar;

fn word_count(data: &Path, limit: i64, interval_ms: u64) -> StormTopology {
    let b = crate::cluster_support::ledger_word_count(data, limit, interval_ms);
    b.create_topology().unwrap()
}

fn submit(c: &TestCluster, name: &str, topology: &StormTopology, workers: i64) {
    let mut conf = TopologyConf::new();
    conf.set_num_workers(workers as _)
        .set_max_spout_pending(200);
    storm::submitter::submit_to_cluster(&c.conf(), name, &conf, topology, &empty_jar(&c.dir))
        .unwrap_or_else(|e| panic!("submit {name}: {e}\n{}", c.logs()));
}

fn acked(data: &Path) -> usize {
    ledger(data).1.len()
}

/// Waits until every id the spouts ever emitted has been acked (at least once).
fn wait_all_acked(c: &TestCluster, data: &Path, limit: i64, deadline: Duration) {
    let mut last = (0, 0);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(deadline, "every emitted message id to be acked", || {
            let (emitted, acked) = ledger(data);
            last = (emitted.len(), acked.len());
            emitted.len() as i64 == 2 * limit && emitted.is_subset(&acked)
        })
    }));
    if result.is_err() {
        panic!(
            "emitted {} acked {} (expected {} ids)\n{}",
            last.0,
            last.1,
            2 * limit,
            c.logs()
        );
    }
}

fn start_cluster(name: &str) -> TestCluster {
    let mut c = TestCluster::start(name, &[]);
    c.add_supervisor(2);
    c.add_supervisor(2);
    c.wait_supervisors(2);
    c
}

#[test]
fn word_count_on_two_supervisors_counts_right_and_lays_out_storms_trees() {
    let mut c = start_cluster("wc");
    let data = c.dir.join("data");
    let limit = 300;
    submit(&c, "wc", &word_count(&data, limit, 0), 2);
    let id = c.topology_id("wc").expect("wc is in /storms");
    assert!(id.starts_with("wc-1-"), "{id}");

    wait_until(LONG, "the assignment to use both supervisors", || {
        let nodes: BTreeSet<String> = c.slots(&id).into_iter().map(|s| s.0).collect();
        nodes.len() == 2
    });
    let expected = expected_counts(limit, 2);
    let mut got = Default::default();
    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(LONG, "the word counts to be complete", || {
            got = read_counts(&data);
            got == expected
        })
    }));
    assert!(
        ok.is_ok(),
        "counts {got:?}\nexpected {expected:?}\n{}",
        c.logs()
    );
    wait_all_acked(&c, &data, limit, LONG);

    // The ZooKeeper tree (DESIGN §3).
    let state = c.state();
    assert_eq!(state.assignments(false).unwrap(), vec![id.clone()]);
    assert_eq!(state.active_storms().unwrap(), vec![id.clone()]);
    assert_eq!(state.supervisors(false).unwrap().len(), 2);
    let beats = state.worker_heartbeats(&id).unwrap();
    assert_eq!(
        beats.len(),
        2,
        "one /workerbeats node per worker: {beats:?}"
    );
    assert!(state.error_topologies().unwrap().contains(&id));
    let slots = c.slots(&id);
    for (node, port) in &slots {
        assert!(
            beats.contains_key(&format!("{node}-{port}")),
            "/workerbeats/{id}/{node}-{port}"
        );
    }

    // Nimbus's blob store (Storm's LocalFsBlobStore: blobs/<bucket>/data_<key>/data) and both
    // supervisors' local trees (DESIGN §4).
    for suffix in ["-stormjar.jar", "-stormcode.ser", "-stormconf.ser"] {
        let name = format!("data_{id}{suffix}");
        let bucket = i64::from(storm::tuple::string_hash_code(&name)).abs() % 1024;
        let data = c.nimbuses[0]
            .local_dir()
            .join("blobs")
            .join(bucket.to_string())
            .join(&name)
            .join("data");
        assert!(data.is_file(), "{}", data.display());
    }
    let keys = c.state().blobstore(false).unwrap();
    assert_eq!(
        keys.len(),
        3,
        "/blobstore has the three code blobs: {keys:?}"
    );
    for s in &c.supervisors {
        let local = s.local_dir();
        assert!(local.join("supervisor/isupervisor").is_dir());
        assert!(local.join("supervisor/localstate").is_dir());
        let dist = local.join("supervisor/stormdist").join(&id);
        for f in ["stormjar.jar", "stormcode.ser", "stormconf.ser"] {
            assert!(dist.join(f).is_file(), "{}", dist.join(f).display());
        }
        let workers: Vec<PathBuf> = std::fs::read_dir(local.join("workers"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(workers.len(), 1, "one worker per supervisor: {workers:?}");
        for sub in ["heartbeats", "pids", "tmp"] {
            assert!(
                workers[0].join(sub).is_dir(),
                "{}",
                workers[0].join(sub).display()
            );
        }
        let port = slots
            .iter()
            .find(|(n, _)| {
                std::fs::read_dir(local.join("supervisor/localstate")).is_ok() && {
                    let st =
                        storm::local_state::LocalState::open(local.join("supervisor/isupervisor"))
                            .unwrap();
                    let sid: storm::thrift::LSSupervisorId =
                        st.get(storm::local_state::LS_ID).unwrap().unwrap();
                    &sid.supervisor_id == n
                }
            })
            .map(|(_, p)| *p)
            .expect("this supervisor hosts a worker");
        let artifacts = s
            .log_dir()
            .join("workers-artifacts")
            .join(&id)
            .join(port.to_string());
        for f in ["worker.log", "worker.pid"] {
            assert!(
                artifacts.join(f).is_file(),
                "{}",
                artifacts.join(f).display()
            );
        }
    }

    // getClusterInfo reports it with its workers.
    let info = c.cluster_info();
    let t = info.topologies.iter().find(|t| t.id == id).unwrap();
    assert_eq!(t.status, "ACTIVE");
    assert_eq!(t.num_workers, 2);
    assert_eq!(info.supervisors.len(), 2);
}

#[test]
fn workers_and_supervisors_die_and_the_topology_recovers() {
    let mut c = start_cluster("faults");
    let data = c.dir.join("data");
    let limit = 4000;
    submit(&c, "faults", &word_count(&data, limit, 2), 2);
    let id = c.topology_id("faults").unwrap();
    wait_until(LONG, "acks to start", || acked(&data) > 50);

    // 1. kill -9 one worker: its supervisor relaunches it, acks keep growing.
    let victim = *c.supervisors[0]
        .worker_pids()
        .first()
        .expect("a worker on supervisor0");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until(LONG, "a new worker on supervisor0", || {
        let pids = c.supervisors[0].worker_pids();
        pids.iter().any(|&p| p != victim && alive(p))
    });
    let before = acked(&data);
    wait_until(LONG, "acks to keep growing after the relaunch", || {
        acked(&data) > before + 100
    });

    // 2. kill -9 supervisor1: its worker keeps running; the restarted supervisor adopts it.
    let adopted: Vec<i32> = c.supervisors[1]
        .worker_pids()
        .into_iter()
        .filter(|&p| alive(p))
        .collect();
    assert_eq!(adopted.len(), 1, "one live worker on supervisor1");
    c.supervisors[1].kill9();
    let before = acked(&data);
    wait_until(LONG, "acks to grow with supervisor1 dead", || {
        acked(&data) > before + 100
    });
    assert!(alive(adopted[0]), "the worker survives its supervisor");
    c.supervisors[1].restart();
    // Give the restarted supervisor several monitor rounds; the worker must still be the same process.
    let restarted_at = std::time::Instant::now();
    wait_until(LONG, "the restarted supervisor to heartbeat", || {
        c.state().supervisors(false).map(|s| s.len()).unwrap_or(0) == 2
            && restarted_at.elapsed() > Duration::from_secs(5)
    });
    assert!(
        alive(adopted[0]),
        "the restarted supervisor adopted its worker instead of killing it\n{}",
        c.logs()
    );
    assert_eq!(
        c.supervisors[1]
            .worker_pids()
            .into_iter()
            .filter(|&p| alive(p))
            .collect::<Vec<_>>(),
        adopted
    );

    // 3. A whole supervisor goes away (process and workers): nimbus moves its executors.
    let gone_node = {
        let st = storm::local_state::LocalState::open(
            c.supervisors[1].local_dir().join("supervisor/isupervisor"),
        )
        .unwrap();
        let sid: storm::thrift::LSSupervisorId =
            st.get(storm::local_state::LS_ID).unwrap().unwrap();
        sid.supervisor_id
    };
    let pids = c.supervisors[1].worker_pids();
    c.supervisors[1].kill9();
    for p in pids {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    wait_until(
        LONG,
        "the executors to move off the stopped supervisor",
        || {
            let slots = c.slots(&id);
            !slots.is_empty() && slots.iter().all(|(n, _)| *n != gone_node)
        },
    );
    let before = acked(&data);
    wait_until(LONG, "acks to grow on the remaining supervisor", || {
        acked(&data) > before + 100
    });

    // At-least-once: every id ever emitted is eventually acked.
    wait_all_acked(&c, &data, limit, Duration::from_secs(180));
}

#[test]
fn the_status_machine_and_a_nimbus_restart() {
    let mut c = start_cluster("status");
    let data = c.dir.join("data");
    submit(&c, "st", &word_count(&data, 1_000_000, 5), 2);
    let id = c.topology_id("st").unwrap();
    wait_until(LONG, "acks to start", || acked(&data) > 20);

    // Deactivate: the spouts stop emitting.
    c.nimbus_client().raw().deactivate("st".into()).unwrap();
    assert_eq!(c.storm_base(&id).unwrap().status, TopologyStatus::INACTIVE);
    let mut last = ledger(&data).0.len();
    let mut stable_since = std::time::Instant::now();
    wait_until(LONG, "emits to stop for 3 s after deactivate", || {
        let now = ledger(&data).0.len();
        if now != last {
            last = now;
            stable_since = std::time::Instant::now();
        }
        stable_since.elapsed() > Duration::from_secs(3)
    });
    c.nimbus_client().raw().activate("st".into()).unwrap();
    let before = ledger(&data).0.len();
    wait_until(LONG, "emits to resume after activate", || {
        ledger(&data).0.len() > before + 20
    });

    // Rebalance onto one worker.
    c.nimbus_client()
        .raw()
        .rebalance(
            "st".into(),
            RebalanceOptions {
                wait_secs: Some(0),
                num_workers: Some(1),
                num_executors: None,
                principal: None,
                topology_conf_overrides: None,
                topology_resources_overrides: None,
            },
        )
        .unwrap();
    wait_until(LONG, "the topology to run in one worker", || {
        c.slots(&id).len() == 1
            && c.storm_base(&id)
                .is_some_and(|b| b.status == TopologyStatus::ACTIVE)
    });
    let before = acked(&data);
    wait_until(LONG, "acks after the rebalance", || {
        acked(&data) > before + 20
    });

    // Nimbus dies; the topology keeps processing without it.
    c.nimbuses[0].kill9();
    let before = acked(&data);
    wait_until(LONG, "acks with nimbus down", || acked(&data) > before + 20);

    // Restarted, it accepts a kill with wait; killed again before the wait ends, the restarted nimbus
    // still completes the removal.
    c.nimbuses[0].restart();
    // Until the killed process's ZooKeeper session expires, its leader latch node still stands and the
    // restarted nimbus refuses writes ("not a leader").
    wait_until(LONG, "the restarted nimbus to accept the kill", || {
        storm::client::NimbusClient::connect_leader(&c.conf()).is_ok_and(|mut n| {
            n.raw()
                .kill_topology_with_opts("st".into(), KillOptions { wait_secs: Some(4) })
                .is_ok()
        })
    });
    assert_eq!(c.storm_base(&id).unwrap().status, TopologyStatus::KILLED);
    c.nimbuses[0].restart();
    wait_until(LONG, "the killed topology to be removed", || {
        c.storm_base(&id).is_none() && c.assignment(&id).is_none()
    });
    wait_until(LONG, "the workers to exit and be cleaned up", || {
        c.supervisors
            .iter()
            .all(|s| worker_pids(&s.local_dir()).iter().all(|&p| !alive(p)))
    });
}

#[test]
fn a_user_error_kills_the_worker_which_is_relaunched_and_replays() {
    let mut c = TestCluster::start("crash", &[]);
    c.add_supervisor(1);
    c.wait_supervisors(1);
    let data = c.dir.join("data");
    let limit = 200;
    let mut b = TopologyBuilder::new();
    b.set_spout("spout", LedgerSpout::new(&data, limit, 0), 2);
    b.set_basic_bolt("crash", CrashOnceBolt::new(&data), 1)
        .shuffle_grouping("spout");
    b.set_basic_bolt("split", SplitSentence::default(), 2)
        .shuffle_grouping("crash");
    b.set_basic_bolt("count", CountFileSink::new(&data), 2)
        .fields_grouping("split", ["word"]);
    submit(&c, "crash", &b.create_topology().unwrap(), 1);
    let id = c.topology_id("crash").unwrap();

    // The error reaches /errors and `storm get-errors`-style readers.
    wait_until(LONG, "the crash in /errors", || {
        c.state()
            .errors(&id, "crash")
            .unwrap_or_default()
            .iter()
            .any(|e| e.error.contains("deliberate crash"))
    });
    // The worker died (exit 20) and its supervisor relaunched it: a second worker id appears.
    wait_until(LONG, "a relaunched worker", || {
        c.supervisors[0]
            .stderr()
            .contains("to=\"KILL_AND_RELAUNCH\"")
            && c.supervisors[0].worker_pids().iter().any(|&p| alive(p))
    });
    wait_all_acked(&c, &data, limit, LONG);
    // At least once: every word counted at least as often as the sentences say (the sink flushes on
    // its tick).
    let expected = expected_counts(limit, 2);
    wait_until(LONG, "the counts to cover every sentence", || {
        let counts = read_counts(&data);
        expected
            .iter()
            .all(|(w, n)| counts.get(w).copied().unwrap_or(0) >= *n)
    });
}
