//! The topology engine: executors running spout and bolt tasks, the emit path through the groupings,
//! Storm's XOR acking, backpressure, tick tuples, statistics and error reporting (storm-internals §5–7).
//!
//! * [`Worker`] starts one thread per executor (each running its tasks in turn) plus a timer thread,
//!   from a [`WorkerSpec`]: the normalized topology, the merged configuration and the executors to run.
//! * Queues ([`transport`]): a data queue per executor bounded in tuples
//!   (`topology.executor.receive.buffer.size`) and an unbounded control queue for system streams; both
//!   move batches, which executors fill per destination (`emitter`). A full data queue makes the
//!   producer hold the batch in its overflow list and stop consuming input (bolts) or calling
//!   `next_tuple` (spouts), so memory stays bounded; acker and tick traffic never waits behind data.
//! * Acking follows Storm: a reliable spout emit draws a root id and an edge per target and sends
//!   `__ack_init [root, xor, task]` to the acker `acker_index(root)` picks; bolts XOR anchored edges and
//!   send `__ack_ack`/`__ack_fail`/`__ack_reset_timeout`; the `__acker` bolt ([`AckerBolt`]) answers
//!   the spout task directly; the spout's pending map rotates on its `__tick` every
//!   `topology.message.timeout.secs`, and `topology.max.spout.pending` × tasks caps it. With
//!   `topology.acker.executors` = 0 a reliable emit is acked right after the spout call.
//! * [`RemoteTransport`] is where a cluster worker plugs in its network transport; local mode has none.
//! * Errors from user code are reported through an [`ErrorSink`] (throttled like Storm); an executor
//!   whose component returns an error or panics is rebuilt and restarted.

mod acker_bolt;
mod bolt;
mod emitter;
pub mod errors;
pub(crate) mod pool;
pub mod rolling;
mod shared;
mod spout;
pub mod stats;
pub mod transport;
mod worker;

use std::sync::OnceLock;
use std::time::Instant;

pub use acker_bolt::AckerBolt;
pub use errors::{ErrorReport, ErrorSink, ErrorThrottle, MemoryErrorSink};
pub use stats::{
    ExecutorKind, ExecutorStatsData, ExecutorStatsSnapshot, ExecutorStatsState, Latency,
};
pub use transport::{Delivery, RemoteTransport, Router};
pub use worker::{ExecutorSummary, Worker, WorkerError, WorkerSpec};

fn clock_base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Monotonic process clock in nanoseconds (never 0).
pub(crate) fn now_ns() -> u64 {
    u64::try_from(clock_base().elapsed().as_nanos())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Monotonic process clock in milliseconds.
pub(crate) fn now_ms() -> u64 {
    now_ns() / 1_000_000
}

thread_local! {
    /// [`now_ms`] as of the start of the executor loop's current turn on this thread (0: not an
    /// executor thread, or no turn yet).
    static TURN_MS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Starts an executor loop turn: reads the clock once for everything the turn handles.
pub(crate) fn start_turn() {
    TURN_MS.with(|t| t.set(now_ms()));
}

/// The millisecond clock as of this executor turn's start (a turn lasts at most a batch, well under
/// a millisecond of work under load), or the clock itself outside executor turns.
pub(crate) fn turn_ms() -> u64 {
    match TURN_MS.with(|t| t.get()) {
        0 => now_ms(),
        ms => ms,
    }
}

#[cfg(test)]
mod tests;
