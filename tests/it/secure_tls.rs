//! TLS for Thrift (issue 18, item 1, the TLS half) on a live `nimbus` with `nimbus.thrift.tls.port`
//! set: certificates are made at test time with the `openssl` CLI (a CA, a server and a client
//! certificate; nothing is committed). The `storm` CLI lists, submits and kills over mutual TLS
//! and the client certificate's subject becomes the topology owner; a plain client on the TLS port
//! and a TLS client on the plain port fail with errors naming the keys; an untrusted server and a
//! missing client certificate are explained; a silent client, random bytes and a truncated
//! ClientHello do not stop nimbus. Storm 2.8.3's Java `ListTopologies` lists over TLS with a PKCS12
//! trust store and key store made by `keytool`/`openssl`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{
    conf_of, free_port, openssl, scratch_dir, wait_until, Certs, Listens, LoneNimbus as Nimbus,
};

#[test]
fn mutual_tls_nimbus_serves_the_cli_and_explains_mismatched_clients() {
    use storm::api::{TopologyBuilder, TopologyConf};
    use storm::local::components::SplitSentence;
    use storm::local::durable::LedgerSpout;

    let dir = scratch_dir("secure-tls-mtls");
    let certs = Certs::make(&dir);
    let tls_port = free_port();
    let nimbus = Nimbus::start(
        "tls-mtls",
        &dir,
        &certs.server_opts(tls_port),
        Listens::PlainAnd(tls_port),
    );
    let tls = certs.client_opts(tls_port, &certs.ca);

    let (code, out, err) = nimbus.cli(&["list"], &tls);
    assert_eq!(
        code,
        0,
        "storm list over TLS:\n{out}\n{err}\n{}",
        nimbus.stderr()
    );
    assert!(out.contains("No topologies running."), "{out}");

    // Submit over TLS through the library; the client certificate's subject is the owner.
    let mut conf_opts = tls.clone();
    conf_opts.push(r#"nimbus.seeds=["127.0.0.1"]"#.into());
    conf_opts.push(format!("nimbus.thrift.port={}", nimbus.port));
    let conf = conf_of(&conf_opts);
    let mut b = TopologyBuilder::new();
    b.set_spout("spout", LedgerSpout::new(dir.join("data"), 10, 1), 1);
    b.set_basic_bolt("split", SplitSentence::default(), 1)
        .shuffle_grouping("spout");
    let topology = b.create_topology().unwrap();
    let jar = dir.join("topology.jar");
    let mut eocd = vec![0x50, 0x4b, 0x05, 0x06];
    eocd.extend([0u8; 18]);
    std::fs::write(&jar, eocd).unwrap();
    storm::submitter::submit_to_cluster(&conf, "over-tls", &TopologyConf::new(), &topology, &jar)
        .unwrap_or_else(|e| panic!("submit over TLS: {e}\n{}", nimbus.stderr()));
    let (code, out, err) = nimbus.cli(&["list"], &tls);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("over-tls") && out.contains("CN=alice, O=Storm Test, C=US"),
        "the topology, owned by the certificate's subject:\n{out}"
    );

    // A plain client on the TLS port: nimbus answers with a TLS alert, the CLI names the keys.
    let (code, out, err) = nimbus.cli(&["list"], &[format!("nimbus.thrift.port={tls_port}")]);
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("answered with TLS") && err.contains("nimbus.thrift.client.use.tls"),
        "plain client on the TLS port: {err}"
    );
    // A TLS client on the plain port.
    let mut wrong_port = tls.clone();
    wrong_port.push(format!("nimbus.thrift.tls.port={}", nimbus.port));
    let (code, out, err) = nimbus.cli(&["list"], &wrong_port);
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("TLS with 127.0.0.1") && err.contains("nimbus.thrift.tls.port"),
        "TLS client on the plain port: {err}"
    );
    // A server certificate the client does not trust.
    let (code, _, err) = nimbus.cli(&["list"], &certs.client_opts(tls_port, &certs.other_ca));
    assert_ne!(code, 0);
    assert!(
        err.contains("not trusted") && err.contains("nimbus.thrift.tls.client.truststore.path"),
        "untrusted server: {err}"
    );
    // No client certificate, although nimbus requires one.
    let no_cert = vec![
        "nimbus.thrift.client.use.tls=true".to_string(),
        format!("nimbus.thrift.tls.port={tls_port}"),
        format!(
            "nimbus.thrift.tls.client.truststore.path={}",
            certs.ca.display()
        ),
        "nimbus.thrift.tls.client.auth.required=false".into(),
    ];
    let (code, _, err) = nimbus.cli(&["list"], &no_cert);
    assert_ne!(code, 0);
    assert!(
        err.contains("refused this client") && err.contains("nimbus.thrift.tls.client.cert.path"),
        "no client certificate: {err}"
    );
    // The client's own configuration check: auth required, no certificate configured.
    let mut unconfigured = no_cert.clone();
    unconfigured.pop();
    let (code, _, err) = nimbus.cli(&["list"], &unconfigured);
    assert_ne!(code, 0);
    assert!(
        err.contains("nimbus.thrift.tls.client.key.path") && err.contains("client.auth.required"),
        "{err}"
    );

    // A silent client, random bytes, a truncated ClientHello and a plain Thrift frame on the TLS
    // port: each loses its own connection only.
    let silent = TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
    let mut garbage: Vec<TcpStream> = Vec::new();
    for bytes in [
        &[0x16u8, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00][..],
        &[0x16, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03, 0x04][..],
        &[0x7f, 0x00, 0x13, 0x37][..],
        &[0x00, 0x00, 0x00, 0x05, 0x80, 0x01, 0x00, 0x01, 0x00][..],
    ] {
        let mut s = TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
        s.write_all(bytes).unwrap();
        garbage.push(s);
    }
    let (code, out, err) = nimbus.cli(&["list"], &tls);
    assert_eq!(code, 0, "nimbus still serves TLS: {out}\n{err}");
    let (code, out, err) = nimbus.cli(&["list"], &[]);
    assert_eq!(code, 0, "and plain Thrift: {out}\n{err}");
    // Every one of them is closed by nimbus within the handshake deadline.
    for mut s in garbage.into_iter().chain([silent]) {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut buf = [0u8; 256];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => continue, // an alert
            }
        }
    }

    // Kill over TLS.
    let (code, out, err) = nimbus.cli(&["kill", "over-tls", "-w", "0"], &tls);
    assert_eq!(code, 0, "kill over TLS:\n{out}\n{err}");
    wait_until(Duration::from_secs(30), "the topology to go", || {
        let (code, out, _) = nimbus.cli(&["list"], &tls);
        code == 0 && !out.contains("over-tls")
    });

    wait_until(
        Duration::from_secs(10),
        "nimbus to log the refusals",
        || {
            let log = nimbus.stderr();
            log.contains("TLS connection refused")
                && log.contains("not a TLS client")
                && log.contains("did not finish within")
                && log.contains("a TLS client on a plain Thrift port")
        },
    );
}

/// One-way TLS (`nimbus.thrift.tls.client.auth.required: false`) with `nimbus.thrift.tls.server.only`:
/// no plain port, clients without certificates, the principal is `CN=ANONYMOUS`.
#[test]
fn one_way_tls_only_nimbus() {
    let dir = scratch_dir("secure-tls-oneway");
    let certs = Certs::make(&dir);
    let tls_port = free_port();
    let server = vec![
        format!("nimbus.thrift.tls.port={tls_port}"),
        format!(
            "nimbus.thrift.tls.server.keystore.path={}",
            certs.server_keystore.display()
        ),
        "nimbus.thrift.tls.client.auth.required=false".into(),
        "nimbus.thrift.tls.server.only=true".into(),
    ];
    let nimbus = Nimbus::start("tls-oneway", &dir, &server, Listens::Only(tls_port));
    let plain_port = nimbus.port;
    assert!(
        TcpStream::connect(("127.0.0.1", plain_port)).is_err(),
        "nimbus.thrift.tls.server.only: no plain port"
    );
    let client = vec![
        "nimbus.thrift.client.use.tls=true".to_string(),
        format!("nimbus.thrift.tls.port={tls_port}"),
        format!(
            "nimbus.thrift.tls.client.truststore.path={}",
            certs.ca.display()
        ),
        "nimbus.thrift.tls.client.auth.required=false".into(),
    ];
    let (code, out, err) = nimbus.cli(&["list"], &client);
    assert_eq!(
        code,
        0,
        "one-way TLS list:\n{out}\n{err}\n{}",
        nimbus.stderr()
    );
    assert!(out.contains("No topologies running."), "{out}");
    // Storm's key names for keystores are honoured, but only PEM is read: a JKS file is refused
    // with a conversion hint.
    let mut jks = client.clone();
    jks.push(format!(
        "nimbus.thrift.tls.client.truststore.path={}",
        certs.dir.join("trust.jks").display()
    ));
    let (code, _, err) = nimbus.cli(&["list"], &jks);
    assert_ne!(code, 0);
    assert!(
        err.contains("PEM files only") && err.contains("keytool"),
        "{err}"
    );
    drop(nimbus);
}

/// Apache Storm 2.8.3's own Java client (`org.apache.storm.command.ListTopologies`, classpath from
/// `scripts/build-java.sh`) over mutual TLS to our nimbus, with PKCS12 stores made at test time:
/// Storm's `NimbusClient` asks `getLeader` on the TLS port and reconnects to the leader's `tlsPort`.
#[test]
fn storms_java_client_lists_over_mutual_tls() {
    let classpath = crate::secure_thrift::java_classpath();
    let dir = scratch_dir("secure-tls-java");
    let certs = Certs::make(&dir);
    let tls_port = free_port();
    let nimbus = Nimbus::start(
        "tls-java",
        &dir,
        &certs.server_opts(tls_port),
        Listens::PlainAnd(tls_port),
    );
    let trust = certs.dir.join("truststore.p12");
    let out = Command::new("keytool")
        .args([
            "-importcert",
            "-noprompt",
            "-alias",
            "storm-ca",
            "-storetype",
            "PKCS12",
        ])
        .arg("-file")
        .arg(&certs.ca)
        .arg("-keystore")
        .arg(&trust)
        .args(["-storepass", "changeit"])
        .output()
        .expect("run keytool");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keystore = certs.dir.join("client.p12");
    openssl(
        &certs.dir,
        &[
            "pkcs12",
            "-export",
            "-in",
            "client.pem",
            "-inkey",
            "client.key",
            "-name",
            "alice",
            "-out",
            "client.p12",
            "-passout",
            "pass:changeit",
        ],
    );
    let run = |with_cert: bool| {
        let yaml = dir.join("storm.yaml");
        let mut text = format!(
            "nimbus.seeds: [\"127.0.0.1\"]\nnimbus.thrift.port: {}\nnimbus.thrift.tls.port: {tls_port}\n\
             nimbus.thrift.client.use.tls: true\n\
             nimbus.thrift.tls.client.truststore.path: \"{}\"\n\
             nimbus.thrift.tls.client.truststore.password: \"changeit\"\n\
             storm.nimbus.retry.times: 0\n",
            nimbus.port,
            trust.display()
        );
        if with_cert {
            text.push_str(&format!(
                "nimbus.thrift.tls.client.keystore.path: \"{}\"\n\
                 nimbus.thrift.tls.client.keystore.password: \"changeit\"\n",
                keystore.display()
            ));
        } else {
            // Storm's client then presents no certificate.
            text.push_str("nimbus.thrift.tls.client.auth.required: false\n");
        }
        std::fs::write(&yaml, text).unwrap();
        let out = Command::new("java")
            .arg("-cp")
            .arg(&classpath)
            .arg(format!("-Dstorm.conf.file={}", yaml.display()))
            .arg("org.apache.storm.command.ListTopologies")
            .stdin(Stdio::null())
            .output()
            .expect("run java");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(true);
    assert_eq!(
        code,
        0,
        "Java ListTopologies over TLS:\n{out}\n{err}\n{}",
        nimbus.stderr()
    );
    assert!(out.contains("No topologies running"), "{out}\n{err}");
    let (code, out, err) = run(false);
    assert_ne!(code, 0, "no client certificate must fail:\n{out}\n{err}");
    wait_until(Duration::from_secs(10), "nimbus to log the refusal", || {
        nimbus.stderr().contains("TLS connection refused")
    });
}
