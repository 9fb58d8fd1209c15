//! Local mode: [`LocalCluster`] runs whole topologies in this process over the same executors a
//! cluster worker runs (one worker per topology, in-process delivery, errors kept in memory).
//!
//! Like Storm's `LocalCluster`: `submit_topology` (topology ids `<name>-<counter>-<epoch secs>`),
//! `kill_topology`, `activate`, `deactivate`, `rebalance` (executor counts change, task ids never do:
//! they are fixed at submit by `normalize_topology`) and `shutdown`.

pub mod components;
pub mod durable;
pub mod perf;
pub mod testing;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::api::{check_component_object, ConfMap, TopologyConf, WorkerTopologyContext};
use crate::config::Config;
use crate::executor::errors::epoch_secs;
use crate::executor::{
    ErrorReport, ExecutorStatsSnapshot, ExecutorSummary, MemoryErrorSink, Worker, WorkerError,
    WorkerSpec,
};
use crate::thrift::StormTopology;
use crate::topology::system::{
    all_components, compute_executors, normalize_topology, parallelism_hint, system_topology,
    task_to_component, InvalidTopology,
};

/// Why a local-cluster operation failed (Storm's exceptions, same texts).
#[derive(Debug, thiserror::Error)]
pub enum LocalClusterError {
    /// Storm's `AlreadyAliveException`.
    #[error("{0} is already alive")]
    AlreadyAlive(String),
    /// Storm's `NotAliveException`.
    #[error("{0} is not alive")]
    NotAlive(String),
    /// Storm's `InvalidTopologyException`.
    #[error("{0}")]
    InvalidTopology(String),
    #[error(transparent)]
    Worker(#[from] WorkerError),
}

impl From<InvalidTopology> for LocalClusterError {
    fn from(e: InvalidTopology) -> LocalClusterError {
        LocalClusterError::InvalidTopology(e.0)
    }
}

/// Options of a rebalance (Storm's `RebalanceOptions`).
#[derive(Debug, Clone, Default)]
pub struct RebalanceOptions {
    /// How long the topology stays deactivated before its executors are redistributed.
    pub wait: Duration,
    /// New executor counts by component (others keep theirs).
    pub num_executors: BTreeMap<String, u32>,
}

struct LocalTopology {
    id: String,
    conf: ConfMap,
    /// Normalized: every component's task count fixed.
    topology: StormTopology,
    component_executors: BTreeMap<String, i32>,
    worker: Worker,
}

/// Topologies running in this process.
pub struct LocalCluster {
    conf: ConfMap,
    topologies: Mutex<BTreeMap<String, LocalTopology>>,
    errors: Arc<MemoryErrorSink>,
    counter: AtomicU64,
}

impl Default for LocalCluster {
    fn default() -> LocalCluster {
        LocalCluster::new()
    }
}

/// Storm's topology-name rule (`Utils.isValidKey` for names): non-empty, none of `/ . : \`.
fn check_name(name: &str) -> Result<(), LocalClusterError> {
    if name.is_empty() || name.contains(['/', '.', ':', '\\']) {
        return Err(LocalClusterError::InvalidTopology(format!(
            "Topology name '{name}' is not valid: it must be non-empty and may not contain '/', '.', ':' or '\\'"
        )));
    }
    Ok(())
}

impl LocalCluster {
    /// A local cluster with Storm's default configuration.
    pub fn new() -> LocalCluster {
        LocalCluster::with_conf(ConfMap::new())
    }

    /// A local cluster whose cluster configuration is the defaults overlaid with `overrides`.
    pub fn with_conf(overrides: ConfMap) -> LocalCluster {
        let mut conf = Config::defaults().to_json();
        conf.extend(overrides);
        LocalCluster {
            conf,
            topologies: Mutex::new(BTreeMap::new()),
            errors: Arc::new(MemoryErrorSink::new()),
            counter: AtomicU64::new(0),
        }
    }

    fn topologies(&self) -> MutexGuard<'_, BTreeMap<String, LocalTopology>> {
        self.topologies.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Validates, normalizes and starts `topology` under `name`, active. Returns the topology id.
    pub fn submit_topology(
        &self,
        name: &str,
        conf: &TopologyConf,
        topology: &StormTopology,
    ) -> Result<String, LocalClusterError> {
        check_name(name)?;
        let mut topologies = self.topologies();
        if topologies.contains_key(name) {
            return Err(LocalClusterError::AlreadyAlive(name.to_owned()));
        }
        for (id, spout) in &topology.spouts {
            check_component_object(id, &spout.spout_object)
                .map_err(|e| LocalClusterError::InvalidTopology(e.to_string()))?;
        }
        for (id, bolt) in &topology.bolts {
            check_component_object(id, &bolt.bolt_object)
                .map_err(|e| LocalClusterError::InvalidTopology(e.to_string()))?;
        }
        if topology.spouts.is_empty() {
            return Err(LocalClusterError::InvalidTopology(
                "Topology must have at least one spout".into(),
            ));
        }
        let mut merged = self.conf.clone();
        merged.extend(conf.as_map().clone());
        let normalized = normalize_topology(topology, &merged)?;
        let system = system_topology(&normalized, &merged)?;
        let component_executors: BTreeMap<String, i32> = all_components(&system)
            .into_iter()
            .map(|(id, common)| (id.to_owned(), parallelism_hint(common)))
            .collect();
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        let id = format!("{name}-{n}-{}", epoch_secs());
        // Nimbus's normalizeConf: the topology learns its id and name.
        merged.insert("storm.id".into(), id.clone().into());
        merged.insert("topology.name".into(), name.into());
        let worker = start_worker(
            &id,
            &normalized,
            &merged,
            &system,
            &component_executors,
            Arc::clone(&self.errors),
            true,
        )?;
        tracing::info!(topology = %id, "submitted topology {name}");
        topologies.insert(
            name.to_owned(),
            LocalTopology {
                id: id.clone(),
                conf: merged,
                topology: normalized,
                component_executors,
                worker,
            },
        );
        Ok(id)
    }

    /// Kills `name` at once (Storm's `killTopology` with a zero wait): spouts are deactivated, then
    /// every executor stops (`close`/`cleanup` are called) before this returns.
    pub fn kill_topology(&self, name: &str) -> Result<(), LocalClusterError> {
        self.kill_topology_with_wait(name, Duration::ZERO)
    }

    /// Deactivates `name`, waits `wait` for in-flight tuples, then kills it (Storm's `kill -w`).
    pub fn kill_topology_with_wait(
        &self,
        name: &str,
        wait: Duration,
    ) -> Result<(), LocalClusterError> {
        let topology = self
            .topologies()
            .remove(name)
            .ok_or_else(|| LocalClusterError::NotAlive(name.to_owned()))?;
        let mut worker = topology.worker;
        worker.deactivate();
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        worker.shutdown();
        tracing::info!(topology = %topology.id, "killed topology {name}");
        Ok(())
    }

    pub fn activate(&self, name: &str) -> Result<(), LocalClusterError> {
        self.with_topology(name, |t| t.worker.activate())
    }

    pub fn deactivate(&self, name: &str) -> Result<(), LocalClusterError> {
        self.with_topology(name, |t| t.worker.deactivate())
    }

    /// Changes executor counts (never task counts or ids): the topology is deactivated for
    /// `options.wait`, its executors are stopped and started again in the new layout, and it returns
    /// to its previous status. In-flight tuples of the old executors are lost and replayed by acking,
    /// as when Storm restarts workers.
    pub fn rebalance(
        &self,
        name: &str,
        options: &RebalanceOptions,
    ) -> Result<(), LocalClusterError> {
        let mut topologies = self.topologies();
        let t = topologies
            .get_mut(name)
            .ok_or_else(|| LocalClusterError::NotAlive(name.to_owned()))?;
        for (component, &n) in &options.num_executors {
            if !t.component_executors.contains_key(component) {
                return Err(LocalClusterError::InvalidTopology(format!(
                    "Component {component} does not exist in topology {name}"
                )));
            }
            if n == 0 {
                return Err(LocalClusterError::InvalidTopology(format!(
                    "Number of executors must be greater than 0 (component {component})"
                )));
            }
        }
        let was_active = t.worker.is_active();
        t.worker.deactivate();
        if !options.wait.is_zero() {
            std::thread::sleep(options.wait);
        }
        t.worker.shutdown();
        let mut executors = t.component_executors.clone();
        for (component, &n) in &options.num_executors {
            executors.insert(component.clone(), i32::try_from(n).unwrap_or(i32::MAX));
        }
        let system = system_topology(&t.topology, &t.conf)?;
        t.worker = start_worker(
            &t.id,
            &t.topology,
            &t.conf,
            &system,
            &executors,
            Arc::clone(&self.errors),
            was_active,
        )?;
        t.component_executors = executors;
        tracing::info!(topology = %t.id, "rebalanced topology {name}");
        Ok(())
    }

    /// Kills every topology.
    pub fn shutdown(&self) {
        let names: Vec<String> = self.topologies().keys().cloned().collect();
        for name in names {
            let _ = self.kill_topology(&name);
        }
    }

    fn with_topology<R>(
        &self,
        name: &str,
        f: impl FnOnce(&LocalTopology) -> R,
    ) -> Result<R, LocalClusterError> {
        let topologies = self.topologies();
        let t = topologies
            .get(name)
            .ok_or_else(|| LocalClusterError::NotAlive(name.to_owned()))?;
        Ok(f(t))
    }

    /// Names of the running topologies.
    pub fn topology_names(&self) -> Vec<String> {
        self.topologies().keys().cloned().collect()
    }

    pub fn topology_id(&self, name: &str) -> Result<String, LocalClusterError> {
        self.with_topology(name, |t| t.id.clone())
    }

    /// The running executors of `name`.
    pub fn executors(&self, name: &str) -> Result<Vec<ExecutorSummary>, LocalClusterError> {
        self.with_topology(name, |t| t.worker.executors())
    }

    /// Per-executor statistics of `name`.
    pub fn stats(&self, name: &str) -> Result<Vec<ExecutorStatsSnapshot>, LocalClusterError> {
        self.with_topology(name, |t| t.worker.stats())
    }

    /// The worker context of `name` (task numbering, streams).
    pub fn context(&self, name: &str) -> Result<Arc<WorkerTopologyContext>, LocalClusterError> {
        self.with_topology(name, |t| Arc::clone(t.worker.context()))
    }

    pub fn is_active(&self, name: &str) -> Result<bool, LocalClusterError> {
        self.with_topology(name, |t| t.worker.is_active())
    }

    /// Errors reported by `name`'s components (all of them; the sink is in memory).
    pub fn errors(&self, name: &str) -> Result<Vec<ErrorReport>, LocalClusterError> {
        let id = self.topology_id(name)?;
        Ok(self.errors.reports_for(&id))
    }

    /// Errors reported by any topology, including killed ones.
    pub fn all_errors(&self) -> Vec<ErrorReport> {
        self.errors.reports()
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn start_worker(
    id: &str,
    normalized: &StormTopology,
    conf: &ConfMap,
    system: &StormTopology,
    component_executors: &BTreeMap<String, i32>,
    errors: Arc<MemoryErrorSink>,
    active: bool,
) -> Result<Worker, LocalClusterError> {
    let t2c = task_to_component(system)?;
    let executors = compute_executors(&t2c, component_executors);
    Ok(Worker::start(WorkerSpec {
        topology_id: id.to_owned(),
        topology: normalized.clone(),
        conf: conf.clone(),
        executors,
        port: None,
        error_sink: errors,
        remote: None,
        active,
        exit_on_executor_death: false,
    })?)
}

#[cfg(test)]
mod tests;
