use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::core::*;
use super::handler::NimbusHandler;
use crate::cluster::{MemoryStore, StateStorage};
use crate::config::Config;
use crate::thrift::{
    Bolt, ComponentCommon, ComponentObject, GlobalStreamId, Grouping, JavaObject,
    NimbusSyncHandler, RebalanceOptions, ShellComponent, SpoutSpec, StormTopology, StreamInfo,
    TopologyInitialStatus, TopologyStatus,
};

#[test]
fn topology_names_follow_storms_regex() {
    for ok in ["wordcount", "word-count_2", "a b", "ünïcode"] {
        assert!(is_valid_topology_name(ok), "{ok}");
        assert!(validate_topology_name(ok).is_ok());
    }
    for bad in ["", "a/b", "a.b", "a:b", "a\\b", ".", "..", "x.y.z"] {
        assert!(!is_valid_topology_name(bad), "{bad}");
    }
    assert_eq!(
        validate_topology_name("a.b"),
        Err(NimbusError::InvalidTopology(
            r"Topology name must match ^[^/.:\\]+$".into()
        ))
    );
}

#[test]
fn topology_ids_are_name_counter_epoch() {
    assert_eq!(topology_id("wc", 1, 1_700_000_000), "wc-1-1700000000");
    assert_eq!(topology_id("a-b", 12, 5), "a-b-12-5");
}

#[test]
fn status_transitions_follow_storms_table() {
    use TopologyAction as A;
    use TopologyStatus as S;
    let to = Transition::To;
    assert_eq!(transition(S::ACTIVE, A::Activate), Some(Transition::Noop));
    assert_eq!(transition(S::ACTIVE, A::Inactivate), Some(to(S::INACTIVE)));
    assert_eq!(transition(S::INACTIVE, A::Activate), Some(to(S::ACTIVE)));
    assert_eq!(
        transition(S::INACTIVE, A::Inactivate),
        Some(Transition::Noop)
    );
    for s in [S::ACTIVE, S::INACTIVE, S::REBALANCING, S::KILLED] {
        assert_eq!(transition(s, A::Kill), Some(to(S::KILLED)));
    }
    for a in [A::Activate, A::Inactivate] {
        assert_eq!(transition(S::KILLED, a), None);
        assert_eq!(transition(S::REBALANCING, a), None);
    }
    assert_eq!(transition(S::KILLED, A::Remove), Some(Transition::Remove));
    assert_eq!(transition(S::ACTIVE, A::Remove), None);
    assert_eq!(
        no_transition(A::Activate, S::KILLED, "wc-1-2").to_string(),
        "No transition for event: ACTIVATE, status: KILLED storm-id: wc-1-2"
    );
}

#[test]
fn topology_conf_must_be_a_json_object() {
    assert!(parse_topology_conf("").unwrap().is_empty());
    assert!(parse_topology_conf("null").unwrap().is_empty());
    assert_eq!(
        parse_topology_conf(r#"{"topology.workers": 2}"#).unwrap()["topology.workers"],
        2
    );
    assert!(matches!(
        parse_topology_conf("[1]"),
        Err(NimbusError::InvalidTopology(_))
    ));
    assert!(matches!(
        parse_topology_conf("{nope"),
        Err(NimbusError::InvalidTopology(_))
    ));
}

#[test]
fn normalized_conf_names_the_topology_and_its_owner() {
    let mut cluster = serde_json::Map::new();
    cluster.insert("topology.max.task.parallelism".into(), 4.into());
    cluster.insert("topology.worker.timeout.secs".into(), 30.into());
    cluster.insert("worker.max.timeout.secs".into(), 600.into());
    let mut topo = serde_json::Map::new();
    topo.insert("topology.worker.timeout.secs".into(), 900.into());
    topo.insert("storm.local.hostname".into(), "x".into());
    let conf = normalize_conf(&cluster, &topo, "wc-1-2", "wc", "alice");
    assert_eq!(conf["storm.id"], "wc-1-2");
    assert_eq!(conf["topology.name"], "wc");
    assert_eq!(conf["topology.max.task.parallelism"], 4);
    assert_eq!(conf["topology.worker.timeout.secs"], 600);
    assert_eq!(conf["topology.submitter.user"], "alice");
    assert!(!conf.contains_key("storm.local.hostname"));
}

fn shell(script: &str) -> ComponentObject {
    ComponentObject::Shell(ShellComponent {
        execution_command: Some("python3".into()),
        script: Some(script.into()),
    })
}

fn common(inputs: &[(&str, Grouping)], fields: &[&str], parallelism: i32) -> ComponentCommon {
    ComponentCommon {
        inputs: inputs
            .iter()
            .map(|(c, g)| (GlobalStreamId::of(*c, "default"), g.clone()))
            .collect(),
        streams: [(
            "default".to_string(),
            StreamInfo {
                output_fields: fields.iter().map(|f| f.to_string()).collect(),
                direct: false,
            },
        )]
        .into_iter()
        .collect(),
        parallelism_hint: Some(parallelism),
        json_conf: None,
    }
}

/// Spout (1) → split (2, shuffle) → count (3, fields "word").
fn word_count(count_field: &str) -> StormTopology {
    let mut spouts = BTreeMap::new();
    spouts.insert(
        "sentences".to_string(),
        SpoutSpec {
            spout_object: shell("sentence_spout.py"),
            common: common(&[], &["sentence"], 1),
        },
    );
    let mut bolts = BTreeMap::new();
    bolts.insert(
        "split".to_string(),
        Bolt {
            bolt_object: shell("split_bolt.py"),
            common: common(&[("sentences", Grouping::shuffle())], &["word"], 2),
        },
    );
    bolts.insert(
        "count".to_string(),
        Bolt {
            bolt_object: shell("count_bolt.py"),
            common: common(
                &[("split", Grouping::Fields(vec![count_field.to_string()]))],
                &["word", "count"],
                3,
            ),
        },
    );
    StormTopology {
        spouts,
        bolts,
        state_spouts: BTreeMap::new(),
        worker_hooks: None,
        dependency_jars: None,
        dependency_artifacts: None,
        storm_version: None,
        jdk_version: None,
        component_to_shared_memory: None,
        shared_memory: None,
    }
}

#[test]
fn component_objects_are_checked_by_kind() {
    let mut t = word_count("word");
    assert!(check_component_objects(&t).is_ok());
    assert!(!has_jvm_components(&t));
    // A truncated Java object stream is refused with the component's name.
    t.bolts.get_mut("split").unwrap().bolt_object =
        ComponentObject::SerializedJava(vec![0xAC, 0xED, 0, 5, 0x73]);
    assert!(matches!(
        check_component_objects(&t),
        Err(NimbusError::InvalidTopology(m)) if m.contains("split") && m.contains("truncated")
    ));
    // A whole one (its class descriptor) runs in the worker's JVM.
    let mut java = vec![0xAC, 0xED, 0, 5, 0x73, 0x72, 0, 9];
    java.extend_from_slice(b"a.b.Split");
    java.extend_from_slice(&[0; 12]);
    t.bolts.get_mut("split").unwrap().bolt_object = ComponentObject::SerializedJava(java.clone());
    assert!(check_component_objects(&t).is_ok());
    assert!(has_jvm_components(&t));
    assert_eq!(
        crate::api::java_serialized_class(&java).unwrap(),
        "a.b.Split"
    );
    t.bolts.get_mut("split").unwrap().bolt_object =
        ComponentObject::SerializedJava(b"STORMRS1 rust component".to_vec());
    assert!(check_component_objects(&t).is_ok());
    t.bolts.get_mut("split").unwrap().bolt_object =
        ComponentObject::SerializedJava(b"garbage".to_vec());
    assert!(check_component_objects(&t).is_err());
    t.bolts.get_mut("split").unwrap().bolt_object =
        ComponentObject::SerializedJava(b"STORMRS1 rust component".to_vec());
    t.bolts.get_mut("count").unwrap().bolt_object = ComponentObject::JavaObject(JavaObject {
        full_class_name: "a.B".into(),
        args_list: vec![],
    });
    assert!(check_component_objects(&t).is_ok());
    assert!(has_jvm_components(&t));
    t.bolts.get_mut("count").unwrap().bolt_object = ComponentObject::JavaObject(JavaObject {
        full_class_name: " ".into(),
        args_list: vec![],
    });
    assert!(check_component_objects(&t).is_err());
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: MemoryStore,
    nimbus: Arc<Nimbus>,
}

fn conf_in(dir: &std::path::Path) -> Config {
    let mut conf = Config::defaults();
    conf.set("storm.local.dir", dir.join("local").display().to_string());
    conf.set("storm.log.dir", dir.join("logs").display().to_string());
    // Tests drive mkAssignments and the cleanup themselves (with their own clock).
    conf.set("nimbus.monitor.freq.secs", 3600);
    conf
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let conf = conf_in(dir.path());
    let store = MemoryStore::new();
    let storage: Arc<dyn StateStorage> = Arc::new(store.session());
    let nimbus = Nimbus::start(conf.clone(), storage, "nimbus-a", 6627).unwrap();
    assert!(nimbus.await_leadership(Duration::from_secs(5)));
    Fixture {
        _dir: dir,
        store,
        nimbus,
    }
}

fn upload(nimbus: &Nimbus, bytes: &[u8]) -> String {
    let loc = nimbus.begin_file_upload().unwrap();
    for chunk in bytes.chunks(3) {
        nimbus.upload_chunk(&loc, chunk).unwrap();
    }
    nimbus.finish_file_upload(&loc).unwrap();
    loc
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn uploads_land_in_the_inbox() {
    let f = fixture();
    let loc = upload(&f.nimbus, b"PK\x03\x04 a jar");
    assert!(loc.contains("/nimbus/inbox/stormjar-"), "{loc}");
    assert!(loc.ends_with(".jar"));
    assert_eq!(std::fs::read(&loc).unwrap(), b"PK\x03\x04 a jar");
    assert_eq!(
        f.nimbus.upload_chunk(&loc, b"more"),
        Err(NimbusError::Internal(
            "File for that location does not exist (or timed out)".into()
        ))
    );
    f.nimbus.shutdown();
}

#[test]
fn submit_status_changes_and_kill_in_memory() {
    let f = fixture();
    let n = &f.nimbus;
    let jar = upload(n, b"jar bytes");
    let conf = r#"{"topology.workers": 2, "topology.acker.executors": 1}"#;
    let id = n
        .submit(
            "wc",
            &jar,
            conf,
            &word_count("word"),
            TopologyInitialStatus::ACTIVE,
            None,
        )
        .unwrap();
    let (name, rest) = id.split_once('-').unwrap();
    assert_eq!(name, "wc");
    assert!(rest.starts_with("1-"), "{id}");

    // The code is three blobs, registered in ZooKeeper with this nimbus holding sequence 1.
    let store = n.blob_store();
    assert_eq!(
        store.read(&format!("{id}-stormjar.jar")).unwrap(),
        b"jar bytes"
    );
    let code: StormTopology =
        crate::thrift::deserialize(&store.read(&format!("{id}-stormcode.ser")).unwrap()).unwrap();
    assert_eq!(code.bolts.len(), 2);
    for key in super::replication::topology_keys(&id) {
        assert_eq!(
            n.cluster().blob_max_sequence(&key).unwrap(),
            Some(1),
            "{key}"
        );
        assert_eq!(
            n.blob_holders(&key).unwrap(),
            vec!["nimbus-a:6627".to_string()]
        );
    }
    assert_eq!(
        n.topology_summary_by_id(&id).unwrap().replication_count,
        Some(1)
    );
    let saved = n.read_topology_conf(&id).unwrap();
    assert_eq!(saved["storm.id"], id.as_str());
    assert_eq!(saved["topology.name"], "wc");

    let base = n.cluster().storm_base(&id, false).unwrap().unwrap();
    assert_eq!(base.status, TopologyStatus::ACTIVE);
    assert_eq!(base.num_workers, 2);
    let executors = base.component_executors.clone().unwrap();
    assert_eq!(executors["count"], 3);
    assert_eq!(executors["__acker"], 1);
    let paths = f.store.paths();
    assert!(paths.contains(&format!("/workerbeats/{id}")), "{paths:?}");
    assert!(paths.contains(&format!("/errors/{id}")));
    assert!(paths
        .iter()
        .any(|p| p.starts_with("/nimbuses/nimbus-a:6627")));

    let summary = n.topology_summary_by_name("wc").unwrap();
    assert_eq!(summary.num_tasks, 1 + 2 + 3 + 1);
    assert_eq!(summary.num_executors, 7);
    assert_eq!(summary.status, "ACTIVE");
    assert!(n.cluster_info().unwrap().nimbuses[0].is_leader);
    assert_eq!(n.leader_summary().unwrap().port, 6627);
    assert_eq!(n.read_user_topology(&id).unwrap().bolts.len(), 2);
    assert!(n
        .read_system_topology(&id)
        .unwrap()
        .bolts
        .contains_key("__acker"));

    assert!(!n.is_topology_name_allowed("wc").unwrap());
    assert!(n.is_topology_name_allowed("other").unwrap());
    assert!(!n.is_topology_name_allowed("a.b").unwrap());
    assert_eq!(
        n.submit(
            "wc",
            &jar,
            "{}",
            &word_count("word"),
            TopologyInitialStatus::ACTIVE,
            None
        ),
        Err(NimbusError::AlreadyAlive("wc is already alive".into()))
    );
    match n.submit(
        "bad",
        &jar,
        "{}",
        &word_count("nope"),
        TopologyInitialStatus::ACTIVE,
        None,
    ) {
        Err(NimbusError::InvalidTopology(m)) => assert!(m.contains("nope"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        n.submit(
            "j",
            "/etc/passwd",
            "{}",
            &word_count("word"),
            TopologyInitialStatus::ACTIVE,
            None
        ),
        Err(NimbusError::Internal(_))
    ));

    n.set_active("wc", false).unwrap();
    assert_eq!(n.topology_summary_by_name("wc").unwrap().status, "INACTIVE");
    n.set_active("wc", false).unwrap();
    n.set_active("wc", true).unwrap();
    assert_eq!(n.topology_summary_by_name("wc").unwrap().status, "ACTIVE");
    assert_eq!(
        n.set_active("ghost", true),
        Err(NimbusError::NotAlive("ghost is not alive".into()))
    );

    n.kill("wc", Some(3600)).unwrap();
    assert_eq!(n.topology_summary_by_name("wc").unwrap().status, "KILLED");
    assert_eq!(
        n.set_active("wc", true),
        Err(no_transition(
            TopologyAction::Activate,
            TopologyStatus::KILLED,
            &id
        ))
    );
    // A new kill with a short wait supersedes the long one.
    n.kill("wc", Some(0)).unwrap();
    wait_for("the killed topology to be removed", || {
        n.cluster().active_storms().unwrap().is_empty()
            && !n.blob_store().contains(&format!("{id}-stormcode.ser"))
    });
    assert!(!f.store.paths().contains(&format!("/workerbeats/{id}")));
    assert_eq!(
        n.kill("wc", None),
        Err(NimbusError::NotAlive("wc is not alive".into()))
    );
    n.shutdown();
}

#[test]
fn history_owner_resources_and_debug_for_the_ui() {
    let f = fixture();
    let n = &f.nimbus;
    let jar = upload(n, b"jar bytes");
    let id = n
        .submit(
            "wc",
            &jar,
            r#"{"topology.workers": 2}"#,
            &word_count("word"),
            TopologyInitialStatus::ACTIVE,
            None,
        )
        .unwrap();
    // No assignment yet: no topology has run, none was killed.
    assert!(n.topology_history("").unwrap().is_empty());
    let owners = n.owner_resource_summaries("").unwrap();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].total_topologies, Some(1));
    assert_eq!(owners[0].total_workers, Some(0));
    assert_eq!(owners[0].memory_guarantee, None);
    let nobody = n.owner_resource_summaries("nobody").unwrap();
    assert_eq!(nobody.len(), 1);
    assert_eq!(nobody[0].total_topologies, Some(0));

    n.debug("wc", "", true, 150.0).unwrap();
    n.debug("wc", "count", true, 5.0).unwrap();
    let debug = n
        .cluster()
        .storm_base(&id, false)
        .unwrap()
        .unwrap()
        .component_debug
        .unwrap();
    assert_eq!(debug[&id].enable, Some(true));
    assert_eq!(debug[&id].samplingpct.map(|p| p.0), Some(100.0));
    assert_eq!(debug["count"].samplingpct.map(|p| p.0), Some(5.0));
    n.debug("wc", "", false, 0.0).unwrap();
    let base = n.cluster().storm_base(&id, false).unwrap().unwrap();
    assert_eq!(base.component_debug.unwrap()[&id].enable, Some(false));
    assert_eq!(
        n.debug("ghost", "", true, 1.0),
        Err(NimbusError::NotAlive("ghost is not alive".into()))
    );

    // A killed topology stays in the history (a restarted nimbus reads it from nimbus/history).
    n.kill("wc", Some(0)).unwrap();
    wait_for("the killed topology to be removed", || {
        n.cluster().active_storms().unwrap().is_empty()
    });
    assert_eq!(n.topology_history("someone").unwrap(), vec![id.clone()]);
    let handler = NimbusHandler(n.clone());
    let h = handler.handle_get_topology_history(String::new()).unwrap();
    assert_eq!(h.topo_ids, Some(vec![id]));
    n.shutdown();
}

#[test]
fn inactive_submit_and_non_leader_refusal() {
    let f = fixture();
    let id = f
        .nimbus
        .submit(
            "quiet",
            "",
            "{}",
            &word_count("word"),
            TopologyInitialStatus::INACTIVE,
            None,
        )
        .unwrap();
    assert_eq!(
        f.nimbus
            .cluster()
            .storm_base(&id, false)
            .unwrap()
            .unwrap()
            .status,
        TopologyStatus::INACTIVE
    );

    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn StateStorage> = Arc::new(f.store.session());
    let follower = Nimbus::start(conf_in(dir.path()), storage, "nimbus-b", 6627).unwrap();
    assert!(!follower.is_leader());
    assert_eq!(
        follower.set_active("quiet", true),
        Err(NimbusError::Internal(
            "not a leader, current leader is nimbus-a:6627".into()
        ))
    );
    let info = follower.cluster_info().unwrap();
    assert_eq!(info.nimbuses.len(), 2);
    assert_eq!(info.nimbuses.iter().filter(|n| n.is_leader).count(), 1);
    assert_eq!(follower.leader_summary().unwrap().host, "nimbus-a");

    // The leader goes away with a pending kill; the follower takes over and finishes it.
    f.nimbus.kill("quiet", Some(2)).unwrap();
    f.nimbus.shutdown();
    assert_eq!(
        follower.cluster().active_storms().unwrap(),
        vec![id.clone()]
    );
    assert!(follower.await_leadership(Duration::from_secs(10)));
    wait_for("the new leader to finish the kill", || {
        follower.cluster().active_storms().unwrap().is_empty()
    });
    follower.shutdown();
}

#[test]
fn unsupported_methods_answer_an_error() {
    let f = fixture();
    let handler = NimbusHandler(f.nimbus.clone());
    let err = handler
        .handle_upload_new_credentials(
            "x".into(),
            crate::thrift::Credentials::new(BTreeMap::new(), None),
        )
        .unwrap_err();
    match err {
        thrift::Error::Application(e) => {
            assert_eq!(
                e.message,
                "uploadNewCredentials is not supported by storm-rs yet"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(handler.handle_get_topology_conf("nope".into()).is_err());
    assert!(handler
        .handle_get_nimbus_conf()
        .unwrap()
        .contains("nimbus.thrift.port"));
    f.nimbus.shutdown();
}

// ---- scheduling, liveness, rebalance, cleanup, HTTP ----

use super::assign::assignment_slots;
use super::scheduler::Slot;
use crate::thrift::{
    Assignment, ClusterWorkerHeartbeat, ExecutorInfo, ExecutorSpecificStats, ExecutorStats,
    SpoutStats, SupervisorInfo,
};

/// A supervisor on its own session (closing it makes its ephemeral node vanish).
fn supervisor(
    store: &MemoryStore,
    id: &str,
    host: &str,
    ports: &[i64],
) -> crate::cluster::MemoryStorage {
    let session = store.session();
    let info = SupervisorInfo {
        time_secs: 0,
        hostname: host.into(),
        assignment_id: Some(id.into()),
        used_ports: Some(vec![]),
        meta: Some(ports.to_vec()),
        scheduler_meta: None,
        uptime_secs: Some(0),
        version: Some("x".into()),
        resources_map: None,
        server_port: None,
    };
    session
        .set_ephemeral(
            &format!("/supervisors/{id}"),
            &crate::thrift::serialize_gzip(&info),
        )
        .unwrap();
    session
}

fn assignment(n: &Nimbus, id: &str) -> Assignment {
    n.cluster().assignment_info(id, false).unwrap().unwrap()
}

fn slots_used(a: &Assignment) -> std::collections::BTreeSet<Slot> {
    assignment_slots(a).into_values().collect()
}

fn heartbeat(n: &Nimbus, id: &str, a: &Assignment, node: &str, port: u16, time: i32) {
    heartbeat_at(n, id, a, node, port, time, now_secs());
}

/// A worker's heartbeat reported by its supervisor, received by nimbus at `at`.
fn heartbeat_at(n: &Nimbus, id: &str, a: &Assignment, node: &str, port: u16, time: i32, at: i64) {
    let executor_stats = assignment_slots(a)
        .into_iter()
        .filter(|(_, s)| s.node == node && s.port == i64::from(port))
        .map(|((s, e), _)| {
            (
                ExecutorInfo {
                    task_start: s,
                    task_end: e,
                },
                ExecutorStats {
                    emitted: BTreeMap::from([(
                        ":all-time".to_string(),
                        BTreeMap::from([("default".to_string(), 42)]),
                    )]),
                    transferred: BTreeMap::new(),
                    specific: ExecutorSpecificStats::Spout(SpoutStats {
                        acked: BTreeMap::new(),
                        failed: BTreeMap::new(),
                        complete_ms_avg: BTreeMap::new(),
                        failed_timeout: None,
                        failed_explicit: None,
                    }),
                    rate: 1.0.into(),
                    reported_errors: None,
                },
            )
        })
        .collect::<BTreeMap<ExecutorInfo, ExecutorStats>>();
    // Liveness by RPC (the supervisor's report), stats through `/workerbeats`, as in Storm 2.
    n.supervisor_worker_heartbeats_at(
        &crate::thrift::SupervisorWorkerHeartbeats {
            supervisor_id: node.into(),
            worker_heartbeats: vec![crate::thrift::SupervisorWorkerHeartbeat {
                storm_id: id.into(),
                executors: executor_stats.keys().cloned().collect(),
                time_secs: time,
            }],
        },
        at,
    );
    n.cluster()
        .worker_heartbeat(
            id,
            node,
            port,
            &ClusterWorkerHeartbeat {
                storm_id: id.into(),
                executor_stats,
                time_secs: time,
                uptime_secs: 5,
            },
        )
        .unwrap();
}

fn submit_wc(n: &Nimbus, name: &str, workers: i32) -> String {
    let conf = format!(r#"{{"topology.workers": {workers}, "topology.acker.executors": 1}}"#);
    n.submit(
        name,
        "",
        &conf,
        &word_count("word"),
        TopologyInitialStatus::ACTIVE,
        None,
    )
    .unwrap()
}

#[test]
fn workers_get_their_executors_resources_and_get_topology_conf_is_the_whole_conf() {
    let f = fixture();
    let n = &f.nimbus;
    let _a = supervisor(&f.store, "sup-a", "host-a", &[6700, 6701]);
    let mut topology = word_count("word");
    // "count" asks for more memory in its own conf (Storm's setMemoryLoad).
    topology.bolts.get_mut("count").unwrap().common.json_conf = Some(
        r#"{"topology.component.resources.onheap.memory.mb": 256.0, "topology.tasks": 3}"#.into(),
    );
    let conf = r#"{"topology.workers": 2, "topology.acker.executors": 1,
        "topology.acker.resources.onheap.memory.mb": 64.0,
        "storm.messaging.netty.authentication": true,
        "storm.zookeeper.topology.auth.payload": "a:secret"}"#;
    let id = n
        .submit(
            "res",
            "",
            conf,
            &topology,
            TopologyInitialStatus::ACTIVE,
            None,
        )
        .unwrap();
    let a = assignment(n, &id);
    let workers = a.worker_resources.clone().unwrap();
    assert_eq!(workers.len(), 2);
    let total_heap: f64 = workers.values().map(|w| w.mem_on_heap.unwrap().0).sum();
    // getSupervisorAssignments: the supervisor's topologies, nobody else's.
    let mine = n
        .supervisor_assignments("sup-a")
        .unwrap()
        .storm_assignment
        .unwrap();
    assert_eq!(mine.keys().collect::<Vec<_>>(), [&id]);
    assert!(n
        .supervisor_assignments("sup-zzz")
        .unwrap()
        .storm_assignment
        .unwrap()
        .is_empty());
    let total_cpu: f64 = workers.values().map(|w| w.cpu.unwrap().0).sum();
    // count 3×256, sentences 128, split 2×128, __acker 64.
    assert_eq!(total_heap, 3.0 * 256.0 + 128.0 + 2.0 * 128.0 + 64.0);
    assert_eq!(total_cpu, 7.0 * 10.0);
    let summary = n.topology_summary_by_id(&id).unwrap();
    assert_eq!(summary.assigned_memonheap.unwrap().0, total_heap);
    assert_eq!(summary.requested_memonheap.unwrap().0, total_heap);
    assert_eq!(summary.requested_cpu.unwrap().0, 70.0);

    // getTopologyConf: the cluster's keys with the topology's over them, secrets masked.
    let got: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&n.topology_conf_json(&id).unwrap()).unwrap();
    assert_eq!(got["topology.workers"], 2);
    assert_eq!(
        got["nimbus.thrift.port"],
        n.cluster_conf["nimbus.thrift.port"]
    );
    assert_eq!(got["topology.name"], "res");
    // Kept (link authentication wants it) and masked.
    assert_eq!(got["storm.zookeeper.topology.auth.payload"], "########");
    assert!(
        got.len() > 100,
        "the whole configuration: {} keys",
        got.len()
    );
    n.shutdown();
}

#[test]
fn submit_schedules_on_live_supervisors() {
    let f = fixture();
    let n = &f.nimbus;
    let _a = supervisor(&f.store, "sup-a", "host-a", &[6700, 6701]);
    let _b = supervisor(&f.store, "sup-b", "host-b", &[6700]);
    let id = submit_wc(n, "wc", 2);
    let a = assignment(n, &id);
    // 7 executors: __acker, count×3, sentences, split×2; no [-1,-1].
    let slots = assignment_slots(&a);
    assert_eq!(slots.len(), 7);
    assert!(!a
        .executor_node_port
        .as_ref()
        .unwrap()
        .contains_key(&vec![-1, -1]));
    // Sorted free slots: sup-a:6700, sup-b:6700, sup-a:6701 → the first two.
    assert_eq!(
        slots_used(&a),
        [Slot::new("sup-a", 6700), Slot::new("sup-b", 6700)].into()
    );
    assert_eq!(slots[&(1, 1)], Slot::new("sup-a", 6700));
    assert_eq!(slots[&(2, 2)], Slot::new("sup-b", 6700));
    let hosts = a.node_host.clone().unwrap();
    assert_eq!(hosts["sup-a"], "host-a");
    assert_eq!(hosts["sup-b"], "host-b");
    assert_eq!(
        a.master_code_dir,
        n.paths().local_dir().display().to_string()
    );
    assert_eq!(a.executor_start_time_secs.as_ref().unwrap().len(), 7);

    // A round without changes writes nothing new and keeps the start times.
    n.mk_assignments_at(now_secs() + 5).unwrap();
    assert_eq!(assignment(n, &id), a);

    let info = n.cluster_info().unwrap();
    let used: BTreeMap<_, _> = info
        .supervisors
        .iter()
        .map(|s| (s.supervisor_id.clone(), (s.num_workers, s.num_used_workers)))
        .collect();
    assert_eq!(used["sup-a"], (2, 1));
    assert_eq!(used["sup-b"], (1, 1));
    let summary = n.topology_summary_by_name("wc").unwrap();
    assert_eq!((summary.num_workers, summary.num_executors), (2, 7));

    // KILLED topologies keep their slots and are not rescheduled.
    n.kill("wc", Some(3600)).unwrap();
    drop(_b);
    n.mk_assignments_at(now_secs() + 500).unwrap();
    assert_eq!(assignment(n, &id), a);
    n.shutdown();
}

#[test]
fn silent_executors_move_to_another_supervisor() {
    let f = fixture();
    let n = &f.nimbus;
    let _a = supervisor(&f.store, "sup-a", "host-a", &[6700]);
    let _b = supervisor(&f.store, "sup-b", "host-b", &[6700]);
    let id = submit_wc(n, "wc", 1);
    let t0 = now_secs();
    let first = assignment(n, &id);
    assert_eq!(slots_used(&first), [Slot::new("sup-a", 6700)].into());

    heartbeat_at(n, &id, &first, "sup-a", 6700, 1, t0 + 1);
    n.mk_assignments_at(t0 + 1).unwrap();
    // Past the launch grace (120 s) but reporting: stays.
    heartbeat_at(n, &id, &first, "sup-a", 6700, 2, t0 + 130);
    n.mk_assignments_at(t0 + 130).unwrap();
    n.mk_assignments_at(t0 + 150).unwrap();
    assert_eq!(assignment(n, &id), first);
    // Silent for the timeout (30 s): moved to sup-b, with new start times.
    n.mk_assignments_at(t0 + 159).unwrap();
    assert_eq!(assignment(n, &id), first);
    n.mk_assignments_at(t0 + 200).unwrap();
    let moved = assignment(n, &id);
    assert_eq!(slots_used(&moved), [Slot::new("sup-b", 6700)].into());
    assert!(moved
        .executor_start_time_secs
        .as_ref()
        .unwrap()
        .values()
        .all(|t| *t == t0 + 200));
    assert_eq!(moved.node_host.as_ref().unwrap().len(), 1);

    // sup-b's node vanishes: its slots go; the executors return to sup-a (no longer dead).
    drop(_b);
    f.store.session().delete("/supervisors/sup-b").unwrap();
    n.mk_assignments_at(t0 + 210).unwrap();
    assert_eq!(
        slots_used(&assignment(n, &id)),
        [Slot::new("sup-a", 6700)].into()
    );
    n.shutdown();
}

#[test]
fn rebalance_validates_then_reschedules_after_the_wait() {
    let f = fixture();
    let n = &f.nimbus;
    let _a = supervisor(&f.store, "sup-a", "host-a", &[6700, 6701, 6702]);
    let id = submit_wc(n, "wc", 1);
    assert_eq!(slots_used(&assignment(n, &id)).len(), 1);
    let opts = |wait: Option<i32>, workers: Option<i32>, execs: &[(&str, i32)]| RebalanceOptions {
        wait_secs: wait,
        num_workers: workers,
        num_executors: if execs.is_empty() {
            None
        } else {
            Some(execs.iter().map(|(c, n)| (c.to_string(), *n)).collect())
        },
        ..RebalanceOptions::default()
    };
    assert_eq!(
        n.rebalance("wc", &opts(Some(0), None, &[("nope", 2)])),
        Err(NimbusError::InvalidTopology(
            "Invalid component nope for topology wc, valid values are [count, sentences, split]"
                .into()
        ))
    );
    assert_eq!(
        n.rebalance("wc", &opts(Some(0), None, &[("__acker", 2)])),
        Err(NimbusError::InvalidTopology(
            "Invalid component __acker for topology wc, valid values are [count, sentences, split]"
                .into()
        ))
    );
    assert_eq!(
        n.rebalance("wc", &opts(Some(0), None, &[("count", 0)])),
        Err(NimbusError::InvalidTopology(
            "Number of executors must be greater than 0".into()
        ))
    );
    assert_eq!(
        n.rebalance("ghost", &opts(None, None, &[])),
        Err(NimbusError::NotAlive("ghost is not alive".into()))
    );

    n.set_active("wc", false).unwrap();
    n.rebalance(
        "wc",
        &opts(Some(3600), Some(3), &[("count", 1), ("split", 5)]),
    )
    .unwrap();
    let base = n.cluster().storm_base(&id, false).unwrap().unwrap();
    assert_eq!(base.status, TopologyStatus::REBALANCING);
    assert_eq!(base.prev_status, Some(TopologyStatus::INACTIVE));
    match &base.topology_action_options {
        Some(crate::thrift::TopologyActionOptions::RebalanceOptions(r)) => {
            assert_eq!(r.wait_secs, Some(3600));
            assert_eq!(r.num_workers, Some(3));
        }
        other => panic!("{other:?}"),
    }
    for (result, action) in [
        (n.set_active("wc", true), TopologyAction::Activate),
        (n.set_active("wc", false), TopologyAction::Inactivate),
        (
            n.rebalance("wc", &opts(None, None, &[])),
            TopologyAction::Rebalance,
        ),
    ] {
        assert_eq!(
            result,
            Err(no_transition(action, TopologyStatus::REBALANCING, &id))
        );
    }
    // Drive DO_REBALANCE directly instead of waiting an hour.
    n.do_rebalance(&id, None).unwrap();
    let base = n.cluster().storm_base(&id, false).unwrap().unwrap();
    assert_eq!(base.status, TopologyStatus::INACTIVE);
    assert_eq!(base.prev_status, None);
    assert_eq!(base.topology_action_options, None);
    assert_eq!(base.num_workers, 3);
    let execs = base.component_executors.unwrap();
    assert_eq!(
        (execs["count"], execs["split"], execs["sentences"]),
        (1, 5, 1)
    );
    let a = assignment(n, &id);
    // split has 2 tasks: 5 executors are capped at 2 (partitionFixed); count 3 tasks → 1 executor.
    let slots = assignment_slots(&a);
    assert_eq!(slots.len(), 1 + 1 + 1 + 2);
    assert_eq!(slots_used(&a).len(), 3);
    assert_eq!(n.topology_summary_by_name("wc").unwrap().num_tasks, 7);
    // DO_REBALANCE on a non-rebalancing topology is a no-op.
    n.do_rebalance(&id, None).unwrap();
    assert_eq!(assignment(n, &id), a);

    // The timer path: wait 0 → back to the previous status.
    n.set_active("wc", true).unwrap();
    n.rebalance("wc", &opts(Some(0), Some(1), &[])).unwrap();
    wait_for("the rebalance to finish", || {
        n.cluster().storm_base(&id, false).unwrap().unwrap().status == TopologyStatus::ACTIVE
    });
    assert_eq!(slots_used(&assignment(n, &id)).len(), 1);
    n.kill("wc", Some(3600)).unwrap();
    assert_eq!(
        n.rebalance("wc", &opts(None, None, &[])),
        Err(no_transition(
            TopologyAction::Rebalance,
            TopologyStatus::KILLED,
            &id
        ))
    );
    n.shutdown();
}

#[test]
fn new_leader_finishes_a_pending_rebalance() {
    let f = fixture();
    let _a = supervisor(&f.store, "sup-a", "host-a", &[6700, 6701]);
    let id = submit_wc(&f.nimbus, "wc", 1);
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn StateStorage> = Arc::new(f.store.session());
    // The follower needs the code to compute executors: share the leader's local dir.
    let mut conf = conf_in(dir.path());
    conf.set(
        "storm.local.dir",
        f.nimbus.paths().local_dir().display().to_string(),
    );
    let follower = Nimbus::start(conf, storage, "nimbus-b", 6627).unwrap();
    f.nimbus
        .rebalance(
            "wc",
            &RebalanceOptions {
                wait_secs: Some(1),
                num_workers: Some(2),
                ..RebalanceOptions::default()
            },
        )
        .unwrap();
    f.nimbus.shutdown();
    assert!(follower.await_leadership(Duration::from_secs(10)));
    wait_for("the new leader to finish the rebalance", || {
        follower
            .cluster()
            .storm_base(&id, false)
            .unwrap()
            .unwrap()
            .status
            == TopologyStatus::ACTIVE
    });
    assert_eq!(slots_used(&assignment(&follower, &id)).len(), 2);
    follower.shutdown();
}

#[test]
fn topology_info_has_executors_stats_and_errors() {
    let f = fixture();
    let n = &f.nimbus;
    let _a = supervisor(&f.store, "sup-a", "host-a", &[6700]);
    let id = submit_wc(n, "wc", 1);
    let a = assignment(n, &id);
    heartbeat(n, &id, &a, "sup-a", 6700, 1);
    n.cluster()
        .report_error(&id, "split", "host-a", 6700, "boom")
        .unwrap();
    let info = n.topology_info_by_name("wc").unwrap();
    assert_eq!(info.id, id);
    assert_eq!(info.status, "ACTIVE");
    assert_eq!(info.executors.len(), 7);
    for e in &info.executors {
        assert_eq!((e.host.as_str(), e.port), ("host-a", 6700));
        assert!(e.stats.is_some());
    }
    let comps: std::collections::BTreeSet<_> = info
        .executors
        .iter()
        .map(|e| e.component_id.as_str())
        .collect();
    assert_eq!(
        comps,
        ["__acker", "count", "sentences", "split"]
            .into_iter()
            .collect()
    );
    assert_eq!(info.errors["split"][0].error, "boom");
    assert!(info.errors["count"].is_empty());
    let handler = NimbusHandler(n.clone());
    let none = handler
        .handle_get_topology_info_with_opts(
            id.clone(),
            crate::thrift::GetInfoOptions {
                num_err_choice: Some(crate::thrift::NumErrorsChoice::NONE),
            },
        )
        .unwrap();
    assert!(none.errors["split"].is_empty());
    assert!(matches!(
        handler.handle_get_topology_info("nope".into()),
        Err(thrift::Error::User(_))
    ));
    n.shutdown();
}

#[test]
fn cleanup_removes_leftovers_and_old_inbox_jars() {
    let f = fixture();
    let n = &f.nimbus;
    let id = submit_wc(n, "wc", 1);
    let ghost = "ghost-1-1";
    n.cluster()
        .setup_heartbeats(ghost, &crate::cluster::TopologyAcls::open())
        .unwrap();
    n.cluster()
        .setup_errors(ghost, &crate::cluster::TopologyAcls::open())
        .unwrap();
    let ghost_code = format!("{ghost}-stormcode.ser");
    let meta = crate::thrift::SettableBlobMeta {
        acl: vec![],
        replication_factor: None,
    };
    n.blob_store().put(&ghost_code, &meta, b"x").unwrap();
    assert_eq!(n.cleanup().unwrap(), vec![ghost.to_string()]);
    let paths = f.store.paths();
    assert!(!paths.contains(&format!("/workerbeats/{ghost}")));
    assert!(!paths.contains(&format!("/errors/{ghost}")));
    assert!(paths.contains(&format!("/workerbeats/{id}")));
    assert!(!n.blob_store().contains(&ghost_code));
    assert!(n.blob_store().contains(&format!("{id}-stormcode.ser")));

    let old = upload(n, b"old");
    let fresh = upload(n, b"fresh");
    let in_progress = n.begin_file_upload().unwrap();
    let long_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
    for p in [&old, &in_progress] {
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
    }
    assert_eq!(n.clean_inbox_at(std::time::SystemTime::now()), 1);
    assert!(!std::path::Path::new(&old).exists());
    assert!(std::path::Path::new(&fresh).exists());
    assert!(std::path::Path::new(&in_progress).exists());
    n.shutdown();
}

// ---- blob store, dependencies, log configs, pages ----

#[test]
fn dependencies_are_blob_keys_and_go_with_the_topology() {
    let f = fixture();
    let n = &f.nimbus;
    let meta = crate::thrift::SettableBlobMeta {
        acl: vec![],
        replication_factor: None,
    };
    for (key, bytes) in [
        ("dep-lib-1.jar", &b"blob jar"[..]),
        ("dep-g-a-1.0.jar", b"artifact"),
    ] {
        let s = n.begin_create_blob(key, meta.clone()).unwrap();
        n.blob_store().upload_chunk(&s, bytes).unwrap();
        n.finish_blob_upload(&s).unwrap();
        assert_eq!(n.cluster().blob_max_sequence(key).unwrap(), Some(1));
    }
    let mut t = word_count("word");
    t.dependency_jars = Some(vec!["dep-lib-1.jar".into()]);
    t.dependency_artifacts = Some(vec!["dep-g-a-1.0.jar".into()]);
    let id = n
        .submit("deps", "", "{}", &t, TopologyInitialStatus::ACTIVE, None)
        .unwrap();
    assert_eq!(
        n.read_user_topology(&id).unwrap().dependency_jars,
        Some(vec!["dep-lib-1.jar".to_string()])
    );
    // Killed and removed: its own dependency jars go with it, shared artifacts stay (Storm's
    // rmDependencyJarsInTopology), and so do its code blobs and their ZooKeeper state.
    n.kill("deps", Some(0)).unwrap();
    wait_for("the removal", || {
        n.cluster().storm_base(&id, false).unwrap().is_none()
            && !n.blob_store().contains("dep-lib-1.jar")
    });
    assert!(n.blob_store().contains("dep-g-a-1.0.jar"));
    for key in super::replication::topology_keys(&id) {
        assert!(!n.blob_store().contains(&key), "{key}");
        assert_eq!(n.cluster().blob_max_sequence(&key).unwrap(), None, "{key}");
    }
    // storm-rs's old `<file>=<upload location>` form and names that are not plain are refused.
    let uploaded = upload(n, b"uploaded jar");
    for entry in [format!("other.jar={uploaded}"), "../x.jar".to_string()] {
        let mut t = word_count("word");
        t.dependency_jars = Some(vec![entry.clone()]);
        let err = n
            .submit("deps3", "", "{}", &t, TopologyInitialStatus::ACTIVE, None)
            .unwrap_err();
        assert!(
            matches!(err, NimbusError::InvalidTopology(_)),
            "{entry}: {err:?}"
        );
    }
    // An unknown key is refused with a reason.
    let mut t = word_count("word");
    t.dependency_jars = Some(vec!["dep-missing.jar".into()]);
    match n.submit("deps2", "", "{}", &t, TopologyInitialStatus::ACTIVE, None) {
        Err(NimbusError::InvalidTopology(m)) => assert!(m.contains("dep-missing.jar"), "{m}"),
        other => panic!("{other:?}"),
    }
    // The handler maps the blob errors to Storm's declared exceptions.
    let handler = NimbusHandler(n.clone());
    match handler.handle_get_blob_meta("nope".into()) {
        Err(thrift::Error::User(e)) => {
            assert_eq!(
                e.downcast_ref::<crate::thrift::KeyNotFoundException>()
                    .unwrap()
                    .msg,
                "nope"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(!handler.handle_is_remote_blob_exists("nope".into()).unwrap());
    assert!(handler
        .handle_is_remote_blob_exists("dep-g-a-1.0.jar".into())
        .unwrap());
    n.shutdown();
}

#[test]
fn log_configs_merge_as_storm_does() {
    use crate::thrift::{LogConfig, LogLevel, LogLevelAction};
    let f = fixture();
    let n = &f.nimbus;
    let id = submit_wc(n, "logs", 1);
    let level = |action, target: Option<&str>, timeout| LogLevel {
        action,
        target_log_level: target.map(str::to_string),
        reset_log_level_timeout_secs: timeout,
        reset_log_level_timeout_epoch: None,
        reset_log_level: None,
    };
    let set = |entries: Vec<(&str, LogLevel)>| {
        n.set_log_config(
            &id,
            &LogConfig {
                named_logger_level: Some(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                ),
            },
        )
    };
    assert!(n.log_config(&id).unwrap().named_logger_level.is_none());
    let before = super::core::now_millis();
    set(vec![
        (
            "ROOT",
            level(LogLevelAction::UPDATE, Some("DEBUG"), Some(30)),
        ),
        (
            "org.x",
            level(LogLevelAction::UPDATE, Some("WARN"), Some(0)),
        ),
    ])
    .unwrap();
    let got = n.log_config(&id).unwrap().named_logger_level.unwrap();
    let epoch = got["ROOT"].reset_log_level_timeout_epoch.unwrap();
    assert!(
        (before + 30_000..before + 35_000).contains(&epoch),
        "{epoch}"
    );
    assert_eq!(got["org.x"].reset_log_level_timeout_epoch, None);
    set(vec![("org.x", level(LogLevelAction::REMOVE, None, None))]).unwrap();
    let got = n.log_config(&id).unwrap().named_logger_level.unwrap();
    assert_eq!(got.keys().collect::<Vec<_>>(), ["ROOT"]);
    assert_eq!(got["ROOT"].action, LogLevelAction::UNCHANGED);
    assert!(set(vec![(
        "",
        level(LogLevelAction::UPDATE, Some("INFO"), None)
    )])
    .is_err());
    assert!(matches!(
        n.log_config("nope"),
        Err(NimbusError::NotAlive(_))
    ));
    n.shutdown();
}

#[test]
fn page_infos_aggregate_heartbeats_and_fall_back_to_placeholders() {
    let f = fixture();
    let n = &f.nimbus;
    let _a = supervisor(&f.store, "sup-a", "host-a", &[6700]);
    let id = submit_wc(n, "pages", 1);
    // No heartbeats yet: placeholders from the topology.
    let page = n.topology_page_info(&id, ":all-time", false).unwrap();
    let spouts = page.id_to_spout_agg_stats.clone().unwrap();
    assert_eq!(spouts.keys().collect::<Vec<_>>(), ["sentences"]);
    let bolts = page.id_to_bolt_agg_stats.clone().unwrap();
    assert_eq!(bolts.keys().collect::<Vec<_>>(), ["count", "split"]);
    assert_eq!(page.num_workers, Some(0));
    assert_eq!(page.workers.as_ref().map(Vec::len), Some(1));
    let a = assignment(n, &id);
    heartbeat(n, &id, &a, "sup-a", 6700, 1);
    let page = n.topology_page_info(&id, ":all-time", true).unwrap();
    assert_eq!(page.num_workers, Some(1));
    assert_eq!(page.num_executors, Some(7));
    assert!(page
        .id_to_bolt_agg_stats
        .as_ref()
        .unwrap()
        .contains_key("__acker"));
    let comp = n
        .component_page_info(&id, "split", ":all-time", false)
        .unwrap();
    assert_eq!(comp.component_type, crate::thrift::ComponentType::BOLT);
    assert_eq!(comp.topology_name.as_deref(), Some("pages"));
    assert!(comp.num_executors.unwrap() >= 1);
    let sup = n.supervisor_page_info("sup-a", "", false).unwrap();
    assert_eq!(sup.supervisor_summaries.unwrap()[0].host, "host-a");
    assert_eq!(sup.worker_summaries.unwrap().len(), 1);
    let by_host = n.supervisor_page_info("", "host-a", false).unwrap();
    assert_eq!(by_host.supervisor_summaries.unwrap().len(), 1);
    assert!(matches!(
        n.topology_page_info("nope", ":all-time", false),
        Err(NimbusError::NotAlive(_))
    ));
    n.shutdown();
}

/// One stat in every window: `recent` in the last ten minutes, `all` in the longer windows and all
/// time (what an executor up for two hours reports when it was busier before).
fn windows<K: Ord + Clone, V: Clone>(
    key: K,
    recent: V,
    all: V,
) -> BTreeMap<String, BTreeMap<K, V>> {
    ["600", "10800", "86400", ":all-time"]
        .into_iter()
        .map(|w| {
            let v = if w == "600" {
                recent.clone()
            } else {
                all.clone()
            };
            (w.to_string(), BTreeMap::from([(key.clone(), v)]))
        })
        .collect()
}

/// Heartbeats of the word count's executors, up `uptime` seconds: the spout acked 90 trees (8 in
/// the last ten minutes), failed 5 (3 by timeout, 2 explicitly; 1 recent timeout); each `split`
/// executor executed at 10 ms all time but recently 6 000 at 50 ms (capacity 0.5) — the second one
/// 3 000 (capacity 0.25).
fn windowed_heartbeat(n: &Nimbus, id: &str, uptime: i32) {
    use crate::thrift::{BoltStats, ClusterWorkerHeartbeat, ExecutorInfo, ExecutorSpecificStats};
    use crate::thrift::{ExecutorStats, SpoutStats};
    use thrift::OrderedFloat;
    let info = n.topology_info(id).unwrap();
    let mut split_seen = 0;
    let mut executor_stats = BTreeMap::new();
    for e in &info.executors {
        let d = "default".to_string();
        let stats = match e.component_id.as_str() {
            "sentences" => ExecutorStats {
                emitted: windows(d.clone(), 10, 100),
                transferred: windows(d.clone(), 10, 100),
                specific: ExecutorSpecificStats::Spout(SpoutStats {
                    acked: windows(d.clone(), 8, 90),
                    failed: windows(d.clone(), 1, 5),
                    complete_ms_avg: windows(d.clone(), OrderedFloat(2.0), OrderedFloat(4.0)),
                    failed_timeout: Some(windows(d.clone(), 1, 3)),
                    failed_explicit: Some(windows(d.clone(), 0, 2)),
                }),
                rate: OrderedFloat(1.0),
                reported_errors: Some(
                    [("600", 1), ("10800", 3), ("86400", 3), (":all-time", 3)]
                        .map(|(w, n)| (w.to_string(), n))
                        .into(),
                ),
            },
            "split" => {
                split_seen += 1;
                let recent = if split_seen == 1 { 6_000 } else { 3_000 };
                let g = GlobalStreamId {
                    component_id: "sentences".into(),
                    stream_id: d.clone(),
                };
                ExecutorStats {
                    emitted: windows(d.clone(), 20, 200),
                    transferred: windows(d.clone(), 20, 200),
                    specific: ExecutorSpecificStats::Bolt(BoltStats {
                        acked: windows(g.clone(), recent, 72_000),
                        failed: windows(g.clone(), 0, 0),
                        process_ms_avg: windows(g.clone(), OrderedFloat(51.0), OrderedFloat(11.0)),
                        executed: windows(g.clone(), recent, 72_000),
                        execute_ms_avg: windows(g.clone(), OrderedFloat(50.0), OrderedFloat(10.0)),
                    }),
                    rate: OrderedFloat(1.0),
                    reported_errors: None,
                }
            }
            _ => continue,
        };
        executor_stats.insert(
            ExecutorInfo {
                task_start: e.executor_info.task_start,
                task_end: e.executor_info.task_end,
            },
            stats,
        );
    }
    assert_eq!(split_seen, 2);
    n.cluster()
        .worker_heartbeat(
            id,
            "sup-a",
            6700,
            &ClusterWorkerHeartbeat {
                storm_id: id.into(),
                executor_stats,
                time_secs: 1,
                uptime_secs: uptime,
            },
        )
        .unwrap();
}

#[test]
fn pages_aggregate_the_window_asked_for_from_heartbeats_of_old_executors() {
    use crate::thrift::{ExecutorSpecificStats, SpecificAggregateStats};
    let f = fixture();
    let n = &f.nimbus;
    let _a = supervisor(&f.store, "sup-a", "host-a", &[6700]);
    let id = submit_wc(n, "windows", 1);
    windowed_heartbeat(n, &id, 7_200);

    // getTopologyInfo: every window of every executor as the worker reported it.
    let info = n.topology_info(&id).unwrap();
    let spout = info
        .executors
        .iter()
        .find(|e| e.component_id == "sentences")
        .and_then(|e| e.stats.clone())
        .unwrap();
    assert_eq!(
        spout.emitted.keys().collect::<Vec<_>>(),
        ["10800", "600", "86400", ":all-time"]
    );
    let ExecutorSpecificStats::Spout(s) = &spout.specific else {
        panic!("spout stats");
    };
    assert_eq!(
        (s.acked["600"]["default"], s.acked[":all-time"]["default"]),
        (8, 90)
    );

    let spout_of = |page: &crate::thrift::TopologyPageInfo| {
        page.id_to_spout_agg_stats.as_ref().unwrap()["sentences"].clone()
    };
    let split_of = |page: &crate::thrift::TopologyPageInfo| {
        let s = page.id_to_bolt_agg_stats.as_ref().unwrap()["split"].clone();
        let Some(SpecificAggregateStats::Bolt(b)) = s.specific_stats else {
            panic!("bolt stats");
        };
        (s.common_stats.unwrap(), b)
    };
    let recent = n.topology_page_info(&id, "600", false).unwrap();
    let all = n.topology_page_info(&id, ":all-time", false).unwrap();
    // The spout: the window's own counts, split by cause beside Storm's `failed`.
    for (page, acked, failed, timeout, explicit, latency, errors) in
        [(&recent, 8, 1, 1, 0, 2.0, 1), (&all, 90, 5, 3, 2, 4.0, 3)]
    {
        let s = spout_of(page);
        let common = s.common_stats.unwrap();
        assert_eq!((common.acked, common.failed), (Some(acked), Some(failed)));
        assert_eq!(common.reported_errors, Some(errors));
        let Some(SpecificAggregateStats::Spout(sp)) = s.specific_stats else {
            panic!("spout stats");
        };
        assert_eq!(sp.complete_latency_ms, Some(latency.into()));
        assert_eq!(
            (sp.failed_timeout, sp.failed_explicit),
            (Some(timeout), Some(explicit))
        );
    }
    // The bolt: sums over its two executors; capacity is the busiest executor's, from the 10-minute
    // window (6 000 × 50 ms / 600 s) whatever the window shown.
    let (common, bolt) = split_of(&recent);
    assert_eq!(bolt.executed, Some(9_000));
    assert_eq!(common.acked, Some(9_000));
    assert_eq!(bolt.execute_latency_ms, Some(50.0.into()));
    assert_eq!(bolt.process_latency_ms, Some(51.0.into()));
    let (common, bolt_all) = split_of(&all);
    assert_eq!(bolt_all.executed, Some(144_000));
    assert_eq!(common.emitted, Some(400));
    assert_eq!(bolt_all.execute_latency_ms, Some(10.0.into()));
    for b in [&bolt, &bolt_all] {
        assert!((b.capacity.unwrap().0 - 0.5).abs() < 1e-9, "{b:?}");
    }
    // Topology totals: every window, from the spouts.
    let totals = recent.topology_stats.clone().unwrap();
    let acked = totals.window_to_acked.unwrap();
    assert_eq!(
        (acked["600"], acked["10800"], acked[":all-time"]),
        (8, 90, 90)
    );
    assert_eq!(totals.window_to_failed.unwrap()["600"], 1);
    assert_eq!(totals.window_to_failed_timeout.unwrap()[":all-time"], 3);
    assert_eq!(totals.window_to_failed_explicit.unwrap()[":all-time"], 2);
    assert_eq!(totals.window_to_reported_errors.unwrap()["600"], 1);
    assert_eq!(
        totals.window_to_complete_latencies_ms.unwrap()["600"].0,
        2.0
    );
    // Emitted sums spouts and bolts.
    assert_eq!(totals.window_to_emitted.unwrap()["600"], 10 + 2 * 20);

    // A component page: the asked window per executor and per input, every window in the totals.
    let page = n.component_page_info(&id, "split", "600", false).unwrap();
    let win = &page.window_to_stats.as_ref().unwrap();
    assert_eq!(
        win.keys().collect::<Vec<_>>(),
        ["10800", "600", "86400", ":all-time"]
    );
    let executed = |w: &str| match &win[w].specific_stats {
        Some(SpecificAggregateStats::Bolt(b)) => b.executed,
        _ => None,
    };
    assert_eq!(
        (executed("600"), executed(":all-time")),
        (Some(9_000), Some(144_000))
    );
    let mut capacities: Vec<f64> = page
        .exec_stats
        .as_ref()
        .unwrap()
        .iter()
        .map(|e| match &e.stats.as_ref().unwrap().specific_stats {
            Some(SpecificAggregateStats::Bolt(b)) => b.capacity.unwrap().0,
            _ => f64::NAN,
        })
        .collect();
    capacities.sort_by(f64::total_cmp);
    assert!((capacities[0] - 0.25).abs() < 1e-9 && (capacities[1] - 0.5).abs() < 1e-9);
    let inputs = page.gsid_to_input_stats.as_ref().unwrap();
    let from_spout = &inputs[&GlobalStreamId {
        component_id: "sentences".into(),
        stream_id: "default".into(),
    }];
    assert_eq!(from_spout.common_stats.as_ref().unwrap().acked, Some(9_000));

    // A young worker: the capacity divides by its uptime instead of 600 s.
    windowed_heartbeat(n, &id, 300);
    let (_, young) = split_of(&n.topology_page_info(&id, "600", false).unwrap());
    assert!((young.capacity.unwrap().0 - 1.0).abs() < 1e-9, "{young:?}");
    n.shutdown();
}

/// Runs `f` as the Thrift call of `principal` would (the transport's `ReqContext`).
fn as_user<T>(principal: &str, f: impl FnOnce() -> T) -> T {
    crate::security::ReqContext {
        principal: Some(principal.to_string()),
        remote: None,
    }
    .install();
    let out = f();
    crate::security::ReqContext::clear();
    out
}

fn authorization_message(e: thrift::Error) -> String {
    match e {
        thrift::Error::User(u) => u
            .downcast_ref::<crate::thrift::AuthorizationException>()
            .map(|a| a.msg.clone())
            .unwrap_or_else(|| panic!("not an AuthorizationException: {u:?}")),
        other => panic!("not an AuthorizationException: {other:?}"),
    }
}

#[test]
fn simple_acl_authorizer_guards_every_nimbus_call() {
    let dir = tempfile::tempdir().unwrap();
    let mut conf = conf_in(dir.path());
    conf.set(
        "nimbus.authorizer",
        crate::security::authorizer::SIMPLE_ACL_AUTHORIZER,
    );
    conf.set("nimbus.admins", serde_json::json!(["root"]));
    conf.set("nimbus.supervisor.users", serde_json::json!(["sup"]));
    conf.set(
        "storm.principal.tolocal",
        crate::security::principal::KERBEROS_PRINCIPAL_TO_LOCAL,
    );
    let store = MemoryStore::new();
    let storage: Arc<dyn StateStorage> = Arc::new(store.session());
    let n = Nimbus::start(conf, storage, "nimbus-a", 6627).unwrap();
    assert!(n.await_leadership(Duration::from_secs(5)));
    let h = NimbusHandler(n.clone());

    // alice submits: she owns the topology (submitter principal/user, topology.users, StormBase.owner).
    as_user("alice@EXAMPLE.COM", || {
        h.handle_submit_topology(
            "wc".into(),
            String::new(),
            r#"{"topology.users": ["carol"]}"#.into(),
            word_count("word"),
        )
    })
    .unwrap();
    let id = n.cluster().active_storms().unwrap()[0].clone();
    let conf = n.read_topology_conf(&id).unwrap();
    assert_eq!(conf["topology.submitter.principal"], "alice@EXAMPLE.COM");
    assert_eq!(conf["topology.submitter.user"], "alice");
    let users = crate::security::authorizer::strings(conf.get("topology.users"));
    assert!(
        users.contains("alice") && users.contains("alice@EXAMPLE.COM") && users.contains("carol")
    );
    assert_eq!(
        n.cluster().storm_base(&id, false).unwrap().unwrap().owner,
        Some("alice".to_string())
    );

    // bob may list but not touch alice's topology.
    assert!(as_user("bob", || h.handle_get_cluster_info()).is_ok());
    assert!(as_user("bob", || h.handle_get_leader()).is_ok());
    let e = as_user("bob@EXAMPLE.COM", || h.handle_kill_topology("wc".into())).unwrap_err();
    assert_eq!(
        authorization_message(e),
        "killTopology on topology wc is not authorized"
    );
    let e = as_user("bob", || h.handle_get_topology_conf(id.clone())).unwrap_err();
    assert_eq!(
        authorization_message(e),
        "getTopologyConf on topology wc is not authorized"
    );
    let e = as_user("bob", || h.handle_deactivate("wc".into())).unwrap_err();
    assert_eq!(
        authorization_message(e),
        "deactivate on topology wc is not authorized"
    );
    // A supervisor user may fetch assignments, nothing else.
    assert!(as_user("sup", || h.handle_get_supervisor_assignments("node".into())).is_ok());
    let e = as_user("sup", || h.handle_get_cluster_info()).unwrap_err();
    assert_eq!(authorization_message(e), "getClusterInfo is not authorized");
    // Unknown topologies are NotAlive before any authorization.
    let e = as_user("bob", || h.handle_kill_topology("ghost".into())).unwrap_err();
    assert!(
        matches!(&e, thrift::Error::User(u) if u.is::<crate::thrift::NotAliveException>()),
        "{e:?}"
    );
    // Listed users, owners and admins may.
    as_user("carol", || h.handle_deactivate("wc".into())).unwrap();
    as_user("alice", || h.handle_get_topology_conf(id.clone())).unwrap();
    as_user("alice/host@EXAMPLE.COM", || h.handle_activate("wc".into())).unwrap();
    as_user("root", || {
        h.handle_kill_topology_with_opts("wc".into(), crate::thrift::KillOptions::new(0))
    })
    .unwrap();
    n.shutdown();
}
