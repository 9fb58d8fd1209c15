//! What a worker's executors share: each executor's fixed description ([`ExecutorDef`]) and the
//! worker-wide state every executor thread reads ([`WorkerShared`]). The worker (`worker.rs`) builds
//! them; the spout and bolt executors (`spout.rs`, `bolt.rs`) read them, so neither imports the other.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::Receiver;

use super::emitter::{ErrorReporter, ExecutorOutput, GrouperOptions};
use super::errors::{ErrorSink, ErrorThrottle};
use super::stats::{ExecutorGauges, ExecutorKind, ExecutorStatsState};
use super::transport::{ExecutorQueues, Router};
use crate::api::{conf_bool, ConfMap, WorkerTopologyContext};
use crate::grouping::LoadMapping;
use crate::thrift::StormTopology;

/// One executor's fixed description, shared by its thread and the worker.
pub(crate) struct ExecutorDef {
    pub component: String,
    pub start: i32,
    pub end: i32,
    pub tasks: Vec<i32>,
    pub kind: ExecutorKind,
    /// Topology conf with the component's conf laid over it (what `open`/`prepare` receive).
    pub conf: ConfMap,
    pub stats: Arc<Mutex<ExecutorStatsState>>,
    pub gauges: Arc<ExecutorGauges>,
    pub throttle: Arc<Mutex<ErrorThrottle>>,
    pub queues: ExecutorQueues,
    pub tick_secs: Option<u64>,
}

impl ExecutorDef {
    pub(crate) fn name(&self) -> String {
        format!("{}-executor[{} {}]", self.component, self.start, self.end)
    }
}

/// State every executor of a worker shares.
pub(crate) struct WorkerShared {
    pub topology_id: String,
    pub context: Arc<WorkerTopologyContext>,
    pub system: StormTopology,
    pub router: Arc<Router>,
    pub active: AtomicBool,
    pub(crate) shutdown: AtomicBool,
    pub(crate) stop_rx: Receiver<()>,
    pub error_sink: Arc<dyn ErrorSink>,
    pub acking: bool,
    pub grouper_options: GrouperOptions,
    pub(crate) load: Mutex<Arc<LoadMapping>>,
    pub(crate) load_version: AtomicU64,
    pub port: Option<u16>,
    pub(crate) exit_on_executor_death: bool,
}

impl WorkerShared {
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// A receiver that becomes ready (disconnected) when the worker shuts down.
    pub fn stop_receiver(&self) -> Receiver<()> {
        self.stop_rx.clone()
    }

    /// The latest load snapshot if newer than `version`.
    pub fn load_if_newer(&self, version: u64) -> Option<(u64, Arc<LoadMapping>)> {
        let current = self.load_version.load(Ordering::Acquire);
        if current == version {
            return None;
        }
        let load = Arc::clone(&self.load.lock().unwrap_or_else(|e| e.into_inner()));
        Some((current, load))
    }

    pub fn executor_output(&self, def: &ExecutorDef) -> ExecutorOutput {
        let mut out = ExecutorOutput::new(
            Arc::clone(&self.router),
            Arc::clone(&def.stats),
            Arc::clone(&def.gauges),
            self.acking,
            ErrorReporter {
                sink: Arc::clone(&self.error_sink),
                stats: Arc::clone(&def.stats),
                throttle: Arc::clone(&def.throttle),
                topology_id: self.topology_id.clone(),
                component_id: def.component.clone(),
                port: self.port,
            },
        );
        out.debug = conf_bool(&def.conf, "topology.debug").unwrap_or(false);
        out.set_own_control(def.queues.control_sender().clone());
        out.limit_batches(def.queues.capacity());
        out
    }
}
