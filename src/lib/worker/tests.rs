//! Worker process tests: arguments, the assignment → executors / remote tasks split, and a worker
//! started in-process on the in-memory cluster state (real transport on a loopback port).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::*;
use crate::api::{TopologyBuilder, TopologyConf};
use crate::cluster::MemoryStore;
use crate::local::components::{RandomSentenceSpout, SplitSentence, WordCount};
use crate::thrift::{NodeInfo, StormBase};
use crate::topology::system::{
    all_components, compute_executors, normalize_topology, parallelism_hint, task_to_component,
};

fn node(n: &str, port: i64) -> NodeInfo {
    NodeInfo::slot(n, port)
}

fn assignment(executors: &[((i64, i64), NodeInfo)]) -> Assignment {
    Assignment {
        master_code_dir: "/tmp".into(),
        node_host: Some(BTreeMap::from([
            ("sup-a".to_string(), "127.0.0.1".to_string()),
            ("sup-b".to_string(), "127.0.0.1".to_string()),
        ])),
        executor_node_port: Some(
            executors
                .iter()
                .map(|((s, e), ni)| (vec![*s, *e], ni.clone()))
                .collect(),
        ),
        executor_start_time_secs: Some(BTreeMap::new()),
        worker_resources: None,
        total_shared_off_heap: None,
        owner: None,
    }
}

#[test]
fn arguments_are_storms_four_positionals() {
    let args: Vec<String> = ["wc-1-1", "sup", "6700", "wid"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        WorkerArgs::parse(&args).unwrap(),
        WorkerArgs {
            topology_id: "wc-1-1".into(),
            supervisor_id: "sup".into(),
            port: 6700,
            worker_id: "wid".into()
        }
    );
    let e = WorkerArgs::parse(&args[..3]).unwrap_err().to_string();
    assert!(e.contains("usage: worker <topology-id>"), "{e}");
    let mut bad = args.clone();
    bad[2] = "70000".into();
    let e = WorkerArgs::parse(&bad).unwrap_err().to_string();
    assert!(e.contains("\"70000\" is not a port number"), "{e}");
}

#[test]
fn assignment_splits_into_local_executors_and_remote_tasks() {
    let a = assignment(&[
        ((1, 2), node("sup-a", 6700)),
        ((3, 3), node("sup-b", 6700)),
        ((4, 5), node("sup-a", 6701)),
        ((6, 6), node("sup-a", 6700)),
    ]);
    assert_eq!(local_executors(&a, "sup-a", 6700), vec![(1, 2), (6, 6)]);
    assert_eq!(local_executors(&a, "sup-a", 6702), vec![]);
    let remote = remote_tasks(&a, "sup-a", 6700);
    let b: SocketAddr = "127.0.0.1:6700".parse().unwrap();
    let c: SocketAddr = "127.0.0.1:6701".parse().unwrap();
    assert_eq!(
        remote,
        HashMap::from([(3, b), (4, c), (5, c)]),
        "every task elsewhere, by its worker's address"
    );
}

/// A word count whose executors all live in one worker, written as the supervisor would have
/// downloaded it, with its assignment and storm base in the in-memory cluster state.
struct Fixture {
    _dir: tempfile::TempDir,
    conf: Config,
    store: MemoryStore,
    cluster: ClusterState,
    id: String,
    executors: Vec<(i32, i32)>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn fixture(port: u16) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut conf = Config::defaults();
    let over = serde_json::json!({
        "storm.local.dir": dir.path().join("local").to_str().unwrap(),
        "storm.log.dir": dir.path().join("logs").to_str().unwrap(),
        "task.heartbeat.frequency.secs": 1,
        "executor.metrics.frequency.secs": 1,
        "task.refresh.poll.secs": 1,
    });
    conf.overlay(
        over.as_object().unwrap(),
        &crate::config::ConfigSource::CommandLine,
    )
    .unwrap();
    let paths = StormPaths::from_config(&conf).unwrap();

    let mut builder = TopologyBuilder::new();
    builder.set_spout("spout", RandomSentenceSpout::new(1, true), 1);
    builder
        .set_basic_bolt("split", SplitSentence::default(), 2)
        .shuffle_grouping("spout");
    builder
        .set_basic_bolt("count", WordCount::new(), 2)
        .fields_grouping("split", ["word"]);
    let topology = builder.create_topology().unwrap();
    let id = "wc-1-1700000000".to_string();
    let mut topo_conf = TopologyConf::new().as_map().clone();
    topo_conf.insert("storm.id".into(), id.clone().into());
    topo_conf.insert("topology.name".into(), "wc".into());
    let mut merged = conf.to_json();
    merged.extend(topo_conf.clone());
    let normalized = normalize_topology(&topology, &merged).unwrap();
    let system = system_topology(&normalized, &merged).unwrap();
    let component_executors: BTreeMap<String, i32> = all_components(&system)
        .into_iter()
        .map(|(id, common)| (id.to_owned(), parallelism_hint(common)))
        .collect();
    let executors = compute_executors(&task_to_component(&system).unwrap(), &component_executors);

    let dist = paths.supervisor_stormdist(&id);
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(
        dist_file(&dist, "stormcode.ser"),
        crate::thrift::serialize(&normalized),
    )
    .unwrap();
    std::fs::write(
        dist_file(&dist, "stormconf.ser"),
        crate::thrift::conf_to_gzip_json(&topo_conf),
    )
    .unwrap();

    let store = MemoryStore::new();
    let cluster = ClusterState::new(Arc::new(store.session())).unwrap();
    let placed: Vec<((i64, i64), NodeInfo)> = executors
        .iter()
        .map(|&(s, e)| ((i64::from(s), i64::from(e)), node("sup-a", i64::from(port))))
        .collect();
    cluster
        .set_assignment(
            &id,
            &assignment(&placed),
            &crate::cluster::TopologyAcls::open(),
        )
        .unwrap();
    cluster
        .activate_storm(
            &id,
            &StormBase::new(
                "wc".to_string(),
                TopologyStatus::ACTIVE,
                1,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
            ),
            &crate::cluster::TopologyAcls::open(),
        )
        .unwrap();
    Fixture {
        _dir: dir,
        conf,
        store,
        cluster,
        id,
        executors,
    }
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_worker_runs_its_executors_heartbeats_and_exits_when_its_assignment_changes() {
    let port = free_port();
    let fx = fixture(port);
    let args = WorkerArgs {
        topology_id: fx.id.clone(),
        supervisor_id: "sup-a".into(),
        port,
        worker_id: "w1".into(),
    };
    let running =
        RunningWorker::start(&fx.conf, Arc::new(fx.store.session()), args.clone()).unwrap();
    assert_eq!(running.local_addr().port(), port);
    let handle = std::thread::spawn(move || running.run());

    // The local heartbeat names every executor plus the system executor.
    let paths = StormPaths::from_config(&fx.conf).unwrap();
    let hb: LSWorkerHeartbeat = LocalState::open(paths.worker_heartbeats("w1"))
        .unwrap()
        .get(LS_WORKER_HEARTBEAT)
        .unwrap()
        .expect("the first heartbeat is written at start");
    assert_eq!(hb.topology_id, fx.id);
    assert_eq!(hb.port, i32::from(port));
    assert_eq!(hb.executors.len(), fx.executors.len() + 1);
    assert!(hb.executors.contains(&ExecutorInfo {
        task_start: -1,
        task_end: -1
    }));

    // Nimbus sees executor stats growing in /workerbeats.
    wait_until("acked sentences in /workerbeats", || {
        let Ok(Some(beat)) = fx.cluster.get_worker_heartbeat(&fx.id, "sup-a", port) else {
            return false;
        };
        beat.executor_stats.len() == fx.executors.len()
            && beat.executor_stats.values().any(|s| {
                matches!(&s.specific, crate::thrift::ExecutorSpecificStats::Spout(sp)
                    if sp.acked.values().flat_map(|m| m.values()).sum::<i64>() > 0)
            })
    });

    // Moving one executor elsewhere makes the worker exit.
    let mut a = fx.cluster.assignment_info(&fx.id, false).unwrap().unwrap();
    let first = a
        .executor_node_port
        .as_ref()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    a.executor_node_port
        .as_mut()
        .unwrap()
        .insert(first, node("sup-b", 6799));
    fx.cluster
        .set_assignment(&fx.id, &a, &crate::cluster::TopologyAcls::open())
        .unwrap();
    let reason = handle.join().unwrap();
    assert_eq!(reason, ExitReason::AssignmentChanged);
}

#[test]
fn a_worker_without_executors_here_refuses_to_start() {
    let port = free_port();
    let fx = fixture(port);
    let args = WorkerArgs {
        topology_id: fx.id.clone(),
        supervisor_id: "sup-zzz".into(),
        port,
        worker_id: "w2".into(),
    };
    let e = RunningWorker::start(&fx.conf, Arc::new(fx.store.session()), args)
        .err()
        .expect("no executors here")
        .to_string();
    assert!(e.contains("gives no executors to sup-zzz"), "{e}");
}

#[test]
fn a_missing_topology_file_names_the_file() {
    let port = free_port();
    let fx = fixture(port);
    let paths = StormPaths::from_config(&fx.conf).unwrap();
    let code = dist_file(&paths.supervisor_stormdist(&fx.id), "stormcode.ser");
    std::fs::write(&code, b"\x0b\x00\x01garbage").unwrap();
    let args = WorkerArgs {
        topology_id: fx.id.clone(),
        supervisor_id: "sup-a".into(),
        port,
        worker_id: "w3".into(),
    };
    let e = RunningWorker::start(&fx.conf, Arc::new(fx.store.session()), args)
        .err()
        .expect("corrupt topology")
        .to_string();
    assert!(
        e.contains("stormcode.ser") && e.contains("is not a valid"),
        "{e}"
    );
}
