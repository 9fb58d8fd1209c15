//! The component traits: [`Spout`], [`Bolt`] and [`BasicBolt`] (Storm's `IRichSpout`, `IRichBolt`,
//! `IBasicBolt`), and [`BasicBoltExecutor`], the bolt that runs a basic bolt.
//!
//! Every lifecycle call runs on the executor's thread. A call that returns an error (or panics) kills
//! the executor, as an uncaught exception kills a Storm worker: the error is reported, and the executor
//! is rebuilt from the topology's bytes (fresh state) and started again.

use serde::{Deserialize, Serialize};

use super::collector::{BasicOutputCollector, OutputCollector, SpoutOutputCollector};
use super::conf::ConfMap;
use super::context::TopologyContext;
use super::declarer::OutputFieldsDeclarer;
use super::tuple::{MessageId, Tuple, TupleSource};
use crate::tuple::Value;

/// The error a lifecycle call returns; any error type converts with `?`.
pub type ComponentError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A source of tuples (Storm's `IRichSpout`). Implement with `#[typetag::serde]` on a serde type.
///
/// `next_tuple` should emit what it has and return quickly; when it has nothing it simply returns (the
/// executor waits a little before calling again). `ack` and `fail` are called on the spout's own thread
/// with the message id given to `emit`; replaying a failed message is the spout's job.
#[typetag::serde]
pub trait Spout: Send {
    /// Called once per task before anything else.
    fn open(
        &mut self,
        _conf: &ConfMap,
        _context: &TopologyContext,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        Ok(())
    }

    /// Emits the next tuple(s), if any.
    fn next_tuple(
        &mut self,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError>;

    /// Calls `next_tuple` up to `max_calls` times in one go and returns how many calls were made
    /// (at least 1). The executor asks this instead of calling `next_tuple` itself so a spout
    /// behind a costly boundary (a Java spout in the embedded JVM) crosses it once for many calls.
    /// An implementation stops early when a call emits nothing, and once it made `allowance`
    /// reliable emits (the room left under `topology.max.spout.pending`, which Storm checks before
    /// each `nextTuple`). The default makes one call.
    fn next_tuples(
        &mut self,
        _max_calls: usize,
        _allowance: usize,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<usize, ComponentError> {
        self.next_tuple(collector)?;
        Ok(1)
    }

    /// The executor handled a batch of acker verdicts (the `ack`/`fail` calls just made). A spout
    /// that defers those calls (a Java spout delivers them into the JVM together) delivers them
    /// here at the latest; the default does nothing.
    fn end_batch(
        &mut self,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        Ok(())
    }

    /// The tuple tree of `message_id` was fully processed.
    fn ack(
        &mut self,
        _message_id: MessageId,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        Ok(())
    }

    /// The tuple tree of `message_id` failed or timed out.
    fn fail(
        &mut self,
        _message_id: MessageId,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        Ok(())
    }

    /// The topology became active (also right after `open` when it starts active).
    fn activate(
        &mut self,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        Ok(())
    }

    /// The topology was deactivated: `next_tuple` is not called until it is activated again.
    fn deactivate(
        &mut self,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        Ok(())
    }

    /// Called when the topology is killed (local mode; a worker process may die without it).
    fn close(&mut self) {}

    /// Declares the streams and fields the spout emits.
    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer);

    /// Component-specific configuration (e.g. `topology.max.spout.pending`), laid over the topology's.
    fn component_configuration(&self) -> Option<ConfMap> {
        None
    }

    /// The multilang command when this component is a shell component ([`ShellSpout`] /
    /// [`ShellBolt`]): the topology then carries it as Storm's `ComponentObject::Shell`. Other
    /// components keep the default.
    ///
    /// [`ShellSpout`]: crate::multilang::ShellSpout
    /// [`ShellBolt`]: crate::multilang::ShellBolt
    #[doc(hidden)]
    fn shell_command(&self) -> Option<&[String]> {
        None
    }
}

/// A processing step (Storm's `IRichBolt`). Implement with `#[typetag::serde]` on a serde type.
///
/// Every input must eventually be acked or failed through the collector (possibly later, from a kept
/// [`Tuple`]); emits should be anchored to the inputs they derive from for at-least-once processing.
#[typetag::serde]
pub trait Bolt: Send {
    /// Called once per task before any `execute`.
    fn prepare(
        &mut self,
        _conf: &ConfMap,
        _context: &TopologyContext,
        _collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        Ok(())
    }

    /// Processes one input tuple (including tick tuples, see [`Tuple::is_tick`]).
    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError>;

    /// Called when the topology is killed (local mode; a worker process may die without it).
    fn cleanup(&mut self) {}

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer);

    fn component_configuration(&self) -> Option<ConfMap> {
        None
    }

    /// The executor ended a run of `execute` calls (its input ran dry, or a batch is done) and is
    /// about to hand its output over or wait. A bolt that defers work across `execute` calls (a
    /// Java bolt queues inputs to cross into the JVM once for many) finishes it here; the default
    /// does nothing. A bolt wrapping another calls the inner one's.
    fn end_batch(&mut self, _collector: &mut OutputCollector<'_>) -> Result<(), ComponentError> {
        Ok(())
    }

    /// Lets a bolt whose work completes outside `execute` (a multilang subprocess answering
    /// asynchronously) emit, ack and fail on the executor thread: called after the executor was woken
    /// through [`OutputCollector::waker`] and at least every 100 ms while it is idle. Default: nothing.
    fn poll(&mut self, _collector: &mut OutputCollector<'_>) -> Result<(), ComponentError> {
        Ok(())
    }

    /// Executes an unanchored tuple on a system stream from `source` given only its `values`
    /// (executors carry acker traffic without building tuples). `None`: the bolt has no such path
    /// and gets the tuple through [`Bolt::execute`]. Input handled here is acked implicitly.
    /// Only the built-in acker implements it.
    #[doc(hidden)]
    fn execute_system(
        &mut self,
        _source: &TupleSource,
        _values: &[Value],
        _collector: &mut OutputCollector<'_>,
    ) -> Option<Result<(), ComponentError>> {
        None
    }

    /// The multilang command when this component is a shell component ([`ShellSpout`] /
    /// [`ShellBolt`]): the topology then carries it as Storm's `ComponentObject::Shell`. Other
    /// components keep the default.
    ///
    /// [`ShellSpout`]: crate::multilang::ShellSpout
    /// [`ShellBolt`]: crate::multilang::ShellBolt
    #[doc(hidden)]
    fn shell_command(&self) -> Option<&[String]> {
        None
    }

    /// A configuration mistake the bolt knows of before it runs (a windowed bolt's window);
    /// `create_topology` refuses the topology with it.
    #[doc(hidden)]
    fn configuration_error(&self) -> Option<String> {
        None
    }
}

/// A bolt whose emits are all anchored to the input and whose input is acked after `execute` returns
/// (Storm's `IBasicBolt`). Returning a [`FailedException`] fails the input instead; any other error
/// kills the executor like a [`Bolt`]'s.
#[typetag::serde]
pub trait BasicBolt: Send {
    fn prepare(
        &mut self,
        _conf: &ConfMap,
        _context: &TopologyContext,
    ) -> Result<(), ComponentError> {
        Ok(())
    }

    fn execute(
        &mut self,
        input: &Tuple,
        collector: &mut BasicOutputCollector<'_, '_>,
    ) -> Result<(), ComponentError>;

    fn cleanup(&mut self) {}

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer);

    fn component_configuration(&self) -> Option<ConfMap> {
        None
    }
}

/// Returned from [`BasicBolt::execute`] to fail the input tuple (Storm's `FailedException`; with
/// `reported`, its `ReportedFailedException`, which also reports the error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FailedException {
    pub message: String,
    pub reported: bool,
}

impl FailedException {
    pub fn new(message: impl Into<String>) -> FailedException {
        FailedException {
            message: message.into(),
            reported: false,
        }
    }

    /// Fails the input and reports the error.
    pub fn reported(message: impl Into<String>) -> FailedException {
        FailedException {
            message: message.into(),
            reported: true,
        }
    }
}

/// The [`Bolt`] that runs a [`BasicBolt`] (Storm's `BasicBoltExecutor`); what
/// [`TopologyBuilder::set_basic_bolt`](super::TopologyBuilder::set_basic_bolt) stores.
#[derive(Serialize, Deserialize)]
pub struct BasicBoltExecutor {
    bolt: Box<dyn BasicBolt>,
}

impl BasicBoltExecutor {
    pub fn new(bolt: Box<dyn BasicBolt>) -> BasicBoltExecutor {
        BasicBoltExecutor { bolt }
    }
}

#[typetag::serde(name = "storm::BasicBoltExecutor")]
impl Bolt for BasicBoltExecutor {
    fn prepare(
        &mut self,
        conf: &ConfMap,
        context: &TopologyContext,
        _collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.bolt.prepare(conf, context)
    }

    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let result = {
            let mut basic = BasicOutputCollector::new(collector, &input);
            self.bolt.execute(&input, &mut basic)
        };
        match result {
            Ok(()) => {
                collector.ack(&input);
                Ok(())
            }
            Err(e) => match e.downcast_ref::<FailedException>() {
                Some(failed) => {
                    if failed.reported {
                        collector.report_error(failed);
                    }
                    collector.fail(&input);
                    Ok(())
                }
                None => Err(e),
            },
        }
    }

    fn cleanup(&mut self) {
        self.bolt.cleanup();
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        self.bolt.declare_output_fields(declarer);
    }

    fn component_configuration(&self) -> Option<ConfMap> {
        self.bolt.component_configuration()
    }
}
