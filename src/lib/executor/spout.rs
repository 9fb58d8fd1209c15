//! The spout executor loop (Storm's `SpoutExecutor`, storm-internals §5.2, §5.6, §7.4).
//!
//! Each iteration (a turn): consume the control queue (`__ack_ack`/`__ack_fail`/`__ack_reset_timeout`
//! from the ackers, `__tick` rotating the pending map); follow activation (`activate`/`deactivate`);
//! retry held-back batches; then, if nothing is held back and fewer than `topology.max.spout.pending` ×
//! tasks trees are pending, call `next_tuple` on every task, for up to a batch of rounds while the
//! tasks keep emitting, handing full batches over; the partly filled ones go when the tasks stop
//! emitting or their oldest tuple waited `BATCH_DELAY`. With nothing to do it waits for a control
//! message for up to a millisecond (or, held back, for a `Room` message from the full destination).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::emitter::{wait, AckerStream, EmitValues, ExecutorOutput, TaskEmitter, BATCH_TUPLES};
use super::now_ms;
use super::shared::{ExecutorDef, WorkerShared};
use super::transport::{prefetch_after, recycle, Control, ExecutorInbox};
use crate::acker::{PendingSpoutTuples, PendingTuple};
use crate::api::TupleIds;
use crate::api::{
    ComponentError, EmitError, MessageId, Spout, SpoutOutput, SpoutOutputCollector,
    TopologyContext, TupleSource,
};
use crate::topology::system::{
    ACKER_ACK_STREAM_ID, ACKER_FAIL_STREAM_ID, ACKER_RESET_TIMEOUT_STREAM_ID, SYSTEM_TICK_STREAM_ID,
};
use crate::tuple::{Value, Values};

/// One spout task of an executor.
pub(crate) struct SpoutTask {
    pub task_id: i32,
    pub spout: Box<dyn Spout>,
    pub emitter: TaskEmitter,
    pub context: TopologyContext,
    /// `ack` or `fail` was called since the last `end_batch` (only then is `end_batch` due).
    pub verdicts: bool,
}

/// What the pending map remembers of a reliable emit.
#[derive(Debug, Clone)]
pub(crate) struct PendingMsg {
    id: MessageId,
    source: &'static TupleSource,
}

/// Why a spout tuple tree failed (counted apart, a storm-rs addition to Storm's `failed`).
#[derive(Debug, Clone, Copy)]
enum FailCause {
    /// Not completed within `topology.message.timeout.secs`.
    Timeout,
    /// A bolt failed a tuple of the tree (the acker's `__ack_fail`).
    Explicit,
}

/// A message id to ack at once (acking disabled), with its task and stream.
type ImmediateAck = (i32, MessageId, &'static TupleSource);

struct SpoutBackend<'a> {
    task_id: i32,
    emitter: &'a mut TaskEmitter,
    out: &'a mut ExecutorOutput,
    pending: &'a mut PendingSpoutTuples<PendingMsg>,
    immediate_acks: &'a mut Vec<ImmediateAck>,
    emitted: &'a mut usize,
    /// The executor's clock, read once per round of `next_tuple` calls.
    now_ms: &'a u64,
}

impl SpoutBackend<'_> {
    fn emit_values(
        &mut self,
        stream: &str,
        values: EmitValues<'_>,
        message_id: Option<MessageId>,
        direct_task: Option<i32>,
        tasks: &mut Vec<i32>,
    ) -> Result<(), EmitError> {
        let start = tasks.len();
        let (source, system) =
            self.emitter
                .route_into(stream, values.as_slice(), direct_task, tasks)?;
        let targets = &tasks[start..];
        *self.emitted += 1;
        match message_id {
            Some(id) if self.out.acking => {
                // The pending map picks the root (a random id naming the entry's slot).
                let root = self.pending.insert(
                    self.out.ids.next_id(),
                    PendingTuple {
                        message_id: PendingMsg { id, source },
                        task_id: self.task_id,
                        emit_ms: *self.now_ms,
                    },
                );
                let mut xor = 0i64;
                self.out.send(source, system, targets, values, |ids| {
                    let edge = ids.next_id();
                    xor ^= edge;
                    TupleIds::One((root, edge))
                });
                self.out.emit_system(
                    self.emitter,
                    AckerStream::Init,
                    &[
                        Value::Long(root),
                        Value::Long(xor),
                        Value::Int(self.task_id),
                    ],
                );
            }
            id => {
                if let Some(id) = id {
                    self.immediate_acks.push((self.task_id, id, source));
                }
                self.out
                    .send(source, system, targets, values, |_| TupleIds::default());
            }
        }
        Ok(())
    }

    /// [`SpoutBackend::emit_values`] into a new vector of target tasks.
    fn emit_returning(
        &mut self,
        stream: &str,
        values: EmitValues<'_>,
        message_id: Option<MessageId>,
        direct_task: Option<i32>,
    ) -> Result<Vec<i32>, EmitError> {
        // No allocation unless a task subscribes (an emit nobody hears is common).
        let mut tasks = Vec::new();
        self.emit_values(stream, values, message_id, direct_task, &mut tasks)?;
        Ok(tasks)
    }
}

impl SpoutOutput for SpoutBackend<'_> {
    fn emit(
        &mut self,
        stream: &str,
        values: Values,
        message_id: Option<MessageId>,
        direct_task: Option<i32>,
    ) -> Result<Vec<i32>, EmitError> {
        self.emit_returning(stream, EmitValues::Owned(values), message_id, direct_task)
    }

    fn emit_copied(
        &mut self,
        stream: &str,
        values: &[Value],
        message_id: Option<MessageId>,
        direct_task: Option<i32>,
    ) -> Result<Vec<i32>, EmitError> {
        self.emit_returning(
            stream,
            EmitValues::Borrowed(values),
            message_id,
            direct_task,
        )
    }

    fn emit_copied_into(
        &mut self,
        stream: &str,
        values: &[Value],
        message_id: Option<MessageId>,
        direct_task: Option<i32>,
        tasks: &mut Vec<i32>,
    ) -> Result<(), EmitError> {
        self.emit_values(
            stream,
            EmitValues::Borrowed(values),
            message_id,
            direct_task,
            tasks,
        )
    }

    fn report_error(&mut self, message: String) {
        self.out.errors.report(self.task_id, message);
    }

    fn pending_count(&self) -> usize {
        self.pending.len()
    }
}

/// Which lifecycle call to make on a spout task.
enum Call {
    Open,
    /// Up to `max` `next_tuple` calls ([`Spout::next_tuples`]) with `allowance` reliable emits.
    NextTuples {
        max: usize,
        allowance: usize,
    },
    Activate,
    Deactivate,
    Ack(MessageId),
    Fail(MessageId),
    EndBatch,
}

pub(crate) struct SpoutExecutor<'i> {
    shared: Arc<WorkerShared>,
    def: Arc<ExecutorDef>,
    inbox: &'i ExecutorInbox,
    tasks: Vec<SpoutTask>,
    out: ExecutorOutput,
    pending: PendingSpoutTuples<PendingMsg>,
    immediate_acks: Vec<ImmediateAck>,
    load_version: u64,
    /// `now_ms()` as of the current round of `next_tuple` calls (when reliable emits happened).
    now_ms: u64,
    /// How many `next_tuple` calls the last `Call::NextTuples` made.
    next_tuple_calls: usize,
}

impl<'i> SpoutExecutor<'i> {
    pub fn new(
        shared: Arc<WorkerShared>,
        def: Arc<ExecutorDef>,
        inbox: &'i ExecutorInbox,
        tasks: Vec<SpoutTask>,
    ) -> SpoutExecutor<'i> {
        let max_pending = crate::api::conf_i64(&def.conf, "topology.max.spout.pending")
            .and_then(|n| u32::try_from(n).ok());
        let pending = PendingSpoutTuples::new(max_pending, tasks.len());
        let out = shared.executor_output(&def);
        SpoutExecutor {
            shared,
            def,
            inbox,
            tasks,
            out,
            pending,
            immediate_acks: Vec::new(),
            load_version: 0,
            now_ms: now_ms(),
            next_tuple_calls: 0,
        }
    }

    /// Makes one lifecycle call on task `index`; returns how many tuples it emitted.
    fn call(&mut self, index: usize, call: Call) -> Result<usize, ComponentError> {
        let mut emitted = 0;
        {
            let SpoutExecutor {
                tasks,
                out,
                pending,
                immediate_acks,
                def,
                now_ms,
                next_tuple_calls: calls,
                ..
            } = self;
            let task = &mut tasks[index];
            match call {
                Call::Ack(_) | Call::Fail(_) => task.verdicts = true,
                Call::EndBatch => task.verdicts = false,
                _ => {}
            }
            let mut backend = SpoutBackend {
                task_id: task.task_id,
                emitter: &mut task.emitter,
                out,
                pending,
                immediate_acks,
                emitted: &mut emitted,
                now_ms,
            };
            let mut collector = SpoutOutputCollector::new(&mut backend);
            let spout = task.spout.as_mut();
            match call {
                Call::Open => spout.open(&def.conf, &task.context, &mut collector)?,
                Call::NextTuples { max, allowance } => {
                    *calls = spout.next_tuples(max, allowance, &mut collector)?;
                }
                Call::Activate => spout.activate(&mut collector)?,
                Call::Deactivate => spout.deactivate(&mut collector)?,
                Call::Ack(id) => spout.ack(id, &mut collector)?,
                Call::Fail(id) => spout.fail(id, &mut collector)?,
                Call::EndBatch => spout.end_batch(&mut collector)?,
            }
        }
        // Acking disabled: a reliable emit is acked right away (after the call, on this thread).
        while !self.immediate_acks.is_empty() {
            for (task, id, source) in std::mem::take(&mut self.immediate_acks) {
                self.out.counts.of(source).spout_acked += 1;
                if let Some(i) = self.task_index(task) {
                    emitted += self.call(i, Call::Ack(id))?;
                }
            }
        }
        Ok(emitted)
    }

    fn task_index(&self, task: i32) -> Option<usize> {
        self.tasks.iter().position(|t| t.task_id == task)
    }

    fn on_control(&mut self, message: Control) -> Result<(), ComponentError> {
        match message {
            Control::Batch(batch) => {
                for (i, tuple) in batch.tuples.iter().enumerate() {
                    prefetch_after(&batch.tuples, i);
                    self.on_system_tuple(tuple)?;
                }
                recycle(batch.tuples, batch.recycle.as_ref());
            }
            Control::Messages { messages, .. } => {
                for m in &messages {
                    if m.source.stream == SYSTEM_TICK_STREAM_ID {
                        self.on_system_tuple(&m.to_tuple())?;
                    } else if let Some(root) = m.get(0) {
                        self.on_acker(&m.source.stream, root, m.get(1))?;
                    }
                }
            }
            Control::Wake | Control::Room => return Ok(()),
        }
        for i in 0..self.tasks.len() {
            if self.tasks[i].verdicts {
                self.call(i, Call::EndBatch)?;
            }
        }
        self.out.gauges.set_pending(self.pending.len());
        Ok(())
    }

    fn on_system_tuple(&mut self, tuple: &crate::api::Tuple) -> Result<(), ComponentError> {
        let stream = tuple.source_stream();
        if stream == SYSTEM_TICK_STREAM_ID && tuple.is_tick() {
            for (_, p) in self.pending.tick() {
                tracing::debug!(task = p.task_id, "spout tuple timed out");
                self.failed(p, FailCause::Timeout)?;
            }
            self.out.gauges.set_pending(self.pending.len());
            return Ok(());
        }
        let Some(root) = tuple.get(0).and_then(Value::as_i64) else {
            return Ok(());
        };
        self.on_acker(stream, root, tuple.get(1).and_then(Value::as_i64))
    }

    /// An acker's verdict on the tree `root` (`delta`: its time-delta-ms value).
    fn on_acker(
        &mut self,
        stream: &str,
        root: i64,
        delta: Option<i64>,
    ) -> Result<(), ComponentError> {
        match stream {
            ACKER_ACK_STREAM_ID => {
                if let Some(p) = self.pending.take(root) {
                    {
                        let c = self.out.counts.of(p.message_id.source);
                        c.spout_acked += 1;
                        if let Some(d) = delta {
                            c.complete.record(d as f64);
                        }
                    }
                    if let Some(i) = self.task_index(p.task_id) {
                        self.call(i, Call::Ack(p.message_id.id))?;
                    }
                }
            }
            ACKER_FAIL_STREAM_ID => {
                if let Some(p) = self.pending.take(root) {
                    self.failed(p, FailCause::Explicit)?;
                }
            }
            ACKER_RESET_TIMEOUT_STREAM_ID => {
                self.pending.reset_timeout(root);
            }
            _ => {}
        }
        Ok(())
    }

    fn failed(
        &mut self,
        p: PendingTuple<PendingMsg>,
        cause: FailCause,
    ) -> Result<(), ComponentError> {
        let c = self.out.counts.of(p.message_id.source);
        match cause {
            FailCause::Timeout => c.spout_failed_timeout += 1,
            FailCause::Explicit => c.spout_failed_explicit += 1,
        }
        if let Some(i) = self.task_index(p.task_id) {
            self.call(i, Call::Fail(p.message_id.id))?;
        }
        Ok(())
    }

    fn refresh_load(&mut self) {
        if let Some((version, load)) = self.shared.load_if_newer(self.load_version) {
            self.load_version = version;
            for t in &mut self.tasks {
                t.emitter.refresh_load(&load);
            }
        }
    }

    /// Runs until the worker shuts down; an error from the spout ends the run (the executor dies)
    /// after what it emitted so far is handed over.
    pub fn run(&mut self) -> Result<(), ComponentError> {
        let result = self.run_loop();
        self.out.flush();
        result
    }

    fn run_loop(&mut self) -> Result<(), ComponentError> {
        for i in 0..self.tasks.len() {
            let _span = tracing::info_span!("task", task = self.tasks[i].task_id).entered();
            self.call(i, Call::Open)?;
        }
        let stop = self.shared.stop_receiver();
        let mut last_active = false;
        let mut idle: u32 = 0;
        loop {
            if self.shared.is_shutting_down() {
                break;
            }
            self.refresh_load();
            while let Ok(m) = self.inbox.control.try_recv() {
                self.on_control(m)?;
            }
            let active = self.shared.active.load(Ordering::Acquire);
            if active != last_active {
                for i in 0..self.tasks.len() {
                    self.call(
                        i,
                        if active {
                            Call::Activate
                        } else {
                            Call::Deactivate
                        },
                    )?;
                }
                last_active = active;
            }
            if !active {
                self.out.flush();
                if let Some(m) = wait(&self.inbox.control, &stop, Duration::from_millis(100)) {
                    self.on_control(m)?;
                }
                continue;
            }
            if !self.out.flush_overflow() {
                self.out.flush();
                let timeout = self.out.overflow_wait();
                if let Some(m) = wait(&self.inbox.control, &stop, timeout) {
                    self.on_control(m)?;
                }
                continue;
            }
            // Up to a batch of rounds of `next_tuple` on every task before handing the batches
            // over (sooner when the spout stops emitting or a batch is due).
            let mut emitted = 0;
            // Whether the tasks were still emitting when the round cap ended the turn.
            let mut busy = false;
            self.now_ms = now_ms();
            // A round is one `next_tuple` per task; a task may make several rounds in one call
            // (`Spout::next_tuples`), then the round counts as that many.
            let mut rounds = 0;
            let mut clock_at = 0;
            while rounds < BATCH_TUPLES {
                let mut round = 0;
                let mut calls = 1;
                for i in 0..self.tasks.len() {
                    if !self.pending.has_capacity() || self.out.has_overflow() {
                        break;
                    }
                    let call = Call::NextTuples {
                        max: BATCH_TUPLES - rounds,
                        allowance: self.pending.room(),
                    };
                    round += self.call(i, call)?;
                    calls = calls.max(self.next_tuple_calls);
                }
                rounds += calls;
                emitted += round;
                // The clock is read every 8 rounds: a read costs as much as a cheap `next_tuple`.
                let clock_due = rounds - clock_at >= 8;
                if clock_due {
                    clock_at = rounds;
                }
                if round == 0
                    || !self.pending.has_capacity()
                    || self.out.has_overflow()
                    || (clock_due && self.out.batch_due())
                {
                    break;
                }
                busy = rounds >= BATCH_TUPLES;
            }
            self.out.gauges.set_pending(self.pending.len());
            if busy {
                // Still emitting: keep filling the batches (full ones were handed over already),
                // so a spout feeding many tasks still hands over full batches, not a round's
                // worth split over every destination; none waits longer than BATCH_DELAY.
                self.out.flush_if_due();
            } else {
                self.out.flush();
            }
            if emitted > 0 {
                idle = 0;
                continue;
            }
            idle = idle.saturating_add(1);
            // Nothing emitted: wait for an ack (a full pending map) or a little (Storm's spout wait
            // strategy sleeps 1 ms).
            let timeout = if self.pending.has_capacity() {
                Duration::from_millis(if idle < 1000 { 1 } else { 10 })
            } else {
                Duration::from_millis(100)
            };
            if let Some(m) = wait(&self.inbox.control, &stop, timeout) {
                self.on_control(m)?;
            }
        }
        Ok(())
    }

    /// Calls `close` on every task (on kill).
    pub fn close(&mut self) {
        for t in &mut self.tasks {
            t.spout.close();
        }
    }
}
