//! The delivery thread: takes decoded batches from the event loop and hands their tuples to local
//! executors, so that a full executor queue never blocks network I/O.
//!
//! Consecutive messages for the same task and lane become one [`Batch`]-sized hand-off. System
//! tuples go straight to the executor's (unbounded) control queue. Data tuples wait in order in a
//! bounded pending list while their executor's data queue is full (the thread asks that queue for a
//! [`Control::Room`] message); it keeps taking frames (and so delivering their system tuples) until
//! that list holds [`MAX_PENDING`] tuples, then stops taking them, the channel fills, and the event
//! loop stops reading sockets.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crossbeam_channel::{unbounded, Receiver};

use super::wire::WireMessage;
use super::Shared;
use crate::api::{Tuple, TupleSource};
use crate::executor::transport::{Batch, Control};
use crate::executor::{Delivery, Router};
use crate::topology::system::is_system_id;

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
                    self.batches.push_front(Batch {
                        dest: b.dest,
                        tuples,
                    });
                    return false;
                }
                _ => self.tuples -= n,
            }
        }
        true
    }
}

/// The last resolved source, to skip the resolver for runs of messages from one task and stream.
struct LastSource {
    task: i32,
    stream: String,
    source: Arc<TupleSource>,
}

pub(crate) fn run(shared: Arc<Shared>, batches: Receiver<Vec<WireMessage>>, stop: Receiver<()>) {
    let mut pending = Pending::default();
    let (room_tx, room_rx) = unbounded::<Control>();
    let mut last: Option<LastSource> = None;
    let never = crossbeam_channel::never::<Vec<WireMessage>>();
    loop {
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
            if router.notify_room(dest, &room_tx, n) {
                continue;
            }
            let take_more = pending.tuples < MAX_PENDING;
            crossbeam_channel::select! {
                recv(room_rx) -> _ => {}
                recv(if take_more { &batches } else { &never }) -> b => match b {
                    Ok(batch) => {
                        room_made(&shared);
                        deliver(&shared, batch, &mut pending, &mut last);
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
                    room_made(&shared);
                    deliver(&shared, batch, &mut pending, &mut last);
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

fn deliver(
    shared: &Shared,
    frame: Vec<WireMessage>,
    pending: &mut Pending,
    last: &mut Option<LastSource>,
) {
    let Some(router) = shared.router() else {
        return;
    };
    let mut current: Option<(Batch, bool)> = None;
    for m in frame {
        if !router.is_local(m.dest) {
            tracing::debug!(topology = %shared.topology_id, task = m.dest, "received a tuple for a task this worker does not run; dropped");
            continue;
        }
        let source = match last {
            Some(l) if l.task == m.source_task && l.stream == m.stream => Arc::clone(&l.source),
            _ => {
                let Some(source) = shared.resolver.source(m.source_task, &m.stream) else {
                    tracing::debug!(topology = %shared.topology_id, task = m.source_task, stream = %m.stream, "received a tuple from an unknown task or stream; dropped");
                    continue;
                };
                *last = Some(LastSource {
                    task: m.source_task,
                    stream: m.stream.clone(),
                    source: Arc::clone(&source),
                });
                source
            }
        };
        let system = is_system_id(&m.stream);
        let tuple = Tuple::new(source, m.values, m.anchors);
        match &mut current {
            Some((b, s)) if b.dest == m.dest && *s == system => b.tuples.push(tuple),
            _ => {
                if let Some((b, s)) = current.take() {
                    hand_over(&router, b, s, pending);
                }
                current = Some((
                    Batch {
                        dest: m.dest,
                        tuples: vec![tuple],
                    },
                    system,
                ));
            }
        }
    }
    if let Some((b, s)) = current {
        hand_over(&router, b, s, pending);
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
        pending.push(Batch {
            dest: batch.dest,
            tuples,
        });
    }
}
