//! storm-starter's word count in local mode: random sentences → split (shuffle) → count (fields on
//! `word`) → a report bolt (global) that prints the final counts.
//!
//! ```text
//! cargo run --example word_count [-- --local-ttl SECONDS]
//! storm local target/debug/examples/word_count NAME [--local-ttl SECONDS]
//! ```
//!
//! Runs for `--local-ttl` seconds (default 10), kills the topology, prints the twenty most frequent
//! words and the spout's acking statistics, and exits.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use storm::executor::ExecutorKind;
use storm::local::components::{RandomSentenceSpout, SplitSentence, WordCount};
use storm::prelude::*;
use storm::submitter::{run_or_submit, Launch};

/// Keeps the latest count of every word and prints the top ones when the topology is killed.
#[derive(Default, Serialize, Deserialize)]
struct ReportBolt {
    top: usize,
    #[serde(skip)]
    counts: BTreeMap<String, i64>,
}

#[typetag::serde]
impl BasicBolt for ReportBolt {
    fn execute(
        &mut self,
        input: &Tuple,
        _collector: &mut BasicOutputCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let word = input.get_str_by_field("word")?;
        let count = input.get_i64_by_field("count")?;
        let entry = self.counts.entry(word.to_owned()).or_insert(0);
        *entry = (*entry).max(count);
        Ok(())
    }

    fn cleanup(&mut self) {
        let mut counts: Vec<(&String, &i64)> = self.counts.iter().collect();
        counts.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "top {} of {} words:", self.top, counts.len());
        for (word, count) in counts.into_iter().take(self.top) {
            let _ = writeln!(out, "  {word:<12} {count}");
        }
    }

    fn declare_output_fields(&self, _declarer: &mut OutputFieldsDeclarer) {}
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
    builder.set_spout("spout", RandomSentenceSpout::new(0, true), 1);
    builder
        .set_basic_bolt("split", SplitSentence::default(), 2)
        .set_num_tasks(4)
        .shuffle_grouping("spout");
    builder
        .set_basic_bolt("count", WordCount::new(), 2)
        .fields_grouping("split", ["word"]);
    builder
        .set_basic_bolt(
            "report",
            ReportBolt {
                top: 20,
                ..ReportBolt::default()
            },
            1,
        )
        .global_grouping("count");
    let topology = builder.create_topology()?;

    let mut conf = TopologyConf::new();
    conf.set_max_spout_pending(1000)
        .set_message_timeout_secs(30);

    let Launch::Local { cluster, .. } = run_or_submit(
        "word_count",
        "word-count",
        &conf,
        &topology,
        Duration::from_secs(10),
    )?
    else {
        return Ok(());
    };
    let stats = cluster.stats("word-count")?;
    let errors = cluster.errors("word-count")?;
    cluster.kill_topology("word-count")?;

    let (mut acked, mut failed, mut latency_ms, mut latency_n) = (0u64, 0u64, 0.0, 0u64);
    for s in stats.iter().filter(|s| s.kind == ExecutorKind::Spout) {
        acked += s.stats.spout_acked.values().sum::<u64>();
        failed += s.stats.spout_failed.values().sum::<u64>();
        for l in s.stats.complete_latency.values() {
            latency_ms += l.total_ms;
            latency_n += l.count;
        }
    }
    let avg = if latency_n > 0 {
        latency_ms / latency_n as f64
    } else {
        0.0
    };
    println!("sentences acked: {acked}, failed: {failed}, average complete latency: {avg:.2} ms");
    for e in &errors {
        eprintln!(
            "error in {} task {}: {}",
            e.component_id, e.task_id, e.error
        );
    }
    Ok(())
}
