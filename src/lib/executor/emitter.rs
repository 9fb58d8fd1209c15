//! The emit path shared by spout and bolt executors: per task and stream, the groupers of every
//! subscribing component ([`TaskEmitter`]), and per executor the batching of tuples per destination,
//! the hand-off to the router, the overflow list that turns a full destination into backpressure, and
//! the pool of spent tuples sent back by consumers to build new tuples in ([`ExecutorOutput`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::errors::{epoch_secs, ErrorReport, ErrorSink, ErrorThrottle};
use super::pool::TuplePool;
use super::stats::{ExecutorGauges, ExecutorStatsState, StatsBuffer};
use super::transport::{Delivery, FastMap, Router, SystemMessage};
use crate::acker::EdgeIdGen;
use crate::api::TupleIds;
use crate::api::{
    grouping_from_thrift, registered_custom_grouping, EmitError, Tuple, TupleSource,
    WorkerTopologyContext,
};
use crate::grouping::{
    direct_emit_target, CustomStreamGrouping, FirstFieldRoute, Grouper, GrouperContext,
    GroupingError, LoadMapping,
};
use crate::topology::system::{
    is_system_id, ACKER_ACK_STREAM_ID, ACKER_FAIL_STREAM_ID, ACKER_INIT_STREAM_ID,
    ACKER_RESET_TIMEOUT_STREAM_ID,
};
use crate::tuple::{short_str_eq, Value, Values};

/// How groupers are set up in this worker.
#[derive(Debug, Clone)]
pub(crate) struct GrouperOptions {
    pub load_aware: bool,
    pub higher_bound: f64,
    pub lower_bound: f64,
}

struct Target {
    component: String,
    grouper: Grouper,
}

/// One declared stream of the emitting task.
pub(crate) struct StreamOut {
    source: &'static TupleSource,
    system: bool,
    targets: Vec<Target>,
    has_direct: bool,
    /// The tasks of the components that subscribe with a direct grouping, sorted: a direct emit to
    /// one of them needs no lookup of the task's component.
    direct_tasks: Vec<i32>,
}

/// The streams a spout or bolt task tells the `__acker` tasks about its tuple trees on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckerStream {
    Init,
    Ack,
    Fail,
    ResetTimeout,
}

impl AckerStream {
    const ALL: [AckerStream; 4] = [
        AckerStream::Init,
        AckerStream::Ack,
        AckerStream::Fail,
        AckerStream::ResetTimeout,
    ];

    pub fn id(self) -> &'static str {
        match self {
            AckerStream::Init => ACKER_INIT_STREAM_ID,
            AckerStream::Ack => ACKER_ACK_STREAM_ID,
            AckerStream::Fail => ACKER_FAIL_STREAM_ID,
            AckerStream::ResetTimeout => ACKER_RESET_TIMEOUT_STREAM_ID,
        }
    }
}

/// An acker stream's route, resolved when the emitter is built: acker traffic is a message or
/// two per tuple, and this spares it the stream lookup, the field-count check and the grouping
/// dispatch of a general emit.
struct AckerRoute {
    source: &'static TupleSource,
    ackers: FirstFieldRoute,
}

/// Where one task's tuples go.
pub(crate) struct TaskEmitter {
    task_id: i32,
    /// Declared streams (user and system), found by a scan when few, else through `index`.
    streams: Vec<(String, StreamOut)>,
    index: FastMap<String, usize>,
    /// By [`AckerStream`]: the stream's route when it goes to the ackers alone, grouped on the
    /// root id (as the system topology subscribes them); else emits take the general path.
    acker_routes: [Option<AckerRoute>; 4],
    worker: Arc<WorkerTopologyContext>,
}

/// Up to this many streams a linear scan beats hashing the stream id.
const SCAN_STREAMS: usize = 8;

/// Resolves `Grouping::Custom` names through the process-wide registry.
struct RegistryFactory;

impl crate::grouping::CustomGroupingFactory for RegistryFactory {
    fn create(
        &self,
        name: &str,
        payload: &[u8],
    ) -> Result<Box<dyn CustomStreamGrouping>, GroupingError> {
        let factory = registered_custom_grouping(name)
            .ok_or_else(|| GroupingError::UnknownCustomGrouping(name.to_owned()))?;
        factory(payload)
    }
}

impl TaskEmitter {
    /// The emitter of `task`: a grouper per (stream, subscribing component), prepared over the
    /// subscriber's tasks.
    pub fn new(
        worker: &Arc<WorkerTopologyContext>,
        task: i32,
        options: &GrouperOptions,
        seeds: &mut EdgeIdGen,
    ) -> Result<TaskEmitter, GroupingError> {
        let component = worker.component_id(task).unwrap_or_default().to_owned();
        let mut streams = Vec::new();
        let declared = worker
            .component_streams(&component)
            .cloned()
            .unwrap_or_default();
        let subscribers = worker.targets(&component);
        for (stream, decl) in declared {
            let mut targets = Vec::new();
            if let Some(subs) = subscribers.and_then(|t| t.get(&stream)) {
                for (target_component, grouping) in subs {
                    let grouping = grouping_from_thrift(grouping)?;
                    let context = GrouperContext {
                        source_component: &component,
                        source_stream: &stream,
                        output_fields: &decl.fields,
                        this_worker_tasks: worker.this_worker_tasks(),
                        task_locations: None,
                        load_aware: options.load_aware,
                        higher_bound: options.higher_bound,
                        lower_bound: options.lower_bound,
                        seed: seeds.next_u64(),
                    };
                    let grouper = Grouper::new(
                        &grouping,
                        worker.component_tasks(target_component),
                        &context,
                        Some(&RegistryFactory),
                    )?;
                    targets.push(Target {
                        component: target_component.clone(),
                        grouper,
                    });
                }
            }
            let has_direct = targets.iter().any(|t| t.grouper.is_direct());
            // As the general path decides: by the first subscription of the task's component.
            let mut direct_tasks: Vec<i32> = targets
                .iter()
                .enumerate()
                .filter(|&(i, t)| {
                    t.grouper.is_direct()
                        && !targets[..i].iter().any(|u| u.component == t.component)
                })
                .map(|(_, t)| t)
                .flat_map(|t| worker.component_tasks(&t.component).iter().copied())
                .collect();
            direct_tasks.sort_unstable();
            direct_tasks.dedup();
            streams.push((
                stream.clone(),
                StreamOut {
                    source: TupleSource::new(component.clone(), task, stream.clone(), decl.fields)
                        .intern(),
                    system: is_system_id(&stream),
                    targets,
                    has_direct,
                    direct_tasks,
                },
            ));
        }
        let index = streams
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (name.clone(), i))
            .collect();
        let acker_routes = AckerStream::ALL.map(|kind| {
            let (_, out) = streams.iter().find(|(name, _)| name == kind.id())?;
            match out.targets.as_slice() {
                [only] if out.system && !out.has_direct => Some(AckerRoute {
                    source: out.source,
                    ackers: only.grouper.first_field_route()?,
                }),
                _ => None,
            }
        });
        Ok(TaskEmitter {
            task_id: task,
            streams,
            index,
            acker_routes,
            worker: Arc::clone(worker),
        })
    }

    /// The source and the acker task of `values` on acker stream `kind`, when the stream has a
    /// resolved route and `values` fit its fields (else the caller takes the general path, which
    /// reports what is wrong).
    #[inline]
    fn acker_target(
        &self,
        kind: AckerStream,
        values: &[Value],
    ) -> Option<(&'static TupleSource, i32)> {
        let route = self.acker_routes[kind as usize].as_ref()?;
        let first = values.first()?;
        (values.len() == route.source.fields.len())
            .then(|| (route.source, route.ackers.choose(first)))
    }

    /// Appends the target tasks of `values` on `stream` (to `direct` with Storm's direct-grouping
    /// rules) to `tasks`; gives the stream's tuple source and whether it is a system stream. On an
    /// error `tasks` is left as it was.
    pub fn route_into(
        &mut self,
        stream: &str,
        values: &[Value],
        direct: Option<i32>,
        tasks: &mut Vec<i32>,
    ) -> Result<(&'static TupleSource, bool), EmitError> {
        let found = if self.streams.len() <= SCAN_STREAMS {
            self.streams
                .iter()
                .position(|(name, _)| short_str_eq(name, stream))
        } else {
            self.index.get(stream).copied()
        };
        let Some(i) = found else {
            let mut declared: Vec<&str> = self
                .streams
                .iter()
                .map(|(name, _)| name.as_str())
                .filter(|s| !is_system_id(s))
                .collect();
            declared.sort_unstable();
            return Err(EmitError::UnknownStream {
                component: self
                    .worker
                    .component_id(self.task_id)
                    .unwrap_or_default()
                    .to_owned(),
                stream: stream.to_owned(),
                declared: format!("[{}]", declared.join(", ")),
            });
        };
        let task_id = self.task_id;
        let worker = &self.worker;
        let out = &mut self.streams[i].1;
        if values.len() != out.source.fields.len() {
            return Err(EmitError::WrongFieldCount {
                component: out.source.component.clone(),
                stream: stream.to_owned(),
                expected: out.source.fields.len(),
                got: values.len(),
            });
        }
        match direct {
            Some(task) if out.direct_tasks.binary_search(&task).is_ok() => tasks.push(task),
            Some(task) => {
                let grouper = worker
                    .component_id(task)
                    .and_then(|c| out.targets.iter().find(|t| t.component == c))
                    .map(|t| &t.grouper);
                tasks.extend(direct_emit_target(task, grouper)?);
            }
            None => {
                if out.has_direct {
                    return Err(GroupingError::RegularEmitToDirectStream.into());
                }
                let start = tasks.len();
                for target in &mut out.targets {
                    if let Err(e) = target.grouper.choose_tasks(task_id, values, tasks) {
                        tasks.truncate(start);
                        return Err(e.into());
                    }
                }
            }
        }
        Ok((out.source, out.system))
    }

    /// Feeds a load snapshot to the load-aware groupers.
    pub fn refresh_load(&mut self, load: &LoadMapping) {
        for (_, out) in &mut self.streams {
            for t in &mut out.targets {
                t.grouper.refresh_load(load);
            }
        }
    }
}

/// Reports errors of one executor through the throttle to the sink.
#[derive(Clone)]
pub(crate) struct ErrorReporter {
    pub sink: Arc<dyn ErrorSink>,
    /// The executor's statistics, which count every reported error.
    pub stats: Arc<Mutex<ExecutorStatsState>>,
    /// Shared by every incarnation of the executor.
    pub throttle: Arc<Mutex<ErrorThrottle>>,
    pub topology_id: String,
    pub component_id: String,
    pub port: Option<u16>,
}

impl ErrorReporter {
    pub fn report(&mut self, task: i32, message: String) {
        tracing::error!(task, error = %message, "reported error");
        self.stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record_error(super::now_ms());
        let allowed = self
            .throttle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .allow(Instant::now());
        if allowed {
            self.sink.report(ErrorReport {
                topology_id: self.topology_id.clone(),
                component_id: self.component_id.clone(),
                task_id: task,
                error: message,
                time_secs: epoch_secs(),
                host: None,
                port: self.port,
            });
        }
    }
}

/// Most tuples in one batch before it is handed over.
pub(crate) const BATCH_TUPLES: usize = 64;

/// Longest a tuple waits in a batch that is not full; executors also hand every batch over before
/// they wait, so this only bounds the delay behind a slow `execute`/`next_tuple` loop.
pub(crate) const BATCH_DELAY: Duration = Duration::from_micros(200);

/// Longest buffered counters wait to be published while an executor stays busy without handing a
/// batch over (a spout nobody subscribes to, for one): readers see its counts this fresh.
const STATS_DELAY_MS: u64 = 100;

/// Tuples for one destination and lane.
struct OutBatch {
    dest: i32,
    system: bool,
    tuples: Vec<Tuple>,
}

/// The values of one emit: the component's own vector (moved into the last target's tuple), or a
/// borrowed slice copied into recycled tuples (their buffers reused: no allocation once warm).
pub(crate) enum EmitValues<'a> {
    Owned(Values),
    Borrowed(&'a [Value]),
}

impl EmitValues<'_> {
    pub fn as_slice(&self) -> &[Value] {
        match self {
            EmitValues::Owned(values) => values,
            EmitValues::Borrowed(values) => values,
        }
    }
}

/// An executor's outbound side: the router, the batches being filled per destination, the overflow
/// of batches their destinations could not take yet, buffered stats, and the acking switch and id
/// source.
pub(crate) struct ExecutorOutput {
    pub router: Arc<Router>,
    /// Batches being filled (few: one per destination task and lane).
    filling: Vec<OutBatch>,
    /// System messages being gathered per local destination task.
    messages: Vec<(i32, Vec<SystemMessage>)>,
    /// When the oldest tuple in `filling` (or message in `messages`) was buffered.
    oldest: Option<Instant>,
    /// Tuples per batch: [`BATCH_TUPLES`], or less for small receive queues.
    batch_limit: usize,
    /// Reused target list of system emits.
    scratch: Vec<i32>,
    overflow: VecDeque<OutBatch>,
    overflow_tuples: usize,
    pool: TuplePool,
    /// This executor's control queue, to hear [`super::transport::Control::Room`] on.
    own_control: Option<Sender<super::transport::Control>>,
    pub stats: Arc<Mutex<ExecutorStatsState>>,
    /// Counters not yet published into `stats`.
    pub counts: StatsBuffer,
    /// [`super::turn_ms`] when `counts` were last published.
    published_ms: u64,
    pub gauges: Arc<ExecutorGauges>,
    /// Whether the topology has ackers.
    pub acking: bool,
    pub ids: EdgeIdGen,
    pub errors: ErrorReporter,
    /// `topology.debug`: log every emit.
    pub debug: bool,
}

impl ExecutorOutput {
    pub fn new(
        router: Arc<Router>,
        stats: Arc<Mutex<ExecutorStatsState>>,
        gauges: Arc<ExecutorGauges>,
        acking: bool,
        errors: ErrorReporter,
    ) -> ExecutorOutput {
        ExecutorOutput {
            router,
            filling: Vec::new(),
            messages: Vec::new(),
            oldest: None,
            batch_limit: BATCH_TUPLES,
            scratch: Vec::new(),
            overflow: VecDeque::new(),
            overflow_tuples: 0,
            pool: TuplePool::new(),
            own_control: None,
            stats,
            counts: StatsBuffer::default(),
            published_ms: 0,
            gauges,
            acking,
            ids: EdgeIdGen::from_entropy(),
            errors,
            debug: false,
        }
    }

    /// Batches of at most `queue_capacity` tuples (and never more than [`BATCH_TUPLES`]), so a batch
    /// never holds more than the queues it goes to.
    pub fn limit_batches(&mut self, queue_capacity: usize) {
        self.batch_limit = queue_capacity.clamp(1, BATCH_TUPLES);
    }

    /// Where this executor hears that a full destination has room.
    pub fn set_own_control(&mut self, control: Sender<super::transport::Control>) {
        self.own_control = Some(control);
    }

    /// Publishes the buffered counters into the shared stats.
    pub fn publish_stats(&mut self) {
        if self.counts.is_empty() {
            return;
        }
        let now = super::turn_ms();
        self.published_ms = now;
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        stats.publish(&mut self.counts, now);
    }

    /// Adds a system message to the batch for local task `dest`; a full batch is handed over at
    /// once.
    fn push_message(&mut self, dest: i32, message: SystemMessage) {
        let i = match self.messages.iter().position(|(d, _)| *d == dest) {
            Some(i) => i,
            None => {
                self.messages.push((dest, Vec::with_capacity(BATCH_TUPLES)));
                self.messages.len() - 1
            }
        };
        let batch = &mut self.messages[i].1;
        batch.push(message);
        if batch.len() >= BATCH_TUPLES {
            let full = std::mem::replace(batch, Vec::with_capacity(BATCH_TUPLES));
            if !self.router.deliver_messages(dest, full) {
                tracing::debug!(task = dest, "no route to task; system messages dropped");
            }
        } else if self.oldest.is_none() {
            self.oldest = Some(Instant::now());
        }
    }

    /// Adds `tuple` to the batch for `dest`; a full batch is handed over at once.
    pub fn transfer(&mut self, dest: i32, tuple: Tuple, system: bool) {
        let i = match self
            .filling
            .iter()
            .position(|b| b.dest == dest && b.system == system)
        {
            Some(i) => i,
            None => {
                let tuples = self.pool.batch_vec(self.batch_limit);
                self.filling.push(OutBatch {
                    dest,
                    system,
                    tuples,
                });
                self.filling.len() - 1
            }
        };
        let batch = &mut self.filling[i].tuples;
        batch.push(tuple);
        if batch.len() >= self.batch_limit {
            let tuples = std::mem::replace(batch, self.pool.batch_vec(self.batch_limit));
            self.hand_over(OutBatch {
                dest,
                system,
                tuples,
            });
        } else if self.oldest.is_none() {
            self.oldest = Some(Instant::now());
        }
    }

    /// Hands the batches over if the oldest buffered tuple waited [`BATCH_DELAY`] (call between
    /// lifecycle calls); publishes the counters when many sources or [`STATS_DELAY_MS`] piled up.
    pub fn flush_if_due(&mut self) {
        if self.batch_due() {
            self.flush();
        }
        if self.counts.is_large()
            || (!self.counts.is_empty()
                && super::turn_ms().saturating_sub(self.published_ms) >= STATS_DELAY_MS)
        {
            self.publish_stats();
        }
    }

    /// Whether the oldest buffered tuple waited [`BATCH_DELAY`].
    pub fn batch_due(&self) -> bool {
        self.oldest.is_some_and(|t| t.elapsed() >= BATCH_DELAY)
    }

    /// Hands every batch being filled over, and publishes the stats.
    pub fn flush(&mut self) {
        self.oldest = None;
        for i in 0..self.filling.len() {
            if self.filling[i].tuples.is_empty() {
                continue;
            }
            let fresh = self.pool.batch_vec(self.batch_limit);
            let b = &mut self.filling[i];
            let batch = OutBatch {
                dest: b.dest,
                system: b.system,
                tuples: std::mem::replace(&mut b.tuples, fresh),
            };
            self.hand_over(batch);
        }
        for (dest, messages) in &mut self.messages {
            if !messages.is_empty() {
                let messages = std::mem::replace(messages, Vec::with_capacity(BATCH_TUPLES));
                if !self.router.deliver_messages(*dest, messages) {
                    tracing::debug!(task = *dest, "no route to task; system messages dropped");
                }
            }
        }
        // Forget destinations that went quiet so the lists stay short.
        if self.filling.len() > 64 {
            self.filling.clear();
        }
        if self.messages.len() > 64 {
            self.messages.clear();
        }
        self.publish_stats();
    }

    /// Gives a batch to the router; behind earlier overflow, or when the destination is full, it
    /// waits in the overflow list. System batches skip the queue of held-back data.
    fn hand_over(&mut self, batch: OutBatch) {
        if !batch.system && !self.overflow.is_empty() {
            self.push_overflow(batch);
            return;
        }
        if let Delivery::Full(tuples) = self.router.try_deliver_recycled(
            batch.dest,
            batch.tuples,
            batch.system,
            Some(self.pool.recycler()),
        ) {
            self.push_overflow(OutBatch { tuples, ..batch });
        }
    }

    fn push_overflow(&mut self, batch: OutBatch) {
        self.overflow_tuples += batch.tuples.len();
        self.overflow.push_back(batch);
        self.gauges.set_overflow(self.overflow_tuples);
    }

    /// Retries held-back batches in order; true when none remain.
    pub fn flush_overflow(&mut self) -> bool {
        if self.overflow.is_empty() {
            return true;
        }
        while let Some(b) = self.overflow.pop_front() {
            let n = b.tuples.len();
            match self.router.try_deliver_recycled(
                b.dest,
                b.tuples,
                b.system,
                Some(self.pool.recycler()),
            ) {
                Delivery::Full(tuples) => {
                    self.overflow.push_front(OutBatch { tuples, ..b });
                    break;
                }
                _ => self.overflow_tuples -= n,
            }
        }
        self.gauges.set_overflow(self.overflow_tuples);
        self.overflow.is_empty()
    }

    pub fn has_overflow(&self) -> bool {
        !self.overflow.is_empty()
    }

    /// How long to wait before retrying held-back batches: for a data batch, asks its destination
    /// (a local queue or the lane to a remote worker) for a `Room` message on this executor's
    /// control queue and waits up to 100 ms (`Duration::ZERO` if there is room already); for a
    /// system batch (a full lane to a remote worker), 1 ms.
    pub fn overflow_wait(&self) -> Duration {
        let Some(b) = self.overflow.front() else {
            return Duration::ZERO;
        };
        match (&self.own_control, b.system) {
            (Some(own), false) => {
                if self.router.notify_room(b.dest, own, b.tuples.len()) {
                    Duration::ZERO
                } else {
                    Duration::from_millis(100)
                }
            }
            _ => Duration::from_millis(1),
        }
    }

    /// Counts an emit of `values` to `targets` (and logs it under `topology.debug`).
    fn count_emit(&mut self, source: &'static TupleSource, values: &[Value], targets: &[i32]) {
        if self.debug {
            tracing::info!(
                task = source.task,
                "Emitting: {} {} {:?} to {:?}",
                source.component,
                source.stream,
                values,
                targets
            );
        }
        let c = self.counts.of(source);
        c.emitted += 1;
        c.transferred += targets.len() as u64;
    }

    /// Sends `values` to `targets`, the tuple for each target carrying the ids `ids_for` makes;
    /// counts emitted/transferred.
    pub fn send(
        &mut self,
        source: &'static TupleSource,
        system: bool,
        targets: &[i32],
        values: EmitValues<'_>,
        mut ids_for: impl FnMut(&mut EdgeIdGen) -> TupleIds,
    ) {
        self.count_emit(source, values.as_slice(), targets);
        match values {
            EmitValues::Owned(values) => {
                let mut values = Some(values);
                for (i, &dest) in targets.iter().enumerate() {
                    let v = if i + 1 == targets.len() {
                        values.take().unwrap_or_default()
                    } else {
                        values.clone().unwrap_or_default()
                    };
                    let ids = ids_for(&mut self.ids);
                    let tuple = self.pool.make(source, v, ids);
                    self.transfer(dest, tuple, system);
                }
            }
            EmitValues::Borrowed(values) => {
                for &dest in targets {
                    let ids = ids_for(&mut self.ids);
                    let tuple = self.pool.make_copied(source, values, ids);
                    self.transfer(dest, tuple, system);
                }
            }
        }
    }

    /// Emits an unanchored tuple on acker stream `kind` of `emitter`'s task: as a
    /// [`SystemMessage`] to an acker of this worker, else copying `values` into a recycled tuple.
    pub fn emit_system(&mut self, emitter: &mut TaskEmitter, kind: AckerStream, values: &[Value]) {
        if let Some((source, dest)) = emitter.acker_target(kind, values) {
            self.deliver_unanchored(source, true, values, std::slice::from_ref(&dest));
        } else if let Err(e) = self.emit_unanchored(emitter, kind.id(), values, None) {
            tracing::warn!(stream = kind.id(), error = %e, "cannot emit on system stream");
        }
    }

    /// Emits an unanchored tuple on `stream` of `emitter`'s task (to `direct` when given), copying
    /// `values` into a recycled tuple: the allocation-free emit of system traffic.
    pub fn emit_unanchored(
        &mut self,
        emitter: &mut TaskEmitter,
        stream: &str,
        values: &[Value],
        direct: Option<i32>,
    ) -> Result<(), EmitError> {
        let mut targets = std::mem::take(&mut self.scratch);
        targets.clear();
        let routed = emitter.route_into(stream, values, direct, &mut targets);
        if let Ok((source, system)) = routed {
            self.deliver_unanchored(source, system, values, &targets);
        }
        self.scratch = targets;
        routed.map(drop)
    }

    /// Counts an unanchored emit of `values` from `source` to `targets` and hands it over: system
    /// traffic to executors of this worker as plain messages, everything else copied into recycled
    /// tuples.
    fn deliver_unanchored(
        &mut self,
        source: &'static TupleSource,
        system: bool,
        values: &[Value],
        targets: &[i32],
    ) {
        self.count_emit(source, values, targets);
        let message = if system {
            SystemMessage::from_values(source, values)
        } else {
            None
        };
        for &dest in targets {
            match message {
                Some(m) if self.router.is_local(dest) => self.push_message(dest, m),
                _ => {
                    let tuple = self.pool.make_copied(source, values, TupleIds::default());
                    self.transfer(dest, tuple, system);
                }
            }
        }
    }
}

/// Waits up to `timeout` for a control message (returned) or the stop signal.
pub(crate) fn wait(
    control: &crossbeam_channel::Receiver<super::transport::Control>,
    stop: &crossbeam_channel::Receiver<()>,
    timeout: Duration,
) -> Option<super::transport::Control> {
    if timeout.is_zero() {
        return control.try_recv().ok();
    }
    crossbeam_channel::select! {
        recv(control) -> m => m.ok(),
        recv(stop) -> _ => None,
        default(timeout) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::TopologyBuilder;
    use crate::local::perf::{ConstSpout, NullBolt};
    use crate::topology::system::{normalize_topology, system_topology, ACKER_COMPONENT_ID};

    /// Emitters of a spout task and a bolt task in a topology with three ackers.
    fn emitters() -> (TaskEmitter, TaskEmitter, Vec<i32>) {
        let mut builder = TopologyBuilder::new();
        builder.set_spout("spout", ConstSpout::new("x", true), 1);
        builder
            .set_bolt("bolt", NullBolt, 1)
            .shuffle_grouping("spout");
        let topology = builder.create_topology().unwrap();
        let conf = serde_json::json!({"topology.acker.executors": 3});
        let conf = conf.as_object().unwrap();
        let system = system_topology(&normalize_topology(&topology, conf).unwrap(), conf).unwrap();
        let worker =
            Arc::new(WorkerTopologyContext::new("t-1-1", &system, Vec::new(), None).unwrap());
        let options = GrouperOptions {
            load_aware: false,
            higher_bound: 0.8,
            lower_bound: 0.2,
        };
        let mut seeds = EdgeIdGen::new(7);
        let ackers = worker.component_tasks(ACKER_COMPONENT_ID).to_vec();
        let spout = worker.component_tasks("spout")[0];
        let bolt = worker.component_tasks("bolt")[0];
        (
            TaskEmitter::new(&worker, spout, &options, &mut seeds).unwrap(),
            TaskEmitter::new(&worker, bolt, &options, &mut seeds).unwrap(),
            ackers,
        )
    }

    #[test]
    fn acker_streams_take_the_resolved_route_to_the_task_the_grouping_picks() {
        let (mut spout, mut bolt, ackers) = emitters();
        assert_eq!(ackers.len(), 3);
        let mut seen = std::collections::BTreeSet::new();
        for root in (-40i64..40).map(|r| r.wrapping_mul(0x9e37_79b9_7f4a_7c15u64 as i64)) {
            for (on_spout, kind, values) in [
                (
                    true,
                    AckerStream::Init,
                    vec![Value::Long(root), Value::Long(3), Value::Int(1)],
                ),
                (
                    false,
                    AckerStream::Ack,
                    vec![Value::Long(root), Value::Long(5)],
                ),
                (false, AckerStream::Fail, vec![Value::Long(root)]),
                (false, AckerStream::ResetTimeout, vec![Value::Long(root)]),
            ] {
                let emitter = if on_spout { &mut spout } else { &mut bolt };
                let (source, task) = emitter
                    .acker_target(kind, &values)
                    .unwrap_or_else(|| panic!("{kind:?} has a resolved route"));
                let mut general = Vec::new();
                let (general_source, system) = emitter
                    .route_into(kind.id(), &values, None, &mut general)
                    .unwrap();
                assert!(system && std::ptr::eq(source, general_source));
                assert_eq!(general, [task], "{kind:?} root {root}");
                seen.insert(task);
            }
        }
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            ackers,
            "every acker gets roots"
        );
        // Values that do not fit the stream take the general path, which reports the error.
        assert!(bolt
            .acker_target(AckerStream::Ack, &[Value::Long(1)])
            .is_none());
        assert!(bolt.acker_target(AckerStream::Fail, &[]).is_none());
    }
}
