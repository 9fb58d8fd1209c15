//! Local mode end to end: exact word counts, replay until every message is acked once under
//! `topology.max.spout.pending`, rebalance, acking off, activation, timeouts, errors, and Storm's
//! submission errors. Every wait is a condition with a deadline.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::components::{SplitSentence, TestWordSpout, WordCount};
use super::testing::{
    shared, unique_key, wait_until, CaptureBolt, Captured, FeederState, FixedTupleSpout,
};
use super::{LocalCluster, LocalClusterError, RebalanceOptions};
use crate::api::{
    Bolt, ComponentError, ConfMap, MessageId, OutputCollector, OutputFieldsDeclarer, Spout,
    SpoutOutputCollector, TopologyBuilder, TopologyConf, TopologyContext, Tuple,
};
use crate::executor::ExecutorKind;
use crate::grouping::JavaRandom;
use crate::thrift::ComponentObject;
use crate::tuple::Value;
use crate::values;

const DEADLINE: Duration = Duration::from_secs(20);

fn sentences() -> Vec<&'static str> {
    vec![
        "the cow jumped over the moon",
        "an apple a day keeps the doctor away",
        "four score and seven years ago",
        "snow white and the seven dwarfs",
        "i am at two with nature",
    ]
}

#[test]
fn local_word_count_with_fixed_input_gives_exact_counts() {
    let feeder_key = unique_key("wc-feeder");
    let capture_key = unique_key("wc-capture");
    let input: Vec<String> = (0..60).map(|i| sentences()[i % 5].to_owned()).collect();
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for s in &input {
        for w in s.split_whitespace() {
            *expected.entry(w.to_owned()).or_default() += 1;
        }
    }
    let total_words: i64 = expected.values().sum();

    let mut builder = TopologyBuilder::new();
    builder
        .set_spout(
            "spout",
            FixedTupleSpout::new(
                ["sentence"],
                input.iter().map(|s| values![s.as_str()]).collect(),
                Some(feeder_key.clone()),
            ),
            2,
        )
        .set_num_tasks(3);
    builder
        .set_basic_bolt("split", SplitSentence::default(), 2)
        .set_num_tasks(4)
        .shuffle_grouping("spout");
    builder
        .set_basic_bolt("count", WordCount::new(), 3)
        .fields_grouping("split", ["word"]);
    builder
        .set_bolt("capture", CaptureBolt::new(&capture_key), 1)
        .global_grouping("count");
    let topology = builder.create_topology().unwrap();

    let cluster = LocalCluster::new();
    let mut conf = TopologyConf::new();
    conf.set_num_ackers(2);
    cluster.submit_topology("wc", &conf, &topology).unwrap();

    let feeder = shared::<FeederState>(&feeder_key);
    let captured = shared::<Captured>(&capture_key);
    assert!(
        wait_until(DEADLINE, || feeder.acked().len() == input.len()),
        "acked {} of {}",
        feeder.acked().len(),
        input.len()
    );
    // Every sentence tree completed, so every count tuple was captured.
    assert_eq!(captured.len() as i64, total_words);
    let mut finals: BTreeMap<String, i64> = BTreeMap::new();
    for t in captured.tuples() {
        let word = t.values[0].as_str().unwrap().to_owned();
        let count = t.values[1].as_i64().unwrap();
        let e = finals.entry(word).or_default();
        *e = (*e).max(count);
    }
    assert_eq!(finals, expected);
    let mut acked = feeder.acked();
    acked.sort_unstable();
    assert_eq!(acked, (0..input.len() as i64).collect::<Vec<_>>());
    assert!(feeder.failed().is_empty());
    assert!(cluster.errors("wc").unwrap().is_empty());

    // Statistics: the spouts acked every tree; the acker and bolts executed.
    let stats = cluster.stats("wc").unwrap();
    let spout_acked: u64 = stats
        .iter()
        .filter(|s| s.kind == ExecutorKind::Spout)
        .map(|s| s.stats.total_acked())
        .sum();
    assert_eq!(spout_acked, input.len() as u64);
    let split_executed: u64 = stats
        .iter()
        .filter(|s| s.component_id == "split")
        .map(|s| s.stats.total_executed())
        .sum();
    assert_eq!(split_executed, input.len() as u64);
    let count_emitted: u64 = stats
        .iter()
        .filter(|s| s.component_id == "count")
        .map(|s| s.stats.user_emitted())
        .sum();
    assert_eq!(count_emitted as i64, total_words);
    let thrift = stats[0].to_thrift(1.0);
    assert!(thrift.emitted.contains_key(":all-time"));
    cluster.kill_topology("wc").unwrap();
    assert!(cluster.topology_names().is_empty());
}

/// Emits ids 0..n reliably, replays failures, and checks `max.spout.pending` on every call.
#[derive(Serialize, Deserialize)]
struct ReplaySpout {
    key: String,
    n: i64,
    max_pending: usize,
    #[serde(skip)]
    next: i64,
    #[serde(skip)]
    replay: VecDeque<i64>,
    #[serde(skip)]
    outstanding: HashSet<i64>,
}

#[derive(Default)]
struct ReplayState {
    acked: Mutex<Vec<i64>>,
    failed: AtomicU64,
    violations: Mutex<Vec<String>>,
    max_outstanding: AtomicU64,
}

impl ReplaySpout {
    fn state(&self) -> Arc<ReplayState> {
        shared::<ReplayState>(&self.key)
    }
}

#[typetag::serde(name = "storm::tests::ReplaySpout")]
impl Spout for ReplaySpout {
    fn next_tuple(
        &mut self,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let state = self.state();
        if self.outstanding.len() >= self.max_pending {
            state.violations.lock().unwrap().push(format!(
                "next_tuple called with {} pending (max {})",
                self.outstanding.len(),
                self.max_pending
            ));
        }
        if collector.pending_count() != self.outstanding.len() {
            state.violations.lock().unwrap().push(format!(
                "executor pending {} != spout outstanding {}",
                collector.pending_count(),
                self.outstanding.len()
            ));
        }
        let id = match self.replay.pop_front() {
            Some(id) => id,
            None if self.next < self.n => {
                self.next += 1;
                self.next - 1
            }
            None => return Ok(()),
        };
        collector.emit(values![format!("m{id}")], Some(Value::Long(id)))?;
        self.outstanding.insert(id);
        state
            .max_outstanding
            .fetch_max(self.outstanding.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    fn ack(
        &mut self,
        id: MessageId,
        _c: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let id = id.as_i64().unwrap();
        if !self.outstanding.remove(&id) {
            self.state()
                .violations
                .lock()
                .unwrap()
                .push(format!("ack of {id}, which is not outstanding"));
        }
        self.state().acked.lock().unwrap().push(id);
        Ok(())
    }

    fn fail(
        &mut self,
        id: MessageId,
        _c: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let id = id.as_i64().unwrap();
        if !self.outstanding.remove(&id) {
            self.state()
                .violations
                .lock()
                .unwrap()
                .push(format!("fail of {id}, which is not outstanding"));
        }
        self.state().failed.fetch_add(1, Ordering::Relaxed);
        self.replay.push_back(id);
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["msg"]);
    }
}

/// Emits `fanout` anchored children per input, then fails the input with probability
/// `fail_percent`/100 (seeded per task), else acks it.
#[derive(Serialize, Deserialize)]
struct FlakyBolt {
    fail_percent: i32,
    fanout: usize,
    #[serde(skip)]
    rng: Option<JavaRandom>,
}

#[typetag::serde(name = "storm::tests::FlakyBolt")]
impl Bolt for FlakyBolt {
    fn prepare(
        &mut self,
        _conf: &ConfMap,
        context: &TopologyContext,
        _collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.rng = Some(JavaRandom::new(i64::from(context.this_task_id()) * 7919));
        Ok(())
    }

    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        for i in 0..self.fanout {
            collector.emit_anchored(&input, values![format!("{}-{i}", input.get_str(0)?)])?;
        }
        let roll = self.rng.as_mut().unwrap().next_int_bounded(100);
        if roll < self.fail_percent {
            collector.fail(&input);
        } else {
            collector.ack(&input);
        }
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["msg"]);
    }
}

#[test]
fn local_random_failures_are_replayed_until_every_message_is_acked_exactly_once() {
    let key = unique_key("replay");
    let n = 300;
    let max_pending = 8;
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "spout",
        ReplaySpout {
            key: key.clone(),
            n,
            max_pending,
            next: 0,
            replay: VecDeque::new(),
            outstanding: HashSet::new(),
        },
        1,
    );
    builder
        .set_bolt(
            "first",
            FlakyBolt {
                fail_percent: 15,
                fanout: 2,
                rng: None,
            },
            2,
        )
        .shuffle_grouping("spout");
    builder
        .set_bolt(
            "second",
            FlakyBolt {
                fail_percent: 10,
                fanout: 0,
                rng: None,
            },
            3,
        )
        .fields_grouping("first", ["msg"]);
    let topology = builder.create_topology().unwrap();
    let mut conf = TopologyConf::new();
    conf.set_max_spout_pending(max_pending as u32)
        .set_num_ackers(2);

    let cluster = LocalCluster::new();
    cluster.submit_topology("replay", &conf, &topology).unwrap();
    let state = shared::<ReplayState>(&key);
    assert!(
        wait_until(DEADLINE, || state.acked.lock().unwrap().len() >= n as usize),
        "acked {} of {n}",
        state.acked.lock().unwrap().len()
    );
    let stats = cluster.stats("replay").unwrap();
    cluster.kill_topology("replay").unwrap();

    let mut acked = state.acked.lock().unwrap().clone();
    acked.sort_unstable();
    assert_eq!(
        acked,
        (0..n).collect::<Vec<_>>(),
        "every id acked exactly once"
    );
    assert!(
        state.failed.load(Ordering::Relaxed) > 0,
        "some trees failed and were replayed"
    );
    assert_eq!(*state.violations.lock().unwrap(), Vec::<String>::new());
    assert!(state.max_outstanding.load(Ordering::Relaxed) <= max_pending as u64);
    let spout = stats.iter().find(|s| s.component_id == "spout").unwrap();
    assert!(spout.max_pending <= max_pending, "{spout:?}");
    assert_eq!(spout.stats.total_acked(), n as u64);
    assert_eq!(
        spout.stats.total_failed(),
        state.failed.load(Ordering::Relaxed)
    );
    assert!(
        cluster.all_errors().is_empty(),
        "{:?}",
        cluster.all_errors()
    );
}

#[test]
fn local_rebalance_changes_executor_counts_without_changing_task_ids() {
    let key = unique_key("rebalance");
    let mut builder = TopologyBuilder::new();
    builder.set_spout("words", TestWordSpout::new(1), 1);
    builder
        .set_bolt("capture", CaptureBolt::new(&key), 1)
        .set_num_tasks(4)
        .shuffle_grouping("words");
    let topology = builder.create_topology().unwrap();
    let cluster = LocalCluster::new();
    cluster
        .submit_topology("rb", &TopologyConf::new(), &topology)
        .unwrap();
    let captured = shared::<Captured>(&key);
    assert!(wait_until(DEADLINE, || captured.len() > 5));

    let before = cluster.context("rb").unwrap().task_to_component().clone();
    let capture_execs = |cluster: &LocalCluster| -> Vec<(i32, i32)> {
        cluster
            .executors("rb")
            .unwrap()
            .into_iter()
            .filter(|e| e.component_id == "capture")
            .map(|e| (e.start, e.end))
            .collect()
    };
    let tasks = cluster
        .context("rb")
        .unwrap()
        .component_tasks("capture")
        .to_vec();
    assert_eq!(tasks.len(), 4);
    assert_eq!(capture_execs(&cluster), vec![(tasks[0], tasks[3])]);

    let options = RebalanceOptions {
        wait: Duration::ZERO,
        num_executors: BTreeMap::from([("capture".to_owned(), 3)]),
    };
    cluster.rebalance("rb", &options).unwrap();
    assert_eq!(
        capture_execs(&cluster),
        vec![
            (tasks[0], tasks[1]),
            (tasks[2], tasks[2]),
            (tasks[3], tasks[3])
        ]
    );
    assert_eq!(*cluster.context("rb").unwrap().task_to_component(), before);
    assert!(cluster.is_active("rb").unwrap());
    let seen = captured.len();
    assert!(
        wait_until(DEADLINE, || captured.len() > seen + 5),
        "still processing"
    );

    // More executors than tasks: one task each.
    let options = RebalanceOptions {
        wait: Duration::ZERO,
        num_executors: BTreeMap::from([("capture".to_owned(), 9)]),
    };
    cluster.rebalance("rb", &options).unwrap();
    assert_eq!(capture_execs(&cluster).len(), 4);
    assert_eq!(*cluster.context("rb").unwrap().task_to_component(), before);

    let bad = RebalanceOptions {
        wait: Duration::ZERO,
        num_executors: BTreeMap::from([("nope".to_owned(), 2)]),
    };
    assert!(matches!(
        cluster.rebalance("rb", &bad),
        Err(LocalClusterError::InvalidTopology(_))
    ));
    cluster.kill_topology("rb").unwrap();
}

#[test]
fn local_acking_disabled_acks_at_emit_and_runs_no_acker() {
    let feeder_key = unique_key("noack-feeder");
    let capture_key = unique_key("noack-capture");
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "spout",
        FixedTupleSpout::new(
            ["n"],
            (0..20).map(|i| values![format!("v{i}")]).collect(),
            Some(feeder_key.clone()),
        ),
        1,
    );
    builder
        .set_bolt("capture", CaptureBolt::new(&capture_key), 2)
        .shuffle_grouping("spout");
    let topology = builder.create_topology().unwrap();
    let mut conf = TopologyConf::new();
    conf.set_num_ackers(0);
    let cluster = LocalCluster::new();
    cluster.submit_topology("noack", &conf, &topology).unwrap();
    let feeder = shared::<FeederState>(&feeder_key);
    let captured = shared::<Captured>(&capture_key);
    assert!(wait_until(DEADLINE, || feeder.acked().len() == 20
        && captured.len() == 20));
    let executors = cluster.executors("noack").unwrap();
    assert!(executors.iter().all(|e| e.component_id != "__acker"));
    let stats = cluster.stats("noack").unwrap();
    let spout = stats.iter().find(|s| s.component_id == "spout").unwrap();
    assert_eq!(spout.stats.total_acked(), 20);
    assert_eq!(spout.pending, 0);
    assert!(!spout.stats.emitted.contains_key("__ack_init"));
    // Without ackers a bolt's acks send nothing and count nothing (as in Storm).
    for s in stats.iter().filter(|s| s.component_id == "capture") {
        assert_eq!(s.stats.total_acked(), 0);
    }
    cluster.kill_topology("noack").unwrap();
}

/// Records activation calls and any `next_tuple` while deactivated.
#[derive(Serialize, Deserialize)]
struct ActivationSpout {
    key: String,
    #[serde(skip)]
    active: bool,
}

#[derive(Default)]
struct ActivationState {
    activations: AtomicU64,
    deactivations: AtomicU64,
    calls: AtomicU64,
    inactive_calls: AtomicU64,
    closed: AtomicBool,
}

#[typetag::serde(name = "storm::tests::ActivationSpout")]
impl Spout for ActivationSpout {
    fn next_tuple(&mut self, _c: &mut SpoutOutputCollector<'_>) -> Result<(), ComponentError> {
        let s = shared::<ActivationState>(&self.key);
        s.calls.fetch_add(1, Ordering::Relaxed);
        if !self.active {
            s.inactive_calls.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn activate(&mut self, _c: &mut SpoutOutputCollector<'_>) -> Result<(), ComponentError> {
        self.active = true;
        shared::<ActivationState>(&self.key)
            .activations
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn deactivate(&mut self, _c: &mut SpoutOutputCollector<'_>) -> Result<(), ComponentError> {
        self.active = false;
        shared::<ActivationState>(&self.key)
            .deactivations
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn close(&mut self) {
        shared::<ActivationState>(&self.key)
            .closed
            .store(true, Ordering::Relaxed);
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["x"]);
    }
}

#[test]
fn local_activate_and_deactivate_reach_the_spout() {
    let key = unique_key("activation");
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "spout",
        ActivationSpout {
            key: key.clone(),
            active: false,
        },
        1,
    );
    let topology = builder.create_topology().unwrap();
    let cluster = LocalCluster::new();
    cluster
        .submit_topology("act", &TopologyConf::new(), &topology)
        .unwrap();
    let s = shared::<ActivationState>(&key);
    assert!(wait_until(DEADLINE, || s
        .activations
        .load(Ordering::Relaxed)
        == 1
        && s.calls.load(Ordering::Relaxed) > 0));
    cluster.deactivate("act").unwrap();
    assert!(!cluster.is_active("act").unwrap());
    assert!(wait_until(DEADLINE, || s
        .deactivations
        .load(Ordering::Relaxed)
        == 1));
    cluster.activate("act").unwrap();
    assert!(wait_until(DEADLINE, || s
        .activations
        .load(Ordering::Relaxed)
        == 2));
    let calls = s.calls.load(Ordering::Relaxed);
    assert!(wait_until(DEADLINE, || s.calls.load(Ordering::Relaxed) > calls));
    assert_eq!(s.inactive_calls.load(Ordering::Relaxed), 0);
    cluster.kill_topology("act").unwrap();
    assert!(s.closed.load(Ordering::Relaxed), "close is called on kill");
}

/// Never acks: every tree times out.
#[derive(Default, Serialize, Deserialize)]
struct BlackHoleBolt;

#[typetag::serde(name = "storm::tests::BlackHoleBolt")]
impl Bolt for BlackHoleBolt {
    fn execute(
        &mut self,
        _input: Tuple,
        _c: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        Ok(())
    }

    fn declare_output_fields(&self, _declarer: &mut OutputFieldsDeclarer) {}
}

#[test]
fn local_unacked_tuples_time_out_and_fail() {
    let key = unique_key("timeout");
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "spout",
        FixedTupleSpout::new(["n"], vec![values!["a"], values!["b"]], Some(key.clone())),
        1,
    );
    builder
        .set_bolt("sink", BlackHoleBolt, 1)
        .shuffle_grouping("spout");
    let topology = builder.create_topology().unwrap();
    let mut conf = TopologyConf::new();
    conf.set_message_timeout_secs(1);
    let cluster = LocalCluster::new();
    cluster
        .submit_topology("timeout", &conf, &topology)
        .unwrap();
    let feeder = shared::<FeederState>(&key);
    // Each tuple times out after 1–2 s and is replayed by the feeder; wait for both to fail once.
    assert!(wait_until(DEADLINE, || {
        let failed: HashSet<i64> = feeder.failed().into_iter().collect();
        failed.contains(&0) && failed.contains(&1)
    }));
    assert!(feeder.acked().is_empty());
    cluster.kill_topology("timeout").unwrap();
}

/// Fails with an error on the tuple "boom"; reports an error for "report".
#[derive(Default, Serialize, Deserialize)]
struct ErrorBolt;

#[typetag::serde(name = "storm::tests::ErrorBolt")]
impl Bolt for ErrorBolt {
    fn execute(&mut self, input: Tuple, c: &mut OutputCollector<'_>) -> Result<(), ComponentError> {
        match input.get_str(0)? {
            "boom" => return Err("boom was not expected".into()),
            "report" => c.report_error("a reported problem"),
            _ => {}
        }
        c.ack(&input);
        Ok(())
    }

    fn declare_output_fields(&self, _declarer: &mut OutputFieldsDeclarer) {}
}

#[test]
fn local_errors_are_reported_throttled_and_a_dead_executor_restarts() {
    let key = unique_key("errors");
    let mut tuples = vec![values!["boom"]];
    tuples.extend((0..8).map(|_| values!["report"]));
    tuples.push(values!["fine"]);
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "spout",
        FixedTupleSpout::new(["w"], tuples, Some(key.clone())),
        1,
    );
    builder
        .set_bolt("bolt", ErrorBolt, 1)
        .shuffle_grouping("spout");
    let topology = builder.create_topology().unwrap();
    let cluster = LocalCluster::new();
    cluster
        .submit_topology("errors", &TopologyConf::new(), &topology)
        .unwrap();
    let feeder = shared::<FeederState>(&key);
    // Everything but "boom" is acked (the boom tuple died with its executor and times out later).
    assert!(wait_until(DEADLINE, || feeder.acked().len() == 9));
    let errors = cluster.errors("errors").unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e.component_id == "bolt" && e.error.contains("boom was not expected")),
        "{errors:?}"
    );
    // At most topology.max.error.report.per.interval (5) reports per window.
    assert_eq!(errors.len(), 5, "{errors:?}");
    let stats = cluster.stats("errors").unwrap();
    let bolt = stats.iter().find(|s| s.component_id == "bolt").unwrap();
    assert_eq!(bolt.restarts, 1);
    cluster.kill_topology("errors").unwrap();
}

#[test]
fn local_submission_errors_use_storms_words() {
    let mut builder = TopologyBuilder::new();
    builder.set_spout("spout", TestWordSpout::new(10), 1);
    let topology = builder.create_topology().unwrap();
    let cluster = LocalCluster::new();
    let id = cluster
        .submit_topology("names", &TopologyConf::new(), &topology)
        .unwrap();
    let parts: Vec<&str> = id.rsplitn(3, '-').collect();
    assert_eq!(parts.len(), 3, "{id}");
    assert_eq!(parts[2], "names");
    assert!(
        parts[0].parse::<u64>().unwrap() > 1_600_000_000,
        "epoch secs in {id}"
    );
    assert!(parts[1].parse::<u64>().is_ok());
    assert_eq!(
        cluster
            .submit_topology("names", &TopologyConf::new(), &topology)
            .unwrap_err()
            .to_string(),
        "names is already alive"
    );
    assert!(matches!(
        cluster.submit_topology("bad/name", &TopologyConf::new(), &topology),
        Err(LocalClusterError::InvalidTopology(_))
    ));
    assert_eq!(
        cluster.kill_topology("ghost").unwrap_err().to_string(),
        "ghost is not alive"
    );

    let mut java = topology.clone();
    java.spouts.get_mut("spout").unwrap().spout_object =
        ComponentObject::SerializedJava(vec![0xAC, 0xED, 0x00, 0x05, 0x73]);
    let err = cluster
        .submit_topology("java", &TopologyConf::new(), &java)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Java component") && err.contains("storm jar"),
        "{err}"
    );

    let mut invalid = TopologyBuilder::new();
    invalid.set_spout("spout", TestWordSpout::new(10), 1);
    invalid
        .set_bolt("capture", CaptureBolt::new("x"), 1)
        .fields_grouping("spout", ["wrd"]);
    let err = cluster
        .submit_topology(
            "invalid",
            &TopologyConf::new(),
            &invalid.create_topology().unwrap(),
        )
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "Component: [capture] subscribes from stream: [default] of component [spout] + with non-existent fields: [wrd]"
    );
    cluster.shutdown();
    assert!(cluster.topology_names().is_empty());
}

#[test]
fn local_topologies_run_side_by_side() {
    let a = unique_key("side-a");
    let b = unique_key("side-b");
    let cluster = LocalCluster::new();
    for (name, key) in [("one", &a), ("two", &b)] {
        let mut builder = TopologyBuilder::new();
        builder.set_spout(
            "spout",
            FixedTupleSpout::new(["w"], vec![values!["x"], values!["y"]], None),
            1,
        );
        builder
            .set_bolt("capture", CaptureBolt::new(key), 1)
            .shuffle_grouping("spout");
        cluster
            .submit_topology(
                name,
                &TopologyConf::new(),
                &builder.create_topology().unwrap(),
            )
            .unwrap();
    }
    assert!(wait_until(DEADLINE, || shared::<Captured>(&a).len() == 2
        && shared::<Captured>(&b).len() == 2));
    assert_ne!(
        cluster.topology_id("one").unwrap(),
        cluster.topology_id("two").unwrap()
    );
    let counts: HashMap<String, usize> = cluster
        .topology_names()
        .into_iter()
        .map(|n| (n.clone(), cluster.executors(&n).unwrap().len()))
        .collect();
    assert_eq!(counts.len(), 2);
}

/// Holds every input, restarting its timeout on each tick, and acks them all on the `hold`-th tick.
#[derive(Serialize, Deserialize)]
struct PatientBolt {
    hold: u32,
    #[serde(skip)]
    held: Vec<Tuple>,
    #[serde(skip)]
    ticks: u32,
}

#[typetag::serde(name = "storm::tests::PatientBolt")]
impl Bolt for PatientBolt {
    fn execute(&mut self, input: Tuple, c: &mut OutputCollector<'_>) -> Result<(), ComponentError> {
        if !input.is_tick() {
            self.held.push(input);
            return Ok(());
        }
        self.ticks += 1;
        for t in &self.held {
            if self.ticks >= self.hold {
                c.ack(t);
            } else {
                c.reset_timeout(t);
            }
        }
        if self.ticks >= self.hold {
            self.held.clear();
        }
        Ok(())
    }

    fn declare_output_fields(&self, _declarer: &mut OutputFieldsDeclarer) {}
}

#[test]
fn local_reset_timeout_keeps_a_slow_tree_alive() {
    let key = unique_key("patient");
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "spout",
        FixedTupleSpout::new(["w"], vec![values!["slow"]], Some(key.clone())),
        1,
    );
    // Held for 5 s; without resets the tree would time out after 2–4 s.
    builder
        .set_bolt(
            "patient",
            PatientBolt {
                hold: 5,
                held: Vec::new(),
                ticks: 0,
            },
            1,
        )
        .set_tick_tuple_freq_secs(1)
        .shuffle_grouping("spout");
    let mut conf = TopologyConf::new();
    conf.set_message_timeout_secs(2);
    let cluster = LocalCluster::new();
    cluster
        .submit_topology("patient", &conf, &builder.create_topology().unwrap())
        .unwrap();
    let feeder = shared::<FeederState>(&key);
    assert!(wait_until(DEADLINE, || feeder.acked() == [0]));
    assert!(feeder.failed().is_empty(), "{:?}", feeder.failed());
    cluster.kill_topology("patient").unwrap();
}
