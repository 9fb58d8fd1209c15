//! storm-starter's stateful word count (`StatefulTopology` / `StatefulWordCount`): sentences → split
//! (shuffle) → a [`StatefulBolt`] counting words in its [`KeyValueState`] (fields on `word`). The
//! counts are saved by Storm's checkpoints (`topology.state.checkpoint.interval.ms`, 1 s) into the
//! state backend: in memory by default, Redis with `--redis HOST:PORT`, so they survive a worker
//! kill.
//!
//! ```text
//! cargo run --example stateful_word_count [-- --local-ttl SECONDS] [--redis HOST:PORT]
//! storm jar target/debug/examples/stateful_word_count NAME --redis HOST:PORT [--workers N]
//! ```
//!
//! Other options: `--ledger DIR --limit N` (a durable source, `storm::local::durable::LedgerSpout`,
//! emitting `N` sentences per task and replaying failed ones; the counter then also counts, per
//! message id, how many words of it it applied, under the key `id` (a long) — the integration test
//! reads them back from Redis), `--interval-ms MS` (checkpoint interval), `--max-pending N`, `--message-timeout SECS`.
//!
//! In local mode the program runs for `--local-ttl` seconds (default 10) and prints the twenty most
//! frequent words of the state.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use storm::executor::ExecutorKind;
use storm::local::components::RandomSentenceSpout;
use storm::local::durable::LedgerSpout;
use storm::prelude::*;
use storm::state::{REDIS_PROVIDER, STATE_PROVIDER, STATE_PROVIDER_CONFIG};

/// Splits field `sentence` into `[word, id]` (`id` is the input's field `id`, or null).
#[derive(Default, Serialize, Deserialize)]
struct SplitWithId;

#[typetag::serde]
impl BasicBolt for SplitWithId {
    fn execute(
        &mut self,
        input: &Tuple,
        collector: &mut BasicOutputCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let id = if input.contains("id") {
            input.value_by_field("id")?.clone()
        } else {
            Value::Null
        };
        for word in input.get_str(0)?.split_whitespace() {
            collector.emit(vec![Value::from(word), id.clone()])?;
        }
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["word", "id"]);
    }
}

/// Storm's `StatefulWordCountBolt`: `count(word)` in the state, emitted as `[word, count]`.
#[derive(Default, Serialize, Deserialize)]
struct StatefulWordCounter {
    print_top: usize,
    #[serde(skip)]
    state: Option<KeyValueState>,
}

#[typetag::serde]
impl StatefulBolt for StatefulWordCounter {
    fn init_state(&mut self, state: KeyValueState) {
        self.state = Some(state);
    }

    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let state = self.state.as_ref().ok_or("execute before init_state")?;
        let word = input.get_str_by_field("word")?.to_owned();
        let count = state.get_or(word.as_str(), 0i64)?.as_i64().unwrap_or(0) + 1;
        if let Value::Long(id) = input.value_by_field("id")? {
            let applied = state.get_or(*id, 0i64)?.as_i64().unwrap_or(0) + 1;
            state.put(*id, applied)?;
        }
        state.put(word.as_str(), count)?;
        collector.emit_anchored(&input, values![word, count])?;
        collector.ack(&input);
        Ok(())
    }

    fn cleanup(&mut self) {
        if self.print_top == 0 {
            return;
        }
        let Some(state) = &self.state else { return };
        let Ok(entries) = state.entries() else { return };
        let mut counts: Vec<(String, i64)> = entries
            .into_iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_i64()?)))
            .collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut out = format!("{}: top words of {}\n", state.namespace(), counts.len());
        for (w, c) in counts.into_iter().take(self.print_top) {
            out.push_str(&format!("  {w:<12} {c}\n"));
        }
        print!("{out}");
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["word", "count"]);
    }
}

#[global_allocator]
static GLOBAL: storm::Allocator = storm::Allocator;

#[derive(Default)]
struct Args {
    name: Option<String>,
    local_ttl: Option<u64>,
    redis: Option<String>,
    ledger: Option<String>,
    limit: i64,
    workers: u32,
    interval_ms: u64,
    max_pending: u32,
    message_timeout: u32,
}

const USAGE: &str = "usage: stateful_word_count [NAME] [--local-ttl SECONDS] [--redis HOST:PORT] [--workers N] [--interval-ms MS] [--ledger DIR --limit N] [--max-pending N] [--message-timeout SECS]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        limit: 1000,
        workers: 1,
        interval_ms: 1000,
        max_pending: 1000,
        message_timeout: 30,
        ..Args::default()
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))
        };
        let num = |flag: &str, v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag} expects a number, got {v:?}; {USAGE}"))
        };
        match a.as_str() {
            "--local-ttl" => args.local_ttl = Some(num(&a, value(&a)?)?),
            "--redis" => args.redis = Some(value(&a)?),
            "--ledger" => args.ledger = Some(value(&a)?),
            "--limit" => args.limit = num(&a, value(&a)?)? as i64,
            "--workers" => args.workers = num(&a, value(&a)?)? as u32,
            "--interval-ms" => args.interval_ms = num(&a, value(&a)?)?,
            "--max-pending" => args.max_pending = num(&a, value(&a)?)? as u32,
            "--message-timeout" => args.message_timeout = num(&a, value(&a)?)? as u32,
            s if !s.starts_with("--") && args.name.is_none() => args.name = Some(s.to_owned()),
            s => return Err(format!("unknown argument {s:?}; {USAGE}")),
        }
    }
    Ok(args)
}

fn main() {
    storm::worker::run_if_worker();
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    storm::logging::init_cli();
    let args = parse_args()?;

    let mut builder = TopologyBuilder::new();
    match &args.ledger {
        Some(dir) => {
            let mut spout = LedgerSpout::new(dir, args.limit, 0);
            spout.emit_id = true;
            builder.set_spout("spout", spout, 2);
        }
        None => {
            builder.set_spout("spout", RandomSentenceSpout::new(0, true), 1);
        }
    }
    builder
        .set_basic_bolt("split", SplitWithId, 2)
        .shuffle_grouping("spout");
    builder
        .set_stateful_bolt(
            "count",
            StatefulWordCounter {
                print_top: if args.name.is_none() { 20 } else { 0 },
                ..StatefulWordCounter::default()
            },
            2,
        )
        .fields_grouping("split", ["word"]);
    let topology = builder.create_topology()?;

    let mut conf = TopologyConf::new();
    conf.set_num_workers(args.workers)
        .set_max_spout_pending(args.max_pending)
        .set_message_timeout_secs(args.message_timeout);
    conf.set("topology.state.checkpoint.interval.ms", args.interval_ms);
    if let Some(redis) = &args.redis {
        let (host, port) = redis
            .rsplit_once(':')
            .ok_or_else(|| format!("--redis expects HOST:PORT, got {redis:?}"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("--redis expects HOST:PORT, got {redis:?}"))?;
        conf.set(STATE_PROVIDER, REDIS_PROVIDER);
        conf.set(
            STATE_PROVIDER_CONFIG,
            serde_json::json!({
                "keyClass": "java.lang.String",
                "valueClass": "java.lang.Long",
                "jedisPoolConfig": {"host": host, "port": port, "database": 0, "timeout": 2000}
            })
            .to_string(),
        );
    }

    if let Some(name) = &args.name {
        storm::submitter::submit_topology(name, &conf, &topology)?;
        return Ok(());
    }
    let ttl = Duration::from_secs(args.local_ttl.unwrap_or(10));
    let cluster = LocalCluster::new();
    let id = cluster.submit_topology("stateful-word-count", &conf, &topology)?;
    println!("running topology {id} for {} s", ttl.as_secs());
    // The rate is measured over the last two thirds of the run (after start-up).
    let acked = |stats: &[storm::executor::ExecutorStatsSnapshot], component: &str| -> u64 {
        stats
            .iter()
            .filter(|s| s.kind == ExecutorKind::Spout && s.component_id == component)
            .map(|s| s.stats.spout_acked.values().sum::<u64>())
            .sum()
    };
    std::thread::sleep(ttl / 3);
    let first = cluster.stats("stateful-word-count")?;
    let start = std::time::Instant::now();
    std::thread::sleep(ttl - ttl / 3);
    let stats = cluster.stats("stateful-word-count")?;
    let elapsed = start.elapsed().as_secs_f64();
    let errors = cluster.errors("stateful-word-count")?;
    cluster.kill_topology("stateful-word-count")?;
    // A sentence is acked only after its words' counts were committed.
    let sentences = acked(&stats, "spout");
    let checkpoint = storm::state::checkpoint::CHECKPOINT_COMPONENT_ID;
    println!(
        "sentences acked: {sentences} ({:.0}/s over the last {elapsed:.1} s); checkpoints acked: {}",
        (sentences - acked(&first, "spout")) as f64 / elapsed,
        acked(&stats, checkpoint)
    );
    for e in &errors {
        eprintln!(
            "error in {} task {}: {}",
            e.component_id, e.task_id, e.error
        );
    }
    Ok(())
}
