//! [`LinearDRPCTopologyBuilder`] (Storm's, with `PrepareRequest` and `JoinResult`).
//!
//! | Component | Object | Inputs |
//! |---|---|---|
//! | `spout` | [`DRPCSpout`] | – |
//! | `prepare-request` | [`PrepareRequest`] | none grouping from `spout` |
//! | `bolt0` … `bolt{k-1}` | the user's bolts in [`CoordinatedBolt`]s | `bolt0`: its declarations on `prepare-request` (default: none grouping); `bolt{i}`: its declarations on `bolt{i-1}` + direct grouping on `bolt{i-1}`'s coordination stream; the last bolt, when it is a [`BatchBolt`], also `prepare-request`'s `id` stream by `request` |
//! | `bolt{k}` | [`JoinResult`] | fields grouping on the last bolt's first field, and on `ret` by `request` |
//! | `bolt{k+1}` | [`ReturnResults`] | none grouping from `bolt{k}` |
//!
//! The first user bolt receives `[request, args]`; every tuple after it must carry the request id as
//! its first value; the last bolt declares exactly one stream of two fields `[id, result]`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::api::{
    conf_i64, BasicBolt, BasicBoltExecutor, BasicOutputCollector, Bolt, ComponentError, ConfMap,
    OutputCollector, OutputFieldsDeclarer, TopologyBuilder, TopologyContext, TopologyError, Tuple,
};
use crate::grouping::{entropy_seed, JavaRandom};
use crate::thrift::{Grouping, NullStruct, StormTopology};
use crate::topology::system::DEFAULT_STREAM_ID;
use crate::tuple::Value;

use super::coordinated::{BatchBolt, CoordinatedBolt, SourceArgs, COORDINATED_STREAM_ID};
use super::local::LocalDRPC;
use super::return_results::ReturnResults;
use super::spout::DRPCSpout;

/// The spout's component id.
pub const SPOUT_ID: &str = "spout";
/// The `PrepareRequest` component id.
pub const PREPARER_COMPONENT: &str = "prepare-request";
/// `PrepareRequest`'s streams.
pub const ARGS_STREAM: &str = DEFAULT_STREAM_ID;
pub const RETURN_STREAM: &str = "ret";
pub const ID_STREAM: &str = "id";

fn bolt_id(i: usize) -> String {
    format!("bolt{i}")
}

/// Gives each request a fresh random id: `[args, return-info]` → `[request, args]` on `default`,
/// `[request, return]` on `ret`, `[request]` on `id` (Storm's `PrepareRequest`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PrepareRequest {
    #[serde(skip)]
    rng: Option<JavaRandom>,
}

#[typetag::serde(name = "storm::drpc::PrepareRequest")]
impl BasicBolt for PrepareRequest {
    fn execute(
        &mut self,
        input: &Tuple,
        collector: &mut BasicOutputCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let args = input.value(0)?.clone();
        let ret = input.value(1)?.clone();
        let request = self
            .rng
            .get_or_insert_with(|| JavaRandom::new(entropy_seed() as i64))
            .next_long();
        collector.emit_stream(ARGS_STREAM, vec![Value::Long(request), args])?;
        collector.emit_stream(RETURN_STREAM, vec![Value::Long(request), ret])?;
        collector.emit_stream(ID_STREAM, vec![Value::Long(request)])?;
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare_stream(ARGS_STREAM, ["request", "args"]);
        declarer.declare_stream(RETURN_STREAM, ["request", "return"]);
        declarer.declare_stream(ID_STREAM, ["request"]);
    }
}

/// Joins the last bolt's `[id, result]` with `prepare-request`'s `[request, return]` on the request id
/// and emits `[result as a string, return-info]` anchored to both (Storm's `JoinResult`). Halves that
/// wait longer than the message timeout are dropped.
#[derive(Debug, Serialize, Deserialize)]
pub struct JoinResult {
    return_component: String,
    #[serde(skip)]
    returns: HashMap<String, (Tuple, Instant)>,
    #[serde(skip)]
    results: HashMap<String, (Tuple, Instant)>,
    #[serde(skip)]
    timeout: Option<Duration>,
}

impl JoinResult {
    pub fn new(return_component: impl Into<String>) -> JoinResult {
        JoinResult {
            return_component: return_component.into(),
            returns: HashMap::new(),
            results: HashMap::new(),
            timeout: None,
        }
    }
}

impl std::fmt::Debug for CoordinatedBolt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CoordinatedBolt")
    }
}

#[typetag::serde(name = "storm::drpc::JoinResult")]
impl Bolt for JoinResult {
    fn prepare(
        &mut self,
        conf: &ConfMap,
        _context: &TopologyContext,
        _collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.timeout = Some(Duration::from_secs(
            conf_i64(conf, "topology.message.timeout.secs")
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(30),
        ));
        Ok(())
    }

    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if input.is_tick() {
            collector.ack(&input);
            return Ok(());
        }
        let now = Instant::now();
        if let Some(timeout) = self.timeout {
            self.returns
                .retain(|_, (_, at)| now.duration_since(*at) <= timeout);
            self.results
                .retain(|_, (_, at)| now.duration_since(*at) <= timeout);
        }
        let key = format!("{:?}", input.value(0)?);
        if input.source_component() == self.return_component {
            self.returns.insert(key.clone(), (input, now));
        } else {
            self.results.insert(key.clone(), (input, now));
        }
        if self.returns.contains_key(&key) && self.results.contains_key(&key) {
            let (result, _) = self.results.remove(&key).expect("checked");
            let (returner, _) = self.returns.remove(&key).expect("checked");
            let text = result.value(1)?.java_to_string();
            let info = returner.value(1)?.clone();
            collector.emit_anchored_many(&[&result, &returner], vec![Value::from(text), info])?;
            collector.ack(&result);
            collector.ack(&returner);
        }
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["result", "return-info"]);
    }
}

enum UserBolt {
    Bolt(Box<dyn Bolt>),
    Batch(Box<dyn BatchBolt>),
}

struct Component {
    bolt: UserBolt,
    parallelism: u32,
    /// (stream, grouping) on the previous component.
    declarations: Vec<(String, Grouping)>,
}

/// Declares how a user bolt subscribes to the previous component (Storm's `LinearDRPCInputDeclarer`).
pub struct LinearDRPCInputDeclarer<'a> {
    declarations: &'a mut Vec<(String, Grouping)>,
}

impl LinearDRPCInputDeclarer<'_> {
    /// Subscribes to `stream` of the previous component with `grouping`.
    pub fn grouping(self, stream: &str, grouping: Grouping) -> Self {
        self.declarations.push((stream.to_owned(), grouping));
        self
    }

    pub fn shuffle_grouping(self) -> Self {
        self.grouping(DEFAULT_STREAM_ID, Grouping::Shuffle(NullStruct {}))
    }

    pub fn local_or_shuffle_grouping(self) -> Self {
        self.grouping(DEFAULT_STREAM_ID, Grouping::LocalOrShuffle(NullStruct {}))
    }

    pub fn none_grouping(self) -> Self {
        self.grouping(DEFAULT_STREAM_ID, Grouping::None(NullStruct {}))
    }

    pub fn all_grouping(self) -> Self {
        self.grouping(DEFAULT_STREAM_ID, Grouping::All(NullStruct {}))
    }

    pub fn global_grouping(self) -> Self {
        self.grouping(DEFAULT_STREAM_ID, Grouping::Fields(Vec::new()))
    }

    pub fn direct_grouping(self) -> Self {
        self.grouping(DEFAULT_STREAM_ID, Grouping::Direct(NullStruct {}))
    }

    pub fn fields_grouping<I, S>(self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fields_grouping_stream(DEFAULT_STREAM_ID, fields)
    }

    pub fn fields_grouping_stream<I, S>(self, stream: &str, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let fields = fields.into_iter().map(Into::into).collect();
        self.grouping(stream, Grouping::Fields(fields))
    }
}

/// Builds a linear DRPC topology for one function; see the module docs.
pub struct LinearDRPCTopologyBuilder {
    function: String,
    components: Vec<Component>,
}

fn declare_error(component: &str, message: impl Into<String>) -> TopologyError {
    TopologyError::Declare {
        component: component.to_owned(),
        message: message.into(),
    }
}

impl LinearDRPCTopologyBuilder {
    pub fn new(function: impl Into<String>) -> LinearDRPCTopologyBuilder {
        LinearDRPCTopologyBuilder {
            function: function.into(),
            components: Vec::new(),
        }
    }

    pub fn function(&self) -> &str {
        &self.function
    }

    fn add(&mut self, bolt: UserBolt, parallelism: u32) -> LinearDRPCInputDeclarer<'_> {
        self.components.push(Component {
            bolt,
            parallelism,
            declarations: Vec::new(),
        });
        LinearDRPCInputDeclarer {
            declarations: &mut self.components.last_mut().expect("pushed").declarations,
        }
    }

    /// Appends a bolt run by `parallelism` executors.
    pub fn add_bolt(
        &mut self,
        bolt: impl Bolt + 'static,
        parallelism: u32,
    ) -> LinearDRPCInputDeclarer<'_> {
        self.add(UserBolt::Bolt(Box::new(bolt)), parallelism)
    }

    /// Appends a basic bolt (auto-anchoring, auto-acking).
    pub fn add_basic_bolt(
        &mut self,
        bolt: impl BasicBolt + 'static,
        parallelism: u32,
    ) -> LinearDRPCInputDeclarer<'_> {
        let bolt: Box<dyn Bolt> = Box::new(BasicBoltExecutor::new(Box::new(bolt)));
        self.add(UserBolt::Bolt(bolt), parallelism)
    }

    /// Appends a batch bolt: one instance per request, finished when the request is complete.
    pub fn add_batch_bolt(
        &mut self,
        bolt: impl BatchBolt + 'static,
        parallelism: u32,
    ) -> LinearDRPCInputDeclarer<'_> {
        self.add(UserBolt::Batch(Box::new(bolt)), parallelism)
    }

    /// The topology for local mode, served by `drpc`.
    pub fn create_local_topology(&self, drpc: &LocalDRPC) -> Result<StormTopology, TopologyError> {
        self.create(DRPCSpout::local(self.function.clone(), drpc))
    }

    /// The topology for a cluster (servers from `drpc.servers`).
    pub fn create_remote_topology(&self) -> Result<StormTopology, TopologyError> {
        self.create(DRPCSpout::new(self.function.clone()))
    }

    fn create(&self, spout: DRPCSpout) -> Result<StormTopology, TopologyError> {
        let Some(last) = self.components.last() else {
            return Err(declare_error(
                "bolt0",
                "a LinearDRPCTopology needs at least one bolt",
            ));
        };
        let k = self.components.len();
        let mut last_decl = OutputFieldsDeclarer::new();
        match &last.bolt {
            UserBolt::Bolt(b) => b.declare_output_fields(&mut last_decl),
            UserBolt::Batch(b) => b.declare_output_fields(&mut last_decl),
        }
        let last_id = bolt_id(k - 1);
        let streams = last_decl
            .into_streams()
            .map_err(|e| declare_error(&last_id, e.join("; ")))?;
        if streams.len() != 1 {
            return Err(declare_error(
                &last_id,
                "Must declare exactly one stream from last bolt in LinearDRPCTopology",
            ));
        }
        let (out_stream, info) = streams.into_iter().next().expect("one stream");
        if info.output_fields.len() != 2 {
            return Err(declare_error(
                &last_id,
                "Output stream of last component in LinearDRPCTopology must contain exactly two fields. The first should be the request id, and the second should be the result.",
            ));
        }

        let mut builder = TopologyBuilder::new();
        builder.set_spout(SPOUT_ID, spout, 1);
        builder
            .set_basic_bolt(PREPARER_COMPONENT, PrepareRequest::default(), 1)
            .none_grouping(SPOUT_ID);
        for (i, component) in self.components.iter().enumerate() {
            let id = bolt_id(i);
            let mut sources = BTreeMap::new();
            if i == 1 {
                sources.insert(bolt_id(0), SourceArgs::Single);
            } else if i >= 2 {
                sources.insert(bolt_id(i - 1), SourceArgs::All);
            }
            let is_batch = matches!(component.bolt, UserBolt::Batch(_));
            let id_stream = (i == k - 1 && is_batch)
                .then(|| (PREPARER_COMPONENT.to_owned(), ID_STREAM.to_owned()));
            let coordinated = match &component.bolt {
                UserBolt::Bolt(b) => {
                    let copy: Box<dyn Bolt> = serde_json::to_string(b)
                        .and_then(|s| serde_json::from_str(&s))
                        .map_err(|e| declare_error(&id, format!("cannot copy the bolt: {e}")))?;
                    CoordinatedBolt::new(copy, sources, id_stream.clone())
                }
                UserBolt::Batch(b) => {
                    let copy: Box<dyn BatchBolt> = serde_json::to_string(b)
                        .and_then(|s| serde_json::from_str(&s))
                        .map_err(|e| declare_error(&id, format!("cannot copy the bolt: {e}")))?;
                    CoordinatedBolt::batch(copy, sources, id_stream.clone())
                }
            };
            let mut declarer = builder.set_bolt(&id, coordinated, component.parallelism);
            if id_stream.is_some() {
                declarer =
                    declarer.fields_grouping_stream(PREPARER_COMPONENT, ID_STREAM, ["request"]);
            }
            let prev = if i == 0 {
                PREPARER_COMPONENT.to_owned()
            } else {
                bolt_id(i - 1)
            };
            if i == 0 && component.declarations.is_empty() {
                declarer = declarer.none_grouping_stream(PREPARER_COMPONENT, ARGS_STREAM);
            } else {
                for (stream, grouping) in &component.declarations {
                    declarer = declarer.grouping(&prev, stream, grouping.clone());
                }
            }
            if i > 0 {
                declarer.direct_grouping_stream(&prev, COORDINATED_STREAM_ID);
            }
        }
        let first_field = info.output_fields[0].clone();
        builder
            .set_bolt(
                &bolt_id(k),
                JoinResult::new(PREPARER_COMPONENT),
                last.parallelism,
            )
            .fields_grouping_stream(&last_id, &out_stream, [first_field])
            .fields_grouping_stream(PREPARER_COMPONENT, RETURN_STREAM, ["request"]);
        builder
            .set_bolt(&bolt_id(k + 1), ReturnResults::new(), last.parallelism)
            .none_grouping(&bolt_id(k));
        builder.create_topology()
    }
}
