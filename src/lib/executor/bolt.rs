//! The bolt executor loop (Storm's `BoltExecutor` and `BoltOutputCollectorImpl`, storm-internals §5.3,
//! §7.4).
//!
//! Each iteration (a turn): execute what the control queue holds (tick tuples, and for ackers the
//! `__ack_*` traffic); retry held-back batches, and while any remain consume no data (backpressure);
//! otherwise execute up to [`MAX_BATCH`] data tuples (the rest of a received batch waits in the inbox),
//! stopping early when an emit gets held back, and hand what they emitted over. When idle, spin for
//! a few microseconds, yield a while, then block on both queues.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::emitter::{wait, AckerStream, EmitValues, ExecutorOutput, TaskEmitter};
use super::now_ns;
use super::shared::{ExecutorDef, WorkerShared};
use super::transport::{
    prefetch_after, recycle, Control, ExecutorInbox, ExecutorQueues, SystemMessage,
};
use crate::api::TupleIds;
use crate::api::{
    Bolt, BoltOutput, ComponentError, ConfMap, EmitError, OutputCollector, TopologyContext, Tuple,
    Waker,
};
use crate::tuple::{Value, Values};

/// Most data tuples executed between two looks at the control queue.
const MAX_BATCH: usize = 1024;

/// How long an idle bolt busy-waits (re-checking its queues between short pause bursts) before it
/// yields: about the interval between two batches of a fast producer, so a bolt a little faster
/// than its producer makes no system call per batch (a `yield_now` is one).
const IDLE_SPIN: Duration = Duration::from_micros(20);

/// Spin-loop hints between two looks at the queues while busy-waiting.
const SPIN_PAUSES: u32 = 32;

/// Empty polls (each followed by a `yield_now`) after [`IDLE_SPIN`] before an idle bolt blocks on
/// its queues.
const IDLE_YIELDS: u32 = 200;

/// One bolt task of an executor.
pub(crate) struct BoltTask {
    pub task_id: i32,
    pub bolt: Box<dyn Bolt>,
    pub emitter: TaskEmitter,
    pub context: TopologyContext,
}

struct BoltBackend<'a> {
    task_id: i32,
    emitter: &'a mut TaskEmitter,
    out: &'a mut ExecutorOutput,
    queues: &'a ExecutorQueues,
}

impl BoltBackend<'_> {
    fn emit_values(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: EmitValues<'_>,
        direct_task: Option<i32>,
        tasks: &mut Vec<i32>,
    ) -> Result<(), EmitError> {
        let start = tasks.len();
        let (source, system) =
            self.emitter
                .route_into(stream, values.as_slice(), direct_task, tasks)?;
        let targets = &tasks[start..];
        if self.out.acking && anchors.iter().any(|a| a.is_anchored()) {
            self.out.send(source, system, targets, values, |ids| {
                // Storm: per target and anchor a fresh edge, XORed into the anchor's ack value and
                // into the child's id for every root of the anchor.
                let mut child = TupleIds::default();
                for anchor in anchors.iter().filter(|a| a.is_anchored()) {
                    let edge = ids.next_id();
                    anchor.xor_ack_val(edge);
                    for &(root, _) in anchor.message_id() {
                        child.xor(root, edge);
                    }
                }
                child
            });
        } else {
            self.out
                .send(source, system, targets, values, |_| TupleIds::default());
        }
        Ok(())
    }

    /// [`BoltBackend::emit_values`] into a new vector of target tasks.
    fn emit_returning(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: EmitValues<'_>,
        direct_task: Option<i32>,
    ) -> Result<Vec<i32>, EmitError> {
        // No allocation unless a task subscribes (an emit nobody hears is common).
        let mut tasks = Vec::new();
        self.emit_values(stream, anchors, values, direct_task, &mut tasks)?;
        Ok(tasks)
    }
}

impl BoltOutput for BoltBackend<'_> {
    fn emit(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: Values,
        direct_task: Option<i32>,
    ) -> Result<Vec<i32>, EmitError> {
        self.emit_returning(stream, anchors, EmitValues::Owned(values), direct_task)
    }

    fn emit_copied(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: &[Value],
        direct_task: Option<i32>,
    ) -> Result<Vec<i32>, EmitError> {
        self.emit_returning(stream, anchors, EmitValues::Borrowed(values), direct_task)
    }

    fn emit_copied_into(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: &[Value],
        direct_task: Option<i32>,
        tasks: &mut Vec<i32>,
    ) -> Result<(), EmitError> {
        let values = EmitValues::Borrowed(values);
        self.emit_values(stream, anchors, values, direct_task, tasks)
    }

    fn emit_direct_copied(
        &mut self,
        task: i32,
        stream: &str,
        values: &[Value],
    ) -> Result<(), EmitError> {
        self.out
            .emit_unanchored(self.emitter, stream, values, Some(task))
    }

    fn ack(&mut self, input: &Tuple) {
        if !self.out.acking {
            return;
        }
        let ack_val = input.ack_val();
        for &(root, edge) in input.message_id() {
            self.out.emit_system(
                self.emitter,
                AckerStream::Ack,
                &[Value::Long(root), Value::Long(edge ^ ack_val)],
            );
        }
        let start = input.exec_start_ns();
        let c = self.out.counts.of(input.source());
        c.bolt_acked += 1;
        if start > 0 {
            c.process
                .record(now_ns().saturating_sub(start) as f64 / 1e6);
        }
    }

    fn fail(&mut self, input: &Tuple) {
        if !self.out.acking {
            return;
        }
        for &(root, _) in input.message_id() {
            self.out
                .emit_system(self.emitter, AckerStream::Fail, &[Value::Long(root)]);
        }
        self.out.counts.of(input.source()).bolt_failed += 1;
    }

    fn reset_timeout(&mut self, input: &Tuple) {
        if !self.out.acking {
            return;
        }
        for &(root, _) in input.message_id() {
            self.out.emit_system(
                self.emitter,
                AckerStream::ResetTimeout,
                &[Value::Long(root)],
            );
        }
    }

    fn report_error(&mut self, message: String) {
        self.out.errors.report(self.task_id, message);
    }

    fn waker(&self) -> Option<Waker> {
        let queues = self.queues.clone();
        Some(Arc::new(move || queues.wake()))
    }
}

pub(crate) struct BoltExecutor<'i> {
    shared: Arc<WorkerShared>,
    inbox: &'i ExecutorInbox,
    def: Arc<ExecutorDef>,
    tasks: Vec<BoltTask>,
    out: ExecutorOutput,
    load_version: u64,
    /// Execute and process latencies are timed on one tuple in `sample_every` (Storm's
    /// `topology.stats.sample.rate`); counts stay exact.
    sample_every: u64,
    /// Tuples to execute before the next timed one (the first is always timed; a countdown, as a
    /// division per tuple showed in profiles).
    sample_left: u64,
}

/// How many tuples per timed one for a `topology.stats.sample.rate` (Storm's 0.05 → 20).
pub(crate) fn sample_period(conf: &crate::api::ConfMap) -> u64 {
    let rate = conf
        .get("topology.stats.sample.rate")
        .and_then(|v| v.as_f64())
        .unwrap_or(0.05);
    if rate.is_nan() || rate >= 1.0 {
        1
    } else if rate <= 0.0 {
        u64::MAX
    } else {
        (1.0 / rate).round().clamp(1.0, 1e9) as u64
    }
}

impl<'i> BoltExecutor<'i> {
    pub fn new(
        shared: Arc<WorkerShared>,
        def: Arc<ExecutorDef>,
        inbox: &'i ExecutorInbox,
        tasks: Vec<BoltTask>,
    ) -> BoltExecutor<'i> {
        let out = shared.executor_output(&def);
        let sample_every = sample_period(&def.conf);
        BoltExecutor {
            shared,
            inbox,
            def,
            tasks,
            out,
            load_version: 0,
            sample_every,
            sample_left: 0,
        }
    }

    /// Calls `f` with task `index`'s bolt, its context, the topology conf and a collector emitting
    /// as that task.
    fn with_task<R>(
        &mut self,
        index: usize,
        f: impl FnOnce(&mut dyn Bolt, &TopologyContext, &ConfMap, &mut OutputCollector<'_>) -> R,
    ) -> R {
        let BoltExecutor {
            tasks, out, def, ..
        } = self;
        let task = &mut tasks[index];
        let mut backend = BoltBackend {
            task_id: task.task_id,
            emitter: &mut task.emitter,
            out,
            queues: &def.queues,
        };
        let mut collector = OutputCollector::new(&mut backend);
        f(task.bolt.as_mut(), &task.context, &def.conf, &mut collector)
    }

    fn prepare(&mut self, index: usize) -> Result<(), ComponentError> {
        self.with_task(index, |bolt, context, conf, collector| {
            bolt.prepare(conf, context, collector)
        })
    }

    /// Whether to time the next input (reading the clock twice per tuple costs more than a null
    /// bolt's execute: one in `sample_every` is timed).
    fn take_sample(&mut self) -> bool {
        if self.sample_left == 0 {
            self.sample_left = self.sample_every - 1;
            true
        } else {
            self.sample_left -= 1;
            false
        }
    }

    /// The index of task `dest` in this executor.
    fn task_index(&self, dest: i32) -> Option<usize> {
        if self.tasks.len() == 1 && self.tasks[0].task_id == dest {
            Some(0)
        } else if let Some(i) = self.tasks.iter().position(|t| t.task_id == dest) {
            Some(i)
        } else {
            tracing::warn!(
                task = dest,
                "tuple for a task this executor does not run; dropped"
            );
            None
        }
    }

    /// Executes a system message: through the bolt's system-message path when it has one (the
    /// acker; such input counts as executed and acked), else as the tuple it stands for.
    fn execute_message(&mut self, dest: i32, m: &SystemMessage) -> Result<(), ComponentError> {
        let Some(index) = self.task_index(dest) else {
            return Ok(());
        };
        let sampled = self.take_sample();
        let start = if sampled { now_ns() } else { 0 };
        let handled = self.with_task(index, |bolt, _, _, collector| {
            m.with_values(|values| bolt.execute_system(m.source, values, collector))
        });
        match handled {
            Some(result) => {
                result?;
                let c = self.out.counts.of(m.source);
                c.executed += 1;
                c.bolt_acked += 1;
                if sampled {
                    // Acked as it returns: the process latency is the execute latency.
                    let ms = now_ns().saturating_sub(start) as f64 / 1e6;
                    c.execute.record(ms);
                    c.process.record(ms);
                }
                Ok(())
            }
            None => self.execute(dest, m.to_tuple()),
        }
    }

    fn execute(&mut self, dest: i32, tuple: Tuple) -> Result<(), ComponentError> {
        let Some(index) = self.task_index(dest) else {
            return Ok(());
        };
        let counts = self.out.counts.index_of(tuple.source());
        let sampled = self.take_sample();
        let start = if sampled { now_ns() } else { 0 };
        if sampled {
            tuple.set_exec_start_ns(start);
        }
        self.with_task(index, |bolt, _, _, collector| {
            bolt.execute(tuple, collector)
        })?;
        let ms = if sampled {
            now_ns().saturating_sub(start) as f64 / 1e6
        } else {
            0.0
        };
        // Emits only append to the buffer; it is published between executes.
        if let Some(c) = self.out.counts.at(counts) {
            c.executed += 1;
            if sampled {
                c.execute.record(ms);
            }
        }
        Ok(())
    }

    fn on_control(&mut self, message: Control) -> Result<(), ComponentError> {
        match message {
            Control::Batch(batch) => {
                for (i, tuple) in batch.tuples.iter().enumerate() {
                    prefetch_after(&batch.tuples, i);
                    self.execute(batch.dest, tuple.clone())?;
                }
                recycle(batch.tuples, batch.recycle.as_ref());
                self.end_batch()
            }
            Control::Messages { dest, messages } => {
                for m in &messages {
                    self.execute_message(dest, m)?;
                }
                self.end_batch()
            }
            Control::Wake => self.poll(),
            Control::Room => Ok(()),
        }
    }

    /// Calls every task's `end_batch` (see [`Bolt::end_batch`]).
    fn end_batch(&mut self) -> Result<(), ComponentError> {
        for index in 0..self.tasks.len() {
            self.with_task(index, |bolt, _, _, collector| bolt.end_batch(collector))?;
        }
        Ok(())
    }

    /// Calls every task's `poll` (see [`Bolt::poll`]) unless output is held back (backpressure).
    fn poll(&mut self) -> Result<(), ComponentError> {
        if self.out.has_overflow() {
            return Ok(());
        }
        for index in 0..self.tasks.len() {
            self.with_task(index, |bolt, _, _, collector| bolt.poll(collector))?;
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

    /// Runs until the worker shuts down; an error from the bolt ends the run (the executor dies)
    /// after what it emitted so far is handed over.
    pub fn run(&mut self) -> Result<(), ComponentError> {
        let result = self.run_loop();
        self.out.flush();
        result
    }

    fn run_loop(&mut self) -> Result<(), ComponentError> {
        for i in 0..self.tasks.len() {
            let _span = tracing::info_span!("task", task = self.tasks[i].task_id).entered();
            self.prepare(i)?;
        }
        let stop = self.shared.stop_receiver();
        let inbox = self.inbox;
        let mut idle_yields = 0u32;
        let mut idle_since: Option<Instant> = None;
        loop {
            if self.shared.is_shutting_down() {
                break;
            }
            super::start_turn();
            self.refresh_load();
            while let Ok(m) = inbox.control.try_recv() {
                self.on_control(m)?;
            }
            if !self.out.flush_overflow() {
                self.out.flush();
                let timeout = self.out.overflow_wait();
                if let Some(m) = wait(&inbox.control, &stop, timeout) {
                    self.on_control(m)?;
                }
                continue;
            }
            let mut executed = 0;
            while executed < MAX_BATCH {
                let Some((dest, tuple)) = inbox.next_data() else {
                    break;
                };
                self.execute(dest, tuple)?;
                executed += 1;
                if self.out.has_overflow() {
                    break;
                }
                // A clock read per tuple cost ~1.5 % of a 2-worker acking run; every 8th is enough
                // for BATCH_DELAY (the loop also flushes when the inbox runs dry).
                if executed % 8 == 0 {
                    self.out.flush_if_due();
                }
            }
            if executed > 0 {
                self.end_batch()?;
            }
            self.out.flush();
            if executed > 0 {
                idle_yields = 0;
                idle_since = None;
            } else if idle_since.get_or_insert_with(Instant::now).elapsed() < IDLE_SPIN {
                for _ in 0..SPIN_PAUSES {
                    std::hint::spin_loop();
                }
            } else if idle_yields < IDLE_YIELDS {
                // Storm's progressive wait strategy: yield a while before parking, so a producer
                // a little slower than this bolt does not pay a futex wake-up per batch.
                idle_yields += 1;
                std::thread::yield_now();
            } else {
                crossbeam_channel::select! {
                    recv(inbox.control) -> m => if let Ok(m) = m { self.on_control(m)?; },
                    recv(inbox.data_channel()) -> m => if let Ok(batch) = m {
                        inbox.keep(batch);
                    },
                    recv(stop) -> _ => {},
                    default(Duration::from_millis(100)) => self.poll()?,
                }
            }
        }
        Ok(())
    }

    /// Calls `cleanup` on every task (on kill).
    pub fn cleanup(&mut self) {
        for t in &mut self.tasks {
            t.bolt.cleanup();
        }
    }
}
