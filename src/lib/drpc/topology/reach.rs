//! storm-starter's reach topology on the linear DRPC builder, built into the library so the stock worker
//! can run it: the reach of a URL is the number of distinct people who follow someone who tweeted it.
//! `GetTweeters` → `GetFollowers` (shuffle) → `PartialUniquer` (batch, by `[id, follower]`) →
//! `CountAggregator` (batch, by `id`); each request is one batch, completed by the coordinated bolts.
//! The graph is storm-starter's fixed in-memory one, so [`expected_reach`] knows every answer.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{BatchBolt, LinearDRPCTopologyBuilder};
use crate::api::{
    BasicBolt, BasicOutputCollector, ComponentError, ConfMap, OutputCollector,
    OutputFieldsDeclarer, TopologyContext, Tuple,
};
use crate::tuple::Value;

/// The reach of `url` computed directly from the graph.
pub fn expected_reach(url: &str) -> usize {
    tweeters(url)
        .iter()
        .flat_map(|t| followers(t).iter())
        .collect::<HashSet<_>>()
        .len()
}

/// The tweeters of `url` in storm-starter's fixed graph.
pub fn tweeters(url: &str) -> &'static [&'static str] {
    match url {
        "foo.com/blog/1" => &["sally", "bob", "tim", "george", "nathan"],
        "engineering.twitter.com/blog/5" => &["adam", "david", "sally", "nathan"],
        "tech.backtype.com/blog/123" => &["tim", "mike", "john"],
        _ => &[],
    }
}

/// The followers of `who` in storm-starter's fixed graph.
pub fn followers(who: &str) -> &'static [&'static str] {
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
pub struct GetTweeters;

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
pub struct GetFollowers;

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
pub struct PartialUniquer {
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
pub struct CountAggregator {
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

/// storm-starter's reach topology for DRPC function `reach`.
pub fn reach_builder() -> LinearDRPCTopologyBuilder {
    let mut b = LinearDRPCTopologyBuilder::new("reach");
    b.add_basic_bolt(GetTweeters, 4);
    b.add_basic_bolt(GetFollowers, 12).shuffle_grouping();
    b.add_batch_bolt(PartialUniquer::default(), 6)
        .fields_grouping(["id", "follower"]);
    b.add_batch_bolt(CountAggregator::default(), 3)
        .fields_grouping(["id"]);
    b
}
