//! The delivery thread: takes decoded batches from the event loop and hands their tuples to local
//! executors, so that a full executor queue never blocks network I/O.
//!
//! System tuples go straight to the executor's (unbounded) control queue. Data tuples wait in order
//! in a bounded pending list while their executor's data queue is full; the thread keeps taking
//! batches (and so delivering their system tuples) until that list reaches [`MAX_PENDING`], then stops
//! taking batches, the channel fills, and the event loop stops reading sockets.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Select, TrySendError};

use super::wire::WireMessage;
use super::Shared;
use crate::api::Tuple;
use crate::executor::transport::Envelope;
use crate::topology::system::is_system_id;

/// Decoded frames the event loop may queue ahead of delivery.
pub(crate) const CHANNEL_BATCHES: usize = 8;

/// Data tuples held while their executor is full, before the thread stops taking batches.
pub(crate) const MAX_PENDING: usize = 1024;

pub(crate) fn run(shared: Arc<Shared>, batches: Receiver<Vec<WireMessage>>, stop: Receiver<()>) {
    let mut pending: VecDeque<(i32, Tuple)> = VecDeque::new();
    loop {
        if pending.is_empty() {
            crossbeam_channel::select! {
                recv(batches) -> b => match b {
                    Ok(batch) => {
                        room_made(&shared);
                        deliver(&shared, batch, &mut pending, &stop);
                    }
                    Err(_) => return,
                },
                recv(stop) -> _ => return,
            }
            continue;
        }
        let Some(router) = shared.router() else {
            pending.clear();
            continue;
        };
        let dest = pending.front().map(|p| p.0).unwrap_or_default();
        let Some(queues) = router.local(dest) else {
            pending.pop_front();
            continue;
        };
        let data = queues.data_sender();
        let mut sel = Select::new();
        let send_op = sel.send(data);
        let recv_op = (pending.len() < MAX_PENDING).then(|| sel.recv(&batches));
        let stop_op = sel.recv(&stop);
        let oper = sel.select();
        match oper.index() {
            i if i == send_op => {
                if let Some((dest, tuple)) = pending.pop_front() {
                    // Err: the executor is gone; the tuple is dropped (acking replays it).
                    let _ = oper.send(data, Envelope { dest, tuple });
                }
            }
            i if Some(i) == recv_op => match oper.recv(&batches) {
                Ok(batch) => {
                    room_made(&shared);
                    deliver(&shared, batch, &mut pending, &stop);
                }
                Err(_) => return,
            },
            i if i == stop_op => {
                let _ = oper.recv(&stop);
                return;
            }
            _ => unreachable!("no other operation was selected"),
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
    batch: Vec<WireMessage>,
    pending: &mut VecDeque<(i32, Tuple)>,
    stop: &Receiver<()>,
) {
    let Some(router) = shared.router() else {
        return;
    };
    for m in batch {
        let Some(queues) = router.local(m.dest) else {
            tracing::debug!(topology = %shared.topology_id, task = m.dest, "received a tuple for a task this worker does not run; dropped");
            continue;
        };
        let Some(source) = shared.resolver.source(m.source_task, &m.stream) else {
            tracing::debug!(topology = %shared.topology_id, task = m.source_task, stream = %m.stream, "received a tuple from an unknown task or stream; dropped");
            continue;
        };
        let tuple = Tuple::new(source, m.values, m.anchors);
        if is_system_id(&m.stream) {
            // The control queue is unbounded: this never waits.
            router.deliver_blocking(m.dest, tuple, true, stop);
            continue;
        }
        if !pending.is_empty() {
            pending.push_back((m.dest, tuple));
            continue;
        }
        match queues.data_sender().try_send(Envelope {
            dest: m.dest,
            tuple,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(env)) => pending.push_back((env.dest, env.tuple)),
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}
