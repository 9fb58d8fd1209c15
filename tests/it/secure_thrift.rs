//! Thrift authentication (issue 18, item 1) on a live `nimbus`: with
//! `storm.thrift.transport = DigestSaslTransportPlugin` and a JAAS file, the `storm` CLI with the
//! right `StormClient` credentials lists topologies; a wrong password, an unknown user and a plain
//! (SimpleTransportPlugin) client are refused with clear errors on both sides; a silent client and
//! garbage bytes do not stop nimbus from serving the next client; a SASL client against a plain
//! nimbus gets a clear error too.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{free_port, scratch_dir, storm, wait_until, Listens, LoneNimbus as Nimbus};

const DIGEST: &str = "org.apache.storm.security.auth.digest.DigestSaslTransportPlugin";

fn jaas(dir: &Path, name: &str, client_user: &str, client_password: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            r#"/* users nimbus accepts */
StormServer {{
    org.apache.storm.security.auth.digest.DigestLoginModule required
    user_alice="alice-secret"   // the admin
    user_bob="bob\"secret";
}};
StormClient {{
    org.apache.storm.security.auth.digest.DigestLoginModule required
    username="{client_user}"
    password="{client_password}";
}};
"#
        ),
    )
    .unwrap();
    path
}

fn sasl_opts(jaas: &Path) -> Vec<String> {
    vec![
        format!("storm.thrift.transport={DIGEST}"),
        format!("java.security.auth.login.config={}", jaas.display()),
    ]
}

#[test]
fn digest_sasl_nimbus_authenticates_the_cli_and_refuses_others() {
    let dir = scratch_dir("secure-thrift-jaas");
    let good = jaas(&dir, "good.conf", "bob", "bob\\\"secret");
    let wrong = jaas(&dir, "wrong.conf", "bob", "not-it");
    let unknown = jaas(&dir, "unknown.conf", "mallory", "x");
    let nimbus = Nimbus::start(
        "sasl",
        &scratch_dir("secure-sasl"),
        &sasl_opts(&good),
        Listens::Plain,
    );

    let (code, out, err) = nimbus.list(&sasl_opts(&good));
    assert_eq!(code, 0, "list with the right JAAS file: {out}\n{err}");
    assert!(out.contains("No topologies running."), "{out}");

    let (code, _, err) = nimbus.list(&sasl_opts(&wrong));
    assert_ne!(code, 0);
    assert!(
        err.contains("authentication failed for user 'bob'")
            && err.contains(&wrong.display().to_string())
            && err.contains("java.security.auth.login.config"),
        "wrong password: {err}"
    );
    let (code, _, err) = nimbus.list(&sasl_opts(&unknown));
    assert_ne!(code, 0);
    assert!(
        err.contains("authentication failed for user 'mallory'"),
        "{err}"
    );
    // A plain client: nimbus drops it; the error says to match the transport.
    let (code, _, err) = nimbus.list(&[]);
    assert_ne!(code, 0);
    assert!(
        err.contains("storm.thrift.transport"),
        "plain client: {err}"
    );

    // A silent client and garbage do not hold nimbus up.
    let _silent = TcpStream::connect(("127.0.0.1", nimbus.port)).unwrap();
    let mut garbage = TcpStream::connect(("127.0.0.1", nimbus.port)).unwrap();
    garbage
        .write_all(&[0x01, 0x7f, 0xff, 0xff, 0xff, 0xde, 0xad])
        .unwrap();
    garbage
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0u8; 64];
    let _ = garbage.read(&mut buf);

    let (code, out, err) = nimbus.list(&sasl_opts(&good));
    assert_eq!(code, 0, "nimbus still serves: {out}\n{err}");

    // The server logged each refusal with the peer.
    wait_until(
        Duration::from_secs(10),
        "nimbus to log the refusals",
        || {
            let log = nimbus.stderr();
            log.contains("authentication failed; connection refused")
                && log.contains("wrong password for user 'bob'")
                && log.contains("unknown user 'mallory'")
                && log.contains("does not speak SASL")
        },
    );
}

#[test]
fn sasl_client_against_a_plain_nimbus_is_told_to_match_the_transport() {
    let dir = scratch_dir("secure-thrift-plain");
    let good = jaas(&dir, "good.conf", "bob", "bob\\\"secret");
    let nimbus = Nimbus::start("plain", &scratch_dir("secure-plain"), &[], Listens::Plain);
    let (code, _, err) = nimbus.list(&sasl_opts(&good));
    assert_ne!(code, 0);
    assert!(
        err.contains("SASL DIGEST-MD5 authentication as 'bob' failed")
            && err.contains("SimpleTransportPlugin"),
        "{err}"
    );
    let (code, out, err) = nimbus.list(&[]);
    assert_eq!(code, 0, "{out}\n{err}");
}

/// Apache Storm 2.8.3's own Java client (`org.apache.storm.command.ListTopologies`, from
/// `tests/java/storm-clients`, built by `scripts/build-java.sh`) configured with
/// `DigestSaslTransportPlugin` and a JAAS file authenticates against our nimbus; with a wrong
/// password it is refused. It also lists and kills a topology submitted over SASL.
#[test]
fn storms_java_client_authenticates_with_digest_sasl() {
    let classpath = java_classpath();
    let dir = scratch_dir("secure-thrift-java");
    let good = jaas(&dir, "good.conf", "bob", "bob\\\"secret");
    let wrong = jaas(&dir, "wrong.conf", "bob", "not-it");
    let nimbus = Nimbus::start(
        "java",
        &scratch_dir("secure-java"),
        &sasl_opts(&good),
        Listens::Plain,
    );
    let run_class = |jaas: &Path, class: &str, args: &[&str]| {
        let yaml = dir.join("storm.yaml");
        std::fs::write(
            &yaml,
            format!(
                "nimbus.seeds: [\"127.0.0.1\"]\nnimbus.thrift.port: {}\n\
                 storm.thrift.transport: \"{DIGEST}\"\n\
                 java.security.auth.login.config: \"{}\"\n\
                 storm.nimbus.retry.times: 0\n",
                nimbus.port,
                jaas.display()
            ),
        )
        .unwrap();
        let out = Command::new("java")
            .arg("-cp")
            .arg(&classpath)
            .arg(format!("-Dstorm.conf.file={}", yaml.display()))
            .arg(format!(
                "-Djava.security.auth.login.config={}",
                jaas.display()
            ))
            .arg(class)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run java");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let run = |jaas: &Path| run_class(jaas, "org.apache.storm.command.ListTopologies", &[]);
    let (code, out, err) = run(&good);
    assert_eq!(code, 0, "Java ListTopologies over SASL:\n{out}\n{err}");
    assert!(out.contains("No topologies running"), "{out}\n{err}");

    // A topology submitted over SASL by our submitter; Storm's Java client lists it and kills it.
    let conf = nimbus.client_conf(&sasl_opts(&good));
    let mut b = storm::api::TopologyBuilder::new();
    b.set_spout(
        "spout",
        storm::local::durable::LedgerSpout::new(dir.join("data"), 10, 1),
        1,
    );
    let topology = b.create_topology().unwrap();
    let jar = crate::cluster_support::empty_jar(&dir);
    storm::submitter::submit_to_cluster(
        &conf,
        "bobs",
        &storm::api::TopologyConf::new(),
        &topology,
        &jar,
    )
    .unwrap_or_else(|e| panic!("bob submits over SASL: {e}\n{}", nimbus.stderr()));
    let (code, out, err) = run(&good);
    assert_eq!(code, 0, "Java ListTopologies over SASL:\n{out}\n{err}");
    assert!(
        out.contains("bobs"),
        "Java lists the topology:\n{out}\n{err}"
    );
    let (code, out, err) = run_class(
        &good,
        "org.apache.storm.command.KillTopology",
        &["-w", "0", "bobs"],
    );
    assert_eq!(code, 0, "Java KillTopology over SASL:\n{out}\n{err}");
    wait_until(Duration::from_secs(30), "the killed topology to go", || {
        let (code, out, _) = nimbus.list(&sasl_opts(&good));
        code == 0 && !out.contains("bobs")
    });
    let (code, out, err) = run(&wrong);
    assert_ne!(code, 0, "a wrong password must fail:\n{out}\n{err}");
    assert!(
        format!("{out}{err}").contains("authentication failed for user 'bob'"),
        "Java sees our server's reason:\n{out}\n{err}"
    );
    wait_until(Duration::from_secs(10), "nimbus to log the refusal", || {
        nimbus.stderr().contains("wrong password for user 'bob'")
    });
}

pub(crate) fn java_classpath() -> String {
    let project = crate::support::repo().join("tests/java/storm-clients/target");
    let deps = std::fs::read_to_string(project.join("classpath.txt")).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run scripts/build-java.sh (it builds tests/java/storm-clients)",
            project.join("classpath.txt").display()
        )
    });
    format!(
        "{}:{}",
        project.join("storm-clients-0.1.0.jar").display(),
        deps.trim()
    )
}

/// A DigestSasl drpc (both ports): our invocations client (as a DRPC spout and `ReturnResults`
/// would) serves a function that Storm's Java `DRPCClient` and our own client execute; a wrong
/// password is refused on both ports.
#[test]
fn digest_sasl_drpc_serves_authenticated_clients() {
    use storm::client::{ClientTransport, ConnectionType};
    use storm::thrift::{
        DistributedRPCInvocationsSyncClient, DistributedRPCSyncClient,
        TDistributedRPCInvocationsSyncClient, TDistributedRPCSyncClient,
    };
    let dir = scratch_dir("secure-thrift-drpc");
    let good = jaas(&dir, "good.conf", "bob", "bob\\\"secret");
    let wrong = jaas(&dir, "wrong.conf", "bob", "not-it");
    let (rpc, inv, http) = (free_port(), free_port(), free_port());
    let mut child = KillOnDrop(crate::drpc::spawn(&dir, rpc, inv, http, &sasl_opts(&good)));
    let mut conf = storm::config::Config::defaults();
    for o in sasl_opts(&good) {
        let (k, v) = o.split_once('=').unwrap();
        conf.set(k, serde_json::Value::String(v.into()));
    }
    let transport = ClientTransport::from_conf(&conf, ConnectionType::DrpcInvocations).unwrap();
    let connect = |port: u16, t: &ClientTransport| {
        storm::client::connect(&format!("127.0.0.1:{port}"), Duration::from_secs(30), t)
    };
    wait_until(Duration::from_secs(20), "drpc to listen", || {
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("drpc exited early ({status})");
        }
        connect(inv, &transport).is_ok()
    });
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (stop2, t2) = (stop.clone(), transport.clone());
    let server = std::thread::spawn(move || {
        let (i, o) = connect(inv, &t2).expect("invocations client authenticates");
        let mut c = DistributedRPCInvocationsSyncClient::new(i, o);
        let mut served = 0;
        while !stop2.load(std::sync::atomic::Ordering::SeqCst) {
            let req = c.fetch_request("exclaim".into()).expect("fetchRequest");
            if req.request_id.is_empty() {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            c.result(req.request_id, format!("{}!", req.func_args))
                .expect("result");
            served += 1;
        }
        served
    });

    // Storm's Java DRPCClient over SASL.
    let yaml = dir.join("storm.yaml");
    std::fs::write(
        &yaml,
        format!(
            "drpc.servers: [\"127.0.0.1\"]\ndrpc.port: {rpc}\n\
             storm.thrift.transport: \"{DIGEST}\"\n\
             java.security.auth.login.config: \"{}\"\n",
            good.display()
        ),
    )
    .unwrap();
    let out = Command::new("java")
        .arg("-cp")
        .arg(java_classpath())
        .arg(format!("-Dstorm.conf.file={}", yaml.display()))
        .arg(format!(
            "-Djava.security.auth.login.config={}",
            good.display()
        ))
        .args([
            "org.stormrs.it.ClientChecks",
            "drpc",
            "exclaim",
            "from-java",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run java");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("from-java!"),
        "Java DRPCClient.execute over SASL:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Our own DRPC client, configured the same way.
    let rpc_transport = ClientTransport::from_conf(&conf, ConnectionType::Drpc).unwrap();
    let (i, o) = connect(rpc, &rpc_transport).expect("drpc client authenticates");
    let mut c = DistributedRPCSyncClient::new(i, o);
    assert_eq!(
        c.execute("exclaim".into(), "from-rust".into()).unwrap(),
        "from-rust!"
    );

    // A wrong password on either port.
    let mut bad_conf = conf.clone();
    bad_conf.set(
        "java.security.auth.login.config",
        serde_json::Value::String(wrong.display().to_string()),
    );
    for (port, ty) in [
        (rpc, ConnectionType::Drpc),
        (inv, ConnectionType::DrpcInvocations),
    ] {
        let t = ClientTransport::from_conf(&bad_conf, ty).unwrap();
        let e = match connect(port, &t) {
            Ok(_) => panic!("a wrong password must be refused on port {port}"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("authentication failed for user 'bob'"), "{e}");
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(server.join().unwrap() >= 2);
    drop(child);
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A JAAS file with the test's `StormServer` users and `user` as the `StormClient`.
fn client_jaas(dir: &Path, user: &str) -> PathBuf {
    let password = match user {
        "alice" => "alice-secret",
        "bob" => "bob\\\"secret",
        other => panic!("no password for {other}"),
    };
    jaas(dir, &format!("{user}.conf"), user, password)
}

/// Authorization over an authenticated transport (issue 18, item 2, live): nimbus with
/// `SimpleACLAuthorizer` and SASL; alice submits a topology (she becomes its owner), bob — a valid
/// user, not an admin, not in `topology.users` — cannot kill, deactivate or read its configuration
/// and gets Storm's `AuthorizationException`; alice can, and nimbus keeps serving throughout.
#[test]
fn simple_acl_authorizer_over_sasl_lets_only_the_owner_kill() {
    use storm::api::{TopologyBuilder, TopologyConf};
    use storm::local::components::SplitSentence;
    use storm::local::durable::LedgerSpout;

    let dir = scratch_dir("secure-thrift-authz");
    let alice = client_jaas(&dir, "alice");
    let bob = client_jaas(&dir, "bob");
    let mut server = sasl_opts(&alice);
    server.extend([
        "nimbus.authorizer=org.apache.storm.security.auth.authorizer.SimpleACLAuthorizer".into(),
        r#"nimbus.admins=["carol"]"#.into(),
    ]);
    let nimbus = Nimbus::start(
        "authz",
        &scratch_dir("secure-authz"),
        &server,
        Listens::Plain,
    );

    // alice submits through the library's submitter, authenticated with her JAAS entry.
    let conf = nimbus.client_conf(&sasl_opts(&alice));
    let mut b = TopologyBuilder::new();
    b.set_spout("spout", LedgerSpout::new(dir.join("data"), 10, 1), 1);
    b.set_basic_bolt("split", SplitSentence::default(), 1)
        .shuffle_grouping("spout");
    let topology = b.create_topology().unwrap();
    let jar = crate::cluster_support::empty_jar(&dir);
    let mut topo_conf = TopologyConf::new();
    topo_conf.set("topology.sink.password", "hunter2");
    storm::submitter::submit_to_cluster(&conf, "alices", &topo_conf, &topology, &jar)
        .unwrap_or_else(|e| panic!("alice submits: {e}\n{}", nimbus.stderr()));

    // Reading the configuration: alice may, and sees her secret masked (Storm redacts); bob may not.
    let client = |jaas: &Path| {
        let mut c = conf.clone();
        c.set(
            "java.security.auth.login.config",
            serde_json::Value::String(jaas.display().to_string()),
        );
        let t =
            storm::client::ClientTransport::from_conf(&c, storm::client::ConnectionType::Nimbus)
                .unwrap();
        storm::client::NimbusClient::connect(
            &format!("127.0.0.1:{}", nimbus.port),
            Duration::from_secs(30),
            &t,
        )
        .expect("connect over SASL")
    };
    let id = {
        use storm::thrift::TNimbusSyncClient;
        let mut c = client(&alice);
        let summary = c
            .raw()
            .get_topology_summary_by_name("alices".into())
            .unwrap();
        let text = c.raw().get_topology_conf(summary.id.clone()).unwrap();
        assert!(
            !text.contains("hunter2"),
            "the password must be masked: {text}"
        );
        assert!(text.contains("topology.sink.password"), "{text}");
        let e = client(&bob)
            .raw()
            .get_topology_conf(summary.id.clone())
            .expect_err("bob may not read alice's configuration");
        assert!(
            format!("{e:?}").contains("getTopologyConf on topology alices is not authorized"),
            "{e:?}"
        );
        summary.id
    };
    assert!(id.starts_with("alices-"), "{id}");

    let cli = |jaas: &Path, args: &[&str]| {
        let seeds = r#"nimbus.seeds=["127.0.0.1"]"#.to_string();
        let port = format!("nimbus.thrift.port={}", nimbus.port);
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        for o in [seeds, port].into_iter().chain(sasl_opts(jaas)) {
            all.push("-c".into());
            all.push(o);
        }
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        storm(&nimbus.dir, &refs)
    };

    // bob is authenticated but not authorized.
    for args in [
        &["kill", "alices", "-w", "0"][..],
        &["deactivate", "alices"][..],
    ] {
        let (code, out, err) = cli(&bob, args);
        assert_ne!(code, 0, "bob {args:?} must be refused:\n{out}\n{err}");
        let op = if args[0] == "kill" {
            "killTopology"
        } else {
            "deactivate"
        };
        assert!(
            err.contains(&format!("{op} on topology alices is not authorized")),
            "bob {args:?}: Storm's AuthorizationException text expected:\n{out}\n{err}"
        );
    }
    let (code, out, err) = cli(&alice, &["list"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("alices"),
        "still there after bob's tries:\n{out}"
    );
    wait_until(Duration::from_secs(10), "nimbus to log the refusal", || {
        nimbus
            .stderr()
            .contains("access denied by nimbus.authorizer")
    });

    // alice owns it and may kill it.
    let (code, out, err) = cli(&alice, &["kill", "alices", "-w", "0"]);
    assert_eq!(code, 0, "alice kills her own topology:\n{out}\n{err}");
    wait_until(Duration::from_secs(30), "the topology to go", || {
        let (code, out, _) = cli(&alice, &["list"]);
        code == 0 && !out.contains("alices")
    });
}

/// Everything on at once, as `scripts/cluster.sh up N --secure` runs it: SASL on every Thrift service
/// (nimbus, and the supervisors' heartbeat service), `SimpleACLAuthorizer` with the daemons as
/// `storm` (admin and supervisor user), ZooKeeper digest ACLs and authenticated worker links. alice's
/// word count over two supervisors counts exactly (supervisors download its files, workers read
/// their assignment and heartbeat to their supervisor over SASL), and a plain client cannot send a
/// heartbeat to a supervisor.
#[test]
fn a_fully_secured_cluster_runs_alices_word_count_exactly() {
    use storm::api::TopologyConf;
    use storm::local::durable::{expected_counts, read_counts};
    use storm::thrift::{SupervisorSyncClient, SupervisorWorkerHeartbeat, TSupervisorSyncClient};

    let dir = scratch_dir("secure-thrift-cluster");
    let server_users = r#"    user_storm="daemon-secret"
    user_alice="alice-secret""#;
    let write_jaas = |name: &str, user: &str, password: &str| {
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!(
                "StormServer {{\n    org.apache.storm.security.auth.digest.DigestLoginModule required\n{server_users};\n}};\n\
                 StormClient {{\n    org.apache.storm.security.auth.digest.DigestLoginModule required\n    username=\"{user}\"\n    password=\"{password}\";\n}};\n"
            ),
        )
        .unwrap();
        path
    };
    let daemons = write_jaas("daemons.jaas", "storm", "daemon-secret");
    let alice = write_jaas("alice.jaas", "alice", "alice-secret");
    let transport = format!("{DIGEST:?}");
    let daemons_jaas = format!("{:?}", daemons.display().to_string());
    let mut c = crate::cluster_support::TestCluster::start(
        "securecluster",
        &[
            ("storm.thrift.transport", &transport),
            ("java.security.auth.login.config", &daemons_jaas),
            (
                "nimbus.authorizer",
                r#""org.apache.storm.security.auth.authorizer.SimpleACLAuthorizer""#,
            ),
            ("nimbus.admins", r#"["storm"]"#),
            ("nimbus.supervisor.users", r#"["storm"]"#),
            ("storm.zookeeper.auth.payload", r#""storm:zk-daemons""#),
            ("storm.messaging.netty.authentication", "true"),
        ],
    );
    c.add_supervisor(2);
    c.add_supervisor(2);
    c.wait_supervisors(2);

    let data = c.dir.join("data");
    let limit = 100;
    let b = crate::cluster_support::ledger_word_count(&data, limit, 0);
    let topology = b.create_topology().unwrap();
    let mut conf = TopologyConf::new();
    conf.set_num_workers(2).set_max_spout_pending(200);
    let mut alices = c.conf();
    alices.set(
        "java.security.auth.login.config",
        serde_json::Value::String(alice.display().to_string()),
    );
    let jar = crate::cluster_support::empty_jar(&c.dir);
    storm::submitter::submit_to_cluster(&alices, "alicewc", &conf, &topology, &jar)
        .unwrap_or_else(|e| panic!("alice submits: {e}\n{}", c.logs()));

    let expected = expected_counts(limit, 2);
    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(
            Duration::from_secs(90),
            "the word counts to be complete",
            || read_counts(&data) == expected,
        )
    }));
    assert!(ok.is_ok(), "counts {:?}\n{}", read_counts(&data), c.logs());
    wait_until(
        Duration::from_secs(30),
        "workers to heartbeat to their supervisor",
        || crate::secure_zk::worker_logs(&c.dir).contains("worker heartbeats go to the supervisor"),
    );

    // A plain client is refused by the supervisor's service; the supervisor keeps serving.
    let port = c.supervisors[0]
        .option("supervisor.thrift.port")
        .expect("the test cluster sets supervisor.thrift.port")
        .to_string();
    let beat = SupervisorWorkerHeartbeat {
        storm_id: "alicewc-forged".into(),
        executors: vec![],
        time_secs: 0,
    };
    let forged = storm::client::connect(
        &format!("127.0.0.1:{port}"),
        Duration::from_secs(20),
        &storm::client::ClientTransport::Simple,
    )
    .map_err(|e| e.to_string())
    .and_then(|(i, o)| {
        SupervisorSyncClient::new(i, o)
            .send_supervisor_worker_heartbeat(beat)
            .map_err(|e| e.to_string())
    });
    assert!(
        forged.is_err(),
        "a plain client must not reach the supervisor's heartbeat service"
    );
    assert!(c.supervisors[0].is_running());
    assert_eq!(read_counts(&data), expected, "nothing changed the counts");
}
