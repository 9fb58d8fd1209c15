//! Apache Storm 2.8.3's own Java clients against our daemons: the command classes behind `bin/storm`
//! (`org.apache.storm.command.*`, run with plain `java -cp`), `NimbusClient`'s every read call,
//! `DRPCClient.execute`, the blob store through `NimbusBlobStore` and `DependencyUploader`, and a
//! whole `StormSubmitter.submitTopology` with a `--jars` dependency. Storm's jars come from Maven
//! Central through `tests/java/storm-clients` (built by `scripts/test.sh`); the driver main
//! `org.stormrs.it.ClientChecks` prints one JSON line per call, which this test checks value by value.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use storm::drpc::topology::{DRPCSpout, ExclaimBolt, ReturnResults};
use storm::local::components::{ExclamationBolt, TestWordSpout};
use storm::prelude::*;
use storm::thrift::{ExecutorSpecificStats, LogLevelAction, TNimbusSyncClient, TopologyStatus};

use crate::cluster_support::TestCluster;
use crate::support::{free_port, repo, wait_until};

const LONG: Duration = Duration::from_secs(90);
const NAME: &str = "javaclients";

/// Storm's Java clients: the classpath of `tests/java/storm-clients` and a `storm.yaml` for them.
struct Java {
    classpath: String,
    yaml: PathBuf,
}

impl Java {
    fn new(c: &TestCluster, drpc_port: u16) -> Java {
        let project = repo().join("tests/java/storm-clients/target");
        let deps = std::fs::read_to_string(project.join("classpath.txt")).unwrap_or_else(|_| {
            panic!(
                "{} is missing: run scripts/test.sh (it builds tests/java/storm-clients with Maven)",
                project.join("classpath.txt").display()
            )
        });
        let jar = project.join("storm-clients-0.1.0.jar");
        assert!(
            jar.is_file(),
            "{} is missing: run scripts/test.sh",
            jar.display()
        );
        let conf = c.conf();
        let yaml = c.dir.join("storm.yaml");
        std::fs::write(
            &yaml,
            format!(
                "nimbus.seeds: [\"127.0.0.1\"]\nnimbus.thrift.port: {}\ndrpc.servers: [\"127.0.0.1\"]\n\
                 drpc.port: {drpc_port}\nstorm.zookeeper.servers: [\"127.0.0.1\"]\n\
                 storm.zookeeper.port: {}\nstorm.zookeeper.root: \"{}\"\n",
                c.nimbus_port,
                conf.get_port("storm.zookeeper.port").unwrap(),
                c.root
            ),
        )
        .unwrap();
        Java {
            classpath: format!("{}:{}", jar.display(), deps.trim()),
            yaml,
        }
    }

    fn command(&self, props: &[(&str, &str)], class: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("java");
        cmd.arg("-cp")
            .arg(&self.classpath)
            .arg(format!("-Dstorm.conf.file={}", self.yaml.display()));
        for (k, v) in props {
            cmd.arg(format!("-D{k}={v}"));
        }
        cmd.arg(class).args(args).stdin(Stdio::null());
        cmd
    }

    /// Runs a main class: (exit code, stdout, stderr).
    fn run(&self, class: &str, args: &[&str]) -> (i32, String, String) {
        self.run_with(&[], class, args)
    }

    fn run_with(
        &self,
        props: &[(&str, &str)],
        class: &str,
        args: &[&str],
    ) -> (i32, String, String) {
        let out = self
            .command(props, class, args)
            .output()
            .expect("run java (scripts/test.sh installs a JDK)");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs a Storm command class that must succeed; its stdout.
    fn ok(&self, c: &TestCluster, class: &str, args: &[&str]) -> String {
        let (code, out, err) = self.run(class, args);
        assert_eq!(
            code,
            0,
            "{class} {args:?} failed:\n{out}\n{err}\n{}",
            c.logs()
        );
        out
    }

    /// The driver's answers: call name → its JSON line.
    fn checks(&self, props: &[(&str, &str)], args: &[&str]) -> BTreeMap<String, Value> {
        let (code, out, err) = self.run_with(props, "org.stormrs.it.ClientChecks", args);
        assert_eq!(code, 0, "ClientChecks {args:?} failed:\n{out}\n{err}");
        out.lines()
            .filter(|l| {
                l.starts_with("{\"call\"")
                    || l.starts_with("{\"result\"")
                    || l.contains("\"call\":")
            })
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| Some((v.get("call")?.as_str()?.to_string(), v)))
            .collect()
    }
}

fn result<'a>(answers: &'a BTreeMap<String, Value>, call: &str) -> &'a Value {
    let line = answers
        .get(call)
        .unwrap_or_else(|| panic!("no answer for {call}: {answers:#?}"));
    assert!(line.get("error").is_none(), "{call} failed: {line}");
    &line["result"]
}

fn error<'a>(answers: &'a BTreeMap<String, Value>, call: &str) -> (&'a str, &'a str) {
    let line = answers
        .get(call)
        .unwrap_or_else(|| panic!("no answer for {call}: {answers:#?}"));
    (
        line["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{call} should fail: {line}")),
        line["message"].as_str().unwrap_or(""),
    )
}

/// An object's keys, sorted (Java's maps have no order).
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn empty_jar(dir: &Path, name: &str) -> PathBuf {
    let mut eocd = vec![0x50, 0x4b, 0x05, 0x06];
    eocd.extend([0u8; 18]);
    let p = dir.join(name);
    std::fs::write(&p, eocd).unwrap();
    p
}

/// Spout acks of topology `id` (every window summed) from our own Rust client.
fn spout_acked(c: &TestCluster, id: &str) -> i64 {
    let Ok(info) = c.nimbus_client().raw().get_topology_info(id.to_string()) else {
        return 0;
    };
    info.executors
        .iter()
        .filter_map(|e| e.stats.as_ref())
        .filter_map(|s| match &s.specific {
            ExecutorSpecificStats::Spout(sp) => {
                sp.acked.get(":all-time").map(|m| m.values().sum::<i64>())
            }
            ExecutorSpecificStats::Bolt(_) => None,
        })
        .sum()
}

fn words_emitted(c: &TestCluster, id: &str) -> i64 {
    let Ok(info) = c.nimbus_client().raw().get_topology_info(id.to_string()) else {
        return 0;
    };
    info.executors
        .iter()
        .filter(|e| e.component_id == "words")
        .filter_map(|e| e.stats.as_ref())
        .filter_map(|s| {
            s.emitted
                .get(":all-time")
                .and_then(|m| m.get("default"))
                .copied()
        })
        .sum()
}

fn status(c: &mut TestCluster, id: &str) -> Option<TopologyStatus> {
    c.storm_base(id).map(|b| b.status)
}

/// The file of blob `key` in nimbus's blob store (Storm's LocalFsBlobStore layout).
fn blob_file(c: &TestCluster, key: &str) -> PathBuf {
    let name = format!("data_{key}");
    let bucket = i64::from(storm::tuple::string_hash_code(&name)).abs() % 1024;
    c.nimbuses[0]
        .local_dir()
        .join("blobs")
        .join(bucket.to_string())
        .join(name)
        .join("data")
}

#[test]
fn storm_java_clients_against_our_daemons() {
    let (rpc, inv, http) = (free_port(), free_port(), free_port());
    let (rpc_s, inv_s, http_s) = (rpc.to_string(), inv.to_string(), http.to_string());
    let mut c = TestCluster::start(
        "javaclients",
        &[
            ("drpc.servers", r#"["127.0.0.1"]"#),
            ("drpc.port", &rpc_s),
            ("drpc.invocations.port", &inv_s),
            ("drpc.http.port", &http_s),
            ("drpc.request.timeout.secs", "60"),
        ],
    );
    c.add_drpc();
    c.add_supervisor(3);
    c.wait_supervisors(1);
    let java = Java::new(&c, rpc);

    // A DRPC chain (reliable: acks and complete latencies) and a word stream that never stops.
    let jar = empty_jar(&c.dir, "topology.jar");
    let mut b = TopologyBuilder::new();
    b.set_spout("drpc", DRPCSpout::new("exclamation"), 1);
    b.set_basic_bolt("exclaim", ExclaimBolt::failing_on("bad"), 2)
        .shuffle_grouping("drpc");
    b.set_bolt("return", ReturnResults::new(), 1)
        .shuffle_grouping("exclaim");
    b.set_spout("words", TestWordSpout::new(50), 1);
    b.set_bolt("shout", ExclamationBolt, 2)
        .shuffle_grouping("words");
    let mut conf = TopologyConf::new();
    conf.set_num_workers(2);
    storm::submitter::submit_to_cluster(
        &c.conf(),
        NAME,
        &conf,
        &b.create_topology().unwrap(),
        &jar,
    )
    .unwrap();
    let id = c.topology_id(NAME).expect("submitted");

    // DRPCClient.execute against our drpc daemon (the first answer waits for the workers).
    let mut last = BTreeMap::new();
    wait_until(LONG, "DRPCClient.execute(exclamation, hello)", || {
        last = java.checks(&[], &["drpc", "exclamation", "hello"]);
        last.get("drpc.execute").and_then(|l| l.get("result")) == Some(&Value::from("hello!"))
    });
    for arg in ["a", "b", "c"] {
        let a = java.checks(&[], &["drpc", "exclamation", arg]);
        assert_eq!(result(&a, "drpc.execute"), &Value::from(format!("{arg}!")));
    }
    let a = java.checks(&[], &["drpc", "exclamation", "bad"]);
    let (class, _) = error(&a, "drpc.execute");
    assert_eq!(
        class, "org.apache.storm.generated.DRPCExecutionException",
        "{a:?}"
    );

    // An error as a worker reports it (ZooKeeper `/errors`), for the error fields below.
    let before_error = now_secs();
    c.state()
        .report_error(
            &id,
            "exclaim",
            "127.0.0.1",
            6799,
            "java.lang.RuntimeException: boom",
        )
        .unwrap();
    wait_until(LONG, "spout acks and word stats in the heartbeats", || {
        spout_acked(&c, &id) >= 4 && words_emitted(&c, &id) > 0
    });

    // ListTopologies: Storm's own table.
    let out = java.ok(&c, "org.apache.storm.command.ListTopologies", &[]);
    let lines: Vec<&str> = out.lines().filter(|l| !l.contains(" INFO ")).collect();
    let header = lines
        .iter()
        .position(|l| l.starts_with("Topology_name"))
        .expect(&out);
    assert_eq!(
        lines[header],
        format!(
            "{:<20} {:<10} {:<10} {:<12} {:<12} {:<20} {:<20}",
            "Topology_name",
            "Status",
            "Num_tasks",
            "Num_workers",
            "Uptime_secs",
            "Topology_Id",
            "Owner"
        )
    );
    assert_eq!(lines[header + 1], "-".repeat(88));
    let row: Vec<&str> = lines[header + 2].split_whitespace().collect();
    assert_eq!(&row[..2], [NAME, "ACTIVE"], "{out}");
    assert_eq!(row[3], "2", "two workers: {out}");
    assert!(
        row[4].parse::<i64>().unwrap() < 600,
        "uptime in seconds: {out}"
    );
    assert_eq!(row[5], id);

    // Every read call of NimbusClient.
    let a = java.checks(&[], &["nimbus", NAME]);
    let cluster = result(&a, "getClusterInfo");
    let sup = &cluster["supervisors"][0];
    assert_eq!(sup["host"], "127.0.0.1");
    assert_eq!(sup["num_workers"], 3);
    assert_eq!(sup["num_used_workers"], 2);
    assert!(sup["uptime_secs"].as_i64().unwrap() < 600, "{sup}");
    assert!(sup["supervisor_id"].as_str().is_some_and(|s| !s.is_empty()));
    let topo = &cluster["topologies"][0];
    assert_eq!(topo["name"], NAME);
    assert_eq!(topo["num_workers"], 2);
    assert_eq!(topo["status"], "ACTIVE");
    let num_executors = topo["num_executors"].as_i64().unwrap();
    // drpc 1 + exclaim 2 + return 1 + words 1 + shout 2 + one acker per worker (Storm's default).
    assert_eq!(num_executors, 9, "{topo}");
    let num_tasks = topo["num_tasks"].as_i64().unwrap();
    assert_eq!(cluster["nimbuses"][0]["isLeader"], true);
    let leader = result(&a, "getLeader");
    assert_eq!(leader["host"], "127.0.0.1");
    assert_eq!(leader["port"], i64::from(c.nimbus_port));
    assert_eq!(leader["isLeader"], true);
    assert!(
        leader["uptime_secs"].as_i64().unwrap() < 600,
        "seconds since launch: {leader}"
    );
    let nimbus_conf: Value =
        serde_json::from_str(result(&a, "getNimbusConf").as_str().unwrap()).unwrap();
    assert_eq!(nimbus_conf["nimbus.thrift.port"], i64::from(c.nimbus_port));
    assert_eq!(
        result(&a, "getTopologySummaries")[0]["id"],
        Value::from(id.clone())
    );
    assert_eq!(result(&a, "isTopologyNameAllowed"), &Value::from(false));
    assert_eq!(
        result(&a, "isTopologyNameAllowed.fresh"),
        &Value::from(true)
    );
    assert_eq!(
        result(&a, "isTopologyNameAllowed.invalid"),
        &Value::from(false)
    );
    assert_eq!(
        error(&a, "getTopologySummaryByName.unknown").0,
        "org.apache.storm.generated.NotAliveException"
    );
    assert_eq!(
        result(&a, "getTopologySummaryByName")["owner"]
            .as_str()
            .map(str::is_empty),
        Some(false)
    );

    let info = result(&a, "getTopologyInfo");
    let executors = info["executors"].as_array().unwrap();
    assert_eq!(executors.len() as i64, num_executors);
    for e in executors {
        assert_eq!(e["host"], "127.0.0.1", "{e}");
        assert!(e["port"].as_i64().unwrap() > 0);
        assert!(e["uptime_secs"].as_i64().unwrap() < 600, "seconds: {e}");
        let start = e["executor_info"]["task_start"].as_i64().unwrap();
        assert!(start >= 1 && start <= e["executor_info"]["task_end"].as_i64().unwrap());
    }
    let components: std::collections::BTreeSet<&str> = executors
        .iter()
        .map(|e| e["component_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        components.into_iter().collect::<Vec<_>>(),
        ["__acker", "drpc", "exclaim", "return", "shout", "words"]
    );
    let drpc_exec = executors
        .iter()
        .find(|e| e["component_id"] == "drpc")
        .unwrap();
    let acked = &drpc_exec["stats"]["specific"]["spout"]["acked"];
    assert!(
        acked[":all-time"]["default"].as_i64().unwrap() >= 4,
        "{drpc_exec}"
    );
    assert!(
        acked["600"].is_object(),
        "the 10-minute window (the executor is younger): {acked}"
    );
    let err = &info["errors"]["exclaim"][0];
    assert_eq!(err["error"], "java.lang.RuntimeException: boom");
    assert_eq!(err["host"], "127.0.0.1");
    assert_eq!(err["port"], 6799);
    let t = err["error_time_secs"].as_i64().unwrap();
    assert!(
        (before_error - 1..=now_secs() + 1).contains(&t),
        "seconds: {err}"
    );
    assert!(info["uptime_secs"].as_i64().unwrap() < 600);
    assert_eq!(
        result(&a, "getTopologyInfoWithOpts.ONE")["errors"]["exclaim"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(
        result(&a, "getTopologyInfoWithOpts.NONE")["errors"]["exclaim"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        error(&a, "getTopologyInfo.unknown").0,
        "org.apache.storm.generated.NotAliveException"
    );

    for (window, sys) in [
        (":all-time", false),
        (":all-time", true),
        ("600", false),
        ("600", true),
    ] {
        let page = result(&a, &format!("getTopologyPageInfo.{window}.{sys}"));
        assert_eq!(page["id"], Value::from(id.clone()));
        assert_eq!(page["name"], NAME);
        assert_eq!(page["status"], "ACTIVE");
        assert_eq!(page["num_workers"], 2);
        assert_eq!(page["num_executors"].as_i64().unwrap(), num_executors);
        assert_eq!(page["num_tasks"].as_i64().unwrap(), num_tasks);
        assert!(page["uptime_secs"].as_i64().unwrap() < 600);
        assert_eq!(page["replication_count"], 1);
        let conf: Value = serde_json::from_str(page["topology_conf"].as_str().unwrap()).unwrap();
        assert_eq!(conf["topology.name"], NAME);
        assert_eq!(keys(&page["id_to_spout_agg_stats"]), ["drpc", "words"]);
        let mut bolts = vec!["exclaim", "return", "shout"];
        if sys {
            bolts.insert(0, "__acker");
        }
        assert_eq!(keys(&page["id_to_bolt_agg_stats"]), bolts, "{window} {sys}");
        let drpc = &page["id_to_spout_agg_stats"]["drpc"];
        assert_eq!(drpc["type"], "SPOUT");
        assert!(
            drpc["common_stats"]["acked"].as_i64().unwrap() >= 4,
            "{drpc}"
        );
        assert_eq!(drpc["common_stats"]["num_executors"], 1);
        assert!(
            drpc["specific_stats"]["spout"]["complete_latency_ms"]
                .as_f64()
                .unwrap()
                > 0.0
        );
        assert!(drpc["common_stats"]["resources_map"]["onheap.memory.mb"]
            .as_f64()
            .is_some());
        let exclaim = &page["id_to_bolt_agg_stats"]["exclaim"];
        assert_eq!(exclaim["common_stats"]["num_executors"], 2);
        assert_eq!(exclaim["common_stats"]["num_tasks"], 2);
        assert!(
            exclaim["specific_stats"]["bolt"]["executed"]
                .as_i64()
                .unwrap()
                >= 5,
            "{exclaim}"
        );
        assert!(exclaim["specific_stats"]["bolt"]["capacity"]
            .as_f64()
            .is_some());
        assert_eq!(exclaim["last_error"]["port"], 6799);
        let words = &page["id_to_spout_agg_stats"]["words"];
        assert!(
            words["common_stats"]["emitted"].as_i64().unwrap() > 0,
            "{words}"
        );
        let stats = &page["topology_stats"];
        for w in [":all-time", "600"] {
            assert!(
                stats["window_to_emitted"][w].as_i64().unwrap() > 0,
                "{w}: {stats}"
            );
            assert!(
                stats["window_to_acked"][w].as_i64().unwrap() >= 4,
                "{w}: {stats}"
            );
            assert!(
                stats["window_to_complete_latencies_ms"][w]
                    .as_f64()
                    .unwrap()
                    > 0.0,
                "{w}: {stats}"
            );
        }
        let workers = page["workers"].as_array().unwrap();
        assert_eq!(workers.len(), 2, "{page}");
        let tasks_on_workers: i64 = workers
            .iter()
            .flat_map(|w| w["component_to_num_tasks"].as_object().unwrap().values())
            .map(|n| n.as_i64().unwrap())
            .sum();
        let acker_tasks = 2;
        assert_eq!(
            tasks_on_workers,
            if sys {
                num_tasks
            } else {
                num_tasks - acker_tasks
            }
        );
        for w in workers {
            assert_eq!(w["topology_id"], Value::from(id.clone()));
            assert_eq!(w["host"], "127.0.0.1");
            assert!(w["uptime_secs"].as_i64().unwrap() < 600);
        }
    }
    let user = result(&a, "getUserTopology");
    assert_eq!(keys(&user["spouts"]), ["drpc", "words"]);
    assert_eq!(keys(&user["bolts"]), ["exclaim", "return", "shout"]);
    let system = result(&a, "getTopology");
    assert!(
        keys(&system["bolts"]).contains(&"__acker".to_string()),
        "{system}"
    );
    let topo_conf: Value =
        serde_json::from_str(result(&a, "getTopologyConf").as_str().unwrap()).unwrap();
    assert_eq!(topo_conf["storm.id"], Value::from(id.clone()));

    let page = result(&a, "getComponentPageInfo.exclaim");
    assert_eq!(page["component_type"], "BOLT");
    assert_eq!(page["topology_name"], NAME);
    assert_eq!(page["topology_status"], "ACTIVE");
    assert_eq!(page["num_executors"], 2);
    assert_eq!(page["exec_stats"].as_array().unwrap().len(), 2);
    assert_eq!(page["exec_stats"][0]["exec_summary"]["host"], "127.0.0.1");
    assert_eq!(page["errors"][0]["port"], 6799);
    assert!(keys(&page["window_to_stats"]).contains(&":all-time".to_string()));
    let inputs = keys(&page["gsid_to_input_stats"]);
    assert!(inputs.iter().any(|k| k.contains("drpc")), "{inputs:?}");
    assert!(keys(&page["sid_to_output_stats"]).contains(&"default".to_string()));
    let page = result(&a, "getComponentPageInfo.drpc");
    assert_eq!(page["component_type"], "SPOUT");
    assert!(
        page["sid_to_output_stats"]["default"]["common_stats"]["acked"]
            .as_i64()
            .unwrap()
            >= 4
    );
    assert!(
        page["gsid_to_input_stats"].is_null(),
        "spouts have no inputs"
    );
    let hidden = result(&a, "getComponentPageInfo.__acker");
    assert_eq!(
        hidden["num_executors"], 0,
        "system components only with is_include_sys"
    );
    let acker = result(&a, "getComponentPageInfo.__acker.sys");
    assert_eq!(acker["num_executors"], 2);
    assert!(keys(&acker["window_to_stats"]).contains(&"600".to_string()));

    for call in ["getSupervisorPageInfo.id", "getSupervisorPageInfo.host"] {
        let page = result(&a, call);
        assert_eq!(
            page["supervisor_summaries"].as_array().unwrap().len(),
            1,
            "{call}"
        );
        let workers = page["worker_summaries"].as_array().unwrap();
        assert_eq!(workers.len(), 2, "{call}: {page}");
        assert_eq!(workers[0]["topology_name"], NAME);
    }
    assert!(result(&a, "getLogConfig")["named_logger_level"].is_null());

    // SetLogLevel: Storm's LogConfig in /logconfigs/<id>, timeouts in epoch milliseconds.
    let t0 = now_secs() * 1000;
    java.ok(
        &c,
        "org.apache.storm.command.SetLogLevel",
        &["-l", "ROOT=DEBUG:30", "-l", "org.foo=WARN", NAME],
    );
    let lc = c
        .state()
        .topology_log_config(&id, false)
        .unwrap()
        .expect("/logconfigs/<id>");
    let levels = lc.named_logger_level.unwrap();
    let root = &levels["ROOT"];
    assert_eq!(root.action, LogLevelAction::UPDATE);
    assert_eq!(root.target_log_level.as_deref(), Some("DEBUG"));
    assert_eq!(root.reset_log_level_timeout_secs, Some(30));
    let epoch = root.reset_log_level_timeout_epoch.unwrap();
    assert!(
        (t0 + 29_000..t0 + 40_000).contains(&epoch),
        "epoch ms: {epoch}"
    );
    assert_eq!(levels["org.foo"].reset_log_level_timeout_epoch, None);
    java.ok(
        &c,
        "org.apache.storm.command.SetLogLevel",
        &["-r", "org.foo", NAME],
    );
    let levels = c
        .state()
        .topology_log_config(&id, false)
        .unwrap()
        .unwrap()
        .named_logger_level
        .unwrap();
    assert_eq!(levels.keys().collect::<Vec<_>>(), ["ROOT"]);
    assert_eq!(levels["ROOT"].action, LogLevelAction::UNCHANGED);

    // Deactivate / Activate.
    java.ok(&c, "org.apache.storm.command.Deactivate", &[NAME]);
    assert_eq!(status(&mut c, &id), Some(TopologyStatus::INACTIVE));
    let out = java.ok(&c, "org.apache.storm.command.ListTopologies", &[]);
    assert!(
        out.lines()
            .any(|l| l.starts_with(NAME) && l.contains("INACTIVE")),
        "{out}"
    );
    java.ok(&c, "org.apache.storm.command.Activate", &[NAME]);
    assert_eq!(status(&mut c, &id), Some(TopologyStatus::ACTIVE));

    // GetErrors: Storm's JSON.
    let out = java.ok(&c, "org.apache.storm.command.GetErrors", &[NAME]);
    let line = out.lines().find(|l| l.starts_with('{')).expect(&out);
    let json: Value = serde_json::from_str(line).unwrap();
    assert_eq!(json["Topology Name"], NAME);
    assert_eq!(
        json["Comp-Errors"]["exclaim"],
        "java.lang.RuntimeException: boom"
    );
    let out = java.ok(&c, "org.apache.storm.command.GetErrors", &["nope"]);
    assert!(
        out.contains(r#"{"Failure":"No topologies running with name nope"}"#),
        "{out}"
    );

    // Monitor: a few 1-second intervals of Storm's tab-separated rows, then stopped.
    let mut child = java
        .command(
            &[],
            "org.apache.storm.command.Monitor",
            &["-m", "words", "-i", "1", NAME],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut rows = Vec::new();
    let mut header = None;
    let deadline = Instant::now() + LONG;
    while rows.len() < 3 && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) {
            if line.starts_with("topology\t") {
                header = Some(line);
            } else if line.starts_with(&format!("{NAME}\t")) {
                rows.push(line);
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        header.as_deref(),
        Some("topology\tcomponent\tparallelism\tstream\ttime-diff ms\temitted\tthroughput (Kt/s)")
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    for r in &rows[1..] {
        let f: Vec<&str> = r.split('\t').collect();
        assert_eq!(&f[..4], [NAME, "words", "1", "default"], "{r}");
        let diff: i64 = f[4].parse().unwrap();
        assert!(
            (500..3000).contains(&diff),
            "milliseconds between polls: {r}"
        );
    }

    // The blob store through NimbusBlobStore and DependencyUploader.
    let dep = c.dir.join("dependency.jar");
    std::fs::write(&dep, b"PK\x05\x06 storm-rs dependency bytes").unwrap();
    let a = java.checks(&[], &["blobs", dep.to_str().unwrap()]);
    assert_eq!(
        error(&a, "getBlobMeta.missing").0,
        "org.apache.storm.generated.KeyNotFoundException"
    );
    assert_eq!(
        error(&a, "createBlob.again").0,
        "org.apache.storm.generated.KeyAlreadyExistsException"
    );
    let meta = result(&a, "getBlobMeta");
    assert_eq!(meta["settable"]["acl"][0]["access"], 7);
    let got = result(&a, "getBlob");
    assert_eq!(got["content"], got["expected"]);
    assert_eq!(got["version"], meta["version"]);
    assert_eq!(result(&a, "getBlob.updated"), &Value::from("updated"));
    assert_eq!(
        error(&a, "getBlobMeta.cancelled").0,
        "org.apache.storm.generated.KeyNotFoundException"
    );
    assert!(result(&a, "listKeys")
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k.as_str().unwrap().starts_with("stormrs-roundtrip-")));
    assert_eq!(result(&a, "getBlobReplication"), &Value::from(1));
    assert!(error(&a, "updateBlobReplication")
        .1
        .contains("local file system blob store"));
    assert_eq!(result(&a, "isRemoteBlobExists"), &Value::from(true));
    assert!(
        error(&a, "createBlob.badKey")
            .1
            .contains("bad/key does not appear to be a valid blob key"),
        "{a:?}"
    );
    assert_eq!(result(&a, "deleteBlob"), &Value::from("deleted"));
    assert_eq!(
        result(&a, "isRemoteBlobExists.deleted"),
        &Value::from(false)
    );
    assert_eq!(
        error(&a, "deleteBlob.again").0,
        "org.apache.storm.generated.KeyNotFoundException"
    );
    let uploaded = result(&a, "DependencyUploader.uploadFiles")[0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        uploaded.starts_with("dep-dependency-") && uploaded.ends_with(".jar"),
        "{uploaded}"
    );
    assert_eq!(
        std::fs::read(blob_file(&c, &uploaded)).unwrap(),
        std::fs::read(&dep).unwrap()
    );
    let artifact = result(&a, "DependencyUploader.uploadArtifacts")[0]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(artifact, "dep-org.stormrs-demo-1.0.jar");
    assert_eq!(
        result(&a, "DependencyUploader.uploadArtifacts.again")[0],
        Value::from(artifact.clone())
    );
    assert!(blob_file(&c, &artifact).is_file());

    // StormSubmitter.submitTopology as `storm jar --jars` runs it: the jar and the dependency go up,
    // the dependency as a blob whose key the topology carries; supervisors download it by key.
    let mut b = TopologyBuilder::new();
    b.set_spout("words", TestWordSpout::new(200), 1);
    b.set_bolt("shout", ExclamationBolt, 1)
        .shuffle_grouping("words");
    let topology_file = c.dir.join("submitted.topology");
    let mut topology = b.create_topology().unwrap();
    // StormSubmitter stamps its own versions (Utils.addVersions) on a topology without them.
    topology.storm_version = None;
    topology.jdk_version = None;
    std::fs::write(&topology_file, storm::thrift::serialize(&topology)).unwrap();
    let submit_jar = empty_jar(&c.dir, "submitted.jar");
    let a = java.checks(
        &[
            ("storm.jar", submit_jar.to_str().unwrap()),
            ("storm.dependency.jars", dep.to_str().unwrap()),
        ],
        &["submit", "javasubmit", topology_file.to_str().unwrap()],
    );
    assert_eq!(
        result(&a, "StormSubmitter.submitTopology"),
        &Value::from("submitted")
    );
    let submitted = result(&a, "submitted.id").as_str().unwrap().to_string();
    let deps = result(&a, "getUserTopology.submitted")["dependency_jars"].clone();
    let key = deps[0].as_str().unwrap().to_string();
    assert!(key.starts_with("dep-dependency-"), "{deps}");
    assert_eq!(
        result(&a, "getUserTopology.submitted")["storm_version"],
        "2.8.3"
    );
    assert_eq!(
        std::fs::read(blob_file(&c, &key)).unwrap(),
        std::fs::read(&dep).unwrap()
    );
    // The topology's code is three blobs too (Storm's keys).
    for suffix in ["-stormjar.jar", "-stormcode.ser", "-stormconf.ser"] {
        assert!(
            blob_file(&c, &format!("{submitted}{suffix}")).is_file(),
            "{suffix}"
        );
    }
    assert_eq!(
        std::fs::read(blob_file(&c, &format!("{submitted}-stormjar.jar"))).unwrap(),
        std::fs::read(&submit_jar).unwrap()
    );
    assert!(
        error(&a, "StormSubmitter.submitTopology.again")
            .1
            .contains("already exists"),
        "{a:?}"
    );
    assert_eq!(
        error(&a, "getBlobMeta.unknown").0,
        "org.apache.storm.generated.KeyNotFoundException"
    );
    let sup_dist = c.supervisors[0]
        .local_dir()
        .join("supervisor/stormdist")
        .join(&submitted);
    wait_until(LONG, "the supervisor to download the dependency", || {
        std::fs::read(sup_dist.join("dependencies").join(&key))
            .is_ok_and(|b| b == std::fs::read(&dep).unwrap())
    });
    java.ok(
        &c,
        "org.apache.storm.command.KillTopology",
        &["-w", "0", "javasubmit"],
    );
    wait_until(LONG, "javasubmit to be removed", || {
        c.storm_base(&submitted).is_none()
    });

    // Rebalance -w -n -e.
    java.ok(
        &c,
        "org.apache.storm.command.Rebalance",
        &["-w", "1", "-n", "1", "-e", "shout=3", NAME],
    );
    assert_eq!(status(&mut c, &id), Some(TopologyStatus::REBALANCING));
    wait_until(
        LONG,
        "the rebalanced assignment (1 worker, 3 shout executors)",
        || {
            let base = c.storm_base(&id);
            c.slots(&id).len() == 1
                && base.is_some_and(|b| {
                    b.status == TopologyStatus::ACTIVE
                        && b.num_workers == 1
                        && b.component_executors
                            .as_ref()
                            .and_then(|m| m.get("shout").copied())
                            == Some(3)
                })
        },
    );

    // A method storm-rs does not serve: a TApplicationException with a clear message, and the same
    // connection answers the next call.
    let a = java.checks(&[], &["unsupported"]);
    let (class, msg) = error(&a, "uploadNewCredentials");
    assert_eq!(class, "org.apache.storm.thrift.TApplicationException");
    assert_eq!(msg, "uploadNewCredentials is not supported by storm-rs yet");
    // The UI's calls: the running topology is in the history and its owner's summary.
    let history = result(&a, "getTopologyHistory").to_string();
    assert!(history.contains(&id), "{history}");
    let owners = result(&a, "getOwnerResourceSummaries").to_string();
    assert!(owners.contains("total_topologies"), "{owners}");
    assert_eq!(result(&a, "getLeader")["isLeader"], true);

    // KillTopology -w: KILLED now, gone after the wait.
    let out = java.ok(
        &c,
        "org.apache.storm.command.KillTopology",
        &["-w", "2", NAME],
    );
    assert!(out.contains(&format!("Killed topology: {NAME}")), "{out}");
    assert_eq!(status(&mut c, &id), Some(TopologyStatus::KILLED));
    wait_until(LONG, "ListTopologies to show no topology", || {
        java.run("org.apache.storm.command.ListTopologies", &[])
            .1
            .contains("No topologies running.")
    });
}

/// Deterministic pseudo-random bytes (xorshift), so a corrupted or reordered chunk shows.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// `storm blobstore …` (ours) and Storm 2.8.3's own `org.apache.storm.command.Blobstore` against our
/// nimbus, crossing each other: a 50 MB blob created by one and read back byte-exact by the other,
/// updated, listed with versions and ACLs, replication read, deleted.
#[test]
fn blobstore_commands_ours_and_storms_round_trip_a_50mb_blob() {
    let c = TestCluster::start("blobstore-cli", &[]);
    let java = Java::new(&c, free_port());
    let blobstore = "org.apache.storm.command.Blobstore";
    let ours = |args: &[&str]| {
        let mut all = vec!["blobstore"];
        all.extend_from_slice(args);
        crate::java_support::storm_cli(&c, &all)
    };
    let file = |name: &str| c.dir.join(name).to_str().unwrap().to_string();

    let big = noise(50 << 20, 0x5eed);
    std::fs::write(file("big.bin"), &big).unwrap();
    let (code, out, err) = ours(&["create", "-f", &file("big.bin"), "-a", "u:alice:rwa", "big"]);
    assert_eq!(code, 0, "{out}\n{err}\n{}", c.logs());
    assert!(out.contains("Successfully created big"), "{out}");

    // Storm's command reads it back, byte-exact.
    java.ok(&c, blobstore, &["cat", "-f", &file("big.java.out"), "big"]);
    assert!(
        std::fs::read(file("big.java.out")).unwrap() == big,
        "Storm's Blobstore cat differs from what storm blobstore create uploaded"
    );
    let (code, listed, _) = ours(&["list"]);
    assert_eq!(code, 0);
    let row = listed
        .lines()
        .find(|l| l.starts_with("big "))
        .unwrap_or_else(|| panic!("{listed}"));
    let fields: Vec<&str> = row.splitn(3, ' ').collect();
    let v1: i64 = fields[1].parse().unwrap();
    // Storm normalizes an unauthenticated caller's ACL: others get every right.
    assert_eq!(fields[2], "[u:alice:rwa, o::rwa]", "{row}");

    // Storm's command updates it; ours reads the new content, with a new version.
    let big2 = noise(50 << 20, 0xfeed);
    std::fs::write(file("big2.bin"), &big2).unwrap();
    java.ok(&c, blobstore, &["update", "-f", &file("big2.bin"), "big"]);
    let (code, out, err) = ours(&["cat", "-f", &file("big.ours.out"), "big"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        std::fs::read(file("big.ours.out")).unwrap() == big2,
        "storm blobstore cat differs from what Storm's Blobstore update uploaded"
    );
    let (_, listed, _) = ours(&["list", "big"]);
    let v2: i64 = listed.split(' ').nth(1).unwrap().parse().unwrap();
    assert_ne!(v1, v2, "the version changes with the content");

    // A small blob made by Storm's command, read by ours on stdout; ACL changes seen by Storm's list.
    std::fs::write(file("small.txt"), b"hello blobs\n").unwrap();
    java.ok(
        &c,
        blobstore,
        &["create", "-f", &file("small.txt"), "small"],
    );
    let (code, out, _) = ours(&["cat", "small"]);
    assert_eq!((code, out.as_str()), (0, "hello blobs\n"));
    let (code, out, err) = ours(&["set-acl", "-s", "u:bob:r--,o::rwa", "small"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = java.run(blobstore, &["list", "small"]);
    assert_eq!(code, 0, "{err}");
    let all = format!("{out}{err}");
    assert!(
        all.lines()
            .any(|l| l.contains("small ") && l.contains("[u:bob:r--, o::rwa]")),
        "{all}"
    );
    let (code, out, _) = ours(&["replication", "--read", "small"]);
    assert_eq!((code, out.trim()), (0, "Current replication factor 1"));

    // Errors: a bad ACL, a missing key, an existing key — one clear line each.
    let (code, _, err) = ours(&["create", "-a", "u:carol:rwx", "x"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("bad blob ACL") && err.contains("u:alice:rwa"),
        "{err}"
    );
    let (code, _, err) = ours(&["cat", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("KeyNotFoundException: nope"), "{err}");
    let (code, _, err) = ours(&["create", "-f", &file("small.txt"), "small"]);
    assert_eq!(code, 1);
    assert!(err.contains("KeyAlreadyExistsException: small"), "{err}");

    // Deleted by each; nothing listed after.
    java.ok(&c, blobstore, &["delete", "big"]);
    let (code, out, _) = ours(&["delete", "small"]);
    assert_eq!((code, out.trim()), (0, "deleted small"));
    let (code, listed, _) = ours(&["list"]);
    assert_eq!((code, listed.as_str()), (0, ""));
}
