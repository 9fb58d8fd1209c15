//! The emit path shared by spout and bolt executors: per task and stream, the groupers of every
//! subscribing component ([`TaskEmitter`]), and per executor the hand-off to the router with the
//! overflow list that turns a full destination into backpressure ([`ExecutorOutput`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::errors::{epoch_secs, ErrorReport, ErrorSink, ErrorThrottle};
use super::stats::{bump, ExecutorGauges, ExecutorStatsData};
use super::transport::{Delivery, Envelope, FastMap, Router};
use crate::acker::EdgeIdGen;
use crate::api::{
    grouping_from_thrift, registered_custom_grouping, EmitError, Tuple, TupleSource,
    WorkerTopologyContext,
};
use crate::grouping::{
    direct_emit_target, CustomStreamGrouping, Grouper, GrouperContext, GroupingError, LoadMapping,
};
use crate::topology::system::is_system_id;
use crate::tuple::{Value, Values};

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
    source: Arc<TupleSource>,
    system: bool,
    targets: Vec<Target>,
    has_direct: bool,
}

/// Where one task's tuples go.
pub(crate) struct TaskEmitter {
    task_id: i32,
    streams: FastMap<String, StreamOut>,
    worker: Arc<WorkerTopologyContext>,
}

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
        let mut streams = FastMap::default();
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
            streams.insert(
                stream.clone(),
                StreamOut {
                    source: Arc::new(TupleSource::new(
                        component.clone(),
                        task,
                        stream.clone(),
                        decl.fields,
                    )),
                    system: is_system_id(&stream),
                    targets,
                    has_direct,
                },
            );
        }
        Ok(TaskEmitter {
            task_id: task,
            streams,
            worker: Arc::clone(worker),
        })
    }

    /// The target tasks of `values` on `stream` (to `direct` with Storm's direct-grouping rules), with
    /// the stream's tuple source and whether it is a system stream.
    pub fn route(
        &mut self,
        stream: &str,
        values: &[Value],
        direct: Option<i32>,
    ) -> Result<(Arc<TupleSource>, bool, Vec<i32>), EmitError> {
        let Some(out) = self.streams.get_mut(stream) else {
            let mut declared: Vec<&str> = self
                .streams
                .keys()
                .map(String::as_str)
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
        if values.len() != out.source.fields.len() {
            return Err(EmitError::WrongFieldCount {
                component: out.source.component.clone(),
                stream: stream.to_owned(),
                expected: out.source.fields.len(),
                got: values.len(),
            });
        }
        let mut tasks = Vec::new();
        match direct {
            Some(task) => {
                let grouper = self
                    .worker
                    .component_id(task)
                    .and_then(|c| out.targets.iter().find(|t| t.component == c))
                    .map(|t| &t.grouper);
                tasks.extend(direct_emit_target(task, grouper)?);
            }
            None => {
                if out.has_direct {
                    return Err(GroupingError::RegularEmitToDirectStream.into());
                }
                for target in &mut out.targets {
                    target
                        .grouper
                        .choose_tasks(self.task_id, values, &mut tasks)?;
                }
            }
        }
        Ok((Arc::clone(&out.source), out.system, tasks))
    }

    /// Feeds a load snapshot to the load-aware groupers.
    pub fn refresh_load(&mut self, load: &LoadMapping) {
        for out in self.streams.values_mut() {
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
    /// Shared by every incarnation of the executor.
    pub throttle: Arc<Mutex<ErrorThrottle>>,
    pub topology_id: String,
    pub component_id: String,
    pub port: Option<u16>,
}

impl ErrorReporter {
    pub fn report(&mut self, task: i32, message: String) {
        tracing::error!(task, error = %message, "reported error");
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

/// An executor's outbound side: the router, the overflow of tuples its destinations could not take
/// yet, stats, and the acking switch and id source.
pub(crate) struct ExecutorOutput {
    pub router: Arc<Router>,
    overflow: VecDeque<(i32, Tuple, bool)>,
    pub stats: Arc<Mutex<ExecutorStatsData>>,
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
        stats: Arc<Mutex<ExecutorStatsData>>,
        gauges: Arc<ExecutorGauges>,
        acking: bool,
        errors: ErrorReporter,
    ) -> ExecutorOutput {
        ExecutorOutput {
            router,
            overflow: VecDeque::new(),
            stats,
            gauges,
            acking,
            ids: EdgeIdGen::from_entropy(),
            errors,
            debug: false,
        }
    }

    pub fn stats(&self) -> MutexGuard<'_, ExecutorStatsData> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands a tuple to `dest`; behind earlier overflow, or when the destination is full, it waits
    /// in the overflow list. System tuples skip the queue of held-back data.
    pub fn transfer(&mut self, dest: i32, tuple: Tuple, system: bool) {
        if !system && !self.overflow.is_empty() {
            self.overflow.push_back((dest, tuple, system));
            self.gauges.set_overflow(self.overflow.len());
            return;
        }
        if let Delivery::Full(tuple) = self.router.try_deliver(dest, tuple, system) {
            self.overflow.push_back((dest, tuple, system));
            self.gauges.set_overflow(self.overflow.len());
        }
    }

    /// Retries held-back tuples in order; true when none remain.
    pub fn flush_overflow(&mut self) -> bool {
        if self.overflow.is_empty() {
            return true;
        }
        while let Some((dest, tuple, system)) = self.overflow.pop_front() {
            if let Delivery::Full(tuple) = self.router.try_deliver(dest, tuple, system) {
                self.overflow.push_front((dest, tuple, system));
                break;
            }
        }
        self.gauges.set_overflow(self.overflow.len());
        self.overflow.is_empty()
    }

    pub fn has_overflow(&self) -> bool {
        !self.overflow.is_empty()
    }

    /// The local data queue the first held-back tuple waits for, to sleep until it has room.
    pub fn overflow_wait_target(&self) -> Option<&Sender<Envelope>> {
        let (dest, _, system) = self.overflow.front()?;
        if *system {
            return None;
        }
        self.router.local(*dest).map(|q| q.data_sender())
    }

    /// Sends `values` to `targets`, the tuple for each target carrying the ids `ids_for` makes;
    /// counts emitted/transferred.
    pub fn send(
        &mut self,
        source: &Arc<TupleSource>,
        system: bool,
        targets: &[i32],
        values: Values,
        mut ids_for: impl FnMut(&mut EdgeIdGen) -> Vec<(i64, i64)>,
    ) {
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
        {
            let mut stats = self.stats();
            bump(&mut stats.emitted, &source.stream, 1);
            if !targets.is_empty() {
                bump(&mut stats.transferred, &source.stream, targets.len() as u64);
            }
        }
        let mut values = Some(values);
        for (i, &dest) in targets.iter().enumerate() {
            let v = if i + 1 == targets.len() {
                values.take().unwrap_or_default()
            } else {
                values.clone().unwrap_or_default()
            };
            let ids = ids_for(&mut self.ids);
            self.transfer(dest, Tuple::new(Arc::clone(source), v, ids), system);
        }
    }

    /// Emits an unanchored tuple on a system stream (`__ack_*`) of `emitter`'s task.
    pub fn emit_system(&mut self, emitter: &mut TaskEmitter, stream: &str, values: Values) {
        match emitter.route(stream, &values, None) {
            Ok((source, system, targets)) => {
                self.send(&source, system, &targets, values, |_| Vec::new());
            }
            Err(e) => tracing::warn!(stream, error = %e, "cannot emit on system stream"),
        }
    }
}

/// Waits up to `timeout` for a control message (returned), the stop signal or, when given, room in
/// `room_in`.
pub(crate) fn wait(
    control: &crossbeam_channel::Receiver<super::transport::Control>,
    stop: &crossbeam_channel::Receiver<()>,
    room_in: Option<&Sender<Envelope>>,
    timeout: Duration,
) -> Option<super::transport::Control> {
    let mut sel = crossbeam_channel::Select::new();
    let c = sel.recv(control);
    sel.recv(stop);
    if let Some(tx) = room_in {
        sel.send(tx);
    }
    match sel.ready_timeout(timeout) {
        Ok(i) if i == c => control.try_recv().ok(),
        _ => None,
    }
}
