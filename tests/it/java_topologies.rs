//! Java topologies on a storm-rs cluster (issue 14): our own jar built against Storm 2.8.3's API
//! (`tests/java/topologies`), submitted with `storm jar` (and with plain `java -cp` through Storm's
//! `StormSubmitter`) to a cluster of real ZooKeeper, nimbus and two supervisors, whose workers run the
//! Java spouts and bolts in their embedded JVM. Results are counted from the files the topologies
//! write; nothing is mocked.

use std::path::Path;
use std::time::Duration;

use crate::java_support::*;
use crate::support::{wait_until, wait_until_ok};

fn total_seen(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("sink-"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .filter_map(|t| t.lines().next()?.strip_prefix("seen ")?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn java_word_count_counts_exactly_and_obeys_list_rebalance_deactivate_activate_kill() {
    let _serial = serial();
    let mut c = java_cluster("java-wc", 2, 2, &[]);
    let out = c.dir.join("wc-out");
    let total = 3000u64;
    let log = submit(
        &c,
        &[
            "wordcount",
            "jwc",
            out.to_str().unwrap(),
            &total.to_string(),
        ],
    );
    assert!(log.contains("Finished submitting topology: jwc"), "{log}");
    let id = c.topology_id("jwc").expect("topology jwc is active");
    wait_for_exact_counts(&c, &out, total, "java word count");
    // Two workers on two supervisors' slots.
    assert_eq!(c.slots(&id).len(), 2, "{:?}", c.assignment(&id));
    // Tick tuples from getComponentConfiguration reached both count tasks.
    assert!(
        ticks(&out).iter().all(|&t| t >= 1) && ticks(&out).len() == 2,
        "{:?}",
        ticks(&out)
    );

    let (code, list, _) = storm_cli(&c, &["list"]);
    assert_eq!(code, 0);
    let row = list
        .lines()
        .find(|l| l.starts_with("jwc "))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(row.contains("ACTIVE"), "{row}");
    // 1 spout + 2 split + 2 count + 1 acker tasks, 2 workers.
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[1..4], ["ACTIVE", "6", "2"], "{row}");

    // Rebalance to one worker: the assignment moves to one slot and the topology keeps its tasks.
    let (code, _, err) = storm_cli(&c, &["rebalance", "jwc", "-w", "0", "-n", "1"]);
    assert_eq!(code, 0, "{err}");
    wait_until(
        Duration::from_secs(60),
        "jwc rebalanced onto 1 worker",
        || {
            c.slots(&id).len() == 1
                && c.storm_base(&id)
                    .is_some_and(|b| b.status == storm::thrift::TopologyStatus::ACTIVE)
        },
    );

    // An endless topology for deactivate/activate: storm-starter's exclamation with Storm's own
    // TestWordSpout.
    let ex_out = c.dir.join("ex-out");
    submit(&c, &["exclamation", "jex", ex_out.to_str().unwrap()]);
    let ex = c.topology_id("jex").expect("jex is active");
    wait_until(Duration::from_secs(90), "exclamation output", || {
        total_seen(&ex_out) > 0
    });
    let sink = std::fs::read_dir(&ex_out)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().starts_with("sink-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .unwrap();
    assert!(
        sink.lines()
            .skip(1)
            .all(|w| w.ends_with("!!!!!!") && w.len() > 6),
        "every word went through both exclamation bolts:\n{sink}"
    );
    let (code, _, err) = storm_cli(&c, &["deactivate", "jex"]);
    assert_eq!(code, 0, "{err}");
    // Deactivated spouts stop: the sink's count settles (two reads 3 s apart agree).
    let mut before = total_seen(&ex_out);
    let settled = wait_until_ok(Duration::from_secs(60), || {
        std::thread::sleep(Duration::from_secs(3));
        let now = total_seen(&ex_out);
        let same = now == before;
        before = now;
        same
    });
    assert!(settled, "the sink kept receiving after deactivate");
    let (code, _, err) = storm_cli(&c, &["activate", "jex"]);
    assert_eq!(code, 0, "{err}");
    wait_until(Duration::from_secs(60), "output after activate", || {
        total_seen(&ex_out) > before + 100
    });

    for name in ["jwc", "jex"] {
        let (code, _, err) = storm_cli(&c, &["kill", name, "-w", "1"]);
        assert_eq!(code, 0, "{err}");
    }
    wait_until(Duration::from_secs(60), "both topologies gone", || {
        c.topology_id("jwc").is_none() && c.topology_id("jex").is_none()
    });
    wait_until(Duration::from_secs(60), "their workers exit", || {
        c.supervisors.iter().all(|s| s.worker_pids().is_empty())
    });
    let _ = (id, ex);
}

#[test]
fn java_failures_replay_custom_groupings_route_and_a_throwing_bolt_restarts_its_worker() {
    let _serial = serial();
    let mut c = java_cluster("java-fail", 2, 2, &[]);

    // Every 10th id fails once in split and is replayed by the spout; a user's CustomStreamGrouping
    // (Java-serialized) routes words to the count tasks.
    let out = c.dir.join("failing-out");
    submit(&c, &["failing", "jfail", out.to_str().unwrap(), "1000"]);
    wait_for_exact_counts(&c, &out, 1000, "failing topology");
    let s = spout_counts(&out);
    assert_eq!((s.acked, s.failed, s.emitted), (1000, 100, 1100), "{s:?}");
    // collector.reportError from Java reaches /errors with its stack trace, and `storm get-errors`.
    let fail_id = c.topology_id("jfail").expect("jfail is active");
    let reported = c.state().last_error(&fail_id, "split").ok().flatten();
    assert!(
        reported.as_ref().is_some_and(|e| e
            .error
            .contains("java.lang.IllegalArgumentException: storm-rs test: failing id")),
        "{reported:?}"
    );
    let (code, errors, _) = storm_cli(&c, &["get-errors", "jfail"]);
    assert_eq!(code, 0);
    assert!(errors.contains("storm-rs test: failing id"), "{errors}");
    let (code, _, err) = storm_cli(&c, &["kill", "jfail", "-w", "0"]);
    assert_eq!(code, 0, "{err}");

    // split throws on its first tuple: the executor dies, its worker halts and is relaunched by
    // the supervisor, the tuple times out and is replayed, and the counts still come out exact.
    let out = c.dir.join("throwing-out");
    submit(&c, &["throwing", "jthrow", out.to_str().unwrap(), "500"]);
    let id = c.topology_id("jthrow").expect("jthrow is active");
    wait_until(Duration::from_secs(90), "the bolt to throw", || {
        out.join("thrown").exists()
    });
    wait_for_exact_counts(&c, &out, 500, "throwing topology");
    let last = c
        .state()
        .last_error(&id, "split")
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no last error for split\n{}", worker_logs(&c, &id)));
    assert!(
        last.error.contains(
            "java.lang.IllegalStateException: storm-rs test: SplitBolt throws once on purpose"
        ) && last.error.contains("at org.stormrs.it.SplitBolt.execute"),
        "the Java stack trace is reported: {}",
        last.error
    );
    let (code, _, err) = storm_cli(&c, &["kill", "jthrow", "-w", "0"]);
    assert_eq!(code, 0, "{err}");

    // The same jar through Storm's own StormSubmitter run with plain `java -cp` (as a Storm user's
    // script would), proving the wire path without our CLI.
    let a = assets();
    let yaml = c.dir.join("storm.yaml");
    let conf = c.conf();
    let client: serde_json::Map<String, serde_json::Value> = storm::cli::java::client_conf(&conf);
    std::fs::write(&yaml, serde_json::to_string(&client).unwrap()).unwrap();
    let out = c.dir.join("plain-java-out");
    let status = std::process::Command::new("java")
        .arg(format!("-Dstorm.conf.file={}", yaml.display()))
        .arg(format!("-Dstorm.jar={}", a.topologies.display()))
        .arg("-cp")
        .arg(format!("{}:{}", a.classpath, a.topologies.display()))
        .args(["org.stormrs.it.Topologies", "wordcount", "jplain"])
        .arg(&out)
        .arg("600")
        .output()
        .expect("run java");
    assert!(
        status.status.success(),
        "plain java StormSubmitter: {}{}",
        String::from_utf8_lossy(&status.stdout),
        String::from_utf8_lossy(&status.stderr)
    );
    wait_for_exact_counts(&c, &out, 600, "plain java -cp submission");
    let (code, _, err) = storm_cli(&c, &["kill", "jplain", "-w", "0"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn java_drpc_pystorm_mix_and_user_objects() {
    let _serial = serial();
    let drpc_port = crate::support::free_port().to_string();
    let inv_port = crate::support::free_port().to_string();
    let http_port = crate::support::free_port().to_string();
    let mut c = java_cluster(
        "java-mix",
        2,
        2,
        &[
            ("drpc.servers", r#"["127.0.0.1"]"#),
            ("drpc.port", &drpc_port),
            ("drpc.invocations.port", &inv_port),
            ("drpc.http.port", &http_port),
        ],
    );
    c.add_drpc();

    // Storm's LinearDRPCTopologyBuilder: Storm's own Java DRPCSpout, CoordinatedBolt, JoinResult and
    // ReturnResults, over our drpc daemon.
    submit(&c, &["drpc", "jdrpc", "exclaim"]);
    let url = format!("http://127.0.0.1:{http_port}/drpc/exclaim/hello");
    let mut answer = String::new();
    let ok = wait_until_ok(Duration::from_secs(90), || {
        let out = std::process::Command::new("curl")
            .args(["-s", "--max-time", "10", &url])
            .output()
            .expect("curl");
        answer = String::from_utf8_lossy(&out.stdout).into_owned();
        out.status.success() && answer == "hello!"
    });
    assert!(ok, "DRPC over HTTP answered {answer:?}\n{}", c.logs());
    let (code, out, err) = storm_cli(&c, &["drpc-client", "-f", "exclaim", "a b", "c"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(r#"exclaim "a b" => "a b!""#) && out.contains(r#"exclaim "c" => "c!""#),
        "{out}"
    );
    let (code, _, err) = storm_cli(&c, &["kill", "jdrpc", "-w", "0"]);
    assert_eq!(code, 0, "{err}");

    // A Java spout feeding a pystorm bolt (a Java ShellBolt subclass with its script in the jar's
    // resources/) feeding a Java bolt.
    let python = crate::support::python().display().to_string();
    let out = c.dir.join("mixed-out");
    submit(
        &c,
        &["mixed", "jmix", out.to_str().unwrap(), "500", &python],
    );
    wait_for_exact_counts(&c, &out, 500, "Java spout → pystorm bolt → Java bolt");
    let (code, _, err) = storm_cli(&c, &["kill", "jmix", "-w", "0"]);
    assert_eq!(code, 0, "{err}");

    // A Java ShellSpout subclass (a pystorm spout from the jar's resources/) feeding the pystorm
    // bolt and a Java bolt: every sentence counted once.
    let out = c.dir.join("pyspout-out");
    submit(
        &c,
        &["pyspout", "jpyspout", out.to_str().unwrap(), "300", &python],
    );
    let expected = expected_counts(300);
    let mut last = std::collections::BTreeMap::new();
    let ok = wait_until_ok(Duration::from_secs(120), || {
        last = word_counts(&out).0;
        last == expected
    });
    assert!(
        ok,
        "pystorm spout (Java ShellSpout) → pystorm bolt → Java bolt: counts {last:?}, expected {expected:?}\n{}",
        c.logs()
    );
    let (code, _, err) = storm_cli(&c, &["kill", "jpyspout", "-w", "0"]);
    assert_eq!(code, 0, "{err}");

    // Storm's windowing: a BaseWindowedBolt (Storm's WindowedBoltExecutor, whose timer thread
    // triggers windows and whose window manager acks tuples as they leave a window).
    let out = c.dir.join("windowed-out");
    submit(&c, &["windowed", "jwin", out.to_str().unwrap(), "500"]);
    let words: u64 = expected_counts(500).values().sum();
    let mut last = String::new();
    let ok = wait_until_ok(Duration::from_secs(120), || {
        last = std::fs::read_dir(&out)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("windows-"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .collect();
        spout_counts(&out).acked == 500 && last.trim_end().ends_with(&format!("tuples {words}"))
    });
    assert!(
        ok,
        "windows saw every word once: {last:?}, spout {:?}",
        spout_counts(&out)
    );
    let (code, _, err) = storm_cli(&c, &["kill", "jwin", "-w", "0"]);
    assert_eq!(code, 0, "{err}");

    // A user's own Serializable class and a TreeSet as tuple values, fields-grouped on the object.
    let out = c.dir.join("objects-out");
    submit(&c, &["objects", "jobj", out.to_str().unwrap(), "500"]);
    wait_for_exact_counts(&c, &out, 500, "user objects in tuples");
    let (code, _, err) = storm_cli(&c, &["kill", "jobj", "-w", "0"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn flux_yaml_word_count_with_storms_flux_main_and_jars_through_the_blob_store() {
    let _serial = serial();
    let c = java_cluster("java-flux", 2, 2, &[]);
    let out = c.dir.join("flux-out");
    let props = c.dir.join("wordcount.properties");
    std::fs::write(
        &props,
        format!("name=jflux\ntotal=500\nout.dir={}\n", out.display()),
    )
    .unwrap();
    let flux = crate::support::repo().join("tests/java/flux/target/flux-core-2.8.3.jar");
    let yaml = crate::support::repo().join("tests/java/flux/wordcount.yaml");
    let jars = assets().topologies.display().to_string();
    let (code, stdout, stderr) = storm_cli(
        &c,
        &[
            "jar",
            flux.to_str().unwrap(),
            "org.apache.storm.flux.Flux",
            "--remote",
            yaml.to_str().unwrap(),
            "--filter",
            props.to_str().unwrap(),
            "--jars",
            &jars,
        ],
    );
    assert_eq!(code, 0, "Flux submission failed:\n{stdout}\n{stderr}");
    // Our components reached the workers as a dependency blob, not inside the topology jar.
    wait_for_exact_counts(&c, &out, 500, "Flux word count");
    let (code, _, err) = storm_cli(&c, &["kill", "jflux", "-w", "0"]);
    assert_eq!(code, 0, "{err}");
}
