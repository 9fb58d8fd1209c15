//! storm-starter's reach topology on Storm's linear DRPC builder: the reach of a URL is the number of
//! distinct people who follow someone who tweeted it (components in `storm::drpc::topology::reach`).
//! `GetTweeters` → `GetFollowers` (shuffle) →
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

use storm::drpc::topology::reach::reach_builder;
use storm::drpc::topology::LocalDRPC;
use storm::prelude::*;

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
    let conf = TopologyConf::new();
    if let Some(name) = std::env::args().nth(1).filter(|a| !a.starts_with("--")) {
        storm::submitter::submit_topology(
            &name,
            &conf,
            &reach_builder().create_remote_topology()?,
        )?;
        return Ok(());
    }
    let drpc = LocalDRPC::new();
    let cluster = LocalCluster::new();
    cluster.submit_topology(
        "reach-drpc",
        &conf,
        &reach_builder().create_local_topology(&drpc)?,
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
