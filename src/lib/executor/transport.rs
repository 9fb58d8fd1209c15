//! Delivering tuples to tasks: each executor's receive queues, the worker's [`Router`] (task → queues),
//! and the [`RemoteTransport`] a cluster worker plugs in for tasks of other workers.
//!
//! Every executor has two queues:
//! * **data**: a bounded channel (`topology.executor.receive.buffer.size`, rounded up to a power of two)
//!   for tuples on user streams. A full data queue is backpressure: the producer keeps the tuple in its
//!   own overflow list and stops consuming input / calling `next_tuple` until it drains.
//! * **control**: an unbounded channel for system streams (`__ack_*`, `__tick`, …) and wake-ups. Acker
//!   traffic is proportional to the data processed, is consumed before data, and never waits behind a
//!   full data queue, so acking can never deadlock behind data backpressure.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crossbeam_channel::{bounded, unbounded, Receiver, Sender, TrySendError};

use crate::api::Tuple;

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

/// A tuple addressed to one task.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub dest: i32,
    pub tuple: Tuple,
}

/// What travels on a control queue.
#[derive(Debug, Clone)]
pub enum Control {
    /// A tuple on a system stream.
    Tuple(Envelope),
    /// Something changed (activation, load): look at the shared state.
    Wake,
}

/// The sending side of one executor's queues.
#[derive(Debug, Clone)]
pub struct ExecutorQueues {
    data: Sender<Envelope>,
    control: Sender<Control>,
    capacity: usize,
}

/// The receiving side of one executor's queues.
#[derive(Debug)]
pub struct ExecutorInbox {
    pub data: Receiver<Envelope>,
    pub control: Receiver<Control>,
}

/// Storm rounds receive buffers up to a power of two.
pub fn queue_capacity(configured: i64) -> usize {
    usize::try_from(configured.max(1))
        .unwrap_or(1)
        .next_power_of_two()
}

/// New queues for one executor, the data queue holding `capacity` tuples.
pub fn executor_queues(capacity: usize) -> (ExecutorQueues, ExecutorInbox) {
    let (data_tx, data_rx) = bounded(capacity.max(1));
    let (control_tx, control_rx) = unbounded();
    (
        ExecutorQueues {
            data: data_tx,
            control: control_tx,
            capacity: capacity.max(1),
        },
        ExecutorInbox {
            data: data_rx,
            control: control_rx,
        },
    )
}

impl ExecutorQueues {
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Tuples waiting in the data queue.
    pub fn data_len(&self) -> usize {
        self.data.len()
    }

    /// Messages waiting in the control queue.
    pub fn control_len(&self) -> usize {
        self.control.len()
    }

    /// Fill ratio of the data queue (the load Storm's load-aware shuffle reads).
    pub fn load(&self) -> f64 {
        self.data.len() as f64 / self.capacity as f64
    }

    pub fn data_sender(&self) -> &Sender<Envelope> {
        &self.data
    }

    /// Wakes the executor (never blocks).
    pub fn wake(&self) {
        let _ = self.control.send(Control::Wake);
    }
}

/// The outcome of handing a tuple over.
#[derive(Debug)]
pub enum Delivery {
    Delivered,
    /// The destination is full: keep the tuple and try again later.
    Full(Tuple),
    /// Nobody can take it (unknown task, executor gone); dropped, as Storm drops messages to
    /// unreachable tasks (acking replays them).
    Dropped,
}

/// A worker's link to tasks of other workers (the cluster transport). `try_send` must not block: it
/// gives the tuple back when the remote side is under backpressure.
pub trait RemoteTransport: Send + Sync {
    /// Whether `task` is reachable through this transport.
    fn owns(&self, task: i32) -> bool;

    /// Queues `tuple` for `task`; `system` marks system-stream tuples, which should not wait behind
    /// data. Gives the tuple back when it cannot be queued now.
    fn try_send(&self, task: i32, tuple: Tuple, system: bool) -> Result<(), Tuple>;
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

    /// Hands `tuple` to task `dest` without blocking; system tuples go to the control queue.
    pub fn try_deliver(&self, dest: i32, tuple: Tuple, system: bool) -> Delivery {
        if let Some(q) = self.local.get(&dest) {
            if system {
                return match q.control.send(Control::Tuple(Envelope { dest, tuple })) {
                    Ok(()) => Delivery::Delivered,
                    Err(_) => Delivery::Dropped,
                };
            }
            return match q.data.try_send(Envelope { dest, tuple }) {
                Ok(()) => Delivery::Delivered,
                Err(TrySendError::Full(env)) => Delivery::Full(env.tuple),
                Err(TrySendError::Disconnected(_)) => Delivery::Dropped,
            };
        }
        match &self.remote {
            Some(remote) if remote.owns(dest) => match remote.try_send(dest, tuple, system) {
                Ok(()) => Delivery::Delivered,
                Err(tuple) => Delivery::Full(tuple),
            },
            _ => {
                tracing::debug!(task = dest, "no route to task; tuple dropped");
                Delivery::Dropped
            }
        }
    }

    /// Delivers a tuple that arrived from another worker, waiting while the data queue is full, until
    /// `stop` fires. Returns false when dropped (unknown task, stopped).
    pub fn deliver_blocking(
        &self,
        dest: i32,
        tuple: Tuple,
        system: bool,
        stop: &Receiver<()>,
    ) -> bool {
        let Some(q) = self.local.get(&dest) else {
            return false;
        };
        if system {
            return q
                .control
                .send(Control::Tuple(Envelope { dest, tuple }))
                .is_ok();
        }
        crossbeam_channel::select! {
            send(q.data, Envelope { dest, tuple }) -> r => r.is_ok(),
            recv(stop) -> _ => false,
        }
    }
}
