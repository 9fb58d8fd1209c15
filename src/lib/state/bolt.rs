//! Stateful bolts: the [`StatefulBolt`] trait (Storm's `IStatefulBolt`), the [`StatefulBoltExecutor`]
//! that runs one (Storm's `StatefulBoltExecutor`) and the [`CheckpointTupleForwarder`] that the
//! topology builder puts around every other bolt of a stateful topology, both on Storm's
//! `BaseStatefulBoltExecutor` logic ([`CheckpointGate`]).
//!
//! A checkpoint tuple is handled once it came from every task feeding this bolt's `$checkpoint`
//! inputs; older txids are acked and ignored. The stateful executor:
//!
//! * PREPARE: `pre_prepare`, then the state's `prepare_commit(txid)`; the inputs the bolt acked since
//!   the last prepare become the prepared inputs. Before INITSTATE the checkpoint is failed (recovery).
//! * COMMIT: `pre_commit`, the state's `commit(txid)`, then the prepared inputs are really acked — an
//!   input is acked only after the state it changed is committed (Storm's at-least-once).
//! * ROLLBACK: `pre_rollback`, the state rolls back, the prepared and acked-but-unprepared inputs are
//!   failed (their spouts replay them).
//! * INITSTATE: the first one gives the bolt its state (`init_state`) and runs the inputs that
//!   arrived before it (at most `topology.state.max.pending.tuples`, a storm-rs key, default 100 000;
//!   later ones are failed and replayed).
//!
//! Then the checkpoint tuple goes on downstream on `$checkpoint`, anchored to the one received, which
//! is acked. A failed state operation (Redis unreachable) fails the checkpoint tuple and reports the
//! error; the spout recovers and retries. Inputs the bolt acked wait in memory until commit; their
//! number is bounded by the same limit (further inputs are failed before they are executed).

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::checkpoint::{
    Action, CHECKPOINT_FIELD_ACTION, CHECKPOINT_FIELD_TXID, CHECKPOINT_STREAM_ID,
};
use super::{new_state, task_namespace, KeyValueState, StateError};
use crate::api::{
    conf_i64, Bolt, BoltOutput, ComponentError, ConfMap, EmitError, OutputCollector,
    OutputFieldsDeclarer, TopologyContext, Tuple, Waker,
};
use crate::tuple::{Value, Values};
use crate::values;

/// `topology.state.max.pending.tuples` (storm-rs): inputs a stateful bolt holds (before its state is
/// initialised, or acked and waiting for a commit) before it fails new ones.
pub const MAX_PENDING_TUPLES: &str = "topology.state.max.pending.tuples";
const DEFAULT_MAX_PENDING: usize = 100_000;
/// Partially counted checkpoint requests kept (a lost copy must not grow the table forever).
const MAX_REQUESTS: usize = 256;

/// A bolt with key-value state saved by checkpoints (Storm's `IStatefulBolt<KeyValueState>`).
/// Implement with `#[typetag::serde]` on a serde type; add it with
/// [`TopologyBuilder::set_stateful_bolt`](crate::api::TopologyBuilder::set_stateful_bolt).
///
/// Emits must be anchored; input is acked through the collector as usual, and the executor holds
/// the ack back until the state is committed.
#[typetag::serde]
pub trait StatefulBolt: Send {
    fn prepare(
        &mut self,
        _conf: &ConfMap,
        _context: &TopologyContext,
        _collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        Ok(())
    }

    /// Gives the bolt its state: the last committed one (empty the first time). Called once, before
    /// the first `execute`.
    fn init_state(&mut self, state: KeyValueState);

    /// Processes one input. An error that is a [`StateError`] fails the input (it is replayed);
    /// any other error kills the executor as a [`Bolt`]'s does.
    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError>;

    fn cleanup(&mut self) {}

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer);

    fn component_configuration(&self) -> Option<ConfMap> {
        None
    }

    /// Storm's `prePrepare(txid)` hook.
    fn pre_prepare(&mut self, _txid: i64) {}
    /// Storm's `preCommit(txid)` hook.
    fn pre_commit(&mut self, _txid: i64) {}
    /// Storm's `preRollback()` hook.
    fn pre_rollback(&mut self) {}
}

/// Storm's `BaseStatefulBoltExecutor` bookkeeping: which checkpoint requests came from every input
/// task, and the last txid handled.
#[derive(Debug, Clone)]
pub struct CheckpointGate {
    input_tasks: usize,
    requests: HashMap<(Action, i64), usize>,
    last_txid: i64,
}

impl CheckpointGate {
    pub fn new(input_tasks: usize) -> CheckpointGate {
        CheckpointGate {
            input_tasks: input_tasks.max(1),
            requests: HashMap::new(),
            last_txid: i64::MIN,
        }
    }

    /// The number of tasks feeding `$checkpoint` inputs of this task's component.
    pub fn from_context(context: &TopologyContext) -> CheckpointGate {
        let count = context
            .this_sources()
            .map(|sources| {
                sources
                    .keys()
                    .filter(|g| g.stream_id == CHECKPOINT_STREAM_ID)
                    .map(|g| context.component_tasks(&g.component_id).len())
                    .sum()
            })
            .unwrap_or(0);
        CheckpointGate::new(count)
    }

    /// Counts one copy of `(action, txid)`; true when every input task sent it (then the request is
    /// forgotten).
    pub fn arrived(&mut self, action: Action, txid: i64) -> bool {
        let count = self.requests.entry((action, txid)).or_insert(0);
        *count += 1;
        if *count >= self.input_tasks {
            self.requests.remove(&(action, txid));
            return true;
        }
        if self.requests.len() > MAX_REQUESTS {
            if let Some(oldest) = self.requests.keys().min_by_key(|(_, t)| *t).copied() {
                self.requests.remove(&oldest);
            }
        }
        false
    }

    /// Requests counted but not complete yet.
    pub fn pending_requests(&self) -> usize {
        self.requests.len()
    }

    /// Whether `txid` is not older than the last handled one.
    pub fn is_current(&self, txid: i64) -> bool {
        txid >= self.last_txid
    }

    /// Records a handled transaction (Storm: a rollback of `txid` leaves `txid − 1`).
    pub fn handled(&mut self, action: Action, txid: i64) {
        self.last_txid = if action == Action::Rollback {
            txid - 1
        } else {
            txid
        };
    }
}

/// Reads `(txid, action)` from a checkpoint tuple.
pub fn checkpoint_fields(input: &Tuple) -> Result<(i64, Action), ComponentError> {
    let txid = match input.value_by_field(CHECKPOINT_FIELD_TXID)? {
        Value::Long(t) => *t,
        Value::Int(t) => i64::from(*t),
        other => return Err(format!("checkpoint txid is {other:?}, not a long").into()),
    };
    let action = match input.value_by_field(CHECKPOINT_FIELD_ACTION)? {
        Value::String(s) => Action::parse(s),
        _ => None,
    }
    .ok_or_else(|| format!("checkpoint tuple {:?} has no valid action", input.values()))?;
    Ok((txid, action))
}

fn is_checkpoint(input: &Tuple) -> bool {
    input.source_stream() == CHECKPOINT_STREAM_ID
}

fn declare_checkpoint_stream(declarer: &mut OutputFieldsDeclarer) {
    declarer.declare_stream(
        CHECKPOINT_STREAM_ID,
        [CHECKPOINT_FIELD_TXID, CHECKPOINT_FIELD_ACTION],
    );
}

/// The collector a wrapped bolt sees: unanchored emits are refused (Storm's
/// `AnchoringOutputCollector`); with `acked` set, acks are held back (Storm's
/// `AckTrackingOutputCollector`).
struct Anchoring<'c, 'a> {
    inner: &'c mut OutputCollector<'a>,
    component: &'c str,
    acked: Option<&'c mut Vec<Tuple>>,
}

impl Anchoring<'_, '_> {
    fn refuse_unanchored(&self, stream: &str, anchors: &[&Tuple]) -> Result<(), EmitError> {
        if anchors.is_empty() {
            return Err(EmitError::Unanchored {
                component: self.component.to_owned(),
                stream: stream.to_owned(),
            });
        }
        Ok(())
    }
}

impl BoltOutput for Anchoring<'_, '_> {
    fn emit(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: Values,
        direct_task: Option<i32>,
    ) -> Result<Vec<i32>, EmitError> {
        self.refuse_unanchored(stream, anchors)?;
        match direct_task {
            Some(task) => self.inner.emit_direct(task, stream, anchors, values),
            None => self.inner.emit_stream(stream, anchors, values),
        }
    }

    fn emit_copied(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: &[Value],
        direct_task: Option<i32>,
    ) -> Result<Vec<i32>, EmitError> {
        self.refuse_unanchored(stream, anchors)?;
        match direct_task {
            Some(task) => self
                .inner
                .emit_direct(task, stream, anchors, values.to_vec()),
            None => self.inner.emit_stream_copied(stream, anchors, values),
        }
    }

    fn emit_copied_into(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: &[Value],
        direct_task: Option<i32>,
        tasks: &mut Vec<i32>,
    ) -> Result<(), EmitError> {
        match direct_task {
            Some(_) => {
                tasks.extend(self.emit_copied(stream, anchors, values, direct_task)?);
                Ok(())
            }
            None => {
                self.refuse_unanchored(stream, anchors)?;
                (self.inner).emit_stream_copied_into(stream, anchors, values, tasks)
            }
        }
    }

    fn ack(&mut self, input: &Tuple) {
        match self.acked.as_mut() {
            Some(acked) => acked.push(input.clone()),
            None => self.inner.ack(input),
        }
    }

    fn fail(&mut self, input: &Tuple) {
        self.inner.fail(input);
    }

    fn reset_timeout(&mut self, input: &Tuple) {
        self.inner.reset_timeout(input);
    }

    fn report_error(&mut self, message: String) {
        self.inner.report_error(message);
    }

    fn waker(&self) -> Option<Waker> {
        self.inner.waker()
    }
}

/// Sends the checkpoint tuple on, anchored to the received one, and acks that.
fn forward_checkpoint(
    collector: &mut OutputCollector<'_>,
    input: &Tuple,
    txid: i64,
    action: Action,
) -> Result<(), ComponentError> {
    collector.emit_stream(CHECKPOINT_STREAM_ID, &[input], values![txid, action.name()])?;
    collector.ack(input);
    Ok(())
}

struct Running {
    component: String,
    state: KeyValueState,
    gate: CheckpointGate,
    initialized: bool,
    max_pending: usize,
    /// Inputs that arrived before INITSTATE.
    pending: VecDeque<Tuple>,
    /// Inputs the bolt acked since the last prepare.
    acked: Vec<Tuple>,
    /// Inputs of the prepared transaction.
    prepared: Vec<Tuple>,
}

/// Runs a [`StatefulBolt`] (Storm's `StatefulBoltExecutor`); what
/// [`TopologyBuilder::set_stateful_bolt`](crate::api::TopologyBuilder::set_stateful_bolt) stores.
#[derive(Serialize, Deserialize)]
pub struct StatefulBoltExecutor {
    bolt: Box<dyn StatefulBolt>,
    #[serde(skip)]
    run: Option<Running>,
}

impl StatefulBoltExecutor {
    pub fn new(bolt: Box<dyn StatefulBolt>) -> StatefulBoltExecutor {
        StatefulBoltExecutor { bolt, run: None }
    }

    /// `prepare` with a given state (tests; Storm's package-private overload).
    pub fn prepare_with_state(
        &mut self,
        conf: &ConfMap,
        context: &TopologyContext,
        collector: &mut OutputCollector<'_>,
        state: KeyValueState,
    ) -> Result<(), ComponentError> {
        let max_pending = conf_i64(conf, MAX_PENDING_TUPLES)
            .filter(|n| *n > 0)
            .map(|n| n as usize)
            .unwrap_or(DEFAULT_MAX_PENDING);
        let component = context.this_component_id().to_owned();
        {
            let mut wrapped = Anchoring {
                inner: &mut *collector,
                component: &component,
                acked: None,
            };
            let mut oc = OutputCollector::new(&mut wrapped);
            self.bolt.prepare(conf, context, &mut oc)?;
        }
        self.run = Some(Running {
            component,
            state,
            gate: CheckpointGate::from_context(context),
            initialized: false,
            max_pending,
            pending: VecDeque::new(),
            acked: Vec::new(),
            prepared: Vec::new(),
        });
        Ok(())
    }

    fn do_execute(
        bolt: &mut dyn StatefulBolt,
        run: &mut Running,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if run.acked.len() + run.prepared.len() >= run.max_pending {
            // Not executed, so failing it cannot double-count it.
            collector.fail(&input);
            return Ok(());
        }
        let result = {
            let mut wrapped = Anchoring {
                inner: &mut *collector,
                component: &run.component,
                acked: Some(&mut run.acked),
            };
            let mut oc = OutputCollector::new(&mut wrapped);
            bolt.execute(input.clone(), &mut oc)
        };
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.downcast_ref::<StateError>().is_some() => {
                tracing::warn!(error = %e, "state unavailable; failing the input");
                collector.report_error(&e);
                collector.fail(&input);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn handle_checkpoint(
        &mut self,
        input: &Tuple,
        action: Action,
        txid: i64,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let run = self.run.as_mut().expect("prepared");
        match action {
            Action::Prepare => {
                if !run.initialized {
                    tracing::debug!(txid, "PREPARE before INITSTATE: failing the checkpoint");
                    collector.fail(input);
                    return Ok(());
                }
                self.bolt.pre_prepare(txid);
                run.state.prepare_commit(txid)?;
                run.prepared.append(&mut run.acked);
            }
            Action::Commit => {
                self.bolt.pre_commit(txid);
                run.state.commit_txid(txid)?;
                for t in run.prepared.drain(..) {
                    collector.ack(&t);
                }
            }
            Action::Rollback => {
                self.bolt.pre_rollback();
                run.state.rollback()?;
                for t in run.prepared.drain(..).chain(run.acked.drain(..)) {
                    collector.fail(&t);
                }
            }
            Action::InitState => {
                if !run.initialized {
                    self.bolt.init_state(run.state.clone());
                    run.initialized = true;
                    tracing::debug!(pending = run.pending.len(), "state initialised");
                    while let Some(t) = run.pending.pop_front() {
                        Self::do_execute(self.bolt.as_mut(), run, t, collector)?;
                    }
                }
            }
        }
        forward_checkpoint(collector, input, txid, action)
    }
}

#[typetag::serde(name = "storm::StatefulBoltExecutor")]
impl Bolt for StatefulBoltExecutor {
    fn prepare(
        &mut self,
        conf: &ConfMap,
        context: &TopologyContext,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let state = new_state(&task_namespace(context), conf)?;
        self.prepare_with_state(conf, context, collector, state)
    }

    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let Some(run) = self.run.as_mut() else {
            return Err("stateful bolt executed before prepare".into());
        };
        if !is_checkpoint(&input) {
            if run.initialized {
                return Self::do_execute(self.bolt.as_mut(), run, input, collector);
            }
            if run.pending.len() >= run.max_pending {
                collector.fail(&input);
            } else {
                run.pending.push_back(input);
            }
            return Ok(());
        }
        let (txid, action) = checkpoint_fields(&input)?;
        if !run.gate.arrived(action, txid) {
            collector.ack(&input);
            return Ok(());
        }
        if !run.gate.is_current(txid) {
            tracing::debug!(txid, action = action.name(), "ignoring an old transaction");
            collector.ack(&input);
            return Ok(());
        }
        match self.handle_checkpoint(&input, action, txid, collector) {
            Ok(()) => {
                self.run
                    .as_mut()
                    .expect("prepared")
                    .gate
                    .handled(action, txid);
                Ok(())
            }
            Err(e) if e.downcast_ref::<StateError>().is_some() => {
                tracing::warn!(error = %e, txid, action = action.name(), "checkpoint failed");
                collector.fail(&input);
                collector.report_error(&e);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn cleanup(&mut self) {
        self.bolt.cleanup();
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        self.bolt.declare_output_fields(declarer);
        declare_checkpoint_stream(declarer);
    }

    fn component_configuration(&self) -> Option<ConfMap> {
        self.bolt.component_configuration()
    }
}

/// Storm's `CheckpointTupleForwarder`: runs an ordinary bolt of a stateful topology and passes
/// checkpoint tuples on once they came from every input task.
#[derive(Serialize, Deserialize)]
pub struct CheckpointTupleForwarder {
    bolt: Box<dyn Bolt>,
    #[serde(skip)]
    gate: Option<CheckpointGate>,
    #[serde(skip)]
    component: String,
}

impl CheckpointTupleForwarder {
    pub fn new(bolt: Box<dyn Bolt>) -> CheckpointTupleForwarder {
        CheckpointTupleForwarder {
            bolt,
            gate: None,
            component: String::new(),
        }
    }

    /// Runs `call` on the wrapped bolt with the anchoring collector over `collector`.
    fn with_anchoring<R>(
        &mut self,
        collector: &mut OutputCollector<'_>,
        call: impl FnOnce(&mut dyn Bolt, &mut OutputCollector<'_>) -> R,
    ) -> R {
        let mut wrapped = Anchoring {
            inner: collector,
            component: &self.component,
            acked: None,
        };
        call(self.bolt.as_mut(), &mut OutputCollector::new(&mut wrapped))
    }
}

#[typetag::serde(name = "storm::CheckpointTupleForwarder")]
impl Bolt for CheckpointTupleForwarder {
    fn prepare(
        &mut self,
        conf: &ConfMap,
        context: &TopologyContext,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.gate = Some(CheckpointGate::from_context(context));
        self.component = context.this_component_id().to_owned();
        self.with_anchoring(collector, |bolt, oc| bolt.prepare(conf, context, oc))
    }

    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if is_checkpoint(&input) {
            // Inputs the inner bolt deferred go first (their emits precede the checkpoint).
            self.end_batch(collector)?;
            let (txid, action) = checkpoint_fields(&input)?;
            let gate = self.gate.get_or_insert_with(|| CheckpointGate::new(1));
            if gate.arrived(action, txid) && gate.is_current(txid) {
                forward_checkpoint(collector, &input, txid, action)?;
                gate.handled(action, txid);
            } else {
                collector.ack(&input);
            }
            return Ok(());
        }
        self.with_anchoring(collector, |bolt, oc| bolt.execute(input, oc))
    }

    fn end_batch(&mut self, collector: &mut OutputCollector<'_>) -> Result<(), ComponentError> {
        self.with_anchoring(collector, |bolt, oc| bolt.end_batch(oc))
    }

    fn cleanup(&mut self) {
        self.bolt.cleanup();
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        self.bolt.declare_output_fields(declarer);
        declare_checkpoint_stream(declarer);
    }

    fn component_configuration(&self) -> Option<ConfMap> {
        self.bolt.component_configuration()
    }

    fn poll(&mut self, collector: &mut OutputCollector<'_>) -> Result<(), ComponentError> {
        self.with_anchoring(collector, |bolt, oc| bolt.poll(oc))
    }
}
