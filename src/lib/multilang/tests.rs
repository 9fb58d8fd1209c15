//! Shell components end to end: the builder's Thrift form, and real Python subprocesses (pystorm from
//! the test virtualenv, and a `storm.py`-style adapter) in `LocalCluster` — word counts, replay of
//! failed tuples, a hanging subprocess, a dying one and one that breaks the protocol. Every wait is a
//! condition with a deadline.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{ShellBolt, ShellSpout, MULTILANG_DIR_KEY};
use crate::api::{decode_bolt, decode_spout, TopologyBuilder, TopologyConf};
use crate::executor::{ErrorReport, ExecutorKind};
use crate::local::testing::{shared, unique_key, wait_until, CaptureBolt, Captured};
use crate::local::LocalCluster;
use crate::thrift::{ComponentObject, ShellComponent};

const DEADLINE: Duration = Duration::from_secs(20);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn scripts_dir() -> PathBuf {
    repo().join("tests/python/multilang")
}

/// The test virtualenv's Python (pystorm installed), as `tests/it` finds it.
fn python() -> String {
    if let Some(p) = std::env::var_os("STORM_TEST_PYTHON") {
        return p.to_string_lossy().into_owned();
    }
    let p = repo().join("target/test-venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run scripts/test.sh (or `python3 -m venv target/test-venv && target/test-venv/bin/pip install thriftpy2 streamparse pystorm`)",
        p.display()
    );
    p.to_string_lossy().into_owned()
}

fn sentences() -> [&'static str; 5] {
    [
        "the cow jumped over the moon",
        "an apple a day keeps the doctor away",
        "four score and seven years ago",
        "snow white and the seven dwarfs",
        "i am at two with nature",
    ]
}

fn expected_counts(n: usize) -> BTreeMap<String, i64> {
    let mut expected = BTreeMap::new();
    for i in 0..n {
        for w in sentences()[i % 5].split_whitespace() {
            *expected.entry(w.to_owned()).or_insert(0) += 1;
        }
    }
    expected
}

fn conf(sentences: usize) -> TopologyConf {
    let mut conf = TopologyConf::new();
    conf.set(
        MULTILANG_DIR_KEY,
        scripts_dir().to_string_lossy().into_owned(),
    );
    conf.set("test.sentences", sentences as i64);
    conf.set_num_ackers(1);
    conf
}

/// (acked, failed) trees over the topology's spouts.
fn spout_totals(cluster: &LocalCluster, name: &str) -> (u64, u64) {
    let stats = cluster.stats(name).unwrap();
    let spouts = stats.iter().filter(|s| s.kind == ExecutorKind::Spout);
    spouts.fold((0, 0), |(a, f), s| {
        (a + s.stats.total_acked(), f + s.stats.total_failed())
    })
}

fn describe(errors: &[ErrorReport]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.component_id, e.error))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn builder_carries_shell_components_as_thrift_shell() {
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "spout",
        ShellSpout::new(["python3", "spout.py"]).declare(["sentence"]),
        1,
    );
    builder
        .set_bolt(
            "split",
            ShellBolt::new(["python3", "split.py"])
                .declare(["word"])
                .declare_direct_stream("d", ["x", "y"]),
            2,
        )
        .shuffle_grouping("spout");
    let topology = builder.create_topology().unwrap();
    let split = &topology.bolts["split"];
    assert_eq!(
        split.bolt_object,
        ComponentObject::Shell(ShellComponent {
            execution_command: Some("python3".into()),
            script: Some("split.py".into()),
        })
    );
    assert_eq!(split.common.streams["default"].output_fields, vec!["word"]);
    assert!(!split.common.streams["default"].direct);
    assert!(split.common.streams["d"].direct);
    assert_eq!(
        topology.spouts["spout"].spout_object,
        ComponentObject::Shell(ShellComponent {
            execution_command: Some("python3".into()),
            script: Some("spout.py".into()),
        })
    );
    assert_eq!(
        topology.spouts["spout"].common.streams["default"].output_fields,
        vec!["sentence"]
    );
    // A worker rebuilds them from the Thrift form.
    let bolt = decode_bolt("split", &split.bolt_object).unwrap();
    assert_eq!(bolt.shell_command().unwrap(), ["python3", "split.py"]);
    let spout = decode_spout("spout", &topology.spouts["spout"].spout_object).unwrap();
    assert_eq!(spout.shell_command().unwrap(), ["python3", "spout.py"]);
    // streamparse's form: the script is one argument.
    let sp = ShellBolt::from_component(&ShellComponent {
        execution_command: Some("streamparse_run".into()),
        script: Some("-s json bolts.wordcount.WordCountBolt".into()),
    });
    assert_eq!(
        sp.command(),
        ["streamparse_run", "-s json bolts.wordcount.WordCountBolt"]
    );

    // Storm's ShellComponent has two slots.
    let mut bad = TopologyBuilder::new();
    bad.set_bolt("b", ShellBolt::new(["python3", "-u", "x.py"]), 1);
    let err = bad.create_topology().unwrap_err().to_string();
    assert!(err.contains("[execution_command, script]"), "{err}");
}

/// spout → split (shuffle) → count (fields on word) → capture (global); returns the final counts.
fn run_word_count(
    name: &str,
    spout: ShellSpout,
    split: ShellBolt,
    count: ShellBolt,
    n: usize,
) -> BTreeMap<String, i64> {
    let capture_key = unique_key(name);
    let mut builder = TopologyBuilder::new();
    builder.set_spout("sentences", spout.declare(["sentence"]), 1);
    builder
        .set_bolt("split", split.declare(["word"]), 2)
        .shuffle_grouping("sentences");
    builder
        .set_bolt("count", count.declare(["word", "count"]), 2)
        .fields_grouping("split", ["word"]);
    builder
        .set_bolt("capture", CaptureBolt::new(&capture_key), 1)
        .global_grouping("count");
    let topology = builder.create_topology().unwrap();
    let cluster = LocalCluster::new();
    cluster.submit_topology(name, &conf(n), &topology).unwrap();
    let done = wait_until(DEADLINE, || spout_totals(&cluster, name).0 >= n as u64);
    let errors = cluster.errors(name).unwrap();
    assert!(
        done,
        "acked {:?} (acked, failed) of {n}; errors:\n{}",
        spout_totals(&cluster, name),
        describe(&errors)
    );
    assert!(errors.is_empty(), "errors:\n{}", describe(&errors));
    assert_eq!(spout_totals(&cluster, name), (n as u64, 0));
    let captured = shared::<Captured>(&capture_key);
    let mut finals: BTreeMap<String, i64> = BTreeMap::new();
    for t in captured.tuples() {
        let word = t.values[0].as_str().unwrap().to_owned();
        let count = t.values[1].as_i64().unwrap();
        let e = finals.entry(word).or_default();
        *e = (*e).max(count);
    }
    let total: i64 = expected_counts(n).values().sum();
    assert_eq!(captured.len() as i64, total, "one count tuple per word");
    cluster.shutdown();
    finals
}

#[test]
fn pystorm_word_count_in_local_mode_gives_exact_counts() {
    let py = python();
    let n = 50;
    let finals = run_word_count(
        "pystorm-wc",
        ShellSpout::new([py.as_str(), "sentence_spout.py"]),
        ShellBolt::new([py.as_str(), "split_bolt.py"]),
        ShellBolt::new([py.as_str(), "count_bolt.py"]),
        n,
    );
    assert_eq!(finals, expected_counts(n));
}

#[test]
fn storm_py_style_word_count_waits_for_task_ids() {
    // No need_task_ids field: every emit is answered with its task ids, or the scripts hang.
    let py = python();
    let n = 30;
    let finals = run_word_count(
        "stormpy-wc",
        ShellSpout::new([py.as_str(), "storm_style_spout.py"]),
        ShellBolt::new([py.as_str(), "storm_style_split.py"]),
        ShellBolt::new([py.as_str(), "storm_style_count.py"]),
        n,
    );
    assert_eq!(finals, expected_counts(n));
}

#[test]
fn failing_every_tenth_tuple_replays_until_every_message_is_acked() {
    let py = python();
    let n = 40;
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "sentences",
        ShellSpout::new([py.as_str(), "sentence_spout.py"]).declare(["sentence"]),
        1,
    );
    builder
        .set_bolt(
            "flaky",
            ShellBolt::new([py.as_str(), "fail_every_tenth_bolt.py"]).declare(["sentence"]),
            1,
        )
        .shuffle_grouping("sentences");
    let topology = builder.create_topology().unwrap();
    let cluster = LocalCluster::new();
    cluster
        .submit_topology("flaky", &conf(n), &topology)
        .unwrap();
    let done = wait_until(DEADLINE, || spout_totals(&cluster, "flaky").0 >= n as u64);
    let (acked, failed) = spout_totals(&cluster, "flaky");
    let errors = cluster.errors("flaky").unwrap();
    assert!(
        done,
        "acked {acked}, failed {failed} of {n}; errors:\n{}",
        describe(&errors)
    );
    assert_eq!(acked, n as u64, "every message acked exactly once");
    assert!(
        failed >= (n / 10) as u64,
        "failed {failed}: replays happened"
    );
    assert!(errors.is_empty(), "errors:\n{}", describe(&errors));
    cluster.shutdown();
}

#[test]
fn hanging_bolt_is_detected_within_the_subprocess_timeout() {
    let py = python();
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "sentences",
        ShellSpout::new([py.as_str(), "sentence_spout.py"]).declare(["sentence"]),
        1,
    );
    builder
        .set_bolt("hang", ShellBolt::new([py.as_str(), "hanging_bolt.py"]), 1)
        .shuffle_grouping("sentences");
    let topology = builder.create_topology().unwrap();
    let mut conf = conf(5);
    conf.set("topology.subprocess.timeout.secs", 2);
    let cluster = LocalCluster::new();
    let start = Instant::now();
    cluster.submit_topology("hang", &conf, &topology).unwrap();
    let found = |cluster: &LocalCluster| {
        cluster
            .errors("hang")
            .unwrap()
            .into_iter()
            .find(|e| e.component_id == "hang" && e.error.contains("heartbeat timeout"))
    };
    assert!(
        wait_until(Duration::from_secs(15), || found(&cluster).is_some()),
        "no timeout reported; errors:\n{}",
        describe(&cluster.errors("hang").unwrap())
    );
    let elapsed = start.elapsed();
    let error = found(&cluster).unwrap().error;
    assert!(
        elapsed < Duration::from_secs(12),
        "detected after {elapsed:?}"
    );
    assert!(
        error.contains("ShellBolt died")
            && error.contains("\"hang\"")
            && error.contains("hanging_bolt.py")
            && error.contains("more than 2 s"),
        "{error}"
    );
    cluster.shutdown();
}

#[test]
fn a_subprocess_that_cannot_start_is_reported_with_its_stderr() {
    let py = python();
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "sentences",
        ShellSpout::new([py.as_str(), "sentence_spout.py"]).declare(["sentence"]),
        1,
    );
    builder
        .set_bolt(
            "missing",
            ShellBolt::new([py.as_str(), "no_such_script.py"]),
            1,
        )
        .shuffle_grouping("sentences");
    let topology = builder.create_topology().unwrap();
    let cluster = LocalCluster::new();
    cluster
        .submit_topology("missing", &conf(5), &topology)
        .unwrap();
    let found = |cluster: &LocalCluster| {
        cluster
            .errors("missing")
            .unwrap()
            .into_iter()
            .find(|e| e.component_id == "missing" && e.error.contains("Pipe to subprocess"))
    };
    assert!(
        wait_until(DEADLINE, || found(&cluster).is_some()),
        "errors:\n{}",
        describe(&cluster.errors("missing").unwrap())
    );
    let error = found(&cluster).unwrap().error;
    assert!(
        error.contains("No output read") && error.contains("no_such_script.py"),
        "{error}"
    );
    assert!(
        error.contains("subprocess stderr"),
        "stderr is quoted: {error}"
    );
    cluster.shutdown();
}

/// Runs the sentence spout into a shell bolt `name` running `script` (written to `name.py` in a
/// fresh multilang dir) until the bolt reports an error containing `needle`; returns that error.
fn first_bolt_error(name: &str, script: &str, needle: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = format!("{name}.py");
    std::fs::write(dir.path().join(&file), script).unwrap();
    let py = python();
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "sentences",
        ShellSpout::new([py.as_str(), "sentence_spout.py"]).declare(["sentence"]),
        1,
    );
    builder
        .set_bolt(name, ShellBolt::new([py.as_str(), file.as_str()]), 1)
        .add_configuration(MULTILANG_DIR_KEY, dir.path().to_string_lossy().into_owned())
        .shuffle_grouping("sentences");
    let topology = builder.create_topology().unwrap();
    let cluster = LocalCluster::new();
    cluster.submit_topology(name, &conf(5), &topology).unwrap();
    let found = |cluster: &LocalCluster| {
        cluster
            .errors(name)
            .unwrap()
            .into_iter()
            .find(|e| e.component_id == name && e.error.contains(needle))
    };
    assert!(
        wait_until(DEADLINE, || found(&cluster).is_some()),
        "errors:\n{}",
        describe(&cluster.errors(name).unwrap())
    );
    let error = found(&cluster).unwrap().error;
    cluster.shutdown();
    error
}

#[test]
fn a_subprocess_breaking_the_protocol_is_named_with_the_offending_text() {
    let error = first_bolt_error(
        "broken",
        "import json, os, sys\n\
         lines = []\n\
         while True:\n\
         \x20   line = sys.stdin.readline().rstrip('\\n')\n\
         \x20   if line == 'end':\n\
         \x20       break\n\
         \x20   lines.append(line)\n\
         setup = json.loads('\\n'.join(lines))\n\
         open(os.path.join(setup['pidDir'], str(os.getpid())), 'w').close()\n\
         sys.stdout.write(json.dumps({'pid': os.getpid()}) + '\\nend\\n')\n\
         sys.stdout.write('this is not json\\nend\\n')\n\
         sys.stdout.flush()\n\
         sys.stdin.read()\n",
        "invalid JSON",
    );
    assert!(error.contains("this is not json"), "{error}");
}

#[test]
fn a_dying_subprocess_is_quoted_with_what_it_wrote_to_stderr_after_closing_stdout() {
    // The child closes stdout first and writes its last words to stderr only afterwards: the error
    // must wait for them (the race behind a CI failure, made certain here by the sleep in the child).
    let error = first_bolt_error(
        "late",
        "import os, sys, time\n\
         os.close(1)\n\
         time.sleep(0.2)\n\
         sys.stderr.write('late last words\\n')\n\
         sys.exit(3)\n",
        "Pipe to subprocess",
    );
    assert!(
        error.contains("late last words"),
        "stderr is quoted: {error}"
    );
    assert!(error.contains("exit status: 3"), "exit is named: {error}");
}
