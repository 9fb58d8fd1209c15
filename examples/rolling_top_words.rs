//! storm-starter's rolling top words in local mode: test words → rolling counts over a sliding window
//! (advanced by tick tuples) → intermediate rankings (fields grouping) → total rankings (global grouping),
//! printed on every tick.
//!
//! ```text
//! cargo run --example rolling_top_words [-- --local-ttl SECONDS]
//! storm local target/debug/examples/rolling_top_words NAME [--local-ttl SECONDS]
//! ```
//!
//! The window is 9 s in 3 slots; counts and rankings are emitted every 3 s (`topology.tick.tuple.freq.secs`
//! per component). Runs for `--local-ttl` seconds (default 14; rankings reach the final ranker two ticks after the words), then kills the topology and exits.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use storm::local::components::TestWordSpout;
use storm::prelude::*;
use storm::submitter::{run_or_submit, Launch};

const EMIT_SECS: u32 = 3;
const SLOTS: usize = 3;
const TOP_N: usize = 5;

/// Counts per object over `slots` time slots; the head slot collects new counts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SlidingCounter {
    slots: usize,
    head: usize,
    counts: BTreeMap<String, Vec<i64>>,
}

impl SlidingCounter {
    fn new(slots: usize) -> SlidingCounter {
        SlidingCounter {
            slots: slots.max(1),
            head: 0,
            counts: BTreeMap::new(),
        }
    }

    fn incr(&mut self, obj: &str) {
        let slots = self.slots;
        self.counts
            .entry(obj.to_string())
            .or_insert_with(|| vec![0; slots])[self.head] += 1;
    }

    /// Window totals per object, then the window slides: the oldest slot is wiped and becomes the head;
    /// objects with nothing left in the window are forgotten.
    fn totals_and_advance(&mut self) -> BTreeMap<String, i64> {
        let totals = self
            .counts
            .iter()
            .map(|(k, v)| (k.clone(), v.iter().sum()))
            .collect();
        self.head = (self.head + 1) % self.slots;
        let head = self.head;
        for v in self.counts.values_mut() {
            v[head] = 0;
        }
        self.counts.retain(|_, v| v.iter().any(|c| *c != 0));
        totals
    }
}

/// The top `n` (object, count) pairs: by count descending, then by object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Rankings {
    n: usize,
    items: Vec<(String, i64)>,
}

impl Rankings {
    fn new(n: usize) -> Rankings {
        Rankings {
            n,
            items: Vec::new(),
        }
    }

    /// Sets `obj`'s count (replacing an older one) and keeps the top `n`.
    fn update(&mut self, obj: &str, count: i64) {
        self.items.retain(|(o, _)| o != obj);
        self.items.push((obj.to_string(), count));
        self.items
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        self.items.truncate(self.n);
    }

    fn merge(&mut self, other: &Rankings) {
        for (o, c) in &other.items {
            self.update(o, *c);
        }
    }
}

/// Rolling counts: increments on words, and on every tick emits `[obj, count, actualWindowLengthInSeconds]`.
#[derive(Serialize, Deserialize)]
struct RollingCountBolt {
    counter: SlidingCounter,
    ticks: u32,
}

#[typetag::serde]
impl BasicBolt for RollingCountBolt {
    fn execute(
        &mut self,
        input: &Tuple,
        c: &mut BasicOutputCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        if input.is_tick() {
            self.ticks += 1;
            let window = (self.ticks * EMIT_SECS).min(SLOTS as u32 * EMIT_SECS);
            for (obj, count) in self.counter.totals_and_advance() {
                c.emit(values![obj, count, i64::from(window)])?;
            }
        } else {
            self.counter.incr(input.get_str(0)?);
        }
        Ok(())
    }

    fn declare_output_fields(&self, d: &mut OutputFieldsDeclarer) {
        d.declare(["obj", "count", "actualWindowLengthInSeconds"]);
    }
}

/// Keeps the top objects it sees; on every tick emits its rankings (as JSON) downstream.
#[derive(Serialize, Deserialize)]
struct IntermediateRankingsBolt {
    rankings: Rankings,
}

#[typetag::serde]
impl BasicBolt for IntermediateRankingsBolt {
    fn execute(
        &mut self,
        input: &Tuple,
        c: &mut BasicOutputCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        if input.is_tick() {
            let json = serde_json::to_string(&self.rankings)
                .map_err(|e| FailedException::new(e.to_string()))?;
            c.emit(values![json])?;
        } else {
            self.rankings.update(
                input.get_str_by_field("obj")?,
                input.get_i64_by_field("count")?,
            );
        }
        Ok(())
    }

    fn declare_output_fields(&self, d: &mut OutputFieldsDeclarer) {
        d.declare(["rankings"]);
    }
}

/// Merges the intermediate rankings; on every tick prints and emits the total top words.
#[derive(Serialize, Deserialize)]
struct TotalRankingsBolt {
    rankings: Rankings,
}

#[typetag::serde]
impl BasicBolt for TotalRankingsBolt {
    fn execute(
        &mut self,
        input: &Tuple,
        c: &mut BasicOutputCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        if input.is_tick() {
            let line = self
                .rankings
                .items
                .iter()
                .map(|(o, n)| format!("{o}={n}"))
                .collect::<Vec<_>>()
                .join(" ");
            println!("top {}: {line}", self.rankings.n);
            let json = serde_json::to_string(&self.rankings)
                .map_err(|e| FailedException::new(e.to_string()))?;
            c.emit(values![json])?;
        } else {
            let part: Rankings = serde_json::from_str(input.get_str(0)?)
                .map_err(|e| FailedException::new(format!("bad rankings: {e}")))?;
            self.rankings.merge(&part);
        }
        Ok(())
    }

    fn declare_output_fields(&self, d: &mut OutputFieldsDeclarer) {
        d.declare(["rankings"]);
    }
}

#[global_allocator]
static GLOBAL: storm::Allocator = storm::Allocator;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    storm::logging::init_cli();
    let mut builder = TopologyBuilder::new();
    builder.set_spout("word", TestWordSpout::new(10), 2);
    builder
        .set_basic_bolt(
            "counter",
            RollingCountBolt {
                counter: SlidingCounter::new(SLOTS),
                ticks: 0,
            },
            2,
        )
        .fields_grouping("word", ["word"])
        .set_tick_tuple_freq_secs(EMIT_SECS);
    builder
        .set_basic_bolt(
            "intermediateRanker",
            IntermediateRankingsBolt {
                rankings: Rankings::new(TOP_N),
            },
            2,
        )
        .fields_grouping("counter", ["obj"])
        .set_tick_tuple_freq_secs(EMIT_SECS);
    builder
        .set_basic_bolt(
            "finalRanker",
            TotalRankingsBolt {
                rankings: Rankings::new(TOP_N),
            },
            1,
        )
        .global_grouping("intermediateRanker")
        .set_tick_tuple_freq_secs(EMIT_SECS);
    let topology = builder.create_topology()?;
    let conf = TopologyConf::new();

    let Launch::Local { cluster, .. } = run_or_submit(
        "rolling_top_words",
        "rolling-top-words",
        &conf,
        &topology,
        Duration::from_secs(14),
    )?
    else {
        return Ok(());
    };
    cluster.kill_topology("rolling-top-words")?;
    cluster.shutdown();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides_one_slot_per_advance() {
        let mut c = SlidingCounter::new(3);
        c.incr("a");
        c.incr("a");
        c.incr("b");
        assert_eq!(
            c.totals_and_advance(),
            BTreeMap::from([("a".into(), 2), ("b".into(), 1)])
        );
        c.incr("a");
        assert_eq!(c.totals_and_advance()["a"], 3);
        assert_eq!(
            c.totals_and_advance()["a"],
            3,
            "nothing new, nothing expired yet"
        );
        // The first slot (2 a, 1 b) has now slid out of the 3-slot window.
        assert_eq!(c.totals_and_advance(), BTreeMap::from([("a".into(), 1)]));
        assert!(c.totals_and_advance().is_empty());
        assert!(
            c.counts.is_empty(),
            "objects with nothing in the window are forgotten"
        );
    }

    #[test]
    fn rankings_keep_the_top_n_by_count_then_name() {
        let mut r = Rankings::new(2);
        r.update("b", 5);
        r.update("a", 5);
        r.update("c", 7);
        assert_eq!(r.items, vec![("c".into(), 7), ("a".into(), 5)]);
        r.update("c", 1);
        assert_eq!(
            r.items,
            vec![("a".into(), 5), ("c".into(), 1)],
            "an update replaces the old count"
        );
        let mut total = Rankings::new(3);
        total.merge(&r);
        total.merge(&Rankings {
            n: 2,
            items: vec![("z".into(), 9), ("a".into(), 6)],
        });
        assert_eq!(
            total.items,
            vec![("z".into(), 9), ("a".into(), 6), ("c".into(), 1)]
        );
    }
}
