//! Storm's standard performance topologies (storm-perf), measured in local mode or on a real cluster
//! (ZooKeeper + nimbus + supervisor + worker processes, started and stopped by this runner), and
//! `vs-storm`: the same workloads on Apache Storm 2.8.3 beside storm-rs, in one run (`peer.rs`).
//!
//! ```text
//! cargo run --release --example storm_perf -- WORKLOAD [--mode local|cluster] [--workers N]
//!     [--parallelism N] [--acking on|off] [--warmup SECS] [--duration SECS] [--rate N] [--max-pending N] [--runs N]
//!     [--ceiling-secs SECS] [--clients N] [--conf KEY=VALUE]... [--json]
//! cargo run --release --example storm_perf -- vs-storm [--cases …] [--variants …] [--rounds N] …
//! ```
//!
//! Workloads: `ceilings`, `const-spout-only`, `const-spout-null-bolt`, `const-spout-id-bolt-null-bolt`,
//! `word-count`, `low-throughput-latency`, `startup`, `recovery` (cluster), `drpc` (exclamation over
//! the DRPC HTTP endpoint, `--clients N` concurrent keep-alive HTTP clients, default 8; in local mode
//! the DRPC server runs in-process, on loopback ports).
//! Every run prints one result line; see BENCHMARKS.md for what each figure means.
//! `scripts/bench_vs_storm.sh` builds what `vs-storm` needs and runs it.
//! `storm_perf chaos …` (`chaos.rs`): the chaos runner on a multi-host cluster (`scripts/hosts.sh`),
//! faults injected while the durable ledger topology runs, ids lost/duplicated and recovery times.
//! `storm_perf scaling …` and `storm_perf idle …` (`scaling.rs`): throughput and RSS of both systems as
//! executors and workers grow, and the CPU% of idle workers and daemons (BENCHMARKS.md, "Cost as work
//! grows"; `scripts/scaling.sh`).
//! `storm_perf zk-writes [--workers N]` (`zk_writes.rs`): ZooKeeper writes per second with N idle
//! workers (RELIABILITY.md, "ZooKeeper write rate").

#[path = "storm_perf/chaos.rs"]
mod chaos;
#[path = "storm_perf/peer.rs"]
mod peer;
#[path = "storm_perf/runner.rs"]
mod runner;
#[path = "storm_perf/scaling.rs"]
mod scaling;
#[path = "storm_perf/zk_writes.rs"]
mod zk_writes;

#[global_allocator]
static GLOBAL: storm::Allocator = storm::Allocator;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "vs-storm") || args.iter().any(|a| a == "--vs-storm") {
        let options = match peer::VsOptions::parse(&args) {
            Ok(o) => o,
            Err(e) => {
                if !e.is_empty() {
                    eprintln!("storm_perf vs-storm: {e}\n");
                }
                eprintln!("{}", peer::USAGE);
                std::process::exit(2);
            }
        };
        if let Err(e) = peer::run(&options, &mut |line| println!("{line}")) {
            eprintln!("storm_perf vs-storm: {e}");
            std::process::exit(1);
        }
        return;
    }
    if args.first().is_some_and(|a| a == "scaling") {
        let options = match scaling::ScalingOptions::parse(&args) {
            Ok(o) => o,
            Err(e) => {
                if !e.is_empty() {
                    eprintln!("storm_perf scaling: {e}\n");
                }
                eprintln!("{}", scaling::SCALING_USAGE);
                std::process::exit(2);
            }
        };
        if let Err(e) = scaling::run_scaling(&options, &mut |line| println!("{line}")) {
            eprintln!("storm_perf scaling: {e}");
            std::process::exit(1);
        }
        return;
    }
    if args.first().is_some_and(|a| a == "idle") {
        let options = match scaling::IdleOptions::parse(&args) {
            Ok(o) => o,
            Err(e) => {
                if !e.is_empty() {
                    eprintln!("storm_perf idle: {e}\n");
                }
                eprintln!("{}", scaling::IDLE_USAGE);
                std::process::exit(2);
            }
        };
        if let Err(e) = scaling::run_idle(&options, &mut |line| println!("{line}")) {
            eprintln!("storm_perf idle: {e}");
            std::process::exit(1);
        }
        return;
    }
    if args.first().is_some_and(|a| a == "chaos") {
        let options = match chaos::ChaosOptions::parse(&args) {
            Ok(o) => o,
            Err(e) => {
                if !e.is_empty() {
                    eprintln!("storm_perf chaos: {e}\n");
                }
                eprintln!("{}", chaos::USAGE);
                std::process::exit(2);
            }
        };
        if let Err(e) = chaos::run(&options, &mut |line| println!("{line}")) {
            eprintln!("storm_perf chaos: {e}");
            std::process::exit(1);
        }
        return;
    }
    if args.first().is_some_and(|a| a == "zk-writes") {
        let options = match zk_writes::ZkWritesOptions::parse(&args) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("storm_perf zk-writes: {e}\n\n{}", zk_writes::USAGE);
                std::process::exit(2);
            }
        };
        if let Err(e) = zk_writes::run(&options, &mut |line| println!("{line}")) {
            eprintln!("storm_perf zk-writes: {e}");
            std::process::exit(1);
        }
        return;
    }
    let options = match runner::Options::parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("storm_perf: {e}\n\n{}", runner::USAGE);
            std::process::exit(2);
        }
    };
    if let Err(e) = runner::run(&options, &mut |line| println!("{line}")) {
        eprintln!("storm_perf: {e}");
        std::process::exit(1);
    }
}
