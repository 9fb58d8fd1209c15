//! Windowed executor stats on a live cluster: workers report every executor's stats in Storm's four
//! windows in `/workerbeats`, and nimbus's `getTopologyInfo`, `getTopologyPageInfo` and
//! `getComponentPageInfo` carry them. The topology counts its own acks (each spout task appends a
//! line to a file per `ack` call), and a young topology's `600` window must equal `:all-time` and
//! both the count the topology made.

use std::path::Path;
use std::time::Duration;

use storm::api::{TopologyBuilder, TopologyConf};
use storm::local::components::SplitSentence;
use storm::local::durable::{ledger, CountFileSink, LedgerSpout};
use storm::thrift::{
    ExecutorSpecificStats, SpecificAggregateStats, StormTopology, TNimbusSyncClient,
    TopologyPageInfo,
};

use crate::cluster_support::TestCluster;
use crate::support::wait_until;

const LONG: Duration = Duration::from_secs(90);
const WINDOWS: [&str; 4] = ["10800", "600", "86400", ":all-time"];

use crate::cluster_support::empty_jar;

fn topology(data: &Path, limit: i64) -> StormTopology {
    let mut b = TopologyBuilder::new();
    b.set_spout("spout", LedgerSpout::new(data, limit, 0), 2);
    b.set_basic_bolt("split", SplitSentence::default(), 2)
        .shuffle_grouping("spout");
    b.set_basic_bolt("count", CountFileSink::new(data), 1)
        .fields_grouping("split", ["word"]);
    b.create_topology().unwrap()
}

/// How many times the spouts' `ack` was called: one line per call in the `.acked` logs.
fn acks_counted_by_the_topology(data: &Path) -> i64 {
    std::fs::read_dir(data)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "acked"))
                .map(|e| {
                    std::fs::read_to_string(e.path())
                        .unwrap_or_default()
                        .lines()
                        .filter(|l| !l.trim().is_empty())
                        .count() as i64
                })
                .sum()
        })
        .unwrap_or(0)
}

fn spout_acked(page: &TopologyPageInfo) -> Option<i64> {
    page.id_to_spout_agg_stats.as_ref()?["spout"]
        .common_stats
        .as_ref()?
        .acked
}

#[test]
fn windowed_stats_reach_nimbus_and_agree_with_the_topologys_own_count() {
    let mut c = TestCluster::start("winstats", &[]);
    c.add_supervisor(2);
    c.wait_supervisors(1);
    let data = c.dir.join("data");
    let limit = 200;
    let mut conf = TopologyConf::new();
    conf.set_num_workers(2).set_max_spout_pending(100);
    storm::submitter::submit_to_cluster(
        &c.conf(),
        "winstats",
        &conf,
        &topology(&data, limit),
        &empty_jar(&c.dir),
    )
    .unwrap_or_else(|e| panic!("submit: {e}\n{}", c.logs()));
    let id = c.topology_id("winstats").expect("in /storms");

    // Every id acked (the spouts then stop emitting, so the counts stop moving).
    let all_acked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(LONG, "every emitted id to be acked", || {
            let (emitted, acked) = ledger(&data);
            emitted.len() as i64 == 2 * limit && emitted.is_subset(&acked)
        })
    }));
    assert!(all_acked.is_ok(), "{}", c.logs());
    let mut counted = acks_counted_by_the_topology(&data);
    assert!(counted >= 2 * limit, "{counted}");

    // Nimbus's pages agree with the topology's own count, in the 10-minute window and all time,
    // once the workers' next heartbeats are in (every second here).
    let mut client = c.nimbus_client();
    let mut last = (None, None);
    let agreed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(LONG, "the pages to show every ack", || {
            let nimbus = client.raw();
            let recent = nimbus
                .get_topology_page_info(id.clone(), "600".into(), false)
                .unwrap();
            let all = nimbus
                .get_topology_page_info(id.clone(), ":all-time".into(), false)
                .unwrap();
            last = (spout_acked(&recent), spout_acked(&all));
            // (Recounted each time: a late replay would add an ack.)
            counted = acks_counted_by_the_topology(&data);
            last == (Some(counted), Some(counted))
        })
    }));
    assert!(
        agreed.is_ok(),
        "pages say (600, all-time) = {last:?}, the topology counted {counted}\n{}",
        c.logs()
    );
    let page = client
        .raw()
        .get_topology_page_info(id.clone(), "600".into(), false)
        .unwrap();
    let totals = page.topology_stats.clone().unwrap();
    let acked = totals.window_to_acked.unwrap();
    for w in WINDOWS {
        assert_eq!(acked.get(w), Some(&counted), "window_to_acked[{w}]");
    }
    let spout = &page.id_to_spout_agg_stats.as_ref().unwrap()["spout"];
    let Some(SpecificAggregateStats::Spout(s)) = &spout.specific_stats else {
        panic!("spout stats: {spout:?}");
    };
    let failed = spout.common_stats.as_ref().unwrap().failed.unwrap();
    assert_eq!(
        s.failed_timeout.unwrap() + s.failed_explicit.unwrap(),
        failed,
        "failures by cause add up to Storm's failed"
    );
    let split = &page.id_to_bolt_agg_stats.as_ref().unwrap()["split"];
    let Some(SpecificAggregateStats::Bolt(b)) = &split.specific_stats else {
        panic!("bolt stats: {split:?}");
    };
    assert!(b.executed.unwrap() >= counted, "{b:?}");
    assert!(b.capacity.is_some_and(|c| c.0 >= 0.0), "{b:?}");

    // getTopologyInfo: every executor in every window.
    let info = client.raw().get_topology_info(id.clone()).unwrap();
    let mut spout_acked_600 = 0;
    for e in &info.executors {
        let stats = e
            .stats
            .as_ref()
            .unwrap_or_else(|| panic!("no stats for {e:?}"));
        assert_eq!(
            stats.emitted.keys().map(String::as_str).collect::<Vec<_>>(),
            WINDOWS,
            "{}",
            e.component_id
        );
        assert_eq!(
            stats
                .reported_errors
                .as_ref()
                .map(|m| m.keys().map(String::as_str).collect::<Vec<_>>()),
            Some(WINDOWS.to_vec())
        );
        if let ExecutorSpecificStats::Spout(s) = &stats.specific {
            assert_eq!(s.acked["600"], s.acked[":all-time"], "a young executor");
            spout_acked_600 += s.acked["600"].values().sum::<i64>();
        }
    }
    assert_eq!(spout_acked_600, counted);

    // The windows come from the workers themselves, in /workerbeats.
    let beats = c.state().worker_heartbeats(&id).unwrap();
    assert_eq!(beats.len(), 2, "{beats:?}");
    for hb in beats.values() {
        for stats in hb.executor_stats.values() {
            assert_eq!(
                stats.emitted.keys().map(String::as_str).collect::<Vec<_>>(),
                WINDOWS
            );
        }
    }

    // A component page for the 10-minute window, with every window in its totals.
    let comp = c
        .nimbus_client()
        .raw()
        .get_component_page_info(id.clone(), "spout".into(), "600".into(), false)
        .unwrap();
    let win = comp.window_to_stats.unwrap();
    assert_eq!(win.keys().map(String::as_str).collect::<Vec<_>>(), WINDOWS);
    for w in WINDOWS {
        assert_eq!(
            win[w].common_stats.as_ref().unwrap().acked,
            Some(counted),
            "{w}"
        );
    }
    let per_executor: i64 = comp
        .exec_stats
        .unwrap()
        .iter()
        .map(|e| {
            e.stats
                .as_ref()
                .unwrap()
                .common_stats
                .as_ref()
                .unwrap()
                .acked
                .unwrap()
        })
        .sum();
    assert_eq!(per_executor, counted);
}
