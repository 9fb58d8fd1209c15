//! DRPC topologies end to end: `DRPCSpout` → bolts → `ReturnResults` in a `LocalCluster`, served by a
//! `LocalDRPC` (local mode) or by the real `drpc` daemon over Thrift (answered through curl and
//! `storm drpc-client`), and Storm's reach example on the linear DRPC builder.

use std::collections::HashSet;
use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use storm::drpc::topology::reach::{expected_reach, followers, tweeters};
use storm::drpc::topology::{
    BatchBolt, DRPCSpout, ExclaimBolt, LinearDRPCTopologyBuilder, LocalDRPC, ReturnResults,
};
use storm::prelude::*;
use storm::thrift::DRPCExceptionType;

use crate::support::{free_port, init_logging, scratch_dir, spawn_daemon, storm, wait_until};

fn exclamation_topology(spout: DRPCSpout) -> StormTopology {
    let mut builder = TopologyBuilder::new();
    builder.set_spout("drpc", spout, 2);
    builder
        .set_basic_bolt("exclaim", ExclaimBolt::failing_on("bad"), 3)
        .shuffle_grouping("drpc");
    builder
        .set_bolt("return", ReturnResults::new(), 2)
        .shuffle_grouping("exclaim");
    builder.create_topology().unwrap()
}

#[test]
fn drpc_topology_local_mode_answers_concurrent_requests_and_fails_bad_ones() {
    init_logging();
    let drpc = LocalDRPC::new();
    let cluster = LocalCluster::new();
    cluster
        .submit_topology(
            "drpc-exclamation",
            &TopologyConf::new(),
            &exclamation_topology(DRPCSpout::local("exclamation", &drpc)),
        )
        .unwrap();
    assert_eq!(drpc.execute("exclamation", "hello").unwrap(), "hello!");

    let handles: Vec<_> = (0..20)
        .map(|i| {
            let core = drpc.drpc().clone();
            std::thread::spawn(move || (i, core.execute("exclamation", &format!("word{i}"))))
        })
        .collect();
    for h in handles {
        let (i, result) = h.join().unwrap();
        assert_eq!(result.unwrap(), format!("word{i}!"));
    }

    let e = drpc.execute("exclamation", "bad").unwrap_err();
    assert_eq!(e.type_, Some(DRPCExceptionType::FAILED_REQUEST), "{e:?}");
    assert_eq!(e.msg, "Request failed");
    // The topology keeps serving after a failure.
    assert_eq!(drpc.execute("exclamation", "again").unwrap(), "again!");
    assert!(cluster.errors("drpc-exclamation").unwrap().is_empty());
    cluster.kill_topology("drpc-exclamation").unwrap();
}

/// A drpc daemon on free loopback ports; killed on drop.
struct DrpcProc {
    child: Child,
    rpc: u16,
    invocations: u16,
    http: u16,
}

impl DrpcProc {
    fn start(name: &str) -> DrpcProc {
        let dir = scratch_dir(&format!("drpc-topology-{name}"));
        let (rpc, invocations, http) = (free_port(), free_port(), free_port());
        let stderr = std::fs::File::create(dir.join("stderr.txt")).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_drpc"));
        for a in [
            format!("drpc.port={rpc}"),
            format!("drpc.invocations.port={invocations}"),
            format!("drpc.http.port={http}"),
            format!("storm.log.dir={}", dir.join("logs").display()),
            format!("storm.local.dir={}", dir.join("local").display()),
            "drpc.request.timeout.secs=60".to_owned(),
        ] {
            cmd.arg("-c").arg(a);
        }
        let child = spawn_daemon(&mut cmd, &dir, stderr);
        let mut d = DrpcProc {
            child,
            rpc,
            invocations,
            http,
        };
        wait_until(Duration::from_secs(20), "drpc to listen", || {
            if let Ok(Some(status)) = d.child.try_wait() {
                panic!(
                    "drpc exited early ({status}): {}",
                    std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default()
                );
            }
            [d.rpc, d.invocations, d.http]
                .iter()
                .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok())
        });
        d
    }
}

impl Drop for DrpcProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `curl -s URL` → (status, body).
fn curl(url: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "60", "-w", "\n%{http_code}", url])
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("curl output with a status");
    (status.trim().parse().expect("a status"), body.to_string())
}

#[test]
fn drpc_topology_served_by_the_drpc_daemon_over_thrift() {
    init_logging();
    let d = DrpcProc::start("daemon");
    let mut conf = ConfMap::new();
    conf.insert("drpc.servers".into(), serde_json::json!(["127.0.0.1"]));
    conf.insert("drpc.invocations.port".into(), d.invocations.into());
    let cluster = LocalCluster::with_conf(conf);
    cluster
        .submit_topology(
            "drpc-remote",
            &TopologyConf::new(),
            &exclamation_topology(DRPCSpout::new("exclamation")),
        )
        .unwrap();

    let (status, body) = curl(&format!(
        "http://127.0.0.1:{}/drpc/exclamation/hello",
        d.http
    ));
    assert_eq!((status, body.as_str()), (200, "hello!"));
    let (status, body) = curl(&format!("http://127.0.0.1:{}/drpc/exclamation/bad", d.http));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("FAILED_REQUEST"), "{body}");

    let cwd = scratch_dir("drpc-topology-cli");
    let servers = r#"drpc.servers=["127.0.0.1"]"#;
    let port = format!("drpc.port={}", d.rpc);
    let (code, out, err) = storm(
        &cwd,
        &[
            "drpc-client",
            "-c",
            servers,
            "-c",
            &port,
            "-f",
            "exclamation",
            "hello",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "exclamation \"hello\" => \"hello!\"\n");
    let (code, out, err) = storm(
        &cwd,
        &[
            "drpc-client",
            "-c",
            servers,
            "-c",
            &port,
            "exclamation",
            "a",
            "exclamation",
            "b",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "exclamation \"a\" => \"a!\"\nexclamation \"b\" => \"b!\"\n"
    );
    let (code, _, err) = storm(
        &cwd,
        &[
            "drpc-client",
            "-c",
            servers,
            "-c",
            &port,
            "-f",
            "exclamation",
            "bad",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.starts_with("storm drpc-client: exclamation \"bad\" failed on DRPC server 127.0.0.1:")
            && err.contains("Request failed (FAILED_REQUEST)")
            && err.lines().count() == 1,
        "{err}"
    );
    // Nothing listens on a fresh port: one line naming the server tried.
    let dead = format!("drpc.port={}", free_port());
    let (code, _, err) = storm(
        &cwd,
        &[
            "drpc-client",
            "-c",
            servers,
            "-c",
            &dead,
            "-f",
            "exclamation",
            "x",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot connect to a DRPC server (127.0.0.1:") && err.lines().count() == 1,
        "{err}"
    );
    assert!(cluster.errors("drpc-remote").unwrap().is_empty());
    cluster.kill_topology("drpc-remote").unwrap();
}

// --- Storm's reach topology on the linear DRPC builder -------------------------------------------

/// `[id, key]` → `[id, x]` for each x of `lookup(key)`; fails the input when key is `bad`.
#[derive(Serialize, Deserialize)]
struct Expand {
    followers: bool,
}

#[typetag::serde(name = "it::drpc_topology::Expand")]
impl BasicBolt for Expand {
    fn execute(
        &mut self,
        input: &Tuple,
        collector: &mut BasicOutputCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let id = input.value(0)?.clone();
        let key = input.value(1)?.java_to_string();
        if key == "bad" {
            return Err(FailedException::new("bad url").into());
        }
        let items = if self.followers {
            followers(&key)
        } else {
            tweeters(&key)
        };
        for x in items {
            collector.emit(vec![id.clone(), Value::from(*x)])?;
        }
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare([
            "id",
            if self.followers {
                "follower"
            } else {
                "tweeter"
            },
        ]);
    }
}

/// Per request: distinct followers (`sum == false`) or the sum of partial counts (`sum == true`).
#[derive(Default, Serialize, Deserialize)]
struct Uniquer {
    sum: bool,
    #[serde(skip)]
    id: Option<Value>,
    #[serde(skip)]
    seen: HashSet<String>,
    #[serde(skip)]
    total: i64,
}

#[typetag::serde(name = "it::drpc_topology::Uniquer")]
impl BatchBolt for Uniquer {
    fn prepare(
        &mut self,
        _conf: &ConfMap,
        _context: &TopologyContext,
        id: &Value,
    ) -> Result<(), ComponentError> {
        self.id = Some(id.clone());
        Ok(())
    }

    fn execute(
        &mut self,
        input: &Tuple,
        _collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        match input.value(1)? {
            Value::Long(n) if self.sum => self.total += n,
            v => {
                self.seen.insert(v.java_to_string());
            }
        }
        Ok(())
    }

    fn finish_batch(&mut self, collector: &mut OutputCollector<'_>) -> Result<(), ComponentError> {
        let n = if self.sum {
            self.total
        } else {
            self.seen.len() as i64
        };
        collector.emit(vec![self.id.clone().unwrap_or_default(), Value::from(n)])?;
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["id", if self.sum { "reach" } else { "partial-count" }]);
    }
}

#[test]
fn drpc_topology_reach_on_the_linear_builder_counts_distinct_followers() {
    init_logging();
    let drpc = LocalDRPC::new();
    let mut b = LinearDRPCTopologyBuilder::new("reach");
    b.add_basic_bolt(Expand { followers: false }, 4);
    b.add_basic_bolt(Expand { followers: true }, 12)
        .shuffle_grouping();
    b.add_batch_bolt(Uniquer::default(), 6)
        .fields_grouping(["id", "follower"]);
    b.add_batch_bolt(
        Uniquer {
            sum: true,
            ..Uniquer::default()
        },
        3,
    )
    .fields_grouping(["id"]);
    let cluster = LocalCluster::new();
    cluster
        .submit_topology(
            "reach",
            &TopologyConf::new(),
            &b.create_local_topology(&drpc).unwrap(),
        )
        .unwrap();
    let urls = [
        "foo.com/blog/1",
        "engineering.twitter.com/blog/5",
        "tech.backtype.com/blog/123",
        "nobody.example/none",
    ];
    assert_eq!(
        urls.map(expected_reach),
        [16, 14, 7, 0],
        "storm-starter's graph"
    );
    for url in urls {
        assert_eq!(
            drpc.execute("reach", url).unwrap(),
            expected_reach(url).to_string(),
            "{url}"
        );
    }
    // Concurrent requests are batched separately.
    let handles: Vec<_> = (0..12)
        .map(|i| {
            let core = drpc.drpc().clone();
            let url = urls[i % urls.len()];
            std::thread::spawn(move || (url, core.execute("reach", url)))
        })
        .collect();
    for h in handles {
        let (url, result) = h.join().unwrap();
        assert_eq!(result.unwrap(), expected_reach(url).to_string(), "{url}");
    }
    // A failure inside the coordinated bolts fails the request.
    let e = drpc.execute("reach", "bad").unwrap_err();
    assert_eq!(e.type_, Some(DRPCExceptionType::FAILED_REQUEST), "{e:?}");
    assert_eq!(drpc.execute("reach", urls[0]).unwrap(), "16");
    assert!(cluster.errors("reach").unwrap().is_empty());
    cluster.kill_topology("reach").unwrap();
}
