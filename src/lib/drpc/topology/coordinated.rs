//! [`CoordinatedBolt`]: Storm's batch-completion wrapper (storm-internals §8.3), and [`BatchBolt`]
//! (Storm's `IBatchBolt` run by `BatchBoltExecutor`: one instance per request id, `finish_batch` when the
//! request is complete).
//!
//! Every tuple a coordinated bolt handles carries the request id as its first value. Per id the bolt
//! counts the tuples its delegate emitted to each task, and the request is finished when (a) it got the
//! id tuple (if it has an id stream), and (b) it got a coordination report `[id, count]` from every
//! upstream task (`Single` source: one report; `All`: one per upstream task) and its delegate acked
//! exactly as many tuples as the reports announced. Then the delegate's batch is finished and each
//! downstream task gets `[id, tuples sent to it]` on the direct coordination stream. Tracking entries
//! expire after `topology.message.timeout.secs`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::api::{
    conf_i64, Bolt, BoltOutput, ComponentError, ConfMap, EmitError, FailedException,
    OutputCollector, OutputFieldsDeclarer, TopologyContext, Tuple,
};
use crate::tuple::{Value, Values};

/// Storm's `Constants.COORDINATED_STREAM_ID`.
pub const COORDINATED_STREAM_ID: &str =
    "org.apache.storm.coordination.CoordinatedBolt/coord-stream";

/// How many coordination reports an upstream component sends per request (Storm's `SourceArgs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceArgs {
    /// One report: only one upstream task handles each request.
    Single,
    /// One report from each upstream task.
    All,
}

/// A bolt that processes one request (batch) at a time: a fresh instance per request id, prepared with
/// the id, `execute` for each of its tuples (acked after `execute`; a [`FailedException`] fails it) and
/// `finish_batch` once the request is complete (Storm's `IBatchBolt`). Implement with
/// `#[typetag::serde]`; the instance given to the builder is the prototype every batch is copied from.
#[typetag::serde]
pub trait BatchBolt: Send {
    fn prepare(
        &mut self,
        _conf: &ConfMap,
        _context: &TopologyContext,
        _id: &Value,
    ) -> Result<(), ComponentError> {
        Ok(())
    }

    fn execute(
        &mut self,
        input: &Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError>;

    /// Every tuple of the batch was processed: emit the batch's results.
    fn finish_batch(&mut self, collector: &mut OutputCollector<'_>) -> Result<(), ComponentError>;

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer);

    fn component_configuration(&self) -> Option<ConfMap> {
        None
    }
}

#[derive(Serialize, Deserialize)]
enum Delegate {
    Bolt(Box<dyn Bolt>),
    Batch(Box<dyn BatchBolt>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Regular,
    Coord,
    Id,
}

struct Track {
    id: Value,
    report_count: u64,
    expected: i64,
    received: i64,
    received_id: bool,
    failed: bool,
    ack_tuples: Vec<Tuple>,
    task_emitted: HashMap<i32, i64>,
    created: Instant,
}

struct Runtime {
    conf: ConfMap,
    context: TopologyContext,
    num_source_reports: u64,
    count_out_tasks: Vec<i32>,
    tracked: HashMap<String, Track>,
    batches: HashMap<String, Box<dyn BatchBolt>>,
    batch_prototype: String,
    timeout: Duration,
    last_sweep: Instant,
}

/// Wraps a bolt (or a [`BatchBolt`]) with per-request completion tracking; see the module docs.
#[derive(Serialize, Deserialize)]
pub struct CoordinatedBolt {
    delegate: Delegate,
    sources: BTreeMap<String, SourceArgs>,
    /// The id stream: (component, stream).
    id_stream: Option<(String, String)>,
    #[serde(skip)]
    rt: Option<Runtime>,
}

/// The map key of a request id.
fn key_of(v: &Value) -> String {
    format!("{v:?}")
}

/// Counts the delegate's emits per request and task; records its acks and fails for later.
struct Counting<'c, 'a> {
    inner: &'c mut OutputCollector<'a>,
    tracked: &'c mut HashMap<String, Track>,
    settled: &'c mut VecDeque<(Tuple, bool)>,
}

impl BoltOutput for Counting<'_, '_> {
    fn emit(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: Values,
        direct_task: Option<i32>,
    ) -> Result<Vec<i32>, EmitError> {
        let key = values.first().map(key_of);
        let tasks = match direct_task {
            Some(t) => self.inner.emit_direct(t, stream, anchors, values)?,
            None => self.inner.emit_stream(stream, anchors, values)?,
        };
        if let Some(track) = key.and_then(|k| self.tracked.get_mut(&k)) {
            for t in &tasks {
                *track.task_emitted.entry(*t).or_default() += 1;
            }
        }
        Ok(tasks)
    }

    fn ack(&mut self, input: &Tuple) {
        self.settled.push_back((input.clone(), true));
    }

    fn fail(&mut self, input: &Tuple) {
        self.settled.push_back((input.clone(), false));
    }

    fn reset_timeout(&mut self, input: &Tuple) {
        self.inner.reset_timeout(input);
    }

    fn report_error(&mut self, message: String) {
        self.inner.report_error(message);
    }
}

impl CoordinatedBolt {
    /// Wraps `bolt`; `sources` are the upstream components that send coordination reports, `id_stream`
    /// the (component, stream) whose tuples announce request ids.
    pub fn new(
        bolt: Box<dyn Bolt>,
        sources: BTreeMap<String, SourceArgs>,
        id_stream: Option<(String, String)>,
    ) -> CoordinatedBolt {
        CoordinatedBolt {
            delegate: Delegate::Bolt(bolt),
            sources,
            id_stream,
            rt: None,
        }
    }

    /// Wraps a batch bolt (which finishes its batch when the request completes).
    pub fn batch(
        bolt: Box<dyn BatchBolt>,
        sources: BTreeMap<String, SourceArgs>,
        id_stream: Option<(String, String)>,
    ) -> CoordinatedBolt {
        CoordinatedBolt {
            delegate: Delegate::Batch(bolt),
            sources,
            id_stream,
            rt: None,
        }
    }

    /// Whether the delegate finishes batches (Storm's `FinishedCallback`).
    pub fn has_finished_callback(&self) -> bool {
        matches!(self.delegate, Delegate::Batch(_))
    }

    fn kind(&self, t: &Tuple) -> Kind {
        if let Some((c, s)) = &self.id_stream {
            if t.source_component() == c && t.source_stream() == s {
                return Kind::Id;
            }
        }
        if !self.sources.is_empty() && t.source_stream() == COORDINATED_STREAM_ID {
            return Kind::Coord;
        }
        Kind::Regular
    }

    fn runtime(&mut self) -> Result<&mut Runtime, ComponentError> {
        self.rt
            .as_mut()
            .ok_or_else(|| "CoordinatedBolt used before prepare".into())
    }

    /// Expires tracking entries older than the message timeout.
    fn sweep(&mut self, collector: &mut OutputCollector<'_>) {
        let Some(rt) = self.rt.as_mut() else { return };
        let now = Instant::now();
        if now.duration_since(rt.last_sweep) < Duration::from_secs(1) {
            return;
        }
        rt.last_sweep = now;
        let timeout = rt.timeout;
        let expired: Vec<String> = rt
            .tracked
            .iter()
            .filter(|(_, t)| now.duration_since(t.created) > timeout)
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            if let Some(track) = rt.tracked.remove(&k) {
                tracing::debug!(id = ?track.id, "coordinated request timed out");
                for t in &track.ack_tuples {
                    collector.fail(t);
                }
            }
            rt.batches.remove(&k);
        }
    }

    /// The batch bolt of request `id`, created and prepared on first use.
    fn batch_bolt<'r>(
        rt: &'r mut Runtime,
        key: &str,
        id: &Value,
    ) -> Result<&'r mut Box<dyn BatchBolt>, ComponentError> {
        if !rt.batches.contains_key(key) {
            let mut bolt: Box<dyn BatchBolt> = serde_json::from_str(&rt.batch_prototype)?;
            bolt.prepare(&rt.conf, &rt.context, id)?;
            rt.batches.insert(key.to_owned(), bolt);
        }
        Ok(rt.batches.get_mut(key).expect("inserted above"))
    }

    /// Storm's `checkFinishId`: returns whether the request failed; acks and fails the delegate made
    /// while finishing go to `settled`.
    fn check_finish(
        &mut self,
        tup: &Tuple,
        kind: Kind,
        collector: &mut OutputCollector<'_>,
        settled: &mut VecDeque<(Tuple, bool)>,
    ) -> Result<bool, ComponentError> {
        let has_id_stream = self.id_stream.is_some();
        let no_sources = self.sources.is_empty();
        let is_batch = matches!(self.delegate, Delegate::Batch(_));
        let rt = self
            .rt
            .as_mut()
            .ok_or("CoordinatedBolt used before prepare")?;
        let Some(id) = tup.get(0) else {
            return Ok(false);
        };
        let key = key_of(id);
        let Some(track) = rt.tracked.get_mut(&key) else {
            if kind != Kind::Regular {
                collector.fail(tup);
            }
            return Ok(false);
        };
        let mut delayed = false;
        if (!has_id_stream && kind == Kind::Coord) || (has_id_stream && kind == Kind::Id) {
            track.ack_tuples.push(tup.clone());
            delayed = true;
        }
        let mut failed = track.failed;
        let done = track.received_id
            && (no_sources
                || (track.report_count == rt.num_source_reports
                    && track.expected == track.received));
        if !failed && done {
            let id = track.id.clone();
            let mut finish_failed = false;
            if is_batch {
                let mut bolt = match rt.batches.remove(&key) {
                    Some(b) => b,
                    None => {
                        Self::batch_bolt(rt, &key, &id)?;
                        rt.batches.remove(&key).expect("just created")
                    }
                };
                let mut counting = Counting {
                    inner: collector,
                    tracked: &mut rt.tracked,
                    settled,
                };
                let mut out = OutputCollector::new(&mut counting);
                if let Err(e) = bolt.finish_batch(&mut out) {
                    match e.downcast_ref::<FailedException>() {
                        Some(f) => {
                            if f.reported {
                                collector.report_error(f);
                            }
                            finish_failed = true;
                        }
                        None => return Err(e),
                    }
                }
            }
            let track = rt.tracked.remove(&key).expect("tracked above");
            if finish_failed {
                failed = true;
                for t in &track.ack_tuples {
                    collector.fail(t);
                }
            } else {
                for &task in &rt.count_out_tasks {
                    let n = track.task_emitted.get(&task).copied().unwrap_or(0);
                    collector.emit_direct(
                        task,
                        COORDINATED_STREAM_ID,
                        &[tup],
                        vec![id.clone(), Value::Int(i32::try_from(n).unwrap_or(i32::MAX))],
                    )?;
                }
                for t in &track.ack_tuples {
                    collector.ack(t);
                }
            }
        } else if failed {
            let track = rt.tracked.remove(&key).expect("tracked above");
            for t in &track.ack_tuples {
                collector.fail(t);
            }
            rt.batches.remove(&key);
        }
        if !delayed && kind != Kind::Regular {
            if failed {
                collector.fail(tup);
            } else {
                collector.ack(tup);
            }
        }
        Ok(failed)
    }

    /// Applies the delegate's acks and fails: counts them, checks completion, then passes them on.
    fn settle(
        &mut self,
        mut settled: VecDeque<(Tuple, bool)>,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        while let Some((t, acked)) = settled.pop_front() {
            if t.is_tick() || t.is_empty() {
                if acked {
                    collector.ack(&t);
                } else {
                    collector.fail(&t);
                }
                continue;
            }
            let key = key_of(t.get(0).expect("not empty"));
            if let Some(track) = self.runtime()?.tracked.get_mut(&key) {
                if acked {
                    track.received += 1;
                } else {
                    track.failed = true;
                }
            }
            let failed = self.check_finish(&t, Kind::Regular, collector, &mut settled)?;
            if acked && !failed {
                collector.ack(&t);
            } else {
                collector.fail(&t);
            }
        }
        Ok(())
    }

    /// Runs the delegate on a regular tuple.
    fn run_delegate(
        &mut self,
        input: &Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let mut settled = VecDeque::new();
        let rt = self
            .rt
            .as_mut()
            .ok_or("CoordinatedBolt used before prepare")?;
        match &mut self.delegate {
            Delegate::Bolt(bolt) => {
                let mut counting = Counting {
                    inner: collector,
                    tracked: &mut rt.tracked,
                    settled: &mut settled,
                };
                bolt.execute(input.clone(), &mut OutputCollector::new(&mut counting))?;
            }
            Delegate::Batch(_) => {
                if input.is_tick() {
                    collector.ack(input);
                    return Ok(());
                }
                let id = input.value(0)?.clone();
                let key = key_of(&id);
                Self::batch_bolt(rt, &key, &id)?;
                let bolt = rt.batches.get_mut(&key).expect("created above");
                let mut counting = Counting {
                    inner: collector,
                    tracked: &mut rt.tracked,
                    settled: &mut settled,
                };
                let mut out = OutputCollector::new(&mut counting);
                match bolt.execute(input, &mut out) {
                    Ok(()) => out.ack(input),
                    Err(e) => match e.downcast_ref::<FailedException>() {
                        Some(f) => {
                            if f.reported {
                                out.report_error(f);
                            }
                            out.fail(input);
                        }
                        None => return Err(e),
                    },
                }
            }
        }
        self.settle(settled, collector)
    }
}

#[typetag::serde(name = "storm::drpc::CoordinatedBolt")]
impl Bolt for CoordinatedBolt {
    fn prepare(
        &mut self,
        conf: &ConfMap,
        context: &TopologyContext,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let num_source_reports = self
            .sources
            .iter()
            .map(|(c, args)| match args {
                SourceArgs::Single => 1,
                SourceArgs::All => context.component_tasks(c).len() as u64,
            })
            .sum();
        let mut count_out_tasks = Vec::new();
        if let Some(targets) = context
            .this_targets()
            .and_then(|t| t.get(COORDINATED_STREAM_ID))
        {
            for component in targets.keys() {
                count_out_tasks.extend_from_slice(context.component_tasks(component));
            }
        }
        let batch_prototype = match &self.delegate {
            Delegate::Batch(b) => serde_json::to_string(b)?,
            Delegate::Bolt(_) => String::new(),
        };
        let timeout = Duration::from_secs(
            conf_i64(conf, "topology.message.timeout.secs")
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(30),
        );
        self.rt = Some(Runtime {
            conf: conf.clone(),
            context: context.clone(),
            num_source_reports,
            count_out_tasks,
            tracked: HashMap::new(),
            batches: HashMap::new(),
            batch_prototype,
            timeout,
            last_sweep: Instant::now(),
        });
        if let Delegate::Bolt(bolt) = &mut self.delegate {
            let mut settled = VecDeque::new();
            let rt = self.rt.as_mut().expect("set above");
            let mut counting = Counting {
                inner: collector,
                tracked: &mut rt.tracked,
                settled: &mut settled,
            };
            bolt.prepare(conf, context, &mut OutputCollector::new(&mut counting))?;
        }
        Ok(())
    }

    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.sweep(collector);
        if input.is_tick() || input.is_empty() {
            return self.run_delegate(&input, collector);
        }
        let kind = self.kind(&input);
        let id = input.value(0)?.clone();
        let has_id_stream = self.id_stream.is_some();
        let rt = self.runtime()?;
        let track = rt.tracked.entry(key_of(&id)).or_insert_with(|| Track {
            id,
            report_count: 0,
            expected: 0,
            received: 0,
            received_id: !has_id_stream,
            failed: false,
            ack_tuples: Vec::new(),
            task_emitted: HashMap::new(),
            created: Instant::now(),
        });
        match kind {
            Kind::Id => {
                track.received_id = true;
            }
            Kind::Coord => {
                let count = match input.get(1) {
                    Some(Value::Int(n)) => i64::from(*n),
                    Some(Value::Long(n)) => *n,
                    _ => 0,
                };
                track.report_count += 1;
                track.expected += count;
            }
            Kind::Regular => return self.run_delegate(&input, collector),
        }
        let mut settled = VecDeque::new();
        self.check_finish(&input, kind, collector, &mut settled)?;
        self.settle(settled, collector)
    }

    fn cleanup(&mut self) {
        if let Delegate::Bolt(b) = &mut self.delegate {
            b.cleanup();
        }
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        match &self.delegate {
            Delegate::Bolt(b) => b.declare_output_fields(declarer),
            Delegate::Batch(b) => b.declare_output_fields(declarer),
        }
        declarer.declare_stream_direct(COORDINATED_STREAM_ID, ["id", "count"]);
    }

    fn component_configuration(&self) -> Option<ConfMap> {
        match &self.delegate {
            Delegate::Bolt(b) => b.component_configuration(),
            Delegate::Batch(b) => b.component_configuration(),
        }
    }
}
