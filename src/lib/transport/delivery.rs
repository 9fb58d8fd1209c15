//! Inbound delivery. The event loop decodes each frame into [`Run`]s (consecutive messages for the
//! same task and lane, each one [`Batch`]-sized hand-off) with [`FrameDecoder`] and hands them to
//! local executors itself ([`deliver_now`]) while their queues have room: system runs always (the
//! executor's control queue is unbounded), data runs while the delivery thread holds nothing.
//!
//! The delivery thread takes over only under backpressure, so that a full executor queue never
//! blocks network I/O: the data runs that did not fit go to it, and while it holds any (counted in
//! `Shared::delivery_backlog`) the loop sends it all later data runs, to keep their order. Data
//! tuples wait in order in a
//! bounded pending list while their executor's data queue is full (the thread asks that queue for a
//! [`Control::Room`] message); it keeps taking frames (and so delivering their system tuples) until
//! that list holds [`MAX_PENDING`] tuples, then stops taking them, the channel fills, and the event
//! loop stops reading sockets.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crossbeam_channel::{unbounded, Receiver};

use super::wire::{self, FrameError};
use super::Shared;
use crate::api::{Tuple, TupleIds, TupleSource};
use crate::executor::pool::TuplePool;
use crate::executor::transport::{Batch, Control, Recycle};
use crate::executor::{Delivery, Router};
use crate::topology::system::is_system_id;
use crate::tuple::Values;

/// Decoded frames the event loop may queue ahead of delivery.
pub(crate) const CHANNEL_BATCHES: usize = 8;

/// Data tuples held while their executor is full, before the thread stops taking frames.
pub(crate) const MAX_PENDING: usize = 1024;

/// The data batches waiting for room, in arrival order.
#[derive(Default)]
struct Pending {
    batches: VecDeque<Batch>,
    tuples: usize,
}

impl Pending {
    fn push(&mut self, batch: Batch) {
        self.tuples += batch.tuples.len();
        self.batches.push_back(batch);
    }

    /// Delivers what fits, in order; true when nothing waits.
    fn retry(&mut self, router: &Router) -> bool {
        while let Some(b) = self.batches.pop_front() {
            let n = b.tuples.len();
            match router.try_deliver_batch(b.dest, b.tuples, false) {
                Delivery::Full(tuples) => {
                    self.batches.push_front(Batch::new(b.dest, tuples));
                    return false;
                }
                _ => self.tuples -= n,
            }
        }
        true
    }
}

/// Tuples decoded from one frame for one local task and lane, in arrival order.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) dest: i32,
    pub(crate) system: bool,
    pub(crate) tuples: Vec<Tuple>,
}

/// The last resolved source, to skip the resolver for runs of messages from one task and stream.
struct LastSource {
    task: i32,
    stream: String,
    system: bool,
    source: &'static TupleSource,
}

/// Turns frames into [`Run`]s of tuples (on the event loop thread), resolving each wire run's source
/// once (and a run of runs from one (task, stream) once).
pub(crate) struct FrameDecoder {
    last: Option<LastSource>,
    /// Tuples come back here once the local executors are done with them.
    pool: TuplePool,
}

impl Default for FrameDecoder {
    fn default() -> FrameDecoder {
        FrameDecoder {
            last: None,
            pool: TuplePool::new(),
        }
    }
}

/// The [`wire::Visitor`] that builds the runs of one frame.
struct Builder<'s> {
    shared: &'s Shared,
    router: &'s Router,
    last: &'s mut Option<LastSource>,
    pool: &'s mut TuplePool,
    runs: Vec<Run>,
    /// The current wire run is dropped (task not local, unknown source).
    skip: bool,
    source: Option<&'static TupleSource>,
}

impl<'a> wire::Visitor<'a> for Builder<'_> {
    fn run(&mut self, dest: i32, source_task: i32, stream: &'a str, count: usize) {
        self.skip = true;
        if !self.router.is_local(dest) {
            tracing::debug!(topology = %self.shared.topology_id, task = dest, "received tuples for a task this worker does not run; dropped");
            return;
        }
        let (source, system) = match &*self.last {
            Some(l) if l.task == source_task && l.stream == stream => (l.source, l.system),
            _ => {
                let Some(source) = self.shared.resolver.source(source_task, stream) else {
                    tracing::debug!(topology = %self.shared.topology_id, task = source_task, stream = %stream, "received tuples from an unknown task or stream; dropped");
                    return;
                };
                let system = is_system_id(stream);
                *self.last = Some(LastSource {
                    task: source_task,
                    stream: stream.to_owned(),
                    system,
                    source,
                });
                (source, system)
            }
        };
        self.skip = false;
        self.source = Some(source);
        match self.runs.last_mut() {
            Some(r) if r.dest == dest && r.system == system => r.tuples.reserve(count),
            _ => self.runs.push(Run {
                dest,
                system,
                // `count` was checked against the frame's size.
                tuples: self.pool.batch_vec(count),
            }),
        }
    }

    fn message(&mut self, anchors: Vec<(i64, i64)>, values: Values) {
        if self.skip {
            return;
        }
        if let (Some(source), Some(run)) = (self.source, self.runs.last_mut()) {
            run.tuples
                .push(self.pool.make(source, values, TupleIds::from(anchors)));
        }
    }
}

impl FrameDecoder {
    /// Decodes a frame's payload into runs for the tasks `router` has locally (tuples for other
    /// tasks, or from unknown tasks or streams, are dropped with a debug log).
    pub(crate) fn decode(
        &mut self,
        shared: &Shared,
        router: &Router,
        payload: &[u8],
    ) -> Result<Vec<Run>, FrameError> {
        let mut b = Builder {
            shared,
            router,
            last: &mut self.last,
            pool: &mut self.pool,
            runs: Vec::new(),
            skip: true,
            source: None,
        };
        wire::visit_payload(payload, &mut b)?;
        Ok(b.runs)
    }

    /// Where local executors send the decoded tuples back.
    pub(crate) fn recycler(&self) -> &Recycle {
        self.pool.recycler()
    }
}

/// Delivers a frame's runs on the event loop thread: system runs always (their queues never
/// refuse); data runs only while `direct` (the delivery thread holds nothing, so order is kept)
/// and until one does not fit. Returns the data runs left for the delivery thread, in order.
pub(crate) fn deliver_now(
    router: &Router,
    runs: Vec<Run>,
    direct: bool,
    recycle: &Recycle,
) -> Vec<Run> {
    let mut left = Vec::new();
    for run in runs {
        if run.system {
            router.try_deliver_recycled(run.dest, run.tuples, true, Some(recycle));
            continue;
        }
        if !direct || !left.is_empty() {
            left.push(run);
            continue;
        }
        if let Delivery::Full(tuples) =
            router.try_deliver_recycled(run.dest, run.tuples, false, Some(recycle))
        {
            left.push(Run {
                dest: run.dest,
                system: false,
                tuples,
            });
        }
    }
    left
}

pub(crate) fn run(shared: Arc<Shared>, batches: Receiver<Vec<Run>>, stop: Receiver<()>) {
    let mut pending = Pending::default();
    let (room_tx, room_rx) = unbounded::<Control>();
    // Frames taken since `pending` was last empty: the share of `Shared::delivery_backlog` to
    // give back once it is.
    let mut held = 0usize;
    let never = crossbeam_channel::never::<Vec<Run>>();
    loop {
        if pending.batches.is_empty() && held > 0 {
            shared.delivery_backlog.fetch_sub(held, Ordering::SeqCst);
            held = 0;
        }
        if !pending.batches.is_empty() {
            let Some(router) = shared.router() else {
                pending = Pending::default();
                continue;
            };
            if pending.retry(&router) {
                continue;
            }
            let (dest, n) = pending
                .batches
                .front()
                .map(|b| (b.dest, b.tuples.len()))
                .unwrap_or_default();
            // Retry at once only if the batch fits; else wait for the `Room` message (we are
            // registered and the queue is not empty, so its consumer will send one): no spinning.
            if router.notify_room(dest, &room_tx, n) {
                continue;
            }
            let take_more = pending.tuples < MAX_PENDING;
            crossbeam_channel::select! {
                recv(room_rx) -> _ => {}
                recv(if take_more { &batches } else { &never }) -> b => match b {
                    Ok(batch) => {
                        held += 1;
                        room_made(&shared);
                        deliver(&shared, batch, &mut pending);
                    }
                    Err(_) => return,
                },
                recv(stop) -> _ => return,
            }
            continue;
        }
        crossbeam_channel::select! {
            recv(batches) -> b => match b {
                Ok(batch) => {
                    held += 1;
                    room_made(&shared);
                    deliver(&shared, batch, &mut pending);
                }
                Err(_) => return,
            },
            recv(stop) -> _ => return,
        }
    }
}

/// Tells the event loop it may read again if it paused for room.
fn room_made(shared: &Shared) {
    if shared.inbound_paused.swap(false, Ordering::SeqCst) {
        shared.wake();
    }
}

fn deliver(shared: &Shared, frame: Vec<Run>, pending: &mut Pending) {
    let Some(router) = shared.router() else {
        return;
    };
    for run in frame {
        hand_over(
            &router,
            Batch::new(run.dest, run.tuples),
            run.system,
            pending,
        );
    }
}
/// Hands one batch over, or queues it behind earlier data waiting for room.
fn hand_over(router: &Router, batch: Batch, system: bool, pending: &mut Pending) {
    if system {
        // The control queue is unbounded: this never waits.
        router.try_deliver_batch(batch.dest, batch.tuples, true);
        return;
    }
    if !pending.batches.is_empty() {
        pending.push(batch);
        return;
    }
    if let Delivery::Full(tuples) = router.try_deliver_batch(batch.dest, batch.tuples, false) {
        pending.push(Batch::new(batch.dest, tuples));
    }
}
