//! storm-starter's reach topology on Storm's linear DRPC builder: the reach of a URL is the number of
//! distinct people who follow someone who tweeted it. `GetTweeters` → `GetFollowers` (shuffle) →
//! `PartialUniquer` (batch, by `[id, follower]`) → `CountAggregator` (batch, by `id`); each request is
//! one batch, completed by the coordinated bolts.
//!
//! ```text
//! cargo run --example reach                       # local mode: LocalDRPC, the three URLs, exit
//! storm local target/debug/examples/reach NAME -c drpc.servers='["127.0.0.1"]'
//! ```
//!
//! The tweeters and followers are storm-starter's fixed in-memory graph, so the reaches are known:
//! `foo.com/blog/1` 16, `engineering.twitter.com/blog/5` 14, `tech.backtype.com/blog/123` 7.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use storm::drpc::topology::{BatchBolt, LinearDRPCTopologyBuilder, LocalDRPC};
use storm::prelude::*;

fn tweeters(url: &str) -> &'static [&'static str] {
    match url {
        "foo.com/blog/1" => &["sally", "bob", "tim", "george", "nathan"],
        "engineering.twitter.com/blog/5" => &["adam", "david", "sally", "nathan"],
        "tech.backtype.com/blog/123" => &["tim", "mike", "john"],
        _ => &[],
    }
}

fn followers(who: &str) -> &'static [&'static str] {
    match who {
        "sally" => &["bob", "tim", "alice", "adam", "jim", "chris", "jai"],
        "bob" => &["sally", "nathan", "jim", "mary", "david", "vivian"],
        "tim" => &["alex"],
        "nathan" => &[
            "sally", "bob", "adam", "harry", "chris", "vivian", "emily", "jordan",
        ],
        "adam" => &["david", "carissa"],
        "mike" => &["john", "bob"],
        "john" => &["alice", "nathan", "jim", "mike", "bob"],
        _ => &[],
    }
}

/// `[id, url]` → `[id, tweeter]` for each tweeter of the URL.
#[derive(Serialize, Deserialize)]
struct GetTweeters;

#[typetag::serde(name = "reach::GetTweeters")]
impl BasicBolt for GetTweeters {
    fn execute(
        &mut self,
        input: &Tuple,
        collector: &mut BasicOutputCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let id = input.value(0)?.clone();
        let url = input.value(1)?.java_to_string();
        for t in tweeters(&url) {
            collector.emit(vec![id.clone(), Value::from(*t)])?;
        }
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["id", "tweeter"]);
    }
}

/// `[id, tweeter]` → `[id, follower]` for each follower.
#[derive(Serialize, Deserialize)]
struct GetFollowers;

#[typetag::serde(name = "reach::GetFollowers")]
impl BasicBolt for GetFollowers {
    fn execute(
        &mut self,
        input: &Tuple,
        collector: &mut BasicOutputCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let id = input.value(0)?.clone();
        let who = input.value(1)?.java_to_string();
        for f in followers(&who) {
            collector.emit(vec![id.clone(), Value::from(*f)])?;
        }
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["id", "follower"]);
    }
}

/// Per request: the distinct followers this task saw → `[id, partial-count]`.
#[derive(Default, Serialize, Deserialize)]
struct PartialUniquer {
    #[serde(skip)]
    id: Option<Value>,
    #[serde(skip)]
    seen: HashSet<String>,
}

#[typetag::serde(name = "reach::PartialUniquer")]
impl BatchBolt for PartialUniquer {
    fn prepare(
        &mut self,
        _conf: &ConfMap,
        _context: &TopologyContext,
        id: &Value,
    ) -> Result<(), ComponentError> {
        self.id = Some(id.clone());
        Ok(())
    }

    fn execute(
        &mut self,
        input: &Tuple,
        _collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.seen.insert(input.value(1)?.java_to_string());
        Ok(())
    }

    fn finish_batch(&mut self, collector: &mut OutputCollector<'_>) -> Result<(), ComponentError> {
        let id = self.id.clone().unwrap_or_default();
        collector.emit(vec![id, Value::from(self.seen.len() as i64)])?;
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["id", "partial-count"]);
    }
}

/// Per request: the sum of the partial counts → `[id, reach]`.
#[derive(Default, Serialize, Deserialize)]
struct CountAggregator {
    #[serde(skip)]
    id: Option<Value>,
    #[serde(skip)]
    count: i64,
}

#[typetag::serde(name = "reach::CountAggregator")]
impl BatchBolt for CountAggregator {
    fn prepare(
        &mut self,
        _conf: &ConfMap,
        _context: &TopologyContext,
        id: &Value,
    ) -> Result<(), ComponentError> {
        self.id = Some(id.clone());
        Ok(())
    }

    fn execute(
        &mut self,
        input: &Tuple,
        _collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if let Value::Long(n) = input.value(1)? {
            self.count += n;
        }
        Ok(())
    }

    fn finish_batch(&mut self, collector: &mut OutputCollector<'_>) -> Result<(), ComponentError> {
        let id = self.id.clone().unwrap_or_default();
        collector.emit(vec![id, Value::from(self.count)])?;
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["id", "reach"]);
    }
}

fn builder() -> LinearDRPCTopologyBuilder {
    let mut b = LinearDRPCTopologyBuilder::new("reach");
    b.add_basic_bolt(GetTweeters, 4);
    b.add_basic_bolt(GetFollowers, 12).shuffle_grouping();
    b.add_batch_bolt(PartialUniquer::default(), 6)
        .fields_grouping(["id", "follower"]);
    b.add_batch_bolt(CountAggregator::default(), 3)
        .fields_grouping(["id"]);
    b
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    storm::logging::init_cli();
    let conf = TopologyConf::new();
    if let Some(name) = std::env::args().nth(1).filter(|a| !a.starts_with("--")) {
        storm::submitter::submit_topology(&name, &conf, &builder().create_remote_topology()?)?;
        return Ok(());
    }
    let drpc = LocalDRPC::new();
    let cluster = LocalCluster::new();
    cluster.submit_topology(
        "reach-drpc",
        &conf,
        &builder().create_local_topology(&drpc)?,
    )?;
    for url in [
        "foo.com/blog/1",
        "engineering.twitter.com/blog/5",
        "tech.backtype.com/blog/123",
        "nobody.example/none",
    ] {
        let reach = drpc
            .execute("reach", url)
            .map_err(|e| storm::drpc::topology::describe_exception(&e))?;
        println!("Reach of {url}: {reach}");
    }
    cluster.kill_topology("reach-drpc")?;
    cluster.shutdown();
    drpc.shutdown();
    Ok(())
}
