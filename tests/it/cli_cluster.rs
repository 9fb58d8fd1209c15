//! The `storm` command against a live cluster: `storm jar` with a Rust topology program (which the
//! supervisor then runs as the worker executable itself), `list`, `rebalance`, `deactivate`/`activate`,
//! `get-errors`, `kill -w`, and every management subcommand's bad-input paths.

use std::path::PathBuf;
use std::time::Duration;

use storm::thrift::{ExecutorSpecificStats, TNimbusSyncClient};

use crate::cluster_support::{alive, TestCluster};
use crate::support::{storm_bin, wait_until};

const LONG: Duration = Duration::from_secs(90);

fn example(name: &str) -> PathBuf {
    let p = storm_bin().parent().unwrap().join("examples").join(name);
    assert!(
        p.is_file(),
        "{} is missing: build the examples (scripts/test.sh does)",
        p.display()
    );
    p
}

/// `storm --config <cluster> ARGS…` → (exit code, stdout, stderr).
fn storm(c: &TestCluster, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(storm_bin())
        .arg("--config")
        .arg(&c.config)
        .args(args)
        .current_dir(&c.dir)
        .env_remove("STORM_CONF_DIR")
        .env_remove("STORM_HOME")
        .env_remove("STORM_WORKER")
        .output()
        .expect("run storm");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(c: &TestCluster, args: &[&str]) -> String {
    let (code, out, err) = storm(c, args);
    assert_eq!(code, 0, "storm {args:?} failed: {err}\n{}", c.logs());
    out
}

fn fails(c: &TestCluster, args: &[&str]) -> String {
    let (code, out, err) = storm(c, args);
    assert_ne!(code, 0, "storm {args:?} should fail; stdout: {out}");
    assert_eq!(
        err.trim().lines().count(),
        1,
        "one-line reason for storm {args:?}: {err}"
    );
    err
}

/// Tuples the spouts of topology `id` emitted on the default stream, from nimbus's `getTopologyInfo`.
fn spout_emitted(c: &TestCluster, id: &str) -> i64 {
    let Ok(info) = c.nimbus_client().raw().get_topology_info(id.to_string()) else {
        return 0;
    };
    info.executors
        .iter()
        .filter_map(|e| e.stats.as_ref())
        .filter(|s| matches!(s.specific, ExecutorSpecificStats::Spout(_)))
        .flat_map(|s| s.emitted.values().filter_map(|m| m.get("default")))
        .sum()
}

#[test]
fn storm_jar_list_rebalance_deactivate_kill_on_a_live_cluster() {
    let mut c = TestCluster::start("cli", &[]);
    c.add_supervisor(4);
    c.wait_supervisors(1);

    // storm jar: the program uploads itself and submits; it returns once submitted.
    let wc = example("word_count");
    let out = ok(&c, &["jar", wc.to_str().unwrap(), "wc"]);
    assert!(!out.contains("running topology"), "not local mode: {out}");
    let id = c.topology_id("wc").expect("wc submitted");

    // The supervisor runs the uploaded program itself as the worker.
    wait_until(LONG, "a worker running the topology program", || {
        c.supervisors[0].worker_pids().iter().any(|&p| {
            alive(p)
                && std::fs::read_link(format!("/proc/{p}/exe"))
                    .is_ok_and(|exe| exe.ends_with("stormjar.jar"))
        })
    });
    wait_until(LONG, "the spouts to emit", || spout_emitted(&c, &id) > 0);

    // storm list: Storm's table with the running topology.
    let list = ok(&c, &["list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert!(
        lines[0].starts_with("Topology_name        Status     Num_tasks"),
        "{list}"
    );
    assert_eq!(lines[1], "-".repeat(88));
    let row: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(row[0], "wc", "{list}");
    assert_eq!(row[1], "ACTIVE", "{list}");
    assert!(row[2].parse::<i32>().unwrap() >= 9, "tasks: {list}");
    assert_eq!(row[3], "1", "one worker by default: {list}");
    assert_eq!(row[5], id);

    // storm rebalance: two workers, three split executors.
    let out = ok(
        &c,
        &["rebalance", "wc", "-w", "0", "-n", "2", "-e", "split=3"],
    );
    assert!(out.contains("Topology wc is rebalancing"), "{out}");
    wait_until(
        LONG,
        "the new assignment (2 workers, 3 split executors)",
        || {
            let base = c.storm_base(&id);
            c.slots(&id).len() == 2
                && base.is_some_and(|b| {
                    b.status == storm::thrift::TopologyStatus::ACTIVE
                        && b.component_executors
                            .as_ref()
                            .and_then(|m| m.get("split").copied())
                            == Some(3)
                })
        },
    );
    let executors = c.assignment(&id).unwrap().executor_node_port.unwrap();
    let info = c
        .nimbus_client()
        .raw()
        .get_topology_info(id.clone())
        .unwrap();
    let split_executors = executors
        .keys()
        .filter(|k| {
            info.executors
                .iter()
                .any(|e| e.component_id == "split" && e.executor_info.task_start as i64 == k[0])
        })
        .count();
    assert_eq!(split_executors, 3, "{executors:?}");

    // storm monitor: Storm's tab-separated rows; without -m the components are listed. The rebalance
    // restarted the workers: wait until the new spout executor has reported its stream.
    wait_until(LONG, "the rebalanced spout to report stats", || {
        spout_emitted(&c, &id) > 0
    });
    let out = ok(
        &c,
        &["monitor", "wc", "-m", "spout", "-i", "1", "--count", "2"],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "topology\tcomponent\tparallelism\tstream\ttime-diff ms\temitted\tthroughput (Kt/s)"
    );
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[2].starts_with("wc\tspout\t1\tdefault\t"), "{out}");
    let out = ok(&c, &["monitor", "wc"]);
    assert!(
        out.contains("Available components for wc :") && out.contains("\nsplit\n"),
        "{out}"
    );
    let e = fails(&c, &["monitor", "wc", "-m", "nope", "--count", "1"]);
    assert!(
        e.contains("component: nope not found") && e.contains("split"),
        "{e}"
    );

    // storm deactivate stops the spouts; activate resumes them.
    ok(&c, &["deactivate", "wc"]);
    let mut last = spout_emitted(&c, &id);
    let mut stable = std::time::Instant::now();
    wait_until(LONG, "spout emits to stay flat for 3 s", || {
        let now = spout_emitted(&c, &id);
        if now != last {
            last = now;
            stable = std::time::Instant::now();
        }
        stable.elapsed() > Duration::from_secs(3)
    });
    ok(&c, &["activate", "wc"]);
    let before = spout_emitted(&c, &id);
    wait_until(LONG, "spouts to emit again", || {
        spout_emitted(&c, &id) > before
    });

    // get-errors: Storm's JSON.
    let out = ok(&c, &["get-errors", "wc"]);
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["Topology Name"], "wc");
    assert!(json["Comp-Errors"].is_object(), "{out}");

    // storm kill -w 1, then `No topologies running.`
    let out = ok(&c, &["kill", "wc", "-w", "1"]);
    assert!(out.contains("Killed topology: wc"), "{out}");
    wait_until(LONG, "storm list to be empty", || {
        storm(&c, &["list"]).1 == "No topologies running.\n"
    });
    wait_until(LONG, "the workers to exit", || {
        c.supervisors[0].worker_pids().iter().all(|&p| !alive(p))
    });

    // Bad input, each with a one-line reason.
    let e = fails(&c, &["kill", "nope"]);
    assert!(e.contains("nope") && e.contains("not alive"), "{e}");
    let e = fails(&c, &["activate", "nope"]);
    assert!(e.contains("nope"), "{e}");
    let e = fails(&c, &["deactivate", "nope"]);
    assert!(e.contains("nope"), "{e}");
    let e = fails(&c, &["rebalance", "nope", "-n", "1"]);
    assert!(e.contains("nope"), "{e}");
    let e = fails(&c, &["get-errors", "nope"]);
    assert!(e.contains("no running topology is named nope"), "{e}");
    let e = fails(&c, &["rebalance", "wc", "-e", "split"]);
    assert!(e.contains("COMPONENT=NUMBER_OF_EXECUTORS"), "{e}");
    let e = fails(&c, &["list", "-c", "nimbus.thrift.port=notaport"]);
    assert!(e.contains("nimbus.thrift.port"), "{e}");
    let e = fails(&c, &["list", "-c", "nimbus.seeds=[\"127.0.0.1:1\"]"]);
    assert!(
        e.contains("127.0.0.1:1") && e.contains("nimbus.seeds"),
        "{e}"
    );
}

#[test]
fn rebalance_of_an_unknown_component_names_the_valid_ones() {
    let mut c = TestCluster::start("cli-rebal", &[]);
    c.add_supervisor(2);
    c.wait_supervisors(1);
    let wc = example("word_count");
    ok(&c, &["jar", wc.to_str().unwrap(), "wc2"]);
    let e = fails(&c, &["rebalance", "wc2", "-e", "splitt=2"]);
    assert!(
        e.contains("Invalid component splitt") && e.contains("split"),
        "{e}"
    );
    let e = fails(&c, &["jar", wc.to_str().unwrap(), "wc2"]);
    assert!(
        e.contains("already"),
        "a second submit of a running name: {e}"
    );
    ok(&c, &["kill", "wc2", "-w", "0"]);
}

/// A Maven-layout repository over HTTP on a free port, serving `files` (path → bytes) until dropped.
struct Repo {
    port: u16,
    _server: storm::http::Server,
}

impl Repo {
    fn start(files: Vec<(String, Vec<u8>)>) -> Repo {
        use storm::http::{Limits, Request, Response, Server};
        let server = Server::bind(
            "127.0.0.1:0",
            "repo",
            Limits::new(4),
            move |req: Request| match files.iter().find(|(p, _)| *p == req.url()) {
                Some((_, b)) => Response::new(200, b.clone()),
                None => Response::new(404, Vec::new()),
            },
        )
        .unwrap();
        Repo {
            port: server.local_addr().port(),
            _server: server,
        }
    }
}

fn sha1_hex(bytes: &[u8]) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn storm_jar_resolves_artifacts_and_the_worker_finds_them() {
    let mut c = TestCluster::start("cli-artifacts", &[]);
    c.add_supervisor(1);
    c.wait_supervisors(1);
    let jar = b"PK\x05\x06 a dependency jar".to_vec();
    let good = "/repo/com/example/dep/1.0/dep-1.0.jar".to_string();
    let bad = "/repo/com/example/bad/1.0/bad-1.0.jar".to_string();
    let repo = Repo::start(vec![
        (good.clone(), jar.clone()),
        (format!("{good}.sha1"), sha1_hex(&jar).into_bytes()),
        (bad.clone(), jar.clone()),
        (
            format!("{bad}.sha1"),
            sha1_hex(b"something else").into_bytes(),
        ),
    ]);
    let repos = format!("local^http://127.0.0.1:{}/repo", repo.port);
    let m2 = c.dir.join("m2");
    let m2 = m2.to_str().unwrap();
    let wc = example("word_count");
    let wc = wc.to_str().unwrap();

    // A bad checksum and a missing artifact fail before anything is submitted.
    let e = fails(
        &c,
        &[
            "jar",
            wc,
            "wcbad",
            "--artifacts",
            "com.example:bad:1.0",
            "--artifactRepositories",
            &repos,
            "--mavenLocalRepositoryDirectory",
            m2,
        ],
    );
    assert!(
        e.contains("com.example:bad:1.0") && e.to_lowercase().contains("checksum"),
        "{e}"
    );
    let e = fails(
        &c,
        &[
            "jar",
            wc,
            "wcbad",
            "--artifacts",
            "com.example:missing:2.0",
            "--artifactRepositories",
            &repos,
            "--mavenLocalRepositoryDirectory",
            m2,
        ],
    );
    assert!(
        e.contains("com.example:missing:2.0") && e.contains("local"),
        "{e}"
    );
    assert_eq!(ok(&c, &["list"]), "No topologies running.\n");

    // The good one reaches the worker.
    ok(
        &c,
        &[
            "jar",
            wc,
            "wcdep",
            "--artifacts",
            "com.example:dep:1.0",
            "--artifactRepositories",
            &repos,
            "--mavenLocalRepositoryDirectory",
            m2,
        ],
    );
    let id = c.topology_id("wcdep").expect("submitted");
    let mut found = None;
    wait_until(LONG, "a worker that sees the dependency", || {
        found = c.supervisors[0].worker_pids().into_iter().find_map(|p| {
            let env = std::fs::read(format!("/proc/{p}/environ")).ok()?;
            let dir = env
                .split(|b| *b == 0)
                .filter_map(|kv| std::str::from_utf8(kv).ok())
                .find_map(|kv| kv.strip_prefix("STORM_DEPENDENCY_DIR="))?
                .to_string();
            // The blob Storm's DependencyUploader would name it.
            std::fs::read(std::path::Path::new(&dir).join("dep-com.example-dep-1.0.jar")).ok()
        });
        found.is_some()
    });
    assert_eq!(found.unwrap(), jar);
    ok(&c, &["kill", "wcdep", "-w", "0"]);
    let _ = id;
}

/// Every worker log under the supervisors' log dirs, concatenated (one worker per test here).
fn worker_logs_text(c: &TestCluster) -> String {
    let mut out = String::new();
    for s in &c.supervisors {
        let root = s.log_dir().join("workers-artifacts");
        for t in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            for port in std::fs::read_dir(t.path()).into_iter().flatten().flatten() {
                out.push_str(
                    &std::fs::read_to_string(port.path().join("worker.log")).unwrap_or_default(),
                );
            }
        }
    }
    out
}

/// Lines of every worker log of topology `id` under the supervisors' log dirs that contain `needle`.
fn worker_log_lines(c: &TestCluster, id: &str, needle: &str) -> usize {
    let mut n = 0;
    for s in &c.supervisors {
        let root = s.log_dir().join("workers-artifacts");
        let Ok(topologies) = std::fs::read_dir(&root) else {
            continue;
        };
        for t in topologies.flatten() {
            if !t
                .file_name()
                .to_string_lossy()
                .contains(id.split('-').next().unwrap())
            {
                continue;
            }
            for port in std::fs::read_dir(t.path()).into_iter().flatten().flatten() {
                if let Ok(text) = std::fs::read_to_string(port.path().join("worker.log")) {
                    n += text.lines().filter(|l| l.contains(needle)).count();
                }
            }
        }
    }
    n
}

#[test]
fn set_log_level_changes_the_workers_levels_live_and_they_revert_after_the_timeout() {
    let mut c = TestCluster::start("cli-loglevel", &[("worker.log.level.reset.poll.secs", "1")]);
    c.add_supervisor(1);
    c.wait_supervisors(1);
    let wc = example("word_count");
    ok(&c, &["jar", wc.to_str().unwrap(), "loglevels"]);
    let id = c.topology_id("loglevels").expect("submitted");
    wait_until(LONG, "the worker to run", || spout_emitted(&c, &id) > 0);
    let beat = "wrote the executor heartbeat to ZooKeeper";
    assert_eq!(worker_log_lines(&c, &id, beat), 0, "no DEBUG lines at INFO");

    // Bad input: a clear one-line error each.
    let e = fails(&c, &["set_log_level", "-l", "storm=LOUD", "loglevels"]);
    assert!(e.contains("not a level"), "{e}");
    let e = fails(&c, &["set_log_level", "-l", "storm=DEBUG", "nosuch"]);
    assert!(e.contains("nosuch"), "{e}");
    let e = fails(&c, &["set_log_level", "loglevels"]);
    assert!(e.contains("nothing to do"), "{e}");

    // DEBUG for the `storm` target for 6 s: the workers' own debug lines appear, then stop.
    let out = ok(&c, &["set_log_level", "-l", "storm=DEBUG:6", "loglevels"]);
    assert!(out.contains("storm=DEBUG for 6 s"), "{out}");
    wait_until(LONG, "DEBUG lines in the worker log", || {
        worker_log_lines(&c, &id, beat) >= 2
    });
    wait_until(LONG, "the level to revert after its timeout", || {
        worker_log_lines(&c, &id, "log levels changed") >= 2
    });
    // The worker writes heartbeats and applies levels on one thread: once ZooKeeper has a heartbeat
    // written two seconds after the revert, no DEBUG heartbeat line may follow the revert's line.
    let reverted_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i32;
    wait_until(LONG, "a heartbeat after the revert", || {
        c.state()
            .worker_heartbeats(&id)
            .unwrap_or_default()
            .values()
            .all(|hb| hb.time_secs >= reverted_at + 2)
    });
    let logs = worker_logs_text(&c);
    let revert = logs
        .rfind("log levels changed")
        .expect("the revert is logged");
    assert!(
        !logs[revert..].contains(beat),
        "a DEBUG line after the revert:\n{}",
        &logs[revert..]
    );

    // -r puts a logger back at once.
    ok(&c, &["set_log_level", "-l", "ROOT=DEBUG", "loglevels"]);
    wait_until(LONG, "ROOT=DEBUG to apply", || {
        worker_log_lines(&c, &id, "log levels changed") >= 3
    });
    ok(&c, &["set_log_level", "-r", "ROOT", "loglevels"]);
    wait_until(LONG, "ROOT to be reset", || {
        worker_log_lines(&c, &id, "log levels changed") >= 4
    });
    ok(&c, &["kill", "loglevels", "-w", "0"]);
}
