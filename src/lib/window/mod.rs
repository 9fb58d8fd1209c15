//! Windowed bolts (Storm's windowing in core Storm, `docs/Windowing.md`): sliding and tumbling
//! windows by count and by duration, on processing time or on tuple timestamps with watermarks,
//! lag and a late-tuple stream, with Storm's at-least-once (tuples are acked when they leave the
//! window; emits are anchored to the window's tuples).
//!
//! * [`WindowManager`] (`manager.rs`), the policies (`policy.rs`) and the [`WatermarkGenerator`]
//!   (`watermark.rs`) are the engine: plain state with the clock as an argument, no executor, no
//!   tuples, so they are tested against a reference model (`tests.rs`).
//! * [`WindowConfig`] (`config.rs`) reads Storm's `topology.bolts.*` window keys and checks them at
//!   submit ([`validate_topology`], from the system topology) and when a task prepares.
//! * [`WindowedBolt`], [`TupleWindow`], [`BaseWindowedBolt`] and [`WindowedBoltExecutor`]
//!   (`bolt.rs`) are the topology author's side; the executor is an ordinary bolt to the engine.
//! * `components.rs`: windowed components built into the library (so the stock worker runs them)
//!   for tests and benchmarks.

mod bolt;
pub mod components;
pub mod config;
mod manager;
pub mod policy;
mod watermark;

pub use bolt::{
    detached_tuple, BaseWindowedBolt, Count, Duration, TupleWindow, WindowSpan, WindowedBolt,
    WindowedBoltExecutor,
};
pub use config::{validate_topology, WindowConfig, WindowConfigError, LATE_TUPLE_FIELD};
pub use manager::{Activation, Event, WindowAction, WindowManager, EXPIRE_EVENTS_THRESHOLD};
pub use watermark::{StreamKey, WatermarkGenerator};

#[cfg(test)]
mod tests;
