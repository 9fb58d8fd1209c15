//! TLS on worker-to-worker links (`storm.messaging.netty.tls.*`) on a real cluster: a two-worker
//! word count whose fields grouping crosses workers runs over mutual TLS (PEM files from
//! [`Certs`]), and raw TCP clients writing a plain frame or garbage to a worker port are refused and
//! logged while the topology keeps counting exactly.
//!
//! Run: `cargo test --test it -- secure_tls_links`.

use std::io::{Read, Write};
use std::time::Duration;

use crate::cluster_support::{intruder_frame, TestCluster};
use crate::secure_zk::worker_logs;
use crate::support::Certs;

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
    let wc = c.run_two_worker_word_count("tlswc");

    // Raw TCP clients at each worker port: a well-formed plain frame, and garbage.
    let frame = intruder_frame();
    let mut injectors = Vec::new();
    for port in &wc.ports {
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
    wc.assert_exact_counts(&c);
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
    assert_eq!(c.state().worker_heartbeats(&wc.id).unwrap().len(), 2);
}
