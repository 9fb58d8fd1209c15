//! Tests of the supervisor as a whole: identity, assignment reading, launching real (shell-script)
//! workers, start timeouts, restart recovery and orphan cleanup, over the in-memory cluster state.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::container::{process_alive, worker_pids};
use super::*;
use crate::cluster::MemoryStore;
use crate::local_state::LS_WORKER_HEARTBEAT;
use crate::paths::{STORMCODE, STORMCONF, STORMJAR};
use crate::thrift::{ExecutorInfo, LSWorkerHeartbeat, NodeInfo};

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    store: MemoryStore,
    conf: Config,
    script: PathBuf,
}

impl Fixture {
    fn new(port: u16, start_timeout: u64, worker_timeout: u64) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mut conf = Config::defaults();
        conf.set(
            "storm.local.dir",
            dir.path().join("local").to_string_lossy().to_string(),
        );
        conf.set(
            "storm.log.dir",
            dir.path().join("logs").to_string_lossy().to_string(),
        );
        conf.set("supervisor.slots.ports", json!([port]));
        conf.set("supervisor.worker.start.timeout.secs", json!(start_timeout));
        conf.set("supervisor.worker.timeout.secs", json!(worker_timeout));
        conf.set("supervisor.worker.shutdown.sleep.secs", json!(1));
        conf.set("supervisor.monitor.frequency.secs", json!(1));
        conf.set("supervisor.heartbeat.frequency.secs", json!(1));
        conf.set("storm.local.hostname", "sup-host");
        // A worker that writes nothing and waits to be killed; it records its environment.
        let script = dir.path().join("fake-worker.sh");
        fs::write(
            &script,
            "#!/bin/sh\nenv > \"$PWD/tmp/env\"\necho \"$@\" > \"$PWD/tmp/args\"\nexec sleep 60\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        Fixture {
            dir,
            store: MemoryStore::new(),
            conf,
            script,
        }
    }

    fn paths(&self) -> StormPaths {
        StormPaths::from_config(&self.conf).unwrap()
    }

    fn start(&self) -> Supervisor {
        Supervisor::start(
            &self.conf,
            Arc::new(self.store.session()),
            SupervisorOptions {
                conf_file: Some(self.dir.path().join("storm.toml")),
                options: vec!["topology.debug=true".into()],
                worker_binary: Some(self.script.clone()),
                leader: Some(Arc::new(|| Err("no nimbus in this test".to_string()))),
            },
        )
        .unwrap()
    }

    /// Puts a topology's files in place, as a finished download would.
    fn localize(&self, topology_id: &str) {
        let dist = self.paths().supervisor_stormdist(topology_id);
        fs::create_dir_all(&dist).unwrap();
        fs::write(dist.join(STORMJAR), b"PK not really a jar").unwrap();
        fs::write(dist.join(STORMCODE), b"code").unwrap();
        let mut conf = serde_json::Map::new();
        conf.insert("topology.environment".into(), json!({"MY_VAR": "hello"}));
        fs::write(
            dist.join(STORMCONF),
            crate::thrift::conf_to_gzip_json(&conf),
        )
        .unwrap();
    }

    fn cluster(&self) -> ClusterState {
        ClusterState::new(Arc::new(self.store.session())).unwrap()
    }
}

fn assignment(supervisor: &str, port: u16, executors: &[(i64, i64)]) -> Assignment {
    let mut enp = BTreeMap::new();
    for &(s, e) in executors {
        enp.insert(vec![s, e], NodeInfo::slot(supervisor, i64::from(port)));
    }
    let mut hosts = BTreeMap::new();
    hosts.insert(supervisor.to_string(), "sup-host".to_string());
    Assignment::new("/nimbus".to_string(), hosts, enp, None, None, None, None)
}

fn write_heartbeat(paths: &StormPaths, wid: &str, topology: &str, port: u16) {
    let ls = LocalState::open(paths.worker_heartbeats(wid)).unwrap();
    let hb = LSWorkerHeartbeat::new(
        now_secs() as i32,
        topology.to_string(),
        vec![ExecutorInfo::new(1, 1), ExecutorInfo::new(-1, -1)],
        i32::from(port),
    );
    ls.put_keeping(LS_WORKER_HEARTBEAT, &hb, 60).unwrap();
}

fn slot(sup: &Supervisor, port: u16) -> SlotStatus {
    sup.slots()[&port].clone()
}

fn pid_of(paths: &StormPaths, wid: &str) -> i32 {
    let pids = worker_pids(paths, wid);
    assert_eq!(pids.len(), 1, "{pids:?}");
    pids[0]
}

#[test]
fn supervisor_id_persists_and_heartbeat_is_written() {
    let fx = Fixture::new(16700, 30, 30);
    let sup = fx.start();
    let id = sup.id().to_string();
    let cluster = fx.cluster();
    let info = cluster.supervisor_info(&id).unwrap().expect("heartbeat");
    assert_eq!(info.hostname, "sup-host");
    assert_eq!(info.assignment_id.as_deref(), Some(id.as_str()));
    assert_eq!(info.meta, Some(vec![16700]));
    assert_eq!(info.used_ports, Some(vec![]));
    assert_eq!(info.version.as_deref(), Some(crate::STORM_VERSION));
    sup.shutdown();
    assert!(
        cluster.supervisor_info(&id).unwrap().is_none(),
        "ephemeral gone"
    );

    fs::create_dir_all(fx.paths().supervisor_tmp().join("junk")).unwrap();
    let sup = fx.start();
    assert_eq!(sup.id(), id);
    assert_eq!(
        fs::read_dir(fx.paths().supervisor_tmp()).unwrap().count(),
        0,
        "supervisor/tmp is cleaned at start"
    );
    sup.shutdown();
}

#[test]
fn local_assignments_group_executors_by_port() {
    let ports: BTreeSet<u16> = [6700, 6701].into();
    let mut a = assignment("me", 6700, &[(3, 4), (1, 2)]);
    let enp = a.executor_node_port.as_mut().unwrap();
    enp.insert(vec![5, 5], NodeInfo::slot("me", 6701));
    enp.insert(vec![6, 6], NodeInfo::slot("other", 6700));
    enp.insert(vec![7, 7], NodeInfo::slot("me", 9999));
    let mut all = BTreeMap::new();
    all.insert("t-1-1".to_string(), a);
    let mine = local_assignments("me", &ports, &all);
    assert_eq!(mine.len(), 2);
    assert_eq!(
        mine[&6700].executors,
        vec![ExecutorInfo::new(1, 2), ExecutorInfo::new(3, 4)]
    );
    assert_eq!(mine[&6701].executors, vec![ExecutorInfo::new(5, 5)]);
    assert_eq!(mine[&6701].topology_id, "t-1-1");

    // Two topologies on one port: the port is left out.
    all.insert("u-1-1".to_string(), assignment("me", 6701, &[(1, 1)]));
    let mine = local_assignments("me", &ports, &all);
    assert!(!mine.contains_key(&6701));
    assert!(mine.contains_key(&6700));
}

#[test]
fn worker_without_heartbeat_is_relaunched_with_a_new_id() {
    let port = 16710;
    let fx = Fixture::new(port, 1, 1);
    let paths = fx.paths();
    // Assigned before the supervisor starts (its first sync removes unassigned topology files).
    let id = supervisor_id(&paths).unwrap();
    fx.cluster()
        .set_assignment(
            "t-1-1",
            &assignment(&id, port, &[(1, 1)]),
            &crate::cluster::TopologyAcls::open(),
        )
        .unwrap();
    fx.localize("t-1-1");
    let sup = fx.start();
    assert_eq!(sup.id(), id);
    let mut first = String::new();
    wait_for(
        "a launched worker",
        Duration::from_secs(20),
        || match slot(&sup, port).worker_id {
            Some(w) => {
                first = w;
                true
            }
            None => false,
        },
    );
    let root = paths.worker_root(&first);
    wait_for("the worker's env dump", Duration::from_secs(20), || {
        fs::read_to_string(root.join("tmp/args")).is_ok_and(|s| !s.is_empty())
    });
    let pid = pid_of(&paths, &first);
    // The launch contract.
    let args = fs::read_to_string(root.join("tmp/args")).unwrap();
    assert_eq!(args.trim(), format!("t-1-1 {} {port} {first}", sup.id()));
    let env = fs::read_to_string(root.join("tmp/env")).unwrap();
    assert!(env.contains("STORM_WORKER=1"), "{env}");
    assert!(env.contains("MY_VAR=hello"), "{env}");
    assert!(
        env.contains("STORM_OPTIONS=[\"topology.debug=true\"]"),
        "{env}"
    );
    assert!(env.contains(&format!(
        "STORM_CONF_FILE={}",
        fx.dir.path().join("storm.toml").display()
    )));
    assert!(fs::read_link(root.join("artifacts"))
        .unwrap()
        .ends_with(format!("t-1-1/{port}")));
    assert!(root.join("heartbeats").is_dir());
    assert!(paths.worker_user_file(&first).is_file());
    assert!(paths
        .worker_artifacts("t-1-1", port)
        .join("worker.log.out")
        .is_file());
    let saved = SupervisorLocalState::open(&paths).unwrap();
    assert_eq!(saved.assignments()[&i32::from(port)].topology_id, "t-1-1");
    assert_eq!(saved.approved().get(&first), Some(&i32::from(port)));

    // No heartbeat within the start timeout: killed, cleaned, relaunched under a new id.
    wait_for("a relaunch", Duration::from_secs(30), || {
        slot(&sup, port).worker_id.is_some_and(|w| w != first)
    });
    wait_for("the old worker dir to go", Duration::from_secs(10), || {
        !root.exists()
    });
    assert!(!process_alive(pid), "old worker process is gone");
    assert!(!paths.worker_user_file(&first).exists());
    assert!(!SupervisorLocalState::open(&paths)
        .unwrap()
        .approved()
        .contains_key(&first));

    // Unassigning kills the worker and empties the slot; the topology files are removed.
    fx.cluster().storage().delete("/assignments/t-1-1").unwrap();
    sup.sync_now();
    wait_for("an empty slot", Duration::from_secs(30), || {
        slot(&sup, port).state == SlotState::Empty
    });
    assert!(container::worker_dirs(&paths).is_empty());
    sup.sync_now();
    wait_for("stormdist cleanup", Duration::from_secs(20), || {
        !paths.supervisor_stormdist("t-1-1").exists()
    });
    sup.shutdown();
}

#[test]
fn restart_readopts_a_live_worker_and_kills_orphans() {
    let port = 16720;
    let fx = Fixture::new(port, 30, 30);
    let paths = fx.paths();
    let id = supervisor_id(&paths).unwrap();
    fx.cluster()
        .set_assignment(
            "t-2-2",
            &assignment(&id, port, &[(1, 1)]),
            &crate::cluster::TopologyAcls::open(),
        )
        .unwrap();
    fx.localize("t-2-2");
    let sup = fx.start();
    let mut wid = String::new();
    wait_for(
        "a launched worker",
        Duration::from_secs(20),
        || match slot(&sup, port).worker_id {
            Some(w) => {
                wid = w;
                true
            }
            None => false,
        },
    );
    write_heartbeat(&paths, &wid, "t-2-2", port);
    wait_for("RUNNING", Duration::from_secs(20), || {
        slot(&sup, port).state == SlotState::Running
    });
    let pid = pid_of(&paths, &wid);
    sup.shutdown();
    assert!(process_alive(pid), "shutdown leaves workers running");

    // An orphan worker dir with a live process that no slot owns.
    let orphan = "orphan-worker";
    fs::create_dir_all(paths.worker_pids_root(orphan)).unwrap();
    let mut child = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    fs::write(paths.worker_pid_path(orphan, child.id()), b"").unwrap();

    write_heartbeat(&paths, &wid, "t-2-2", port);
    let sup = fx.start();
    assert_eq!(sup.id(), id);
    // The orphan is killed at start.
    assert!(!paths.worker_root(orphan).exists());
    let status = child.wait().unwrap();
    assert!(!status.success());
    // The live worker is re-adopted.
    let s = slot(&sup, port);
    assert_eq!(s.state, SlotState::Running);
    assert_eq!(s.worker_id.as_deref(), Some(wid.as_str()));
    assert!(process_alive(pid));

    // Unassigned: the re-adopted worker is killed and cleaned up.
    fx.cluster().storage().delete("/assignments/t-2-2").unwrap();
    sup.sync_now();
    wait_for("an empty slot", Duration::from_secs(30), || {
        slot(&sup, port).state == SlotState::Empty
    });
    wait_for("the worker to die", Duration::from_secs(10), || {
        !process_alive(pid)
    });
    assert!(!paths.worker_root(&wid).exists());
    sup.shutdown();
}

#[test]
fn kill_all_workers_kills_and_clears() {
    let fx = Fixture::new(16730, 30, 30);
    let paths = fx.paths();
    let wid = "w-kill";
    fs::create_dir_all(paths.worker_pids_root(wid)).unwrap();
    let mut child = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    fs::write(paths.worker_pid_path(wid, child.id()), b"").unwrap();
    let state = SupervisorLocalState::open(&paths).unwrap();
    state.approve(wid, 16730);
    assert_eq!(kill_all_workers(&fx.conf).unwrap(), 1);
    assert!(!child.wait().unwrap().success());
    assert!(!paths.worker_root(wid).exists());
    assert!(state.approved().is_empty());
}
