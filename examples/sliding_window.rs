//! storm-starter's `SlidingWindowTopology` on storm-rs's windowed bolts: random integers → a sliding
//! sum over a count window (30 tuples, sliding every 10) → an average over a tumbling count window
//! (3 sums); beside them a sliding sum over a time window (5 s, sliding every 2 s) and an average
//! over tumbling event-time windows (3 s on the tuples' `ts` field, 1 s lag, late tuples printed).
//!
//! ```text
//! cargo run --example sliding_window [-- --local-ttl SECONDS]
//! storm local target/release/examples/sliding_window NAME [--local-ttl SECONDS]
//! storm jar target/release/examples/sliding_window NAME
//! cargo run --release --example sliding_window -- --bench SECONDS   # windowed-count throughput
//! ```
//!
//! Prints every window's result as it is emitted (in local mode; on a cluster, in the worker's
//! `worker.log.out`). `--bench` runs the windowed-count benchmark instead (see BENCHMARKS.md).

use std::time::{Duration as StdDuration, Instant};

use serde::{Deserialize, Serialize};
use storm::local::perf::{ConstSpout, NullBolt};
use storm::prelude::*;
use storm::submitter::{run_or_submit, Launch};
use storm::window::components::WindowSummaryBolt;
use storm::window::Duration;

/// storm-starter's `RandomIntegerSpout`: `[value, ts, msgid]` every 100 ms, reliably; a failed
/// tuple is simply logged (as in storm-starter).
#[derive(Debug, Default, Serialize, Deserialize)]
struct RandomIntegerSpout {
    #[serde(skip)]
    msg_id: i64,
    #[serde(skip)]
    seed: u64,
}

#[typetag::serde]
impl Spout for RandomIntegerSpout {
    fn open(
        &mut self,
        _conf: &ConfMap,
        context: &TopologyContext,
        _c: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.seed = 0x9E37_79B9_7F4A_7C15 ^ (context.this_task_id() as u64);
        Ok(())
    }

    fn next_tuple(&mut self, c: &mut SpoutOutputCollector<'_>) -> Result<(), ComponentError> {
        std::thread::sleep(StdDuration::from_millis(100));
        // xorshift: no dependency for a demo's random numbers.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let value = (self.seed % 100) as i64;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        self.msg_id += 1;
        c.emit(
            values![value, now, self.msg_id],
            Some(Value::Long(self.msg_id)),
        )?;
        Ok(())
    }

    fn fail(
        &mut self,
        id: MessageId,
        _c: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        eprintln!("Got fail for msgid : {id:?}");
        Ok(())
    }

    fn declare_output_fields(&self, d: &mut OutputFieldsDeclarer) {
        d.declare(["value", "ts", "msgid"]);
    }
}

/// storm-starter's `SlidingWindowSumBolt`: a running sum over the window, kept incrementally from
/// the new and expired tuples; emits `[sum]` (anchored to the window by the executor).
#[derive(Debug, Default, Serialize, Deserialize)]
struct SlidingWindowSumBolt {
    #[serde(skip)]
    sum: i64,
}

#[typetag::serde]
impl WindowedBolt for SlidingWindowSumBolt {
    fn execute(
        &mut self,
        window: &TupleWindow,
        c: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        for t in window.get_new() {
            self.sum += t.get_i64_by_field("value")?;
        }
        for t in window.get_expired() {
            self.sum -= t.get_i64_by_field("value")?;
        }
        c.emit(values![self.sum])?;
        Ok(())
    }

    fn declare_output_fields(&self, d: &mut OutputFieldsDeclarer) {
        d.declare(["sum"]);
    }
}

/// storm-starter's `TumblingWindowAvgBolt`: the average of field `field` over the window.
#[derive(Debug, Default, Serialize, Deserialize)]
struct TumblingWindowAvgBolt {
    field: String,
}

#[typetag::serde]
impl WindowedBolt for TumblingWindowAvgBolt {
    fn execute(
        &mut self,
        window: &TupleWindow,
        c: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let tuples = window.get();
        if tuples.is_empty() {
            return Ok(());
        }
        let mut sum = 0i64;
        for t in tuples {
            sum += t.get_i64_by_field(&self.field)?;
        }
        let avg = sum as f64 / tuples.len() as f64;
        println!(
            "avg of {} over {} tuples in [{:?}, {:?}]: {avg:.2}",
            self.field,
            tuples.len(),
            window.get_start_timestamp(),
            window.get_end_timestamp()
        );
        c.emit(values![avg])?;
        Ok(())
    }

    fn declare_output_fields(&self, d: &mut OutputFieldsDeclarer) {
        d.declare(["avg"]);
    }
}

/// Prints what it receives, with the source component and stream.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Printer;

#[typetag::serde]
impl BasicBolt for Printer {
    fn execute(
        &mut self,
        input: &Tuple,
        _c: &mut BasicOutputCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        println!(
            "{}:{} {:?}",
            input.source_component(),
            input.source_stream(),
            input.values()
        );
        Ok(())
    }

    fn declare_output_fields(&self, _d: &mut OutputFieldsDeclarer) {}
}

#[global_allocator]
static GLOBAL: storm::Allocator = storm::Allocator;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn topology() -> Result<StormTopology, Box<dyn std::error::Error>> {
    let mut b = TopologyBuilder::new();
    b.set_spout("integer", RandomIntegerSpout::default(), 1);
    b.set_bolt(
        "slidingsum",
        SlidingWindowSumBolt::default().with_window(Count::of(30), Count::of(10)),
        1,
    )
    .shuffle_grouping("integer");
    b.set_bolt(
        "tumblingavg",
        TumblingWindowAvgBolt {
            field: "sum".into(),
        }
        .with_tumbling_window(Count::of(3)),
        1,
    )
    .shuffle_grouping("slidingsum");
    b.set_bolt(
        "timesum",
        SlidingWindowSumBolt::default().with_window(Duration::seconds(5), Duration::seconds(2)),
        1,
    )
    .shuffle_grouping("integer");
    b.set_bolt(
        "eventavg",
        TumblingWindowAvgBolt {
            field: "value".into(),
        }
        .with_tumbling_window(Duration::seconds(3))
        .with_timestamp_field("ts")
        .with_lag(Duration::seconds(1))
        .with_late_tuple_stream("late"),
        1,
    )
    .shuffle_grouping("integer");
    b.set_basic_bolt("printer", Printer, 1)
        .shuffle_grouping("tumblingavg")
        .shuffle_grouping("timesum")
        .shuffle_grouping_stream("eventavg", "late");
    Ok(b.create_topology()?)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    storm::logging::init_cli();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--bench") {
        let secs = args
            .get(i + 1)
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or("--bench needs a number of seconds")?;
        return bench(secs);
    }
    let conf = TopologyConf::new();
    let Launch::Local { cluster, name, .. } = run_or_submit(
        "sliding_window",
        "sliding-window",
        &conf,
        &topology()?,
        StdDuration::from_secs(20),
    )?
    else {
        return Ok(());
    };
    cluster.kill_topology(&name)?;
    cluster.shutdown();
    Ok(())
}

/// Acked tuples of the spouts of topology `name` so far.
fn spout_acked(cluster: &LocalCluster, name: &str) -> Result<u64, Box<dyn std::error::Error>> {
    Ok(cluster
        .stats(name)?
        .iter()
        .filter(|s| s.component_id == "spout")
        .map(|s| s.stats.spout_acked.values().sum::<u64>())
        .sum())
}

/// The windowed-count benchmark: a reliable constant spout → a windowed count bolt (acking on:
/// every tuple is acked when it leaves its window, after the window's count was acked downstream)
/// → a null bolt; tuples acked per second after a 5 s warm-up, for a tumbling count window of
/// 1000 tuples and a tumbling 1 s window.
fn bench(secs: u64) -> Result<(), Box<dyn std::error::Error>> {
    let secs = secs.max(1);
    let cases: [(&str, WindowedBoltExecutor, u32); 2] = [
        (
            "tumbling count window of 1000",
            WindowSummaryBolt::new(None).with_tumbling_window(Count::of(1000)),
            10_000,
        ),
        (
            "tumbling 1 s window",
            WindowSummaryBolt::new(None).with_tumbling_window(Duration::seconds(1)),
            200_000,
        ),
    ];
    for (what, bolt, pending) in cases {
        let mut b = TopologyBuilder::new();
        b.set_spout("spout", ConstSpout::new("some data", true), 1);
        b.set_bolt("window", bolt, 1).shuffle_grouping("spout");
        b.set_bolt("sink", NullBolt, 1).shuffle_grouping("window");
        let mut conf = TopologyConf::new();
        conf.set_max_spout_pending(pending);
        let cluster = LocalCluster::new();
        cluster.submit_topology("bench", &conf, &b.create_topology()?)?;
        std::thread::sleep(StdDuration::from_secs(5));
        let (t0, a0) = (Instant::now(), spout_acked(&cluster, "bench")?);
        std::thread::sleep(StdDuration::from_secs(secs));
        let (elapsed, a1) = (t0.elapsed().as_secs_f64(), spout_acked(&cluster, "bench")?);
        let failed: u64 = cluster
            .stats("bench")?
            .iter()
            .map(|s| s.stats.spout_failed.values().sum::<u64>())
            .sum();
        println!(
            "windowed-count ({what}, acking on, max.spout.pending {pending}): {:.0} tuples/s acked over {elapsed:.1} s ({} acked, {failed} failed)",
            (a1 - a0) as f64 / elapsed,
            a1 - a0
        );
        cluster.kill_topology("bench")?;
        cluster.shutdown();
    }
    Ok(())
}
