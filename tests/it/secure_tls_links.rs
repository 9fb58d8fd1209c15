//! TLS on worker-to-worker links (`storm.messaging.netty.tls.*`) on a real cluster: a two-worker
//! word count whose fields grouping crosses workers runs over mutual TLS (PEM files from
//! [`Certs`]), and raw TCP clients writing a plain frame or garbage to a worker port are refused and
//! logged while the topology keeps counting exactly.
//!
//! Run: `cargo test --test it -- secure_tls_links`.

use std::io::{Read, Write};
use std::time::Duration;

use storm::api::TopologyConf;
use storm::local::durable::{expected_counts, read_counts};
use storm::transport::wire::{encode_frame, WireMessage};
use storm::tuple::Value;

use crate::cluster_support::{empty_jar, TestCluster};
use crate::secure_zk::worker_logs;
use crate::support::{wait_until, Certs};

const LONG: Duration = Duration::from_secs(90);

/// Reads until the worker closes the connection; a TLS alert before that is fine, anything else
/// is not.
fn refused(s: &mut std::net::TcpStream, what: &str) {
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => assert!(
                storm::security::tls::looks_like_tls(&buf[..n]),
                "{what}: the worker answered {:02x?}",
                &buf[..n]
            ),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("{what}: the worker did not refuse it: {e}"),
        }
    }
}

#[test]
fn tls_worker_links_count_across_workers_and_refuse_plain_clients() {
    let scratch = crate::support::scratch_dir("tls-links");
    let certs = Certs::make(&scratch);
    // Workers accept with the server certificate and connect with the client one; both trust the CA.
    let client_keystore = certs.dir.join("client-keystore.pem");
    let mut pem = std::fs::read(&certs.client_cert).unwrap();
    pem.extend(std::fs::read(&certs.client_key).unwrap());
    std::fs::write(&client_keystore, pem).unwrap();
    let quoted = |p: &std::path::Path| format!("{:?}", p.display().to_string());
    let (ks, cks, ca) = (
        quoted(&certs.server_keystore),
        quoted(&client_keystore),
        quoted(&certs.ca),
    );
    let mut c = TestCluster::start(
        "tlslinks",
        &[
            ("storm.messaging.netty.tls.enable", "true"),
            ("storm.messaging.netty.tls.keystore.path", &ks),
            ("storm.messaging.netty.tls.truststore.path", &ca),
            ("storm.messaging.netty.tls.client.keystore.path", &cks),
            ("storm.messaging.netty.tls.client.truststore.path", &ca),
        ],
    );
    c.add_supervisor(2);
    c.wait_supervisors(1);
    let data = c.dir.join("data");
    let limit = 300;
    let b = crate::cluster_support::ledger_word_count(&data, limit, 5);
    let topology = b.create_topology().unwrap();
    let mut conf = TopologyConf::new();
    conf.set_num_workers(2).set_max_spout_pending(200);
    storm::submitter::submit_to_cluster(&c.conf(), "tlswc", &conf, &topology, &empty_jar(&c.dir))
        .unwrap_or_else(|e| panic!("submit: {e}\n{}", c.logs()));
    let id = c.topology_id("tlswc").expect("tlswc is in /storms");
    wait_until(LONG, "two workers with heartbeats", || {
        c.state().worker_heartbeats(&id).unwrap().len() == 2
    });
    let ports: Vec<u16> = c.slots(&id).into_iter().map(|s| s.1 as u16).collect();
    assert_eq!(ports.len(), 2);

    // Raw TCP clients at each worker port: a well-formed plain frame, and garbage.
    let frame = encode_frame(
        &(1..=12)
            .map(|task| WireMessage {
                dest: task,
                source_task: 3,
                stream: "default".into(),
                anchors: vec![],
                values: vec![Value::from("intruder")],
            })
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let mut injectors = Vec::new();
    for port in &ports {
        for (what, bytes) in [
            ("a plain frame", frame.clone()),
            // A TLS record header around a broken ClientHello.
            (
                "garbage",
                b"\x16\x03\x01\x00\x05\x01\x02\x03\x04\x05".to_vec(),
            ),
        ] {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", *port)).unwrap();
            injectors.push(s.local_addr().unwrap().to_string());
            let _ = s.write_all(&bytes);
            refused(&mut s, what);
        }
    }

    // The word counts (fields grouping across the two workers) are exactly the spouts' words.
    let expected = expected_counts(limit, 2);
    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(LONG, "the word counts to be complete", || {
            read_counts(&data) == expected
        })
    }));
    assert!(ok.is_ok(), "counts {:?}\n{}", read_counts(&data), c.logs());
    assert!(!read_counts(&data).contains_key("intruder"));
    let logs = worker_logs(&c.dir);
    assert!(
        logs.contains("worker link TLS session established"),
        "{logs}"
    );
    for addr in &injectors {
        assert!(
            logs.lines()
                .any(|l| l.contains("refused a worker connection")
                    && l.contains(addr.as_str())
                    && l.contains("storm.messaging.netty.tls.enable")),
            "the refusal names the peer {addr} and the key\n{logs}"
        );
    }
    // Both workers are still the ones that started.
    assert_eq!(c.state().worker_heartbeats(&id).unwrap().len(), 2);
}
