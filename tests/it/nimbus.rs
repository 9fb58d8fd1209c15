//! The real `nimbus` daemon against the shared ZooKeeper and outside clients: streamparse's flow from
//! thriftpy2 with streamparse's storm.thrift (`tests/python/nimbus_client.py`), the `storm` CLI's
//! `remoteconfvalue`, a second nimbus as a follower, and a clean exit on SIGTERM.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use storm::thrift::TNimbusSyncClient;

use crate::support::{
    free_port, python, repo, scratch_dir, spawn_daemon, storm, unique_root, wait_until, zk_connect,
};

/// A `nimbus` process on a free loopback port; killed on drop.
struct NimbusProc {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl NimbusProc {
    fn start(name: &str, root: &str) -> NimbusProc {
        let dir = scratch_dir(&format!("nimbus-{name}"));
        let port = free_port();
        let zk = zk_connect();
        let zk_port = zk.rsplit_once(':').unwrap().1.to_string();
        let stderr = std::fs::File::create(dir.join("stderr.txt")).unwrap();
        let args = [
            r#"storm.zookeeper.servers=["127.0.0.1"]"#.to_string(),
            format!("storm.zookeeper.port={zk_port}"),
            format!("storm.zookeeper.root={root}"),
            format!("storm.local.dir={}", dir.join("local").display()),
            format!("storm.log.dir={}", dir.join("logs").display()),
            format!("nimbus.thrift.port={port}"),
            "storm.local.hostname=127.0.0.1".to_string(),
        ];
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nimbus"));
        for a in &args {
            cmd.arg("-c").arg(a);
        }
        let child = spawn_daemon(&mut cmd, &dir, stderr);
        let mut n = NimbusProc { child, port, dir };
        wait_until(Duration::from_secs(30), "nimbus to listen", || {
            if let Ok(Some(status)) = n.child.try_wait() {
                panic!("nimbus exited early ({status}):\n{}", n.stderr());
            }
            TcpStream::connect(("127.0.0.1", n.port)).is_ok()
        });
        n
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.txt")).unwrap_or_default()
    }

    fn local_dir(&self) -> PathBuf {
        self.dir.join("local")
    }

    fn client(&self) -> storm::client::NimbusClient {
        storm::client::NimbusClient::connect(
            &format!("127.0.0.1:{}", self.port),
            Duration::from_secs(30),
            &storm::client::ClientTransport::Simple,
        )
        .expect("connect to nimbus")
    }

    fn is_leader(&self) -> bool {
        let (i, o) = storm::client::connect(
            &format!("127.0.0.1:{}", self.port),
            Duration::from_secs(30),
            &storm::client::ClientTransport::Simple,
        )
        .expect("connect to nimbus");
        let mut c = storm::thrift::NimbusSyncClient::new(i, o);
        c.get_cluster_info()
            .map(|info| {
                info.nimbuses
                    .iter()
                    .any(|n| n.port == i32::from(self.port) && n.is_leader)
            })
            .unwrap_or(false)
    }

    /// SIGTERM, then the exit status.
    fn terminate(&mut self) -> std::process::ExitStatus {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let mut status = None;
        wait_until(Duration::from_secs(30), "nimbus to exit on SIGTERM", || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        status.unwrap()
    }
}

impl Drop for NimbusProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_python_client(n: &NimbusProc) -> String {
    let out = Command::new(python())
        .arg(repo().join("tests/python/nimbus_client.py"))
        .arg("127.0.0.1")
        .arg(n.port.to_string())
        .arg(n.local_dir())
        .output()
        .expect("run nimbus_client.py");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "nimbus_client.py failed ({}):\n{stdout}\n{}\nnimbus stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        n.stderr()
    );
    stdout
}

#[test]
fn streamparse_flow_against_the_real_nimbus() {
    let root = unique_root("nimbus-flow");
    let mut n = NimbusProc::start("flow", &root);

    let (code, out, err) = storm(
        &n.dir,
        &[
            "remoteconfvalue",
            "-c",
            r#"nimbus.seeds=["127.0.0.1"]"#,
            "-c",
            &format!("nimbus.thrift.port={}", n.port),
            "nimbus.thrift.port",
        ],
    );
    assert_eq!(code, 0, "storm remoteconfvalue: {err}");
    assert_eq!(out.trim(), format!("nimbus.thrift.port: {}", n.port));

    let stdout = run_python_client(&n);
    for line in [
        "getClusterInfo: nimbus 127.0.0.1:",
        "submitTopologyWithOpts: wordcount-1-",
        "num_tasks=8",
        "deactivate -> INACTIVE, activate -> ACTIVE",
        "AlreadyAliveException(wordcount is already alive)",
        "bad fields grouping: InvalidTopologyException(",
        "rebalance -e nope=2: InvalidTopologyException(Invalid component nope",
        "rebalance: REBALANCING",
        "killed topology removed",
        "NotAliveException(nope is not alive)",
        "all checks passed",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    let inbox: Vec<_> = std::fs::read_dir(n.local_dir().join("nimbus/inbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        inbox
            .iter()
            .any(|f| f.starts_with("stormjar-") && f.ends_with(".jar")),
        "{inbox:?}"
    );

    let status = n.terminate();
    assert!(
        status.success(),
        "nimbus exit status {status}:\n{}",
        n.stderr()
    );
    assert!(Path::new(&n.dir.join("logs/nimbus.log")).is_file());
}

#[test]
fn a_second_nimbus_follows_and_takes_over() {
    let root = unique_root("nimbus-ha");
    let mut first = NimbusProc::start("ha-1", &root);
    wait_until(Duration::from_secs(30), "the first nimbus to lead", || {
        first.is_leader()
    });
    let second = NimbusProc::start("ha-2", &root);
    let mut c = second.client();
    let leader = c.leader().expect("getLeader from the follower");
    assert_eq!(leader.port, i32::from(first.port));
    assert!(!second.is_leader());

    // The follower refuses writes with Storm's text.
    let (i, o) = storm::client::connect(
        &format!("127.0.0.1:{}", second.port),
        Duration::from_secs(30),
        &storm::client::ClientTransport::Simple,
    )
    .unwrap();
    let mut raw = storm::thrift::NimbusSyncClient::new(i, o);
    let err = raw.activate("anything".into()).unwrap_err();
    assert!(
        err.to_string().contains("not a leader")
            || matches!(&err, thrift::Error::Application(a) if a.message.contains("not a leader, current leader is 127.0.0.1:")),
        "{err:?}"
    );

    assert!(first.terminate().success());
    wait_until(Duration::from_secs(60), "the second nimbus to lead", || {
        second.is_leader()
    });
}
