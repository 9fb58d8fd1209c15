//! The topology author's API: spouts, bolts, tuples, collectors, contexts and the topology builder
//! (Storm's `org.apache.storm.topology` / `spout` / `task` / `tuple` packages, in Rust form).
//!
//! * [`Spout`] and [`Bolt`] are Storm's `IRichSpout` / `IRichBolt` lifecycles; [`BasicBolt`] is
//!   `IBasicBolt` (every emit anchored to the input, acked after `execute`, failed on a returned
//!   [`FailedException`]). The collector is passed to each call as `&mut` instead of being stored.
//! * [`Tuple`] carries [`Value`](crate::tuple::Value)s with their [`Fields`](crate::tuple::Fields),
//!   its source (component, task, stream) and typed getters by index and by field name.
//! * [`OutputCollector`], [`SpoutOutputCollector`] and [`BasicOutputCollector`] emit (returning the
//!   target task ids), ack, fail and report errors. They front a backend trait ([`BoltOutput`],
//!   [`SpoutOutput`]) that the executor implements, so components can also be driven by hand in tests.
//! * [`TopologyBuilder`] builds Storm's Thrift [`StormTopology`](crate::thrift::StormTopology) with
//!   every grouping; [`TopologyConf`] is the topology configuration with Storm's setters.
//!
//! # Components are serialized by type name
//!
//! A topology carries its components as bytes (DESIGN §5). A Rust component is a serde type registered
//! with [`typetag`]: the component's JSON form, externally tagged with its type name
//! (`{"SplitSentence": {...}}`), behind the 8-byte magic [`RUST_COMPONENT_MAGIC`] (`STORMRS1`), in
//! `ComponentObject::SerializedJava`. A worker rebuilds the component from those bytes, so the type
//! must be compiled into the executable that runs the worker. Implementations therefore look like:
//!
//! ```ignore
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct SplitSentence;
//!
//! #[typetag::serde]
//! impl BasicBolt for SplitSentence { /* … */ }
//! ```
//!
//! Type names must be unique in the executable; rename with `#[typetag::serde(name = "my::Name")]`.
//! Java-serialized objects (bytes starting `AC ED`) are refused with [`ComponentCodecError::JavaSerialized`].
//!
//! # Spout message ids
//!
//! A spout's message id ([`MessageId`]) is a [`Value`](crate::tuple::Value): a number, a string, or a
//! list/map of them — whatever identifies the message to the source. `emit` with `Some(id)` makes the
//! tuple reliable; `ack(id)` / `fail(id)` hand the same value back.

mod builder;
mod collector;
mod component;
mod conf;
mod context;
mod declarer;
mod object;
mod tuple;

pub use builder::{BoltDeclarer, SpoutDeclarer, TopologyBuilder, TopologyError};
pub use collector::{
    BasicOutputCollector, BoltOutput, EmitError, OutputCollector, SpoutOutput,
    SpoutOutputCollector, Waker,
};
pub use component::{BasicBolt, BasicBoltExecutor, Bolt, ComponentError, FailedException, Spout};
pub use conf::{conf_bool, conf_i64, ConfMap, TopologyConf};
pub use context::{StreamDecl, TopologyContext, WorkerTopologyContext};
pub use declarer::OutputFieldsDeclarer;
pub use object::{
    bolt_object, check_component_object, custom_grouping, decode_bolt, decode_spout,
    grouping_from_thrift, has_java_components, is_java_object, java_serialized_class,
    register_custom_grouping, registered_custom_grouping, spout_object, ComponentCodecError,
    CustomGroupingFn, PARTIAL_KEY_GROUPING_CLASS, RUST_COMPONENT_MAGIC,
};
pub(crate) use tuple::{take_values_read, TupleIds};
pub use tuple::{MessageId, Tuple, TupleError, TupleSource};

/// Builds tuple values from anything convertible to [`Value`](crate::tuple::Value):
/// `values!["word", 3i64]` is `vec![Value::from("word"), Value::from(3i64)]`.
#[macro_export]
macro_rules! values {
    ($($v:expr),* $(,)?) => {
        ::std::vec![$($crate::tuple::Value::from($v)),*]
    };
}

#[cfg(test)]
mod tests;
