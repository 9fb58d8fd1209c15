//! A secure cluster (issue 18, ZooKeeper ACLs): daemons authenticate with
//! `storm.zookeeper.auth.payload` (digest), nimbus gives the topology its own digest secret, workers
//! authenticate as the topology, and ZooKeeper's own `zkCli.sh` without credentials can neither
//! change nor read Storm's nodes, while with the daemons' credentials it can.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use storm::api::TopologyConf;
use storm::cluster::acl::{digest_id, perms, AclEntry};
use storm::cluster::{StateStorage, StorageError, ZkSettings, ZkStorage};
use storm::local::durable::{expected_counts, read_counts};

use crate::cluster_support::TestCluster;
use crate::support::{wait_until, zk_connect};

const LONG: Duration = Duration::from_secs(90);
const DAEMON_PAYLOAD: &str = "storm:s3cret-daemons";
const ZK_CLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";

use crate::cluster_support::empty_jar;

/// Runs zkCli.sh with `commands` on its standard input (after an optional `addauth`), returning
/// everything it printed.
fn zk_cli(commands: &[String], auth: Option<&str>) -> String {
    let mut script = String::new();
    if let Some(a) = auth {
        script.push_str(&format!("addauth digest {a}\n"));
    }
    for c in commands {
        script.push_str(c);
        script.push('\n');
    }
    script.push_str("quit\n");
    let mut child = Command::new(ZK_CLI)
        .args(["-server", &zk_connect()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("zkCli.sh (Debian's zookeeper package; scripts/zookeeper.sh installs it)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn refused(out: &str) -> bool {
    out.contains("Insufficient permission") || out.contains("NoAuth")
}

#[test]
fn secure_zookeeper_acls_keep_plain_clients_out_and_the_topology_runs() {
    let payload = format!("{DAEMON_PAYLOAD:?}");
    let mut c = TestCluster::start("securezk", &[("storm.zookeeper.auth.payload", &payload)]);
    c.add_supervisor(2);
    c.wait_supervisors(1);

    let data = c.dir.join("data");
    let limit = 100;
    let b = crate::cluster_support::ledger_word_count(&data, limit, 0);
    let topology = b.create_topology().unwrap();
    let mut conf = TopologyConf::new();
    conf.set_num_workers(2).set_max_spout_pending(200);
    storm::submitter::submit_to_cluster(
        &c.conf(),
        "securewc",
        &conf,
        &topology,
        &empty_jar(&c.dir),
    )
    .unwrap_or_else(|e| panic!("submit: {e}\n{}", c.logs()));
    let id = c.topology_id("securewc").expect("securewc is in /storms");

    // The workers (authenticated as the topology) read their assignment, write heartbeats and run.
    let expected = expected_counts(limit, 2);
    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(LONG, "the word counts to be complete", || {
            read_counts(&data) == expected
        })
    }));
    assert!(ok.is_ok(), "counts {:?}\n{}", read_counts(&data), c.logs());
    wait_until(LONG, "both workers' heartbeats in ZooKeeper", || {
        c.state().worker_heartbeats(&id).unwrap().len() == 2
    });

    let root = c.root.clone();
    let assignment = format!("{root}/assignments/{id}");
    let storm = format!("{root}/storms/{id}");

    // Storm's ACLs, as ZooKeeper reports them.
    let settings = ZkSettings::from_config(&c.conf()).unwrap();
    let daemon = ZkStorage::connect(settings.clone()).unwrap();
    let acl = daemon
        .get_acl(&format!("/assignments/{id}"))
        .unwrap()
        .unwrap();
    let daemon_id = digest_id(DAEMON_PAYLOAD);
    assert!(
        acl.0
            .contains(&AclEntry::new(perms::ALL, "digest", daemon_id.clone())),
        "{acl:?}"
    );
    let topo_read = acl
        .0
        .iter()
        .find(|e| e.perms == perms::READ && e.scheme == "digest")
        .unwrap_or_else(|| panic!("the topology's READ entry: {acl:?}"));
    assert_ne!(topo_read.id, daemon_id);
    let beats = daemon
        .get_acl(&format!("/workerbeats/{id}"))
        .unwrap()
        .unwrap();
    assert!(
        beats
            .0
            .iter()
            .any(|e| e.perms == perms::ALL && e.id == topo_read.id),
        "workerbeats dir is read-write for the topology: {beats:?}"
    );
    let sups = daemon.get_acl("/supervisors").unwrap().unwrap();
    assert_eq!(
        sups.0,
        vec![AclEntry::new(perms::ALL, "digest", daemon_id.clone())]
    );

    // zkCli.sh without credentials: no set, create, delete (or read) under /assignments and /storms.
    let out = zk_cli(&[format!("getAcl {assignment}")], Some(DAEMON_PAYLOAD));
    assert!(
        out.contains(&daemon_id),
        "getAcl names the daemons' digest: {out}"
    );
    for cmd in [
        format!("set {assignment} garbage"),
        format!("create {root}/assignments/intruder x"),
        format!("delete {storm}"),
        format!("set {storm} garbage"),
        format!("create {root}/storms/intruder x"),
        format!("get {assignment}"),
        format!("getAcl {assignment}"),
    ] {
        let out = zk_cli(std::slice::from_ref(&cmd), None);
        assert!(
            refused(&out),
            "`{cmd}` without credentials must fail with NoAuth: {out}"
        );
    }
    // With the daemons' credentials it can.
    let out = zk_cli(
        &[
            format!("create {root}/assignments/probe x"),
            format!("delete {root}/assignments/probe"),
            format!("create {root}/storms/probe x"),
            format!("delete {root}/storms/probe"),
        ],
        Some(DAEMON_PAYLOAD),
    );
    assert!(!refused(&out), "with the daemons' credentials: {out}");
    assert!(
        out.contains(&format!("Created {root}/assignments/probe")),
        "{out}"
    );

    // A storm-rs client without credentials gets a typed NoAuth error.
    let anonymous = ZkStorage::connect(
        settings
            .with_auth(None)
            .with_default_acls(Default::default()),
    )
    .unwrap();
    let anonymous: Arc<dyn StateStorage> = Arc::new(anonymous);
    match anonymous.set_data(&format!("/assignments/{id}"), b"garbage") {
        Err(StorageError::NoAuth { .. }) => {}
        other => panic!("expected NoAuth, got {other:?}"),
    }

    // The topology's counts were not disturbed.
    assert_eq!(read_counts(&data), expected);
}

/// Every `worker.log` under `dir`, concatenated.
pub(crate) fn worker_logs(dir: &Path) -> String {
    let mut out = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "worker.log") {
                out.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    out
}

#[test]
fn authenticated_worker_links_refuse_a_raw_tcp_injector() {
    use std::io::{Read, Write};

    let mut c = TestCluster::start(
        "securelink",
        &[("storm.messaging.netty.authentication", "true")],
    );
    let wc = c.run_two_worker_word_count("linkwc");

    // A raw TCP client sends a well-formed frame of tuples to every task, at each worker port.
    let frame = crate::cluster_support::intruder_frame();
    let mut injector_addrs = Vec::new();
    for port in &wc.ports {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", *port)).unwrap();
        injector_addrs.push(s.local_addr().unwrap().to_string());
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(&frame).unwrap();
        let mut buf = [0u8; 16];
        match s.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("the worker on {port} did not refuse the injector: {other:?}"),
        }
    }

    // The topology's own cross-worker traffic flows (fields grouping over two workers) and the
    // counts are exactly the spouts' words: nothing injected was counted.
    wc.assert_exact_counts(&c);
    let logs = worker_logs(&c.dir);
    assert!(logs.contains("worker link authenticated"), "{logs}");
    for addr in &injector_addrs {
        assert!(
            logs.lines().any(
                |l| l.contains("refused an unauthenticated worker connection")
                    && l.contains(addr.as_str())
            ),
            "the refusal names the peer {addr}"
        );
    }
}

#[test]
fn zk_auth_is_reapplied_after_session_expiry() {
    use crate::support::{unique_root, ZkProxy};
    use storm::cluster::NodeAcls;

    let root = unique_root("authexpiry");
    let proxy = ZkProxy::start(&zk_connect());
    let auth = storm::cluster::ZkAuth {
        scheme: "digest".into(),
        payload: DAEMON_PAYLOAD.into(),
    };
    let secure = |servers: String, session_ms: u64| {
        let mut s = ZkSettings::new(servers, root.clone())
            .with_auth(Some(auth.clone()))
            .with_default_acls(NodeAcls::creator_all());
        s.session_timeout = Duration::from_millis(session_ms);
        s.connection_timeout = Duration::from_millis(5_000);
        s.retry_times = 20;
        s.retry_interval = Duration::from_millis(250);
        s
    };
    let storage = ZkStorage::connect(secure(proxy.connect_string(), 2_000)).unwrap();
    let observer = ZkStorage::connect(secure(zk_connect(), 10_000)).unwrap();
    storage.set_data("/assignments/a", b"v1").unwrap();
    storage.set_ephemeral("/supervisors/s1", b"alive").unwrap();

    // A partition longer than the session timeout expires the session (its ephemeral vanishes).
    proxy.cut();
    wait_until(Duration::from_secs(30), "the old session to expire", || {
        !observer.exists("/supervisors/s1", false).unwrap()
    });
    proxy.restore();
    wait_until(Duration::from_secs(30), "a new session", || {
        storage.session_generation() == 1
    });
    // The new session is authenticated again: it may change the daemons' CREATOR_ALL nodes and
    // create new ones (CREATOR_ALL needs an authenticated session), and re-created its ephemeral.
    storage.set_data("/assignments/a", b"v2").unwrap();
    storage.set_data("/assignments/b", b"new").unwrap();
    assert_eq!(
        observer.get_data("/assignments/a", false).unwrap(),
        Some(b"v2".to_vec())
    );
    assert!(observer.exists("/supervisors/s1", false).unwrap());
    let acl = observer.get_acl("/assignments/b").unwrap().unwrap();
    assert_eq!(
        acl.0,
        vec![AclEntry::new(
            perms::ALL,
            "digest",
            digest_id(DAEMON_PAYLOAD)
        )]
    );
    storage.delete("/assignments").unwrap();
}
