//! TLS beyond nimbus (issue 18 remainder): the supervisor's Thrift service with Storm's
//! `supervisor.thrift.transport = TlsTransportPlugin` + `supervisor.thrift.tls.*` keys, and DRPC's
//! two Thrift ports with the storm-rs keys `drpc.thrift.tls.*`, on a live cluster (real ZooKeeper,
//! `nimbus`, `supervisor`, `worker`, `drpc` binaries). Certificates are made at test time by
//! [`Certs`]. Workers heartbeat to a TLS-only supervisor; `storm drpc-client`, `DRPCSpout` and
//! `ReturnResults` speak mutual TLS to DRPC; plain clients and wrong or absent client certificates
//! are refused with errors naming the keys, and the daemons keep serving.

use std::process::Command;
use std::time::{Duration, Instant};

use storm::api::{TopologyBuilder, TopologyConf};
use storm::client::ClientTransport;
use storm::config::Config;
use storm::drpc::topology::{DRPCSpout, ExclaimBolt, ReturnResults};
use storm::local::perf::ConstSpout;
use storm::thrift::{
    DistributedRPCInvocationsSyncClient, SupervisorSyncClient, SupervisorWorkerHeartbeat,
    TDistributedRPCInvocationsSyncClient, TNimbusSyncClient, TSupervisorSyncClient,
};

use crate::cluster_support::empty_jar;
use crate::cluster_support::TestCluster;
use crate::secure_zk::worker_logs;
use crate::support::{free_port, storm_bin, wait_until, Certs};

/// The cluster entries (TOML values) of `keys`.
fn entries(keys: &[(String, String)]) -> Vec<(&str, &str)> {
    keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// `conf` with `changes` applied (`None` removes the key).
fn with(conf: &Config, changes: &[(&str, Option<serde_json::Value>)]) -> Config {
    let mut c = conf.clone();
    for (k, v) in changes {
        match v {
            Some(v) => c.set(*k, v.clone()),
            None => {
                c.remove(k);
            }
        }
    }
    c
}

/// Sends a heartbeat of an unknown topology to the supervisor service at `addr`: `Ok` when the
/// service answered (its refusal of the unknown topology included), `Err` on transport failures.
fn heartbeat_via(addr: &str, transport: &ClientTransport) -> Result<(), String> {
    let (i, o) = storm::client::connect(addr, Duration::from_secs(10), transport)
        .map_err(|e| e.to_string())?;
    match SupervisorSyncClient::new(i, o).send_supervisor_worker_heartbeat(
        SupervisorWorkerHeartbeat {
            storm_id: "no-such-topology".into(),
            executors: vec![],
            time_secs: 1,
        },
    ) {
        Ok(()) | Err(thrift::Error::User(_) | thrift::Error::Application(_)) => Ok(()),
        Err(e) => Err(storm::client::thrift_error_text(&e)),
    }
}

#[test]
fn tls_only_supervisor_receives_worker_heartbeats() {
    let scratch = crate::support::scratch_dir("tls-supervisor-certs");
    let certs = Certs::make(&scratch);
    let keys = certs.service_keys("supervisor");
    let mut extra = entries(&keys);
    // Liveness must come from the RPC heartbeats: /workerbeats only at worker start.
    extra.extend([
        ("executor.metrics.frequency.secs", "600"),
        ("supervisor.worker.timeout.secs", "120"),
    ]);
    let mut c = TestCluster::start("tls-supervisor", &extra);
    c.add_supervisor(1);
    c.wait_supervisors(1);
    let sup_port = c.supervisors[0]
        .option("supervisor.thrift.port")
        .unwrap()
        .to_string();
    let sup_addr = format!("127.0.0.1:{sup_port}");
    let conf = c.conf();

    // Clients of the service: mutual TLS works; plain, certificate-less and wrongly certified
    // clients are refused with errors naming the keys.
    let t = ClientTransport::from_conf(&conf, storm::client::ConnectionType::Supervisor).unwrap();
    assert!(matches!(t, ClientTransport::Tls(_)), "TLS client transport");
    let mut last = Ok(());
    let ok = crate::support::wait_until_ok(Duration::from_secs(30), || {
        last = heartbeat_via(&sup_addr, &t);
        last.is_ok()
    });
    assert!(ok, "mutual TLS to the supervisor: {last:?}\n{}", c.logs());
    let e = heartbeat_via(&sup_addr, &ClientTransport::Simple).unwrap_err();
    assert!(
        e.contains("TLS") && e.contains("supervisor.thrift.client.use.tls"),
        "plain client: {e}"
    );
    let no_cert = with(
        &conf,
        &[
            (
                "supervisor.thrift.tls.client.auth.required",
                Some(false.into()),
            ),
            ("supervisor.thrift.tls.client.cert.path", None),
            ("supervisor.thrift.tls.client.key.path", None),
        ],
    );
    let t =
        ClientTransport::from_conf(&no_cert, storm::client::ConnectionType::Supervisor).unwrap();
    let e = heartbeat_via(&sup_addr, &t).unwrap_err();
    assert!(
        e.contains("refused this client")
            && e.contains("supervisor.thrift.tls.server.truststore.path"),
        "no client certificate: {e}"
    );
    let wrong = with(
        &conf,
        &[
            (
                "supervisor.thrift.tls.client.cert.path",
                Some(certs.other_ca.display().to_string().into()),
            ),
            (
                "supervisor.thrift.tls.client.key.path",
                Some(certs.dir.join("other-ca.key").display().to_string().into()),
            ),
        ],
    );
    let t = ClientTransport::from_conf(&wrong, storm::client::ConnectionType::Supervisor).unwrap();
    let e = heartbeat_via(&sup_addr, &t).unwrap_err();
    assert!(e.contains("refused"), "untrusted client certificate: {e}");
    let supervisor_log = c.supervisors[0].stderr();
    assert!(
        supervisor_log.contains("TLS connection refused"),
        "the supervisor logs refused connections:\n{supervisor_log}"
    );

    // A topology whose worker heartbeats over TLS to this supervisor, which forwards to nimbus.
    let mut b = TopologyBuilder::new();
    b.set_spout("spout", ConstSpout::new("x", false).with_rate(10), 1);
    let mut tconf = TopologyConf::new();
    tconf.set_num_workers(1);
    tconf.set_num_ackers(0);
    storm::submitter::submit_to_cluster(
        &conf,
        "tls-hb",
        &tconf,
        &b.create_topology().unwrap(),
        &empty_jar(&c.dir),
    )
    .unwrap_or_else(|e| panic!("submit: {e}\n{}", c.logs()));
    let id = c.topology_id("tls-hb").expect("topology id");
    wait_until(
        Duration::from_secs(90),
        "the worker heartbeats to its supervisor",
        || worker_logs(&c.dir).contains("worker heartbeats go to the supervisor"),
    );
    let assignment = c.assignment(&id).expect("assigned");
    // Past the launch grace (10 s) and several task timeouts (6 s) the assignment is unchanged: nimbus
    // sees the executors alive through the supervisor.
    let end = Instant::now() + Duration::from_secs(20);
    wait_until(Duration::from_secs(60), "20 s of steady assignment", || {
        assert_eq!(
            c.assignment(&id).as_ref(),
            Some(&assignment),
            "{}",
            c.logs()
        );
        Instant::now() >= end
    });
    let info = c
        .nimbus_client()
        .raw()
        .get_topology_info(id.clone())
        .unwrap();
    let spout = info
        .executors
        .iter()
        .find(|e| e.component_id == "spout")
        .expect("spout executor");
    assert!(spout.uptime_secs >= 15, "uptime {}", spout.uptime_secs);
    let logs = worker_logs(&c.dir);
    assert!(
        !logs.contains("worker heartbeats go to the nimbus"),
        "the worker fell back to nimbus:\n{logs}"
    );
    assert!(
        c.supervisors[0].is_running(),
        "the supervisor keeps running"
    );
}

/// `storm drpc-client` with the cluster config and `-c` overrides `opts`: (success, stdout, stderr).
fn drpc_client(c: &TestCluster, opts: &[String], args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(storm_bin());
    cmd.arg("--config").arg(&c.config);
    for o in opts {
        cmd.arg("-c").arg(o);
    }
    let out = cmd
        .arg("drpc-client")
        .arg("-f")
        .args(args)
        .output()
        .expect("run storm");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn drpc_over_mutual_tls_on_both_thrift_ports() {
    let scratch = crate::support::scratch_dir("tls-drpc-certs");
    let certs = Certs::make(&scratch);
    let keys = certs.service_keys("drpc");
    let (rpc, inv, http) = (free_port(), free_port(), free_port());
    let (rpc_s, inv_s, http_s) = (rpc.to_string(), inv.to_string(), http.to_string());
    let mut extra = entries(&keys);
    extra.extend([
        ("drpc.servers", r#"["127.0.0.1"]"#),
        ("drpc.port", rpc_s.as_str()),
        ("drpc.invocations.port", inv_s.as_str()),
        ("drpc.http.port", http_s.as_str()),
        ("drpc.request.timeout.secs", "60"),
    ]);
    let mut c = TestCluster::start("tls-drpc", &extra);
    c.add_drpc();
    c.add_supervisor(1);
    c.wait_supervisors(1);
    let mut b = TopologyBuilder::new();
    b.set_spout("drpc", DRPCSpout::new("exclamation"), 1);
    b.set_basic_bolt("exclaim", ExclaimBolt::failing_on("bad"), 1)
        .shuffle_grouping("drpc");
    b.set_bolt("return", ReturnResults::new(), 1)
        .shuffle_grouping("exclaim");
    let mut tconf = TopologyConf::new();
    tconf.set_num_workers(1);
    storm::submitter::submit_to_cluster(
        &c.conf(),
        "tls-exclamation",
        &tconf,
        &b.create_topology().unwrap(),
        &empty_jar(&c.dir),
    )
    .unwrap_or_else(|e| panic!("submit: {e}\n{}", c.logs()));

    // drpc.port over TLS from the CLI; the topology's DRPCSpout and ReturnResults use
    // drpc.invocations.port over TLS (the request is answered only if both work).
    let mut last = (false, String::new(), String::new());
    wait_until(Duration::from_secs(120), "a DRPC answer over TLS", || {
        last = drpc_client(&c, &[], &["exclamation", "hello"]);
        last.0
    });
    assert_eq!(last.1, "exclamation \"hello\" => \"hello!\"\n", "{last:?}");

    // A plain client on drpc.port: a clear error, not a hang or a garbage frame.
    let plain = [
        "drpc.thrift.client.use.tls=false".to_string(),
        "drpc.thrift.transport=org.apache.storm.security.auth.SimpleTransportPlugin".to_string(),
    ];
    let (ok, _, err) = drpc_client(&c, &plain, &["exclamation", "plain"]);
    assert!(!ok, "a plain client must fail");
    assert!(
        err.contains("answered with TLS") && err.contains("drpc.thrift.client.use.tls"),
        "plain client error: {err}"
    );
    // A plain client on drpc.invocations.port likewise.
    let (i, o) = storm::client::connect(
        &format!("127.0.0.1:{inv}"),
        Duration::from_secs(10),
        &ClientTransport::Simple,
    )
    .unwrap();
    let e = DistributedRPCInvocationsSyncClient::new(i, o)
        .fetch_request("exclamation".into())
        .unwrap_err();
    let e = storm::client::thrift_error_text(&e);
    assert!(
        e.contains("answered with TLS"),
        "plain invocations client: {e}"
    );

    // An untrusted client certificate, and none at all, are refused by the server.
    let wrong = [
        format!(
            "drpc.thrift.tls.client.cert.path={}",
            certs.other_ca.display()
        ),
        format!(
            "drpc.thrift.tls.client.key.path={}",
            certs.dir.join("other-ca.key").display()
        ),
    ];
    let (ok, _, err) = drpc_client(&c, &wrong, &["exclamation", "wrong"]);
    assert!(!ok, "an untrusted client certificate must fail");
    assert!(
        err.contains("refused") && err.contains("drpc.thrift.tls.server.truststore.path"),
        "untrusted certificate error: {err}"
    );
    let none = [
        "drpc.thrift.tls.client.auth.required=false".to_string(),
        "drpc.thrift.tls.client.cert.path=".to_string(),
        "drpc.thrift.tls.client.key.path=".to_string(),
    ];
    let (ok, _, err) = drpc_client(&c, &none, &["exclamation", "none"]);
    assert!(!ok, "a client without a certificate must fail");
    assert!(
        err.contains("no client certificate"),
        "no certificate error: {err}"
    );
    // Without a client certificate and with client auth required, the client refuses to start.
    let (ok, _, err) = drpc_client(&c, &none[1..], &["exclamation", "none"]);
    assert!(!ok);
    assert!(
        err.contains("drpc.thrift.tls.client.auth.required"),
        "missing client certificate config: {err}"
    );

    // The daemon kept serving.
    let (ok, out, err) = drpc_client(&c, &[], &["exclamation", "again"]);
    assert!(ok, "after the refusals: {err}\n{}", c.logs());
    assert_eq!(out, "exclamation \"again\" => \"again!\"\n");
    let drpc_log = c.others[0].stderr();
    assert!(
        drpc_log.contains("not a TLS client") && drpc_log.contains("TLS connection refused"),
        "the drpc daemon logs refused connections:\n{drpc_log}"
    );
}

/// The supervisor's fallback to the nimbus named in ZooKeeper's `/leader-lock` reaches a TLS-only
/// nimbus (`nimbus.thrift.tls.server.only`) on `nimbus.thrift.tls.port` when
/// `nimbus.thrift.client.use.tls` is set: with `nimbus.seeds` naming nobody, the supervisor still
/// downloads the topology from the leader and runs its worker.
#[test]
fn supervisor_downloads_from_a_tls_only_leader_found_in_zookeeper() {
    let scratch = crate::support::scratch_dir("tls-leader-lock-certs");
    let certs = Certs::make(&scratch);
    let tls_port = free_port();
    let mut keys = certs.tls_only_nimbus_entries(tls_port);
    // Nobody answers here: the supervisor must find the leader in /leader-lock.
    keys.push(("nimbus.seeds".into(), r#"["127.0.0.1:1"]"#.into()));
    let mut c = TestCluster::start("tls-leader-lock", &entries(&keys));
    c.add_supervisor(1);
    c.wait_supervisors(1);
    let mut client_conf = c.conf();
    client_conf.set("nimbus.seeds", serde_json::json!(["127.0.0.1"]));
    let mut b = TopologyBuilder::new();
    b.set_spout("spout", ConstSpout::new("x", false).with_rate(10), 1);
    let mut tconf = TopologyConf::new();
    tconf.set_num_workers(1);
    tconf.set_num_ackers(0);
    storm::submitter::submit_to_cluster(
        &client_conf,
        "tls-leader-lock",
        &tconf,
        &b.create_topology().unwrap(),
        &empty_jar(&c.dir),
    )
    .unwrap_or_else(|e| panic!("submit over TLS: {e}\n{}", c.logs()));
    let ok = crate::support::wait_until_ok(Duration::from_secs(90), || {
        c.supervisors[0].worker_pids().len() == 1
    });
    assert!(
        ok,
        "the supervisor did not download the topology from the TLS-only leader\n{}",
        c.logs()
    );
    // The plain port is not served at all.
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", c.nimbus_port)).is_err(),
        "nimbus serves TLS only"
    );
}
