//! Built-in components for the performance topologies (modelled on Storm's `storm-perf` module), in
//! the library so the stock `worker` binary runs them in cluster mode too:
//!
//! * [`ConstSpout`]: emits the same string (or cycles through a few strings) as fast as allowed, or at
//!   a fixed rate (`rate` tuples/s per task, the rate-limited spout). Reliable when `reliable`: one
//!   tuple in eight carries its emit time on the process clock as message id (the others 0), so `ack`
//!   measures a sample of the complete latency into a [`LatencyHistogram`].
//! * [`IdBolt`]: re-emits its input anchored and acks it (Storm's `IdBolt`).
//! * [`NullBolt`]: acks and drops its input (Storm's `DevNullBolt`).
//!
//! With `report_dir` set, a spout task writes into that directory (so a benchmark runner in another
//! process can read them): `open-<task>-<pid>` (CLOCK_BOOTTIME nanoseconds at `open`, to time worker
//! start-up), `first-ack-<task>-<pid>` (Unix epoch milliseconds of the first ack) and
//! `latency-<task>-<pid>.txt` (its cumulative latency histogram, rewritten by temp + rename at most
//! every 200 ms).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::api::{
    Bolt, ComponentError, ConfMap, MessageId, OutputCollector, OutputFieldsDeclarer, Spout,
    SpoutOutputCollector, TopologyContext, Tuple,
};
use crate::topology::system::DEFAULT_STREAM_ID;
use crate::tuple::Value;

fn clock_base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Nanoseconds on this process's monotonic clock (never 0).
fn now_ns() -> i64 {
    i64::try_from(clock_base().elapsed().as_nanos())
        .unwrap_or(i64::MAX)
        .max(1)
}

/// `CLOCK_BOOTTIME` in nanoseconds: comparable across processes and with `/proc/<pid>/stat`'s start
/// time (which counts clock ticks since boot).
pub fn boottime_ns() -> i64 {
    let mut ts = nix::libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_BOOTTIME exists on Linux.
    let rc = unsafe { nix::libc::clock_gettime(nix::libc::CLOCK_BOOTTIME, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

fn epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Reliable [`ConstSpout`]s time one tuple in this many (Storm samples its latencies too).
const LATENCY_SAMPLE: u64 = 8;

/// Sub-buckets per power of two: relative bucket width 1/16 (≤ 6.25 % error on a percentile).
const SUB_BITS: u32 = 4;
const SUB: usize = 1 << SUB_BITS;
const BUCKETS: usize = 64 * SUB;

/// A log-linear latency histogram over nanoseconds (16 buckets per power of two), plus count, max
/// and sum. Cumulative histograms subtract: the difference of two snapshots is the histogram of what
/// happened between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
    pub count: u64,
    pub max_ns: u64,
    pub sum_ns: u64,
}

impl Default for LatencyHistogram {
    fn default() -> LatencyHistogram {
        LatencyHistogram {
            counts: vec![0; BUCKETS],
            count: 0,
            max_ns: 0,
            sum_ns: 0,
        }
    }
}

fn bucket_of(ns: u64) -> usize {
    if ns < SUB as u64 {
        return ns as usize;
    }
    let msb = 63 - ns.leading_zeros();
    let shift = msb - SUB_BITS;
    let sub = ((ns >> shift) as usize) & (SUB - 1);
    ((shift as usize + 1) * SUB + sub).min(BUCKETS - 1)
}

/// The highest value bucket `b` holds.
fn bucket_upper(b: usize) -> u64 {
    if b < SUB {
        return b as u64;
    }
    let shift = (b / SUB - 1) as u32;
    let sub = (b % SUB) as u64;
    (((SUB as u64) + sub + 1) << shift).saturating_sub(1)
}

impl LatencyHistogram {
    pub fn record(&mut self, ns: u64) {
        self.counts[bucket_of(ns)] += 1;
        self.count += 1;
        self.max_ns = self.max_ns.max(ns);
        self.sum_ns = self.sum_ns.saturating_add(ns);
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.count += other.count;
        self.max_ns = self.max_ns.max(other.max_ns);
        self.sum_ns = self.sum_ns.saturating_add(other.sum_ns);
    }

    /// `self - earlier` (bucket-wise; `max_ns` stays this snapshot's).
    pub fn since(&self, earlier: &LatencyHistogram) -> LatencyHistogram {
        LatencyHistogram {
            counts: self
                .counts
                .iter()
                .zip(&earlier.counts)
                .map(|(a, b)| a.saturating_sub(*b))
                .collect(),
            count: self.count.saturating_sub(earlier.count),
            max_ns: self.max_ns,
            sum_ns: self.sum_ns.saturating_sub(earlier.sum_ns),
        }
    }

    /// The upper bound of the bucket holding quantile `q` (0..=1), in nanoseconds; 0 when empty.
    pub fn quantile_ns(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (b, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return bucket_upper(b).min(self.max_ns);
            }
        }
        self.max_ns
    }

    pub fn mean_ns(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_ns as f64 / self.count as f64
        }
    }

    /// Text form: `count max sum` on the first line, then `bucket n` for non-empty buckets.
    pub fn to_text(&self) -> String {
        let mut s = format!("{} {} {}\n", self.count, self.max_ns, self.sum_ns);
        for (b, &n) in self.counts.iter().enumerate() {
            if n > 0 {
                s.push_str(&format!("{b} {n}\n"));
            }
        }
        s
    }

    pub fn from_text(text: &str) -> Option<LatencyHistogram> {
        let mut lines = text.lines();
        let mut head = lines.next()?.split_whitespace().map(str::parse::<u64>);
        let mut h = LatencyHistogram {
            count: head.next()?.ok()?,
            max_ns: head.next()?.ok()?,
            sum_ns: head.next()?.ok()?,
            ..LatencyHistogram::default()
        };
        for line in lines {
            let mut parts = line.split_whitespace().map(str::parse::<u64>);
            let b = parts.next()?.ok()? as usize;
            let n = parts.next()?.ok()?;
            *h.counts.get_mut(b)? = n;
        }
        Some(h)
    }

    /// The merged histograms of every `latency-*.txt` under `dir`.
    pub fn read_dir(dir: &Path) -> LatencyHistogram {
        let mut out = LatencyHistogram::default();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if name.starts_with("latency-") && name.ends_with(".txt") {
                    if let Some(h) = std::fs::read_to_string(e.path())
                        .ok()
                        .and_then(|t| LatencyHistogram::from_text(&t))
                    {
                        out.merge(&h);
                    }
                }
            }
        }
        out
    }
}

/// Storm-perf's `ConstSpout` (and, with `rate` > 0, a rate-limited spout); see the module doc.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ConstSpout {
    /// Emitted in turn (one value, the constant string, in Storm's `ConstSpout`).
    pub values: Vec<String>,
    /// Emit with a message id (the emit time) so acking tracks every tuple.
    pub reliable: bool,
    /// Tuples per second per task; 0 = as fast as the executor calls `next_tuple`.
    pub rate: u64,
    /// Where to write the latency histogram and start-up markers (see the module doc).
    pub report_dir: Option<PathBuf>,
    /// `values` as the one-field tuples to emit (built in `open`; copied into recycled tuples).
    #[serde(skip)]
    tuples: Vec<[Value; 1]>,
    #[serde(skip)]
    next: usize,
    /// Reused for the target tasks of each emit.
    #[serde(skip)]
    tasks: Vec<i32>,
    #[serde(skip)]
    emitted: u64,
    #[serde(skip)]
    started: Option<Instant>,
    #[serde(skip)]
    hist: LatencyHistogram,
    #[serde(skip)]
    task: i32,
    #[serde(skip)]
    first_ack_written: bool,
    #[serde(skip)]
    last_report: Option<Instant>,
}

impl ConstSpout {
    /// Emits `value` as fast as allowed.
    pub fn new(value: impl Into<String>, reliable: bool) -> ConstSpout {
        ConstSpout {
            values: vec![value.into()],
            reliable,
            ..ConstSpout::default()
        }
    }

    /// Cycles through `values`.
    pub fn cycling(values: &[&str], reliable: bool) -> ConstSpout {
        ConstSpout {
            values: values.iter().map(|s| s.to_string()).collect(),
            reliable,
            ..ConstSpout::default()
        }
    }

    /// At most `rate` tuples per second per task.
    pub fn with_rate(mut self, rate: u64) -> ConstSpout {
        self.rate = rate;
        self
    }

    pub fn with_report_dir(mut self, dir: impl Into<PathBuf>) -> ConstSpout {
        self.report_dir = Some(dir.into());
        self
    }

    fn file(&self, prefix: &str, suffix: &str) -> Option<PathBuf> {
        let dir = self.report_dir.as_ref()?;
        Some(dir.join(format!(
            "{prefix}-{}-{}{suffix}",
            self.task,
            std::process::id()
        )))
    }

    fn write_file(&self, path: &Path, text: &str) {
        let tmp = path.with_extension("tmp");
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }

    fn report(&mut self, force: bool) {
        if self.report_dir.is_none() || !self.reliable {
            return;
        }
        let due = self
            .last_report
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(200));
        if !(force || due) {
            return;
        }
        self.last_report = Some(Instant::now());
        if let Some(path) = self.file("latency", ".txt") {
            self.write_file(&path, &self.hist.to_text());
        }
    }
}

#[typetag::serde(name = "storm::perf::ConstSpout")]
impl Spout for ConstSpout {
    fn open(
        &mut self,
        _conf: &ConfMap,
        context: &TopologyContext,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.task = context.this_task_id();
        if let Some(dir) = &self.report_dir {
            let _ = std::fs::create_dir_all(dir);
            if let Some(path) = self.file("open", "") {
                self.write_file(&path, &boottime_ns().to_string());
            }
        }
        if self.values.is_empty() {
            self.values.push(String::new());
        }
        self.tuples = (self.values.iter())
            .map(|v| [Value::String(v.clone())])
            .collect();
        Ok(())
    }

    fn next_tuple(
        &mut self,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if self.rate > 0 {
            let started = *self.started.get_or_insert_with(Instant::now);
            let due = (started.elapsed().as_nanos() * u128::from(self.rate) / 1_000_000_000) as u64;
            if self.emitted >= due {
                self.report(false);
                return Ok(());
            }
        }
        let tuple = self.next;
        self.next += 1;
        if self.next == self.tuples.len() {
            self.next = 0;
        }
        // A copy into a spent tuple's buffers: no allocation per tuple (Storm's ConstSpout emits
        // one shared String; a Rust `String` cannot be shared without a copy or a refcount).
        // Complete latency is sampled on one tuple in LATENCY_SAMPLE (two clock reads per tuple cost
        // as much as the rest of the spout); the others carry 0. The message id is built in each
        // branch: one `Option<Value>` written a byte and a word at a time, then read whole by the
        // call, stalled the store buffer on every emit.
        let values = &self.tuples[tuple];
        self.tasks.clear();
        if self.reliable {
            let at = if self.emitted % LATENCY_SAMPLE == 0 {
                now_ns()
            } else {
                0
            };
            let id = Some(Value::Long(at));
            collector.emit_stream_copied_into(DEFAULT_STREAM_ID, values, id, &mut self.tasks)?;
        } else {
            collector.emit_stream_copied_into(DEFAULT_STREAM_ID, values, None, &mut self.tasks)?;
        }
        self.emitted += 1;
        if self.emitted % 1024 == 0 {
            self.report(false);
        }
        Ok(())
    }

    fn ack(
        &mut self,
        message_id: MessageId,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if let Some(t) = message_id.as_i64().filter(|&t| t > 0) {
            self.hist.record(now_ns().saturating_sub(t).max(0) as u64);
        }
        if !self.first_ack_written {
            self.first_ack_written = true;
            if let Some(path) = self.file("first-ack", "") {
                self.write_file(&path, &epoch_ms().to_string());
            }
        }
        if self.hist.count % 128 == 0 {
            self.report(false);
        }
        Ok(())
    }

    fn close(&mut self) {
        self.report(true);
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["str"]);
    }
}

/// Storm-perf's `IdBolt`: emits its input's values anchored to it, then acks it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IdBolt;

#[typetag::serde(name = "storm::perf::IdBolt")]
impl Bolt for IdBolt {
    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        collector.emit_anchored(&input, input.values().to_vec())?;
        collector.ack(&input);
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["str"]);
    }
}

/// Storm-perf's `DevNullBolt`: acks and drops every input.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NullBolt;

#[typetag::serde(name = "storm::perf::NullBolt")]
impl Bolt for NullBolt {
    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        collector.ack(&input);
        Ok(())
    }

    fn declare_output_fields(&self, _declarer: &mut OutputFieldsDeclarer) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_within_a_bucket() {
        let mut h = LatencyHistogram::default();
        for ns in 1..=100_000u64 {
            h.record(ns * 1000);
        }
        let p50 = h.quantile_ns(0.5) as f64;
        let p99 = h.quantile_ns(0.99) as f64;
        assert!((p50 / 50_000_000.0 - 1.0).abs() < 0.07, "{p50}");
        assert!((p99 / 99_000_000.0 - 1.0).abs() < 0.07, "{p99}");
        assert_eq!(h.quantile_ns(1.0), 100_000_000);
        let back = LatencyHistogram::from_text(&h.to_text()).unwrap();
        assert_eq!(back, h);
        let mut later = h.clone();
        later.record(5);
        let d = later.since(&h);
        assert_eq!(d.count, 1);
        assert_eq!(d.quantile_ns(0.5), 5);
    }

    #[test]
    fn buckets_are_monotonic() {
        let mut last = 0;
        for b in 0..50 * SUB {
            let up = bucket_upper(b);
            assert!(up >= last);
            assert_eq!(bucket_of(up), b, "bucket {b}");
            last = up;
        }
    }
}
