use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::core::*;
use super::handler::NimbusHandler;
use crate::cluster::{MemoryStore, StateStorage};
use crate::config::Config;
use crate::paths::{STORMCODE, STORMCONF, STORMJAR};
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
fn java_components_are_refused() {
    let mut t = word_count("word");
    assert!(refuse_jvm_components(&t).is_ok());
    t.bolts.get_mut("split").unwrap().bolt_object =
        ComponentObject::SerializedJava(vec![0xAC, 0xED, 0, 5]);
    assert!(matches!(
        refuse_jvm_components(&t),
        Err(NimbusError::InvalidTopology(m)) if m.contains("split")
    ));
    t.bolts.get_mut("split").unwrap().bolt_object =
        ComponentObject::SerializedJava(b"STORMRS1 rust component".to_vec());
    assert!(refuse_jvm_components(&t).is_ok());
    t.bolts.get_mut("count").unwrap().bolt_object = ComponentObject::JavaObject(JavaObject {
        full_class_name: "a.B".into(),
        args_list: vec![],
    });
    assert!(refuse_jvm_components(&t).is_err());
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

    let dist = n.paths().nimbus_stormdist(&id);
    assert_eq!(std::fs::read(dist.join(STORMJAR)).unwrap(), b"jar bytes");
    assert!(dist.join(STORMCODE).is_file() && dist.join(STORMCONF).is_file());
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
    });
    assert!(!dist.exists());
    assert!(!f.store.paths().contains(&format!("/workerbeats/{id}")));
    assert_eq!(
        n.kill("wc", None),
        Err(NimbusError::NotAlive("wc is not alive".into()))
    );
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
        .handle_rebalance("x".into(), RebalanceOptions::default())
        .unwrap_err();
    match err {
        thrift::Error::Application(e) => {
            assert_eq!(e.message, "rebalance is not supported by storm-rs yet")
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
