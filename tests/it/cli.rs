//! The `storm` command line as a user runs it: the built binary, real files, a real ZooKeeper.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{self, storm};

#[test]
fn localconfvalue_prints_key_colon_value_like_storm() {
    let (code, out, err) = storm(support::repo(), &["localconfvalue", "storm.zookeeper.port"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "storm.zookeeper.port: 2181\n");

    // Storm puts -c after the subcommand; it overrides conf/storm.toml.
    let (code, out, _) = storm(
        support::repo(),
        &[
            "localconfvalue",
            "-c",
            "storm.zookeeper.port=2999",
            "storm.zookeeper.port",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(out, "storm.zookeeper.port: 2999\n");

    // The dev cluster's file sets storm.local.dir; lists render the Java way.
    let (_, out, _) = storm(support::repo(), &["localconfvalue", "storm.local.dir"]);
    assert_eq!(out, "storm.local.dir: local\n");
    let (_, out, _) = storm(
        support::repo(),
        &["localconfvalue", "supervisor.slots.ports"],
    );
    assert_eq!(out, "supervisor.slots.ports: [6700, 6701, 6702, 6703]\n");
    let (_, out, _) = storm(
        support::repo(),
        &["localconfvalue", "topology.acker.executors"],
    );
    assert_eq!(out, "topology.acker.executors: null\n");
}

#[test]
fn typo_key_in_storm_toml_is_rejected_with_its_name() {
    let dir = support::scratch_dir("typo");
    std::fs::create_dir_all(dir.join("conf")).unwrap();
    std::fs::write(
        dir.join("conf/storm.toml"),
        "\"storm.zookeper.port\" = 2181\n",
    )
    .unwrap();
    let (code, out, err) = storm(&dir, &["localconfvalue", "storm.zookeeper.port"]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("\"storm.zookeper.port\""), "{err}");
    assert!(err.contains("storm.toml"), "names the file: {err}");
    assert!(
        err.contains("did you mean \"storm.zookeeper.port\""),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one-line reason: {err}");
}

#[test]
fn wrong_types_and_bad_options_fail_with_one_line() {
    let dir = support::scratch_dir("badtype");
    let (code, _, err) = storm(
        &dir,
        &["localconfvalue", "-c", "nimbus.seeds=3", "nimbus.seeds"],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("nimbus.seeds") && err.contains("a list of strings") && err.contains("-c"),
        "{err}"
    );

    let (code, _, err) = storm(&dir, &["localconfvalue", "-c", "oops", "nimbus.seeds"]);
    assert_ne!(code, 0);
    assert!(err.contains("expected key=value"), "{err}");

    let (code, _, err) = storm(&dir, &["--config", "/nonexistent/storm.toml", "version"]);
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent/storm.toml"), "{err}");

    let (code, _, _) = storm(&dir, &["no-such-subcommand"]);
    assert_eq!(code, 2);
}

#[test]
fn version_and_help() {
    let (code, out, _) = storm(support::repo(), &["version"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("Storm {}\n", storm::STORM_VERSION)),
        "{out}"
    );
    for sub in [
        "version",
        "localconfvalue",
        "remoteconfvalue",
        "dev-zookeeper",
    ] {
        let (code, out, _) = storm(support::repo(), &[sub, "--help"]);
        assert_eq!(code, 0, "{sub} --help");
        assert!(
            out.contains("-c <KEY=VALUE>") && out.contains("--config <FILE>"),
            "{sub}: {out}"
        );
    }
}

#[test]
fn remoteconfvalue_names_the_seeds_it_tried() {
    let port = support::free_port();
    let (code, _, err) = storm(
        support::repo(),
        &[
            "remoteconfvalue",
            "-c",
            &format!("nimbus.thrift.port={port}"),
            "nimbus.thrift.port",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains(&format!("localhost:{port}")), "{err}");
    assert!(err.contains("nimbus.seeds"), "{err}");
}

fn four_letter_word(port: u16, word: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_millis(500),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Kills the child on drop, so a failing assertion never leaves a server behind.
struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn dev_zookeeper_serves_a_zookeeper_that_zkcli_can_list() {
    let port = support::free_port();
    let dir = support::scratch_dir("dev-zk");
    let data = dir.join("data");
    let _server = Child(
        Command::new(support::storm_bin())
            .args([
                "dev-zookeeper",
                "-c",
                &format!("storm.zookeeper.port={port}"),
                "-c",
            ])
            .arg(format!("dev.zookeeper.path={}", data.display()))
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    support::wait_until(
        Duration::from_secs(60),
        "dev-zookeeper answers ruok",
        || four_letter_word(port, "ruok").as_deref() == Some("imok"),
    );
    assert!(
        data.join("zoo.cfg").is_file(),
        "data lives in dev.zookeeper.path"
    );
    // zkCli.sh is a JVM client: on a loaded machine (the whole suite runs in parallel on 2 cores) its
    // first connection can time out, so it gets a few tries within the deadline.
    let mut printed = String::new();
    let listed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        support::wait_until(Duration::from_secs(120), "zkCli.sh to list /", || {
            let out = Command::new("/usr/share/zookeeper/bin/zkCli.sh")
                .args(["-server", &format!("127.0.0.1:{port}"), "ls", "/"])
                .output()
                .unwrap();
            printed = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            printed.contains("[zookeeper]")
        })
    }));
    assert!(listed.is_ok(), "zkCli.sh ls / printed: {printed}");
}

#[test]
fn remoteconfvalue_asks_the_leader_nimbus_over_thrift() {
    // An independent Thrift server (thriftpy2 + streamparse's storm.thrift) plays nimbus.
    let port = support::free_port();
    let mut server = Child(
        Command::new(support::python())
            .arg(support::repo().join("tests/python/toy_nimbus.py"))
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.0.stdout.as_mut().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert_eq!(ready.trim(), "ready");
    let seeds = "nimbus.seeds=[\"127.0.0.1\"]".to_string();
    let port_opt = format!("nimbus.thrift.port={port}");
    let (code, out, err) = storm(
        support::repo(),
        &[
            "remoteconfvalue",
            "-c",
            &seeds,
            "-c",
            &port_opt,
            "toy.nimbus.key",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "toy.nimbus.key: [from, toy]\n");
    let (_, out, _) = storm(
        support::repo(),
        &[
            "remoteconfvalue",
            "-c",
            &seeds,
            "-c",
            &port_opt,
            "no.such.key",
        ],
    );
    assert_eq!(out, "no.such.key: null\n");
}

/// A built example program (`cargo test --examples`, as scripts/test.sh runs, builds them).
fn example(name: &str) -> std::path::PathBuf {
    let p = support::storm_bin()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        p.is_file(),
        "{} is missing: build the examples (scripts/test.sh does)",
        p.display()
    );
    p
}

#[test]
fn storm_local_runs_a_topology_program_in_local_mode() {
    let wc = example("word_count");
    let (code, out, err) = storm(
        support::repo(),
        &["local", "--local-ttl", "1", wc.to_str().unwrap(), "wc"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("top 20 of"),
        "the topology ran and its report bolt printed: {out}"
    );

    // Started without `storm local`, the submitter refuses with Storm's words.
    let direct = Command::new(&wc)
        .arg("wc")
        .env_remove("STORM_LOCAL_TTL")
        .output()
        .unwrap();
    assert!(!direct.status.success());
    assert!(String::from_utf8_lossy(&direct.stderr)
        .contains("Must submit topologies using the 'storm' client script"));

    // Bad input: not a program, a bad ttl.
    let (code, _, err) = storm(support::repo(), &["local", "Cargo.toml"]);
    assert_ne!(code, 0);
    assert!(err.contains("not an executable topology program"), "{err}");
    let (code, _, _) = storm(
        support::repo(),
        &["local", "--local-ttl", "soon", wc.to_str().unwrap()],
    );
    assert_eq!(code, 2, "clap rejects a non-numeric ttl");
}
