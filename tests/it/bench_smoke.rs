//! Keeps the storm-perf runner (`examples/storm_perf.rs`) working: every local workload (drpc included)
//! runs for about a second. Benchmarks are not tests, so nothing here asserts a time or a rate.

use std::time::Duration;

#[allow(dead_code)]
#[path = "../../examples/storm_perf/runner.rs"]
mod runner;

use runner::{Options, Workload};

fn smoke(workload: Workload, acking: Option<bool>) -> Vec<runner::RunResult> {
    let mut o = Options::new(workload);
    o.acking = acking;
    o.warmup = Duration::from_millis(200);
    o.duration = Duration::from_secs(1);
    o.ceiling = Duration::ZERO;
    o.rate = 2000;
    let mut lines = Vec::new();
    let results = runner::run(&o, &mut |l| lines.push(l))
        .unwrap_or_else(|e| panic!("{}: {e}", workload.name()));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("workload={}", workload.name())),
        "{lines:?}"
    );
    results
}

#[test]
fn every_local_workload_runs() {
    for (w, acking) in [
        (Workload::ConstSpoutOnly, Some(false)),
        (Workload::ConstSpoutNullBolt, Some(false)),
        (Workload::ConstSpoutNullBolt, Some(true)),
        (Workload::ConstSpoutIdBoltNullBolt, None),
        (Workload::WordCount, Some(false)),
        (Workload::LowThroughputLatency, None),
    ] {
        let r = smoke(w, acking);
        assert_eq!(r.len(), 1);
        assert!(r[0].intervals >= 1, "{}", r[0].line());
        if acking != Some(false) && w != Workload::ConstSpoutOnly {
            assert!(r[0].latency.is_some(), "{}", r[0].line());
        }
    }
    let r = smoke(Workload::Startup, None);
    assert!(
        r[0].extra
            .iter()
            .any(|(k, _)| k == "submit_to_first_ack_ms"),
        "{}",
        r[0].line()
    );
}

#[test]
fn drpc_workload_answers_over_http() {
    let mut o = Options::new(Workload::Drpc);
    o.warmup = Duration::from_millis(200);
    o.duration = Duration::from_secs(1);
    o.ceiling = Duration::ZERO;
    o.clients = 2;
    let mut lines = Vec::new();
    let r = runner::run(&o, &mut |l| lines.push(l)).unwrap_or_else(|e| panic!("drpc: {e}"));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("workload=drpc mode=local"),
        "{lines:?}"
    );
    assert_eq!(r.len(), 1);
    assert!(r[0].requests > 0, "{}", r[0].line());
    assert_eq!(r[0].errors, 0, "{}", r[0].line());
    assert_eq!(r[0].clients, 2);
    assert!(
        r[0].latency.as_ref().is_some_and(|h| h.count > 0),
        "{}",
        r[0].line()
    );
}

#[test]
fn ceilings_and_options() {
    assert!(runner::queue_handoff(Duration::from_millis(50)) > 0.0);
    assert!(runner::tcp_loopback(Duration::from_millis(50)).unwrap() > 0.0);
    assert!(
        runner::wire_bytes(runner::CONST_VALUE, true)
            > runner::wire_bytes(runner::CONST_VALUE, false)
    );
    let args: Vec<String> = [
        "word-count",
        "--mode",
        "cluster",
        "--workers",
        "2",
        "--acking",
        "off",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let o = Options::parse(&args).unwrap();
    assert!(o.cluster);
    assert_eq!(o.workers, 2);
    assert_eq!(o.clients, 8);
    let o = Options::parse(&["drpc".to_string(), "--clients".into(), "3".into()]).unwrap();
    assert_eq!((o.workload, o.clients), (Workload::Drpc, 3));
    assert!(Options::parse(&["nope".to_string()]).is_err());
    // --parallelism: executors of every component, 1 by default, named in its error.
    assert_eq!(o.parallelism, 1);
    let p = |v: &str| Options::parse(&["word-count".to_string(), "--parallelism".into(), v.into()]);
    assert_eq!(p("3").unwrap().parallelism, 3);
    for bad in ["0", "x", "257"] {
        let e = p(bad).unwrap_err();
        assert!(e.contains("--parallelism"), "{e}");
    }
}

#[test]
fn parallelism_runs_every_component_wider() {
    let mut o = Options::new(Workload::WordCount);
    o.acking = Some(false);
    o.parallelism = 2;
    o.warmup = Duration::from_millis(200);
    o.duration = Duration::from_secs(1);
    o.ceiling = Duration::ZERO;
    let mut lines = Vec::new();
    let r = runner::run(&o, &mut |l| lines.push(l)).unwrap_or_else(|e| panic!("{e}"));
    assert!(lines[0].contains(" parallelism=2 "), "{lines:?}");
    assert_eq!(r[0].parallelism, 2);
    assert!(r[0].intervals >= 1, "{}", r[0].line());
}
