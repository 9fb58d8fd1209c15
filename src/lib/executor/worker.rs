//! [`Worker`]: the executors of one worker, their queues and router, and the worker's timer (tick
//! tuples and load snapshots). Local mode runs one worker with every executor; a cluster worker runs its
//! assignment's executors with a [`RemoteTransport`] for the rest.

use std::collections::{BTreeMap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, Sender};

use super::acker_bolt::AckerBolt;
use super::bolt::{BoltExecutor, BoltTask};
use super::emitter::{GrouperOptions, TaskEmitter};
use super::errors::{ErrorSink, ErrorThrottle};
use super::shared::{ExecutorDef, WorkerShared};
use super::spout::{SpoutExecutor, SpoutTask};
use super::stats::{stat_buckets, ExecutorKind, ExecutorStatsSnapshot, ExecutorStatsState};
use super::transport::{executor_queues, queue_capacity, ExecutorInbox, RemoteTransport, Router};
use crate::acker::EdgeIdGen;
use crate::api::{
    conf_i64, decode_bolt, decode_spout, Bolt, ComponentCodecError, ConfMap, TopologyContext,
    Tuple, TupleSource, WorkerTopologyContext,
};
use crate::config::{Config, ConfigError, ConfigSource};
use crate::grouping::{GroupingError, LoadMapping};
use crate::thrift::{ComponentObject, StormTopology};
use crate::topology::system::{
    has_ackers, system_topology, InvalidTopology, ACKER_COMPONENT_ID, BUILTIN_ACKER,
    SYSTEM_COMPONENT_ID, SYSTEM_TASK_ID, SYSTEM_TICK_STREAM_ID,
};
use crate::tuple::{Fields, Value};

/// What a worker runs.
pub struct WorkerSpec {
    pub topology_id: String,
    /// The normalized user topology (tasks fixed); the worker derives the system topology.
    pub topology: StormTopology,
    /// The topology's configuration merged over the cluster's.
    pub conf: ConfMap,
    /// The executors `[first task, last task]` this worker runs.
    pub executors: Vec<(i32, i32)>,
    pub port: Option<u16>,
    pub error_sink: Arc<dyn ErrorSink>,
    /// How to reach tasks of other workers (none in local mode).
    pub remote: Option<Arc<dyn RemoteTransport>>,
    /// Whether spouts start active.
    pub active: bool,
    /// Whether an executor that dies (an error or panic from user code) takes the whole process down
    /// after its error is reported, as a Storm cluster worker does (the supervisor relaunches it). In
    /// local mode the executor is rebuilt in-process instead.
    pub exit_on_executor_death: bool,
}

/// Why a worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    InvalidTopology(#[from] InvalidTopology),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("executor [{start} {end}] does not cover tasks of exactly one component")]
    BadExecutor { start: i32, end: i32 },
    #[error(transparent)]
    Component(#[from] ComponentCodecError),
    #[error("component \"{component}\": {source}")]
    Grouping {
        component: String,
        #[source]
        source: GroupingError,
    },
    #[error("cannot start thread for executor {name}: {source}")]
    Thread {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

/// A running executor, as the worker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutorSummary {
    pub component_id: String,
    pub start: i32,
    pub end: i32,
    pub tasks: Vec<i32>,
    pub kind: ExecutorKind,
}

/// The components of one executor incarnation.
enum Parts {
    Spout(Vec<SpoutTask>),
    Bolt(Vec<BoltTask>),
}

fn build_parts(shared: &WorkerShared, def: &ExecutorDef) -> Result<Parts, WorkerError> {
    let mut seeds = EdgeIdGen::from_entropy();
    let emitter = |task: i32, seeds: &mut EdgeIdGen| {
        TaskEmitter::new(&shared.context, task, &shared.grouper_options, seeds).map_err(|source| {
            WorkerError::Grouping {
                component: def.component.clone(),
                source,
            }
        })
    };
    match def.kind {
        ExecutorKind::Spout => {
            let object = &shared.system.spouts[&def.component].spout_object;
            let mut tasks = Vec::with_capacity(def.tasks.len());
            for &task in &def.tasks {
                tasks.push(SpoutTask {
                    task_id: task,
                    spout: decode_spout(&def.component, object)?,
                    emitter: emitter(task, &mut seeds)?,
                    context: TopologyContext::new(Arc::clone(&shared.context), task),
                    verdicts: false,
                });
            }
            Ok(Parts::Spout(tasks))
        }
        ExecutorKind::Bolt => {
            let object = &shared.system.bolts[&def.component].bolt_object;
            let mut tasks = Vec::with_capacity(def.tasks.len());
            for &task in &def.tasks {
                let bolt: Box<dyn Bolt> = match object {
                    ComponentObject::SerializedJava(b) if b == BUILTIN_ACKER.as_bytes() => {
                        Box::new(AckerBolt::new())
                    }
                    other => decode_bolt(&def.component, other)?,
                };
                tasks.push(BoltTask {
                    task_id: task,
                    bolt,
                    emitter: emitter(task, &mut seeds)?,
                    context: TopologyContext::new(Arc::clone(&shared.context), task),
                });
            }
            Ok(Parts::Bolt(tasks))
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_owned()
    }
}

/// The executor thread: runs the executor; when it dies (an error or a panic from user code) the
/// error is reported and then either the process exits (a cluster worker, like Storm's) or the executor
/// is rebuilt from the topology (fresh component state, as a restarted Storm worker) and started
/// again, until the worker shuts down (local mode).
fn executor_thread(
    shared: Arc<WorkerShared>,
    def: Arc<ExecutorDef>,
    inbox: ExecutorInbox,
    first: Parts,
) {
    let span = tracing::info_span!(
        "executor",
        topology = %shared.topology_id,
        component = %def.component,
        tasks = %format!("[{} {}]", def.start, def.end),
    );
    let _entered = span.enter();
    let stop = shared.stop_receiver();
    let mut reporter = shared.executor_output(&def).errors;
    let mut parts = Some(first);
    loop {
        let current = match parts.take() {
            Some(p) => p,
            None => match build_parts(&shared, &def) {
                Ok(p) => p,
                Err(e) => {
                    reporter.report(def.start, format!("cannot rebuild executor: {e}"));
                    if stop.recv_timeout(Duration::from_secs(1)).is_ok()
                        || shared.is_shutting_down()
                    {
                        return;
                    }
                    continue;
                }
            },
        };
        let result = catch_unwind(AssertUnwindSafe(|| match current {
            Parts::Spout(tasks) => {
                let mut exec =
                    SpoutExecutor::new(Arc::clone(&shared), Arc::clone(&def), &inbox, tasks);
                let r = exec.run();
                if r.is_ok() {
                    exec.close();
                }
                r
            }
            Parts::Bolt(tasks) => {
                let mut exec =
                    BoltExecutor::new(Arc::clone(&shared), Arc::clone(&def), &inbox, tasks);
                let r = exec.run();
                if r.is_ok() {
                    exec.cleanup();
                }
                r
            }
        }));
        let error = match result {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(panic) => format!("panicked: {}", panic_message(panic.as_ref())),
        };
        if shared.is_shutting_down() {
            return;
        }
        def.gauges.restarts.fetch_add(1, Ordering::Relaxed);
        reporter.report(def.start, format!("executor {} died: {error}", def.name()));
        if shared.exit_on_executor_death {
            // Storm's worker halts on an uncaught executor error; its supervisor relaunches it.
            tracing::error!(
                topology = %shared.topology_id,
                component = %def.component,
                "executor {} died: {error}; the worker exits",
                def.name()
            );
            std::process::exit(20);
        }
        // A short pause before restarting, unless the worker stops meanwhile.
        match stop.recv_timeout(Duration::from_millis(100)) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
    }
}

/// A running worker.
pub struct Worker {
    shared: Arc<WorkerShared>,
    executors: Vec<Arc<ExecutorDef>>,
    threads: Vec<JoinHandle<()>>,
    stop_tx: Option<Sender<()>>,
}

impl Worker {
    /// Builds the system topology, the queues and every executor (components are rebuilt from their
    /// bytes here, so a bad component fails the start), then starts the executor threads and the timer.
    pub fn start(spec: WorkerSpec) -> Result<Worker, WorkerError> {
        let source = ConfigSource::Topology(spec.topology_id.clone());
        let mut config = Config::defaults();
        config.overlay(&spec.conf, &source)?;
        let conf = config.to_json();
        let system = system_topology(&spec.topology, &conf)?;
        let mut executor_tasks = Vec::new();
        let context_probe =
            WorkerTopologyContext::new(&spec.topology_id, &system, Vec::new(), None)?;
        for &(start, end) in &spec.executors {
            let tasks: Vec<i32> = (start..=end).collect();
            let component = context_probe
                .component_id(start)
                .filter(|_| start > 0)
                .map(str::to_owned)
                .ok_or(WorkerError::BadExecutor { start, end })?;
            if tasks
                .iter()
                .any(|&t| context_probe.component_id(t) != Some(component.as_str()))
            {
                return Err(WorkerError::BadExecutor { start, end });
            }
            executor_tasks.push((start, end, component, tasks));
        }
        let worker_tasks: Vec<i32> = executor_tasks
            .iter()
            .flat_map(|(_, _, _, t)| t.iter().copied())
            .collect();
        let context = Arc::new(WorkerTopologyContext::new(
            &spec.topology_id,
            &system,
            worker_tasks,
            spec.port,
        )?);

        let capacity = queue_capacity(config.get_i64("topology.executor.receive.buffer.size")?);
        let timeouts = config.get_bool("topology.enable.message.timeouts")?;
        let throttle_secs = config.get_u64("topology.error.throttle.interval.secs")?;
        let max_errors = config.get_u64("topology.max.error.report.per.interval")?;
        let stat_buckets = stat_buckets(config.get_i64("num.stat.buckets")?);
        let grouper_options = GrouperOptions {
            load_aware: !config.get_bool("topology.disable.loadaware.messaging")?,
            higher_bound: config.get_f64("topology.localityaware.higher.bound")?,
            lower_bound: config.get_f64("topology.localityaware.lower.bound")?,
        };

        let mut defs = Vec::new();
        let mut inboxes = Vec::new();
        let mut routes = HashMap::new();
        for (start, end, component, tasks) in executor_tasks {
            let (queues, inbox) = executor_queues(capacity);
            for &t in &tasks {
                routes.insert(t, queues.clone());
            }
            let kind = if system.spouts.contains_key(&component) {
                ExecutorKind::Spout
            } else {
                ExecutorKind::Bolt
            };
            let mut component_conf = conf.clone();
            if let Some(own) = context.component_conf(&component) {
                component_conf.extend(own.clone());
            }
            let tick = conf_i64(&component_conf, "topology.tick.tuple.freq.secs")
                .filter(|&s| s > 0)
                .map(|s| s as u64);
            let tick_secs = if component == SYSTEM_COMPONENT_ID
                || ((kind == ExecutorKind::Spout || component == ACKER_COMPONENT_ID) && !timeouts)
            {
                None
            } else {
                tick
            };
            defs.push(Arc::new(ExecutorDef {
                component,
                start,
                end,
                tasks,
                kind,
                conf: component_conf,
                stats: Arc::new(Mutex::new(ExecutorStatsState::new(
                    stat_buckets,
                    super::now_ms(),
                ))),
                gauges: Arc::default(),
                throttle: Arc::new(Mutex::new(ErrorThrottle::new(
                    Duration::from_secs(throttle_secs),
                    max_errors,
                ))),
                queues,
                tick_secs,
            }));
            inboxes.push(inbox);
        }

        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let shared = Arc::new(WorkerShared {
            topology_id: spec.topology_id.clone(),
            context,
            acking: has_ackers(&conf),
            system,
            router: Arc::new(Router::new(routes, spec.remote)),
            active: AtomicBool::new(spec.active),
            shutdown: AtomicBool::new(false),
            stop_rx,
            error_sink: spec.error_sink,
            grouper_options,
            load: Mutex::new(Arc::new(LoadMapping::new())),
            load_version: AtomicU64::new(0),
            port: spec.port,
            exit_on_executor_death: spec.exit_on_executor_death,
        });

        // Build every executor's components before starting anything.
        let mut parts = Vec::with_capacity(defs.len());
        for def in &defs {
            parts.push(build_parts(&shared, def)?);
        }

        let mut worker = Worker {
            shared: Arc::clone(&shared),
            executors: defs.clone(),
            threads: Vec::new(),
            stop_tx: Some(stop_tx),
        };
        for ((def, inbox), first) in defs.into_iter().zip(inboxes).zip(parts) {
            let name = def.name();
            let shared = Arc::clone(&shared);
            let handle = std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || executor_thread(shared, def, inbox, first))
                .map_err(|source| WorkerError::Thread {
                    name: name.clone(),
                    source,
                });
            match handle {
                Ok(h) => worker.threads.push(h),
                Err(e) => {
                    worker.shutdown();
                    return Err(e);
                }
            }
        }
        let timer_shared = Arc::clone(&shared);
        let timer_execs = worker.executors.clone();
        match std::thread::Builder::new()
            .name(format!("{}-timer", spec.topology_id))
            .spawn(move || timer_thread(timer_shared, timer_execs))
        {
            Ok(h) => worker.threads.push(h),
            Err(source) => {
                worker.shutdown();
                return Err(WorkerError::Thread {
                    name: "timer".into(),
                    source,
                });
            }
        }
        tracing::info!(
            topology = %spec.topology_id,
            executors = worker.executors.len(),
            "worker started"
        );
        Ok(worker)
    }

    pub fn topology_id(&self) -> &str {
        &self.shared.topology_id
    }

    pub fn context(&self) -> &Arc<WorkerTopologyContext> {
        &self.shared.context
    }

    /// The router, for a transport delivering tuples from other workers.
    pub fn router(&self) -> &Arc<Router> {
        &self.shared.router
    }

    /// The system topology the worker runs.
    pub fn system_topology(&self) -> &StormTopology {
        &self.shared.system
    }

    /// Whether the topology has ackers.
    pub fn acking(&self) -> bool {
        self.shared.acking
    }

    pub fn is_active(&self) -> bool {
        self.shared.active.load(Ordering::Acquire)
    }

    /// Lets spouts call `next_tuple` (they call `activate` first).
    pub fn activate(&self) {
        self.set_active(true);
    }

    /// Stops spouts calling `next_tuple` (they call `deactivate`); in-flight tuples still complete.
    pub fn deactivate(&self) {
        self.set_active(false);
    }

    fn set_active(&self, active: bool) {
        self.shared.active.store(active, Ordering::Release);
        for def in &self.executors {
            if def.kind == ExecutorKind::Spout {
                def.queues.wake();
            }
        }
    }

    pub fn executors(&self) -> Vec<ExecutorSummary> {
        self.executors
            .iter()
            .map(|d| ExecutorSummary {
                component_id: d.component.clone(),
                start: d.start,
                end: d.end,
                tasks: d.tasks.clone(),
                kind: d.kind,
            })
            .collect()
    }

    /// Every executor's statistics and queue gauges.
    pub fn stats(&self) -> Vec<ExecutorStatsSnapshot> {
        self.executors
            .iter()
            .map(|d| {
                let g = &d.gauges;
                let (stats, windows) = d
                    .stats
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .read(super::now_ms());
                ExecutorStatsSnapshot {
                    component_id: d.component.clone(),
                    executor: (d.start, d.end),
                    kind: d.kind,
                    stats,
                    windows,
                    queue_capacity: d.queues.capacity(),
                    data_queue_len: d.queues.data_len(),
                    control_queue_len: d.queues.control_len(),
                    overflow_len: g.overflow.load(Ordering::Relaxed),
                    max_overflow_len: g.max_overflow.load(Ordering::Relaxed),
                    pending: g.pending.load(Ordering::Relaxed),
                    max_pending: g.max_pending.load(Ordering::Relaxed),
                    restarts: g.restarts.load(Ordering::Relaxed),
                }
            })
            .collect()
    }

    /// Stops every executor (spouts `close`, bolts `cleanup`) and waits for the threads.
    pub fn shutdown(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        self.stop_tx.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct TickSchedule {
    next: Instant,
    every: Duration,
    secs: u64,
    tasks: Vec<i32>,
}

/// How often load snapshots for load-aware shuffle are taken (Storm refreshes every second).
const LOAD_REFRESH: Duration = Duration::from_secs(1);

/// The worker's timer: tick tuples (`__system`/`__tick` with `[freq]`, first after one period) into
/// the control queues of executors with `topology.tick.tuple.freq.secs`, and load snapshots.
fn timer_thread(shared: Arc<WorkerShared>, executors: Vec<Arc<ExecutorDef>>) {
    let stop = shared.stop_receiver();
    let start = Instant::now();
    let mut ticks: Vec<TickSchedule> = executors
        .iter()
        .filter_map(|d| {
            d.tick_secs.map(|secs| TickSchedule {
                next: start + Duration::from_secs(secs),
                every: Duration::from_secs(secs),
                secs,
                tasks: d.tasks.clone(),
            })
        })
        .collect();
    let tick_source = TupleSource::new(
        SYSTEM_COMPONENT_ID,
        SYSTEM_TASK_ID,
        SYSTEM_TICK_STREAM_ID,
        Fields::new(["rate_secs"]).unwrap_or_default(),
    )
    .intern();
    let load_aware = shared.grouper_options.load_aware;
    let mut next_load = start + LOAD_REFRESH;
    loop {
        let mut deadline = ticks
            .iter()
            .map(|t| t.next)
            .min()
            .unwrap_or(start + Duration::from_secs(3600 * 24 * 365));
        if load_aware {
            deadline = deadline.min(next_load);
        }
        match stop.recv_deadline(deadline) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let now = Instant::now();
        for t in &mut ticks {
            if now < t.next {
                continue;
            }
            let secs = i32::try_from(t.secs).unwrap_or(i32::MAX);
            for &task in &t.tasks {
                let tuple = Tuple::new(tick_source, vec![Value::Int(secs)], Vec::new());
                shared.router.try_deliver(task, tuple, true);
            }
            t.next += t.every;
            if t.next <= now {
                t.next = now + t.every;
            }
        }
        if load_aware && now >= next_load {
            let mut loads = BTreeMap::new();
            for d in &executors {
                let load = d.queues.load();
                for &task in &d.tasks {
                    loads.insert(task, load);
                }
            }
            *shared.load.lock().unwrap_or_else(|e| e.into_inner()) =
                Arc::new(LoadMapping::from_local(loads));
            shared.load_version.fetch_add(1, Ordering::AcqRel);
            next_load = now + LOAD_REFRESH;
        }
    }
}
