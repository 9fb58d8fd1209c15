//! Message reliability: Storm's XOR acker as pure state machines (storm-internals §5), with no threads or
//! I/O — the executors feed them messages, ticks and the clock.
//!
//! * [`RotatingMap`]: Storm's bucketed expiry map, the timeout mechanism of both sides.
//! * [`Acker`]: one `__acker` task's state: consumes [`AckerMessage`]s (`__ack_init`, `__ack_ack`,
//!   `__ack_fail`, `__ack_reset_timeout`) and ticks, produces [`AckerOutcome`]s to emit directly to the
//!   spout task.
//! * [`PendingSpoutTuples`]: a spout executor's pending map with `topology.max.spout.pending`
//!   accounting and tick-driven timeouts.
//! * [`EdgeIdGen`]: the random non-zero 64-bit root and edge ids; [`acker_task`] picks the acker task of
//!   a root id exactly as Storm's fields grouping on `id` does.

mod ids;
mod rotating_map;
mod spout_pending;
mod state;

pub use ids::{acker_index, acker_task, EdgeIdGen};
pub use rotating_map::{IdBuildHasher, IdHasher, RootBuildHasher, RootHasher, RotatingMap};
pub use spout_pending::{PendingSpoutTuples, PendingTuple};
pub use state::{Acker, AckerMessage, AckerOutcome};

/// The acker bolts' component id.
pub const ACKER_COMPONENT_ID: &str = "__acker";
/// Spout → acker: a new tree `[root, init_val, spout_task]`.
pub const ACKER_INIT_STREAM_ID: &str = "__ack_init";
/// Bolt → acker `[root, ack_val]`; acker → spout `[root, time_delta_ms]` on completion.
pub const ACKER_ACK_STREAM_ID: &str = "__ack_ack";
/// Bolt → acker `[root]`; acker → spout `[root, time_delta_ms]` on failure.
pub const ACKER_FAIL_STREAM_ID: &str = "__ack_fail";
/// Bolt → acker `[root]`; acker → spout `[root, time_delta_ms]`.
pub const ACKER_RESET_TIMEOUT_STREAM_ID: &str = "__ack_reset_timeout";
/// Buckets of the acker's pending map (Storm's `Acker.TIMEOUT_BUCKET_NUM`): trees live 2–3 timeouts.
pub const ACKER_TIMEOUT_BUCKETS: usize = 3;
/// Buckets of a spout's pending map: tuples time out after 1–2 timeouts.
pub const SPOUT_PENDING_BUCKETS: usize = 2;

/// Errors of the acker module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckerError {
    #[error("a rotating map needs at least 2 buckets, not {0}")]
    TooFewBuckets(usize),
    #[error("unknown acker stream {0}")]
    UnknownStream(String),
    #[error("tuple on {stream} has {len} values, value {index} is missing")]
    MissingValue {
        stream: String,
        index: usize,
        len: usize,
    },
    #[error("value {index} of a tuple on {stream} should be a {expected}, not a {found}")]
    BadValue {
        stream: String,
        index: usize,
        expected: &'static str,
        found: &'static str,
    },
}

#[cfg(test)]
mod tests;
