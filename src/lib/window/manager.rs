//! [`WindowManager`]: the queue of a windowed bolt's tuples and the evaluation of its windows
//! (Storm's `WindowManager`), independent of executors, tuples and clocks.
//!
//! Events go in with [`add`](WindowManager::add) (a timestamp each) and watermarks with
//! [`add_watermark`](WindowManager::add_watermark); a clock trigger is advanced with
//! [`tick`](WindowManager::tick). What happens comes back as [`WindowAction`]s, in order:
//! events that left the window for good (to ack), events dropped over the cap (to fail), and
//! activations (a window to hand to the bolt). Each event leaves the manager exactly once, through
//! `Expire` or `Drop`, or is still queued.
//!
//! Semantics are Storm's, with two storm-rs decisions: an activation's `expired` holds every event
//! that left since the previous *activation* (Storm forgets those that left during an evaluation
//! whose window was empty, so an incremental sum over new/expired would drift), and the queue holds
//! at most `max_tuples` events (the oldest are dropped, reported as `Drop` and in the next
//! activation's `expired`).

use std::collections::{HashSet, VecDeque};

use super::policy::{Action, Eviction, EvictionContext, Trigger};

/// Storm expires old events every this many additions, so a window does not grow between
/// evaluations (`WindowManager.EXPIRE_EVENTS_THRESHOLD`).
pub const EXPIRE_EVENTS_THRESHOLD: u32 = 100;

/// An event in the window queue.
#[derive(Debug, Clone)]
pub struct Event<T> {
    pub value: T,
    pub ts: i64,
    seq: u64,
}

/// One window handed to the bolt (Storm's `TupleWindowImpl` contents).
#[derive(Debug, Clone, PartialEq)]
pub struct Activation<T> {
    /// Every event in the window, in arrival order.
    pub tuples: Vec<T>,
    /// Events in this window that were not in the previous evaluation's window.
    pub new: Vec<T>,
    /// Events that left since the previous activation.
    pub expired: Vec<T>,
    /// `end - window length` for duration windows.
    pub start_ts: Option<i64>,
    /// The window's reference time: its end.
    pub end_ts: Option<i64>,
}

/// What the manager did, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum WindowAction<T> {
    /// Events that left the window for good (ack them).
    Expire(Vec<T>),
    /// Events dropped because the queue was over `max_tuples` (fail them).
    Drop(Vec<T>),
    /// A window to evaluate.
    Activate(Activation<T>),
}

/// The window queue with its eviction and trigger policies.
#[derive(Debug)]
pub struct WindowManager<T> {
    queue: VecDeque<Event<T>>,
    eviction: Eviction,
    trigger: Trigger,
    /// Sequence numbers of the previous evaluation's window.
    prev_window: HashSet<u64>,
    /// Events that left since the last activation.
    expired: Vec<T>,
    since_compaction: u32,
    next_seq: u64,
    max_tuples: usize,
    /// Window length in ms for duration windows (for `start_ts`).
    length_ms: Option<i64>,
    dropped_total: u64,
}

impl<T: Clone> WindowManager<T> {
    /// A manager with these policies; `max_tuples` caps the queue (at least 1).
    pub fn new(
        eviction: Eviction,
        trigger: Trigger,
        length_ms: Option<i64>,
        max_tuples: usize,
    ) -> WindowManager<T> {
        WindowManager {
            queue: VecDeque::new(),
            eviction,
            trigger,
            prev_window: HashSet::new(),
            expired: Vec::new(),
            since_compaction: 0,
            next_seq: 0,
            max_tuples: max_tuples.max(1),
            length_ms,
            dropped_total: 0,
        }
    }

    /// Events queued (in a window or waiting for one).
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Events dropped over the cap so far.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_total
    }

    /// The queued events, oldest first.
    pub fn queued(&self) -> impl Iterator<Item = &Event<T>> {
        self.queue.iter()
    }

    /// When the clock trigger is next due (processing-time duration sliding intervals only).
    pub fn next_due(&self) -> Option<i64> {
        match self.trigger {
            Trigger::Time { next_due, .. } => Some(next_due),
            _ => None,
        }
    }

    /// Adds an event with timestamp `ts` at processing time `now`.
    pub fn add(&mut self, value: T, ts: i64, now: i64, out: &mut Vec<WindowAction<T>>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push_back(Event { value, ts, seq });
        self.eviction.track();
        if let Trigger::Count { count, current } = &mut self.trigger {
            *current += 1;
            if *current >= *count {
                self.eviction.set_context(EvictionContext::at(now));
                self.on_trigger(now, out);
            }
        }
        self.compact(now, out);
        self.enforce_cap(out);
    }

    /// A watermark at event time `ts`: evaluates every window it completes.
    pub fn add_watermark(&mut self, ts: i64, now: i64, out: &mut Vec<WindowAction<T>>) {
        match self.trigger {
            Trigger::WatermarkTime {
                interval,
                next_window_end,
            } => {
                let mut end = next_window_end;
                while end <= ts {
                    let count = self.queue.iter().filter(|e| e.ts <= end).count() as i64;
                    self.eviction.set_context(EvictionContext {
                        current_count: Some(count),
                        ..EvictionContext::at(end)
                    });
                    if self.on_trigger(now, out) {
                        end = end.saturating_add(interval);
                    } else {
                        // Nothing in this window: jump to the first window end (aligned to the
                        // interval) that has an event, if any before the watermark.
                        match self.next_aligned_end(end, ts, interval) {
                            Some(next) => end = next,
                            None => break,
                        }
                    }
                }
                if let Trigger::WatermarkTime {
                    next_window_end, ..
                } = &mut self.trigger
                {
                    *next_window_end = end;
                }
            }
            Trigger::WatermarkCount {
                count,
                last_processed_ts,
            } => {
                for end in self.sliding_count_timestamps(last_processed_ts, ts, count) {
                    self.eviction.set_context(EvictionContext {
                        sliding_count: Some(count),
                        ..EvictionContext::at(end)
                    });
                    self.on_trigger(now, out);
                    if let Trigger::WatermarkCount {
                        last_processed_ts, ..
                    } = &mut self.trigger
                    {
                        *last_processed_ts = end;
                    }
                }
            }
            _ => {}
        }
        self.compact(now, out);
    }

    /// Advances the clock trigger to `now`: evaluates one window if it is due (Storm's timer
    /// runs `now - 1`, so tuples arriving while it runs are in the next window). A trigger that is
    /// more than an interval late evaluates once and skips the missed ends.
    pub fn tick(&mut self, now: i64, out: &mut Vec<WindowAction<T>>) {
        let Trigger::Time { interval, next_due } = self.trigger else {
            return;
        };
        if now < next_due {
            return;
        }
        let mut due = next_due;
        while due <= now {
            due = due.saturating_add(interval.max(1));
        }
        if let Trigger::Time { next_due, .. } = &mut self.trigger {
            *next_due = due;
        }
        let reference = now - 1;
        self.eviction.set_context(EvictionContext {
            sliding_interval: Some(interval),
            ..EvictionContext::at(reference)
        });
        self.on_trigger(now, out);
    }

    /// Evaluates a window; returns whether it had events.
    fn on_trigger(&mut self, now: i64, out: &mut Vec<WindowAction<T>>) -> bool {
        let window = self.scan(true, now, out);
        let mut tuples = Vec::with_capacity(window.len());
        let mut new = Vec::new();
        for (seq, value) in &window {
            if !self.prev_window.contains(seq) {
                new.push(value.clone());
            }
            tuples.push(value.clone());
        }
        self.prev_window.clear();
        if let Trigger::Count { current, .. } = &mut self.trigger {
            *current = 0;
        }
        if tuples.is_empty() {
            return false;
        }
        self.prev_window.extend(window.iter().map(|(seq, _)| *seq));
        let end = self.eviction.reference_time(now);
        out.push(WindowAction::Activate(Activation {
            tuples,
            new,
            expired: std::mem::take(&mut self.expired),
            start_ts: self.length_ms.map(|l| end - l),
            end_ts: Some(end),
        }));
        true
    }

    /// Every `EXPIRE_EVENTS_THRESHOLD` calls, expires what left the window from the front.
    fn compact(&mut self, now: i64, out: &mut Vec<WindowAction<T>>) {
        self.since_compaction += 1;
        if self.since_compaction >= EXPIRE_EVENTS_THRESHOLD {
            self.scan(false, now, out);
        }
    }

    /// Storm's `scanEvents`: expires what the eviction policy says; a full scan returns the
    /// window's events, a partial one stops at the first event that stays.
    fn scan(&mut self, full: bool, now: i64, out: &mut Vec<WindowAction<T>>) -> Vec<(u64, T)> {
        let mut expired = Vec::new();
        let mut window = Vec::new();
        if !full {
            while let Some(front) = self.queue.front() {
                if self.eviction.evict(front.ts, now) != Action::Expire {
                    break;
                }
                if let Some(e) = self.queue.pop_front() {
                    expired.push(e.value);
                }
            }
        } else {
            let mut kept = VecDeque::with_capacity(self.queue.len());
            let mut stopped = false;
            for e in self.queue.drain(..) {
                if stopped {
                    kept.push_back(e);
                    continue;
                }
                match self.eviction.evict(e.ts, now) {
                    Action::Expire => expired.push(e.value),
                    Action::Stop => {
                        stopped = true;
                        kept.push_back(e);
                    }
                    Action::Process => {
                        window.push((e.seq, e.value.clone()));
                        kept.push_back(e);
                    }
                    Action::Keep => kept.push_back(e),
                }
            }
            self.queue = kept;
        }
        self.since_compaction = 0;
        if !expired.is_empty() {
            self.expired.extend(expired.iter().cloned());
            out.push(WindowAction::Expire(expired));
        }
        window
    }

    /// Drops the oldest events while the queue is over the cap.
    fn enforce_cap(&mut self, out: &mut Vec<WindowAction<T>>) {
        if self.queue.len() <= self.max_tuples {
            return;
        }
        let n = self.queue.len() - self.max_tuples;
        let dropped: Vec<T> = self.queue.drain(..n).map(|e| e.value).collect();
        self.eviction.dropped(n as i64);
        self.dropped_total += n as u64;
        self.expired.extend(dropped.iter().cloned());
        out.push(WindowAction::Drop(dropped));
    }

    /// The first multiple of `interval` at or after the earliest event in `(start, end]`.
    fn next_aligned_end(&self, start: i64, end: i64, interval: i64) -> Option<i64> {
        let earliest = self
            .queue
            .iter()
            .map(|e| e.ts)
            .filter(|&ts| ts > start && ts <= end)
            .min()?;
        let rem = earliest.rem_euclid(interval.max(1));
        Some(if rem == 0 {
            earliest
        } else {
            earliest + (interval - rem)
        })
    }

    /// Storm's `getSlidingCountTimestamps`: walking the queue, the running maximum timestamp at
    /// every `count`-th event with a timestamp in `(start, end]`.
    fn sliding_count_timestamps(&self, start: i64, end: i64, count: i64) -> Vec<i64> {
        let mut out = Vec::new();
        if end <= start {
            return out;
        }
        let (mut n, mut ts) = (0i64, i64::MIN);
        for e in &self.queue {
            if e.ts > start && e.ts <= end {
                ts = ts.max(e.ts);
                n += 1;
                if n % count.max(1) == 0 {
                    out.push(ts);
                }
            }
        }
        out
    }
}
