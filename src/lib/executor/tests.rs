//! Executor behaviour, driven through local mode: backpressure keeps memory bounded (measured from
//! inside the components, no timing assertions), Storm's direct-grouping errors, tick tuples, the
//! groupings as wired by the builder, and emit errors.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::stats::ExecutorKind;
use crate::api::{
    register_custom_grouping, Bolt, ComponentError, ConfMap, OutputCollector, OutputFieldsDeclarer,
    Spout, SpoutOutputCollector, TopologyBuilder, TopologyConf, TopologyContext, Tuple,
};
use crate::grouping::{CustomStreamGrouping, GrouperContext, GroupingError};
use crate::local::testing::{
    shared, unique_key, wait_until, CaptureBolt, Captured, FixedTupleSpout,
};
use crate::local::LocalCluster;
use crate::tuple::Value;
use crate::values;

/// How long a test waits for a condition: generous, because `cargo test` runs these debug builds in
/// parallel on small machines (a deadline only bounds how long a failure takes to show).
const DEADLINE: Duration = Duration::from_secs(60);

#[derive(Default)]
struct FloodState {
    /// Incremented after each emit returned (the tuple is queued or held back by then).
    emitted: AtomicU64,
    /// Incremented when the slow bolt starts a tuple.
    started: AtomicU64,
    max_in_flight: AtomicU64,
    acked: AtomicU64,
}

/// A local cluster running `builder`'s topology as `name`, with default settings.
fn submit_local(name: &str, builder: &TopologyBuilder) -> LocalCluster {
    let cluster = LocalCluster::new();
    let topology = builder.create_topology().unwrap();
    (cluster.submit_topology(name, &TopologyConf::new(), &topology)).unwrap();
    cluster
}

/// Emits as fast as it is allowed to, reliably or not.
#[derive(Serialize, Deserialize)]
struct FloodSpout {
    key: String,
    reliable: bool,
    #[serde(skip)]
    next: i64,
}

#[typetag::serde(name = "storm::executor::tests::FloodSpout")]
impl Spout for FloodSpout {
    fn next_tuple(
        &mut self,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.next += 1;
        let id = self.reliable.then_some(Value::Long(self.next));
        collector.emit(values![self.next], id)?;
        shared::<FloodState>(&self.key)
            .emitted
            .fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn ack(&mut self, _id: Value, _c: &mut SpoutOutputCollector<'_>) -> Result<(), ComponentError> {
        shared::<FloodState>(&self.key)
            .acked
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["n"]);
    }
}

/// Slow on purpose; measures how many tuples the spout is ahead of it.
#[derive(Serialize, Deserialize)]
struct SlowBolt {
    key: String,
    micros: u64,
}

#[typetag::serde(name = "storm::executor::tests::SlowBolt")]
impl Bolt for SlowBolt {
    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let state = shared::<FloodState>(&self.key);
        let started = state.started.fetch_add(1, Ordering::SeqCst) + 1;
        let emitted = state.emitted.load(Ordering::SeqCst);
        state
            .max_in_flight
            .fetch_max(emitted.saturating_sub(started), Ordering::SeqCst);
        std::thread::sleep(Duration::from_micros(self.micros));
        collector.ack(&input);
        Ok(())
    }

    fn declare_output_fields(&self, _declarer: &mut OutputFieldsDeclarer) {}
}

fn flood(reliable: bool) {
    let key = unique_key("flood");
    let capacity = 16;
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "flood",
        FloodSpout {
            key: key.clone(),
            reliable,
            next: 0,
        },
        1,
    );
    builder
        .set_bolt(
            "slow",
            SlowBolt {
                key: key.clone(),
                micros: 200,
            },
            1,
        )
        .shuffle_grouping("flood");
    let mut conf = TopologyConf::new();
    conf.set_executor_receive_buffer_size(capacity as u32);
    let cluster = LocalCluster::new();
    let name = if reliable { "flood-acked" } else { "flood" };
    cluster
        .submit_topology(name, &conf, &builder.create_topology().unwrap())
        .unwrap();
    let state = shared::<FloodState>(&key);
    let mut max_queue = 0;
    let mut max_overflow = 0;
    let mut max_pending = 0;
    assert!(wait_until(DEADLINE, || {
        for s in cluster.stats(name).unwrap() {
            assert_eq!(s.queue_capacity, capacity);
            max_queue = max_queue.max(s.data_queue_len);
            max_overflow = max_overflow.max(s.max_overflow_len);
            max_pending = max_pending.max(s.pending);
        }
        state.started.load(Ordering::SeqCst) >= 1500
    }));
    cluster.kill_topology(name).unwrap();
    // The spout is never more than the bolt's queue, one held-back batch and the batch the bolt is
    // executing ahead of the bolt.
    let batch = super::emitter::BATCH_TUPLES.min(capacity);
    let in_flight = state.max_in_flight.load(Ordering::SeqCst);
    assert!(
        in_flight <= (capacity + 2 * batch) as u64,
        "spout ran {in_flight} tuples ahead with a queue of {capacity}"
    );
    assert!(max_queue <= capacity);
    assert!(
        max_overflow <= batch,
        "at most one batch held back: {max_overflow}"
    );
    if reliable {
        // Pending trees: the queue, the held-back batch, the batch executing, and acks on their way.
        assert!(
            max_pending <= capacity + 3 * batch + capacity,
            "{max_pending}"
        );
        assert!(
            state.acked.load(Ordering::Relaxed) > 0,
            "acks flow under backpressure"
        );
    }
    assert!(
        cluster.all_errors().is_empty(),
        "{:?}",
        cluster.all_errors()
    );
}

#[test]
fn executor_slow_bolt_and_fast_spout_keep_memory_bounded() {
    flood(false);
}

#[test]
fn executor_backpressure_with_acking_keeps_pending_bounded_and_acks_flowing() {
    flood(true);
}

#[derive(Default)]
struct DirectResults {
    results: Mutex<BTreeMap<String, String>>,
}

/// Once, tries every kind of emit and records what each returned.
#[derive(Serialize, Deserialize)]
struct DirectProbeSpout {
    key: String,
    #[serde(skip)]
    done: bool,
    #[serde(skip)]
    direct_tasks: Vec<i32>,
    #[serde(skip)]
    regular_tasks: Vec<i32>,
    #[serde(skip)]
    unsubscribed_tasks: Vec<i32>,
}

fn outcome(r: Result<Vec<i32>, crate::api::EmitError>) -> String {
    match r {
        Ok(tasks) => format!("ok {tasks:?}"),
        Err(e) => format!("error {e}"),
    }
}

#[typetag::serde(name = "storm::executor::tests::DirectProbeSpout")]
impl Spout for DirectProbeSpout {
    fn open(
        &mut self,
        _conf: &ConfMap,
        context: &TopologyContext,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.direct_tasks = context.component_tasks("direct-sink").to_vec();
        self.regular_tasks = context.component_tasks("regular-sink").to_vec();
        self.unsubscribed_tasks = context.component_tasks("other").to_vec();
        Ok(())
    }

    fn next_tuple(&mut self, c: &mut SpoutOutputCollector<'_>) -> Result<(), ComponentError> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        let mut r = BTreeMap::new();
        r.insert(
            "regular emit on direct stream".into(),
            outcome(c.emit_stream("direct", values!["a"], None)),
        );
        r.insert(
            "emit_direct to a regular subscriber".into(),
            outcome(c.emit_direct(self.regular_tasks[0], "default", values!["b"], None)),
        );
        r.insert(
            "emit_direct to a direct subscriber".into(),
            outcome(c.emit_direct(self.direct_tasks[1], "direct", values!["c"], None)),
        );
        r.insert(
            "emit_direct to a non-subscriber".into(),
            outcome(c.emit_direct(self.unsubscribed_tasks[0], "direct", values!["d"], None)),
        );
        r.insert(
            "undeclared stream".into(),
            outcome(c.emit_stream("nope", values!["e"], None)),
        );
        r.insert(
            "wrong field count".into(),
            outcome(c.emit(values!["f", "g"], None)),
        );
        *shared::<DirectResults>(&self.key).results.lock().unwrap() = r;
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["v"]);
        declarer.declare_stream_direct("direct", ["v"]);
    }
}

#[test]
fn executor_direct_grouping_rules_and_emit_errors_follow_storm() {
    let key = unique_key("direct");
    let capture = unique_key("direct-capture");
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "probe",
        DirectProbeSpout {
            key: key.clone(),
            done: false,
            direct_tasks: Vec::new(),
            regular_tasks: Vec::new(),
            unsubscribed_tasks: Vec::new(),
        },
        1,
    );
    builder
        .set_bolt("direct-sink", CaptureBolt::new(&capture), 2)
        .direct_grouping_stream("probe", "direct");
    builder
        .set_bolt("regular-sink", CaptureBolt::new(&capture), 1)
        .shuffle_grouping("probe");
    builder.set_spout("other", FixedTupleSpout::new(["v"], Vec::new(), None), 1);
    let cluster = submit_local("direct", &builder);
    let results = shared::<DirectResults>(&key);
    assert!(wait_until(DEADLINE, || !results
        .results
        .lock()
        .unwrap()
        .is_empty()));
    let direct_tasks = cluster
        .context("direct")
        .unwrap()
        .component_tasks("direct-sink")
        .to_vec();
    let r = results.results.lock().unwrap().clone();
    assert_eq!(
        r["regular emit on direct stream"],
        "error Cannot do regular emit to direct stream"
    );
    assert_eq!(
        r["emit_direct to a regular subscriber"],
        "error Cannot emitDirect to a task expecting a regular grouping"
    );
    assert_eq!(
        r["emit_direct to a direct subscriber"],
        format!("ok [{}]", direct_tasks[1])
    );
    assert_eq!(r["emit_direct to a non-subscriber"], "ok []");
    assert_eq!(
        r["undeclared stream"],
        "error Unknown stream ID: nope (component probe declares [default, direct])"
    );
    assert!(
        r["wrong field count"].starts_with(
            "error Tuple created with wrong number of fields. Expected 1 fields but got 2 fields"
        ),
        "{}",
        r["wrong field count"]
    );
    let captured = shared::<Captured>(&capture);
    assert!(wait_until(DEADLINE, || captured.len() == 1));
    let t = &captured.tuples()[0];
    assert_eq!((t.task, t.stream.as_str()), (direct_tasks[1], "direct"));
    cluster.kill_topology("direct").unwrap();
}

#[test]
fn executor_tick_tuples_arrive_with_their_frequency() {
    let capture = unique_key("ticks");
    let mut builder = TopologyBuilder::new();
    builder.set_spout("spout", FixedTupleSpout::new(["v"], Vec::new(), None), 1);
    builder
        .set_bolt("ticked", CaptureBolt::new(&capture), 1)
        .set_num_tasks(2)
        .set_tick_tuple_freq_secs(1)
        .shuffle_grouping("spout");
    let cluster = submit_local("ticks", &builder);
    let captured = shared::<Captured>(&capture);
    // Both tasks of the executor get ticks from __system (task -1) on __tick with [1].
    assert!(wait_until(DEADLINE, || {
        captured
            .tuples()
            .iter()
            .map(|t| t.task)
            .collect::<BTreeSet<_>>()
            .len()
            == 2
    }));
    for t in captured.tuples() {
        assert_eq!(
            (
                t.source_component.as_str(),
                t.source_task,
                t.stream.as_str()
            ),
            ("__system", -1, "__tick")
        );
        assert_eq!(t.values, vec![Value::Int(1)]);
    }
    cluster.kill_topology("ticks").unwrap();
}

/// Sends everything to the highest target task.
struct HighestTask(i32);

impl CustomStreamGrouping for HighestTask {
    fn prepare(&mut self, _c: &GrouperContext<'_>, targets: &[i32]) -> Result<(), GroupingError> {
        self.0 = *targets.last().unwrap_or(&-1);
        Ok(())
    }

    fn choose_tasks(
        &mut self,
        _s: i32,
        _v: &[Value],
        out: &mut Vec<i32>,
    ) -> Result<(), GroupingError> {
        out.push(self.0);
        Ok(())
    }
}

#[test]
fn executor_groupings_route_like_storm() {
    register_custom_grouping("storm-rs-test:highest", |_payload| {
        Ok(Box::new(HighestTask(-1)))
    });
    let keys: Vec<String> = [
        "all", "global", "fields", "partial", "custom", "none", "local",
    ]
    .iter()
    .map(|k| unique_key(k))
    .collect();
    let words: Vec<_> = ["a", "b", "c", "a", "b", "a"]
        .iter()
        .map(|w| values![*w])
        .collect();
    let mut builder = TopologyBuilder::new();
    builder.set_spout("spout", FixedTupleSpout::new(["w"], words.clone(), None), 1);
    builder
        .set_bolt("all", CaptureBolt::new(&keys[0]), 3)
        .all_grouping("spout");
    builder
        .set_bolt("global", CaptureBolt::new(&keys[1]), 3)
        .global_grouping("spout");
    builder
        .set_bolt("fields", CaptureBolt::new(&keys[2]), 3)
        .fields_grouping("spout", ["w"]);
    builder
        .set_bolt("partial", CaptureBolt::new(&keys[3]), 3)
        .partial_key_grouping("spout", ["w"]);
    builder
        .set_bolt("custom", CaptureBolt::new(&keys[4]), 3)
        .custom_grouping("spout", "storm-rs-test:highest", Vec::new());
    builder
        .set_bolt("none", CaptureBolt::new(&keys[5]), 2)
        .none_grouping("spout");
    builder
        .set_bolt("local", CaptureBolt::new(&keys[6]), 2)
        .local_or_shuffle_grouping("spout");
    let cluster = submit_local("groupings", &builder);
    let n = words.len();
    let captured: Vec<_> = keys.iter().map(|k| shared::<Captured>(k)).collect();
    assert!(wait_until(DEADLINE, || {
        captured[0].len() == 3 * n && captured[1..].iter().all(|c| c.len() == n)
    }));
    let ctx = cluster.context("groupings").unwrap();
    let tasks_of = |c: &Captured| c.tuples().iter().map(|t| t.task).collect::<BTreeSet<_>>();
    assert_eq!(
        tasks_of(&captured[0]),
        ctx.component_tasks("all").iter().copied().collect()
    );
    assert_eq!(
        tasks_of(&captured[1]),
        BTreeSet::from([ctx.component_tasks("global")[0]])
    );
    assert_eq!(
        tasks_of(&captured[4]),
        BTreeSet::from([ctx.component_tasks("custom")[2]])
    );
    // Fields grouping: floorMod(deepHashCode([w]), 3) over the sorted tasks, as Java computes it.
    let fields_tasks = ctx.component_tasks("fields");
    for t in captured[2].tuples() {
        let index = crate::grouping::fields_task_index(&t.values, 3).unwrap();
        assert_eq!(t.task, fields_tasks[index], "{t:?}");
    }
    // Partial key: each word goes to at most two tasks.
    let mut per_word: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
    for t in captured[3].tuples() {
        per_word
            .entry(t.values[0].as_str().unwrap().to_owned())
            .or_default()
            .insert(t.task);
    }
    assert!(per_word.values().all(|tasks| tasks.len() <= 2));
    cluster.kill_topology("groupings").unwrap();
}

#[test]
fn executor_stats_convert_to_thrift() {
    let capture = unique_key("stats");
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "spout",
        FixedTupleSpout::new(["w"], vec![values!["x"], values!["y"]], None),
        1,
    );
    builder
        .set_bolt("sink", CaptureBolt::new(&capture), 1)
        .shuffle_grouping("spout");
    let cluster = submit_local("stats", &builder);
    assert!(wait_until(DEADLINE, || {
        cluster
            .stats("stats")
            .unwrap()
            .iter()
            .any(|s| s.kind == ExecutorKind::Spout && s.stats.total_acked() == 2)
    }));
    let stats = cluster.stats("stats").unwrap();
    let spout = stats.iter().find(|s| s.component_id == "spout").unwrap();
    assert_eq!(spout.stats.emitted["default"], 2);
    assert_eq!(spout.stats.emitted["__ack_init"], 2);
    assert_eq!(spout.stats.complete_latency["default"].count, 2);
    let thrift = spout.to_thrift(0.05);
    match &thrift.specific {
        crate::thrift::ExecutorSpecificStats::Spout(s) => {
            assert_eq!(s.acked[":all-time"]["default"], 2);
        }
        other => panic!("{other:?}"),
    }
    let sink = stats.iter().find(|s| s.component_id == "sink").unwrap();
    assert_eq!(sink.stats.executed["spout"]["default"], 2);
    assert_eq!(sink.stats.bolt_acked["spout"]["default"], 2);
    let acker = stats.iter().find(|s| s.component_id == "__acker").unwrap();
    assert!(acker.stats.total_executed() >= 4, "two inits and two acks");
    assert_eq!(acker.stats.emitted["__ack_ack"], 2);
    cluster.kill_topology("stats").unwrap();
}

#[derive(Default)]
struct KeepState {
    executed: AtomicU64,
    /// Kept tuples found changed after they were executed.
    changed: AtomicU64,
}

/// Keeps every seventh tuple for good and checks on every execute that none it kept changed: the
/// executor that made them reuses spent tuples' allocations, and must never reuse a kept one.
#[derive(Serialize, Deserialize)]
struct KeepingBolt {
    key: String,
    #[serde(skip)]
    kept: Vec<Kept>,
}

/// A kept tuple with its value and message id when it was executed.
type Kept = (i64, Vec<(i64, i64)>, Tuple);

#[typetag::serde(name = "storm::executor::tests::KeepingBolt")]
impl Bolt for KeepingBolt {
    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let state = shared::<KeepState>(&self.key);
        let n = input.get(0).and_then(Value::as_i64).unwrap_or(-1);
        if n % 7 == 0 {
            self.kept
                .push((n, input.message_id().to_vec(), input.clone()));
        }
        for (n, ids, t) in &self.kept {
            if t.get(0).and_then(Value::as_i64) != Some(*n) || t.message_id() != ids.as_slice() {
                state.changed.fetch_add(1, Ordering::SeqCst);
            }
        }
        collector.ack(&input);
        state.executed.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn declare_output_fields(&self, _declarer: &mut OutputFieldsDeclarer) {}
}

#[test]
fn executor_never_reuses_a_tuple_a_bolt_kept_and_acks_all_through_system_messages() {
    let key = unique_key("keep");
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "flood",
        FloodSpout {
            key: format!("{key}-flood"),
            reliable: true,
            next: 0,
        },
        1,
    );
    builder
        .set_bolt(
            "keep",
            KeepingBolt {
                key: key.clone(),
                kept: Vec::new(),
            },
            1,
        )
        .local_or_shuffle_grouping("flood");
    let conf = TopologyConf::new();
    let cluster = LocalCluster::new();
    cluster
        .submit_topology("keep", &conf, &builder.create_topology().unwrap())
        .unwrap();
    let state = shared::<KeepState>(&key);
    let flood = shared::<FloodState>(&format!("{key}-flood"));
    // Far more tuples than the spout's recycling pool holds, so spent tuples are reused many times.
    assert!(wait_until(DEADLINE, || state
        .executed
        .load(Ordering::SeqCst)
        >= 20_000
        && flood.acked.load(Ordering::SeqCst) >= 10_000));
    let stats = cluster.stats("keep").unwrap();
    cluster.kill_topology("keep").unwrap();
    assert_eq!(state.changed.load(Ordering::SeqCst), 0);
    // Acks travel spout → acker → spout as system messages; the acker's stats still count them
    // per input stream.
    let acker = stats
        .iter()
        .find(|s| s.component_id == "__acker")
        .expect("an acker executor");
    let executed: BTreeMap<String, u64> = acker
        .stats
        .executed
        .iter()
        .flat_map(|(component, streams)| {
            streams
                .iter()
                .map(move |(stream, n)| (format!("{component}:{stream}"), *n))
        })
        .collect();
    assert!(
        executed.get("flood:__ack_init").copied().unwrap_or(0) > 0,
        "{executed:?}"
    );
    assert!(
        executed.get("keep:__ack_ack").copied().unwrap_or(0) > 0,
        "{executed:?}"
    );
    assert!(
        acker
            .stats
            .execute_latency
            .get("flood")
            .is_some_and(|streams| streams.contains_key("__ack_init")),
        "the acker's execute latency is sampled: {:?}",
        acker.stats.execute_latency
    );
    assert!(
        cluster.all_errors().is_empty(),
        "{:?}",
        cluster.all_errors()
    );
}

/// Emits each of its words once, reliably, and never replays.
#[derive(Serialize, Deserialize)]
struct OnceSpout {
    words: Vec<String>,
}

#[typetag::serde(name = "storm::executor::tests::OnceSpout")]
impl Spout for OnceSpout {
    fn next_tuple(
        &mut self,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if let Some(w) = self.words.pop() {
            let id = Value::Long(self.words.len() as i64);
            collector.emit(values![w], Some(id))?;
        }
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["v"]);
    }
}

/// Acks "ack", fails and reports an error for "fail", and never answers "drop" (it times out).
#[derive(Serialize, Deserialize)]
struct VerdictBolt;

#[typetag::serde(name = "storm::executor::tests::VerdictBolt")]
impl Bolt for VerdictBolt {
    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        match input.get(0).and_then(Value::as_str) {
            Some("ack") => collector.ack(&input),
            Some("fail") => {
                collector.report_error("failing on purpose");
                collector.fail(&input);
            }
            _ => {}
        }
        Ok(())
    }

    fn declare_output_fields(&self, _declarer: &mut OutputFieldsDeclarer) {}
}

#[test]
fn executor_stats_count_failures_by_cause_in_every_window() {
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "spout",
        OnceSpout {
            words: ["ack", "fail", "fail", "drop"].map(String::from).into(),
        },
        1,
    );
    builder
        .set_bolt("verdict", VerdictBolt, 1)
        .shuffle_grouping("spout");
    let mut conf = TopologyConf::new();
    conf.set_message_timeout_secs(1);
    let cluster = LocalCluster::new();
    cluster
        .submit_topology("causes", &conf, &builder.create_topology().unwrap())
        .unwrap();
    let spout_stats = || {
        cluster
            .stats("causes")
            .unwrap()
            .into_iter()
            .find(|s| s.component_id == "spout")
            .unwrap()
    };
    // The dropped tree times out after one to two rotations of the 1 s pending map.
    assert!(
        wait_until(DEADLINE, || spout_stats()
            .stats
            .spout_failed
            .values()
            .sum::<u64>()
            == 3),
        "{:#?}",
        cluster.stats("causes").unwrap()
    );
    let spout = spout_stats();
    for w in ["600", "10800", "86400", ":all-time"] {
        let d = spout.window(w).unwrap();
        assert_eq!(d.spout_acked["default"], 1, "{w}");
        assert_eq!(d.spout_failed["default"], 3, "{w}");
        assert_eq!(d.spout_failed_timeout["default"], 1, "{w}");
        assert_eq!(d.spout_failed_explicit["default"], 2, "{w}");
    }
    let bolt = cluster
        .stats("causes")
        .unwrap()
        .into_iter()
        .find(|s| s.component_id == "verdict")
        .unwrap();
    assert_eq!(bolt.stats.reported_errors, 2);
    assert_eq!(bolt.window("600").unwrap().reported_errors, 2);
    assert_eq!(bolt.stats.bolt_failed["spout"]["default"], 2);
    assert_eq!(spout.stats.reported_errors, 0);
    let thrift = spout.to_thrift(1.0);
    let crate::thrift::ExecutorSpecificStats::Spout(s) = &thrift.specific else {
        panic!("spout stats");
    };
    assert_eq!(s.failed_timeout.as_ref().unwrap()["600"]["default"], 1);
    assert_eq!(
        s.failed_explicit.as_ref().unwrap()[":all-time"]["default"],
        2
    );
    cluster.kill_topology("causes").unwrap();
}

#[derive(Default)]
struct BatchState {
    calls: AtomicU64,
    emitted: AtomicU64,
    acked: AtomicU64,
    /// Most trees pending (emitted, not yet acked) seen right after a `next_tuples`.
    max_pending: AtomicU64,
    end_batches: AtomicU64,
}

/// Overrides `next_tuples` as the Java spout does: up to `max_calls` reliable emits, no more than
/// `allowance`.
#[derive(Serialize, Deserialize)]
struct BatchingSpout {
    key: String,
    #[serde(skip)]
    next: i64,
}

#[typetag::serde(name = "storm::executor::tests::BatchingSpout")]
impl Spout for BatchingSpout {
    fn next_tuple(&mut self, _c: &mut SpoutOutputCollector<'_>) -> Result<(), ComponentError> {
        Err("the executor calls next_tuples".into())
    }

    fn next_tuples(
        &mut self,
        max_calls: usize,
        allowance: usize,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<usize, ComponentError> {
        let state = shared::<BatchState>(&self.key);
        state.calls.fetch_add(1, Ordering::SeqCst);
        assert!(max_calls >= 1 && allowance >= 1);
        let n = max_calls.min(allowance);
        for _ in 0..n {
            self.next += 1;
            collector.emit(values![self.next], Some(Value::Long(self.next)))?;
            state.emitted.fetch_add(1, Ordering::SeqCst);
        }
        let pending = state.emitted.load(Ordering::SeqCst) - state.acked.load(Ordering::SeqCst);
        state.max_pending.fetch_max(pending, Ordering::SeqCst);
        Ok(n)
    }

    fn ack(&mut self, _id: Value, _c: &mut SpoutOutputCollector<'_>) -> Result<(), ComponentError> {
        shared::<BatchState>(&self.key)
            .acked
            .fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["n"]);
    }
}

/// Defers its inputs to `end_batch`, as the Java bolt does; acks nothing in `execute`.
#[derive(Serialize, Deserialize)]
struct DeferringBolt {
    key: String,
    #[serde(skip)]
    held: Vec<Tuple>,
}

#[typetag::serde(name = "storm::executor::tests::DeferringBolt")]
impl Bolt for DeferringBolt {
    fn execute(
        &mut self,
        input: Tuple,
        _c: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.held.push(input);
        Ok(())
    }

    fn end_batch(&mut self, collector: &mut OutputCollector<'_>) -> Result<(), ComponentError> {
        shared::<BatchState>(&self.key)
            .end_batches
            .fetch_add(1, Ordering::SeqCst);
        for t in self.held.drain(..) {
            collector.ack(&t);
        }
        Ok(())
    }

    fn declare_output_fields(&self, _declarer: &mut OutputFieldsDeclarer) {}
}

#[test]
fn executor_batched_next_tuples_keep_max_spout_pending_and_deferred_inputs_complete() {
    let key = unique_key("batching");
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "spout",
        BatchingSpout {
            key: key.clone(),
            next: 0,
        },
        1,
    );
    builder
        .set_bolt(
            "defer",
            DeferringBolt {
                key: key.clone(),
                held: Vec::new(),
            },
            1,
        )
        .shuffle_grouping("spout");
    let max_pending = 10;
    let mut conf = TopologyConf::new();
    conf.set_max_spout_pending(max_pending);
    let cluster = LocalCluster::new();
    cluster
        .submit_topology("batching", &conf, &builder.create_topology().unwrap())
        .unwrap();
    let state = shared::<BatchState>(&key);
    // Every tree completes only through `end_batch`: the executor calls it after its runs of
    // `execute`, so the spout keeps going.
    assert!(wait_until(DEADLINE, || state.acked.load(Ordering::SeqCst) >= 2000));
    cluster.kill_topology("batching").unwrap();
    assert!(state.end_batches.load(Ordering::SeqCst) > 0);
    let most = state.max_pending.load(Ordering::SeqCst);
    assert!(
        most <= u64::from(max_pending),
        "{most} trees pending with topology.max.spout.pending {max_pending}"
    );
    let calls = state.calls.load(Ordering::SeqCst);
    let emitted = state.emitted.load(Ordering::SeqCst);
    assert!(
        emitted > calls,
        "calls made several emits each: {emitted} emits in {calls} calls"
    );
}

#[test]
fn executor_stats_of_a_busy_spout_without_subscribers_are_published_while_it_runs() {
    // Nothing subscribes to the spout, so it never hands a batch over and never waits: its counts
    // must still reach the shared stats (the UI, `storm_perf const-spout-only`) while it runs.
    let key = unique_key("lonely-spout");
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "spout",
        FloodSpout {
            key: key.clone(),
            reliable: false,
            next: 0,
        },
        1,
    );
    let cluster = submit_local("lonely", &builder);
    let emitted = || -> u64 {
        let stats = cluster.stats("lonely").unwrap();
        (stats.iter())
            .filter(|s| s.component_id == "spout")
            .map(|s| s.stats.user_emitted())
            .sum()
    };
    assert!(
        wait_until(DEADLINE, || emitted() > 0),
        "the spout emitted {} tuples, its stats show none",
        shared::<FloodState>(&key).emitted.load(Ordering::SeqCst)
    );
    // And they keep coming: a later look sees more.
    let first = emitted();
    assert!(wait_until(DEADLINE, || emitted() > first));
    cluster.kill_topology("lonely").unwrap();
}

/// Chooses a task, then fails: a custom grouping that breaks after it (and others) routed.
struct PushThenFail;

impl CustomStreamGrouping for PushThenFail {
    fn prepare(&mut self, _c: &GrouperContext<'_>, _targets: &[i32]) -> Result<(), GroupingError> {
        Ok(())
    }

    fn choose_tasks(
        &mut self,
        _s: i32,
        _v: &[Value],
        out: &mut Vec<i32>,
    ) -> Result<(), GroupingError> {
        out.push(i32::MAX);
        Err(GroupingError::Custom {
            name: "push-then-fail".into(),
            message: "refused on purpose".into(),
        })
    }
}

#[derive(Default)]
struct IntoOutcome {
    /// The caller's task vector after the failed emit, and the error.
    seen: Mutex<Option<(Vec<i32>, String)>>,
}

/// Emits once with `emit_stream_copied_into` into a vector already holding a task id, and records
/// what the vector holds afterwards.
#[derive(Serialize, Deserialize)]
struct EmitIntoSpout {
    key: String,
    #[serde(skip)]
    done: bool,
}

#[typetag::serde(name = "storm::executor::tests::EmitIntoSpout")]
impl Spout for EmitIntoSpout {
    fn next_tuple(
        &mut self,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if std::mem::replace(&mut self.done, true) {
            return Ok(());
        }
        let mut tasks = vec![-7];
        let values = [Value::Long(1)];
        let result = collector.emit_stream_copied_into("default", &values, None, &mut tasks);
        let error = result.err().map(|e| e.to_string()).unwrap_or_default();
        *shared::<IntoOutcome>(&self.key).seen.lock().unwrap() = Some((tasks, error));
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["n"]);
    }
}

#[test]
fn executor_emit_into_leaves_the_callers_tasks_as_they_were_when_a_grouping_fails() {
    register_custom_grouping("storm-rs-test:push-then-fail", |_payload| {
        Ok(Box::new(PushThenFail))
    });
    let key = unique_key("emit-into");
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "spout",
        EmitIntoSpout {
            key: key.clone(),
            done: false,
        },
        1,
    );
    // Two subscribers that route before the failing one (whatever order the streams keep).
    builder
        .set_bolt("a-all", CaptureBolt::new(unique_key("a-all")), 2)
        .all_grouping("spout");
    builder
        .set_bolt("m-failing", CaptureBolt::new(unique_key("m")), 1)
        .custom_grouping("spout", "storm-rs-test:push-then-fail", Vec::new());
    builder
        .set_bolt("z-all", CaptureBolt::new(unique_key("z-all")), 2)
        .all_grouping("spout");
    let cluster = submit_local("emit-into", &builder);
    let outcome = shared::<IntoOutcome>(&key);
    assert!(wait_until(DEADLINE, || outcome
        .seen
        .lock()
        .unwrap()
        .is_some()));
    let (tasks, error) = outcome.seen.lock().unwrap().clone().unwrap();
    assert_eq!(tasks, vec![-7], "the failed emit left routed tasks behind");
    assert!(error.contains("refused on purpose"), "error: {error}");
    cluster.kill_topology("emit-into").unwrap();
}
