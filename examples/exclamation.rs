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
    // storm-starter style: with a topology name the program was started by `storm local` (or `storm jar`)
    // and hands the topology to the submitter; without one it runs its own local cluster.
    if let Some(name) = std::env::args().nth(1).filter(|a| !a.starts_with("--")) {
        storm::submitter::submit_topology(&name, &conf, &topology)?;
        return Ok(());
    }
    let ttl = storm::submitter::local_ttl_from_args(
        "exclamation",
        std::env::args().skip(1),
        Duration::from_secs(10),
    )?;
    let cluster = LocalCluster::new();
    let id = cluster.submit_topology("exclamation", &conf, &topology)?;
    println!("running topology {id} for {:.1} s", ttl.as_secs_f64());
    std::thread::sleep(ttl);
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
