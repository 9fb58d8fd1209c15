//! Nimbus HA for code (issue 19): two nimbuses on one ZooKeeper. Blobs created on the leader (a
//! user's blob and every topology's code) are copied to the standby and registered under
//! `/blobstore/<key>/<host:port>-<sequence>`; submission waits for `topology.min.replication.count`
//! copies. Then the leader is `kill -9`ed and its local directory deleted: the standby takes over,
//! `storm list` answers, and a supervisor on a fresh host downloads the topology from the new
//! leader and runs it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use storm::api::{TopologyBuilder, TopologyConf};
use storm::local::components::{ExclamationBolt, TestWordSpout};
use storm::thrift::TNimbusSyncClient;

use crate::cluster_support::TestCluster;
use crate::support::wait_until;

const LONG: Duration = Duration::from_secs(90);

use crate::cluster_support::empty_jar;

/// Blob `key`'s content file in a nimbus's local dir (Storm's LocalFsBlobStore layout).
fn blob_data(local: &Path, key: &str) -> PathBuf {
    let name = format!("data_{key}");
    let bucket = i64::from(storm::tuple::string_hash_code(&name)).abs() % 1024;
    local
        .join("blobs")
        .join(bucket.to_string())
        .join(name)
        .join("data")
}

fn storm_cli(c: &TestCluster, args: &[&str]) -> (i32, String, String) {
    crate::java_support::storm_cli(c, args)
}

/// `/blobstore/<key>` children, sorted.
fn holders(c: &mut TestCluster, key: &str) -> Vec<String> {
    let mut h = c.state().blobstore_info(key).unwrap_or_default();
    h.sort();
    h
}

/// Executors of `id` that report emitted tuples, as the leader sees them.
fn emitting(c: &TestCluster, id: &str) -> usize {
    let Ok(info) = c.nimbus_client().raw().get_topology_info(id.to_string()) else {
        return 0;
    };
    info.executors
        .iter()
        .filter(|e| e.component_id == "words")
        .filter_map(|e| e.stats.as_ref())
        .filter(|s| {
            s.emitted
                .get(":all-time")
                .and_then(|m| m.get("default"))
                .is_some_and(|n| *n > 0)
        })
        .count()
}

#[test]
fn the_standby_copies_every_blob_and_serves_the_topology_after_the_leader_is_lost() {
    let mut c = TestCluster::start_nimbuses(
        "nimbus-ha-code",
        &[
            ("nimbus.code.sync.freq.secs", "2"),
            ("topology.min.replication.count", "2"),
            ("topology.max.replication.wait.time.sec", "60"),
        ],
        2,
    );
    let leader_id = format!("127.0.0.1:{}", c.nimbus_port);
    let standby_dir = c.nimbuses[1].local_dir();

    // A user blob made on the leader reaches the standby; an update reaches it too.
    let file = c.dir.join("blob.txt");
    std::fs::write(&file, b"version one").unwrap();
    let (code, out, err) = storm_cli(
        &c,
        &[
            "blobstore",
            "create",
            "-f",
            file.to_str().unwrap(),
            "shared",
        ],
    );
    assert_eq!(code, 0, "{out}{err}\n{}", c.logs());
    wait_until(LONG, "the standby to copy the blob", || {
        std::fs::read(blob_data(&standby_dir, "shared")).is_ok_and(|b| b == b"version one")
    });
    wait_until(LONG, "both nimbuses to hold sequence 1", || {
        holders(&mut c, "shared").len() == 2
            && holders(&mut c, "shared").iter().all(|h| h.ends_with("-1"))
    });
    std::fs::write(&file, b"version two").unwrap();
    let (code, _, err) = storm_cli(
        &c,
        &[
            "blobstore",
            "update",
            "-f",
            file.to_str().unwrap(),
            "shared",
        ],
    );
    assert_eq!(code, 0, "{err}");
    wait_until(LONG, "the standby to copy the update", || {
        std::fs::read(blob_data(&standby_dir, "shared")).is_ok_and(|b| b == b"version two")
    });
    let (code, out, _) = storm_cli(&c, &["blobstore", "replication", "--read", "shared"]);
    assert_eq!(code, 0);
    wait_until(LONG, "replication 2 at sequence 2", || {
        holders(&mut c, "shared")
            .iter()
            .filter(|h| h.ends_with("-2"))
            .count()
            == 2
    });
    assert!(out.contains("Current replication factor"), "{out}");

    // A topology submitted with topology.min.replication.count = 2: submit returns only once the
    // standby holds its code. No supervisor yet, so it is not running anywhere.
    let mut b = TopologyBuilder::new();
    b.set_spout("words", TestWordSpout::new(100), 1);
    b.set_bolt("shout", ExclamationBolt, 1)
        .shuffle_grouping("words");
    let mut conf = TopologyConf::new();
    conf.set_num_workers(1);
    storm::submitter::submit_to_cluster(
        &c.conf(),
        "hacode",
        &conf,
        &b.create_topology().unwrap(),
        &empty_jar(&c.dir),
    )
    .unwrap_or_else(|e| panic!("submit: {e}\n{}", c.logs()));
    let id = c.topology_id("hacode").expect("submitted");
    for suffix in ["-stormjar.jar", "-stormcode.ser", "-stormconf.ser"] {
        let key = format!("{id}{suffix}");
        assert!(
            blob_data(&standby_dir, &key).is_file(),
            "the standby holds {key} when submit returns"
        );
        assert_eq!(holders(&mut c, &key).len(), 2, "{key}");
    }
    let summary = c
        .nimbus_client()
        .raw()
        .get_topology_summary(id.clone())
        .unwrap();
    assert_eq!(summary.replication_count, Some(2));

    // The leader dies with its disk.
    c.nimbuses[0].kill9();
    std::fs::remove_dir_all(c.nimbuses[0].local_dir()).unwrap();
    wait_until(LONG, "the standby to lead", || {
        storm::client::NimbusClient::connect(
            &format!("127.0.0.1:{}", c.nimbus_ports[1]),
            Duration::from_secs(5),
            &storm::client::ClientTransport::Simple,
        )
        .and_then(|mut n| n.leader())
        .is_ok_and(|l| format!("{}:{}", l.host, l.port) != leader_id)
    });
    // `storm list` finds the new leader through nimbus.seeds.
    let (code, list, err) = storm_cli(&c, &["list"]);
    assert_eq!(code, 0, "{err}");
    assert!(list.lines().any(|l| l.starts_with("hacode ")), "{list}");
    // The dead leader's registrations vanish with its ZooKeeper session.
    wait_until(
        LONG,
        "the dead leader's /blobstore entries to vanish",
        || holders(&mut c, &format!("{id}-stormcode.ser")).len() == 1,
    );

    // A supervisor on a fresh host (an empty local dir) gets the code from the new leader.
    c.add_supervisor(1);
    c.wait_supervisors(1);
    wait_until(LONG, "the topology to run on the new supervisor", || {
        emitting(&c, &id) > 0
    });
    let sup_dist = c.supervisors[0]
        .local_dir()
        .join("supervisor/stormdist")
        .join(&id);
    assert!(sup_dist.join("stormcode.ser").is_file());

    let (code, _, err) = storm_cli(&c, &["kill", "hacode", "-w", "0"]);
    assert_eq!(code, 0, "{err}");
    wait_until(LONG, "the code blobs to be deleted", || {
        !blob_data(&standby_dir, &format!("{id}-stormcode.ser")).exists()
            && holders(&mut c, &format!("{id}-stormcode.ser")).is_empty()
    });
}

/// The same hand-over with both nimbuses serving mutual TLS only (issue 18): the standby copies the
/// code from the leader's registered TLS port (its own `nimbus.thrift.tls.port` differs, so a copy
/// made through the configured port would reach itself), submission waits for it, and after the
/// leader is lost the standby leads and answers TLS clients.
#[test]
fn tls_only_nimbuses_replicate_code_over_tls() {
    let certs = crate::support::Certs::make(&crate::support::scratch_dir("ha-tls-certs"));
    let tls_ports = [crate::support::free_port(), crate::support::free_port()];
    let mut keys = certs.tls_only_nimbus_entries(tls_ports[0]);
    keys.extend([
        ("nimbus.code.sync.freq.secs".to_string(), "2".to_string()),
        ("topology.min.replication.count".into(), "2".into()),
        ("topology.max.replication.wait.time.sec".into(), "60".into()),
    ]);
    let entries: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut c = TestCluster::start("nimbus-ha-tls", &entries);
    c.add_nimbus_with(crate::support::free_port(), Some(tls_ports[1]));
    let standby_dir = c.nimbuses[1].local_dir();
    let client_to = |c: &TestCluster, tls_port: u16| {
        let mut conf = c.conf();
        conf.set("nimbus.thrift.tls.port", serde_json::json!(tls_port));
        let (transport, _, _) = storm::client::ClientTransport::nimbus(&conf).unwrap();
        storm::client::NimbusClient::connect(
            &format!("127.0.0.1:{tls_port}"),
            Duration::from_secs(5),
            &transport,
        )
    };
    wait_until(
        LONG,
        "the standby to answer over TLS and name the leader",
        || {
            client_to(&c, tls_ports[1])
                .and_then(|mut n| n.leader())
                .is_ok_and(|l| l.port == i32::from(c.nimbus_port))
        },
    );

    let mut b = TopologyBuilder::new();
    b.set_spout("words", TestWordSpout::new(100), 1);
    let mut conf = TopologyConf::new();
    conf.set_num_workers(1);
    storm::submitter::submit_to_cluster(
        &c.conf(),
        "hatls",
        &conf,
        &b.create_topology().unwrap(),
        &empty_jar(&c.dir),
    )
    .unwrap_or_else(|e| panic!("submit over TLS: {e}\n{}", c.logs()));
    let id = c.topology_id("hatls").expect("submitted");
    for suffix in ["-stormjar.jar", "-stormcode.ser", "-stormconf.ser"] {
        let key = format!("{id}{suffix}");
        assert!(
            blob_data(&standby_dir, &key).is_file(),
            "the standby holds {key} when submit returns\n{}",
            c.logs()
        );
        assert_eq!(holders(&mut c, &key).len(), 2, "{key}");
    }

    c.nimbuses[0].kill9();
    wait_until(LONG, "the standby to lead", || {
        client_to(&c, tls_ports[1])
            .and_then(|mut n| n.leader())
            .is_ok_and(|l| l.port == i32::from(c.nimbus_ports[1]))
    });
    let mut standby = client_to(&c, tls_ports[1]).unwrap();
    let summary = standby.raw().get_topology_summary(id.clone()).unwrap();
    assert_eq!(summary.name, "hatls");
}
