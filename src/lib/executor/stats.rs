//! Per-executor statistics: Storm's executor stats (emitted, transferred, acked, failed, executed and the
//! complete / process / execute latencies), counts exact (no sampling); bolts time execute/process
//! latency on one tuple in `1 / topology.stats.sample.rate` (Storm's sampling, 1 in 20 by default),
//! the first tuple always. Plus the queue gauges that show backpressure. [`ExecutorStatsSnapshot::to_thrift`] gives the Thrift `ExecutorStats` of the
//! all-time window.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use thrift::OrderedFloat;

use crate::thrift::{
    BoltStats, ExecutorSpecificStats, ExecutorStats as ThriftExecutorStats, GlobalStreamId,
    SpoutStats,
};

/// Storm's window key for totals since start.
pub const ALL_TIME_WINDOW: &str = ":all-time";

/// A latency accumulator.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub total_ms: f64,
}

impl Latency {
    pub fn record(&mut self, ms: f64) {
        self.count += 1;
        self.total_ms += ms;
    }

    pub fn average_ms(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total_ms / self.count as f64
        }
    }
}

/// Spout or bolt (the acker is a bolt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorKind {
    Spout,
    Bolt,
}

/// Source component → stream → value.
pub type ByStream<T> = BTreeMap<String, BTreeMap<String, T>>;

/// The counters of one executor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecutorStatsData {
    /// Tuples emitted, by stream (system streams included, as Storm counts them).
    pub emitted: BTreeMap<String, u64>,
    /// Tuples sent to tasks (one per target task), by stream.
    pub transferred: BTreeMap<String, u64>,
    /// Spouts: trees acked, by stream.
    pub spout_acked: BTreeMap<String, u64>,
    /// Spouts: trees failed or timed out, by stream.
    pub spout_failed: BTreeMap<String, u64>,
    /// Spouts: complete latency (as measured by the acker), by stream.
    pub complete_latency: BTreeMap<String, Latency>,
    /// Bolts: inputs acked, by source component and stream.
    pub bolt_acked: ByStream<u64>,
    pub bolt_failed: ByStream<u64>,
    pub executed: ByStream<u64>,
    /// Bolts: from the start of `execute` to the ack.
    pub process_latency: ByStream<Latency>,
    /// Bolts: duration of `execute`.
    pub execute_latency: ByStream<Latency>,
}

pub(crate) fn bump(map: &mut BTreeMap<String, u64>, key: &str, n: u64) {
    match map.get_mut(key) {
        Some(v) => *v += n,
        None => {
            map.insert(key.to_owned(), n);
        }
    }
}

pub(crate) fn bump2(map: &mut ByStream<u64>, component: &str, stream: &str, n: u64) {
    match map.get_mut(component) {
        Some(inner) => bump(inner, stream, n),
        None => {
            map.insert(
                component.to_owned(),
                BTreeMap::from([(stream.to_owned(), n)]),
            );
        }
    }
}

fn sum(map: &BTreeMap<String, u64>) -> u64 {
    map.values().sum()
}

fn sum2(map: &ByStream<u64>) -> u64 {
    map.values().map(sum).sum()
}

impl ExecutorStatsData {
    pub fn total_emitted(&self) -> u64 {
        sum(&self.emitted)
    }

    /// Emitted on user streams only (what the UI shows by default).
    pub fn user_emitted(&self) -> u64 {
        self.emitted
            .iter()
            .filter(|(s, _)| !s.starts_with("__"))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn total_transferred(&self) -> u64 {
        sum(&self.transferred)
    }

    /// Acked trees (spout) or acked inputs (bolt).
    pub fn total_acked(&self) -> u64 {
        sum(&self.spout_acked) + sum2(&self.bolt_acked)
    }

    pub fn total_failed(&self) -> u64 {
        sum(&self.spout_failed) + sum2(&self.bolt_failed)
    }

    pub fn total_executed(&self) -> u64 {
        sum2(&self.executed)
    }
}

/// Counts of one tuple source an executor gathered since it last published its stats.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SourceCounts {
    /// Emitted on this source's stream (this executor's own tasks).
    pub emitted: u64,
    pub transferred: u64,
    /// Spout trees acked / failed on this stream.
    pub spout_acked: u64,
    pub spout_failed: u64,
    pub complete: Latency,
    /// Bolt inputs from this source.
    pub executed: u64,
    pub bolt_acked: u64,
    pub bolt_failed: u64,
    pub process: Latency,
    pub execute: Latency,
}

/// Most sources a [`StatsBuffer`] tracks before it asks to be published.
const STATS_BUFFER_SOURCES: usize = 32;

/// Per-executor counters kept without a lock on the hot path and published into the shared
/// [`ExecutorStatsData`] once per batch (the executor publishes before it waits, so readers lag by
/// at most one batch).
#[derive(Debug, Default)]
pub(crate) struct StatsBuffer {
    sources: Vec<(&'static crate::api::TupleSource, SourceCounts)>,
}

impl StatsBuffer {
    /// The counters of `source` (interned, so found by address).
    #[inline]
    pub fn of(&mut self, source: &'static crate::api::TupleSource) -> &mut SourceCounts {
        let i = self.index_of(source);
        &mut self.sources[i].1
    }

    /// The counters at `index` (from [`StatsBuffer::index_of`], valid until the next publish).
    #[inline]
    pub fn at(&mut self, index: usize) -> Option<&mut SourceCounts> {
        self.sources.get_mut(index).map(|(_, c)| c)
    }

    /// Where the counters of `source` are.
    #[inline]
    pub fn index_of(&mut self, source: &'static crate::api::TupleSource) -> usize {
        // Sources are interned: one address per (component, task, stream, fields).
        match self
            .sources
            .iter()
            .position(|(s, _)| std::ptr::eq(*s, source))
        {
            Some(i) => i,
            None => {
                self.sources.push((source, SourceCounts::default()));
                self.sources.len() - 1
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Whether the buffer grew large enough to publish now.
    pub fn is_large(&self) -> bool {
        self.sources.len() >= STATS_BUFFER_SOURCES
    }

    /// Adds everything to `into` and empties the buffer.
    pub fn publish(&mut self, into: &mut ExecutorStatsData) {
        fn add_latency(l: &mut Latency, more: &Latency) {
            l.count += more.count;
            l.total_ms += more.total_ms;
        }
        for (src, c) in self.sources.drain(..) {
            let stream = src.stream.as_str();
            let component = src.component.as_str();
            if c.emitted > 0 {
                bump(&mut into.emitted, stream, c.emitted);
            }
            if c.transferred > 0 {
                bump(&mut into.transferred, stream, c.transferred);
            }
            if c.spout_acked > 0 {
                bump(&mut into.spout_acked, stream, c.spout_acked);
            }
            if c.spout_failed > 0 {
                bump(&mut into.spout_failed, stream, c.spout_failed);
            }
            if c.complete.count > 0 {
                add_latency(
                    into.complete_latency.entry(stream.to_owned()).or_default(),
                    &c.complete,
                );
            }
            if c.executed > 0 {
                bump2(&mut into.executed, component, stream, c.executed);
            }
            if c.bolt_acked > 0 {
                bump2(&mut into.bolt_acked, component, stream, c.bolt_acked);
            }
            if c.bolt_failed > 0 {
                bump2(&mut into.bolt_failed, component, stream, c.bolt_failed);
            }
            for (map, l) in [
                (&mut into.process_latency, &c.process),
                (&mut into.execute_latency, &c.execute),
            ] {
                if l.count > 0 {
                    add_latency(
                        map.entry(component.to_owned())
                            .or_default()
                            .entry(stream.to_owned())
                            .or_default(),
                        l,
                    );
                }
            }
        }
    }
}

/// Gauges an executor updates as it runs (read without locking).
#[derive(Debug, Default)]
pub struct ExecutorGauges {
    /// Tuples held back because a destination was full.
    pub overflow: AtomicUsize,
    pub max_overflow: AtomicUsize,
    /// Reliable spout tuples awaiting their verdict.
    pub pending: AtomicUsize,
    pub max_pending: AtomicUsize,
    /// How often the executor died and was rebuilt.
    pub restarts: AtomicU64,
}

impl ExecutorGauges {
    pub(crate) fn set_overflow(&self, n: usize) {
        self.overflow.store(n, Ordering::Relaxed);
        self.max_overflow.fetch_max(n, Ordering::Relaxed);
    }

    pub(crate) fn set_pending(&self, n: usize) {
        self.pending.store(n, Ordering::Relaxed);
        self.max_pending.fetch_max(n, Ordering::Relaxed);
    }
}

/// One executor's statistics and queue state at a moment.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutorStatsSnapshot {
    pub component_id: String,
    /// `[first task, last task]`.
    pub executor: (i32, i32),
    pub kind: ExecutorKind,
    pub stats: ExecutorStatsData,
    /// Capacity of the data receive queue.
    pub queue_capacity: usize,
    pub data_queue_len: usize,
    pub control_queue_len: usize,
    pub overflow_len: usize,
    /// Highest overflow seen.
    pub max_overflow_len: usize,
    pub pending: usize,
    /// Highest pending count seen (spouts).
    pub max_pending: usize,
    pub restarts: u64,
}

impl ExecutorStatsSnapshot {
    /// The Thrift `ExecutorStats` of the all-time window (`rate` is `topology.stats.sample.rate`).
    pub fn to_thrift(&self, rate: f64) -> ThriftExecutorStats {
        fn window<K: Ord + Clone, V: Clone>(m: BTreeMap<K, V>) -> BTreeMap<String, BTreeMap<K, V>> {
            BTreeMap::from([(ALL_TIME_WINDOW.to_owned(), m)])
        }
        fn counts(m: &BTreeMap<String, u64>) -> BTreeMap<String, i64> {
            m.iter()
                .map(|(k, v)| (k.clone(), i64::try_from(*v).unwrap_or(i64::MAX)))
                .collect()
        }
        fn by_gsid<T, U>(m: &ByStream<T>, f: impl Fn(&T) -> U) -> BTreeMap<GlobalStreamId, U> {
            m.iter()
                .flat_map(|(c, streams)| {
                    streams.iter().map(|(s, v)| {
                        (
                            GlobalStreamId {
                                component_id: c.clone(),
                                stream_id: s.clone(),
                            },
                            v,
                        )
                    })
                })
                .map(|(k, v)| (k, f(v)))
                .collect()
        }
        let s = &self.stats;
        let count = |v: &u64| i64::try_from(*v).unwrap_or(i64::MAX);
        let avg = |l: &Latency| OrderedFloat(l.average_ms());
        let specific = match self.kind {
            ExecutorKind::Spout => ExecutorSpecificStats::Spout(SpoutStats {
                acked: window(counts(&s.spout_acked)),
                failed: window(counts(&s.spout_failed)),
                complete_ms_avg: window(
                    s.complete_latency
                        .iter()
                        .map(|(k, l)| (k.clone(), avg(l)))
                        .collect(),
                ),
            }),
            ExecutorKind::Bolt => ExecutorSpecificStats::Bolt(BoltStats {
                acked: window(by_gsid(&s.bolt_acked, count)),
                failed: window(by_gsid(&s.bolt_failed, count)),
                process_ms_avg: window(by_gsid(&s.process_latency, avg)),
                executed: window(by_gsid(&s.executed, count)),
                execute_ms_avg: window(by_gsid(&s.execute_latency, avg)),
            }),
        };
        ThriftExecutorStats {
            emitted: window(counts(&s.emitted)),
            transferred: window(counts(&s.transferred)),
            specific,
            rate: OrderedFloat(rate),
        }
    }
}
