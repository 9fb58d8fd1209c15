//! [`TopologyContext`]: what a task knows about the topology and itself (Storm's `TopologyContext`),
//! over a [`WorkerTopologyContext`] shared by every task of a worker.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::conf::ConfMap;
use crate::thrift::{GlobalStreamId, Grouping, StormTopology};
use crate::topology::system::{
    all_components, component_conf, component_to_sorted_tasks, task_to_component, InvalidTopology,
    SYSTEM_COMPONENT_ID, SYSTEM_TASK_ID,
};
use crate::tuple::Fields;

/// One declared stream of a component.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamDecl {
    pub fields: Fields,
    pub direct: bool,
}

/// The topology as a worker sees it: task numbering, streams, subscriptions, and the worker's own
/// tasks. Built from the *system* topology (acker and system streams included).
#[derive(Debug, Clone)]
pub struct WorkerTopologyContext {
    topology_id: String,
    task_to_component: BTreeMap<i32, String>,
    component_to_tasks: BTreeMap<String, Vec<i32>>,
    worker_tasks: Vec<i32>,
    worker_port: Option<u16>,
    streams: BTreeMap<String, BTreeMap<String, StreamDecl>>,
    sources: BTreeMap<String, BTreeMap<GlobalStreamId, Grouping>>,
    targets: BTreeMap<String, BTreeMap<String, BTreeMap<String, Grouping>>>,
    component_confs: BTreeMap<String, ConfMap>,
}

impl WorkerTopologyContext {
    /// The context of a worker running `worker_tasks` of `system` (a normalized system topology).
    pub fn new(
        topology_id: impl Into<String>,
        system: &StormTopology,
        worker_tasks: Vec<i32>,
        worker_port: Option<u16>,
    ) -> Result<WorkerTopologyContext, InvalidTopology> {
        let task_to_component = task_to_component(system)?;
        let component_to_tasks = component_to_sorted_tasks(&task_to_component);
        let mut streams = BTreeMap::new();
        let mut sources = BTreeMap::new();
        let mut targets: BTreeMap<String, BTreeMap<String, BTreeMap<String, Grouping>>> =
            BTreeMap::new();
        let mut component_confs = BTreeMap::new();
        for (id, common) in all_components(system) {
            let mut decls = BTreeMap::new();
            for (stream, info) in &common.streams {
                let fields = Fields::new(info.output_fields.iter().cloned()).map_err(|e| {
                    InvalidTopology(format!(
                        "Component: [{id}] declares stream [{stream}] with bad fields: {e}"
                    ))
                })?;
                decls.insert(
                    stream.clone(),
                    StreamDecl {
                        fields,
                        direct: info.direct,
                    },
                );
            }
            streams.insert(id.to_owned(), decls);
            sources.insert(id.to_owned(), common.inputs.clone());
            for (gsid, grouping) in &common.inputs {
                targets
                    .entry(gsid.component_id.clone())
                    .or_default()
                    .entry(gsid.stream_id.clone())
                    .or_default()
                    .insert(id.to_owned(), grouping.clone());
            }
            component_confs.insert(id.to_owned(), component_conf(common)?);
        }
        let mut worker_tasks = worker_tasks;
        worker_tasks.sort_unstable();
        Ok(WorkerTopologyContext {
            topology_id: topology_id.into(),
            task_to_component,
            component_to_tasks,
            worker_tasks,
            worker_port,
            streams,
            sources,
            targets,
            component_confs,
        })
    }

    pub fn topology_id(&self) -> &str {
        &self.topology_id
    }

    /// Task id → component id (task −1 is `__system`).
    pub fn task_to_component(&self) -> &BTreeMap<i32, String> {
        &self.task_to_component
    }

    /// The component running `task`.
    pub fn component_id(&self, task: i32) -> Option<&str> {
        if task == SYSTEM_TASK_ID {
            return Some(SYSTEM_COMPONENT_ID);
        }
        self.task_to_component.get(&task).map(String::as_str)
    }

    /// A component's task ids, ascending (empty for an unknown component).
    pub fn component_tasks(&self, component: &str) -> &[i32] {
        self.component_to_tasks
            .get(component)
            .map_or(&[], Vec::as_slice)
    }

    /// Every component id with its task ids.
    pub fn component_to_tasks(&self) -> &BTreeMap<String, Vec<i32>> {
        &self.component_to_tasks
    }

    /// The tasks this worker runs, ascending.
    pub fn this_worker_tasks(&self) -> &[i32] {
        &self.worker_tasks
    }

    pub fn this_worker_port(&self) -> Option<u16> {
        self.worker_port
    }

    /// The fields of `component`'s `stream`.
    pub fn component_output_fields(&self, component: &str, stream: &str) -> Option<&Fields> {
        self.streams.get(component)?.get(stream).map(|d| &d.fields)
    }

    /// Every stream `component` declares.
    pub fn component_streams(&self, component: &str) -> Option<&BTreeMap<String, StreamDecl>> {
        self.streams.get(component)
    }

    /// What `component` subscribes to, with the groupings.
    pub fn sources(&self, component: &str) -> Option<&BTreeMap<GlobalStreamId, Grouping>> {
        self.sources.get(component)
    }

    /// Who subscribes to `component`'s streams: stream → subscribing component → grouping.
    pub fn targets(
        &self,
        component: &str,
    ) -> Option<&BTreeMap<String, BTreeMap<String, Grouping>>> {
        self.targets.get(component)
    }

    /// The component's own JSON conf from the topology (with `topology.tasks`).
    pub fn component_conf(&self, component: &str) -> Option<&ConfMap> {
        self.component_confs.get(component)
    }
}

/// What one task knows: itself and the topology (Storm's `TopologyContext`).
#[derive(Debug, Clone)]
pub struct TopologyContext {
    worker: Arc<WorkerTopologyContext>,
    task_id: i32,
    component_id: String,
}

impl TopologyContext {
    /// The context of `task` in `worker`. Panics if `task` is not in the topology.
    pub fn new(worker: Arc<WorkerTopologyContext>, task_id: i32) -> TopologyContext {
        let component_id = worker
            .component_id(task_id)
            .unwrap_or_else(|| panic!("task {task_id} is not in topology {}", worker.topology_id()))
            .to_owned();
        TopologyContext {
            worker,
            task_id,
            component_id,
        }
    }

    pub fn worker(&self) -> &WorkerTopologyContext {
        &self.worker
    }

    pub fn topology_id(&self) -> &str {
        self.worker.topology_id()
    }

    pub fn this_task_id(&self) -> i32 {
        self.task_id
    }

    pub fn this_component_id(&self) -> &str {
        &self.component_id
    }

    /// The position of this task among its component's tasks (0-based; Storm's `getThisTaskIndex`).
    pub fn this_task_index(&self) -> usize {
        self.worker
            .component_tasks(&self.component_id)
            .iter()
            .position(|&t| t == self.task_id)
            .unwrap_or(0)
    }

    /// The tasks of this task's component.
    pub fn this_component_tasks(&self) -> &[i32] {
        self.worker.component_tasks(&self.component_id)
    }

    pub fn component_id(&self, task: i32) -> Option<&str> {
        self.worker.component_id(task)
    }

    pub fn component_tasks(&self, component: &str) -> &[i32] {
        self.worker.component_tasks(component)
    }

    pub fn task_to_component(&self) -> &BTreeMap<i32, String> {
        self.worker.task_to_component()
    }

    pub fn this_worker_tasks(&self) -> &[i32] {
        self.worker.this_worker_tasks()
    }

    pub fn this_worker_port(&self) -> Option<u16> {
        self.worker.this_worker_port()
    }

    /// The fields of this component's `stream`.
    pub fn this_output_fields(&self, stream: &str) -> Option<&Fields> {
        self.worker
            .component_output_fields(&self.component_id, stream)
    }

    pub fn component_output_fields(&self, component: &str, stream: &str) -> Option<&Fields> {
        self.worker.component_output_fields(component, stream)
    }

    /// This component's subscriptions.
    pub fn this_sources(&self) -> Option<&BTreeMap<GlobalStreamId, Grouping>> {
        self.worker.sources(&self.component_id)
    }

    /// Who subscribes to this component's streams.
    pub fn this_targets(&self) -> Option<&BTreeMap<String, BTreeMap<String, Grouping>>> {
        self.worker.targets(&self.component_id)
    }
}
