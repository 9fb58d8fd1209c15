//! The `ui` daemon against a live cluster (real ZooKeeper, nimbus, a supervisor and its workers):
//! Storm's REST API field by field, with values checked against what the topology itself counted
//! (`LedgerSpout` logs every ack), the POST actions checked through ZooKeeper and `storm list`,
//! Storm's error objects, JSONP and exact content types; the same API read by `curl` and by a
//! Prometheus-exporter-style Python `requests` client; and the web pages in headless Chromium driven
//! by Selenium (tests/python/ui_browser.py), which also kills a topology through the Kill button.
//!
//! A second test runs a UI with no nimbus to talk to and throws bad requests at it.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use storm::api::{TopologyBuilder, TopologyConf};
use storm::local::components::SplitSentence;
use storm::local::durable::{expected_counts, ledger, CountFileSink, LedgerSpout};
use storm::thrift::{StormTopology, TNimbusSyncClient, TopologyStatus};

use crate::cluster_support::TestCluster;
use crate::support::{
    assert_http_header_bound, free_port, python, repo, scratch_dir, storm, wait_until,
};

const LONG: Duration = Duration::from_secs(120);
const JSON_TYPE: &str = "application/json;charset=utf-8";

/// An HTTP answer.
struct Reply {
    status: u16,
    content_type: String,
    cache_control: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

struct Ui {
    base: String,
    client: reqwest::blocking::Client,
}

impl Ui {
    fn new(port: u16) -> Ui {
        Ui {
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    fn send(&self, req: reqwest::blocking::RequestBuilder) -> Reply {
        let r = req.send().expect("the UI answers");
        let header = |n: &str| {
            r.headers()
                .get(n)
                .map(|v| v.to_str().unwrap_or("").to_string())
                .unwrap_or_default()
        };
        let (content_type, cache_control) = (header("content-type"), header("cache-control"));
        Reply {
            status: r.status().as_u16(),
            content_type,
            cache_control,
            body: r.text().unwrap(),
        }
    }

    fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(format!("{}{path}", self.base)))
    }

    fn post(&self, path: &str, body: Option<Value>) -> Reply {
        let mut req = self.client.post(format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        self.send(req)
    }

    /// GET `path`, which must answer 200 with Storm's JSON headers.
    fn json(&self, path: &str) -> Value {
        let r = self.get(path);
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        assert_eq!(r.content_type, JSON_TYPE, "GET {path}");
        assert_eq!(r.cache_control, "no-cache, no-store", "GET {path}");
        r.json()
    }

    /// POST `path`, which must answer 200 with Storm's operation object.
    fn act(&self, path: &str, body: Option<Value>, id: &str, op: &str) {
        let r = self.post(path, body);
        assert_eq!(r.status, 200, "POST {path}: {}", r.body);
        assert_eq!(r.content_type, JSON_TYPE);
        assert_eq!(
            r.json(),
            json!({"topologyOperation": op, "topologyId": id, "status": "success"})
        );
    }
}

/// Storm's error object for a failed request.
fn assert_error(r: &Reply, status: u16, message: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.content_type, JSON_TYPE);
    let v = r.json();
    let reason = match status {
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        _ => "Server Error",
    };
    assert_eq!(v["error"], format!("{status} {reason}"), "{v}");
    let got = v["errorMessage"].as_str().unwrap_or("");
    assert!(
        got.contains(message),
        "errorMessage {got:?} lacks {message:?}"
    );
}

use crate::cluster_support::empty_jar;

fn word_count(data: &Path, limit: i64, interval_ms: u64) -> StormTopology {
    let mut b = TopologyBuilder::new();
    b.set_spout("spout", LedgerSpout::new(data, limit, interval_ms), 2);
    b.set_basic_bolt("split", SplitSentence::default(), 2)
        .shuffle_grouping("spout");
    b.set_basic_bolt("count", CountFileSink::new(data), 2)
        .fields_grouping("split", ["word"]);
    b.create_topology().unwrap()
}

fn submit(c: &TestCluster, name: &str, topology: &StormTopology, workers: u32) {
    let mut conf = TopologyConf::new();
    conf.set_num_workers(workers)
        .set_max_spout_pending(200)
        // Every tuple timed: the latencies are exact too, whatever sampling the stats use.
        .set("topology.stats.sample.rate", 1.0);
    storm::submitter::submit_to_cluster(&c.conf(), name, &conf, topology, &empty_jar(&c.dir))
        .unwrap_or_else(|e| panic!("submit {name}: {e}\n{}", c.logs()));
}

/// Lines in the spouts' `.acked` logs: one per ack the spouts received (replays included).
fn acked_lines(data: &Path) -> i64 {
    let mut n = 0;
    for e in std::fs::read_dir(data).into_iter().flatten().flatten() {
        if e.path().extension().is_some_and(|x| x == "acked") {
            n += std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .lines()
                .filter(|l| !l.trim().is_empty())
                .count() as i64;
        }
    }
    n
}

fn is_float_string(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.split_once('.')
            .is_some_and(|(i, f)| !i.is_empty() && f.len() == 3 && s.parse::<f64>().is_ok())
    })
}

fn find<'a>(list: &'a Value, key: &str, id: &str) -> &'a Value {
    list.as_array()
        .and_then(|a| a.iter().find(|x| x[key] == id))
        .unwrap_or_else(|| panic!("no {key} = {id} in {list}"))
}

/// The window entry `w` of a list of per-window stats.
fn window<'a>(list: &'a Value, w: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|x| x["window"] == w)
}

/// Runs a Python script of tests/python with the test virtualenv, killing it after `deadline`.
fn run_python(script: &str, args: &[&str], deadline: Duration) -> (bool, String, String) {
    let mut child = Command::new(python())
        .arg(repo().join("tests/python").join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("run python");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if started.elapsed() > deadline {
            // The whole group: Python, chromedriver and Chromium.
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    (status.is_some_and(|s| s.success()), out, err)
}

#[test]
fn ui_serves_storms_rest_api_and_pages_for_a_live_cluster() {
    let mut c = TestCluster::start("ui", &[]);
    c.add_supervisor(3);
    c.wait_supervisors(1);
    let port = c.add_ui(&[]);
    let ui = Ui::new(port);
    let conf = c.conf();
    let logviewer = conf.get_i64("logviewer.port").unwrap();

    // "wc" stops after a known number of sentences, so its counts come to rest; "live" keeps going.
    let data = c.dir.join("data");
    let limit = 300;
    submit(&c, "wc", &word_count(&data, limit, 0), 2);
    let live_data = c.dir.join("live");
    submit(&c, "live", &word_count(&live_data, 1_000_000_000, 5), 1);
    let id = c.topology_id("wc").expect("wc is in /storms");
    let live = c.topology_id("live").expect("live is in /storms");
    wait_until(LONG, "every sentence of wc to be acked", || {
        let (emitted, acked) = ledger(&data);
        emitted.len() as i64 == 2 * limit && emitted.is_subset(&acked)
    });
    let acks = acked_lines(&data);

    // The topology is at rest once every sentence is acked. Its stats in :all-time then come to
    // exactly what the components counted themselves, as soon as the workers' next heartbeats
    // (every task.heartbeat.frequency.secs = 1 s) carry the last counts: every count is exact (no
    // sampling of counts; the sample rate is 1 anyway) and nothing is in flight, so the margin is
    // zero. The spouts logged each ack; each count task wrote how many words it executed (its
    // executed count of the topology page also has the tick tuples it gets from __system, so the
    // words are compared with its input from split on the component page).
    let mut page = Value::Null;
    let mut counted = 0;
    let ok = crate::support::wait_until_ok(LONG, || {
        page = ui.json(&format!("/api/v1/topology/{id}"));
        let cb = ui.json(&format!("/api/v1/topology/{id}/component/count"));
        counted = storm::local::durable::read_counts(&data)
            .values()
            .sum::<i64>();
        let spout = find(&page["spouts"], "spoutId", "spout");
        let split = find(&page["bolts"], "boltId", "split");
        spout["acked"] == acks
            && split["executed"] == spout["transferred"]
            && find(&cb["inputStats"], "component", "split")["executed"] == counted
    });
    assert!(
        ok,
        "the stats never came to the counts (spout acked {acks}, count executed {counted}): {}\n{}",
        page,
        c.logs()
    );

    // ---- /topology/<id> ----
    assert_eq!(page["id"], id.as_str());
    assert_eq!(page["encodedId"], id.as_str());
    assert_eq!(page["name"], "wc");
    assert_eq!(page["status"], "ACTIVE");
    assert_eq!(page["window"], ":all-time");
    assert_eq!(page["windowHint"], "All time");
    assert_eq!(page["msgTimeout"], 10);
    assert_eq!(page["workersTotal"], 2);
    assert_eq!(page["debug"], false);
    assert_eq!(page["samplingPct"], json!(10.0));
    assert!(page["uptimeSeconds"].is_i64());
    assert!(page["uptime"].is_string());
    assert_eq!(page["configuration"]["topology.message.timeout.secs"], 10);
    assert_eq!(page["configuration"]["topology.workers"], 2);
    let info = c
        .nimbus_client()
        .raw()
        .get_topology_info(id.clone())
        .unwrap();
    assert_eq!(page["executorsTotal"], info.executors.len());
    let all = window(&page["topologyStats"], ":all-time").expect(":all-time stats");
    assert_eq!(all["acked"], acks);
    assert_eq!(all["windowPretty"], "All time");
    assert!(is_float_string(&all["completeLatency"]), "{all}");
    assert!(all["emitted"].as_i64().unwrap() >= 2 * limit);
    // Rolling windows: only those nimbus reports; a window never counts more than all time.
    for w in page["topologyStats"].as_array().unwrap() {
        let name = w["window"].as_str().unwrap();
        assert!(
            ["600", "10800", "86400", ":all-time"].contains(&name),
            "{w}"
        );
        assert!(w["acked"].as_i64().unwrap() <= acks, "{w}");
        assert!(w["emitted"].as_i64().unwrap() <= all["emitted"].as_i64().unwrap());
    }
    let spout = find(&page["spouts"], "spoutId", "spout");
    assert_eq!(spout["executors"], 2);
    assert_eq!(spout["tasks"], 2);
    assert_eq!(spout["failed"], 0);
    assert!(is_float_string(&spout["completeLatency"]));
    assert!(
        spout["completeLatency"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            > 0.0
    );
    assert_eq!(spout["lastError"], "");
    assert_eq!(spout["errorPort"], Value::Null);
    assert_eq!(spout["errorTime"], Value::Null);
    assert_eq!(spout["requestedMemOnHeap"], json!(128.0));
    let split = find(&page["bolts"], "boltId", "split");
    let count = find(&page["bolts"], "boltId", "count");
    for b in [split, count] {
        for k in ["capacity", "executeLatency", "processLatency"] {
            assert!(is_float_string(&b[k]), "{k}: {b}");
        }
        assert_eq!(b["executors"], 2);
        assert_eq!(b["acked"], b["executed"], "{b}");
    }
    // Every sentence the spouts transferred was executed once by split (shuffle: one task each);
    // every word reached count at least once.
    assert_eq!(split["executed"], spout["transferred"]);
    let words: i64 = expected_counts(limit, 2).values().sum();
    assert!(count["executed"].as_i64().unwrap() >= words, "{count}");
    assert!(page.get("__acker").is_none());
    assert!(page["bolts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|b| !b["boltId"].as_str().unwrap().starts_with("__")));
    let with_sys = ui.json(&format!("/api/v1/topology/{id}?sys=true"));
    assert!(with_sys["bolts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["boltId"] == "__acker"));
    // Workers, with Storm's logviewer links.
    let slots: BTreeSet<(String, i64)> = c.slots(&id).into_iter().collect();
    assert_eq!(page["workers"].as_array().unwrap().len(), 2);
    for w in page["workers"].as_array().unwrap() {
        let p = w["port"].as_i64().unwrap();
        assert!(slots.contains(&(w["supervisorId"].as_str().unwrap().to_string(), p)));
        assert_eq!(w["topologyId"], id.as_str());
        assert_eq!(
            w["workerLogLink"],
            format!("http://127.0.0.1:{logviewer}/api/v1/log?file={id}%2F{p}%2Fworker.log")
        );
        assert!(w["componentNumTasks"].is_object());
    }
    let w600 = ui.json(&format!("/api/v1/topology/{id}?window=600"));
    assert_eq!(w600["window"], "600");
    assert_eq!(w600["windowHint"], "10m 0s");
    assert!(
        find(&w600["spouts"], "spoutId", "spout")["acked"]
            .as_i64()
            .unwrap()
            <= acks
    );

    // ---- cluster, nimbus, supervisors, topologies ----
    let cluster = ui.json("/api/v1/cluster/summary");
    assert_eq!(cluster["stormVersion"], storm::STORM_VERSION);
    assert_eq!(cluster["supervisors"], 1);
    assert_eq!(cluster["topologies"], 2);
    assert_eq!(cluster["slotsTotal"], 3);
    assert_eq!(cluster["slotsUsed"], 3);
    assert_eq!(cluster["slotsFree"], 0);
    let ci = c.cluster_info();
    let executors: i64 = ci
        .topologies
        .iter()
        .map(|t| i64::from(t.num_executors))
        .sum();
    let tasks: i64 = ci.topologies.iter().map(|t| i64::from(t.num_tasks)).sum();
    assert_eq!(cluster["executorsTotal"], executors);
    assert_eq!(cluster["tasksTotal"], tasks);
    assert_eq!(cluster["totalMem"], json!(4096.0));
    assert_eq!(cluster["totalCpu"], json!(400.0));
    assert!(cluster["memAssignedPercentUtil"].is_string());
    let nimbuses = ui.json("/api/v1/nimbus/summary");
    let n = &nimbuses["nimbuses"][0];
    assert_eq!(nimbuses["nimbuses"].as_array().unwrap().len(), 1);
    assert_eq!(n["status"], "Leader");
    assert_eq!(n["host"], "127.0.0.1");
    assert_eq!(n["port"], c.nimbus_port);
    assert_eq!(n["version"], storm::STORM_VERSION);
    assert!(n["nimbusUpTimeSeconds"].is_i64());
    assert_eq!(
        n["nimbusLogLink"],
        format!("http://127.0.0.1:{logviewer}/api/v1/daemonlog?file=nimbus.log")
    );
    let sups = ui.json("/api/v1/supervisor/summary");
    let sid = ci.supervisors[0].supervisor_id.clone();
    let s = &sups["supervisors"][0];
    assert_eq!(s["id"], sid.as_str());
    assert_eq!(s["host"], "127.0.0.1");
    assert_eq!(s["slotsTotal"], 3);
    assert_eq!(s["slotsUsed"], 3);
    assert_eq!(s["totalMem"], json!(4096.0));
    assert!(s["uptimeSeconds"].is_i64());
    assert_eq!(sups["logviewerPort"], logviewer);
    assert_eq!(sups["logviewerScheme"], "http");
    for q in [format!("id={sid}"), "host=127.0.0.1".to_string()] {
        let page = ui.json(&format!("/api/v1/supervisor?{q}"));
        assert_eq!(page["supervisors"][0]["id"], sid.as_str(), "{q}");
        let topologies: BTreeSet<&str> = page["workers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["topologyId"].as_str().unwrap())
            .collect();
        assert_eq!(
            topologies,
            BTreeSet::from([id.as_str(), live.as_str()]),
            "{q}"
        );
    }
    let summary = ui.json("/api/v1/topology/summary");
    let t = find(&summary["topologies"], "id", &id);
    assert_eq!(t["name"], "wc");
    assert_eq!(t["status"], "ACTIVE");
    assert_eq!(t["workersTotal"], 2);
    assert_eq!(t["executorsTotal"], page["executorsTotal"]);
    assert_eq!(t["tasksTotal"], page["tasksTotal"]);
    assert!(t["uptimeSeconds"].is_i64());
    assert!(t["requestedMemOnHeap"].is_f64());
    assert_eq!(summary["schedulerDisplayResource"], false);

    // ---- components ----
    let sp = ui.json(&format!("/api/v1/topology/{id}/component/spout"));
    assert_eq!(sp["componentType"], "spout");
    assert_eq!(sp["id"], "spout");
    assert_eq!(sp["topologyId"], id.as_str());
    assert_eq!(sp["name"], "wc");
    assert_eq!(sp["topologyStatus"], "ACTIVE");
    assert_eq!(sp["executors"], 2);
    assert_eq!(sp["tasks"], 2);
    assert_eq!(
        window(&sp["spoutSummary"], ":all-time").unwrap()["acked"],
        acks
    );
    assert_eq!(find(&sp["outputStats"], "stream", "default")["acked"], acks);
    assert_eq!(sp["executorStats"].as_array().unwrap().len(), 2);
    let executor_acks: i64 = sp["executorStats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["acked"].as_i64().unwrap())
        .sum();
    assert_eq!(executor_acks, acks);
    for e in sp["executorStats"].as_array().unwrap() {
        let p = e["port"].as_i64().unwrap();
        assert!(slots.iter().any(|(_, sp)| *sp == p));
        assert!(e["id"].as_str().unwrap().starts_with('['));
        assert_eq!(
            e["workerLogLink"],
            format!("http://127.0.0.1:{logviewer}/api/v1/log?file={id}%2F{p}%2Fworker.log")
        );
    }
    assert_eq!(sp["componentErrors"], json!([]));
    let cb = ui.json(&format!("/api/v1/topology/{id}/component/count"));
    assert_eq!(cb["componentType"], "bolt");
    let input = find(&cb["inputStats"], "component", "split");
    assert_eq!(input["stream"], "default");
    assert_eq!(input["executed"], counted);
    let tick = find(&cb["inputStats"], "component", "__system");
    assert_eq!(tick["stream"], "__tick");
    // Ticks keep coming; within one answer the inputs add up to the bolt's executed count.
    let inputs_executed: i64 = cb["inputStats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["executed"].as_i64().unwrap())
        .sum();
    assert_eq!(
        window(&cb["boltStats"], ":all-time").unwrap()["executed"],
        inputs_executed
    );
    assert!(tick["executed"].as_i64().unwrap() > 0);
    assert!(is_float_string(&input["executeLatency"]));
    assert!(window(&cb["boltStats"], ":all-time").is_some());

    // ---- workers, metrics, visualization, lag, log config, history, owners, configuration ----
    let tw = ui.json(&format!("/api/v1/topology-workers/{id}"));
    let hp: BTreeSet<i64> = tw["hostPortList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            assert_eq!(x["host"], "127.0.0.1");
            x["port"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(hp, slots.iter().map(|s| s.1).collect());
    assert_eq!(tw["logviewerPort"], logviewer);
    let m = ui.json(&format!("/api/v1/topology/{id}/metrics"));
    assert_eq!(m["window"], ":all-time");
    let ms = find(&m["spouts"], "id", "spout");
    assert_eq!(find(&ms["acked"], "stream_id", "default")["value"], acks);
    assert!(is_float_string(
        &find(&ms["complete_ms_avg"], "stream_id", "default")["value"]
    ));
    let mb = find(&m["bolts"], "id", "count");
    let executed = find(&mb["executed"], "component_id", "split");
    assert_eq!(executed["stream_id"], "default");
    assert_eq!(executed["value"], counted);
    let viz = ui.json(&format!("/api/v1/topology/{id}/visualization"));
    assert_eq!(viz["spout"][":type"], "spout");
    assert_eq!(viz["count"][":type"], "bolt");
    assert_eq!(viz["count"][":inputs"][0][":component"], "split");
    assert_eq!(viz["count"][":inputs"][0][":grouping"], "fields");
    assert_eq!(viz["split"][":inputs"][0][":grouping"], "shuffle");
    assert_eq!(
        viz["split"][":link"],
        format!("/component.html?id=split&topology_id={id}")
    );
    assert!(viz["split"][":capacity"].is_number());
    assert_eq!(viz["spout"][":transferred"], spout["transferred"]);
    assert_eq!(viz["spout"][":stats"].as_array().unwrap().len(), 2);
    assert!(viz.get("__acker").is_none());
    let vi = ui.json(&format!("/api/v1/topology/{id}/visualization-init"));
    assert!(vi["visualizationTable"][0]
        .as_array()
        .unwrap()
        .contains(&json!({"stream": "default", "sani-stream": "default", "checked": true})));
    assert_eq!(ui.json(&format!("/api/v1/topology/{id}/lag")), json!({}));
    assert_eq!(
        ui.json(&format!("/api/v1/topology/{id}/logconfig")),
        json!({"namedLoggerLevels": {}})
    );
    let r = ui.post(
        &format!("/api/v1/topology/{id}/logconfig"),
        Some(json!({"namedLoggerLevels": {"ROOT": {"target_level": "debug", "timeout": 30}}})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let lc = r.json();
    assert_eq!(lc["namedLoggerLevels"]["ROOT"]["target_level"], "DEBUG");
    assert_eq!(lc["namedLoggerLevels"]["ROOT"]["timeout"], 30);
    let thrift_lc = c.nimbus_client().raw().get_log_config(id.clone()).unwrap();
    assert_eq!(
        thrift_lc.named_logger_level.unwrap()["ROOT"]
            .target_log_level
            .as_deref(),
        Some("DEBUG")
    );
    let history = ui.json("/api/v1/history/summary");
    let ids: BTreeSet<&str> = history["topo-history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(ids, BTreeSet::from([id.as_str(), live.as_str()]));
    let owners = ui.json("/api/v1/owner-resources");
    let owner = t["owner"].as_str().unwrap().to_string();
    let o = find(&owners["owners"], "owner", &owner);
    assert_eq!(o["totalTopologies"], 2);
    assert_eq!(o["totalWorkers"], 3);
    assert_eq!(o["memoryGuarantee"], "N/A");
    let one = ui.json(&format!("/api/v1/owner-resources/{owner}"));
    assert_eq!(one["topologies"].as_array().unwrap().len(), 2);
    let nobody = ui.json("/api/v1/owner-resources/nobody-here");
    assert_eq!(nobody["owner"], "nobody-here");
    assert_eq!(nobody["totalTopologies"], 0);
    let cc = ui.json("/api/v1/cluster/configuration");
    assert_eq!(cc["nimbus.thrift.port"], c.nimbus_port);

    // ---- errors, JSONP, curl ----
    let bad = ui.get("/api/v1/topology/no-such-1-1");
    assert_error(&bad, 500, "org.apache.storm.generated.NotAliveException");
    assert_eq!(bad.cache_control, "no-cache, no-store");
    assert_error(
        &ui.get("/api/v1/topology/no-such-1-1/component/spout"),
        500,
        "NotAliveException",
    );
    assert_error(
        &ui.post("/api/v1/topology/no-such-1-1/activate", None),
        500,
        "NotAliveException",
    );
    assert_error(
        &ui.get(&format!("/api/v1/topology/{id}?window=abc")),
        500,
        "For input string: \"abc\"",
    );
    assert_error(
        &ui.post(&format!("/api/v1/topology/{id}/kill/soon"), None),
        500,
        "For input string: \"soon\"",
    );
    assert_error(&ui.get("/api/v1/no/such/thing"), 404, "404");
    assert_error(
        &ui.get(&format!("/api/v1/topology/{id}/kill/0")),
        405,
        "405",
    );
    // Errors are plain JSON even with a callback (as Storm's exception mappers answer).
    let r = ui.get("/api/v1/topology/no-such-1-1?callback=cb");
    assert_eq!(r.content_type, JSON_TYPE);
    let r = ui.get("/api/v1/cluster/summary?callback=my.cb_1");
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "application/javascript;charset=utf-8");
    let inner = r
        .body
        .strip_prefix("my.cb_1(")
        .and_then(|b| b.strip_suffix(");"))
        .unwrap_or_else(|| panic!("not JSONP: {}", r.body));
    let inner: Value = serde_json::from_str(inner).unwrap();
    assert_eq!(inner["supervisors"], 1);
    let r = ui.get("/api/v1/cluster/summary?callback=alert(1)");
    assert_eq!(r.content_type, JSON_TYPE);
    assert!(r.json().is_object());
    let out = Command::new("curl")
        .args(["-s", "-i", &format!("{}/api/v1/topology/{id}", ui.base)])
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("headers and body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.lines()
            .any(|l| l.eq_ignore_ascii_case("content-type: application/json;charset=utf-8")),
        "{head}"
    );
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["name"], "wc");
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{content_type}",
            &format!("{}/api/v1/topology/nope-1-2", ui.base),
        ])
        .output()
        .expect("curl");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "500 application/json;charset=utf-8"
    );

    // ---- a Prometheus exporter's reading (Python requests) ----
    let (ok, out, err) = run_python(
        "ui_exporter.py",
        &[&format!("127.0.0.1:{port}")],
        Duration::from_secs(120),
    );
    assert!(ok, "ui_exporter.py: {out}{err}");
    let exported: Value = serde_json::from_str(out.trim()).unwrap();
    let e = &exported["topologies"][&id];
    assert_eq!(e["name"], "wc");
    assert_eq!(e["spouts"]["spout"]["acked"], json!(acks as f64));
    assert_eq!(e["stats"][":all-time"]["acked"], json!(acks as f64));
    assert!(e["bolts"]["count"]["capacity"].is_f64());
    assert_eq!(e["summary"]["workersTotal"], json!(2.0));
    assert!(exported["topologies"][&live]["spouts"]["spout"].is_object());

    // ---- actions on wc, checked in ZooKeeper and with `storm list` ----
    let list = |c: &TestCluster| {
        let (code, out, err) = storm(&c.dir, &["--config", c.config.to_str().unwrap(), "list"]);
        assert_eq!(code, 0, "storm list: {err}");
        out
    };
    let status_of = |ui: &Ui, id: &str| {
        let s = ui.json("/api/v1/topology/summary");
        s["topologies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .map(|t| t["status"].as_str().unwrap().to_string())
    };
    ui.act(
        &format!("/api/v1/topology/{id}/deactivate"),
        None,
        &id,
        "deactivate",
    );
    assert_eq!(status_of(&ui, &id).as_deref(), Some("INACTIVE"));
    assert_eq!(c.storm_base(&id).unwrap().status, TopologyStatus::INACTIVE);
    assert!(list(&c)
        .lines()
        .any(|l| l.starts_with("wc ") && l.contains("INACTIVE")));
    ui.act(
        &format!("/api/v1/topology/{id}/activate"),
        None,
        &id,
        "activate",
    );
    assert_eq!(status_of(&ui, &id).as_deref(), Some("ACTIVE"));
    assert_eq!(c.storm_base(&id).unwrap().status, TopologyStatus::ACTIVE);
    ui.act(
        &format!("/api/v1/topology/{id}/debug/enable/20"),
        None,
        &id,
        "debug/enable",
    );
    let dbg = ui.json(&format!("/api/v1/topology/{id}"));
    assert_eq!(dbg["debug"], true);
    assert_eq!(dbg["samplingPct"], json!(20.0));
    let base = c.storm_base(&id).unwrap();
    assert_eq!(base.component_debug.unwrap()[&id].enable, Some(true));
    ui.act(
        &format!("/api/v1/topology/{id}/component/count/debug/enable/5"),
        None,
        &id,
        "debug/enable",
    );
    let cd = ui.json(&format!("/api/v1/topology/{id}/component/count"));
    assert_eq!(cd["debug"], true);
    assert_eq!(cd["samplingPct"], json!(5.0));
    ui.act(
        &format!("/api/v1/topology/{id}/debug/disable/0"),
        None,
        &id,
        "debug/disable",
    );
    assert_eq!(ui.json(&format!("/api/v1/topology/{id}"))["debug"], false);
    // Rebalance with Storm 1.x's body: one worker instead of two.
    ui.act(
        &format!("/api/v1/topology/{id}/rebalance/0"),
        Some(json!({"rebalanceOptions": {"numWorkers": 1, "executors": {"split": 1}}})),
        &id,
        "rebalance",
    );
    wait_until(LONG, "wc to run on one worker after the rebalance", || {
        c.slots(&id).len() == 1
            && c.storm_base(&id).is_some_and(|b| {
                b.status == TopologyStatus::ACTIVE
                    && b.component_executors
                        .as_ref()
                        .is_some_and(|e| e.get("split") == Some(&1))
            })
    });
    wait_until(LONG, "the UI to show wc on one worker", || {
        let p = ui.json(&format!("/api/v1/topology/{id}"));
        p["workersTotal"] == 1 && p["status"] == "ACTIVE"
    });
    ui.act(&format!("/api/v1/topology/{id}/kill/0"), None, &id, "kill");
    wait_until(LONG, "wc to be removed", || {
        status_of(&ui, &id).is_none() && c.storm_base(&id).is_none()
    });
    assert!(!list(&c).lines().any(|l| l.starts_with("wc ")));
    assert_error(
        &ui.get(&format!("/api/v1/topology/{id}")),
        500,
        "NotAliveException",
    );
    let history = ui.json("/api/v1/history/summary");
    assert!(history["topo-history"]
        .as_array()
        .unwrap()
        .contains(&json!(id)));

    // ---- the pages in a browser, and a kill through the Kill button ----
    let shots = std::env::var_os("STORM_UI_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| c.dir.join("screenshots"));
    wait_until(LONG, "live to have acked tuples", || {
        acked_lines(&live_data) > 0
    });
    let (ok, out, err) = run_python(
        "ui_browser.py",
        &[
            &ui.base,
            &live,
            "live",
            "spout",
            "count",
            shots.to_str().unwrap(),
            "--kill",
        ],
        Duration::from_secs(300),
    );
    assert!(
        ok,
        "ui_browser.py: {out}\n{err}\n(screenshots in {})",
        shots.display()
    );
    let seen: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(seen["spout_acked"].as_i64().unwrap() > 0, "{seen}");
    assert_eq!(seen["status"], "ACTIVE");
    assert_eq!(seen["graph_nodes"], 3);
    assert!(seen["kill_prompt"].as_str().unwrap().contains("live"));
    for f in [
        "ui-cluster.png",
        "ui-topology.png",
        "ui-component.png",
        "ui-visualization.png",
    ] {
        let len = std::fs::metadata(shots.join(f))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(len > 10_000, "{f} is {len} bytes");
    }
    assert!(
        c.storm_base(&live)
            .is_none_or(|b| b.status == TopologyStatus::KILLED),
        "live is killed in ZooKeeper"
    );
    wait_until(LONG, "live to be removed after its kill wait", || {
        c.storm_base(&live).is_none()
    });
    assert!(list(&c).contains("No topologies running."));
}

/// A process killed (with its group) on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.0.wait();
    }
}

#[test]
fn ui_without_nimbus_answers_storms_errors_and_survives_bad_requests() {
    let dir = scratch_dir("ui-alone");
    let port = free_port();
    let nimbus_port = free_port(); // nothing listens there
    let config = dir.join("storm.toml");
    std::fs::write(
        &config,
        format!(
            "\"nimbus.seeds\" = [\"127.0.0.1\"]\n\"nimbus.thrift.port\" = {nimbus_port}\n\
             \"ui.port\" = {port}\n\"ui.host\" = \"127.0.0.1\"\n\"ui.actions.enabled\" = false\n\
             \"storm.log.dir\" = {:?}\n\"storm.local.dir\" = {:?}\n",
            dir.join("logs").to_str().unwrap(),
            dir.join("local").to_str().unwrap()
        ),
    )
    .unwrap();
    let mut ui_proc = Proc(
        Command::new(env!("CARGO_BIN_EXE_ui"))
            .arg("--config")
            .arg(&config)
            .env_remove("STORM_CONF_DIR")
            .env_remove("STORM_HOME")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start ui"),
    );
    wait_until(Duration::from_secs(30), "the ui to listen", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let ui = Ui::new(port);

    // No nimbus: Storm's error object, naming the seeds tried.
    assert_error(
        &ui.get("/api/v1/cluster/summary"),
        500,
        "could not find a leader nimbus",
    );
    // Actions off: refused before nimbus is asked.
    assert_error(
        &ui.post("/api/v1/topology/t-1-1/activate", None),
        403,
        "ui.actions.enabled",
    );
    assert_error(
        &ui.post("/api/v1/topology/t-1-1/kill/0", None),
        403,
        "ui.actions.enabled",
    );
    assert_error(&ui.get("/api/v1/topology/t-1-1/activate"), 405, "405");
    assert_error(&ui.get("/api/v1/nothing"), 404, "404");
    let big = "x".repeat(200_000);
    let r = ui.send(
        ui.client
            .post(format!("{}/api/v1/topology/t-1-1/logconfig", ui.base))
            .body(big),
    );
    assert_error(&r, 413, "bytes");
    // Odd paths and queries are answered, never a crash.
    for path in [
        "/api/v1/topology/%ZZ%ff%00",
        "/api/v1/topology/a%2Fb/component/%E2%9C%93?window=%",
        "/api/v1/topology/x?window=600&window=abc&sys=maybe",
        "/api/v1//topology//",
        "/api/v1/supervisor?id=&host=",
    ] {
        let r = ui.get(path);
        assert!(r.status >= 400 && r.status < 600, "{path}: {}", r.status);
        assert_eq!(r.content_type, JSON_TYPE, "{path}");
        assert!(r.json()["error"].is_string(), "{path}");
    }
    // Garbage on the socket, then a normal request still works.
    {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"\x00\x01GARBAGE / NOT-HTTP\r\n\r\n").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
    }
    // Request headers are bounded (431), keep-alive works, and the UI keeps serving.
    assert_http_header_bound(port, "/api/v1/nimbus/summary", 500);
    // Many clients at once: each gets an answer (the queue is bounded; overflow is a 503).
    let handles: Vec<_> = (0..24)
        .map(|_| {
            let base = ui.base.clone();
            std::thread::spawn(move || {
                reqwest::blocking::get(format!("{base}/api/v1/nimbus/summary"))
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            })
        })
        .collect();
    for h in handles {
        let status = h.join().unwrap();
        assert!(status == 500 || status == 503, "{status}");
    }

    // The pages: HTML, scripts, revalidation by ETag, CORS preflight.
    let page = ui.client.get(format!("{}/", ui.base)).send().unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["content-type"].to_str().unwrap(),
        "text/html;charset=utf-8"
    );
    let etag = page.headers()["etag"].to_str().unwrap().to_string();
    assert!(page.text().unwrap().contains("/js/cluster.js"));
    let again = ui
        .client
        .get(format!("{}/index.html", ui.base))
        .header("If-None-Match", &etag)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);
    for (path, kind) in [
        ("/js/ui.js", "text/javascript;charset=utf-8"),
        ("/css/ui.css", "text/css;charset=utf-8"),
        ("/topology.html", "text/html;charset=utf-8"),
        ("/favicon.ico", "image/svg+xml"),
    ] {
        let r = ui.get(path);
        assert_eq!((r.status, r.content_type.as_str()), (200, kind), "{path}");
    }
    assert_eq!(ui.get("/nope.html").status, 404);
    let pre = ui
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/v1/cluster/summary", ui.base),
        )
        .send()
        .unwrap();
    assert_eq!(pre.status(), 200);
    assert_eq!(pre.headers()["access-control-allow-origin"], "*");

    // SIGTERM: a clean exit, and the log in <storm.log.dir>/ui.log.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(ui_proc.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut status = None;
    wait_until(Duration::from_secs(30), "the ui to exit on SIGTERM", || {
        status = ui_proc.0.try_wait().unwrap();
        status.is_some()
    });
    assert!(status.unwrap().success());
    let log = std::fs::read_to_string(dir.join("logs/ui.log")).unwrap();
    assert!(log.contains("ui started"), "{log}");
    assert!(log.contains("ui stopped"), "{log}");
}

/// The figure for BENCHMARKS.md (not a test; `#[ignore]`d): the topology page of a 500-component
/// topology (1 spout and 499 bolts in 10 layers, 2 workers) through the REST API and rendered in
/// headless Chromium, and the UI daemon's memory. Run it with release binaries:
///
/// ```sh
/// cargo test --release --test it -- --ignored --nocapture ui_bench_500_components
/// ```
#[test]
#[ignore]
fn ui_bench_500_components() {
    use storm::local::perf::{ConstSpout, IdBolt};
    let mut c = TestCluster::start("ui-bench", &[]);
    c.add_supervisor(2);
    c.wait_supervisors(1);
    let port = c.add_ui(&[]);
    let ui = Ui::new(port);
    let ui_pid = c.others.last().expect("the ui daemon").pid();
    // (VmRSS, VmHWM) of the ui daemon, in kB.
    let memory = || {
        let status = std::fs::read_to_string(format!("/proc/{ui_pid}/status")).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or("?")
                .to_string()
        };
        (field("VmRSS:"), field("VmHWM:"))
    };
    // Idle: listening, no request served yet.
    let (idle_rss, _) = memory();
    let mut b = TopologyBuilder::new();
    b.set_spout("spout", ConstSpout::new("x", true).with_rate(10), 1);
    let mut previous = vec!["spout".to_string()];
    let mut made = 1;
    for layer in 0..10 {
        let width = if layer == 9 { 49 } else { 50 };
        let mut this = Vec::new();
        for i in 0..width {
            let name = format!("l{layer}b{i:02}");
            b.set_bolt(&name, IdBolt, 1)
                .shuffle_grouping(&previous[i % previous.len()]);
            this.push(name);
            made += 1;
        }
        previous = this;
    }
    assert_eq!(made, 500);
    let topology = b.create_topology().unwrap();
    let mut conf = TopologyConf::new();
    conf.set_num_workers(2).set_max_spout_pending(100);
    storm::submitter::submit_to_cluster(&c.conf(), "big", &conf, &topology, &empty_jar(&c.dir))
        .unwrap_or_else(|e| panic!("submit: {e}\n{}", c.logs()));
    let id = c.topology_id("big").unwrap();
    wait_until(
        Duration::from_secs(300),
        "every bolt to have executed tuples",
        || {
            let p = ui.json(&format!("/api/v1/topology/{id}"));
            p["bolts"].as_array().is_some_and(|b| {
                b.len() == 499 && b.iter().all(|x| x["executed"].as_i64().unwrap_or(0) > 0)
            })
        },
    );
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64() * 1000.0
    };
    let mut bytes = 0;
    let rest: Vec<f64> = (0..20)
        .map(|_| {
            time(&mut || {
                let r = ui.get(&format!("/api/v1/topology/{id}"));
                assert_eq!(r.status, 200, "{}", r.body);
                bytes = r.body.len();
            })
        })
        .collect();
    let mut client = c.nimbus_client();
    let thrift: Vec<f64> = (0..20)
        .map(|_| {
            time(&mut || {
                client
                    .raw()
                    .get_topology_page_info(id.clone(), ":all-time".into(), false)
                    .unwrap();
            })
        })
        .collect();
    let viz: Vec<f64> = (0..10)
        .map(|_| {
            time(&mut || {
                assert_eq!(
                    ui.get(&format!("/api/v1/topology/{id}/visualization"))
                        .status,
                    200
                );
            })
        })
        .collect();
    let (ok, out, err) = run_python(
        "ui_page_timing.py",
        &[&ui.base, &id, "5"],
        Duration::from_secs(600),
    );
    assert!(ok, "ui_page_timing.py: {out}{err}");
    let (rss, peak) = memory();
    println!(
        "ui bench, 500 components: GET /api/v1/topology/<id> median {:.1} ms ({} bytes; \
         nimbus getTopologyPageInfo alone {:.1} ms), GET /visualization median {:.1} ms; \
         browser: {}; ui RSS idle {idle_rss} kB, after serving {rss} kB (peak {peak} kB)",
        median(rest),
        bytes,
        median(thrift),
        median(viz),
        out.trim(),
    );
}
