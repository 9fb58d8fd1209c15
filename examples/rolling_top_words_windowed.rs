//! storm-starter's rolling top words rebuilt on windowed bolts (instead of tick tuples and a hand-made
//! sliding counter, see `rolling_top_words.rs`): test words → per-word counts over a 9 s window
//! sliding every 3 s (fields grouping, each task ranks its own words) → the total ranking over
//! tumbling 3 s windows of the intermediate rankings (global grouping), printed every window.
//!
//! ```text
//! cargo run --example rolling_top_words_windowed [-- --local-ttl SECONDS]
//! storm local target/release/examples/rolling_top_words_windowed NAME [--local-ttl SECONDS]
//! storm jar target/release/examples/rolling_top_words_windowed NAME
//! ```

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use serde::{Deserialize, Serialize};
use storm::local::components::TestWordSpout;
use storm::prelude::*;
use storm::submitter::{run_or_submit, Launch};
use storm::window::Duration;

const TOP_N: usize = 5;

/// The top `n` of `counts`: by count descending, then by word.
fn top(counts: &BTreeMap<String, i64>, n: usize) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = counts.iter().map(|(w, c)| (w.clone(), *c)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

/// Counts the words of its window and emits this task's top words as one JSON ranking, tagged
/// with the task so the final ranker keeps each task's latest.
#[derive(Debug, Default, Serialize, Deserialize)]
struct RollingCountWindowBolt {
    #[serde(skip)]
    task: i32,
}

#[typetag::serde]
impl WindowedBolt for RollingCountWindowBolt {
    fn prepare(
        &mut self,
        _conf: &ConfMap,
        context: &TopologyContext,
    ) -> Result<(), ComponentError> {
        self.task = context.this_task_id();
        Ok(())
    }

    fn execute(
        &mut self,
        window: &TupleWindow,
        c: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let mut counts = BTreeMap::new();
        for t in window.get() {
            *counts.entry(t.get_str(0)?.to_owned()).or_insert(0) += 1;
        }
        let ranking = serde_json::to_string(&top(&counts, TOP_N))?;
        c.emit(values![i64::from(self.task), ranking])?;
        Ok(())
    }

    fn declare_output_fields(&self, d: &mut OutputFieldsDeclarer) {
        d.declare(["task", "rankings"]);
    }
}

/// Merges the intermediate rankings of its window (each counter task's latest) and prints the total.
#[derive(Debug, Default, Serialize, Deserialize)]
struct TotalRankingsWindowBolt;

#[typetag::serde]
impl WindowedBolt for TotalRankingsWindowBolt {
    fn execute(
        &mut self,
        window: &TupleWindow,
        c: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let mut latest: BTreeMap<i64, Vec<(String, i64)>> = BTreeMap::new();
        for t in window.get() {
            latest.insert(
                t.get_i64_by_field("task")?,
                serde_json::from_str(t.get_str_by_field("rankings")?)?,
            );
        }
        let mut counts = BTreeMap::new();
        for (word, n) in latest.into_values().flatten() {
            counts.insert(word, n);
        }
        let total = top(&counts, TOP_N);
        let line: Vec<String> = total.iter().map(|(w, n)| format!("{w}={n}")).collect();
        println!("top {TOP_N}: {}", line.join(" "));
        c.emit(values![serde_json::to_string(&total)?])?;
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
        .set_bolt(
            "counter",
            RollingCountWindowBolt::default()
                .with_window(Duration::seconds(9), Duration::seconds(3)),
            2,
        )
        .fields_grouping("word", ["word"]);
    builder
        .set_bolt(
            "finalRanker",
            TotalRankingsWindowBolt.with_tumbling_window(Duration::seconds(3)),
            1,
        )
        .global_grouping("counter");
    let topology = builder.create_topology()?;
    let conf = TopologyConf::new();
    let Launch::Local { cluster, name, .. } = run_or_submit(
        "rolling_top_words_windowed",
        "rolling-top-words-windowed",
        &conf,
        &topology,
        StdDuration::from_secs(14),
    )?
    else {
        return Ok(());
    };
    cluster.kill_topology(&name)?;
    cluster.shutdown();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_orders_by_count_then_word() {
        let counts = BTreeMap::from([("b".into(), 2), ("a".into(), 2), ("c".into(), 5)]);
        assert_eq!(
            top(&counts, 2),
            vec![("c".to_string(), 5), ("a".to_string(), 2)]
        );
    }
}
