//! What the Java topology tests share: the Java parts built by `scripts/build-java.sh` (the bridge,
//! our test topologies jar and the Storm client classpath Maven resolved for it), a cluster configured
//! to run Java components, `storm jar` of the test jar, and the result files the test topologies
//! write (`tests/java/topologies`: `spout-<task>.txt`, `counts-<task>.txt`, `sink-<task>.txt`).
//!
//! Java tests take [`serial`]: each runs JVM workers, and two at once on two cores would make the
//! others' timing tests flaky.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use crate::cluster_support::TestCluster;
use crate::support::{repo, storm_bin, wait_until};

/// The built Java parts.
pub struct JavaAssets {
    pub bridge: PathBuf,
    pub topologies: PathBuf,
    /// Storm's client jars (storm-client 2.8.3 and its dependencies), `:`-separated.
    pub classpath: String,
}

/// Builds the Java parts once per test run (`scripts/build-java.sh`; Maven and a JDK are needed).
pub fn assets() -> &'static JavaAssets {
    static ASSETS: OnceLock<JavaAssets> = OnceLock::new();
    ASSETS.get_or_init(|| {
        let status = Command::new(repo().join("scripts/build-java.sh"))
            .current_dir(repo())
            .status()
            .expect(
                "run scripts/build-java.sh (needs Maven and a JDK; scripts/test.sh installs them)",
            );
        assert!(status.success(), "scripts/build-java.sh failed");
        let dir = repo().join("tests/java/topologies/target");
        let classpath = std::fs::read_to_string(dir.join("classpath.txt"))
            .expect("tests/java/topologies/target/classpath.txt")
            .trim()
            .to_owned();
        JavaAssets {
            bridge: repo().join("java/storm-rs-bridge/target/storm-rs-bridge.jar"),
            topologies: dir.join("storm-rs-it-topologies.jar"),
            classpath,
        }
    })
}

/// One Java test at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A cluster whose workers can run Java components, with `supervisors` supervisors of `slots` slots.
pub fn java_cluster(
    name: &str,
    supervisors: usize,
    slots: usize,
    extra: &[(&str, &str)],
) -> TestCluster {
    let a = assets();
    let classpath = format!("{:?}", a.classpath);
    let bridge = format!("{:?}", a.bridge.display().to_string());
    let mut conf: Vec<(&str, &str)> = vec![
        ("storm.rs.java.client.classpath", &classpath),
        ("storm.rs.java.bridge.jar", &bridge),
        // Java workers start in seconds, more on a loaded machine.
        ("supervisor.worker.start.timeout.secs", "60"),
        ("nimbus.task.launch.secs", "60"),
        ("worker.heap.memory.mb", "256"),
    ];
    conf.extend_from_slice(extra);
    let mut c = TestCluster::start(name, &conf);
    for _ in 0..supervisors {
        c.add_supervisor(slots);
    }
    c.wait_supervisors(supervisors);
    c
}

/// `storm --config <cluster> ARGS…`, returning (exit code, stdout, stderr).
pub fn storm_cli(cluster: &TestCluster, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(storm_bin())
        .arg("--config")
        .arg(&cluster.config)
        .args(args)
        .current_dir(&cluster.dir)
        .env_remove("STORM_CONF_DIR")
        .env_remove("STORM_HOME")
        .output()
        .expect("run storm");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `storm jar <test topologies> org.stormrs.it.Topologies ARGS…`; panics unless it succeeds.
pub fn submit(cluster: &TestCluster, args: &[&str]) -> String {
    let jar = assets().topologies.display().to_string();
    let mut all = vec!["jar", jar.as_str(), "org.stormrs.it.Topologies"];
    all.extend_from_slice(args);
    let (code, out, err) = storm_cli(cluster, &all);
    assert_eq!(code, 0, "storm jar {args:?} failed:\n{out}\n{err}");
    format!("{out}{err}")
}

/// The spouts' "emitted E acked A failed F" files, summed over tasks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SpoutCounts {
    pub emitted: u64,
    pub acked: u64,
    pub failed: u64,
}

pub fn spout_counts(dir: &Path) -> SpoutCounts {
    let mut total = SpoutCounts::default();
    for (name, text) in files(dir) {
        if !name.starts_with("spout-") {
            continue;
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        let num = |key: &str| -> u64 {
            words
                .iter()
                .position(|w| *w == key)
                .and_then(|i| words.get(i + 1))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        total.emitted += num("emitted");
        total.acked += num("acked");
        total.failed += num("failed");
    }
    total
}

/// The count bolts' word counts, summed over tasks, and the words seen by more than one task.
pub fn word_counts(dir: &Path) -> (BTreeMap<String, u64>, Vec<String>) {
    let mut counts = BTreeMap::new();
    let mut seen_by: BTreeMap<String, usize> = BTreeMap::new();
    for (name, text) in files(dir) {
        if !name.starts_with("counts-") {
            continue;
        }
        for line in text.lines().skip(1) {
            if let Some((w, n)) = line.split_once(' ') {
                *counts.entry(w.to_owned()).or_insert(0) += n.parse::<u64>().unwrap_or(0);
                *seen_by.entry(w.to_owned()).or_insert(0) += 1;
            }
        }
    }
    let split = seen_by
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(w, _)| w)
        .collect();
    (counts, split)
}

/// Tick tuples each count task saw (the first line of its file).
pub fn ticks(dir: &Path) -> Vec<u64> {
    files(dir)
        .into_iter()
        .filter(|(n, _)| n.starts_with("counts-"))
        .filter_map(|(_, t)| t.lines().next()?.strip_prefix("ticks ")?.parse().ok())
        .collect()
}

fn files(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                return None;
            }
            Some((name, std::fs::read_to_string(e.path()).ok()?))
        })
        .collect()
}

/// The word counts `SentenceSpout` (tests/java/topologies) produces for `total` ids.
pub fn expected_counts(total: u64) -> BTreeMap<String, u64> {
    const SENTENCES: [&str; 5] = [
        "the cow jumped over the moon",
        "an apple a day keeps the doctor away",
        "four score and seven years ago",
        "snow white and the seven dwarfs",
        "i am at two with nature",
    ];
    let mut counts = BTreeMap::new();
    for id in 0..total {
        for w in SENTENCES[(id % 5) as usize].split(' ') {
            *counts.entry(w.to_owned()).or_insert(0) += 1;
        }
    }
    counts
}

/// Waits until the spouts acked `total` ids and the counts are exactly [`expected_counts`], with
/// every word counted by one task only (the grouping kept words apart).
pub fn wait_for_exact_counts(cluster: &TestCluster, out: &Path, total: u64, what: &str) {
    let expected = expected_counts(total);
    let mut last = (SpoutCounts::default(), BTreeMap::new(), Vec::new());
    let ok = crate::support::wait_until_ok(Duration::from_secs(120), || {
        let s = spout_counts(out);
        let (counts, split) = word_counts(out);
        let done = s.acked == total && counts == expected && split.is_empty();
        last = (s, counts, split);
        done
    });
    assert!(
        ok,
        "{what}: counts never became exact; last: spout {:?}, split words {:?}, counts {:?}\nexpected {expected:?}\n{}",
        last.0,
        last.2,
        last.1,
        cluster.logs()
    );
}

/// Every worker log of the cluster's supervisors for a topology, for failure messages.
pub fn worker_logs(cluster: &TestCluster, topology_id: &str) -> String {
    let mut out = String::new();
    for s in &cluster.supervisors {
        let dir = s.log_dir().join("workers-artifacts").join(topology_id);
        for (port, text) in files_deep(&dir) {
            let mut start = text.len().saturating_sub(4000);
            while !text.is_char_boundary(start) {
                start += 1;
            }
            out.push_str(&format!("--- {} {port}\n{}\n", s.name, &text[start..]));
        }
    }
    out
}

fn files_deep(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Ok(ports) = std::fs::read_dir(dir) {
        for p in ports.filter_map(|e| e.ok()) {
            for name in ["worker.log", "worker.log.err"] {
                if let Ok(t) = std::fs::read_to_string(p.path().join(name)) {
                    out.push((format!("{}/{name}", p.file_name().to_string_lossy()), t));
                }
            }
        }
    }
    out
}

/// Waits until `f` holds (deadline), without panicking.
pub fn eventually(deadline: Duration, what: &str, f: impl FnMut() -> bool) {
    wait_until(deadline, what, f);
}
