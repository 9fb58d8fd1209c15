//! The storm-perf runner: options, the physical ceilings, the workloads in local and cluster mode, and
//! the result lines. Also compiled into the integration tests (`tests/it/bench_smoke.rs`).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use storm::api::{Tuple, TupleSource};
use storm::config::{Config, ConfigOptions};
use storm::executor::ExecutorStatsSnapshot;
use storm::local::components::{RandomSentenceSpout, SplitSentence, WordCount};
use storm::local::perf::{boottime_ns, ConstSpout, IdBolt, LatencyHistogram, NullBolt};
use storm::local::LocalCluster;
use storm::prelude::*;
use storm::thrift::{ExecutorSpecificStats, ExecutorSummary, TNimbusSyncClient};

pub const USAGE: &str = "usage: storm_perf WORKLOAD [--mode local|cluster] [--workers N] [--parallelism N] \
[--acking on|off] [--warmup SECS] [--duration SECS] [--rate N] [--max-pending N] [--runs N] [--ceiling-secs SECS] \
[--clients N] [--conf KEY=VALUE]... [--json]
workloads: ceilings const-spout-only const-spout-null-bolt const-spout-id-bolt-null-bolt word-count \
low-throughput-latency startup recovery drpc
drpc: exclamation over the DRPC HTTP endpoint, --clients N concurrent HTTP clients (default 8)
--parallelism N: executors of every component of the workload (default 1; the ackers stay as the workload \
sets them: 1 with acking on, 0 off)
--conf: a topology setting (VALUE as JSON when it parses, else a string); --json: one JSON object per run
storm_perf vs-storm …: storm-rs beside Apache Storm 2.8.3 (storm_perf vs-storm --help)
storm_perf scaling …: throughput and RSS as executors and workers grow, both systems (storm_perf scaling --help)
storm_perf idle …: CPU% of idle workers and daemons, both systems (storm_perf idle --help)";

/// The constant string of storm-perf's `ConstSpout`-based topologies.
pub const CONST_VALUE: &str = "some data";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Ceilings,
    ConstSpoutOnly,
    ConstSpoutNullBolt,
    ConstSpoutIdBoltNullBolt,
    WordCount,
    LowThroughputLatency,
    Startup,
    Recovery,
    Drpc,
}

impl Workload {
    pub fn parse(s: &str) -> Result<Workload, String> {
        Ok(match s {
            "ceilings" => Workload::Ceilings,
            "const-spout-only" => Workload::ConstSpoutOnly,
            "const-spout-null-bolt" => Workload::ConstSpoutNullBolt,
            "const-spout-id-bolt-null-bolt" => Workload::ConstSpoutIdBoltNullBolt,
            "word-count" => Workload::WordCount,
            "low-throughput-latency" => Workload::LowThroughputLatency,
            "startup" => Workload::Startup,
            "recovery" => Workload::Recovery,
            "drpc" => Workload::Drpc,
            _ => return Err(format!("unknown workload '{s}'")),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Workload::Ceilings => "ceilings",
            Workload::ConstSpoutOnly => "const-spout-only",
            Workload::ConstSpoutNullBolt => "const-spout-null-bolt",
            Workload::ConstSpoutIdBoltNullBolt => "const-spout-id-bolt-null-bolt",
            Workload::WordCount => "word-count",
            Workload::LowThroughputLatency => "low-throughput-latency",
            Workload::Startup => "startup",
            Workload::Recovery => "recovery",
            Workload::Drpc => "drpc",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub workload: Workload,
    pub cluster: bool,
    pub workers: u32,
    /// Executors of every component of the workload (`--parallelism`; ackers excluded).
    pub parallelism: u32,
    /// None: the workload's default.
    pub acking: Option<bool>,
    pub warmup: Duration,
    pub duration: Duration,
    pub rate: u64,
    pub max_pending: u32,
    pub runs: u32,
    pub ceiling: Duration,
    /// Concurrent HTTP clients of the drpc workload.
    pub clients: u32,
    /// Topology settings on top of the workload's own (`--conf KEY=VALUE`).
    pub conf: Vec<(String, serde_json::Value)>,
    /// Print one JSON object per run instead of the result line (`--json`; for `vs-storm`).
    pub json: bool,
}

/// `KEY=VALUE` of `--conf`: VALUE as JSON when it parses (numbers, booleans, lists), else a string.
pub fn conf_pair(s: &str) -> Result<(String, serde_json::Value), String> {
    let (key, value) = s
        .split_once('=')
        .filter(|(k, _)| !k.trim().is_empty())
        .ok_or_else(|| format!("--conf: KEY=VALUE, not '{s}'"))?;
    let value = value.trim();
    let json =
        serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
    Ok((key.trim().to_owned(), json))
}

fn secs(s: &str) -> Result<Duration, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| *v >= 0.0 && v.is_finite())
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("'{s}' is not a number of seconds"))
}

/// `--parallelism N`: executors per component, 1–256.
pub fn parallelism(flag: &str, value: &str) -> Result<u32, String> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=256).contains(n))
        .ok_or_else(|| format!("{flag}: '{value}' is not a number of executors from 1 to 256"))
}

impl Options {
    pub fn new(workload: Workload) -> Options {
        Options {
            workload,
            cluster: false,
            workers: 1,
            parallelism: 1,
            acking: None,
            warmup: Duration::from_secs(5),
            duration: Duration::from_secs(10),
            rate: 20_000,
            max_pending: 5000,
            runs: 1,
            ceiling: Duration::from_secs(2),
            clients: 8,
            conf: Vec::new(),
            json: false,
        }
    }

    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut it = args.iter();
        let workload = Workload::parse(it.next().ok_or("missing WORKLOAD")?)?;
        let mut o = Options::new(workload);
        while let Some(flag) = it.next() {
            if flag == "--json" {
                o.json = true;
                continue;
            }
            let value = it
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .as_str();
            let num = || {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("{flag}: '{value}' is not a number"))
            };
            match flag.as_str() {
                "--mode" => {
                    o.cluster = match value {
                        "local" => false,
                        "cluster" => true,
                        _ => return Err(format!("--mode: local or cluster, not '{value}'")),
                    }
                }
                "--workers" => o.workers = num()?.clamp(1, 64) as u32,
                "--parallelism" => {
                    o.parallelism = parallelism(flag, value)?;
                }
                "--acking" => {
                    o.acking = Some(match value {
                        "on" => true,
                        "off" => false,
                        _ => return Err(format!("--acking: on or off, not '{value}'")),
                    })
                }
                "--warmup" => o.warmup = secs(value)?,
                "--duration" => o.duration = secs(value)?,
                "--rate" => o.rate = num()?,
                "--max-pending" => o.max_pending = num()?.min(u32::MAX as u64) as u32,
                "--runs" => o.runs = num()?.max(1) as u32,
                "--ceiling-secs" => o.ceiling = secs(value)?,
                "--clients" => o.clients = num()?.clamp(1, 1024) as u32,
                "--conf" => o.conf.push(conf_pair(value)?),
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        Ok(o)
    }

    fn acking(&self) -> bool {
        self.acking.unwrap_or(matches!(
            self.workload,
            Workload::ConstSpoutIdBoltNullBolt
                | Workload::LowThroughputLatency
                | Workload::Startup
                | Workload::Recovery
                | Workload::Drpc
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Process figures from /proc.

fn clk_tck() -> f64 {
    100.0
}

/// utime + stime of `pid` in seconds.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    cpu_split(pid).map(|(user, sys)| user + sys)
}

/// (utime, stime) of `pid` in seconds.
pub fn cpu_split(pid: u32) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime 15.
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime / clk_tck(), stime / clk_tck()))
}

/// (user, system) CPU seconds of all of `pids`.
fn cpu_split_sum(pids: &[u32]) -> (f64, f64) {
    pids.iter()
        .filter_map(|&p| cpu_split(p))
        .fold((0.0, 0.0), |(u, s), (du, ds)| (u + du, s + ds))
}

/// The system-time share of the CPU spent between two [`cpu_split_sum`] readings (0 when none).
fn sys_share(before: (f64, f64), after: (f64, f64)) -> f64 {
    let user = after.0 - before.0;
    let sys = after.1 - before.1;
    if user + sys > 0.0 {
        sys / (user + sys)
    } else {
        0.0
    }
}

/// Start time of `pid` in nanoseconds since boot (clock-tick resolution: 10 ms).
pub fn start_boot_ns(pid: u32) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let ticks: f64 = rest.split_whitespace().nth(19)?.parse().ok()?;
    Some((ticks / clk_tck() * 1e9) as i64)
}

/// A `/proc/<pid>/status` field in MB (`VmHWM`, `VmRSS`).
pub fn status_mb(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "storm-perf-{name}-{}-{}",
        std::process::id(),
        epoch_ms()
    ));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

// ---------------------------------------------------------------------------------------------
// Physical ceilings.

#[derive(Debug, Clone, Copy, Default)]
pub struct Ceilings {
    /// Loopback TCP, bytes/s (one writer thread, one reader thread, 64 KiB writes).
    pub tcp_bytes_per_sec: f64,
    /// Two-thread handoff through a crossbeam bounded channel (capacity 1024), items/s.
    pub queue_items_per_sec: f64,
}

pub fn tcp_loopback(dur: Duration) -> std::io::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut s = TcpStream::connect(addr)?;
        let buf = vec![0x5au8; 64 * 1024];
        let end = Instant::now() + dur;
        while Instant::now() < end {
            s.write_all(&buf)?;
        }
        Ok(())
    });
    let (mut conn, _) = listener.accept()?;
    let mut buf = vec![0u8; 64 * 1024];
    let start = Instant::now();
    let mut total = 0u64;
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let _ = writer.join();
    Ok(total as f64 / elapsed.max(1e-9))
}

pub fn queue_handoff(dur: Duration) -> f64 {
    let (tx, rx) = crossbeam_channel::bounded::<u64>(1024);
    let consumer = std::thread::spawn(move || {
        let mut n = 0u64;
        while rx.recv().is_ok() {
            n += 1;
        }
        n
    });
    let start = Instant::now();
    let mut i = 0u64;
    while start.elapsed() < dur {
        for _ in 0..1024 {
            if tx.send(i).is_err() {
                break;
            }
            i += 1;
        }
    }
    drop(tx);
    let n = consumer.join().unwrap_or(0);
    n as f64 / start.elapsed().as_secs_f64().max(1e-9)
}

pub fn measure_ceilings(dur: Duration) -> Ceilings {
    if dur.is_zero() {
        return Ceilings::default();
    }
    Ceilings {
        tcp_bytes_per_sec: tcp_loopback(dur).unwrap_or(0.0),
        queue_items_per_sec: queue_handoff(dur),
    }
}

/// Bytes one data tuple of a workload takes on the wire between workers (one message in a batch
/// frame), with one (root, edge) id pair when acking.
pub fn wire_bytes(value: &str, acking: bool) -> usize {
    let fields = storm::tuple::Fields::new(["str"]).expect("fields");
    let ids = if acking { vec![(1i64, 2i64)] } else { vec![] };
    let tuple = Tuple::new(
        Arc::new(TupleSource::new("spout", 1, "default", fields)),
        vec![storm::tuple::Value::String(value.to_owned())],
        ids,
    );
    let mut out = Vec::new();
    let _ = storm::transport::wire::encode_tuple(&mut out, 2, &tuple);
    out.len()
}

// ---------------------------------------------------------------------------------------------
// Topologies.

/// What a workload counts as its throughput.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counter {
    /// Tuples emitted on user streams by this component.
    Emitted(&'static str),
    /// Tuples executed by this bolt.
    Executed(&'static str),
    /// Trees acked at this spout.
    Acked(&'static str),
}

impl Counter {
    fn unit(self) -> &'static str {
        match self {
            Counter::Emitted(_) => "emitted",
            Counter::Executed(_) => "executed",
            Counter::Acked(_) => "acked",
        }
    }
}

struct Built {
    topology: StormTopology,
    conf: TopologyConf,
    counter: Counter,
    /// Executors of the topology, ackers included (the most workers it can occupy).
    executors: u32,
}

fn build(o: &Options, report_dir: &Path) -> Result<Built, String> {
    let acking = o.acking();
    let p = o.parallelism.max(1);
    let mut b = TopologyBuilder::new();
    let spout = |value: ConstSpout| value.with_report_dir(report_dir);
    let counter = match o.workload {
        Workload::ConstSpoutOnly => {
            b.set_spout("spout", spout(ConstSpout::new(CONST_VALUE, acking)), p);
            if acking {
                Counter::Acked("spout")
            } else {
                Counter::Emitted("spout")
            }
        }
        Workload::ConstSpoutNullBolt | Workload::Recovery => {
            b.set_spout("spout", spout(ConstSpout::new(CONST_VALUE, acking)), p);
            b.set_bolt("null", NullBolt, p)
                .local_or_shuffle_grouping("spout");
            Counter::Executed("null")
        }
        Workload::ConstSpoutIdBoltNullBolt => {
            b.set_spout("spout", spout(ConstSpout::new(CONST_VALUE, acking)), p);
            b.set_bolt("id", IdBolt, p)
                .local_or_shuffle_grouping("spout");
            b.set_bolt("null", NullBolt, p)
                .local_or_shuffle_grouping("id");
            Counter::Executed("null")
        }
        Workload::WordCount => {
            b.set_spout(
                "spout",
                spout(ConstSpout::cycling(&RandomSentenceSpout::SENTENCES, acking)),
                p,
            );
            b.set_basic_bolt("split", SplitSentence::default(), p)
                .local_or_shuffle_grouping("spout");
            b.set_basic_bolt("count", WordCount::new(), p)
                .fields_grouping("split", ["word"]);
            Counter::Executed("count")
        }
        Workload::LowThroughputLatency | Workload::Startup => {
            let rate = if o.workload == Workload::Startup {
                100
            } else {
                o.rate
            };
            b.set_spout(
                "spout",
                spout(ConstSpout::new(CONST_VALUE, acking).with_rate(rate)),
                p,
            );
            b.set_bolt("null", NullBolt, p)
                .local_or_shuffle_grouping("spout");
            if acking {
                Counter::Acked("spout")
            } else {
                Counter::Executed("null")
            }
        }
        Workload::Ceilings | Workload::Drpc => return Err("no topology".into()),
    };
    let topology = b.create_topology().map_err(|e| e.to_string())?;
    let components = (topology.spouts.len() + topology.bolts.len()) as u32;
    let mut conf = TopologyConf::new();
    conf.set_num_workers(o.workers);
    conf.set_num_ackers(if acking { 1 } else { 0 });
    if acking && o.max_pending > 0 {
        conf.set_max_spout_pending(o.max_pending);
    }
    for (k, v) in &o.conf {
        conf.set(k.clone(), v.clone());
    }
    Ok(Built {
        topology,
        conf,
        counter,
        executors: components * p + u32::from(acking),
    })
}

fn local_count(stats: &[ExecutorStatsSnapshot], counter: Counter) -> u64 {
    let mut n = 0;
    for s in stats {
        match counter {
            Counter::Emitted(c) if s.component_id == c => n += s.stats.user_emitted(),
            Counter::Executed(c) if s.component_id == c => n += s.stats.total_executed(),
            Counter::Acked(c) if s.component_id == c => {
                n += s.stats.spout_acked.values().sum::<u64>()
            }
            _ => {}
        }
    }
    n
}

/// Storm's all-time stats window. Nimbus also reports the rolling windows (`600`, `10800`, `86400`)
/// an executor has been up for at most, with the same counts: only this one is summed.
const ALL_TIME: &str = ":all-time";

/// Per-executor counts from nimbus's `getTopologyInfo` (all-time window).
fn cluster_counts(executors: &[ExecutorSummary], counter: Counter) -> BTreeMap<(i32, i32), u64> {
    let mut out = BTreeMap::new();
    for e in executors {
        let Some(stats) = &e.stats else { continue };
        let key = (e.executor_info.task_start, e.port);
        let n: i64 = match counter {
            Counter::Emitted(c) if e.component_id == c => stats
                .emitted
                .get(ALL_TIME)
                .into_iter()
                .flat_map(|m| m.iter())
                .filter(|(s, _)| !s.starts_with("__"))
                .map(|(_, v)| *v)
                .sum(),
            Counter::Executed(c) if e.component_id == c => match &stats.specific {
                ExecutorSpecificStats::Bolt(b) => b
                    .executed
                    .get(ALL_TIME)
                    .into_iter()
                    .flat_map(|m| m.values())
                    .sum(),
                _ => 0,
            },
            Counter::Acked(c) if e.component_id == c => match &stats.specific {
                ExecutorSpecificStats::Spout(s) => s
                    .acked
                    .get(ALL_TIME)
                    .into_iter()
                    .flat_map(|m| m.values())
                    .sum(),
                _ => 0,
            },
            _ => continue,
        };
        out.insert(key, n.max(0) as u64);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Results.

#[derive(Debug, Clone, Default)]
pub struct RunResult {
    pub workload: String,
    pub mode: String,
    pub workers: u32,
    pub parallelism: u32,
    pub acking: bool,
    pub unit: String,
    pub tuples_per_sec: f64,
    pub intervals: usize,
    pub latency: Option<LatencyHistogram>,
    pub rss_mb: Vec<f64>,
    pub cpu_per_million: f64,
    /// The share of that CPU spent in the kernel (system time), 0..1.
    pub sys_share: f64,
    /// The ceiling this result is compared with: (name, tuples/s).
    pub ceiling: Option<(String, f64)>,
    /// Workload-specific figures (startup, recovery, placement).
    pub extra: Vec<(String, String)>,
    /// drpc: the HTTP clients, the requests answered and the failed ones in the measured window.
    pub clients: u32,
    pub requests: u64,
    pub errors: u64,
}

pub fn fmt_rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2}M", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1}k", r / 1e3)
    } else {
        format!("{r:.1}")
    }
}

fn fmt_ms(ns: u64) -> String {
    format!("{:.3}ms", ns as f64 / 1e6)
}

impl RunResult {
    /// The run as one JSON object (`--json`): what `storm_perf vs-storm` reads from its native runs.
    pub fn json(&self) -> String {
        let q = |q: f64| {
            self.latency
                .as_ref()
                .filter(|h| h.count > 0)
                .map(|h| h.quantile_ns(q))
        };
        serde_json::json!({
            "workload": self.workload,
            "mode": self.mode,
            "workers": self.workers,
            "parallelism": self.parallelism,
            "acking": self.acking,
            "unit": self.unit,
            "tuples_per_sec": self.tuples_per_sec,
            "intervals": self.intervals,
            "p50_ns": q(0.5),
            "p99_ns": q(0.99),
            "rss_mb": self.rss_mb,
            "cpu_per_million": self.cpu_per_million,
            "sys_share": self.sys_share,
            "extra": self.extra.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        })
        .to_string()
    }

    pub fn line(&self) -> String {
        if self.workload == Workload::Drpc.name() {
            return self.drpc_line();
        }
        let mut s = format!(
            "workload={} mode={} workers={} acking={}",
            self.workload,
            self.mode,
            self.workers,
            if self.acking { "on" } else { "off" }
        );
        if self.parallelism > 1 {
            s.push_str(&format!(" parallelism={}", self.parallelism));
        }
        if self.intervals > 0 {
            s.push_str(&format!(
                " tuples/s={} ({}, median of {} intervals)",
                fmt_rate(self.tuples_per_sec),
                self.unit,
                self.intervals
            ));
            if let Some((name, c)) = &self.ceiling {
                if *c > 0.0 {
                    s.push_str(&format!(
                        " = {:.3} of {name} {}/s",
                        self.tuples_per_sec / c,
                        fmt_rate(*c)
                    ));
                }
            }
        }
        if let Some(h) = &self.latency {
            if h.count > 0 {
                s.push_str(&format!(
                    " complete_latency p50={} p99={} max={} mean={} (n={})",
                    fmt_ms(h.quantile_ns(0.5)),
                    fmt_ms(h.quantile_ns(0.99)),
                    fmt_ms(h.max_ns),
                    fmt_ms(h.mean_ns() as u64),
                    h.count
                ));
            }
        }
        if !self.rss_mb.is_empty() {
            let rss: Vec<String> = self.rss_mb.iter().map(|m| format!("{m:.1}")).collect();
            s.push_str(&format!(" peak_rss_mb=[{}]", rss.join(",")));
        }
        if self.cpu_per_million > 0.0 {
            s.push_str(&format!(
                " cpu_s_per_M={:.2} sys={:.0}%",
                self.cpu_per_million,
                self.sys_share * 100.0
            ));
        }
        for (k, v) in &self.extra {
            s.push_str(&format!(" {k}={v}"));
        }
        s
    }
}

// ---------------------------------------------------------------------------------------------
// Entry point.

pub fn run(o: &Options, out: &mut dyn FnMut(String)) -> Result<Vec<RunResult>, String> {
    let ceilings = measure_ceilings(o.ceiling);
    if o.workload == Workload::Ceilings || !o.ceiling.is_zero() {
        out(format!(
            "ceilings: loopback_tcp={:.0} MB/s ({}/s of {}-byte tuples) queue_handoff={}/s",
            ceilings.tcp_bytes_per_sec / 1e6,
            fmt_rate(ceilings.tcp_bytes_per_sec / wire_bytes(CONST_VALUE, false) as f64),
            wire_bytes(CONST_VALUE, false),
            fmt_rate(ceilings.queue_items_per_sec)
        ));
    }
    if o.workload == Workload::Ceilings {
        return Ok(Vec::new());
    }
    if o.workload == Workload::Drpc {
        return run_drpc(o, out);
    }
    if o.workload == Workload::Recovery && !o.cluster {
        return Err("recovery needs --mode cluster".into());
    }
    let mut results = Vec::new();
    for _ in 0..o.runs {
        let mut r = if o.cluster {
            run_cluster(o)?
        } else {
            run_local(o)?
        };
        if r.intervals > 0 {
            r.ceiling = Some(if o.cluster && o.workers > 1 {
                let bytes = wire_bytes(CONST_VALUE, o.acking()) as f64;
                (
                    "loopback-TCP".to_string(),
                    ceilings.tcp_bytes_per_sec / bytes,
                )
            } else {
                ("queue-handoff".to_string(), ceilings.queue_items_per_sec)
            });
        }
        out(if o.json { r.json() } else { r.line() });
        results.push(r);
    }
    if !o.json && results.len() > 1 && results.iter().any(|r| r.intervals > 0) {
        let rates: Vec<f64> = results.iter().map(|r| r.tuples_per_sec).collect();
        let p99: Vec<f64> = results
            .iter()
            .filter_map(|r| r.latency.as_ref())
            .map(|h| h.quantile_ns(0.99) as f64 / 1e6)
            .collect();
        let cpu: Vec<f64> = results.iter().map(|r| r.cpu_per_million).collect();
        let sys: Vec<f64> = results.iter().map(|r| r.sys_share).collect();
        out(format!(
            "median of {} runs: workload={} tuples/s={} p99={} cpu_s_per_M={:.2} sys={:.0}%",
            results.len(),
            o.workload.name(),
            fmt_rate(median(&rates)),
            if p99.is_empty() {
                "-".to_string()
            } else {
                format!("{:.3}ms", median(&p99))
            },
            median(&cpu),
            median(&sys) * 100.0
        ));
    }
    Ok(results)
}

fn base_result(o: &Options, mode: &str) -> RunResult {
    RunResult {
        workload: o.workload.name().to_string(),
        mode: mode.to_string(),
        workers: o.workers,
        parallelism: o.parallelism,
        acking: o.acking(),
        ..RunResult::default()
    }
}

/// Waits up to `timeout` for a file whose name starts with `prefix` in `dir`; returns its content.
fn wait_file(dir: &Path, prefix: &str, timeout: Duration) -> Option<String> {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with(prefix) && !name.ends_with(".tmp") {
                    if let Ok(s) = std::fs::read_to_string(e.path()) {
                        if !s.is_empty() {
                            return Some(s);
                        }
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

fn run_local(o: &Options) -> Result<RunResult, String> {
    let report = scratch("local");
    let built = build(o, &report)?;
    let mut r = base_result(o, "local");
    let name = "perf";
    let cluster = LocalCluster::new();
    let submit_start = Instant::now();
    let submit_ms = epoch_ms();
    cluster
        .submit_topology(name, &built.conf, &built.topology)
        .map_err(|e| e.to_string())?;
    if o.workload == Workload::Startup {
        let first = wait_file(&report, "first-ack-", Duration::from_secs(30))
            .and_then(|s| s.trim().parse::<i64>().ok());
        r.extra.push((
            "submit_to_first_ack_ms".into(),
            first.map_or("timeout".into(), |t| (t - submit_ms).to_string()),
        ));
        std::thread::sleep(Duration::from_secs(2));
        let pid = std::process::id();
        r.extra.push((
            "process_rss_mb".into(),
            format!("{:.1}", status_mb(pid, "VmRSS").unwrap_or(0.0)),
        ));
        r.rss_mb = vec![status_mb(pid, "VmHWM").unwrap_or(0.0)];
        let _ = cluster.kill_topology(name);
        let _ = std::fs::remove_dir_all(&report);
        let _ = submit_start;
        return Ok(r);
    }
    let pid = std::process::id();
    std::thread::sleep(o.warmup);
    let count = || {
        cluster
            .stats(name)
            .map(|s| local_count(&s, built.counter))
            .unwrap_or(0)
    };
    let hist0 = LatencyHistogram::read_dir(&report);
    let cpu0 = cpu_split_sum(&[pid]);
    let start = Instant::now();
    let c0 = count();
    let mut last = (start, c0);
    let mut rates = Vec::new();
    let intervals = (o.duration.as_secs_f64().round() as u64).max(1);
    for i in 1..=intervals {
        let target = start + Duration::from_secs(i);
        if let Some(d) = target.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
        let now = Instant::now();
        let c = count();
        rates.push((c - last.1) as f64 / (now - last.0).as_secs_f64());
        last = (now, c);
    }
    let cpu1 = cpu_split_sum(&[pid]);
    // The histogram files are rewritten every 200 ms.
    std::thread::sleep(Duration::from_millis(250));
    let hist1 = LatencyHistogram::read_dir(&report);
    let _ = cluster.kill_topology(name);
    cluster.shutdown();
    let total = last.1 - c0;
    r.unit = built.counter.unit().into();
    r.tuples_per_sec = median(&rates);
    r.intervals = rates.len();
    if o.acking() {
        r.latency = Some(hist1.since(&hist0));
    }
    r.rss_mb = vec![status_mb(pid, "VmHWM").unwrap_or(0.0)];
    if total > 0 {
        r.cpu_per_million = (cpu1.0 + cpu1.1 - cpu0.0 - cpu0.1) / total as f64 * 1e6;
        r.sys_share = sys_share(cpu0, cpu1);
    }
    let _ = std::fs::remove_dir_all(&report);
    Ok(r)
}

// ---------------------------------------------------------------------------------------------
// Cluster mode.

/// The release binaries (`nimbus`, `supervisor`, `worker`) next to this program.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if matches!(
        dir.file_name().and_then(|n| n.to_str()),
        Some("examples" | "deps")
    ) {
        dir.pop();
    }
    dir
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// ZooKeeper, one nimbus, one supervisor (and a drpc daemon after [`PerfCluster::add_drpc`]);
/// everything is killed on drop, including the workers listed under the supervisor's
/// `workers/*/pids`.
pub struct PerfCluster {
    pub dir: PathBuf,
    zk_dir: PathBuf,
    pub config: PathBuf,
    nimbus: Option<Child>,
    supervisor: Option<Child>,
    /// Further daemons (`drpc`), killed first on drop.
    others: Vec<Child>,
    pub supervisor_local: PathBuf,
}

impl PerfCluster {
    pub fn start(slots: u32) -> Result<PerfCluster, String> {
        PerfCluster::start_with(slots, "")
    }

    /// [`PerfCluster::start`] with more `storm.toml` lines (for the daemons started later).
    pub fn start_with(slots: u32, extra_toml: &str) -> Result<PerfCluster, String> {
        let dir = scratch("cluster");
        let zk_dir = dir.join("zookeeper");
        let zk_port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/zookeeper.sh");
        let mut c = PerfCluster {
            dir: dir.clone(),
            zk_dir: zk_dir.clone(),
            config: dir.join("storm.toml"),
            nimbus: None,
            supervisor: None,
            others: Vec::new(),
            supervisor_local: dir.join("supervisor/local"),
        };
        let status = Command::new("bash")
            .arg(&script)
            .args(["start", "--port", &zk_port.to_string(), "--dir"])
            .arg(&zk_dir)
            .args(["--watch-pid", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("zookeeper.sh: {e}"))?;
        if !status.success() {
            return Err("zookeeper.sh start failed".into());
        }
        let nimbus_port = free_port();
        let ports: Vec<String> = (0..slots).map(|_| free_port().to_string()).collect();
        let toml = format!(
            r#""storm.zookeeper.servers" = ["127.0.0.1"]
"storm.zookeeper.port" = {zk_port}
"storm.zookeeper.root" = "/storm-perf"
"storm.local.hostname" = "127.0.0.1"
"nimbus.seeds" = ["127.0.0.1"]
"nimbus.thrift.port" = {nimbus_port}
"nimbus.monitor.freq.secs" = 1
"nimbus.task.timeout.secs" = 6
"nimbus.task.launch.secs" = 10
"supervisor.heartbeat.frequency.secs" = 1
"supervisor.monitor.frequency.secs" = 1
"supervisor.worker.start.timeout.secs" = 30
"supervisor.worker.timeout.secs" = 6
"supervisor.worker.shutdown.sleep.secs" = 1
"supervisor.slots.ports" = [{ports}]
"task.heartbeat.frequency.secs" = 1
"executor.metrics.frequency.secs" = 1
"supervisor.thrift.port" = {sup_thrift_port}
"task.refresh.poll.secs" = 2
"topology.message.timeout.secs" = 30
"#,
            ports = ports.join(","),
            sup_thrift_port = free_port()
        );
        // `extra_toml` may override a key of the base configuration (TOML allows no duplicates).
        let key = |line: &str| line.split_once('=').map(|(k, _)| k.trim().to_owned());
        let overridden: Vec<String> = extra_toml.lines().filter_map(key).collect();
        let mut toml: String = toml
            .lines()
            .filter(|l| key(l).is_none_or(|k| !overridden.contains(&k)))
            .map(|l| format!("{l}\n"))
            .collect();
        toml.push_str(extra_toml);
        toml.push('\n');
        std::fs::write(&c.config, toml).map_err(|e| e.to_string())?;
        c.nimbus = Some(c.spawn("nimbus")?);
        let end = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", nimbus_port)).is_err() {
            if let Some(Ok(Some(status))) = c.nimbus.as_mut().map(Child::try_wait) {
                return Err(format!(
                    "nimbus exited ({status}): {}",
                    std::fs::read_to_string(c.dir.join("nimbus/stderr.txt")).unwrap_or_default()
                ));
            }
            if Instant::now() > end {
                return Err("nimbus did not listen within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        c.supervisor = Some(c.spawn("supervisor")?);
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let n = c
                .client()
                .ok()
                .and_then(|mut cl| cl.raw().get_cluster_info().ok())
                .map_or(0, |i| i.supervisors.len());
            if n >= 1 {
                break;
            }
            if Instant::now() > end {
                return Err("the supervisor did not register within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(c)
    }

    fn spawn(&self, daemon: &str) -> Result<Child, String> {
        let dir = self.dir.join(daemon);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let stderr = std::fs::File::create(dir.join("stderr.txt")).map_err(|e| e.to_string())?;
        let binary = bin_dir().join(daemon);
        Command::new(&binary)
            .arg("--config")
            .arg(&self.config)
            .arg("-c")
            .arg(format!("storm.local.dir={}", dir.join("local").display()))
            .arg("-c")
            .arg(format!("storm.log.dir={}", dir.join("logs").display()))
            .current_dir(&dir)
            .env_remove("STORM_CONF_DIR")
            .env_remove("STORM_HOME")
            .env_remove("STORM_WORKER")
            .env("STORM_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| {
                format!(
                    "start {} (build it with cargo build --release --bins): {e}",
                    binary.display()
                )
            })
    }

    /// Starts the `drpc` daemon (its ports from the configuration) and waits until its HTTP endpoint
    /// listens; returns its pid.
    pub fn add_drpc(&mut self) -> Result<u32, String> {
        let port = self
            .conf()?
            .get_port("drpc.http.port")
            .map_err(|e| e.to_string())?;
        let mut child = self.spawn("drpc")?;
        let pid = child.id();
        let end = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "drpc exited ({status}): {}",
                    std::fs::read_to_string(self.dir.join("drpc/stderr.txt")).unwrap_or_default()
                ));
            }
            if Instant::now() > end {
                let _ = child.kill();
                let _ = child.wait();
                return Err("drpc did not listen within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.others.push(child);
        Ok(pid)
    }

    pub fn conf(&self) -> Result<Config, String> {
        Config::load(&ConfigOptions {
            config_file: Some(self.config.clone()),
            overrides: vec![],
        })
        .map_err(|e| e.to_string())
    }

    pub fn client(&self) -> Result<storm::client::NimbusClient, String> {
        storm::client::NimbusClient::connect_leader(&self.conf()?).map_err(|e| e.to_string())
    }

    /// The nimbus and supervisor (and drpc) processes.
    pub fn daemon_pids(&self) -> Vec<u32> {
        self.nimbus
            .iter()
            .chain(self.supervisor.iter())
            .chain(self.others.iter())
            .map(Child::id)
            .collect()
    }

    pub fn worker_pids(&self) -> Vec<u32> {
        let mut out = Vec::new();
        if let Ok(workers) = std::fs::read_dir(self.supervisor_local.join("workers")) {
            for w in workers.flatten() {
                if let Ok(pids) = std::fs::read_dir(w.path().join("pids")) {
                    for p in pids.flatten() {
                        if let Some(pid) = p.file_name().to_str().and_then(|s| s.parse().ok()) {
                            if alive(pid) {
                                out.push(pid);
                            }
                        }
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

pub fn kill9(pid: u32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

impl Drop for PerfCluster {
    fn drop(&mut self) {
        for child in self.others.drain(..).chain(
            [self.supervisor.take(), self.nimbus.take()]
                .into_iter()
                .flatten(),
        ) {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
        for pid in self.worker_pids() {
            kill9(pid);
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/zookeeper.sh");
        let _ = Command::new("bash")
            .arg(&script)
            .arg("stop")
            .arg("--dir")
            .arg(&self.zk_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Cumulative counts that survive a worker restart: positive deltas per executor are summed, and
/// a counter that went backwards (a new worker) counts from zero.
#[derive(Default)]
struct Accumulator {
    last: BTreeMap<(i32, i32), u64>,
    total: u64,
}

impl Accumulator {
    fn update(&mut self, now: &BTreeMap<(i32, i32), u64>) -> u64 {
        for (k, &v) in now {
            let prev = self.last.get(k).copied().unwrap_or(0);
            self.total += if v >= prev { v - prev } else { v };
            self.last.insert(*k, v);
        }
        self.total
    }
}

pub fn topology_executors(
    client: &mut storm::client::NimbusClient,
    name: &str,
) -> Option<Vec<ExecutorSummary>> {
    client
        .raw()
        .get_topology_info_by_name(name.to_string())
        .ok()
        .map(|i| i.executors)
}

/// Samples the counter through nimbus every 100 ms and returns the rate between consecutive
/// changes (the workers heartbeat their stats every `task.heartbeat.frequency.secs` = 1 s).
struct ClusterSampler {
    acc: Accumulator,
    last_change: Option<(Instant, u64)>,
}

impl ClusterSampler {
    fn poll(
        &mut self,
        client: &mut storm::client::NimbusClient,
        name: &str,
        counter: Counter,
    ) -> Option<(Instant, u64, Option<f64>)> {
        let execs = topology_executors(client, name)?;
        let now = Instant::now();
        let total = self.acc.update(&cluster_counts(&execs, counter));
        match self.last_change {
            Some((t, c)) if total != c => {
                self.last_change = Some((now, total));
                Some((
                    now,
                    total,
                    Some((total - c) as f64 / (now - t).as_secs_f64()),
                ))
            }
            None => {
                self.last_change = Some((now, total));
                Some((now, total, None))
            }
            _ => Some((now, total, None)),
        }
    }
}

fn run_cluster(o: &Options) -> Result<RunResult, String> {
    let cluster_start = Instant::now();
    let cluster = PerfCluster::start(o.workers.max(2))?;
    let cluster_ready_ms = cluster_start.elapsed().as_millis();
    let report = cluster.dir.join("report");
    std::fs::create_dir_all(&report).map_err(|e| e.to_string())?;
    let built = build(o, &report)?;
    let mut r = base_result(o, "cluster");
    let name = "perf";
    let artifact = cluster.dir.join("stormjar.jar");
    std::fs::write(&artifact, b"storm-rs perf: run by the stock worker binary")
        .map_err(|e| e.to_string())?;
    let conf = cluster.conf()?;
    let submit_begin = Instant::now();
    storm::submitter::submit_to_cluster(&conf, name, &built.conf, &built.topology, &artifact)
        .map_err(|e| e.to_string())?;
    let submitted_ms = epoch_ms();
    let submit_ms = submit_begin.elapsed().as_millis();
    let mut client = cluster.client()?;
    if o.workload == Workload::Startup {
        r.extra
            .push(("cluster_up_ms".into(), cluster_ready_ms.to_string()));
        r.extra
            .push(("submit_call_ms".into(), submit_ms.to_string()));
        let first = wait_file(&report, "first-ack-", Duration::from_secs(60))
            .and_then(|s| s.trim().parse::<i64>().ok());
        r.extra.push((
            "submit_return_to_first_ack_ms".into(),
            first.map_or("timeout".into(), |t| (t - submitted_ms).to_string()),
        ));
        let pids = cluster.worker_pids();
        let opened = wait_file(&report, "open-", Duration::from_secs(5))
            .and_then(|s| s.trim().parse::<i64>().ok());
        if let (Some(&pid), Some(open_ns)) = (pids.first(), opened) {
            if let Some(start) = start_boot_ns(pid) {
                r.extra.push((
                    "worker_fork_to_spout_open_ms".into(),
                    format!("{:.0}", (open_ns - start) as f64 / 1e6),
                ));
            }
        }
        std::thread::sleep(Duration::from_secs(3));
        let rss: Vec<String> = pids
            .iter()
            .map(|&p| format!("{:.1}", status_mb(p, "VmRSS").unwrap_or(0.0)))
            .collect();
        r.extra
            .push(("idle_worker_rss_mb".into(), format!("[{}]", rss.join(","))));
        r.rss_mb = pids
            .iter()
            .map(|&p| status_mb(p, "VmHWM").unwrap_or(0.0))
            .collect();
        let _ = boottime_ns;
        return Ok(r);
    }
    // Wait for the topology to run (first counts), then warm up.
    let mut sampler = ClusterSampler {
        acc: Accumulator::default(),
        last_change: None,
    };
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some((_, total, _)) = sampler.poll(&mut client, name, built.counter) {
            if total > 0 {
                break;
            }
        }
        if Instant::now() > end {
            return Err("the topology produced nothing within 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(execs) = topology_executors(&mut client, name) {
        let mut placement: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for e in execs {
            placement.entry(e.component_id).or_default().push(e.port);
        }
        let p: Vec<String> = placement
            .iter()
            .map(|(c, ports)| format!("{c}@{ports:?}"))
            .collect();
        r.extra
            .push(("placement".into(), p.join(",").replace(' ', "")));
    }
    std::thread::sleep(o.warmup);
    let pids = cluster.worker_pids();
    // --workers N must mean N worker processes (or as many as there are executors).
    let expected = o.workers.min(built.executors) as usize;
    if pids.len() < expected {
        return Err(format!(
            "--workers {}: {} worker process(es) running after the warm-up, {expected} expected",
            o.workers,
            pids.len()
        ));
    }
    let cpu0 = cpu_split_sum(&pids);
    let hist0 = LatencyHistogram::read_dir(&report);
    let start = Instant::now();
    let mut rates = Vec::new();
    let mut first_total = None;
    let mut last_total = 0;
    while start.elapsed() < o.duration {
        std::thread::sleep(Duration::from_millis(100));
        if let Some((_, total, rate)) = sampler.poll(&mut client, name, built.counter) {
            first_total.get_or_insert(total);
            last_total = total;
            if let Some(rate) = rate {
                rates.push(rate);
            }
        }
    }
    let window = start.elapsed().as_secs_f64();
    let cpu1 = cpu_split_sum(&pids);
    let hist1 = LatencyHistogram::read_dir(&report);
    // The first change inside the window spans time before it; drop it.
    if rates.len() > 1 {
        rates.remove(0);
    }
    r.unit = built.counter.unit().into();
    r.tuples_per_sec = median(&rates);
    r.intervals = rates.len();
    if o.acking() {
        r.latency = Some(hist1.since(&hist0));
    }
    r.rss_mb = pids
        .iter()
        .map(|&p| status_mb(p, "VmHWM").unwrap_or(0.0))
        .collect();
    let counted = last_total.saturating_sub(first_total.unwrap_or(last_total));
    if counted > 0 {
        // CPU over the window, tuples over the (heartbeat-quantized) window: scale by rate.
        r.cpu_per_million =
            (cpu1.0 + cpu1.1 - cpu0.0 - cpu0.1) / (r.tuples_per_sec * window).max(1.0) * 1e6;
        r.sys_share = sys_share(cpu0, cpu1);
    }
    if o.workload == Workload::Recovery {
        let baseline = r.tuples_per_sec;
        let victim = *pids.first().ok_or("no worker to kill")?;
        let killed = Instant::now();
        kill9(victim);
        let mut recovered = None;
        let mut back_alive = None;
        while killed.elapsed() < Duration::from_secs(180) {
            std::thread::sleep(Duration::from_millis(100));
            if back_alive.is_none() && cluster.worker_pids().iter().any(|&p| p != victim) {
                back_alive = Some(killed.elapsed());
            }
            if let Some((_, _, Some(rate))) = sampler.poll(&mut client, name, built.counter) {
                if rate >= 0.9 * baseline && killed.elapsed() > Duration::from_secs(1) {
                    recovered = Some(killed.elapsed());
                    break;
                }
            }
        }
        r.extra.push((
            "new_worker_after_ms".into(),
            back_alive.map_or("timeout".into(), |d| d.as_millis().to_string()),
        ));
        r.extra.push((
            "back_to_90pct_after_ms".into(),
            recovered.map_or("timeout".into(), |d| d.as_millis().to_string()),
        ));
    }
    let _ = client.raw().kill_topology(name.to_string());
    Ok(r)
}

// ---------------------------------------------------------------------------------------------
// drpc: storm-starter's exclamation DRPC topology behind the DRPC HTTP endpoint, driven by
// concurrent HTTP clients.

/// The DRPC function of the drpc workload.
const DRPC_FUNCTION: &str = "exclamation";

fn drpc_topology(o: &Options) -> Result<(StormTopology, TopologyConf), String> {
    use storm::drpc::topology::{DRPCSpout, ExclaimBolt, ReturnResults};
    let mut b = TopologyBuilder::new();
    b.set_spout("drpc", DRPCSpout::new(DRPC_FUNCTION), 2);
    b.set_basic_bolt("exclaim", ExclaimBolt::default(), 2)
        .shuffle_grouping("drpc");
    b.set_bolt("return", ReturnResults::new(), 2)
        .shuffle_grouping("exclaim");
    let topology = b.create_topology().map_err(|e| e.to_string())?;
    let mut conf = TopologyConf::new();
    conf.set_num_workers(o.workers);
    conf.set_num_ackers(if o.acking() { 1 } else { 0 });
    if o.acking() && o.max_pending > 0 {
        conf.set_max_spout_pending(o.max_pending);
    }
    for (k, v) in &o.conf {
        conf.set(k.clone(), v.clone());
    }
    Ok((topology, conf))
}

/// What the HTTP clients saw in the measured window.
#[derive(Default)]
struct ClientRun {
    requests: u64,
    errors: u64,
    hist: LatencyHistogram,
    first_error: Option<String>,
}

/// One blocking GET `<base><arg>`; `Err` describes a failure or a wrong answer.
fn drpc_get(client: &reqwest::blocking::Client, base: &str, arg: &str) -> Result<(), String> {
    let resp = client
        .get(format!("{base}{arg}"))
        .send()
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp.text().map_err(|e| e.to_string())?;
    if status.is_success()
        && body.len() == arg.len() + 1
        && body.starts_with(arg)
        && body.ends_with('!')
    {
        Ok(())
    } else {
        let cut: String = body.chars().take(200).collect();
        Err(format!("HTTP {status} for {arg:?}: {cut:?}"))
    }
}

/// `clients` threads, each with its own keep-alive connection, request `<base><arg>` in a loop for
/// `warmup` + `duration`; the requests that finish inside the last `duration` are counted.
fn drive_clients(base: &str, clients: u32, warmup: Duration, duration: Duration) -> ClientRun {
    let measure = Instant::now() + warmup;
    let end = measure + duration;
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let base = base.to_string();
            std::thread::spawn(move || {
                let mut run = ClientRun::default();
                let client = match reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .pool_max_idle_per_host(1)
                    .build()
                {
                    Ok(c) => c,
                    Err(e) => {
                        run.errors = 1;
                        run.first_error = Some(e.to_string());
                        return run;
                    }
                };
                let mut i = 0u64;
                while Instant::now() < end {
                    let arg = format!("c{c}-{i}");
                    i += 1;
                    let started = Instant::now();
                    let outcome = drpc_get(&client, &base, &arg);
                    let done = Instant::now();
                    let counted = done >= measure && done <= end;
                    match outcome {
                        Ok(()) if counted => {
                            run.requests += 1;
                            run.hist.record((done - started).as_nanos() as u64);
                        }
                        Ok(()) => {}
                        Err(e) => {
                            if counted {
                                run.errors += 1;
                            }
                            run.first_error.get_or_insert(e);
                            // A refused connection fails at once: do not spin on it.
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    }
                }
                run
            })
        })
        .collect();
    let mut total = ClientRun::default();
    for t in threads {
        match t.join() {
            Ok(run) => {
                total.requests += run.requests;
                total.errors += run.errors;
                total.hist.merge(&run.hist);
                if total.first_error.is_none() {
                    total.first_error = run.first_error;
                }
            }
            Err(_) => {
                total.errors += 1;
                total
                    .first_error
                    .get_or_insert("a client thread panicked".into());
            }
        }
    }
    total
}

/// Waits until `<base>probe` answers `probe!` (the topology is up), for at most `timeout`.
fn wait_first_answer(base: &str, timeout: Duration) -> Result<Duration, String> {
    let begin = Instant::now();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let mut last = String::new();
    while begin.elapsed() < timeout {
        match drpc_get(&client, base, "probe") {
            Ok(()) => return Ok(begin.elapsed()),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "no DRPC answer within {} s (last: {last})",
        timeout.as_secs()
    ))
}

/// Fills `r` from the clients' figures.
fn drpc_figures(r: &mut RunResult, run: &ClientRun, o: &Options) {
    r.clients = o.clients;
    r.requests = run.requests;
    r.errors = run.errors;
    r.tuples_per_sec = run.requests as f64 / o.duration.as_secs_f64().max(1e-9);
    r.unit = "requests".into();
    r.latency = Some(run.hist.clone());
    if run.errors > 0 {
        if let Some(e) = &run.first_error {
            eprintln!("storm_perf: drpc: {} errors; first: {e}", run.errors);
        }
    }
}

fn drpc_local(o: &Options) -> Result<RunResult, String> {
    let (rpc, inv, http) = (free_port(), free_port(), free_port());
    let conf = Config::load(&ConfigOptions {
        config_file: None,
        overrides: vec![
            format!("drpc.port={rpc}"),
            format!("drpc.invocations.port={inv}"),
            format!("drpc.http.port={http}"),
            "drpc.request.timeout.secs=30".into(),
        ],
    })
    .map_err(|e| e.to_string())?;
    let daemon = storm::drpc::DrpcDaemon::start(&conf).map_err(|e| e.to_string())?;
    let mut overrides = storm::prelude::ConfMap::new();
    overrides.insert("drpc.servers".into(), serde_json::json!(["127.0.0.1"]));
    overrides.insert("drpc.invocations.port".into(), inv.into());
    let cluster = LocalCluster::with_conf(overrides);
    let (topology, topo_conf) = drpc_topology(o)?;
    let name = "perf-drpc";
    let result = (|| {
        cluster
            .submit_topology(name, &topo_conf, &topology)
            .map_err(|e| e.to_string())?;
        let base = format!("http://127.0.0.1:{http}/drpc/{DRPC_FUNCTION}/");
        let first = wait_first_answer(&base, Duration::from_secs(60))?;
        let pid = std::process::id();
        let cpu0 = cpu_secs(pid).unwrap_or(0.0);
        let t0 = Instant::now();
        let run = drive_clients(&base, o.clients, o.warmup, o.duration);
        let cpu1 = cpu_secs(pid).unwrap_or(0.0);
        let mut r = base_result(o, "local");
        drpc_figures(&mut r, &run, o);
        r.rss_mb = vec![status_mb(pid, "VmHWM").unwrap_or(0.0)];
        if run.requests > 0 {
            // The whole process (clients, HTTP server, topology) over warmup + window, per request
            // of the window scaled to the same span.
            let span = t0.elapsed().as_secs_f64();
            r.cpu_per_million = (cpu1 - cpu0) / (r.tuples_per_sec * span).max(1.0) * 1e6;
        }
        r.extra
            .push(("first_answer_ms".into(), first.as_millis().to_string()));
        r.extra.push(("cpu_scope".into(), "process".into()));
        Ok(r)
    })();
    let _ = cluster.kill_topology(name);
    cluster.shutdown();
    daemon.shutdown();
    result
}

fn drpc_cluster(o: &Options) -> Result<RunResult, String> {
    let (rpc, inv, http) = (free_port(), free_port(), free_port());
    let mut cluster = PerfCluster::start_with(
        o.workers.max(2),
        &format!(
            r#""drpc.servers" = ["127.0.0.1"]
"drpc.port" = {rpc}
"drpc.invocations.port" = {inv}
"drpc.http.port" = {http}
"drpc.request.timeout.secs" = 30"#
        ),
    )?;
    let drpc_pid = cluster.add_drpc()?;
    let (topology, topo_conf) = drpc_topology(o)?;
    let name = "perf-drpc";
    let artifact = cluster.dir.join("stormjar.jar");
    std::fs::write(&artifact, b"storm-rs perf: run by the stock worker binary")
        .map_err(|e| e.to_string())?;
    let conf = cluster.conf()?;
    let submitted = Instant::now();
    storm::submitter::submit_to_cluster(&conf, name, &topo_conf, &topology, &artifact)
        .map_err(|e| e.to_string())?;
    let base = format!("http://127.0.0.1:{http}/drpc/{DRPC_FUNCTION}/");
    wait_first_answer(&base, Duration::from_secs(90))?;
    let first = submitted.elapsed();
    let mut pids = cluster.worker_pids();
    pids.push(drpc_pid);
    let cpu0: f64 = pids.iter().filter_map(|&p| cpu_secs(p)).sum();
    let t0 = Instant::now();
    let run = drive_clients(&base, o.clients, o.warmup, o.duration);
    let cpu1: f64 = pids.iter().filter_map(|&p| cpu_secs(p)).sum();
    let span = t0.elapsed().as_secs_f64();
    let mut r = base_result(o, "cluster");
    drpc_figures(&mut r, &run, o);
    r.rss_mb = cluster
        .worker_pids()
        .iter()
        .map(|&p| status_mb(p, "VmHWM").unwrap_or(0.0))
        .collect();
    r.extra.push((
        "drpc_rss_mb".into(),
        format!("{:.1}", status_mb(drpc_pid, "VmHWM").unwrap_or(0.0)),
    ));
    if run.requests > 0 {
        r.cpu_per_million = (cpu1 - cpu0) / (r.tuples_per_sec * span).max(1.0) * 1e6;
    }
    r.extra.push((
        "submit_to_first_answer_ms".into(),
        first.as_millis().to_string(),
    ));
    r.extra.push(("cpu_scope".into(), "workers+drpc".into()));
    if let Ok(mut client) = cluster.client() {
        let _ = client.raw().kill_topology(name.to_string());
    }
    Ok(r)
}

fn run_drpc(o: &Options, out: &mut dyn FnMut(String)) -> Result<Vec<RunResult>, String> {
    let mut results = Vec::new();
    for _ in 0..o.runs {
        let r = if o.cluster {
            drpc_cluster(o)?
        } else {
            drpc_local(o)?
        };
        out(r.line());
        results.push(r);
    }
    if results.len() > 1 {
        let per = |f: &dyn Fn(&RunResult) -> f64| -> f64 {
            median(&results.iter().map(f).collect::<Vec<_>>())
        };
        let q = |r: &RunResult, q: f64| {
            r.latency
                .as_ref()
                .map_or(0.0, |h| h.quantile_ns(q) as f64 / 1e6)
        };
        out(format!(
            "median of {} runs: workload=drpc mode={} clients={} requests/s={} p50={:.3}ms p99={:.3}ms \
errors={} cpu_s_per_M={:.2}",
            results.len(),
            if o.cluster { "cluster" } else { "local" },
            o.clients,
            fmt_rate(per(&|r| r.tuples_per_sec)),
            per(&|r| q(r, 0.5)),
            per(&|r| q(r, 0.99)),
            results.iter().map(|r| r.errors).sum::<u64>(),
            per(&|r| r.cpu_per_million),
        ));
    }
    Ok(results)
}

impl RunResult {
    fn drpc_line(&self) -> String {
        let mut s = format!(
            "workload={} mode={} transport=http clients={} workers={} acking={} requests/s={} (n={})",
            self.workload,
            self.mode,
            self.clients,
            self.workers,
            if self.acking { "on" } else { "off" },
            fmt_rate(self.tuples_per_sec),
            self.requests
        );
        if let Some(h) = self.latency.as_ref().filter(|h| h.count > 0) {
            s.push_str(&format!(
                " latency p50={} p99={} max={} mean={}",
                fmt_ms(h.quantile_ns(0.5)),
                fmt_ms(h.quantile_ns(0.99)),
                fmt_ms(h.max_ns),
                fmt_ms(h.mean_ns() as u64),
            ));
        }
        s.push_str(&format!(" errors={}", self.errors));
        if self.errors > 0 {
            s.push_str(&format!(
                " error_rate={:.4}",
                self.errors as f64 / (self.errors + self.requests) as f64
            ));
        }
        if !self.rss_mb.is_empty() {
            let rss: Vec<String> = self.rss_mb.iter().map(|m| format!("{m:.1}")).collect();
            s.push_str(&format!(" peak_rss_mb=[{}]", rss.join(",")));
        }
        if self.cpu_per_million > 0.0 {
            s.push_str(&format!(" cpu_s_per_M={:.2}", self.cpu_per_million));
        }
        for (k, v) in &self.extra {
            s.push_str(&format!(" {k}={v}"));
        }
        s
    }
}
