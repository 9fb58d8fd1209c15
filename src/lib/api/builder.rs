//! [`TopologyBuilder`]: spouts and bolts wired with groupings into a Thrift `StormTopology` (Storm's
//! `TopologyBuilder`).

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::component::{BasicBolt, BasicBoltExecutor, Bolt, Spout};
use super::conf::ConfMap;
use super::declarer::OutputFieldsDeclarer;
use super::object::{
    bolt_object, custom_grouping, partial_key_grouping, spout_object, ComponentCodecError,
};
use crate::thrift::{
    Bolt as ThriftBolt, ComponentCommon, GlobalStreamId, Grouping, NullStruct, SpoutSpec,
    StormTopology,
};
use crate::topology::system::DEFAULT_STREAM_ID;

/// Why `create_topology` failed.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// Storm: `IllegalArgumentException("… has already been declared for id …")`.
    #[error("{kind} has already been declared for id {id}")]
    DuplicateId { kind: &'static str, id: String },
    #[error("component \"{component}\" declares its outputs wrongly: {message}")]
    Declare { component: String, message: String },
    #[error(transparent)]
    Component(#[from] ComponentCodecError),
    #[error("component \"{component}\" is configured wrongly: {message}")]
    Configuration { component: String, message: String },
}

#[derive(Default, Clone)]
struct Decl {
    parallelism: i32,
    conf: ConfMap,
    inputs: BTreeMap<GlobalStreamId, Grouping>,
}

impl Decl {
    fn new(parallelism: u32) -> Decl {
        Decl {
            parallelism: i32::try_from(parallelism).unwrap_or(i32::MAX),
            ..Decl::default()
        }
    }
}

/// Builds a topology: `set_spout`/`set_bolt` with a parallelism hint (executors), groupings on the
/// returned declarer, then [`create_topology`](Self::create_topology).
#[derive(Default)]
pub struct TopologyBuilder {
    spouts: BTreeMap<String, (Box<dyn Spout>, Decl)>,
    bolts: BTreeMap<String, (Box<dyn Bolt>, Decl)>,
    /// Duplicate ids: (kind, id).
    duplicates: Vec<(&'static str, String)>,
    discarded: Decl,
    /// Ids of the bolts added with `set_stateful_bolt`.
    stateful: std::collections::BTreeSet<String>,
}

impl TopologyBuilder {
    pub fn new() -> TopologyBuilder {
        TopologyBuilder::default()
    }

    fn id_taken(&self, id: &str) -> bool {
        self.spouts.contains_key(id) || self.bolts.contains_key(id)
    }

    /// Adds a spout run by `parallelism` executors (and as many tasks unless `set_num_tasks`).
    pub fn set_spout(
        &mut self,
        id: &str,
        spout: impl Spout + 'static,
        parallelism: u32,
    ) -> SpoutDeclarer<'_> {
        self.set_spout_boxed(id, Box::new(spout), parallelism)
    }

    pub fn set_spout_boxed(
        &mut self,
        id: &str,
        spout: Box<dyn Spout>,
        parallelism: u32,
    ) -> SpoutDeclarer<'_> {
        if self.id_taken(id) {
            self.duplicates.push(("Spout", id.to_owned()));
            self.discarded = Decl::new(parallelism);
            return SpoutDeclarer {
                decl: &mut self.discarded,
            };
        }
        let entry = self
            .spouts
            .entry(id.to_owned())
            .or_insert((spout, Decl::new(parallelism)));
        SpoutDeclarer { decl: &mut entry.1 }
    }

    /// Adds a bolt run by `parallelism` executors.
    pub fn set_bolt(
        &mut self,
        id: &str,
        bolt: impl Bolt + 'static,
        parallelism: u32,
    ) -> BoltDeclarer<'_> {
        self.set_bolt_boxed(id, Box::new(bolt), parallelism)
    }

    /// Adds a basic bolt (auto-anchoring, auto-acking), run by `parallelism` executors.
    pub fn set_basic_bolt(
        &mut self,
        id: &str,
        bolt: impl BasicBolt + 'static,
        parallelism: u32,
    ) -> BoltDeclarer<'_> {
        self.set_bolt_boxed(
            id,
            Box::new(BasicBoltExecutor::new(Box::new(bolt))),
            parallelism,
        )
    }

    /// Adds a stateful bolt (Storm's `setBolt(id, IStatefulBolt, …)`): it runs in a
    /// [`StatefulBoltExecutor`](crate::state::StatefulBoltExecutor), and the topology gets Storm's
    /// `$checkpointspout` and `$checkpoint` streams (see [`crate::state`]).
    pub fn set_stateful_bolt(
        &mut self,
        id: &str,
        bolt: impl crate::state::StatefulBolt + 'static,
        parallelism: u32,
    ) -> BoltDeclarer<'_> {
        if !self.id_taken(id) {
            self.stateful.insert(id.to_owned());
        }
        self.set_bolt_boxed(
            id,
            Box::new(crate::state::StatefulBoltExecutor::new(Box::new(bolt))),
            parallelism,
        )
    }

    pub fn set_bolt_boxed(
        &mut self,
        id: &str,
        bolt: Box<dyn Bolt>,
        parallelism: u32,
    ) -> BoltDeclarer<'_> {
        if self.id_taken(id) {
            self.duplicates.push(("Bolt", id.to_owned()));
            self.discarded = Decl::new(parallelism);
            return BoltDeclarer {
                decl: &mut self.discarded,
            };
        }
        let entry = self
            .bolts
            .entry(id.to_owned())
            .or_insert((bolt, Decl::new(parallelism)));
        BoltDeclarer { decl: &mut entry.1 }
    }

    /// The Thrift topology: every component serialized, its streams declared, its conf (the
    /// component's own configuration overlaid by the declarer's) and its subscriptions.
    pub fn create_topology(&self) -> Result<StormTopology, TopologyError> {
        if let Some((kind, id)) = self.duplicates.first() {
            return Err(TopologyError::DuplicateId {
                kind,
                id: id.clone(),
            });
        }
        let mut spouts = BTreeMap::new();
        for (id, (spout, decl)) in &self.spouts {
            let mut declarer = OutputFieldsDeclarer::new();
            spout.declare_output_fields(&mut declarer);
            let common = common(id, declarer, spout.component_configuration(), decl)?;
            spouts.insert(
                id.clone(),
                SpoutSpec {
                    spout_object: spout_object(id, spout.as_ref())?,
                    common,
                },
            );
        }
        let stateful = !self.stateful.is_empty();
        if stateful {
            self.add_checkpoint_spout(&mut spouts)?;
        }
        let mut bolts = BTreeMap::new();
        for (id, (bolt, decl)) in &self.bolts {
            if let Some(message) = bolt.configuration_error() {
                return Err(TopologyError::Configuration {
                    component: id.clone(),
                    message,
                });
            }
            // Storm's createTopology for stateful topologies: every other bolt is wrapped in a
            // CheckpointTupleForwarder, and every bolt subscribes to `$checkpoint`.
            let forwarder;
            let mut decl = decl;
            let checkpointed;
            let bolt: &dyn Bolt = if stateful {
                checkpointed = self.with_checkpoint_inputs(decl);
                decl = &checkpointed;
                if self.stateful.contains(id) {
                    bolt.as_ref()
                } else {
                    forwarder =
                        crate::state::CheckpointTupleForwarder::new(clone_bolt(id, bolt.as_ref())?);
                    &forwarder
                }
            } else {
                bolt.as_ref()
            };
            let mut declarer = OutputFieldsDeclarer::new();
            bolt.declare_output_fields(&mut declarer);
            let common = common(id, declarer, bolt.component_configuration(), decl)?;
            bolts.insert(
                id.clone(),
                ThriftBolt {
                    bolt_object: bolt_object(id, bolt)?,
                    common,
                },
            );
        }
        Ok(StormTopology {
            spouts,
            bolts,
            state_spouts: BTreeMap::new(),
            worker_hooks: None,
            dependency_jars: None,
            dependency_artifacts: None,
            storm_version: Some(crate::STORM_VERSION.to_owned()),
            jdk_version: None,
            component_to_shared_memory: None,
            shared_memory: None,
        })
    }
}

impl TopologyBuilder {
    fn add_checkpoint_spout(
        &self,
        spouts: &mut BTreeMap<String, SpoutSpec>,
    ) -> Result<(), TopologyError> {
        use crate::state::checkpoint::CHECKPOINT_COMPONENT_ID;
        if self.id_taken(CHECKPOINT_COMPONENT_ID) {
            return Err(TopologyError::DuplicateId {
                kind: "Spout",
                id: CHECKPOINT_COMPONENT_ID.to_owned(),
            });
        }
        let spout = crate::state::CheckpointSpout::new();
        let mut declarer = OutputFieldsDeclarer::new();
        spout.declare_output_fields(&mut declarer);
        let common = common(CHECKPOINT_COMPONENT_ID, declarer, None, &Decl::new(1))?;
        spouts.insert(
            CHECKPOINT_COMPONENT_ID.to_owned(),
            SpoutSpec {
                spout_object: spout_object(CHECKPOINT_COMPONENT_ID, &spout)?,
                common,
            },
        );
        Ok(())
    }

    /// Storm's `addCheckPointInputs`: `$checkpoint` of each input component (of `$checkpointspout`
    /// for spouts), all-grouped.
    fn with_checkpoint_inputs(&self, decl: &Decl) -> Decl {
        use crate::state::checkpoint::{CHECKPOINT_COMPONENT_ID, CHECKPOINT_STREAM_ID};
        let mut out = decl.clone();
        for input in decl.inputs.keys() {
            let source = if self.spouts.contains_key(&input.component_id) {
                CHECKPOINT_COMPONENT_ID
            } else {
                input.component_id.as_str()
            };
            out.inputs.insert(
                GlobalStreamId {
                    component_id: source.to_owned(),
                    stream_id: CHECKPOINT_STREAM_ID.to_owned(),
                },
                Grouping::All(NullStruct {}),
            );
        }
        out
    }
}

/// An owned copy of a bolt through its serde form (the builder keeps the user's bolt).
fn clone_bolt(id: &str, bolt: &dyn Bolt) -> Result<Box<dyn Bolt>, TopologyError> {
    let declare = |e: serde_json::Error| TopologyError::Declare {
        component: id.to_owned(),
        message: format!("cannot wrap it for checkpoints: {e}"),
    };
    let json = serde_json::to_value(bolt).map_err(declare)?;
    serde_json::from_value(json).map_err(declare)
}

fn common(
    id: &str,
    declarer: OutputFieldsDeclarer,
    component_conf: Option<ConfMap>,
    decl: &Decl,
) -> Result<ComponentCommon, TopologyError> {
    let streams = declarer
        .into_streams()
        .map_err(|errors| TopologyError::Declare {
            component: id.to_owned(),
            message: errors.join("; "),
        })?;
    let mut conf = component_conf.unwrap_or_default();
    for (k, v) in &decl.conf {
        conf.insert(k.clone(), v.clone());
    }
    Ok(ComponentCommon {
        inputs: decl.inputs.clone(),
        streams,
        parallelism_hint: Some(decl.parallelism),
        json_conf: if conf.is_empty() {
            None
        } else {
            Some(Json::Object(conf).to_string())
        },
    })
}

macro_rules! conf_methods {
    () => {
        /// Fixes the component's task count (`topology.tasks`); executors can then be rebalanced
        /// between 1 and this number.
        pub fn set_num_tasks(self, tasks: u32) -> Self {
            self.add_configuration("topology.tasks", tasks)
        }

        /// Adds a component-specific configuration entry.
        pub fn add_configuration(self, key: &str, value: impl Into<Json>) -> Self {
            self.decl.conf.insert(key.to_owned(), value.into());
            self
        }

        pub fn add_configurations(self, conf: ConfMap) -> Self {
            self.decl.conf.extend(conf);
            self
        }

        /// `topology.debug` for this component.
        pub fn set_debug(self, debug: bool) -> Self {
            self.add_configuration("topology.debug", debug)
        }

        /// `topology.max.task.parallelism` for this component.
        pub fn set_max_task_parallelism(self, n: u32) -> Self {
            self.add_configuration("topology.max.task.parallelism", n)
        }

        /// `topology.tick.tuple.freq.secs` for this component.
        pub fn set_tick_tuple_freq_secs(self, secs: u32) -> Self {
            self.add_configuration("topology.tick.tuple.freq.secs", secs)
        }
    };
}

/// Configures a spout just added.
pub struct SpoutDeclarer<'a> {
    decl: &'a mut Decl,
}

impl SpoutDeclarer<'_> {
    conf_methods!();

    /// `topology.max.spout.pending` for this spout.
    pub fn set_max_spout_pending(self, n: u32) -> Self {
        self.add_configuration("topology.max.spout.pending", n)
    }
}

/// Configures a bolt just added: its configuration and its subscriptions (groupings).
pub struct BoltDeclarer<'a> {
    decl: &'a mut Decl,
}

macro_rules! grouping_methods {
    ($($(#[$doc:meta])* $name:ident, $stream_name:ident => $make:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(self, component: &str) -> Self {
                self.grouping(component, DEFAULT_STREAM_ID, $make)
            }

            $(#[$doc])*
            /// On `stream` of `component`.
            pub fn $stream_name(self, component: &str, stream: &str) -> Self {
                self.grouping(component, stream, $make)
            }
        )*
    };
}

impl BoltDeclarer<'_> {
    conf_methods!();

    /// Subscribes to `stream` of `component` with a Thrift `grouping`.
    pub fn grouping(self, component: &str, stream: &str, grouping: Grouping) -> Self {
        self.decl.inputs.insert(
            GlobalStreamId {
                component_id: component.to_owned(),
                stream_id: stream.to_owned(),
            },
            grouping,
        );
        self
    }

    grouping_methods! {
        /// Shuffle grouping (load-aware unless `topology.disable.loadaware.messaging`).
        shuffle_grouping, shuffle_grouping_stream => Grouping::Shuffle(NullStruct {});
        /// Shuffle among this worker's tasks of the bolt when there are any.
        local_or_shuffle_grouping, local_or_shuffle_grouping_stream => Grouping::LocalOrShuffle(NullStruct {});
        /// Every task gets a copy.
        all_grouping, all_grouping_stream => Grouping::All(NullStruct {});
        /// The bolt's lowest task gets every tuple.
        global_grouping, global_grouping_stream => Grouping::Fields(Vec::new());
        /// A random task per tuple.
        none_grouping, none_grouping_stream => Grouping::None(NullStruct {});
        /// The producer picks the task with `emit_direct`.
        direct_grouping, direct_grouping_stream => Grouping::Direct(NullStruct {});
    }

    /// Tuples with equal values of `fields` go to the same task.
    pub fn fields_grouping<I, S>(self, component: &str, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fields_grouping_stream(component, DEFAULT_STREAM_ID, fields)
    }

    pub fn fields_grouping_stream<I, S>(self, component: &str, stream: &str, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let fields = fields.into_iter().map(Into::into).collect();
        self.grouping(component, stream, Grouping::Fields(fields))
    }

    /// Storm's `PartialKeyGrouping`: each key goes to the less loaded of two candidate tasks.
    pub fn partial_key_grouping<I, S>(self, component: &str, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.partial_key_grouping_stream(component, DEFAULT_STREAM_ID, fields)
    }

    pub fn partial_key_grouping_stream<I, S>(self, component: &str, stream: &str, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let fields = fields.into_iter().map(Into::into).collect();
        self.grouping(component, stream, partial_key_grouping(fields))
    }

    /// A user grouping registered with [`register_custom_grouping`](super::register_custom_grouping)
    /// under `name`, built from `payload` in each worker.
    pub fn custom_grouping(self, component: &str, name: &str, payload: Vec<u8>) -> Self {
        self.custom_grouping_stream(component, DEFAULT_STREAM_ID, name, payload)
    }

    pub fn custom_grouping_stream(
        self,
        component: &str,
        stream: &str,
        name: &str,
        payload: Vec<u8>,
    ) -> Self {
        self.grouping(component, stream, custom_grouping(name, payload))
    }
}
