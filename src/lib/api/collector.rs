//! The collectors components emit through: [`SpoutOutputCollector`], [`OutputCollector`] and
//! [`BasicOutputCollector`]. Each is a thin front over a backend trait ([`SpoutOutput`],
//! [`BoltOutput`]) that the executor implements (routing, acking, stats); tests can implement the
//! backend to drive a component by hand.

use std::fmt;

use super::tuple::{MessageId, Tuple};
use crate::grouping::GroupingError;
use crate::topology::system::DEFAULT_STREAM_ID;
use crate::tuple::{Value, Values};

/// Why an emit was refused. The grouping errors carry Storm's texts (`Cannot do regular emit to direct
/// stream`, `Cannot emitDirect to a task expecting a regular grouping`).
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// The component did not declare the stream (Storm: `Unknown stream ID`).
    #[error("Unknown stream ID: {stream} (component {component} declares {declared})")]
    UnknownStream {
        component: String,
        stream: String,
        declared: String,
    },
    /// Storm's `TupleImpl` check.
    #[error("Tuple created with wrong number of fields. Expected {expected} fields but got {got} fields (stream {stream} of component {component})")]
    WrongFieldCount {
        component: String,
        stream: String,
        expected: usize,
        got: usize,
    },
    #[error(transparent)]
    Grouping(#[from] GroupingError),
    /// Storm's `AnchoringOutputCollector`: every bolt of a topology with stateful bolts anchors.
    #[error("Bolts in a stateful topology must emit anchored tuples (component {component}, stream {stream})")]
    Unanchored { component: String, stream: String },
}

/// What a spout's collector does; implemented by the spout executor.
pub trait SpoutOutput {
    /// Emits `values` on `stream` (to `direct_task` when given), reliably when `message_id` is set and
    /// the topology acks. Returns the task ids the tuple was sent to.
    fn emit(
        &mut self,
        stream: &str,
        values: Values,
        message_id: Option<MessageId>,
        direct_task: Option<i32>,
    ) -> Result<Vec<i32>, EmitError>;

    /// [`SpoutOutput::emit`] of a copy of `values`: the executor copies them into a spent tuple's
    /// buffers, so a spout that refills one vector per emit allocates nothing per tuple. The
    /// default emits `values.to_vec()`.
    fn emit_copied(
        &mut self,
        stream: &str,
        values: &[Value],
        message_id: Option<MessageId>,
        direct_task: Option<i32>,
    ) -> Result<Vec<i32>, EmitError> {
        self.emit(stream, values.to_vec(), message_id, direct_task)
    }

    /// [`SpoutOutput::emit_copied`] appending the target task ids to `tasks` instead of returning
    /// a new vector: with a reused `tasks`, an emit allocates nothing. The default appends what
    /// [`SpoutOutput::emit_copied`] returns.
    fn emit_copied_into(
        &mut self,
        stream: &str,
        values: &[Value],
        message_id: Option<MessageId>,
        direct_task: Option<i32>,
        tasks: &mut Vec<i32>,
    ) -> Result<(), EmitError> {
        tasks.extend(self.emit_copied(stream, values, message_id, direct_task)?);
        Ok(())
    }

    /// Reports an error (throttled, then shown by `storm get-errors` / the UI).
    fn report_error(&mut self, message: String);

    /// The executor's un-acked reliable tuples.
    fn pending_count(&self) -> usize;
}

/// What a bolt's collector does; implemented by the bolt executor.
pub trait BoltOutput {
    /// Emits `values` on `stream` anchored to `anchors` (to `direct_task` when given). Returns the
    /// task ids the tuple was sent to.
    fn emit(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: Values,
        direct_task: Option<i32>,
    ) -> Result<Vec<i32>, EmitError>;

    /// [`BoltOutput::emit`] of a copy of `values`, copied into a spent tuple's buffers where the
    /// executor can (see [`SpoutOutput::emit_copied`]). The default emits `values.to_vec()`.
    fn emit_copied(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: &[Value],
        direct_task: Option<i32>,
    ) -> Result<Vec<i32>, EmitError> {
        self.emit(stream, anchors, values.to_vec(), direct_task)
    }

    /// [`BoltOutput::emit_copied`] appending the target task ids to `tasks` (see
    /// [`SpoutOutput::emit_copied_into`]). The default appends what [`BoltOutput::emit_copied`]
    /// returns.
    fn emit_copied_into(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: &[Value],
        direct_task: Option<i32>,
        tasks: &mut Vec<i32>,
    ) -> Result<(), EmitError> {
        tasks.extend(self.emit_copied(stream, anchors, values, direct_task)?);
        Ok(())
    }

    /// Emits a copy of `values` unanchored on `stream` to task `task`, without allocating where
    /// the executor can (the acker's verdicts use it). The default emits a copy through
    /// [`BoltOutput::emit`].
    #[doc(hidden)]
    fn emit_direct_copied(
        &mut self,
        task: i32,
        stream: &str,
        values: &[Value],
    ) -> Result<(), EmitError> {
        self.emit(stream, &[], values.to_vec(), Some(task))
            .map(drop)
    }

    fn ack(&mut self, input: &Tuple);

    fn fail(&mut self, input: &Tuple);

    /// Restarts the timeout of the trees `input` belongs to.
    fn reset_timeout(&mut self, input: &Tuple);

    fn report_error(&mut self, message: String);

    /// A handle that wakes the executor from another thread (it then calls the bolt's
    /// [`poll`](super::Bolt::poll)); `None` when there is no executor to wake.
    fn waker(&self) -> Option<Waker> {
        None
    }
}

/// Wakes a bolt's executor from another thread (never blocks).
pub type Waker = std::sync::Arc<dyn Fn() + Send + Sync>;

/// A spout's collector (Storm's `SpoutOutputCollector`).
pub struct SpoutOutputCollector<'a> {
    backend: &'a mut dyn SpoutOutput,
}

impl<'a> SpoutOutputCollector<'a> {
    pub fn new(backend: &'a mut dyn SpoutOutput) -> SpoutOutputCollector<'a> {
        SpoutOutputCollector { backend }
    }

    /// Emits on the default stream; `Some(message_id)` makes the tuple reliable (the spout's `ack` or
    /// `fail` gets the id back). Returns the target task ids.
    pub fn emit(
        &mut self,
        values: Values,
        message_id: Option<MessageId>,
    ) -> Result<Vec<i32>, EmitError> {
        self.backend
            .emit(DEFAULT_STREAM_ID, values, message_id, None)
    }

    /// Emits on `stream`.
    pub fn emit_stream(
        &mut self,
        stream: &str,
        values: Values,
        message_id: Option<MessageId>,
    ) -> Result<Vec<i32>, EmitError> {
        self.backend.emit(stream, values, message_id, None)
    }

    /// Emits on `stream` to task `task`, whose component must subscribe with a direct grouping.
    pub fn emit_direct(
        &mut self,
        task: i32,
        stream: &str,
        values: Values,
        message_id: Option<MessageId>,
    ) -> Result<Vec<i32>, EmitError> {
        self.backend.emit(stream, values, message_id, Some(task))
    }

    /// Emits a copy of `values` on `stream`: for a spout that builds each tuple in one reused
    /// vector, the executor copies them into a spent tuple's buffers (no allocation per emit once
    /// warm) instead of taking a fresh vector.
    pub fn emit_stream_copied(
        &mut self,
        stream: &str,
        values: &[Value],
        message_id: Option<MessageId>,
    ) -> Result<Vec<i32>, EmitError> {
        self.backend.emit_copied(stream, values, message_id, None)
    }

    /// [`SpoutOutputCollector::emit_stream_copied`] appending the target task ids to `tasks`
    /// instead of returning them: a spout that also reuses `tasks` (clearing it when it likes)
    /// allocates nothing per emit.
    pub fn emit_stream_copied_into(
        &mut self,
        stream: &str,
        values: &[Value],
        message_id: Option<MessageId>,
        tasks: &mut Vec<i32>,
    ) -> Result<(), EmitError> {
        self.backend
            .emit_copied_into(stream, values, message_id, None, tasks)
    }

    pub fn report_error(&mut self, error: impl fmt::Display) {
        self.backend.report_error(error.to_string());
    }

    /// Reliable tuples of this executor still awaiting ack or fail.
    pub fn pending_count(&self) -> usize {
        self.backend.pending_count()
    }
}

/// A bolt's collector (Storm's `OutputCollector`).
pub struct OutputCollector<'a> {
    backend: &'a mut dyn BoltOutput,
}

impl<'a> OutputCollector<'a> {
    pub fn new(backend: &'a mut dyn BoltOutput) -> OutputCollector<'a> {
        OutputCollector { backend }
    }

    /// Emits an unanchored tuple on the default stream.
    pub fn emit(&mut self, values: Values) -> Result<Vec<i32>, EmitError> {
        self.backend.emit(DEFAULT_STREAM_ID, &[], values, None)
    }

    /// Emits on the default stream anchored to `anchor`.
    pub fn emit_anchored(&mut self, anchor: &Tuple, values: Values) -> Result<Vec<i32>, EmitError> {
        self.backend
            .emit(DEFAULT_STREAM_ID, &[anchor], values, None)
    }

    /// Emits on the default stream anchored to every tuple of `anchors` (a multi-anchored tuple).
    pub fn emit_anchored_many(
        &mut self,
        anchors: &[&Tuple],
        values: Values,
    ) -> Result<Vec<i32>, EmitError> {
        self.backend.emit(DEFAULT_STREAM_ID, anchors, values, None)
    }

    /// Emits on `stream` anchored to `anchors` (none for an unanchored tuple).
    pub fn emit_stream(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: Values,
    ) -> Result<Vec<i32>, EmitError> {
        self.backend.emit(stream, anchors, values, None)
    }

    /// Emits a copy of `values` on `stream` anchored to `anchors`, copied into a spent tuple's
    /// buffers where the executor can (see [`SpoutOutputCollector::emit_stream_copied`]).
    pub fn emit_stream_copied(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: &[Value],
    ) -> Result<Vec<i32>, EmitError> {
        self.backend.emit_copied(stream, anchors, values, None)
    }

    /// [`OutputCollector::emit_stream_copied`] appending the target task ids to `tasks` instead of
    /// returning them (see [`SpoutOutputCollector::emit_stream_copied_into`]).
    pub fn emit_stream_copied_into(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: &[Value],
        tasks: &mut Vec<i32>,
    ) -> Result<(), EmitError> {
        self.backend
            .emit_copied_into(stream, anchors, values, None, tasks)
    }

    /// Emits on `stream` to task `task` (a direct grouping), anchored to `anchors`.
    pub fn emit_direct(
        &mut self,
        task: i32,
        stream: &str,
        anchors: &[&Tuple],
        values: Values,
    ) -> Result<Vec<i32>, EmitError> {
        self.backend.emit(stream, anchors, values, Some(task))
    }

    /// Emits a copy of `values` unanchored on `stream` to task `task` (built-in bolts' system
    /// traffic; no allocation in an executor).
    #[doc(hidden)]
    pub fn emit_direct_copied(
        &mut self,
        task: i32,
        stream: &str,
        values: &[Value],
    ) -> Result<(), EmitError> {
        self.backend.emit_direct_copied(task, stream, values)
    }

    pub fn ack(&mut self, input: &Tuple) {
        self.backend.ack(input);
    }

    pub fn fail(&mut self, input: &Tuple) {
        self.backend.fail(input);
    }

    /// Restarts the message timeout of the trees `input` belongs to (Storm's `resetTimeout`).
    pub fn reset_timeout(&mut self, input: &Tuple) {
        self.backend.reset_timeout(input);
    }

    pub fn report_error(&mut self, error: impl fmt::Display) {
        self.backend.report_error(error.to_string());
    }

    /// Wakes this executor from another thread so it calls the bolt's [`poll`](super::Bolt::poll).
    pub fn waker(&self) -> Option<Waker> {
        self.backend.waker()
    }
}

/// A basic bolt's collector: every emit is anchored to the input being executed (Storm's
/// `BasicOutputCollector`).
pub struct BasicOutputCollector<'c, 'a> {
    collector: &'c mut OutputCollector<'a>,
    input: &'c Tuple,
}

impl<'c, 'a> BasicOutputCollector<'c, 'a> {
    pub fn new(collector: &'c mut OutputCollector<'a>, input: &'c Tuple) -> Self {
        BasicOutputCollector { collector, input }
    }

    /// Emits on the default stream, anchored to the input.
    pub fn emit(&mut self, values: Values) -> Result<Vec<i32>, EmitError> {
        self.collector.emit_anchored(self.input, values)
    }

    /// Emits on `stream`, anchored to the input.
    pub fn emit_stream(&mut self, stream: &str, values: Values) -> Result<Vec<i32>, EmitError> {
        self.collector.emit_stream(stream, &[self.input], values)
    }

    /// Emits on `stream` to task `task`, anchored to the input.
    pub fn emit_direct(
        &mut self,
        task: i32,
        stream: &str,
        values: Values,
    ) -> Result<Vec<i32>, EmitError> {
        self.collector
            .emit_direct(task, stream, &[self.input], values)
    }

    /// Emits a copy of `values` on `stream`, anchored to the input, appending the target task ids
    /// to `tasks` (see [`OutputCollector::emit_stream_copied_into`]): a bolt that builds each
    /// output in reused buffers allocates nothing per emit once warm.
    pub fn emit_stream_copied_into(
        &mut self,
        stream: &str,
        values: &[Value],
        tasks: &mut Vec<i32>,
    ) -> Result<(), EmitError> {
        self.collector
            .emit_stream_copied_into(stream, &[self.input], values, tasks)
    }

    /// Restarts the timeout of the input's trees.
    pub fn reset_timeout(&mut self) {
        self.collector.reset_timeout(self.input);
    }

    pub fn report_error(&mut self, error: impl fmt::Display) {
        self.collector.report_error(error);
    }
}
