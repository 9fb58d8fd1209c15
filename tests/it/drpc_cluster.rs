//! DRPC on the cluster: the `drpc` daemon in front of DRPC topologies running in real worker processes
//! (stock `worker` binary): exclamation answered through curl, a Python Thrift client (thriftpy2 with
//! streamparse's storm.thrift) and `storm drpc-client`; storm-starter's reach over the linear DRPC
//! builder with its coordinated batch bolts spread over two workers.

use std::process::Command;
use std::time::Duration;

use storm::drpc::topology::reach::{expected_reach, reach_builder};
use storm::drpc::topology::{DRPCSpout, ExclaimBolt, ReturnResults};
use storm::prelude::*;

use crate::cluster_support::{empty_jar, TestCluster};
use crate::support::{free_port, python, repo, storm_bin, wait_until};

fn curl(url: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-m", "30", "-w", "\n%{http_code}", url])
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn exclamation_and_reach_on_the_cluster() {
    let (rpc, inv, http) = (free_port(), free_port(), free_port());
    let (rpc_s, inv_s, http_s) = (rpc.to_string(), inv.to_string(), http.to_string());
    let mut c = TestCluster::start(
        "drpc",
        &[
            ("drpc.servers", r#"["127.0.0.1"]"#),
            ("drpc.port", &rpc_s),
            ("drpc.invocations.port", &inv_s),
            ("drpc.http.port", &http_s),
            ("drpc.request.timeout.secs", "60"),
        ],
    );
    c.add_drpc();
    c.add_supervisor(2);
    c.add_supervisor(2);
    c.wait_supervisors(2);

    let jar = empty_jar(&c.dir);
    let mut b = TopologyBuilder::new();
    b.set_spout("drpc", DRPCSpout::new("exclamation"), 2);
    b.set_basic_bolt("exclaim", ExclaimBolt::failing_on("bad"), 3)
        .shuffle_grouping("drpc");
    b.set_bolt("return", ReturnResults::new(), 2)
        .shuffle_grouping("exclaim");
    let mut conf = TopologyConf::new();
    conf.set_num_workers(2);
    storm::submitter::submit_to_cluster(
        &c.conf(),
        "exclamation",
        &conf,
        &b.create_topology().unwrap(),
        &jar,
    )
    .unwrap();
    storm::submitter::submit_to_cluster(
        &c.conf(),
        "reach",
        &conf,
        &reach_builder().create_remote_topology().unwrap(),
        &jar,
    )
    .unwrap();

    // curl: the first answer waits for the workers to start.
    let mut answer = (0, String::new());
    wait_until(
        Duration::from_secs(90),
        "curl /drpc/exclamation/hello",
        || {
            answer = curl(&format!("http://127.0.0.1:{http}/drpc/exclamation/hello"));
            answer == (200, "hello!".to_string())
        },
    );
    let (status, body) = curl(&format!("http://127.0.0.1:{http}/drpc/exclamation/bad"));
    assert_eq!(status, 400, "a request failed inside the topology: {body}");

    // A Python Thrift client on drpc.port.
    let out = Command::new(python())
        .arg(repo().join("tests/python/drpc_client.py"))
        .args(["127.0.0.1", &rpc_s, "exclamation", "hello"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello!");

    // storm drpc-client.
    let out = Command::new(storm_bin())
        .arg("--config")
        .arg(&c.config)
        .args(["drpc-client", "-f", "exclamation", "hello"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "exclamation \"hello\" => \"hello!\"\n"
    );

    // Reach across workers.
    for url in [
        "foo.com/blog/1",
        "engineering.twitter.com/blog/5",
        "nobody.example/none",
    ] {
        let mut got = (0, String::new());
        wait_until(Duration::from_secs(90), &format!("reach of {url}"), || {
            got = curl(&format!("http://127.0.0.1:{http}/drpc/reach/{url}"));
            got.0 == 200
        });
        assert_eq!(got.1, expected_reach(url).to_string(), "{url}");
    }
}
