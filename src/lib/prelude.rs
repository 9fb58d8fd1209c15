//! What a topology author needs in scope: `use storm::prelude::*;`.
//!
//! Components also need `serde` and `typetag` (`#[derive(Serialize, Deserialize)]` on the type and
//! `#[typetag::serde]` on the `impl Spout`/`impl Bolt`/`impl BasicBolt` block).

pub use crate::api::{
    BasicBolt, BasicOutputCollector, Bolt, BoltDeclarer, ComponentError, ConfMap, EmitError,
    FailedException, MessageId, OutputCollector, OutputFieldsDeclarer, Spout, SpoutDeclarer,
    SpoutOutputCollector, TopologyBuilder, TopologyConf, TopologyContext, Tuple,
};
pub use crate::local::{LocalCluster, RebalanceOptions};
pub use crate::state::{KeyValueState, StatefulBolt};
pub use crate::thrift::StormTopology;
pub use crate::tuple::{Fields, Value, Values};
pub use crate::values;
pub use crate::window::{
    BaseWindowedBolt, Count, Duration as WindowDuration, TupleWindow, WindowedBolt,
    WindowedBoltExecutor,
};
