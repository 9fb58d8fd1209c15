//! Stream groupings: which tasks of a subscribing component receive each tuple (storm-internals §6).
//!
//! * [`Grouping`] describes a subscription's grouping, mirroring the Thrift `Grouping` union (kept
//!   independent of the generated Thrift types; a conversion lives with them).
//! * [`Grouper`] is the prepared, per-(source executor, stream, target component) router. It is built by
//!   [`Grouper::new`] (Storm's `GrouperFactory.mkGrouper`) from the target component's task ids (sorted
//!   here, as Storm does) and a [`GrouperContext`], and [`Grouper::choose_tasks`] appends the chosen task
//!   ids to a caller-owned buffer, so routing a tuple allocates nothing.
//! * Exact semantics: fields = `floorMod(deepHashCode(selected values), n)` over the sorted targets;
//!   global = lowest task; all = every task; none = uniformly random per tuple; shuffle = Storm's
//!   load-aware shuffle, or its round-robin `ShuffleGrouping` when load-aware messaging is disabled
//!   ([`shuffle`]); local-or-shuffle = shuffle over this worker's targets when it has any;
//!   partial key = [`partial_key`]; custom = a user [`CustomStreamGrouping`].
//! * Direct groupings are not routed by a grouper: the emitter calls [`direct_emit_target`], and a regular
//!   emit on a stream with a direct subscriber fails with Storm's error (see [`GroupingError`]).

pub mod partial_key;
pub mod random;
pub mod shuffle;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::tuple::{Fields, FieldsError, Value};

pub use partial_key::PartialKeyGrouper;
pub use random::{entropy_seed, JavaRandom};
pub use shuffle::{
    LoadAwareShuffleGrouper, LoadMapping, LocalityScope, NodePort, ShuffleGrouper, TaskLocations,
    DEFAULT_HIGHER_BOUND, DEFAULT_LOWER_BOUND,
};

/// How a component subscribes to a stream (the Thrift `Grouping` union).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Grouping {
    /// Fields grouping on these fields, in this order; an empty list is a **global** grouping.
    Fields(Vec<String>),
    /// Shuffle (load-aware unless `topology.disable.loadaware.messaging`).
    Shuffle,
    /// Shuffle restricted to targets in the emitting worker when there are any.
    LocalOrShuffle,
    /// Every target task gets a copy.
    All,
    /// A random target per tuple.
    None,
    /// The producer picks the task with `emit_direct`.
    Direct,
    /// Storm's `PartialKeyGrouping` on these fields; an empty list keys on the first value's string form.
    PartialKey(Vec<String>),
    /// A user grouping: a name the worker resolves through a [`CustomGroupingFactory`], and its
    /// serialized configuration.
    Custom { name: String, payload: Vec<u8> },
}

impl Grouping {
    /// `globalGrouping`: fields grouping on no fields, i.e. the lowest target task.
    pub fn global() -> Grouping {
        Grouping::Fields(Vec::new())
    }

    /// `fieldsGrouping(fields…)`.
    pub fn fields<I, S>(names: I) -> Grouping
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Grouping::Fields(names.into_iter().map(Into::into).collect())
    }

    /// `partialKeyGrouping(fields…)`.
    pub fn partial_key<I, S>(names: I) -> Grouping
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Grouping::PartialKey(names.into_iter().map(Into::into).collect())
    }

    pub fn is_global(&self) -> bool {
        matches!(self, Grouping::Fields(f) if f.is_empty())
    }

    pub fn is_direct(&self) -> bool {
        matches!(self, Grouping::Direct)
    }
}

/// Errors from preparing a grouper or routing a tuple. The two emit errors carry Storm's exact messages.
#[derive(Debug, thiserror::Error)]
pub enum GroupingError {
    /// A regular emit on a stream that a component subscribes to with a direct grouping.
    #[error("Cannot do regular emit to direct stream")]
    RegularEmitToDirectStream,
    /// An `emit_direct` to a task whose component subscribes with a non-direct grouping.
    #[error("Cannot emitDirect to a task expecting a regular grouping")]
    DirectEmitToRegularGrouping,
    /// The grouping names a field the source stream does not declare (found when preparing).
    #[error("grouping of stream {stream} of component {component}: {source}")]
    BadGroupingFields {
        component: String,
        stream: String,
        #[source]
        source: FieldsError,
    },
    /// The tuple lacks a value the grouping needs.
    #[error(transparent)]
    Fields(#[from] FieldsError),
    /// No factory knows the custom grouping's name.
    #[error("unknown custom grouping \"{0}\"")]
    UnknownCustomGrouping(String),
    /// A custom grouping failed.
    #[error("custom grouping {name}: {message}")]
    Custom { name: String, message: String },
}

/// What a grouper learns when it is prepared (the parts of Storm's `WorkerTopologyContext` groupings
/// read), and its configuration.
#[derive(Debug, Clone)]
pub struct GrouperContext<'a> {
    /// The emitting component.
    pub source_component: &'a str,
    /// The stream being subscribed to.
    pub source_stream: &'a str,
    /// The fields the source component declares on that stream.
    pub output_fields: &'a Fields,
    /// The task ids run by this worker (for local-or-shuffle and locality).
    pub this_worker_tasks: &'a [i32],
    /// Placement of the topology's tasks, for load-aware locality; `None` treats `this_worker_tasks` as
    /// worker-local and every other task as of unknown placement.
    pub task_locations: Option<&'a TaskLocations>,
    /// `!topology.disable.loadaware.messaging`.
    pub load_aware: bool,
    /// `topology.localityaware.higher.bound`.
    pub higher_bound: f64,
    /// `topology.localityaware.lower.bound`.
    pub lower_bound: f64,
    /// Seed of the grouper's random choices (shuffle order, ring, `none`); give each grouper its own.
    pub seed: u64,
}

impl<'a> GrouperContext<'a> {
    /// A context with Storm's defaults: load-aware, bounds 0.8/0.2, no local tasks, entropy seed.
    pub fn new(
        source_component: &'a str,
        source_stream: &'a str,
        output_fields: &'a Fields,
    ) -> GrouperContext<'a> {
        GrouperContext {
            source_component,
            source_stream,
            output_fields,
            this_worker_tasks: &[],
            task_locations: None,
            load_aware: true,
            higher_bound: DEFAULT_HIGHER_BOUND,
            lower_bound: DEFAULT_LOWER_BOUND,
            seed: entropy_seed(),
        }
    }

    pub fn with_worker_tasks(mut self, tasks: &'a [i32]) -> Self {
        self.this_worker_tasks = tasks;
        self
    }

    pub fn with_task_locations(mut self, locations: &'a TaskLocations) -> Self {
        self.task_locations = Some(locations);
        self
    }

    pub fn with_load_aware(mut self, load_aware: bool) -> Self {
        self.load_aware = load_aware;
        self
    }

    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// A user-defined grouping (Storm's `CustomStreamGrouping`). It ignores load updates, as Storm's wrapper
/// does.
pub trait CustomStreamGrouping: Send {
    /// Called once with the sorted target tasks before any tuple is routed.
    fn prepare(
        &mut self,
        context: &GrouperContext<'_>,
        target_tasks: &[i32],
    ) -> Result<(), GroupingError>;

    /// Appends the tasks that receive `values` (emitted by `source_task`) to `out`.
    fn choose_tasks(
        &mut self,
        source_task: i32,
        values: &[Value],
        out: &mut Vec<i32>,
    ) -> Result<(), GroupingError>;
}

/// Builds custom groupings by name (e.g. a registry of the groupings compiled into the worker).
pub trait CustomGroupingFactory {
    fn create(
        &self,
        name: &str,
        payload: &[u8],
    ) -> Result<Box<dyn CustomStreamGrouping>, GroupingError>;
}

impl<F> CustomGroupingFactory for F
where
    F: Fn(&str, &[u8]) -> Result<Box<dyn CustomStreamGrouping>, GroupingError>,
{
    fn create(
        &self,
        name: &str,
        payload: &[u8],
    ) -> Result<Box<dyn CustomStreamGrouping>, GroupingError> {
        self(name, payload)
    }
}

/// A prepared grouping for one (source executor, stream, target component).
pub struct Grouper {
    inner: Inner,
}

enum Inner {
    Fields {
        targets: Vec<i32>,
        indices: Vec<usize>,
        names: Vec<String>,
    },
    Global(Option<i32>),
    All(Vec<i32>),
    None {
        targets: Vec<i32>,
        rng: JavaRandom,
    },
    Shuffle(ShuffleGrouper),
    LoadAwareShuffle(LoadAwareShuffleGrouper),
    PartialKey(PartialKeyGrouper),
    Direct,
    Custom(Box<dyn CustomStreamGrouping>),
}

impl Grouper {
    /// Storm's `mkGrouper`: sorts `target_tasks`, builds the grouper for `grouping` and prepares it.
    /// `custom` resolves [`Grouping::Custom`]; without it a custom grouping is an error.
    pub fn new(
        grouping: &Grouping,
        target_tasks: &[i32],
        context: &GrouperContext<'_>,
        custom: Option<&dyn CustomGroupingFactory>,
    ) -> Result<Grouper, GroupingError> {
        let mut targets = target_tasks.to_vec();
        targets.sort_unstable();
        let resolve = |names: &[String]| {
            context.output_fields.indices_of(names).map_err(|source| {
                GroupingError::BadGroupingFields {
                    component: context.source_component.to_owned(),
                    stream: context.source_stream.to_owned(),
                    source,
                }
            })
        };
        let inner = match grouping {
            Grouping::Fields(names) if names.is_empty() => Inner::Global(targets.first().copied()),
            Grouping::Fields(names) => Inner::Fields {
                indices: resolve(names)?,
                names: names.clone(),
                targets,
            },
            Grouping::Shuffle => shuffle(&targets, context),
            Grouping::LocalOrShuffle => {
                let local: Vec<i32> = targets
                    .iter()
                    .copied()
                    .filter(|t| context.this_worker_tasks.contains(t))
                    .collect();
                shuffle(if local.is_empty() { &targets } else { &local }, context)
            }
            Grouping::All => Inner::All(targets),
            Grouping::None => Inner::None {
                targets,
                rng: JavaRandom::new(context.seed as i64),
            },
            Grouping::Direct => Inner::Direct,
            Grouping::PartialKey(names) => {
                let indices = if names.is_empty() {
                    None
                } else {
                    Some(resolve(names)?)
                };
                Inner::PartialKey(PartialKeyGrouper::new(&targets, indices, names.clone()))
            }
            Grouping::Custom { name, payload } => {
                let factory =
                    custom.ok_or_else(|| GroupingError::UnknownCustomGrouping(name.clone()))?;
                let mut g = factory.create(name, payload)?;
                g.prepare(context, &targets)?;
                Inner::Custom(g)
            }
        };
        Ok(Grouper { inner })
    }

    /// Wraps an already built custom grouping, preparing it over the sorted `target_tasks`.
    pub fn from_custom(
        mut grouping: Box<dyn CustomStreamGrouping>,
        target_tasks: &[i32],
        context: &GrouperContext<'_>,
    ) -> Result<Grouper, GroupingError> {
        let mut targets = target_tasks.to_vec();
        targets.sort_unstable();
        grouping.prepare(context, &targets)?;
        Ok(Grouper {
            inner: Inner::Custom(grouping),
        })
    }

    /// Appends the tasks that receive a tuple with `values`, emitted by `source_task`, to `out` (Storm's
    /// `chooseTasks`). Nothing is appended without targets. On a direct grouping this is a regular emit
    /// to a direct stream, an error; when routing through several groupers, discard `out` on error.
    #[inline]
    pub fn choose_tasks(
        &mut self,
        source_task: i32,
        values: &[Value],
        out: &mut Vec<i32>,
    ) -> Result<(), GroupingError> {
        match &mut self.inner {
            Inner::Fields {
                targets,
                indices,
                names,
            } => {
                if targets.is_empty() {
                    return Ok(());
                }
                let mut h = 1i32;
                for (n, &i) in indices.iter().enumerate() {
                    let v = values.get(i).ok_or_else(|| FieldsError::MissingValue {
                        field: names[n].clone(),
                        index: i,
                        len: values.len(),
                    })?;
                    h = h.wrapping_mul(31).wrapping_add(v.java_hash_code());
                }
                out.push(targets[floor_mod(h, targets.len())]);
            }
            Inner::Global(target) => out.extend(*target),
            Inner::All(targets) => out.extend_from_slice(targets),
            Inner::None { targets, rng } => {
                if !targets.is_empty() {
                    out.push(targets[rng.next_index(targets.len())]);
                }
            }
            Inner::Shuffle(g) => out.extend(g.next_task()),
            Inner::LoadAwareShuffle(g) => out.extend(g.next_task()),
            Inner::PartialKey(g) => out.extend(g.choose(values)?),
            Inner::Direct => return Err(GroupingError::RegularEmitToDirectStream),
            Inner::Custom(g) => g.choose_tasks(source_task, values, out)?,
        }
        Ok(())
    }

    /// For a fields grouping on the tuple's first value alone (how every emitter's acker streams
    /// reach the `__acker` tasks, grouped on the root id): the route, which picks the same task as
    /// [`choose_tasks`](Self::choose_tasks) without its general dispatch. `None` for any other
    /// grouping.
    pub fn first_field_route(&self) -> Option<FirstFieldRoute> {
        match &self.inner {
            Inner::Fields {
                targets, indices, ..
            } if indices.as_slice() == [0] && !targets.is_empty() => Some(FirstFieldRoute {
                targets: targets.clone(),
            }),
            _ => None,
        }
    }

    /// [`choose_tasks`](Self::choose_tasks) into a new vector.
    pub fn choose(
        &mut self,
        source_task: i32,
        values: &[Value],
    ) -> Result<Vec<i32>, GroupingError> {
        let mut out = Vec::new();
        self.choose_tasks(source_task, values, &mut out)?;
        Ok(out)
    }

    /// Feeds the worker's periodic load snapshot to a load-aware shuffle; other groupers ignore it.
    pub fn refresh_load(&mut self, load: &LoadMapping) {
        if let Inner::LoadAwareShuffle(g) = &mut self.inner {
            g.refresh_load(load);
        }
    }

    /// Updates task placement for a load-aware shuffle (effective at the next load refresh).
    pub fn set_task_locations(
        &mut self,
        locations: Option<&TaskLocations>,
        this_worker_tasks: &[i32],
    ) {
        if let Inner::LoadAwareShuffle(g) = &mut self.inner {
            g.set_task_locations(locations, this_worker_tasks);
        }
    }

    /// Whether this is a direct grouping (routed only by `emit_direct`).
    pub fn is_direct(&self) -> bool {
        matches!(self.inner, Inner::Direct)
    }

    /// A short name of the grouper's kind, for logs.
    pub fn kind(&self) -> &'static str {
        match self.inner {
            Inner::Fields { .. } => "fields",
            Inner::Global(_) => "global",
            Inner::All(_) => "all",
            Inner::None { .. } => "none",
            Inner::Shuffle(_) => "shuffle",
            Inner::LoadAwareShuffle(_) => "load-aware-shuffle",
            Inner::PartialKey(_) => "partial-key",
            Inner::Direct => "direct",
            Inner::Custom(_) => "custom",
        }
    }
}

impl fmt::Debug for Grouper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grouper")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

fn shuffle(targets: &[i32], context: &GrouperContext<'_>) -> Inner {
    if context.load_aware {
        Inner::LoadAwareShuffle(LoadAwareShuffleGrouper::new(
            targets,
            context.task_locations,
            context.this_worker_tasks,
            context.higher_bound,
            context.lower_bound,
            context.seed,
        ))
    } else {
        Inner::Shuffle(ShuffleGrouper::new(targets, context.seed))
    }
}

/// A fields grouping on the first value, resolved (see [`Grouper::first_field_route`]).
#[derive(Debug, Clone)]
pub struct FirstFieldRoute {
    /// Sorted, never empty.
    targets: Vec<i32>,
}

impl FirstFieldRoute {
    /// The task a tuple whose first value is `first` goes to: [`fields_task_index`] of that
    /// one-value selection over the sorted targets.
    #[inline]
    pub fn choose(&self, first: &Value) -> i32 {
        let i = fields_task_index(std::slice::from_ref(first), self.targets.len());
        // The targets are never empty, so there is always an index.
        self.targets[i.unwrap_or(0)]
    }
}

/// Java's `Math.floorMod(hash, n)` as an index; `n` must be non-zero.
#[inline]
fn floor_mod(hash: i32, n: usize) -> usize {
    (i64::from(hash).rem_euclid(n as i64)) as usize
}

/// Storm's `TupleUtils.chooseTaskIndex`: `floorMod(deepHashCode(selected), n)`, `None` when `n` is 0.
#[inline]
pub fn fields_task_index(selected: &[Value], n: usize) -> Option<usize> {
    (n > 0).then(|| floor_mod(crate::tuple::deep_hash_code(selected), n))
}

/// Storm's rules for `emit_direct(task, stream, …)` (`Task.getOutgoingTasks`): `target_grouper` is the
/// grouper of the component that owns `task` on that stream, if it subscribes. A direct subscriber gets
/// the tuple (`Ok(Some(task))`); a component that does not subscribe silently gets nothing
/// (`Ok(None)`); a regular subscriber is an error.
pub fn direct_emit_target(
    task: i32,
    target_grouper: Option<&Grouper>,
) -> Result<Option<i32>, GroupingError> {
    match target_grouper {
        None => Ok(None),
        Some(g) if g.is_direct() => Ok(Some(task)),
        Some(_) => Err(GroupingError::DirectEmitToRegularGrouping),
    }
}

/// Storm's check before a regular `emit` on a stream: no subscriber may use a direct grouping.
pub fn check_regular_emit<'g>(
    groupers: impl IntoIterator<Item = &'g Grouper>,
) -> Result<(), GroupingError> {
    if groupers.into_iter().any(Grouper::is_direct) {
        Err(GroupingError::RegularEmitToDirectStream)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
