//! Per-executor statistics: Storm's executor stats (emitted, transferred, acked, failed, executed and
//! the complete / process / execute latencies) in Storm's four windows — `600`, `10800` and `86400`
//! seconds, rolling as Storm's `CountStat`/`LatencyStat` do ([`super::rolling`]), and `:all-time` —
//! plus two storm-rs additions: spout trees failed by cause (timed out / failed explicitly) and the
//! errors the executor reported. Counts are exact (no sampling); bolts time execute/process latency on
//! one tuple in `1 / topology.stats.sample.rate` (Storm's sampling, 1 in 20 by default), the first
//! tuple always. Plus the queue gauges that show backpressure.
//!
//! The executor thread counts into a [`StatsBuffer`] without a lock and publishes it into its
//! [`ExecutorStatsState`] under the lock once per turn; the windows roll then (and when read), never
//! per tuple, and keep a fixed number of buckets per counter. [`ExecutorStatsState::read`] gives the
//! values of every window; [`ExecutorStatsSnapshot::to_thrift`] Storm's `ExecutorStats` with all four.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use thrift::OrderedFloat;

use crate::thrift::{
    BoltStats, ExecutorSpecificStats, ExecutorStats as ThriftExecutorStats, GlobalStreamId,
    SpoutStats,
};

use super::rolling::{BucketValue, RollingClock, Series, DEFAULT_BUCKETS, MAX_BUCKETS};
use crate::api::TupleSource;

/// Storm's window key for totals since start.
pub const ALL_TIME_WINDOW: &str = ":all-time";

/// Storm's rolling window keys (seconds), shortest first.
pub const ROLLING_WINDOWS: [&str; 3] = ["600", "10800", "86400"];

/// Buckets per rolling window from `num.stat.buckets`: Storm uses at least 2; storm-rs also caps it
/// at [`MAX_BUCKETS`] so the memory of an executor's statistics stays small.
pub(crate) fn stat_buckets(configured: i64) -> usize {
    let n = usize::try_from(configured.max(2))
        .unwrap_or(MAX_BUCKETS)
        .min(MAX_BUCKETS);
    if i64::try_from(n).ok() != Some(configured) {
        tracing::warn!(
            configured,
            used = n,
            "num.stat.buckets is outside 2..={MAX_BUCKETS}; using {n}"
        );
    }
    n
}

/// A latency accumulator.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub total_ms: f64,
}

impl BucketValue for Latency {
    fn merge(&mut self, other: Latency) {
        self.count = self.count.saturating_add(other.count);
        self.total_ms += other.total_ms;
    }
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

/// The counters of one executor in one window (all-time, or one of Storm's rolling windows).
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
    /// Spouts: trees that timed out (`topology.message.timeout.secs`), by stream (storm-rs addition).
    pub spout_failed_timeout: BTreeMap<String, u64>,
    /// Spouts: trees a bolt failed explicitly (`fail`), by stream (storm-rs addition).
    pub spout_failed_explicit: BTreeMap<String, u64>,
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
    /// Errors the executor reported (`reportError`, a dying component), counted before Storm's
    /// throttle, like Storm's `__reported-error-count` (storm-rs addition).
    pub reported_errors: u64,
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
    /// Spout trees acked on this stream.
    pub spout_acked: u64,
    /// Spout trees failed on this stream, by cause (Storm's `failed` is their sum).
    pub spout_failed_timeout: u64,
    pub spout_failed_explicit: u64,
    pub complete: Latency,
    /// Bolt inputs from this source.
    pub executed: u64,
    pub bolt_acked: u64,
    pub bolt_failed: u64,
    pub process: Latency,
    pub execute: Latency,
}

impl SourceCounts {
    fn counts(&self) -> [(Metric, u64); COUNT_METRICS] {
        [
            (Metric::Emitted, self.emitted),
            (Metric::Transferred, self.transferred),
            (Metric::SpoutAcked, self.spout_acked),
            (
                Metric::SpoutFailed,
                self.spout_failed_timeout
                    .saturating_add(self.spout_failed_explicit),
            ),
            (Metric::SpoutFailedTimeout, self.spout_failed_timeout),
            (Metric::SpoutFailedExplicit, self.spout_failed_explicit),
            (Metric::Executed, self.executed),
            (Metric::BoltAcked, self.bolt_acked),
            (Metric::BoltFailed, self.bolt_failed),
        ]
    }

    fn latencies(&self) -> [(Metric, Latency); METRICS - COUNT_METRICS] {
        [
            (Metric::Complete, self.complete),
            (Metric::Process, self.process),
            (Metric::Execute, self.execute),
        ]
    }
}

/// Most sources a [`StatsBuffer`] tracks before it asks to be published.
const STATS_BUFFER_SOURCES: usize = 32;

/// Per-executor counters kept without a lock on the hot path and published into the shared
/// [`ExecutorStatsState`] once per batch (the executor publishes before it waits, so readers lag by
/// at most one batch).
#[derive(Debug, Default)]
pub(crate) struct StatsBuffer {
    sources: Vec<(&'static TupleSource, SourceCounts)>,
}

impl StatsBuffer {
    /// The counters of `source` (interned, so found by address).
    #[inline]
    pub fn of(&mut self, source: &'static TupleSource) -> &mut SourceCounts {
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
    pub fn index_of(&mut self, source: &'static TupleSource) -> usize {
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
}

/// Storm's executor counters and latencies (one [`Series`] per metric and key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Metric {
    Emitted,
    Transferred,
    SpoutAcked,
    SpoutFailed,
    SpoutFailedTimeout,
    SpoutFailedExplicit,
    Executed,
    BoltAcked,
    BoltFailed,
    // Latencies (after the counts).
    Complete,
    Process,
    Execute,
}

const COUNT_METRICS: usize = 9;
const METRICS: usize = 12;

impl Metric {
    /// Whether the metric is kept per input (source component, stream) rather than per stream.
    fn by_input(self) -> bool {
        matches!(
            self,
            Metric::Executed
                | Metric::BoltAcked
                | Metric::BoltFailed
                | Metric::Process
                | Metric::Execute
        )
    }
}

/// What a series counts: a metric of a stream (`component` empty) or of an input.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct StatKey {
    metric: Metric,
    component: String,
    stream: String,
}

/// No series yet for this metric of this source.
const NO_SLOT: u32 = u32::MAX;

/// Most interned sources whose series are remembered by address; beyond it the cache starts over
/// (sources are per task and stream, so only a huge topology gets there).
const MAX_CACHED_SOURCES: usize = 4096;

/// An executor's statistics as its thread publishes them (shared with readers under a lock): exact
/// all-time totals and Storm's rolling windows, one clock for all its series.
#[derive(Debug, Clone)]
pub struct ExecutorStatsState {
    clock: RollingClock,
    counts: Vec<(StatKey, Series<u64>)>,
    latencies: Vec<(StatKey, Series<Latency>)>,
    /// Where each key's series is (in `counts` or `latencies`, by its metric).
    index: BTreeMap<StatKey, u32>,
    /// The series of each interned source seen, by the source's address and metric, so that
    /// publishing looks a source up once and builds no key.
    sources: HashMap<usize, [u32; METRICS]>,
    errors: Series<u64>,
}

impl Default for ExecutorStatsState {
    fn default() -> ExecutorStatsState {
        ExecutorStatsState::new(DEFAULT_BUCKETS, super::now_ms())
    }
}

impl ExecutorStatsState {
    /// Empty statistics whose windows start at `now_ms` with `buckets` buckets each (Storm's
    /// `num.stat.buckets`).
    pub fn new(buckets: usize, now_ms: u64) -> ExecutorStatsState {
        let clock = RollingClock::new(buckets, now_ms);
        ExecutorStatsState {
            errors: Series::new(&clock),
            clock,
            counts: Vec::new(),
            latencies: Vec::new(),
            index: BTreeMap::new(),
            sources: HashMap::new(),
        }
    }

    /// Moves the windows to `now_ms`.
    fn roll(&mut self, now_ms: u64) {
        let roll = self.clock.roll(now_ms);
        if !roll.ticked() {
            return;
        }
        for (_, s) in &mut self.counts {
            s.apply(&roll);
        }
        for (_, s) in &mut self.latencies {
            s.apply(&roll);
        }
        self.errors.apply(&roll);
    }

    /// Adds everything `buffer` gathered (at `now_ms`) and empties it.
    pub(crate) fn publish(&mut self, buffer: &mut StatsBuffer, now_ms: u64) {
        self.roll(now_ms);
        for (source, c) in buffer.sources.drain(..) {
            let address = std::ptr::from_ref(source) as usize;
            let cached = self.sources.get(&address).copied();
            let mut slots = cached.unwrap_or([NO_SLOT; METRICS]);
            for (metric, n) in c.counts() {
                if n > 0 {
                    let i = self.slot(&mut slots, metric, source);
                    self.counts[i].1.add(n);
                }
            }
            for (metric, l) in c.latencies() {
                if l.count > 0 {
                    let i = self.slot(&mut slots, metric, source);
                    self.latencies[i].1.add(l);
                }
            }
            if cached != Some(slots) {
                if self.sources.len() >= MAX_CACHED_SOURCES {
                    self.sources.clear();
                }
                self.sources.insert(address, slots);
            }
        }
    }

    /// The series of `metric` for `source` (made on first use).
    fn slot(&mut self, slots: &mut [u32; METRICS], metric: Metric, source: &TupleSource) -> usize {
        let cached = slots[metric as usize];
        if cached != NO_SLOT {
            return cached as usize;
        }
        let key = StatKey {
            metric,
            component: if metric.by_input() {
                source.component.clone()
            } else {
                String::new()
            },
            stream: source.stream.clone(),
        };
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                let i = if (metric as usize) < COUNT_METRICS {
                    self.counts.push((key.clone(), Series::new(&self.clock)));
                    self.counts.len() - 1
                } else {
                    self.latencies.push((key.clone(), Series::new(&self.clock)));
                    self.latencies.len() - 1
                };
                let i = u32::try_from(i).unwrap_or(NO_SLOT);
                self.index.insert(key, i);
                i
            }
        };
        slots[metric as usize] = i;
        i as usize
    }

    /// Counts one error the executor reported at `now_ms`.
    pub(crate) fn record_error(&mut self, now_ms: u64) {
        self.roll(now_ms);
        self.errors.add(1);
    }

    /// Every window at `now_ms`: all-time, and Storm's rolling windows by key
    /// ([`ROLLING_WINDOWS`]). Each window has every key the executor ever counted (zero when
    /// nothing happened in it), as Storm reports them.
    pub fn read(
        &mut self,
        now_ms: u64,
    ) -> (ExecutorStatsData, BTreeMap<String, ExecutorStatsData>) {
        self.roll(now_ms);
        let mut all = ExecutorStatsData::default();
        let mut windows: [ExecutorStatsData; 3] = Default::default();
        for (key, s) in &self.counts {
            all.put_count(key, s.all_time());
            for (w, data) in windows.iter_mut().enumerate() {
                data.put_count(key, s.count(&self.clock, w, now_ms));
            }
        }
        for (key, s) in &self.latencies {
            all.put_latency(key, s.all_time());
            for (w, data) in windows.iter_mut().enumerate() {
                data.put_latency(key, s.sum_whole(&self.clock, w, now_ms));
            }
        }
        all.reported_errors = self.errors.all_time();
        for (w, data) in windows.iter_mut().enumerate() {
            data.reported_errors = self.errors.count(&self.clock, w, now_ms);
        }
        let windows = ROLLING_WINDOWS
            .iter()
            .map(|w| w.to_string())
            .zip(windows)
            .collect();
        (all, windows)
    }
}

impl ExecutorStatsData {
    fn put_count(&mut self, key: &StatKey, n: u64) {
        let by_stream = match key.metric {
            Metric::Emitted => &mut self.emitted,
            Metric::Transferred => &mut self.transferred,
            Metric::SpoutAcked => &mut self.spout_acked,
            Metric::SpoutFailed => &mut self.spout_failed,
            Metric::SpoutFailedTimeout => &mut self.spout_failed_timeout,
            Metric::SpoutFailedExplicit => &mut self.spout_failed_explicit,
            Metric::Executed => return bump2(&mut self.executed, &key.component, &key.stream, n),
            Metric::BoltAcked => {
                return bump2(&mut self.bolt_acked, &key.component, &key.stream, n)
            }
            Metric::BoltFailed => {
                return bump2(&mut self.bolt_failed, &key.component, &key.stream, n)
            }
            Metric::Complete | Metric::Process | Metric::Execute => return,
        };
        bump(by_stream, &key.stream, n);
    }

    fn put_latency(&mut self, key: &StatKey, l: Latency) {
        let slot = match key.metric {
            Metric::Complete => self.complete_latency.entry(key.stream.clone()).or_default(),
            Metric::Process => self
                .process_latency
                .entry(key.component.clone())
                .or_default()
                .entry(key.stream.clone())
                .or_default(),
            Metric::Execute => self
                .execute_latency
                .entry(key.component.clone())
                .or_default()
                .entry(key.stream.clone())
                .or_default(),
            _ => return,
        };
        slot.merge(l);
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
    /// The all-time window.
    pub stats: ExecutorStatsData,
    /// Storm's rolling windows (`"600"`, `"10800"`, `"86400"`).
    pub windows: BTreeMap<String, ExecutorStatsData>,
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
    /// The counters of window `window` (`":all-time"` or a rolling window's key).
    pub fn window(&self, window: &str) -> Option<&ExecutorStatsData> {
        if window == ALL_TIME_WINDOW {
            Some(&self.stats)
        } else {
            self.windows.get(window)
        }
    }

    /// The Thrift `ExecutorStats` with every window Storm reports (`rate` is
    /// `topology.stats.sample.rate`). As Storm's, a stat the executor never counted is an empty map,
    /// and otherwise every window has every key. The storm-rs additions (failures by cause, reported
    /// errors) are in fields Storm's clients skip.
    pub fn to_thrift(&self, rate: f64) -> ThriftExecutorStats {
        let windows: Vec<(&str, &ExecutorStatsData)> = ROLLING_WINDOWS
            .iter()
            .filter_map(|w| self.windows.get(*w).map(|d| (*w, d)))
            .chain(std::iter::once((ALL_TIME_WINDOW, &self.stats)))
            .collect();
        let w = Windows {
            windows: &windows,
            all_time: &self.stats,
        };
        let avg = |l: &Latency| OrderedFloat(l.average_ms());
        let specific = match self.kind {
            ExecutorKind::Spout => ExecutorSpecificStats::Spout(SpoutStats {
                acked: w.map(|d| counts(&d.spout_acked)),
                failed: w.map(|d| counts(&d.spout_failed)),
                complete_ms_avg: w.map(|d| {
                    d.complete_latency
                        .iter()
                        .map(|(k, l)| (k.clone(), avg(l)))
                        .collect()
                }),
                failed_timeout: Some(w.map(|d| counts(&d.spout_failed_timeout))),
                failed_explicit: Some(w.map(|d| counts(&d.spout_failed_explicit))),
            }),
            ExecutorKind::Bolt => ExecutorSpecificStats::Bolt(BoltStats {
                acked: w.map(|d| by_gsid(&d.bolt_acked, |v| count(*v))),
                failed: w.map(|d| by_gsid(&d.bolt_failed, |v| count(*v))),
                process_ms_avg: w.map(|d| by_gsid(&d.process_latency, avg)),
                executed: w.map(|d| by_gsid(&d.executed, |v| count(*v))),
                execute_ms_avg: w.map(|d| by_gsid(&d.execute_latency, avg)),
            }),
        };
        ThriftExecutorStats {
            emitted: w.map(|d| counts(&d.emitted)),
            transferred: w.map(|d| counts(&d.transferred)),
            specific,
            rate: OrderedFloat(rate),
            reported_errors: Some(
                windows
                    .iter()
                    .map(|(w, d)| (w.to_string(), count(d.reported_errors)))
                    .collect(),
            ),
        }
    }
}

/// The windows of a snapshot, to build one Thrift stat (window → key → value) from.
struct Windows<'a> {
    windows: &'a [(&'a str, &'a ExecutorStatsData)],
    all_time: &'a ExecutorStatsData,
}

impl Windows<'_> {
    /// `f` of every window, or no window at all when the stat is empty all-time (Storm's
    /// `MultiCountStat`/`MultiLatencyStat` have no key then).
    fn map<K: Ord, V>(
        &self,
        f: impl Fn(&ExecutorStatsData) -> BTreeMap<K, V>,
    ) -> BTreeMap<String, BTreeMap<K, V>> {
        if f(self.all_time).is_empty() {
            return BTreeMap::new();
        }
        self.windows
            .iter()
            .map(|(w, d)| (w.to_string(), f(d)))
            .collect()
    }
}

fn count(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn counts(m: &BTreeMap<String, u64>) -> BTreeMap<String, i64> {
    m.iter().map(|(k, v)| (k.clone(), count(*v))).collect()
}

fn by_gsid<T, U>(m: &ByStream<T>, f: impl Fn(&T) -> U) -> BTreeMap<GlobalStreamId, U> {
    m.iter()
        .flat_map(|(c, streams)| {
            streams.iter().map(move |(s, v)| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tuple::Fields;

    fn source(component: &str, task: i32, stream: &str) -> &'static TupleSource {
        TupleSource::new(component, task, stream, Fields::new(["x"]).unwrap()).intern()
    }

    /// The period of Storm's default 20 buckets: the 10-minute window moves one bucket per period.
    const PERIOD: u64 = 31_578;

    #[test]
    fn windows_hold_what_happened_in_them_and_all_time_everything() {
        let t0 = 1_000_000;
        let mut state = ExecutorStatsState::new(DEFAULT_BUCKETS, t0);
        let mut buf = StatsBuffer::default();
        let (out_a, out_b) = (source("spout", 1, "default"), source("spout", 2, "default"));
        // Two tasks of the executor emit on the same stream: one key.
        buf.of(out_a).emitted += 3;
        buf.of(out_b).emitted += 4;
        {
            let c = buf.of(out_a);
            c.spout_acked += 2;
            c.complete.record(10.0);
            c.complete.record(20.0);
            c.spout_failed_timeout += 1;
        }
        state.publish(&mut buf, t0);
        assert!(buf.is_empty());
        state.record_error(t0 + 5);
        // Just over 10 minutes later (the first bucket is 20 periods old, past the window).
        let later = t0 + 20 * PERIOD + 1_000;
        buf.of(out_a).emitted += 5;
        buf.of(out_a).spout_failed_explicit += 1;
        state.publish(&mut buf, later);
        let (all, windows) = state.read(later);
        assert_eq!(all.emitted["default"], 12);
        assert_eq!(all.spout_acked["default"], 2);
        assert_eq!(all.complete_latency["default"].average_ms(), 15.0);
        assert_eq!(all.spout_failed["default"], 2);
        assert_eq!(all.spout_failed_timeout["default"], 1);
        assert_eq!(all.spout_failed_explicit["default"], 1);
        assert_eq!(all.reported_errors, 1);
        let recent = &windows["600"];
        assert_eq!(recent.emitted["default"], 5);
        // Every key in every window, zero when nothing happened in it.
        assert_eq!(recent.spout_acked["default"], 0);
        assert_eq!(recent.complete_latency["default"], Latency::default());
        assert_eq!(recent.spout_failed["default"], 1);
        assert_eq!(recent.spout_failed_timeout["default"], 0);
        assert_eq!(recent.reported_errors, 0);
        for w in ["10800", "86400"] {
            let d = &windows[w];
            assert_eq!(d.emitted, all.emitted, "{w}");
            assert_eq!(d.complete_latency, all.complete_latency, "{w}");
            assert_eq!(d.reported_errors, 1, "{w}");
        }
    }

    #[test]
    fn bolt_inputs_are_kept_per_source_component_and_stream() {
        let mut state = ExecutorStatsState::new(DEFAULT_BUCKETS, 0);
        let mut buf = StatsBuffer::default();
        for (component, task, stream, n) in [
            ("spout", 1, "default", 3),
            ("spout", 2, "default", 4),
            ("spout", 1, "other", 5),
            ("split", 7, "default", 6),
        ] {
            let c = buf.of(source(component, task, stream));
            c.executed += n;
            c.bolt_acked += n;
            c.execute.record(2.0);
        }
        state.publish(&mut buf, 10);
        // The same sources again: found by address, added to the same series.
        buf.of(source("spout", 1, "default")).executed += 1;
        state.publish(&mut buf, 20);
        let (all, windows) = state.read(30);
        assert_eq!(all.executed["spout"]["default"], 8);
        assert_eq!(all.executed["spout"]["other"], 5);
        assert_eq!(all.executed["split"]["default"], 6);
        assert_eq!(all.bolt_acked["spout"]["default"], 7);
        assert_eq!(all.execute_latency["spout"]["default"].count, 2);
        assert!(all.bolt_failed.is_empty() && all.emitted.is_empty());
        assert_eq!(
            windows["600"], all,
            "a young executor: the window is its whole life"
        );
    }

    #[test]
    fn thrift_stats_have_every_window_and_storms_empty_maps() {
        let mut state = ExecutorStatsState::new(DEFAULT_BUCKETS, 0);
        let mut buf = StatsBuffer::default();
        let c = buf.of(source("spout", 1, "default"));
        c.emitted += 9;
        c.spout_acked += 9;
        c.complete.record(4.0);
        state.publish(&mut buf, 0);
        let later = 30 * PERIOD;
        buf.of(source("spout", 1, "default")).spout_failed_timeout += 2;
        state.publish(&mut buf, later);
        let (stats, windows) = state.read(later);
        let snapshot = ExecutorStatsSnapshot {
            component_id: "spout".into(),
            executor: (1, 1),
            kind: ExecutorKind::Spout,
            stats,
            windows,
            queue_capacity: 0,
            data_queue_len: 0,
            control_queue_len: 0,
            overflow_len: 0,
            max_overflow_len: 0,
            pending: 0,
            max_pending: 0,
            restarts: 0,
        };
        let t = snapshot.to_thrift(0.05);
        let keys =
            |m: &BTreeMap<String, BTreeMap<String, i64>>| m.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&t.emitted), ["10800", "600", "86400", ":all-time"]);
        assert_eq!(t.emitted["600"]["default"], 0);
        assert_eq!(t.emitted[":all-time"]["default"], 9);
        // Never transferred anything: Storm sends an empty map, not empty windows.
        assert!(t.transferred.is_empty());
        let ExecutorSpecificStats::Spout(s) = &t.specific else {
            panic!("spout stats");
        };
        assert_eq!(s.complete_ms_avg["600"]["default"], OrderedFloat(0.0));
        assert_eq!(s.complete_ms_avg["10800"]["default"], OrderedFloat(4.0));
        assert_eq!(s.failed["600"]["default"], 2);
        assert_eq!(s.failed_timeout.as_ref().unwrap()["600"]["default"], 2);
        assert!(s.failed_explicit.as_ref().unwrap().is_empty());
        assert_eq!(t.reported_errors.as_ref().unwrap().len(), 4);
    }

    #[test]
    fn stat_buckets_follow_storm_with_a_cap() {
        assert_eq!(stat_buckets(20), 20);
        assert_eq!(stat_buckets(0), 2);
        assert_eq!(stat_buckets(-5), 2);
        assert_eq!(stat_buckets(i64::MAX), MAX_BUCKETS);
    }
}
