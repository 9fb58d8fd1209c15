//! The stateful-bolt protocol driven by hand: the builder's wiring, and the executor's handling of
//! INITSTATE / PREPARE / COMMIT / ROLLBACK with a recording collector.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::bolt::CheckpointGate;
use super::checkpoint::{Action, CHECKPOINT_COMPONENT_ID, CHECKPOINT_STREAM_ID};
use super::{KeyValueState, StatefulBolt, StatefulBoltExecutor};
use crate::api::{
    Bolt, BoltOutput, ComponentError, EmitError, OutputCollector, OutputFieldsDeclarer,
    TopologyBuilder, TopologyContext, Tuple, WorkerTopologyContext,
};
use crate::local::components::{SplitSentence, TestWordSpout};
use crate::thrift::{ComponentObject, GlobalStreamId, Grouping, NullStruct, StormTopology};
use crate::topology::system::{normalize_topology, system_topology};
use crate::tuple::{Value, Values};
use crate::values;

#[derive(Default, Serialize, Deserialize)]
struct CountState {
    #[serde(skip)]
    state: Option<KeyValueState>,
}

#[typetag::serde(name = "storm::test::CountState")]
impl StatefulBolt for CountState {
    fn init_state(&mut self, state: KeyValueState) {
        self.state = Some(state);
    }

    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let state = self.state.as_ref().ok_or("no state")?;
        let word = input.get_str(0)?.to_owned();
        let n = state.get_or(word.as_str(), 0i64)?.as_i64().unwrap_or(0) + 1;
        state.put(word.as_str(), n)?;
        collector.emit_anchored(&input, values![word, n])?;
        collector.ack(&input);
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["word", "count"]);
    }
}

fn topology(stateful: bool) -> StormTopology {
    let mut b = TopologyBuilder::new();
    b.set_spout("words", TestWordSpout::new(10), 1);
    b.set_basic_bolt("split", SplitSentence::default(), 1)
        .shuffle_grouping("words");
    if stateful {
        b.set_stateful_bolt("count", CountState::default(), 1)
            .fields_grouping("split", ["word"]);
    }
    b.create_topology().unwrap()
}

fn cp(component: &str) -> GlobalStreamId {
    GlobalStreamId {
        component_id: component.to_owned(),
        stream_id: CHECKPOINT_STREAM_ID.to_owned(),
    }
}

#[test]
fn the_builder_wires_checkpoints_as_storm_does() {
    let t = topology(true);
    let spout = &t.spouts[CHECKPOINT_COMPONENT_ID];
    assert_eq!(spout.common.parallelism_hint, Some(1));
    assert_eq!(
        spout.common.streams[CHECKPOINT_STREAM_ID].output_fields,
        vec!["txid", "action"]
    );
    // A bolt fed by a spout takes checkpoints from $checkpointspout; one fed by a bolt from that bolt.
    let all = Grouping::All(NullStruct {});
    assert_eq!(
        t.bolts["split"].common.inputs[&cp(CHECKPOINT_COMPONENT_ID)],
        all
    );
    assert_eq!(t.bolts["count"].common.inputs[&cp("split")], all);
    for b in ["split", "count"] {
        assert!(
            t.bolts[b].common.streams.contains_key(CHECKPOINT_STREAM_ID),
            "{b}"
        );
    }
    let ComponentObject::SerializedJava(split) = &t.bolts["split"].bolt_object else {
        panic!("split is a Rust component");
    };
    let text = String::from_utf8_lossy(split);
    assert!(text.contains("storm::CheckpointTupleForwarder"), "{text}");
    assert!(text.contains("storm::BasicBoltExecutor"), "{text}");
    // The topology validates and normalizes like any other.
    let conf = crate::config::Config::defaults().to_json();
    let normalized = normalize_topology(&t, &conf).unwrap();
    system_topology(&normalized, &conf).unwrap();

    let plain = topology(false);
    assert!(!plain.spouts.contains_key(CHECKPOINT_COMPONENT_ID));
    assert!(!plain.bolts["split"]
        .common
        .streams
        .contains_key(CHECKPOINT_STREAM_ID));
}

#[test]
fn a_component_named_like_the_checkpoint_spout_is_refused() {
    let mut b = TopologyBuilder::new();
    b.set_spout(CHECKPOINT_COMPONENT_ID, TestWordSpout::new(10), 1);
    b.set_stateful_bolt("count", CountState::default(), 1)
        .shuffle_grouping(CHECKPOINT_COMPONENT_ID);
    let e = b.create_topology().unwrap_err().to_string();
    assert!(e.contains("$checkpointspout"), "{e}");
}

#[derive(Default)]
struct Recorder {
    emits: Vec<(String, Values)>,
    acked: Vec<Values>,
    failed: Vec<Values>,
}

impl BoltOutput for Recorder {
    fn emit(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: Values,
        _direct_task: Option<i32>,
    ) -> Result<Vec<i32>, EmitError> {
        assert!(!anchors.is_empty(), "emits are anchored");
        self.emits.push((stream.to_owned(), values));
        Ok(vec![])
    }
    fn ack(&mut self, input: &Tuple) {
        self.acked.push(input.values().to_vec());
    }
    fn fail(&mut self, input: &Tuple) {
        self.failed.push(input.values().to_vec());
    }
    fn reset_timeout(&mut self, _input: &Tuple) {}
    fn report_error(&mut self, message: String) {
        panic!("unexpected error: {message}");
    }
}

fn word(w: &str) -> Tuple {
    Tuple::for_test("split", "default", &["word"], values![w])
}

fn checkpoint(txid: i64, action: Action) -> Tuple {
    Tuple::for_test(
        "split",
        CHECKPOINT_STREAM_ID,
        &["txid", "action"],
        values![txid, action.name()],
    )
}

fn count_context() -> TopologyContext {
    let conf = crate::config::Config::defaults().to_json();
    let t = normalize_topology(&topology(true), &conf).unwrap();
    let system = system_topology(&t, &conf).unwrap();
    let worker = Arc::new(WorkerTopologyContext::new("t-1", &system, vec![], None).unwrap());
    let task = worker.component_tasks("count")[0];
    TopologyContext::new(worker, task)
}

#[test]
fn inputs_are_acked_after_commit_and_failed_on_rollback() {
    let state = KeyValueState::in_memory("count-1");
    let mut exec = StatefulBoltExecutor::new(Box::new(CountState::default()));
    let mut rec = Recorder::default();
    let conf = crate::api::ConfMap::new();
    exec.prepare_with_state(
        &conf,
        &count_context(),
        &mut OutputCollector::new(&mut rec),
        state.clone(),
    )
    .unwrap();
    let mut run = |t: Tuple, rec: &mut Recorder| {
        exec.execute(t, &mut OutputCollector::new(rec)).unwrap();
    };

    // PREPARE before INITSTATE fails the checkpoint; the recovery's ROLLBACK passes.
    run(checkpoint(0, Action::Prepare), &mut rec);
    assert_eq!(rec.failed, vec![values![0i64, "PREPARE"]]);
    rec.failed.clear();
    run(checkpoint(0, Action::Rollback), &mut rec);
    assert_eq!(
        rec.emits,
        vec![(CHECKPOINT_STREAM_ID.to_owned(), values![0i64, "ROLLBACK"])]
    );
    assert_eq!(rec.acked, vec![values![0i64, "ROLLBACK"]]);
    rec.emits.clear();
    rec.acked.clear();

    // Input before INITSTATE waits; INITSTATE runs it, forwards the checkpoint and acks it.
    run(word("a"), &mut rec);
    assert!(rec.emits.is_empty() && rec.acked.is_empty());
    run(checkpoint(-1, Action::InitState), &mut rec);
    assert_eq!(
        rec.emits,
        vec![
            ("default".to_owned(), values!["a", 1i64]),
            (CHECKPOINT_STREAM_ID.to_owned(), values![-1i64, "INITSTATE"]),
        ]
    );
    assert_eq!(
        rec.acked,
        vec![values![-1i64, "INITSTATE"]],
        "the input's ack is held"
    );
    rec.acked.clear();

    // PREPARE 0 then COMMIT 0: the input is acked only at commit.
    run(word("a"), &mut rec);
    run(checkpoint(0, Action::Prepare), &mut rec);
    assert_eq!(rec.acked, vec![values![0i64, "PREPARE"]]);
    run(checkpoint(0, Action::Commit), &mut rec);
    assert_eq!(
        rec.acked,
        vec![
            values![0i64, "PREPARE"],
            values!["a"],
            values!["a"],
            values![0i64, "COMMIT"]
        ]
    );
    rec.acked.clear();

    // Work after commit 0, prepared in 1 or not prepared at all, is rolled back and failed.
    run(word("a"), &mut rec);
    run(checkpoint(1, Action::Prepare), &mut rec);
    run(word("b"), &mut rec);
    assert_eq!(state.get("a").unwrap(), Some(Value::Long(3)));
    run(checkpoint(1, Action::Rollback), &mut rec);
    assert_eq!(rec.failed, vec![values!["a"], values!["b"]]);
    assert_eq!(
        state.get("a").unwrap(),
        Some(Value::Long(2)),
        "the committed count"
    );
    assert_eq!(state.get("b").unwrap(), None);

    // An old transaction is acked and ignored (not forwarded).
    let forwarded = rec.emits.len();
    run(checkpoint(-1, Action::InitState), &mut rec);
    assert_eq!(rec.emits.len(), forwarded);
    // The recovery INITSTATE at the committed txid goes through without re-initialising.
    run(checkpoint(0, Action::InitState), &mut rec);
    assert_eq!(rec.emits.len(), forwarded + 1);
    run(word("a"), &mut rec);
    assert_eq!(state.get("a").unwrap(), Some(Value::Long(3)));
}

#[test]
fn the_gate_waits_for_every_input_task() {
    let mut gate = CheckpointGate::new(2);
    assert!(!gate.arrived(Action::Prepare, 4));
    assert!(!gate.arrived(Action::Commit, 4));
    assert!(gate.arrived(Action::Prepare, 4));
    assert!(gate.arrived(Action::Commit, 4));
    gate.handled(Action::Commit, 4);
    assert!(gate.is_current(4) && gate.is_current(5) && !gate.is_current(3));
    gate.handled(Action::Rollback, 4);
    assert!(gate.is_current(3), "a rollback of 4 leaves 3 current");
    // Lost copies never grow the table without bound.
    for txid in 0..10_000 {
        gate.arrived(Action::Prepare, txid);
    }
    assert!(gate.pending_requests() <= 257);
}
