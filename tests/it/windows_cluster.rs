//! Windowed bolts on a live cluster: durable ledger spouts (two tasks) → a windowed bolt on
//! tumbling 500 ms windows (two tasks, in two worker processes, so tuples and acks cross TCP) →
//! a null sink. Every window is logged by the bolt; the test checks that every emitted id was
//! acked (tuples are acked when they leave their window, and only once the window's own emit was
//! acked by the sink), that the windows together saw every tuple exactly once, and the window
//! bookkeeping (new, expired, start/end). Nimbus refuses a window longer than the message timeout.

use std::path::Path;
use std::time::Duration as StdDuration;

use storm::api::{TopologyBuilder, TopologyConf};
use storm::local::durable::{ledger, LedgerSpout};
use storm::local::perf::NullBolt;
use storm::thrift::StormTopology;
use storm::window::components::{read_window_logs, WindowSummaryBolt};
use storm::window::{BaseWindowedBolt, Duration};

use crate::cluster_support::TestCluster;
use crate::support::wait_until;

const LONG: StdDuration = StdDuration::from_secs(90);

use crate::cluster_support::empty_jar;

fn topology(data: &Path, windows: &Path, limit: i64, length: Duration) -> StormTopology {
    let mut b = TopologyBuilder::new();
    b.set_spout("spout", LedgerSpout::new(data, limit, 1), 2);
    b.set_bolt(
        "window",
        WindowSummaryBolt::new(None)
            .with_log_dir(windows)
            .with_tumbling_window(length),
        2,
    )
    .shuffle_grouping("spout");
    b.set_bolt("sink", NullBolt, 1).shuffle_grouping("window");
    b.create_topology().unwrap()
}

#[test]
fn tumbling_windows_on_a_cluster_see_every_tuple_once_and_ack_them_all() {
    let mut c = TestCluster::start("windows", &[]);
    c.add_supervisor(2);
    c.wait_supervisors(1);
    let (data, windows) = (c.dir.join("data"), c.dir.join("windows"));
    let limit = 300;
    let mut conf = TopologyConf::new();
    conf.set_num_workers(2).set_message_timeout_secs(30);

    // A window longer than the message timeout is refused by nimbus at submit.
    let e = storm::submitter::submit_to_cluster(
        &c.conf(),
        "too-long",
        &conf,
        &topology(&data, &windows, limit, Duration::seconds(31)),
        &empty_jar(&c.dir),
    )
    .expect_err("a 31 s tumbling window with a 30 s message timeout");
    assert!(
        e.to_string()
            .contains("Window duration (length + sliding interval) value 62000 is more than topology.message.timeout.secs value 30000"),
        "{e}"
    );

    storm::submitter::submit_to_cluster(
        &c.conf(),
        "windows",
        &conf,
        &topology(&data, &windows, limit, Duration::of(500)),
        &empty_jar(&c.dir),
    )
    .unwrap_or_else(|e| panic!("submit: {e}\n{}", c.logs()));

    let mut last = (0, 0, 0);
    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(LONG, "every id acked and seen by a window", || {
            let (emitted, acked) = ledger(&data);
            let seen: usize = read_window_logs(&windows).iter().map(|r| r.count).sum();
            last = (emitted.len(), acked.len(), seen);
            emitted.len() as i64 == 2 * limit && emitted.is_subset(&acked) && seen >= emitted.len()
        })
    }));
    assert!(
        done.is_ok(),
        "(emitted, acked, seen in windows) = {last:?}\n{}",
        c.logs()
    );
    let records = read_window_logs(&windows);
    let seen: usize = records.iter().map(|r| r.count).sum();
    assert_eq!(
        seen as i64,
        2 * limit,
        "each tuple in exactly one tumbling window: {records:?}"
    );
    let tasks: std::collections::BTreeSet<i32> = records.iter().map(|r| r.task).collect();
    assert_eq!(tasks.len(), 2, "both window tasks saw tuples: {records:?}");
    for task in tasks {
        let mine: Vec<_> = records.iter().filter(|r| r.task == task).collect();
        for (i, r) in mine.iter().enumerate() {
            assert_eq!(r.new, r.count, "a tumbling window is all new: {r:?}");
            let (start, end) = (r.start.unwrap(), r.end.unwrap());
            assert_eq!(end - start, 500, "{r:?}");
            if i > 0 {
                assert_eq!(
                    r.expired,
                    mine[i - 1].count,
                    "the previous window's tuples expire into the next: {mine:?}"
                );
                assert!(end > mine[i - 1].end.unwrap());
            }
        }
    }
}
