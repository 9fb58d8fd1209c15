//! The cluster-state layer against a real ZooKeeper: ephemerals vanish with their session (close and
//! expiry), one-shot watches reach listeners, leader election hands over, a ZooKeeper restart within the
//! session timeout is invisible, an expired session is replaced (ephemerals re-created, watches re-armed,
//! `SessionReestablished` delivered), and a small scenario leaves exactly Storm's znode layout.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use storm::cluster::{
    ClusterState, LeaderElector, StateStorage, WatchEvent, WatchEventKind, ZkSettings, ZkStorage,
};
use storm::thrift::{
    Assignment, ClusterWorkerHeartbeat, NimbusSummary, NodeInfo, StormBase, SupervisorInfo,
    TopologyStatus,
};

use crate::support::{unique_root, wait_until, zk_connect, ZkProxy, ZkServer};

/// Settings for tests: the shared server runs with tickTime 500 ms, so sessions may be 1–10 s.
fn settings(servers: &str, root: &str, session_ms: u64) -> ZkSettings {
    ZkSettings {
        servers: servers.to_string(),
        root: root.to_string(),
        session_timeout: Duration::from_millis(session_ms),
        connection_timeout: Duration::from_millis(5_000),
        retry_times: 20,
        retry_interval: Duration::from_millis(250),
        auth: None,
        default_acls: storm::cluster::NodeAcls::open(),
    }
}

fn connect(root: &str) -> ZkStorage {
    ZkStorage::connect(settings(&zk_connect(), root, 10_000))
        .expect("connect to the shared ZooKeeper")
}

/// Collects a storage's watch events.
struct Events {
    rx: Receiver<WatchEvent>,
    /// Received but not yet matched by `expect`.
    pending: RefCell<VecDeque<WatchEvent>>,
}

impl Events {
    fn of(storage: &dyn StateStorage) -> Events {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        storage.add_listener(Arc::new(move |e: &WatchEvent| {
            let _ = tx.lock().unwrap().send(e.clone());
        }));
        Events {
            rx,
            pending: RefCell::default(),
        }
    }

    /// The next event; panics if none comes before the deadline.
    fn next(&self, deadline: Duration) -> WatchEvent {
        if let Some(e) = self.pending.borrow_mut().pop_front() {
            return e;
        }
        self.rx
            .recv_timeout(deadline)
            .expect("a watch event before the deadline")
    }

    /// Waits for an event of `kind` on `path`; other events stay pending for later `expect`s.
    fn expect(&self, kind: WatchEventKind, path: &str, deadline: Duration) {
        let wanted = |e: &WatchEvent| e.kind == kind && e.path == path;
        let mut pending = self.pending.borrow_mut();
        if let Some(i) = pending.iter().position(wanted) {
            pending.remove(i);
            return;
        }
        let end = Instant::now() + deadline;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(e) if wanted(&e) => return,
                Ok(e) => pending.push_back(e),
                Err(_) => {
                    panic!("no {kind:?} event on {path} within {deadline:?}; saw {pending:?}")
                }
            }
        }
    }
}

/// Every node under the storage root, recursively, as sorted paths.
fn tree(storage: &dyn StateStorage) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec!["/".to_string()];
    while let Some(path) = todo.pop() {
        for child in storage.get_children(&path, false).unwrap() {
            let child = if path == "/" {
                format!("/{child}")
            } else {
                format!("{path}/{child}")
            };
            out.push(child.clone());
            todo.push(child);
        }
    }
    out.sort();
    out
}

#[test]
fn zk_ephemeral_nodes_vanish_when_the_session_closes() {
    let root = unique_root("ephemeral-close");
    let owner = connect(&root);
    let observer = connect(&root);
    owner.set_ephemeral("/supervisors/sup-1", b"info").unwrap();
    owner
        .set_ephemeral("/supervisors/sup-1", b"info-2")
        .unwrap();
    let seq = owner
        .create_sequential("/errors/topo-1/spout/e", b"boom")
        .unwrap();
    assert!(
        seq.starts_with("/errors/topo-1/spout/e")
            && seq.len() == "/errors/topo-1/spout/e".len() + 10,
        "{seq}"
    );
    assert_eq!(
        observer.get_data("/supervisors/sup-1", false).unwrap(),
        Some(b"info-2".to_vec())
    );

    let started = Instant::now();
    owner.close();
    // CloseSession is sent at once: the nodes are gone well before the 10 s session timeout.
    assert!(!observer.exists("/supervisors/sup-1", false).unwrap());
    assert!(!observer.exists(&seq, false).unwrap());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "close took {:?}",
        started.elapsed()
    );
    assert!(
        observer.exists("/supervisors", false).unwrap(),
        "parents are persistent"
    );
    assert!(matches!(
        owner.get_data("/supervisors", false),
        Err(storm::cluster::StorageError::Closed { .. })
    ));

    // Dropping also closes.
    let dropped = connect(&root);
    dropped.set_ephemeral("/nimbuses/host:6627", b"n").unwrap();
    drop(dropped);
    assert!(!observer.exists("/nimbuses/host:6627", false).unwrap());
}

#[test]
fn zk_watches_fire_once_and_reach_listeners() {
    let root = unique_root("watches");
    let writer = connect(&root);
    let reader = connect(&root);
    let events = Events::of(&reader);
    let deadline = Duration::from_secs(10);

    // Data watch on a missing node reports its creation, then a data watch reports the change.
    assert_eq!(reader.get_data("/storms/topo-1", true).unwrap(), None);
    writer.set_data("/storms/topo-1", b"v1").unwrap();
    assert_eq!(
        events.next(deadline),
        WatchEvent::new(WatchEventKind::NodeCreated, "/storms/topo-1")
    );
    assert_eq!(
        reader.get_data("/storms/topo-1", true).unwrap(),
        Some(b"v1".to_vec())
    );
    assert_eq!(
        reader.get_data("/storms/topo-1", true).unwrap(),
        Some(b"v1".to_vec()),
        "re-arming is a no-op"
    );
    writer.set_data("/storms/topo-1", b"v2").unwrap();
    assert_eq!(
        events.next(deadline),
        WatchEvent::new(WatchEventKind::DataChanged, "/storms/topo-1")
    );

    // Fired watches are gone: this write is not reported; the next event is the one armed afterwards.
    writer.set_data("/storms/topo-1", b"v3").unwrap();
    writer.mkdirs("/supervisors").unwrap();
    assert!(reader
        .get_children("/supervisors", true)
        .unwrap()
        .is_empty());
    writer.set_ephemeral("/supervisors/sup-1", b"s").unwrap();
    assert_eq!(
        events.next(deadline),
        WatchEvent::new(WatchEventKind::ChildrenChanged, "/supervisors")
    );

    // Children watch on a node that has children, then deletion of a watched node.
    assert_eq!(
        reader.get_children("/supervisors", true).unwrap(),
        vec!["sup-1".to_string()]
    );
    assert!(reader.exists("/storms/topo-1", true).unwrap());
    writer.delete("/supervisors/sup-1").unwrap();
    assert_eq!(
        events.next(deadline),
        WatchEvent::new(WatchEventKind::ChildrenChanged, "/supervisors")
    );
    writer.delete("/storms").unwrap();
    assert_eq!(
        events.next(deadline),
        WatchEvent::new(WatchEventKind::NodeDeleted, "/storms/topo-1")
    );
    assert!(
        !reader.exists("/storms", false).unwrap(),
        "delete is recursive"
    );
    assert!(
        reader.get_children("/storms", false).unwrap().is_empty(),
        "a missing node has no children"
    );
}

#[test]
fn zk_leader_election_hands_over_when_the_leader_session_ends() {
    let root = unique_root("leader");
    let a_storage = Arc::new(connect(&root));
    let b_storage = Arc::new(connect(&root));
    let a = LeaderElector::new(a_storage.clone(), "nimbus-a:6627").unwrap();
    let b = LeaderElector::new(b_storage.clone(), "nimbus-b:6627").unwrap();
    assert!(
        a.await_leadership(Duration::from_secs(10)),
        "the first contender leads"
    );
    assert!(!b.is_leader(), "exactly one leads");
    assert_eq!(b.leader().unwrap().as_deref(), Some("nimbus-a:6627"));
    assert_eq!(
        b.participants().unwrap(),
        ["nimbus-a:6627", "nimbus-b:6627"]
    );
    let latches = b_storage.get_children("/leader-lock", false).unwrap();
    assert_eq!(latches.len(), 2);
    assert!(
        latches
            .iter()
            .all(|l| l.starts_with("_c_") && l.contains("-latch-")),
        "{latches:?}"
    );

    // The leader's session ends (its process dies): the other takes over.
    a_storage.close();
    assert!(
        b.await_leadership(Duration::from_secs(10)),
        "the second contender takes over"
    );
    assert_eq!(b.leader().unwrap().as_deref(), Some("nimbus-b:6627"));
    drop(a);

    // A new contender queues behind the leader.
    let c = LeaderElector::new(Arc::new(connect(&root)), "nimbus-c:6627").unwrap();
    assert!(!c.await_leadership(Duration::from_millis(200)));
    b.close();
    assert!(c.await_leadership(Duration::from_secs(10)));
}

#[test]
fn zk_restart_within_the_session_timeout_is_invisible() {
    // A private server for this test; `ZkServer` stops it on drop, so also when the test fails.
    let server = ZkServer::start("cluster-restart");
    let root = unique_root("restart");
    let storage =
        Arc::new(ZkStorage::connect(settings(&server.connect_string(), &root, 10_000)).unwrap());
    let session = storage.session_id();
    let events = Events::of(storage.as_ref());
    storage
        .set_ephemeral("/supervisors/sup-1", b"alive")
        .unwrap();
    storage.set_data("/storms/topo-1", b"base").unwrap();

    server.stop();
    // An operation made while the server is down waits for it and then succeeds.
    let during = {
        let storage = storage.clone();
        std::thread::spawn(move || storage.set_data("/storms/topo-1", b"written-during-outage"))
    };
    server.restart();
    during
        .join()
        .unwrap()
        .expect("an operation across the restart succeeds");

    storage.set_data("/assignments/topo-1", b"a").unwrap();
    assert_eq!(
        storage.get_data("/storms/topo-1", false).unwrap(),
        Some(b"written-during-outage".to_vec())
    );
    assert_eq!(
        storage.get_data("/supervisors/sup-1", false).unwrap(),
        Some(b"alive".to_vec())
    );
    assert_eq!(storage.session_id(), session, "the session survived");
    assert_eq!(storage.session_generation(), 0, "no new session was needed");
    events.expect(WatchEventKind::Disconnected, "/", Duration::from_secs(5));
    events.expect(WatchEventKind::Reconnected, "/", Duration::from_secs(5));
    let other = ZkStorage::connect(settings(&server.connect_string(), &root, 10_000)).unwrap();
    assert!(
        other.exists("/supervisors/sup-1", false).unwrap(),
        "the ephemeral is still there"
    );
}

#[test]
fn zk_session_expiry_is_recovered() {
    let root = unique_root("expiry");
    let proxy = ZkProxy::start(&zk_connect());
    let storage = ZkStorage::connect(settings(&proxy.connect_string(), &root, 2_000)).unwrap();
    let observer = connect(&root);
    let events = Events::of(&storage);
    let observed = Events::of(&observer);

    storage.set_ephemeral("/supervisors/sup-1", b"v1").unwrap();
    storage.set_ephemeral("/supervisors/sup-1", b"v2").unwrap();
    let error = storage
        .create_sequential("/errors/topo-1/bolt/e", b"err")
        .unwrap();
    storage.mkdirs("/assignments").unwrap();
    assert_eq!(storage.get_data("/storms/topo-1", true).unwrap(), None);
    assert!(storage
        .get_children("/assignments", true)
        .unwrap()
        .is_empty());
    observer.get_children("/errors/topo-1/bolt", true).unwrap();
    let old_session = storage.session_id().unwrap();

    // A partition longer than the session timeout: the server expires the session ...
    proxy.cut();
    // ... so its ephemerals vanish (the sequential error node is not re-created) ...
    observed.expect(
        WatchEventKind::ChildrenChanged,
        "/errors/topo-1/bolt",
        Duration::from_secs(20),
    );
    assert!(!observer.exists(&error, false).unwrap());
    proxy.restore();
    // ... and the storage builds a new session, then tells its listeners.
    events.expect(
        WatchEventKind::SessionReestablished,
        "/",
        Duration::from_secs(30),
    );
    assert_eq!(storage.session_generation(), 1);
    let new_session = storage.session_id().unwrap();
    assert_ne!(new_session, old_session);
    // Synthetic events for the outstanding watches follow, so callers re-read.
    events.expect(
        WatchEventKind::DataChanged,
        "/storms/topo-1",
        Duration::from_secs(5),
    );
    events.expect(
        WatchEventKind::ChildrenChanged,
        "/assignments",
        Duration::from_secs(5),
    );

    // The plain ephemeral was re-created with its latest data, owned by the new session.
    assert_eq!(
        observer.get_data("/supervisors/sup-1", false).unwrap(),
        Some(b"v2".to_vec())
    );
    // The watches were re-armed on the new session.
    observer.set_data("/storms/topo-1", b"base").unwrap();
    events.expect(
        WatchEventKind::NodeCreated,
        "/storms/topo-1",
        Duration::from_secs(10),
    );
    observer.set_data("/assignments/topo-1", b"a").unwrap();
    events.expect(
        WatchEventKind::ChildrenChanged,
        "/assignments",
        Duration::from_secs(10),
    );
    // Operations work on the new session, and closing it removes the re-created ephemeral at once.
    storage.set_data("/storms/topo-1", b"base-2").unwrap();
    storage.close();
    assert!(!observer.exists("/supervisors/sup-1", false).unwrap());
}

#[test]
fn zk_leader_reenters_the_queue_after_session_expiry() {
    let root = unique_root("leader-expiry");
    let proxy = ZkProxy::start(&zk_connect());
    let a_storage =
        Arc::new(ZkStorage::connect(settings(&proxy.connect_string(), &root, 2_000)).unwrap());
    let a = LeaderElector::new(a_storage.clone(), "nimbus-a:6627").unwrap();
    let b = LeaderElector::new(Arc::new(connect(&root)), "nimbus-b:6627").unwrap();
    assert!(a.await_leadership(Duration::from_secs(10)));
    // Cut a off for longer than its session timeout: the server expires a's session.
    proxy.cut();
    assert!(
        b.await_leadership(Duration::from_secs(30)),
        "b leads once a's session expired"
    );
    proxy.restore();
    wait_until(
        Duration::from_secs(30),
        "a re-enters the election queue",
        || {
            b.participants()
                .map(|p| p == ["nimbus-b:6627", "nimbus-a:6627"])
                .unwrap_or(false)
        },
    );
    assert!(!a.is_leader());
    b.close();
    assert!(
        a.await_leadership(Duration::from_secs(10)),
        "a leads again after b leaves"
    );
}

#[test]
fn zk_scenario_leaves_storms_layout() {
    let root = unique_root("layout");
    let daemon = Arc::new(connect(&root));
    let cs = ClusterState::new(daemon.clone()).unwrap();
    let storm_id = "wordcount-1-1700000000";

    let supervisor = SupervisorInfo {
        time_secs: 1_700_000_000,
        hostname: "host-1".into(),
        assignment_id: Some("sup-1".into()),
        used_ports: Some(vec![6700]),
        meta: Some(vec![6700, 6701]),
        scheduler_meta: None,
        uptime_secs: Some(5),
        version: Some(storm::STORM_VERSION.into()),
        resources_map: None,
        server_port: Some(6628),
    };
    cs.supervisor_heartbeat("sup-1", &supervisor).unwrap();
    let base = StormBase {
        name: "wordcount".into(),
        status: TopologyStatus::ACTIVE,
        num_workers: 1,
        component_executors: Some(BTreeMap::from([
            ("spout".into(), 1),
            ("split sentence".into(), 2),
        ])),
        launch_time_secs: Some(1_700_000_000),
        owner: Some("alice".into()),
        topology_action_options: None,
        prev_status: None,
        component_debug: None,
        principal: None,
        topology_version: None,
    };
    cs.activate_storm(storm_id, &base, &storm::cluster::TopologyAcls::open())
        .unwrap();
    cs.setup_heartbeats(storm_id, &storm::cluster::TopologyAcls::open())
        .unwrap();
    cs.setup_errors(storm_id, &storm::cluster::TopologyAcls::open())
        .unwrap();
    let node_port = NodeInfo {
        node: "sup-1".into(),
        port: BTreeSet::from([6700]),
    };
    let assignment = Assignment {
        master_code_dir: "/storm-local/nimbus".into(),
        node_host: Some(BTreeMap::from([("sup-1".into(), "host-1".into())])),
        executor_node_port: Some(BTreeMap::from([
            (vec![1, 1], node_port.clone()),
            (vec![2, 3], node_port),
        ])),
        executor_start_time_secs: Some(BTreeMap::from([
            (vec![1, 1], 1_700_000_001),
            (vec![2, 3], 1_700_000_001),
        ])),
        worker_resources: None,
        total_shared_off_heap: None,
        owner: Some("alice".into()),
    };
    cs.set_assignment(storm_id, &assignment, &storm::cluster::TopologyAcls::open())
        .unwrap();
    let heartbeat = ClusterWorkerHeartbeat {
        storm_id: storm_id.into(),
        executor_stats: BTreeMap::new(),
        time_secs: 1_700_000_010,
        uptime_secs: 9,
    };
    cs.worker_heartbeat(storm_id, "sup-1", 6700, &heartbeat)
        .unwrap();
    for i in 0..12 {
        cs.report_error(
            storm_id,
            "split sentence",
            "host-1",
            6700,
            &format!("java.lang.RuntimeException: {i}"),
        )
        .unwrap();
    }
    let nimbus = NimbusSummary {
        host: "host-1".into(),
        port: 6627,
        uptime_secs: 1_700_000_000,
        is_leader: false,
        version: storm::STORM_VERSION.into(),
        tls_port: None,
    };
    cs.add_nimbus_host("host-1:6627", &nimbus).unwrap();
    let elector = LeaderElector::new(daemon.clone(), "host-1:6627").unwrap();
    assert!(elector.await_leadership(Duration::from_secs(10)));

    // The tree, with sequence numbers and the latch's random prefix normalised.
    let normalised: Vec<String> = tree(daemon.as_ref())
        .into_iter()
        .map(|p| {
            if let Some(name) = p.strip_prefix("/leader-lock/") {
                assert!(name.starts_with("_c_") && name.contains("-latch-"), "{p}");
                "/leader-lock/<latch>".to_string()
            } else if let Some(i) = p.rfind("/e") {
                let suffix = &p[i + 2..];
                if suffix.len() == 10 && suffix.bytes().all(|b| b.is_ascii_digit()) {
                    format!("{}/e<seq>", &p[..i])
                } else {
                    p
                }
            } else {
                p
            }
        })
        .collect();
    let mut expected: Vec<String> = [
        "/assignments",
        "/assignments/wordcount-1-1700000000",
        "/backpressure",
        "/blobstore",
        "/errors",
        "/errors/wordcount-1-1700000000",
        "/errors/wordcount-1-1700000000/split+sentence",
        "/errors/wordcount-1-1700000000/split+sentence-last-error",
        "/leader-lock",
        "/leader-lock/<latch>",
        "/logconfigs",
        "/nimbuses",
        "/nimbuses/host-1:6627",
        "/storms",
        "/storms/wordcount-1-1700000000",
        "/supervisors",
        "/supervisors/sup-1",
        "/workerbeats",
        "/workerbeats/wordcount-1-1700000000",
        "/workerbeats/wordcount-1-1700000000/sup-1-6700",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    expected.extend(std::iter::repeat_n(
        "/errors/wordcount-1-1700000000/split+sentence/e<seq>".to_string(),
        10,
    ));
    expected.sort();
    assert_eq!(normalised, expected);

    // Another daemon reads it all back.
    let reader = ClusterState::new(Arc::new(connect(&root))).unwrap();
    assert_eq!(reader.supervisor_info("sup-1").unwrap(), Some(supervisor));
    assert_eq!(reader.storm_base(storm_id, false).unwrap(), Some(base));
    assert_eq!(
        reader.assignment_info(storm_id, false).unwrap(),
        Some(assignment)
    );
    assert_eq!(
        reader
            .get_worker_heartbeat(storm_id, "sup-1", 6700)
            .unwrap(),
        Some(heartbeat)
    );
    assert_eq!(reader.nimbuses().unwrap(), [nimbus]);
    let errors = reader.errors(storm_id, "split sentence").unwrap();
    assert_eq!(errors.len(), 10);
    assert_eq!(
        errors[0].error, "java.lang.RuntimeException: 11",
        "newest first"
    );
    assert_eq!(
        reader
            .last_error(storm_id, "split sentence")
            .unwrap()
            .unwrap()
            .error,
        "java.lang.RuntimeException: 11"
    );
    assert_eq!(
        reader.storage().get_data("/leader-lock", false).unwrap(),
        Some(vec![])
    );
    assert_eq!(
        storm::cluster::current_leader(reader.storage().as_ref())
            .unwrap()
            .as_deref(),
        Some("host-1:6627")
    );

    // The daemon goes away: its ephemerals (supervisor, nimbus, errors, latch) go with it.
    drop(elector);
    cs.disconnect();
    let remaining = tree(reader.storage().as_ref());
    for gone in ["/supervisors/sup-1", "/nimbuses/host-1:6627"] {
        assert!(
            !remaining.iter().any(|p| p == gone),
            "{gone} survived: {remaining:?}"
        );
    }
    assert!(
        !remaining.iter().any(|p| p.starts_with("/leader-lock/")),
        "{remaining:?}"
    );
    assert!(reader
        .errors(storm_id, "split sentence")
        .unwrap()
        .is_empty());
    assert!(
        reader
            .last_error(storm_id, "split sentence")
            .unwrap()
            .is_some(),
        "the last error is persistent"
    );
}
