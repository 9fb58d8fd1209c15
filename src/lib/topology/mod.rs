//! Topologies: what a `StormTopology` becomes before it runs.
//!
//! [`system`] owns the system topology (acker, `__system`, system streams), validation with Storm's error
//! texts, task numbering and the split of tasks into executors — the computations nimbus and every worker
//! must agree on.

pub mod blob_map;
pub mod system;

pub use system::{normalize_topology, system_topology, task_to_component, InvalidTopology};
