//! storm-starter's manual DRPC topology: `DRPCSpout("exclamation")` → `ExclaimBolt` (`hello` →
//! `hello!`) → `ReturnResults`.
//!
//! ```text
//! cargo run --example drpc_exclamation                 # local mode: LocalDRPC, a few calls, exit
//! storm local target/debug/examples/drpc_exclamation NAME -c drpc.servers='["127.0.0.1"]'
//! ```
//!
//! Without arguments the program starts a [`LocalDRPC`] and a local cluster, prints
//! `exclamation "<arg>" => "<result>"` for a few arguments and exits. With a topology name it hands the
//! cluster-mode topology (servers from `drpc.servers` and `drpc.invocations.port`) to the submitter,
//! so a running `drpc` daemon serves the function (`storm drpc-client -f exclamation hello`).

use storm::drpc::topology::{DRPCSpout, ExclaimBolt, LocalDRPC, ReturnResults};
use storm::prelude::*;

#[global_allocator]
static GLOBAL: storm::Allocator = storm::Allocator;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn topology(spout: DRPCSpout) -> Result<StormTopology, Box<dyn std::error::Error>> {
    let mut builder = TopologyBuilder::new();
    builder.set_spout("drpc", spout, 1);
    builder
        .set_basic_bolt("exclaim", ExclaimBolt::default(), 3)
        .shuffle_grouping("drpc");
    builder
        .set_bolt("return", ReturnResults::new(), 3)
        .shuffle_grouping("exclaim");
    Ok(builder.create_topology()?)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    storm::logging::init_cli();
    let conf = TopologyConf::new();
    if let Some(name) = std::env::args().nth(1).filter(|a| !a.starts_with("--")) {
        storm::submitter::submit_topology(&name, &conf, &topology(DRPCSpout::new("exclamation"))?)?;
        return Ok(());
    }
    let drpc = LocalDRPC::new();
    let cluster = LocalCluster::new();
    cluster.submit_topology(
        "drpc-exclamation",
        &conf,
        &topology(DRPCSpout::local("exclamation", &drpc))?,
    )?;
    for arg in ["hello", "goodbye", "storm-rs"] {
        let result = drpc
            .execute("exclamation", arg)
            .map_err(|e| storm::drpc::topology::describe_exception(&e))?;
        println!("exclamation \"{arg}\" => \"{result}\"");
    }
    cluster.kill_topology("drpc-exclamation")?;
    cluster.shutdown();
    drpc.shutdown();
    Ok(())
}
