//! storm-starter's exclamation topology in local mode: test words → `!!!` (shuffle) → `!!!` (shuffle)
//! → print.
//!
//! ```text
//! cargo run --example exclamation [-- --local-ttl SECONDS]
//! storm local target/debug/examples/exclamation NAME [--local-ttl SECONDS]
//! ```
//!
//! Prints every exclaimed word for `--local-ttl` seconds (default 10), then kills the topology and
//! exits.

use std::time::Duration;

use storm::local::components::{ExclamationBolt, PrintBolt, TestWordSpout};
use storm::prelude::*;
use storm::submitter::{run_or_submit, Launch};

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
    builder.set_spout("word", TestWordSpout::default(), 2);
    builder
        .set_bolt("exclaim1", ExclamationBolt, 3)
        .shuffle_grouping("word");
    builder
        .set_bolt("exclaim2", ExclamationBolt, 2)
        .shuffle_grouping("exclaim1");
    builder
        .set_basic_bolt("print", PrintBolt, 1)
        .shuffle_grouping("exclaim2");
    let topology = builder.create_topology()?;

    let mut conf = TopologyConf::new();
    conf.set_debug(true);
    let Launch::Local { cluster, id, .. } = run_or_submit(
        "exclamation",
        "exclamation",
        &conf,
        &topology,
        Duration::from_secs(10),
    )?
    else {
        return Ok(());
    };
    let errors = cluster.errors("exclamation")?;
    cluster.kill_topology("exclamation")?;
    for e in &errors {
        eprintln!(
            "error in {} task {}: {}",
            e.component_id, e.task_id, e.error
        );
    }
    println!("killed {id}");
    Ok(())
}
