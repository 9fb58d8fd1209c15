//! Delivering tuples to tasks: each executor's receive queues, the worker's [`Router`] (task → queues),
//! and the [`RemoteTransport`] a cluster worker plugs in for tasks of other workers.
//!
//! Queues move [`Batch`]es (tuples for one task), not single tuples. Every executor has two queues:
//! * **data**: for tuples on user streams, bounded in tuples (`topology.executor.receive.buffer.size`,
//!   rounded up to a power of two). A full data queue is backpressure: the producer keeps the batch in
//!   its own overflow list, stops consuming input / calling `next_tuple`, and asks the queue for a
//!   [`Control::Room`] message when the consumer takes a batch.
//! * **control**: an unbounded channel for system streams (`__ack_*`, `__tick`, …) and wake-ups. Acker
//!   traffic is proportional to the data processed, is consumed before data, and never waits behind a
//!   full data queue, so acking can never deadlock behind data backpressure.
//!
//! Two things keep a local hand-off cheap: a consumer sends each spent batch back to the executor that
//! made it ([`Recycle`]), which reuses the tuples' allocations; and acker traffic between executors of
//! one worker travels as [`SystemMessage`]s, not tuples.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver, Sender, TrySendError};

use crate::api::{Tuple, TupleIds, TupleSource};
use crate::tuple::Value;

/// A fast non-cryptographic hasher (FxHash's mix) for the per-tuple lookups (task id → queues,
/// stream id → groupers): keys are task ids and declared stream ids, never attacker-controlled, and
/// SipHash cost more than the rest of a local delivery.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_i32(&mut self, i: i32) {
        self.add(i as u32 as u64);
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Tuples for one task, in emit order: the unit every queue hand-off moves (Storm 2's JCQueue moves
/// batches too). Producers fill a batch per destination and hand it over when it is full or when they
/// are about to wait (see `executor::emitter`), so one channel operation and one wake-up carry many
/// tuples.
#[derive(Debug, Clone)]
pub struct Batch {
    pub dest: i32,
    pub tuples: Vec<Tuple>,
    /// Where the consumer sends the spent tuples back (see [`Recycle`]); `None` for batches from
    /// other workers.
    pub recycle: Option<Recycle>,
}

impl Batch {
    /// A batch whose tuples are not sent back when spent.
    pub fn new(dest: i32, tuples: Vec<Tuple>) -> Batch {
        Batch {
            dest,
            tuples,
            recycle: None,
        }
    }
}

/// The way back from a consumer to the executor that made a batch's tuples: once every tuple of a
/// batch has been executed, the consumer sends the batch's vector back, and the producer builds its
/// next tuples in those allocations (where nobody kept a tuple) and frees the old values itself. A
/// tuple allocated on one thread and freed on another is the most expensive part of a local
/// hand-off; recycling keeps every allocation on the producing thread. The channel is bounded: when
/// it is full the consumer drops the tuples.
pub type Recycle = Sender<Vec<Tuple>>;

/// How many spent batches may wait on their way back to one producer. Generous, because a producer
/// that is not running (more executors than cores) while its consumers retire its batches would
/// otherwise see them dropped — freed on the consumers' threads — and allocate afresh: with 8
/// spouts feeding 8 bolts on 2 cores, 64 here cost 40 % of the throughput. The tuples held are
/// ones the producer made anyway (its in-flight tuples bound them); the slots cost 16 KiB.
pub(crate) const RECYCLE_BATCHES: usize = 512;

/// How far ahead of the tuple being executed a consumer fetches tuples into cache (the producer's
/// core wrote them last).
const PREFETCH_AHEAD: usize = 8;

/// Fetches the tuple [`PREFETCH_AHEAD`] places after `i` into cache, if there is one.
#[inline]
pub(crate) fn prefetch_after(tuples: &[Tuple], i: usize) {
    if let Some(t) = tuples.get(i + PREFETCH_AHEAD) {
        t.prefetch();
    }
}

/// Sends spent `tuples` back to their producer, if it takes them.
pub(crate) fn recycle(tuples: Vec<Tuple>, to: Option<&Recycle>) {
    if let Some(tx) = to {
        if !tuples.is_empty() {
            let _ = tx.try_send(tuples);
        }
    }
}

/// The data batch an executor is working through: tuples are handed out by clone (the vector keeps
/// one reference, so the whole vector can go back to the producer once spent).
/// The transport's sender works through its batches the same way.
#[derive(Debug)]
pub(crate) struct Current {
    pub(crate) dest: i32,
    tuples: Vec<Tuple>,
    next: usize,
    recycle: Option<Recycle>,
    /// Whether to fetch the values of the tuples ahead too: this thread read tuples' values while
    /// it worked through the batch before (see [`crate::api::take_values_read`]).
    deep: bool,
}

impl Current {
    pub(crate) fn new(batch: Batch) -> Current {
        Current {
            dest: batch.dest,
            tuples: batch.tuples,
            next: 0,
            recycle: batch.recycle,
            deep: crate::api::take_values_read(),
        }
    }

    /// The next tuple, not yet taken.
    pub(crate) fn peek(&self) -> Option<&Tuple> {
        self.tuples.get(self.next)
    }

    /// Takes the tuple [`Current::peek`] showed, fetching later ones into cache in stages (each
    /// stage reads what the one before fetched): the shared parts [`PREFETCH_AHEAD`] ahead, their
    /// values vectors half as far, the bytes of their strings a quarter as far.
    pub(crate) fn advance(&mut self) {
        let i = self.next;
        prefetch_after(&self.tuples, i);
        if self.deep {
            if let Some(t) = self.tuples.get(i + PREFETCH_AHEAD / 2) {
                t.prefetch_values();
            }
            if let Some(t) = self.tuples.get(i + PREFETCH_AHEAD / 4) {
                t.prefetch_payload();
            }
        }
        self.next += 1;
    }

    pub(crate) fn is_done(&self) -> bool {
        self.next >= self.tuples.len()
    }

    /// Sends the spent batch back to its producer.
    pub(crate) fn retire(self) {
        recycle(self.tuples, self.recycle.as_ref());
    }
}

/// A tuple on a system stream made of at most three integers (what the acker streams carry),
/// travelling between two executors of one worker as a plain value: no tuple allocation, no values
/// vector, a fraction of the cache lines. Executors read it as the tuple it stands for; it becomes
/// a real [`Tuple`] wherever one is needed (a bolt without a system-message path, another worker).
#[derive(Debug, Clone, Copy)]
pub struct SystemMessage {
    pub source: &'static TupleSource,
    len: u8,
    /// Bit `i` set: value `i` is an `Int` (else a `Long`).
    ints: u8,
    values: [i64; 3],
}

impl SystemMessage {
    /// The message for `values` from `source`, if they are at most three `Long`s and `Int`s.
    pub fn from_values(source: &'static TupleSource, values: &[Value]) -> Option<SystemMessage> {
        if values.len() > 3 {
            return None;
        }
        let mut m = SystemMessage {
            source,
            len: values.len() as u8,
            ints: 0,
            values: [0; 3],
        };
        for (i, v) in values.iter().enumerate() {
            m.values[i] = match *v {
                Value::Long(n) => n,
                Value::Int(n) => {
                    m.ints |= 1 << i;
                    i64::from(n)
                }
                _ => return None,
            };
        }
        Some(m)
    }

    /// Value `i` as a number.
    pub fn get(&self, i: usize) -> Option<i64> {
        (i < usize::from(self.len)).then(|| self.values[i])
    }

    /// Calls `f` with the values as the tuple would carry them (on the stack).
    pub fn with_values<R>(&self, f: impl FnOnce(&[Value]) -> R) -> R {
        let value = |i: usize| {
            if self.ints & (1 << i) != 0 {
                Value::Int(self.values[i] as i32)
            } else {
                Value::Long(self.values[i])
            }
        };
        // Ints and Longs own nothing: skipping their drop spares three calls per message.
        let values = std::mem::ManuallyDrop::new([value(0), value(1), value(2)]);
        f(&values[..usize::from(self.len)])
    }

    /// The tuple this message stands for.
    pub fn to_tuple(&self) -> Tuple {
        let values = self.with_values(<[Value]>::to_vec);
        Tuple::with_ids(self.source, values, TupleIds::default())
    }
}

/// What travels on a control queue.
#[derive(Debug, Clone)]
pub enum Control {
    /// Tuples on system streams.
    Batch(Batch),
    /// System messages for task `dest`, in emit order.
    Messages {
        dest: i32,
        messages: Vec<SystemMessage>,
    },
    /// Something changed (activation, load): look at the shared state and call `poll`.
    Wake,
    /// A data queue this executor waits for has room again.
    Room,
}

/// The population of a queue of batches, bounded in tuples (a channel of batches can only bound
/// batches), and who waits for room. Shared by the producers and the consumer; used by executor data
/// queues and the transport's outbound lanes.
///
/// A batch is taken when it fits ([`Population::try_add`]; a batch larger than the capacity fits an
/// empty queue), and [`Population::notify_room`] answers "room" under exactly that condition, so a
/// producer told to retry succeeds unless another producer took the room first (it then registers
/// again) and never spins. Waiters hear [`Control::Room`] once the queue has drained to half its
/// capacity (or further), so a producer wakes to send several batches, not one.
#[derive(Debug)]
pub(crate) struct Population {
    /// Tuples in the queue (sent, not yet received).
    len: AtomicUsize,
    capacity: usize,
    /// Set when `waiters` is not empty.
    has_waiters: AtomicBool,
    /// Control queues to send [`Control::Room`] to.
    waiters: Mutex<Vec<Sender<Control>>>,
}

impl Population {
    pub(crate) fn new(capacity: usize) -> Population {
        Population {
            len: AtomicUsize::new(0),
            capacity: capacity.max(1),
            has_waiters: AtomicBool::new(false),
            waiters: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether `n` more tuples fit.
    fn fits(&self, n: usize) -> bool {
        let len = self.len.load(Ordering::SeqCst);
        len == 0 || len + n <= self.capacity
    }

    /// Counts `n` tuples in unless they do not fit. Concurrent producers may overshoot by a batch
    /// each.
    pub(crate) fn try_add(&self, n: usize) -> bool {
        if !self.fits(n) {
            return false;
        }
        self.len.fetch_add(n, Ordering::SeqCst);
        true
    }

    /// Counts `n` tuples out (the consumer took them, or a send failed); wakes the waiters once the
    /// queue is down to half its capacity.
    pub(crate) fn remove(&self, n: usize) {
        let left = self.len.fetch_sub(n, Ordering::SeqCst).saturating_sub(n);
        if left <= self.capacity / 2 && self.has_waiters.load(Ordering::SeqCst) {
            let waiters = {
                let mut w = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
                self.has_waiters.store(false, Ordering::SeqCst);
                std::mem::take(&mut *w)
            };
            for w in waiters {
                let _ = w.send(Control::Room);
            }
        }
    }

    /// Asks for [`Control::Room`] on `waiter` once the queue drains. Returns true if `n` tuples fit
    /// already (then retry at once; a message may still come).
    pub(crate) fn notify_room(&self, waiter: &Sender<Control>, n: usize) -> bool {
        {
            let mut w = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
            if !w.iter().any(|s| s.same_channel(waiter)) {
                w.push(waiter.clone());
            }
            self.has_waiters.store(true, Ordering::SeqCst);
        }
        self.fits(n)
    }
}

/// The sending side of one executor's queues.
#[derive(Debug, Clone)]
pub struct ExecutorQueues {
    data: Sender<Batch>,
    control: Sender<Control>,
    state: Arc<Population>,
}

/// The receiving side of one executor's queues.
#[derive(Debug)]
pub struct ExecutorInbox {
    data: Receiver<Batch>,
    pub control: Receiver<Control>,
    state: Arc<Population>,
    /// The rest of the data batch being executed: it survives the executor (a restarted executor
    /// goes on with it) and backpressure stopping execution midway.
    rest: RefCell<Option<Current>>,
}

/// Storm rounds receive buffers up to a power of two.
pub fn queue_capacity(configured: i64) -> usize {
    usize::try_from(configured.max(1))
        .unwrap_or(1)
        .next_power_of_two()
}

/// New queues for one executor, the data queue holding `capacity` tuples.
pub fn executor_queues(capacity: usize) -> (ExecutorQueues, ExecutorInbox) {
    // The population check in `try_send_data` bounds the queue (in tuples, not batches).
    let (data_tx, data_rx) = unbounded();
    let (control_tx, control_rx) = unbounded();
    let state = Arc::new(Population::new(capacity));
    (
        ExecutorQueues {
            data: data_tx,
            control: control_tx,
            state: Arc::clone(&state),
        },
        ExecutorInbox {
            data: data_rx,
            control: control_rx,
            state,
            rest: RefCell::new(None),
        },
    )
}

impl ExecutorInbox {
    /// The next data tuple and its task: the rest of the current batch, else from the queue
    /// without waiting.
    pub fn next_data(&self) -> Option<(i32, Tuple)> {
        let mut rest = self.rest.borrow_mut();
        loop {
            if let Some(cur) = rest.as_mut() {
                if let Some(t) = cur.peek().cloned() {
                    cur.advance();
                    return Some((cur.dest, t));
                }
                // Every tuple of it has been executed (this is called after the last one).
                if let Some(spent) = rest.take() {
                    spent.retire();
                }
            }
            let batch = self.try_recv_data()?;
            *rest = Some(Current::new(batch));
        }
    }

    /// Keeps a batch received from [`ExecutorInbox::data_channel`] for [`ExecutorInbox::next_data`]
    /// (call only when `next_data` returned `None`).
    pub fn keep(&self, batch: Batch) {
        self.taken(batch.tuples.len());
        let mut rest = self.rest.borrow_mut();
        match rest.as_mut() {
            Some(cur) if !cur.is_done() => {
                if cur.dest == batch.dest {
                    cur.tuples.extend(batch.tuples);
                } else {
                    tracing::error!("a data batch arrived while another was unfinished; dropped");
                }
            }
            _ => {
                if let Some(spent) = rest.replace(Current::new(batch)) {
                    spent.retire();
                }
            }
        }
    }

    /// Takes the next data batch without waiting.
    pub fn try_recv_data(&self) -> Option<Batch> {
        let batch = self.data.try_recv().ok()?;
        self.taken(batch.tuples.len());
        Some(batch)
    }

    /// Waits up to `timeout` for the next data batch.
    pub fn recv_data_timeout(&self, timeout: Duration) -> Option<Batch> {
        let batch = self.data.recv_timeout(timeout).ok()?;
        self.taken(batch.tuples.len());
        Some(batch)
    }

    /// The data channel, to block on it in a `select!`; a batch received from it must be passed
    /// to [`ExecutorInbox::keep`].
    pub fn data_channel(&self) -> &Receiver<Batch> {
        &self.data
    }

    fn taken(&self, n: usize) {
        self.state.remove(n);
    }
}

impl ExecutorQueues {
    pub fn capacity(&self) -> usize {
        self.state.capacity()
    }

    /// Tuples waiting in the data queue.
    pub fn data_len(&self) -> usize {
        self.state.len()
    }

    /// Messages waiting in the control queue.
    pub fn control_len(&self) -> usize {
        self.control.len()
    }

    /// Fill ratio of the data queue (the load Storm's load-aware shuffle reads).
    pub fn load(&self) -> f64 {
        self.data_len() as f64 / self.state.capacity() as f64
    }

    /// Wakes the executor (never blocks).
    pub fn wake(&self) {
        let _ = self.control.send(Control::Wake);
    }

    /// Queues a batch of system tuples (never blocks: the control queue is unbounded).
    fn send_control(&self, batch: Batch) -> bool {
        self.control.send(Control::Batch(batch)).is_ok()
    }

    /// Queues system messages (never blocks).
    fn send_messages(&self, dest: i32, messages: Vec<SystemMessage>) -> bool {
        self.control
            .send(Control::Messages { dest, messages })
            .is_ok()
    }

    /// Queues a batch of data tuples unless the queue is full.
    fn try_send_data(&self, batch: Batch) -> Result<(), TrySendError<Batch>> {
        let n = batch.tuples.len();
        if !self.state.try_add(n) {
            return Err(TrySendError::Full(batch));
        }
        self.data
            .try_send(batch)
            .inspect_err(|_| self.state.remove(n))
    }

    /// Asks for [`Control::Room`] on `waiter` once the consumer takes a batch. Returns true if `n`
    /// tuples fit already (then retry at once).
    pub fn notify_room(&self, waiter: &Sender<Control>, n: usize) -> bool {
        self.state.notify_room(waiter, n)
    }

    /// The sender executors put on [`ExecutorQueues::notify_room`] to hear about room.
    pub fn control_sender(&self) -> &Sender<Control> {
        &self.control
    }
}

/// The outcome of handing a batch over.
#[derive(Debug)]
pub enum Delivery {
    Delivered,
    /// The destination is full: keep the tuples and try again later.
    Full(Vec<Tuple>),
    /// Nobody can take them (unknown task, executor gone); dropped, as Storm drops messages to
    /// unreachable tasks (acking replays them).
    Dropped,
}

/// A worker's link to tasks of other workers (the cluster transport). `try_send` must not block: it
/// gives the tuples back when the remote side is under backpressure.
pub trait RemoteTransport: Send + Sync {
    /// Whether `task` is reachable through this transport.
    fn owns(&self, task: i32) -> bool;

    /// Queues `tuples` (in order) for `task`; `system` marks system-stream tuples, which should not
    /// wait behind data. [`Delivery::Full`] gives the tuples back when they cannot be queued now;
    /// [`Delivery::Dropped`]: `task` is not reachable here. Once sent, the tuples go back through
    /// `recycle` when given.
    fn try_send(
        &self,
        task: i32,
        tuples: Vec<Tuple>,
        system: bool,
        recycle: Option<&Recycle>,
    ) -> Delivery;

    /// Asks for [`Control::Room`] on `waiter` once the data lane towards `task` has room. Returns
    /// true if `n` tuples fit already (then retry at once).
    fn notify_room(&self, task: i32, waiter: &Sender<Control>, n: usize) -> bool;
}

/// Task → queues for the tasks of this worker, plus the remote transport for the others.
pub struct Router {
    local: FastMap<i32, ExecutorQueues>,
    remote: Option<Arc<dyn RemoteTransport>>,
}

impl Router {
    pub fn new(
        local: HashMap<i32, ExecutorQueues>,
        remote: Option<Arc<dyn RemoteTransport>>,
    ) -> Router {
        Router {
            local: local.into_iter().collect(),
            remote,
        }
    }

    /// The queues of a local task.
    pub fn local(&self, task: i32) -> Option<&ExecutorQueues> {
        self.local.get(&task)
    }

    pub fn is_local(&self, task: i32) -> bool {
        self.local.contains_key(&task)
    }

    /// Asks for [`Control::Room`] on `waiter` once task `dest`'s data queue (local, or the lane
    /// towards its worker) has room; true if `n` tuples fit already.
    pub fn notify_room(&self, dest: i32, waiter: &Sender<Control>, n: usize) -> bool {
        if let Some(q) = self.local.get(&dest) {
            return q.notify_room(waiter, n);
        }
        match &self.remote {
            Some(remote) => remote.notify_room(dest, waiter, n),
            None => true,
        }
    }

    /// Hands system messages to local task `dest` (its control queue never refuses); false if
    /// the task is not in this worker or its executor is gone.
    pub fn deliver_messages(&self, dest: i32, messages: Vec<SystemMessage>) -> bool {
        self.local
            .get(&dest)
            .is_some_and(|q| q.send_messages(dest, messages))
    }

    /// Hands one tuple to task `dest` without blocking; system tuples go to the control queue.
    pub fn try_deliver(&self, dest: i32, tuple: Tuple, system: bool) -> Delivery {
        self.try_deliver_batch(dest, vec![tuple], system)
    }

    /// Hands `tuples` (in order) to task `dest` without blocking; system tuples go to the control
    /// queue, which never refuses.
    pub fn try_deliver_batch(&self, dest: i32, tuples: Vec<Tuple>, system: bool) -> Delivery {
        self.try_deliver_recycled(dest, tuples, system, None)
    }

    /// [`Router::try_deliver_batch`] for tuples a local consumer sends back through `recycle`
    /// when spent.
    pub fn try_deliver_recycled(
        &self,
        dest: i32,
        tuples: Vec<Tuple>,
        system: bool,
        recycle: Option<&Recycle>,
    ) -> Delivery {
        if tuples.is_empty() {
            return Delivery::Delivered;
        }
        if let Some(q) = self.local.get(&dest) {
            let batch = Batch {
                dest,
                tuples,
                recycle: recycle.cloned(),
            };
            if system {
                return if q.send_control(batch) {
                    Delivery::Delivered
                } else {
                    Delivery::Dropped
                };
            }
            return match q.try_send_data(batch) {
                Ok(()) => Delivery::Delivered,
                Err(TrySendError::Full(b)) => Delivery::Full(b.tuples),
                Err(TrySendError::Disconnected(_)) => Delivery::Dropped,
            };
        }
        let delivery = match &self.remote {
            Some(remote) => remote.try_send(dest, tuples, system, recycle),
            None => Delivery::Dropped,
        };
        if matches!(delivery, Delivery::Dropped) {
            tracing::debug!(task = dest, "no route to task; tuples dropped");
        }
        delivery
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::tuple::Fields;

    fn source() -> &'static TupleSource {
        TupleSource::new(
            "spout",
            3,
            "__ack_init",
            Fields::new(["id", "init", "task"]).unwrap(),
        )
        .intern()
    }

    #[test]
    fn system_messages_hold_only_up_to_three_integers() {
        let s = source();
        assert!(SystemMessage::from_values(s, &vec![Value::Long(1); 4]).is_none());
        assert!(SystemMessage::from_values(s, &[Value::String("x".into())]).is_none());
        assert!(SystemMessage::from_values(s, &[Value::Long(1), Value::Double(1.0)]).is_none());
        let m = SystemMessage::from_values(s, &[Value::Long(-5), Value::Int(7)]).unwrap();
        assert_eq!((m.get(0), m.get(1), m.get(2)), (Some(-5), Some(7), None));
        let t = m.to_tuple();
        assert_eq!(t.values(), &[Value::Long(-5), Value::Int(7)]);
        assert_eq!((t.source_component(), t.source_task()), ("spout", 3));
        assert!(!t.is_anchored());
    }

    fn integer() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<i64>().prop_map(Value::Long),
            any::<i32>().prop_map(Value::Int)
        ]
    }

    proptest! {
        #[test]
        fn system_messages_give_back_exactly_the_values_they_were_made_of(
            values in proptest::collection::vec(integer(), 0..=3)
        ) {
            let m = SystemMessage::from_values(source(), &values).unwrap();
            prop_assert_eq!(m.with_values(<[Value]>::to_vec), values.clone());
            let tuple = m.to_tuple();
            prop_assert_eq!(tuple.values(), values.as_slice());
        }
    }
}
