//! Helpers for testing topologies in local mode.
//!
//! Components travel as bytes and are rebuilt inside the executors, so a test cannot hand them an
//! `Arc` directly. Instead they carry a key into a process-wide registry ([`shared`]) of state the test
//! also holds — the way Storm's testing components use static maps.
//!
//! * [`FixedTupleSpout`]: emits a fixed list of tuples once each, reliably (message id = index), and
//!   replays a tuple when it fails; records acks in a [`FeederState`].
//! * [`CaptureBolt`]: records every tuple it receives in a [`Captured`] and acks it.
//! * [`wait_until`]: polls a condition until a deadline (tests never sleep to synchronise).

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::api::{
    Bolt, ComponentError, ConfMap, MessageId, OutputCollector, OutputFieldsDeclarer, Spout,
    SpoutOutputCollector, TopologyContext, Tuple,
};
use crate::tuple::{Value, Values};

type Registry = Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The shared value of type `T` under `key`, created with `T::default()` on first use. Panics if
/// `key` already holds a value of another type.
pub fn shared<T: Any + Default + Send + Sync>(key: &str) -> Arc<T> {
    let mut map = registry().lock().unwrap_or_else(|e| e.into_inner());
    let entry = map
        .entry(key.to_owned())
        .or_insert_with(|| Arc::new(T::default()) as Arc<dyn Any + Send + Sync>);
    Arc::clone(entry)
        .downcast::<T>()
        .unwrap_or_else(|_| panic!("shared state {key} holds another type"))
}

/// Forgets the shared value under `key`.
pub fn remove_shared(key: &str) {
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(key);
}

/// A key no other caller in this process gets.
pub fn unique_key(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Polls `condition` every few milliseconds until it holds (true) or `timeout` passes (false).
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What a [`FixedTupleSpout`] reports.
#[derive(Debug, Default)]
pub struct FeederState {
    /// Message ids (tuple indices) acked, in order.
    pub acked: Mutex<Vec<i64>>,
    /// Message ids failed, in order (each was replayed).
    pub failed: Mutex<Vec<i64>>,
}

impl FeederState {
    pub fn acked(&self) -> Vec<i64> {
        self.acked.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn failed(&self) -> Vec<i64> {
        self.failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Emits each of `tuples` once on the default stream with message id = its index, replaying failed
/// ones. Values travel as JSON inside the topology, so integers come back as `Long` (use strings and
/// longs in test data). With several tasks, task *i* of *n* emits the tuples whose index ≡ *i* mod *n*.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FixedTupleSpout {
    pub fields: Vec<String>,
    pub tuples: Vec<Values>,
    /// Key of the [`FeederState`] to report to.
    pub key: Option<String>,
    #[serde(skip)]
    queue: VecDeque<usize>,
}

impl FixedTupleSpout {
    pub fn new<S: Into<String>>(
        fields: impl IntoIterator<Item = S>,
        tuples: Vec<Values>,
        key: Option<String>,
    ) -> FixedTupleSpout {
        FixedTupleSpout {
            fields: fields.into_iter().map(Into::into).collect(),
            tuples,
            key,
            queue: VecDeque::new(),
        }
    }

    fn state(&self) -> Option<Arc<FeederState>> {
        self.key.as_deref().map(shared::<FeederState>)
    }
}

#[typetag::serde(name = "storm::testing::FixedTupleSpout")]
impl Spout for FixedTupleSpout {
    fn open(
        &mut self,
        _conf: &ConfMap,
        context: &TopologyContext,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let n = context.this_component_tasks().len().max(1);
        let i = context.this_task_index();
        self.queue = (0..self.tuples.len()).filter(|k| k % n == i).collect();
        Ok(())
    }

    fn next_tuple(
        &mut self,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if let Some(index) = self.queue.pop_front() {
            collector.emit(self.tuples[index].clone(), Some(Value::Long(index as i64)))?;
        }
        Ok(())
    }

    fn ack(
        &mut self,
        message_id: MessageId,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if let (Some(state), Some(id)) = (self.state(), message_id.as_i64()) {
            state
                .acked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(id);
        }
        Ok(())
    }

    fn fail(
        &mut self,
        message_id: MessageId,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if let Some(id) = message_id.as_i64() {
            if let Some(state) = self.state() {
                state
                    .failed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(id);
            }
            self.queue.push_back(id as usize);
        }
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(self.fields.iter().cloned());
    }
}

/// One tuple a [`CaptureBolt`] received.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedTuple {
    /// The capturing task.
    pub task: i32,
    pub source_component: String,
    pub source_task: i32,
    pub stream: String,
    pub values: Values,
}

/// What [`CaptureBolt`]s received.
#[derive(Debug, Default)]
pub struct Captured {
    tuples: Mutex<Vec<CapturedTuple>>,
}

impl Captured {
    pub fn push(&self, t: CapturedTuple) {
        self.tuples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(t);
    }

    pub fn len(&self) -> usize {
        self.tuples.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn tuples(&self) -> Vec<CapturedTuple> {
        self.tuples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Records every input in the [`Captured`] under `key` and acks it. Declares no output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaptureBolt {
    pub key: String,
    #[serde(skip)]
    task: i32,
}

impl CaptureBolt {
    pub fn new(key: impl Into<String>) -> CaptureBolt {
        CaptureBolt {
            key: key.into(),
            task: 0,
        }
    }
}

#[typetag::serde(name = "storm::testing::CaptureBolt")]
impl Bolt for CaptureBolt {
    fn prepare(
        &mut self,
        _conf: &ConfMap,
        context: &TopologyContext,
        _collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.task = context.this_task_id();
        Ok(())
    }

    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        shared::<Captured>(&self.key).push(CapturedTuple {
            task: self.task,
            source_component: input.source_component().to_owned(),
            source_task: input.source_task(),
            stream: input.source_stream().to_owned(),
            values: input.values().to_vec(),
        });
        collector.ack(&input);
        Ok(())
    }

    fn declare_output_fields(&self, _declarer: &mut OutputFieldsDeclarer) {}
}
