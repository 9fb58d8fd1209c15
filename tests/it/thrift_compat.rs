//! Wire compatibility of storm-rs's Thrift structs with an independent encoder: thriftpy2 driven by the
//! storm.thrift that PyPI's streamparse ships, through `tests/python/thrift_compat.py`. Python encodes →
//! Rust decodes, Rust encodes → Python decodes, and streamparse's schema is checked against ours.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use storm::thrift::{
    self as st, Assignment, Bolt, ComponentCommon, ComponentObject, DebugOptions, GlobalStreamId,
    Grouping, JavaObject, JavaObjectArg, NodeInfo, NullStruct, RebalanceOptions, ShellComponent,
    SpoutSpec, StormBase, StormTopology, StreamInfo, SupervisorInfo, TopologyActionOptions,
    TopologyStatus, WorkerResources,
};
use thrift::OrderedFloat;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/thrift_compat.py")
}

/// Runs `thrift_compat.py MODE ARG` and returns its stdout; panics with its output if it fails.
fn run_python(mode: &str, arg: &Path) -> String {
    let out = Command::new(crate::support::python())
        .arg(script())
        .arg(mode)
        .arg(arg)
        .output()
        .expect("run the test virtualenv's python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "thrift_compat.py {mode} failed ({}):\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn map<K: Ord, V>(entries: impl IntoIterator<Item = (K, V)>) -> BTreeMap<K, V> {
    entries.into_iter().collect()
}

fn s(v: &str) -> String {
    v.to_string()
}

fn f(v: f64) -> OrderedFloat<f64> {
    OrderedFloat(v)
}

// The same values as `fixtures()` in tests/python/thrift_compat.py.

fn assignment() -> Assignment {
    let node1 = NodeInfo::slot("sup-1", 6700);
    let node2 = NodeInfo::slot("sup-2", 6701);
    Assignment {
        master_code_dir: s("/var/storm/nimbus/stormdist/wc-1-1700000000"),
        node_host: Some(map([
            (s("sup-1"), s("host-a.example")),
            (s("sup-2"), s("host-b.example")),
        ])),
        executor_node_port: Some(map([
            (st::executor_key(1, 1), node1.clone()),
            (st::executor_key(2, 3), node2.clone()),
            (st::executor_key(4, 4), node1.clone()),
        ])),
        executor_start_time_secs: Some(map([
            (st::executor_key(1, 1), 1_700_000_001),
            (st::executor_key(2, 3), 1_700_000_002),
            (st::executor_key(4, 4), 1_700_000_003),
        ])),
        worker_resources: Some(map([
            (
                node1,
                WorkerResources {
                    mem_on_heap: Some(f(768.0)),
                    mem_off_heap: Some(f(0.0)),
                    cpu: Some(f(50.5)),
                    ..worker_resources_none()
                },
            ),
            (
                node2,
                WorkerResources {
                    mem_on_heap: Some(f(1024.25)),
                    cpu: Some(f(100.0)),
                    ..worker_resources_none()
                },
            ),
        ])),
        total_shared_off_heap: None,
        owner: Some(s("alice")),
    }
}

fn worker_resources_none() -> WorkerResources {
    WorkerResources {
        mem_on_heap: None,
        mem_off_heap: None,
        cpu: None,
        shared_mem_on_heap: None,
        shared_mem_off_heap: None,
        resources: None,
        shared_resources: None,
    }
}

fn storm_base() -> StormBase {
    StormBase {
        name: s("word-count"),
        status: TopologyStatus::REBALANCING,
        num_workers: 3,
        component_executors: Some(map([(s("spout"), 2), (s("count"), 4), (s("__acker"), 1)])),
        launch_time_secs: Some(1_700_000_000),
        owner: Some(s("alice")),
        topology_action_options: Some(TopologyActionOptions::RebalanceOptions(RebalanceOptions {
            wait_secs: Some(30),
            num_workers: Some(4),
            num_executors: Some(map([(s("count"), 6)])),
            topology_resources_overrides: None,
            topology_conf_overrides: None,
            principal: None,
        })),
        prev_status: Some(TopologyStatus::ACTIVE),
        component_debug: Some(map([(
            s("count"),
            DebugOptions {
                enable: Some(true),
                samplingpct: Some(f(12.5)),
            },
        )])),
        principal: Some(s("alice@EXAMPLE")),
        topology_version: None,
    }
}

fn supervisor_info() -> SupervisorInfo {
    SupervisorInfo {
        time_secs: 1_700_000_100,
        hostname: s("host-a.example"),
        assignment_id: Some(s("sup-1")),
        used_ports: Some(vec![6700]),
        meta: Some(vec![6700, 6701, 6702, 6703]),
        scheduler_meta: Some(map([(s("rack"), s("r1"))])),
        uptime_secs: Some(3600),
        version: Some(s("2.8.0")),
        resources_map: Some(map([
            (s("cpu.pcore.percent"), f(400.0)),
            (s("memory.mb"), f(4096.0)),
        ])),
        server_port: None,
    }
}

fn shell(script: &str) -> ComponentObject {
    ComponentObject::Shell(ShellComponent {
        execution_command: Some(s("python3")),
        script: Some(s(script)),
    })
}

fn stream(fields: &[&str], direct: bool) -> StreamInfo {
    StreamInfo {
        output_fields: fields.iter().map(|x| s(x)).collect(),
        direct,
    }
}

fn storm_topology() -> StormTopology {
    let spout = SpoutSpec {
        spout_object: shell("sentence_spout.py"),
        common: ComponentCommon {
            inputs: BTreeMap::new(),
            streams: map([(s("default"), stream(&["sentence"], false))]),
            parallelism_hint: Some(2),
            json_conf: Some(s(r#"{"topology.tasks": 2}"#)),
        },
    };
    let split = Bolt {
        bolt_object: shell("split.py"),
        common: ComponentCommon {
            inputs: map([(
                GlobalStreamId::of("spout", "default"),
                Grouping::Shuffle(NullStruct {}),
            )]),
            streams: map([
                (s("default"), stream(&["word"], false)),
                (s("direct-out"), stream(&["word", "n"], true)),
            ]),
            parallelism_hint: Some(3),
            json_conf: None,
        },
    };
    let count = Bolt {
        bolt_object: ComponentObject::JavaObject(JavaObject {
            full_class_name: s("org.apache.storm.testing.TestWordCounter"),
            args_list: vec![
                JavaObjectArg::IntArg(7),
                JavaObjectArg::StringArg(s("x")),
                JavaObjectArg::BinaryArg(vec![0x00, 0x01, 0xff]),
                JavaObjectArg::DoubleArg(f(0.25)),
                JavaObjectArg::BoolArg(true),
                JavaObjectArg::LongArg(-5_000_000_000),
            ],
        }),
        common: ComponentCommon {
            inputs: map([
                (
                    GlobalStreamId::of("split", "default"),
                    Grouping::Fields(vec![s("word")]),
                ),
                (GlobalStreamId::of("spout", "default"), Grouping::global()),
                (
                    GlobalStreamId::of("split", "direct-out"),
                    Grouping::Direct(NullStruct {}),
                ),
            ]),
            streams: map([(s("default"), stream(&["word", "count"], false))]),
            parallelism_hint: Some(4),
            json_conf: Some(s(r#"{"topology.tasks": 8, "topology.debug": true}"#)),
        },
    };
    StormTopology {
        spouts: map([(s("spout"), spout)]),
        bolts: map([(s("split"), split), (s("count"), count)]),
        state_spouts: BTreeMap::new(),
        worker_hooks: Some(vec![b"hook-bytes".to_vec()]),
        dependency_jars: Some(vec![s("dep.jar")]),
        dependency_artifacts: Some(vec![s("org.example:lib:1.0")]),
        storm_version: Some(s("2.8.0")),
        jdk_version: Some(s("none")),
        component_to_shared_memory: None,
        shared_memory: None,
    }
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(format!("{name}.bin")))
        .unwrap_or_else(|e| panic!("read {name}.bin: {e}"))
}

#[test]
fn thrift_python_encodes_rust_decodes() {
    let dir = tempfile::tempdir().unwrap();
    run_python("encode", dir.path());

    let a: Assignment = st::deserialize(&read(dir.path(), "Assignment")).unwrap();
    assert_eq!(
        a.master_code_dir,
        "/var/storm/nimbus/stormdist/wc-1-1700000000"
    );
    let ports = a.executor_node_port.as_ref().unwrap();
    assert_eq!(
        ports[&st::executor_key(2, 3)],
        NodeInfo::slot("sup-2", 6701)
    );
    assert_eq!(
        a.executor_start_time_secs.as_ref().unwrap()[&vec![4, 4]],
        1_700_000_003
    );
    assert_eq!(
        a.worker_resources.as_ref().unwrap()[&NodeInfo::slot("sup-1", 6700)].cpu,
        Some(f(50.5))
    );
    assert_eq!(a, assignment());

    let b: StormBase = st::deserialize(&read(dir.path(), "StormBase")).unwrap();
    assert_eq!(b.status, TopologyStatus::REBALANCING);
    assert_eq!(b.prev_status, Some(TopologyStatus::ACTIVE));
    match &b.topology_action_options {
        Some(TopologyActionOptions::RebalanceOptions(r)) => assert_eq!(r.num_workers, Some(4)),
        other => panic!("unexpected action options {other:?}"),
    }
    assert_eq!(b, storm_base());

    let i: SupervisorInfo = st::deserialize(&read(dir.path(), "SupervisorInfo")).unwrap();
    assert_eq!(i.meta.as_deref(), Some(&[6700, 6701, 6702, 6703][..]));
    assert_eq!(i, supervisor_info());

    let t: StormTopology = st::deserialize(&read(dir.path(), "StormTopology")).unwrap();
    let count = &t.bolts["count"].common;
    assert_eq!(
        count.inputs[&GlobalStreamId::of("split", "default")],
        Grouping::Fields(vec![s("word")])
    );
    assert_eq!(
        count.inputs[&GlobalStreamId::of("spout", "default")],
        Grouping::global()
    );
    assert_eq!(t.spouts["spout"].spout_object, shell("sentence_spout.py"));
    assert!(t.bolts["split"].common.streams["direct-out"].direct);
    assert_eq!(t, storm_topology());

    // What Python wrote also reads through the znode path (plain Thrift is accepted there).
    assert_eq!(
        st::deserialize_any::<StormTopology>(&read(dir.path(), "StormTopology")).unwrap(),
        t
    );
}

#[test]
fn thrift_rust_encodes_python_decodes() {
    let dir = tempfile::tempdir().unwrap();
    // Python writes the expected views (and its own .bin files, replaced below).
    run_python("encode", dir.path());

    // Storm 2 fields that streamparse's older schema lacks: thriftpy2 must skip them.
    let mut a = assignment();
    a.total_shared_off_heap = Some(map([(s("sup-1"), f(64.0))]));
    let mut b = storm_base();
    b.topology_version = Some(s("v7"));
    let mut i = supervisor_info();
    i.server_port = Some(6628);
    let mut t = storm_topology();
    t.component_to_shared_memory = Some(map([(s("count"), BTreeSet::from([s("cache")]))]));

    for (name, bytes) in [
        ("Assignment", st::serialize(&a)),
        ("StormBase", st::serialize(&b)),
        ("SupervisorInfo", st::serialize(&i)),
        ("StormTopology", st::serialize(&t)),
    ] {
        std::fs::write(dir.path().join(format!("{name}.bin")), bytes).unwrap();
    }
    let out = run_python("decode", dir.path());
    for name in ["Assignment", "StormBase", "SupervisorInfo", "StormTopology"] {
        assert!(out.contains(&format!("ok {name}")), "{out}");
    }
}

#[test]
fn thrift_idl_agrees_with_streamparse_schema() {
    let idl = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib/thrift/storm.thrift");
    let out = run_python("check-idl", &idl);
    assert!(out.contains(": 0 problems"), "{out}");
}
