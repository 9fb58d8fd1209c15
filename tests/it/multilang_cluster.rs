//! Shell components (Storm's multilang protocol) on a real cluster: nimbus, supervisors and worker
//! processes whose spouts and bolts are Python subprocesses running in
//! `supervisor/stormdist/<id>/resources` (the jar's `resources/`).
//!
//! * pystorm word counts and the same with the `storm.py`-style adapter (no `need_task_ids`), counted
//!   exactly by file-writing count bolts (`tests/python/multilang_cluster/`);
//! * a bolt that stops answering: the worker halts (status 11) within `topology.subprocess.timeout.secs`,
//!   the error reaches `/errors`, the supervisor relaunches the worker and a durable spout's unacked
//!   ids are replayed until every one is acked;
//! * streamparse's own flow: a `sparse quickstart` project submitted with `sparse submit -j <jar>`,
//!   listed by `sparse list`, its pystorm components running on our workers through `streamparse_run`,
//!   removed by `sparse kill`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use storm::api::{TopologyBuilder, TopologyConf};
use storm::cluster::{ClusterState, StateStorage, ZkSettings, ZkStorage};
use storm::multilang::{ShellBolt, ShellSpout};
use storm::thrift::{ExecutorSpecificStats, TNimbusSyncClient, TopologyInfo};

use crate::cluster_support::TestCluster;
use crate::support::{python, repo, storm_bin, wait_until};

const DEADLINE: Duration = Duration::from_secs(45);

const SENTENCES: [&str; 5] = [
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "four score and seven years ago",
    "snow white and the seven dwarfs",
    "i am at two with nature",
];

fn expected_counts(n: usize) -> BTreeMap<String, i64> {
    let mut expected = BTreeMap::new();
    for i in 0..n {
        for w in SENTENCES[i % SENTENCES.len()].split_whitespace() {
            *expected.entry(w.to_owned()).or_insert(0) += 1;
        }
    }
    expected
}

/// Writes a jar (a zip, not an executable) holding `resources/<name>` for every `(name, file)`.
fn write_jar(path: &Path, files: &[(String, PathBuf)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    for (name, file) in files {
        zip.start_file(format!("resources/{name}"), options)
            .unwrap();
        zip.write_all(&std::fs::read(file).unwrap()).unwrap();
    }
    zip.finish().unwrap();
}

/// The `.py` files of `dir` (recursively), named relative to `dir`.
fn python_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "py") {
                let name = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((name, p));
            }
        }
    }
    out.sort();
    out
}

/// A jar whose `resources/` holds `tests/python/multilang/*.py` and `tests/python/multilang_cluster/*.py`.
fn scripts_jar(dir: &Path) -> PathBuf {
    let mut files = python_files(&repo().join("tests/python/multilang"));
    files.extend(python_files(&repo().join("tests/python/multilang_cluster")));
    let jar = dir.join("multilang.jar");
    write_jar(&jar, &files);
    jar
}

/// The sum of every `counts-*.json` the count bolts wrote into `data`.
fn read_counts(data: &Path) -> BTreeMap<String, i64> {
    let mut total = BTreeMap::new();
    for e in std::fs::read_dir(data).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("counts-") && name.ends_with(".json")) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        let Ok(counts) = serde_json::from_str::<BTreeMap<String, i64>>(&text) else {
            continue;
        };
        for (w, n) in counts {
            *total.entry(w).or_insert(0) += n;
        }
    }
    total
}

/// The topology conf: `workers` workers, `n` sentences, the data directory in the subprocesses'
/// environment (`topology.environment`).
fn topology_conf(data: &Path, n: usize, workers: usize) -> TopologyConf {
    let mut conf = TopologyConf::new();
    conf.set_num_workers(workers as _)
        .set_max_spout_pending(50)
        .set("topology.stats.sample.rate", 1.0)
        .set("test.sentences", n as i64)
        .set(
            "topology.environment",
            serde_json::json!({ "MULTILANG_CLUSTER_DATA": data.to_string_lossy() }),
        );
    conf
}

/// Every worker log (`worker.log`, `.out`, `.err`) of every supervisor, for failure messages and checks.
fn worker_logs(c: &TestCluster) -> String {
    let mut out = String::new();
    for s in &c.supervisors {
        let mut stack = vec![s.log_dir().join("workers-artifacts")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("worker.log"))
                {
                    out.push_str(&format!("--- {}\n", p.display()));
                    out.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
                }
            }
        }
    }
    out
}

/// Waits for `f`; on timeout panics with `what`, `detail()` and the cluster's and workers' logs.
fn wait_or_dump(
    c: &TestCluster,
    deadline: Duration,
    what: &str,
    mut f: impl FnMut() -> bool,
    detail: impl Fn() -> String,
) {
    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(deadline, what, &mut f)
    }));
    if ok.is_err() {
        let logs = worker_logs(c);
        let mut start = logs.len().saturating_sub(8000);
        while !logs.is_char_boundary(start) {
            start += 1;
        }
        panic!(
            "timed out waiting for: {what}\n{}\n{}\n--- worker logs (last 8000 bytes)\n{}",
            detail(),
            c.logs(),
            &logs[start..]
        );
    }
}

/// spout → split (shuffle, 2) → count (fields on word, 2) in 2 workers on 2 supervisors; the counts the
/// count bolts write must equal the sentences' words exactly.
fn cluster_word_count(name: &str, spout: &str, split: &str, count: &str) {
    let mut c = TestCluster::start(name, &[]);
    c.add_supervisor(1);
    c.add_supervisor(1);
    c.wait_supervisors(2);
    let data = c.dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let py = python().to_string_lossy().into_owned();
    let n = 40;

    let mut b = TopologyBuilder::new();
    b.set_spout(
        "sentences",
        ShellSpout::new([py.as_str(), spout]).declare(["sentence"]),
        1,
    );
    b.set_bolt(
        "split",
        ShellBolt::new([py.as_str(), split]).declare(["word"]),
        2,
    )
    .shuffle_grouping("sentences");
    b.set_bolt(
        "count",
        ShellBolt::new([py.as_str(), count]).declare(["word", "count"]),
        2,
    )
    .fields_grouping("split", ["word"]);
    let topology = b.create_topology().unwrap();
    storm::submitter::submit_to_cluster(
        &c.conf(),
        name,
        &topology_conf(&data, n, 2),
        &topology,
        &scripts_jar(&c.dir),
    )
    .unwrap_or_else(|e| panic!("submit {name}: {e}\n{}", c.logs()));
    let id = c.topology_id(name).expect("the topology is in /storms");

    let expected = expected_counts(n);
    wait_or_dump(
        &c,
        DEADLINE,
        "the word counts to be complete",
        || read_counts(&data) == expected,
        || format!("counts {:?}\nexpected {expected:?}", read_counts(&data)),
    );
    // Two workers, on both supervisors, each running its subprocesses in the extracted resources/.
    let nodes: BTreeSet<String> = c.slots(&id).into_iter().map(|s| s.0).collect();
    assert_eq!(nodes.len(), 2, "{:?}", c.slots(&id));
    for s in &c.supervisors {
        let resources = s
            .local_dir()
            .join("supervisor/stormdist")
            .join(&id)
            .join("resources");
        assert!(resources.join(spout).is_file(), "{}", resources.display());
    }
    // No shell component died, and nothing more is counted (no replays).
    let errors: Vec<String> = ["sentences", "split", "count"]
        .iter()
        .flat_map(|comp| c.state().errors(&id, comp).unwrap_or_default())
        .map(|e| e.error)
        .collect();
    assert!(errors.is_empty(), "errors: {errors:?}");
    // Every sentence acked exactly once (stats sampled at rate 1), none failed.
    let totals = || {
        spout_totals(
            &c.nimbus_client()
                .raw()
                .get_topology_info(id.clone())
                .unwrap(),
        )
    };
    wait_or_dump(
        &c,
        DEADLINE,
        "getTopologyInfo to show every sentence acked",
        || totals().0 >= n as i64,
        || format!("(acked, failed) {:?}", totals()),
    );
    assert_eq!(totals(), (n as i64, 0));
    assert_eq!(read_counts(&data), expected);
}

/// A ZooKeeper view of the cluster of its own (so waits can read it while `c` is borrowed).
fn zk_state(c: &TestCluster) -> ClusterState {
    let settings = ZkSettings::from_config(&c.conf()).unwrap();
    let storage: Arc<dyn StateStorage> = Arc::new(ZkStorage::connect(settings).unwrap());
    ClusterState::new(storage).unwrap()
}

/// All-time (acked, failed) of the topology's spout executors in `getTopologyInfo`.
fn spout_totals(info: &TopologyInfo) -> (i64, i64) {
    let mut totals = (0, 0);
    for s in info.executors.iter().filter_map(|e| e.stats.as_ref()) {
        if let ExecutorSpecificStats::Spout(sp) = &s.specific {
            totals.0 += sp.acked.get(":all-time").map_or(0, |m| m.values().sum());
            totals.1 += sp.failed.get(":all-time").map_or(0, |m| m.values().sum());
        }
    }
    totals
}

/// All-time `executed` of `component`'s executors in `getTopologyInfo`.
fn bolt_executed(info: &TopologyInfo, component: &str) -> i64 {
    info.executors
        .iter()
        .filter(|e| e.component_id == component)
        .filter_map(|e| e.stats.as_ref())
        .filter_map(|s| match &s.specific {
            ExecutorSpecificStats::Bolt(b) => b.executed.get(":all-time"),
            _ => None,
        })
        .flat_map(|m| m.values())
        .sum()
}

#[test]
fn pystorm_word_count_on_the_cluster_counts_exactly() {
    cluster_word_count(
        "mlwc",
        "sentence_spout.py",
        "split_bolt.py",
        "count_file_bolt.py",
    );
}

#[test]
fn storm_py_style_word_count_on_the_cluster_counts_exactly() {
    cluster_word_count(
        "mlstormpy",
        "storm_style_spout.py",
        "storm_style_split.py",
        "storm_style_count_file.py",
    );
}

#[test]
fn a_hanging_bolt_halts_the_worker_which_is_relaunched_and_replays() {
    let mut c = TestCluster::start("mlhang", &[]);
    c.add_supervisor(1);
    c.wait_supervisors(1);
    let data = c.dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let py = python().to_string_lossy().into_owned();
    let n = 30;

    let mut b = TopologyBuilder::new();
    b.set_spout(
        "sentences",
        ShellSpout::new([py.as_str(), "ledger_spout.py"]).declare(["sentence"]),
        1,
    );
    b.set_bolt(
        "hang",
        ShellBolt::new([py.as_str(), "hang_once_bolt.py"]).declare(["sentence"]),
        1,
    )
    .shuffle_grouping("sentences");
    b.set_bolt(
        "split",
        ShellBolt::new([py.as_str(), "split_bolt.py"]).declare(["word"]),
        1,
    )
    .shuffle_grouping("hang");
    let topology = b.create_topology().unwrap();
    let mut conf = topology_conf(&data, n, 1);
    // At most 5 sentences in flight: the bolt hangs once 5 ids are durably acked, with more to come.
    conf.set("topology.subprocess.timeout.secs", 2)
        .set_max_spout_pending(5)
        .set("test.hang.after.acks", 5);
    storm::submitter::submit_to_cluster(
        &c.conf(),
        "mlhang",
        &conf,
        &topology,
        &scripts_jar(&c.dir),
    )
    .unwrap_or_else(|e| panic!("submit: {e}\n{}", c.logs()));
    let id = c.topology_id("mlhang").unwrap();

    // The timeout reaches /errors (what `storm get-errors` and getTopologyInfo show).
    let state = zk_state(&c);
    let timeout_error = || {
        state
            .errors(&id, "hang")
            .unwrap_or_default()
            .into_iter()
            .find(|e| e.error.contains("heartbeat timeout"))
    };
    wait_or_dump(
        &c,
        DEADLINE,
        "the hang in /errors",
        || timeout_error().is_some(),
        String::new,
    );
    let error = timeout_error().unwrap();
    assert!(
        error.error.contains("ShellBolt died")
            && error.error.contains("hang_once_bolt.py")
            && error.error.contains("more than 2 s"),
        "{}",
        error.error
    );
    // `storm get-errors` shows it (Storm's JSON: the latest error per component).
    let out = Command::new(storm_bin())
        .arg("--config")
        .arg(&c.config)
        .args(["get-errors", "mlhang"])
        .current_dir(&c.dir)
        .env_remove("STORM_CONF_DIR")
        .env_remove("STORM_HOME")
        .env_remove("STORM_WORKER")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "storm get-errors: {stdout}");
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(
        json["Comp-Errors"]["hang"]
            .as_str()
            .is_some_and(|e| e.contains("heartbeat timeout")),
        "{stdout}"
    );
    // Detected by the 2 s subprocess timeout, not by anything slower (the hung bolt never answers
    // again): the bound leaves room for the heartbeat period and a loaded CI machine.
    let hung_at = std::fs::metadata(data.join("hung"))
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let detected_after = i64::from(error.error_time_secs) - hung_at;
    assert!(
        (0..=10).contains(&detected_after),
        "detected {detected_after} s after the bolt hung"
    );

    // The worker exited with status 11 and its supervisor relaunched it.
    wait_or_dump(
        &c,
        DEADLINE,
        "the supervisor to relaunch the worker",
        || {
            c.supervisors[0]
                .stderr()
                .contains("to=\"KILL_AND_RELAUNCH\"")
        },
        String::new,
    );
    let logs = worker_logs(&c);
    assert!(
        logs.contains("Halting process: ShellBolt died")
            && logs.contains("exiting the worker with status 11"),
        "{logs}"
    );

    // The relaunched worker's spout replays what was never acked: every id ends up acked.
    let acked = || -> BTreeSet<String> {
        std::fs::read_to_string(data.join("acked.txt"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let all: BTreeSet<String> = (0..n).map(|i| i.to_string()).collect();
    wait_or_dump(
        &c,
        DEADLINE,
        "every sentence to be acked after the relaunch",
        || acked().is_superset(&all),
        || format!("acked {:?}", acked()),
    );
    // The relaunched spout replayed only what the first run had not acked.
    let logs = worker_logs(&c);
    let runs: Vec<&str> = logs
        .lines()
        .filter_map(|l| l.split("ledger spout: ").nth(1))
        .collect();
    assert!(runs.len() >= 2, "a spout run per worker launch: {runs:?}");
    assert!(runs[0].starts_with(&format!("{n} of {n} ")), "{runs:?}");
    for run in &runs[1..] {
        let todo: usize = run.split(' ').next().unwrap().parse().unwrap();
        assert!(todo <= n - 5, "{runs:?}");
    }
}

/// Runs the venv's `sparse ARGS…` in `cwd` (with the venv's bin first on PATH); returns (success,
/// stdout, stderr).
fn sparse(cwd: &Path, args: &[&str]) -> (bool, String, String) {
    let bin = python().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(bin.join("sparse"))
        .args(args)
        .current_dir(cwd)
        // sparse refuses to run as root without it (Leiningen, which this flow never runs).
        .env("LEIN_ROOT", "1")
        .env("PATH", path)
        .env_remove("STREAMPARSE_NIMBUS")
        .output()
        .expect("run sparse");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The data rows of the (Texttable) table `sparse list` prints, each cell's wrapped lines joined.
fn table_columns(out: &str) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut in_body = false;
    let mut current: Option<Vec<String>> = None;
    for line in out.lines() {
        if line.starts_with("+===") {
            in_body = true;
        } else if line.starts_with("+---") {
            rows.extend(current.take());
        } else if in_body && line.starts_with('|') {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let row = current.get_or_insert_with(|| vec![String::new(); cells.len()]);
            for (acc, cell) in row.iter_mut().zip(cells) {
                acc.push_str(cell);
            }
        }
    }
    rows.extend(current);
    rows
}

/// The lines of the pystorm log files in `dir` whose name contains `component`.
fn pystorm_log(dir: &Path, component: &str) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().contains(component) {
            out.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    out
}

#[test]
fn a_streamparse_project_is_submitted_listed_run_and_killed_with_sparse() {
    let mut c = TestCluster::start("mlsparse", &[]);
    c.add_supervisor(2);
    c.wait_supervisors(1);
    let venv_bin = python().parent().unwrap().to_path_buf();

    // An unmodified `sparse quickstart` project; only config.json names our nimbus and turns off ssh
    // and virtualenvs (the workers find `streamparse_run` on the PATH that topology.environment gives).
    let (ok, out, err) = sparse(&c.dir, &["quickstart", "wordcount"]);
    assert!(ok, "sparse quickstart:\n{out}\n{err}");
    let project = c.dir.join("wordcount");
    let logs = c.dir.join("pystorm-logs");
    std::fs::create_dir_all(&logs).unwrap();
    let config_path = project.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    config["envs"] = serde_json::json!({
        "prod": {
            "nimbus": format!("127.0.0.1:{}", c.nimbus_port),
            "use_ssh_for_nimbus": false,
            "use_virtualenv": false,
            "install_virtualenv": false,
            "workers": ["127.0.0.1"],
            "log": {"path": logs.to_string_lossy(), "level": "info"},
            "options": {
                "topology.environment": {
                    "PATH": format!("{}:/usr/local/bin:/usr/bin:/bin", venv_bin.display()),
                },
            },
        }
    });
    std::fs::write(&config_path, serde_json::to_string_pretty(&config).unwrap()).unwrap();

    // The jar as `sparse jar` lays it out (lein's resource path `_resources` holding `resources/` with
    // the project's src/), built here because lein and java are not needed by storm-rs.
    let jar = c.dir.join("wordcount.jar");
    write_jar(&jar, &python_files(&project.join("src")));

    let jar_arg = jar.to_string_lossy().into_owned();
    let (ok, out, err) = sparse(
        &project,
        &[
            "submit",
            "-j",
            &jar_arg,
            "-e",
            "prod",
            "-n",
            "wordcount",
            "-w",
            "2",
        ],
    );
    assert!(ok, "sparse submit:\n{out}\n{err}\n{}", c.logs());
    assert!(
        out.contains("Submitting wordcount topology to nimbus...done"),
        "{out}"
    );
    let id = c.topology_id("wordcount").expect("wordcount is in /storms");

    let (ok, out, err) = sparse(&project, &["list", "-e", "prod"]);
    assert!(ok, "sparse list:\n{out}\n{err}");
    let rows = table_columns(&out);
    assert_eq!(
        rows.first().map(|r| r[0].as_str()),
        Some(id.as_str()),
        "{out}"
    );
    assert_eq!(rows[0][1], "wordcount", "{out}");
    assert_eq!(rows[0][6], "ACTIVE", "{out}");

    // The pystorm components run on our workers: the count bolt logs its progress into pystorm's log
    // files and the executors report executed tuples to nimbus.
    wait_or_dump(
        &c,
        DEADLINE,
        "the count bolt to log its progress",
        || pystorm_log(&logs, "count_bolt").contains("counted [1,000] words"),
        || {
            format!(
                "pystorm logs: {:?}",
                std::fs::read_dir(&logs).map(|d| d.count())
            )
        },
    );
    let info = || {
        c.nimbus_client()
            .raw()
            .get_topology_info(id.clone())
            .unwrap()
    };
    wait_or_dump(
        &c,
        DEADLINE,
        "getTopologyInfo to show the count bolt's executed tuples",
        || bolt_executed(&info(), "count_bolt") > 0,
        || format!("{:?}", info().executors),
    );
    assert_eq!(c.slots(&id).len(), 2, "two workers");

    let (ok, out, err) = sparse(
        &project,
        &["kill", "-e", "prod", "-n", "wordcount", "--wait", "0"],
    );
    assert!(ok, "sparse kill:\n{out}\n{err}");
    wait_or_dump(
        &c,
        DEADLINE,
        "the killed topology to be removed",
        || c.cluster_info().topologies.is_empty(),
        String::new,
    );
    let (ok, out, err) = sparse(&project, &["list", "-e", "prod"]);
    assert!(ok, "sparse list:\n{out}\n{err}");
    assert!(out.contains("No topologies found."), "{out}");
}
