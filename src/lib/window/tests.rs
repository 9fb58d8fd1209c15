//! The window engine against straightforward reference models (proptest): for random arrivals,
//! timestamps and clocks, every window's contents, new and expired sets match the model, late
//! tuples are refused, and every event leaves the manager exactly once (acked on expiry, failed
//! when dropped over the cap) and never while it is still in a window.

use std::collections::{BTreeSet, HashSet};

use proptest::prelude::*;

use super::manager::{Activation, WindowAction, WindowManager};
use super::policy::{Eviction, Trigger};
use super::watermark::WatermarkGenerator;

type Id = u32;

/// Ids leaving through `Expire`/`Drop`, checked for duplicates.
#[derive(Default)]
struct Ledger {
    left: HashSet<Id>,
    activations: Vec<Activation<Id>>,
}

impl Ledger {
    /// Records the actions; returns the activations among them.
    fn take(&mut self, out: &mut Vec<WindowAction<Id>>) -> Vec<Activation<Id>> {
        let mut acts = Vec::new();
        for a in out.drain(..) {
            match a {
                WindowAction::Expire(ids) | WindowAction::Drop(ids) => {
                    for id in ids {
                        assert!(self.left.insert(id), "event {id} left the window twice");
                    }
                }
                WindowAction::Activate(act) => {
                    for id in &act.tuples {
                        assert!(
                            !self.left.contains(id),
                            "event {id} is in a window after it was acked"
                        );
                    }
                    acts.push(act.clone());
                    self.activations.push(act);
                }
            }
        }
        acts
    }

    /// Every event either left exactly once or is still queued.
    fn check_conservation(&self, manager: &WindowManager<Id>, all: impl IntoIterator<Item = Id>) {
        let queued: BTreeSet<Id> = manager.queued().map(|e| e.value).collect();
        for id in all {
            assert!(
                self.left.contains(&id) != queued.contains(&id),
                "event {id}: left={} queued={}",
                self.left.contains(&id),
                queued.contains(&id)
            );
        }
    }
}

fn sorted(v: &[Id]) -> Vec<Id> {
    let mut v = v.to_vec();
    v.sort_unstable();
    v
}

/// The model's expectations for one evaluated window.
struct Expect {
    tuples: Vec<Id>,
    new: Vec<Id>,
    expired: Vec<Id>,
}

fn assert_activation(got: &Activation<Id>, want: &Expect, what: &str) {
    assert_eq!(sorted(&got.tuples), sorted(&want.tuples), "{what}: window");
    assert_eq!(sorted(&got.new), sorted(&want.new), "{what}: new");
    assert_eq!(
        sorted(&got.expired),
        sorted(&want.expired),
        "{what}: expired"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Count window of `len` sliding every `slide` tuples, on processing time: the window after
    /// every `slide`-th tuple is the last `len` tuples.
    #[test]
    fn count_windows_match_the_model(len in 1i64..12, slide in 1i64..12, n in 0u32..320) {
        let mut m = WindowManager::new(Eviction::count(len), Trigger::count(slide), None, 1_000_000);
        let mut ledger = Ledger::default();
        let mut out = Vec::new();
        let mut prev: Vec<Id> = Vec::new();
        let mut reported: HashSet<Id> = HashSet::new();
        for i in 0..n {
            m.add(i, i64::from(i), i64::from(i), &mut out);
            let acts = ledger.take(&mut out);
            // Nothing in the last `len` tuples has been acked.
            let first_kept = (i64::from(i) + 1 - len).max(0) as Id;
            for id in first_kept..=i {
                prop_assert!(!ledger.left.contains(&id), "event {} acked while among the last {}", id, len);
            }
            if (i64::from(i) + 1) % slide == 0 {
                prop_assert_eq!(acts.len(), 1);
                let window: Vec<Id> = (first_kept..=i).collect();
                let expired: Vec<Id> = (0..first_kept).filter(|id| !reported.contains(id)).collect();
                let new: Vec<Id> = window.iter().copied().filter(|id| !prev.contains(id)).collect();
                assert_activation(&acts[0], &Expect { tuples: window.clone(), new, expired: expired.clone() }, "count window");
                prop_assert_eq!(acts[0].end_ts, Some(i64::from(i)));
                reported.extend(expired);
                prev = window;
            } else {
                prop_assert!(acts.is_empty());
            }
        }
        ledger.check_conservation(&m, 0..n);
    }

    /// Duration window of `len` ms sliding every `slide` ms of processing time, with tuples at
    /// random moments and the timer checked at random moments (late timers included).
    #[test]
    fn duration_windows_match_the_model(
        len in 1i64..40,
        slide in 1i64..40,
        steps in prop::collection::vec((0i64..15, prop::bool::weighted(0.6)), 0..90),
    ) {
        let start = 1000;
        let mut m = WindowManager::new(Eviction::time(len), Trigger::time(slide, start), Some(len), 1_000_000);
        let mut ledger = Ledger::default();
        let mut out = Vec::new();
        // The model: events (id, ts); trigger schedule; previous reference time.
        let mut events: Vec<(Id, i64)> = Vec::new();
        let mut next_due = start + slide;
        let mut prev_ref: Option<i64> = None;
        let mut expired_done: HashSet<Id> = HashSet::new();
        let mut pending_expired: Vec<Id> = Vec::new();
        let mut prev_window: Vec<Id> = Vec::new();
        let mut now = start;
        let mut next_id = 0;
        for (gap, is_event) in steps {
            now += gap;
            if is_event {
                m.add(next_id, now, now, &mut out);
                events.push((next_id, now));
                next_id += 1;
                prop_assert!(ledger.take(&mut out).is_empty(), "no window without the timer");
                continue;
            }
            m.tick(now, &mut out);
            let acts = ledger.take(&mut out);
            if now < next_due {
                prop_assert!(acts.is_empty());
                continue;
            }
            while next_due <= now {
                next_due += slide;
            }
            let reference = now - 1;
            // Storm: the first window takes everything up to the reference time; later ones
            // start where the previous one's slide ends (correcting for a late timer).
            let lower = prev_ref.map(|p| p + slide - len);
            let window: Vec<Id> = events
                .iter()
                .filter(|(id, ts)| *ts <= reference && lower.is_none_or(|l| *ts > l) && !expired_done.contains(id))
                .map(|(id, _)| *id)
                .collect();
            if let Some(l) = lower {
                for (id, ts) in &events {
                    if *ts <= l && expired_done.insert(*id) {
                        pending_expired.push(*id);
                    }
                }
            }
            prev_ref = Some(reference);
            if window.is_empty() {
                prop_assert!(acts.is_empty());
                prev_window.clear();
                continue;
            }
            prop_assert_eq!(acts.len(), 1);
            let new: Vec<Id> = window.iter().copied().filter(|id| !prev_window.contains(id)).collect();
            assert_activation(&acts[0], &Expect { tuples: window.clone(), new, expired: std::mem::take(&mut pending_expired) }, "duration window");
            prop_assert_eq!(acts[0].end_ts, Some(reference));
            prop_assert_eq!(acts[0].start_ts, Some(reference - len));
            prev_window = window;
        }
        ledger.check_conservation(&m, 0..next_id);
        for id in &ledger.left {
            prop_assert!(expired_done.contains(id), "event {} acked before the model expired it", id);
        }
    }

    /// Event-time duration windows with lag and watermarks: windows end at multiples of the
    /// sliding interval up to the watermark; a tuple older than the last watermark is late.
    #[test]
    fn event_time_windows_match_the_model(
        len in 1i64..30,
        slide in 1i64..30,
        lag in 0i64..10,
        steps in prop::collection::vec((0u8..10, 0i64..40), 0..150),
    ) {
        let mut m = WindowManager::new(Eviction::watermark_time(len, lag), Trigger::watermark_time(slide), Some(len), 1_000_000);
        let stream = ("spout".to_string(), "default".to_string());
        let mut g = WatermarkGenerator::new([stream.clone()], lag);
        let mut ledger = Ledger::default();
        let mut out = Vec::new();
        let mut accepted: Vec<(Id, i64)> = Vec::new();
        let mut all_ids = Vec::new();
        let mut max_seen: Option<i64> = None;
        let mut last_wm = 0i64;
        let mut evaluated_upto: i64 = 0; // windows ending at or before this were evaluated
        let mut last_window: Option<(i64, Vec<Id>)> = None;
        let mut expired_done: HashSet<Id> = HashSet::new();
        let mut pending_expired: Vec<Id> = Vec::new();
        let mut next_id = 0;
        for (kind, r) in steps {
            if kind < 7 {
                // A tuple that keeps the lag promise, or (kind 6) a late one.
                let ts = if kind == 6 && last_wm > r + 1 {
                    last_wm - 1 - r
                } else {
                    match max_seen {
                        None => 1 + r,
                        Some(mx) => (mx - lag + (r % (lag + 20))).max(1),
                    }
                };
                let id = next_id;
                next_id += 1;
                let on_time = g.track(&stream, ts);
                prop_assert_eq!(on_time, ts >= last_wm, "late iff older than the watermark");
                if on_time {
                    m.add(id, ts, 0, &mut out);
                    accepted.push((id, ts));
                    all_ids.push(id);
                    max_seen = Some(max_seen.map_or(ts, |mx: i64| mx.max(ts)));
                }
                prop_assert!(ledger.take(&mut out).is_empty());
                continue;
            }
            // The watermark interval elapsed.
            let wm = g.next_watermark();
            let model_wm = max_seen.map(|mx| mx - lag).filter(|w| *w > last_wm);
            prop_assert_eq!(wm, model_wm);
            let Some(w) = wm else { continue };
            last_wm = w;
            m.add_watermark(w, 0, &mut out);
            let acts = ledger.take(&mut out);
            let mut expected = Vec::new();
            let first = (evaluated_upto / slide + 1) * slide;
            let mut end = first.max(slide);
            while end <= w {
                let window: Vec<Id> = accepted
                    .iter()
                    .filter(|(_, ts)| *ts > end - len && *ts <= end)
                    .map(|(id, _)| *id)
                    .collect();
                for (id, ts) in &accepted {
                    if *ts <= end - len && expired_done.insert(*id) {
                        pending_expired.push(*id);
                    }
                }
                if !window.is_empty() {
                    let new: Vec<Id> = match &last_window {
                        Some((e, prev)) if *e == end - slide => {
                            window.iter().copied().filter(|id| !prev.contains(id)).collect()
                        }
                        _ => window.clone(),
                    };
                    expected.push((end, Expect { tuples: window.clone(), new, expired: std::mem::take(&mut pending_expired) }));
                    last_window = Some((end, window));
                    evaluated_upto = end;
                }
                end += slide;
            }
            // Storm passes every window end up to the watermark unless it stopped at an empty
            // one with nothing after it (then it starts there again next time).
            let last_end = w.div_euclid(slide) * slide;
            if accepted.iter().any(|(_, ts)| *ts > last_end && *ts <= w) {
                evaluated_upto = evaluated_upto.max(last_end);
            }
            prop_assert_eq!(acts.len(), expected.len(), "windows evaluated up to watermark {}", w);
            for (got, (end, want)) in acts.iter().zip(&expected) {
                assert_activation(got, want, &format!("window ending {end}"));
                prop_assert_eq!(got.end_ts, Some(*end));
                prop_assert_eq!(got.start_ts, Some(end - len));
            }
        }
        ledger.check_conservation(&m, all_ids);
        for id in &ledger.left {
            prop_assert!(expired_done.contains(id), "event {} acked before the model expired it", id);
        }
    }

    /// Event-time count windows (timestamps increasing): once a watermark passes the
    /// `k * slide`-th tuple, the window is the last `len` tuples up to it.
    #[test]
    fn event_time_count_windows_match_the_model(
        len in 1usize..10,
        slide in 1usize..10,
        steps in prop::collection::vec((prop::bool::weighted(0.8), 1i64..5), 0..200),
    ) {
        let mut m = WindowManager::new(Eviction::watermark_count(len as i64), Trigger::watermark_count(slide as i64), None, 1_000_000);
        let mut ledger = Ledger::default();
        let mut out = Vec::new();
        let mut ts_of: Vec<i64> = Vec::new();
        let mut ts = 0i64;
        let mut last_wm = 0i64;
        let mut evaluated = 0usize; // windows evaluated
        let mut prev: Vec<Id> = Vec::new();
        let mut reported: HashSet<Id> = HashSet::new();
        for (is_event, gap) in steps {
            if is_event {
                ts += gap;
                m.add(ts_of.len() as Id, ts, 0, &mut out);
                ts_of.push(ts);
                prop_assert!(ledger.take(&mut out).is_empty());
                continue;
            }
            let Some(&w) = ts_of.last() else { continue };
            if w <= last_wm {
                continue;
            }
            last_wm = w;
            m.add_watermark(w, 0, &mut out);
            let acts = ledger.take(&mut out);
            let mut expected = Vec::new();
            while (evaluated + 1) * slide <= ts_of.len() && ts_of[(evaluated + 1) * slide - 1] <= w {
                evaluated += 1;
                let end = evaluated * slide;
                let window: Vec<Id> = (end.saturating_sub(len)..end).map(|i| i as Id).collect();
                let expired: Vec<Id> = (0..end.saturating_sub(len)).map(|i| i as Id).filter(|id| !reported.contains(id)).collect();
                reported.extend(expired.iter().copied());
                let new: Vec<Id> = window.iter().copied().filter(|id| !prev.contains(id)).collect();
                expected.push((ts_of[end - 1], Expect { tuples: window.clone(), new, expired }));
                prev = window;
            }
            prop_assert_eq!(acts.len(), expected.len());
            for (got, (end, want)) in acts.iter().zip(&expected) {
                assert_activation(got, want, "event-time count window");
                prop_assert_eq!(got.end_ts, Some(*end));
            }
        }
        ledger.check_conservation(&m, 0..ts_of.len() as Id);
    }

    /// Over the cap, the oldest events are dropped (once each), listed in the next window's
    /// expired set, and the queue never holds more than the cap.
    #[test]
    fn the_cap_bounds_the_queue_and_drops_each_event_once(
        cap in 1usize..20,
        n in 0u32..200,
        slide in 1i64..50,
    ) {
        let mut m = WindowManager::new(Eviction::time(1_000_000), Trigger::time(slide, 0), Some(1_000_000), cap);
        let mut ledger = Ledger::default();
        let mut out = Vec::new();
        let mut seen_expired: HashSet<Id> = HashSet::new();
        for i in 0..n {
            m.add(i, i64::from(i), i64::from(i), &mut out);
            m.tick(i64::from(i), &mut out);
            prop_assert!(m.len() <= cap);
            for a in ledger.take(&mut out) {
                for id in &a.expired {
                    prop_assert!(seen_expired.insert(*id));
                }
            }
        }
        ledger.check_conservation(&m, 0..n);
        prop_assert_eq!(m.dropped_total() as usize, n.saturating_sub(cap as u32) as usize);
        for id in &ledger.left {
            // Everything that left was dropped (the window is longer than the run) and is
            // reported in a later window's expired set unless no window came after.
            prop_assert!(*id < n.saturating_sub(cap as u32));
        }
    }
}

#[test]
fn compaction_expires_old_events_between_windows() {
    // A count window of 5 that slides every 1000 tuples: without compaction the queue would hold
    // 1000 tuples; Storm expires every 100 additions.
    let mut m: WindowManager<Id> =
        WindowManager::new(Eviction::count(5), Trigger::count(1000), None, 10_000);
    let mut out = Vec::new();
    for i in 0..250 {
        m.add(i, 0, 0, &mut out);
    }
    assert!(m.len() <= 105, "queue {} after compactions", m.len());
    let expired: usize = out
        .iter()
        .map(|a| match a {
            WindowAction::Expire(v) => v.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(expired + m.len(), 250);
}

#[test]
fn storms_documented_event_time_example() {
    // docs/Windowing.md: length 20 s, slide 10 s, lag 5 s; e1..e6 then watermark 6:00:31.
    let s = 1000;
    let t = |h: i64, m: i64, sec: i64| ((h * 60 + m) * 60 + sec) * s;
    let mut m: WindowManager<&str> = WindowManager::new(
        Eviction::watermark_time(20 * s, 5 * s),
        Trigger::watermark_time(10 * s),
        Some(20 * s),
        1000,
    );
    let mut out = Vec::new();
    for (name, ts) in [
        ("e1", t(6, 0, 3)),
        ("e2", t(6, 0, 5)),
        ("e3", t(6, 0, 7)),
        ("e4", t(6, 0, 18)),
        ("e5", t(6, 0, 26)),
        ("e6", t(6, 0, 36)),
    ] {
        m.add(name, ts, 0, &mut out);
    }
    m.add_watermark(t(6, 0, 31), 0, &mut out);
    let windows: Vec<(i64, Vec<&str>)> = out
        .iter()
        .filter_map(|a| match a {
            WindowAction::Activate(a) => Some((a.end_ts.unwrap(), a.tuples.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        windows,
        vec![
            (t(6, 0, 10), vec!["e1", "e2", "e3"]),
            (t(6, 0, 20), vec!["e1", "e2", "e3", "e4"]),
            (t(6, 0, 30), vec!["e4", "e5"]),
        ]
    );
}

/// The windowed bolt executor in local mode: acking on expiry, anchoring, event time and the
/// late-tuple stream, and the checks at build and submit.
mod local {
    use std::time::Duration as StdDuration;

    use super::super::components::WindowSummaryBolt;
    use super::super::{BaseWindowedBolt, Count, Duration};
    use crate::api::{TopologyBuilder, TopologyConf};
    use crate::local::testing::{
        shared, unique_key, wait_until, CaptureBolt, Captured, CapturedTuple, FeederState,
        FixedTupleSpout,
    };
    use crate::local::LocalCluster;
    use crate::tuple::Value;
    use crate::values;

    const DEADLINE: StdDuration = StdDuration::from_secs(20);

    fn windows(captured: &Captured) -> Vec<CapturedTuple> {
        captured
            .tuples()
            .into_iter()
            .filter(|t| t.stream == "default")
            .collect()
    }

    fn items(t: &CapturedTuple) -> Vec<i64> {
        match &t.values[5] {
            Value::List(v) => v.iter().filter_map(Value::as_i64).collect(),
            other => panic!("items: {other:?}"),
        }
    }

    fn sorted_acks(feeder: &FeederState) -> Vec<i64> {
        let mut v = feeder.acked();
        v.sort_unstable();
        v
    }

    #[test]
    fn a_tumbling_count_window_acks_tuples_only_when_they_leave_it() {
        let (fk, ck) = (unique_key("win-feed"), unique_key("win-cap"));
        let input: Vec<_> = (0..20i64).map(|i| values![i]).collect();
        let mut b = TopologyBuilder::new();
        b.set_spout(
            "spout",
            FixedTupleSpout::new(["v"], input, Some(fk.clone())),
            1,
        );
        b.set_bolt(
            "win",
            WindowSummaryBolt::new(Some("v")).with_tumbling_window(Count::of(5)),
            1,
        )
        .shuffle_grouping("spout");
        b.set_bolt("capture", CaptureBolt::new(&ck), 1)
            .shuffle_grouping("win");
        let cluster = LocalCluster::new();
        cluster
            .submit_topology("win", &TopologyConf::new(), &b.create_topology().unwrap())
            .unwrap();
        let (feeder, captured) = (shared::<FeederState>(&fk), shared::<Captured>(&ck));
        assert!(wait_until(DEADLINE, || windows(&captured).len() == 4
            && feeder.acked().len() == 15));
        let got: Vec<Vec<i64>> = windows(&captured).iter().map(items).collect();
        assert_eq!(
            got,
            (0..4i64)
                .map(|w| (w * 5..w * 5 + 5).collect::<Vec<i64>>())
                .collect::<Vec<_>>()
        );
        // The first three windows' tuples left (acked once their window's emit was acked too);
        // the last window's tuples are still in it.
        assert_eq!(sorted_acks(&feeder), (0..15).collect::<Vec<_>>());
        assert!(feeder.failed().is_empty());
        cluster.kill_topology("win").unwrap();
        cluster.shutdown();
    }

    #[test]
    fn a_tumbling_duration_window_sees_every_tuple_once_and_acks_all() {
        let (fk, ck) = (unique_key("win-feed"), unique_key("win-cap"));
        let input: Vec<_> = (0..50i64).map(|i| values![i]).collect();
        let mut b = TopologyBuilder::new();
        b.set_spout(
            "spout",
            FixedTupleSpout::new(["v"], input, Some(fk.clone())),
            1,
        );
        b.set_bolt(
            "win",
            WindowSummaryBolt::new(Some("v")).with_tumbling_window(Duration::of(50)),
            1,
        )
        .shuffle_grouping("spout");
        b.set_bolt("capture", CaptureBolt::new(&ck), 1)
            .shuffle_grouping("win");
        let cluster = LocalCluster::new();
        cluster
            .submit_topology("win", &TopologyConf::new(), &b.create_topology().unwrap())
            .unwrap();
        let (feeder, captured) = (shared::<FeederState>(&fk), shared::<Captured>(&ck));
        assert!(
            wait_until(DEADLINE, || feeder.acked().len() == 50),
            "acked {:?}",
            feeder.acked()
        );
        let mut seen: Vec<i64> = windows(&captured).iter().flat_map(items).collect();
        seen.sort_unstable();
        assert_eq!(
            seen,
            (0..50).collect::<Vec<_>>(),
            "each tuple in one window"
        );
        assert_eq!(sorted_acks(&feeder), (0..50).collect::<Vec<_>>());
        for w in windows(&captured) {
            let (start, end) = (w.values[0].as_i64().unwrap(), w.values[1].as_i64().unwrap());
            assert_eq!(end - start, 50, "start = end - length");
        }
        cluster.kill_topology("win").unwrap();
        cluster.shutdown();
    }

    #[test]
    fn event_time_windows_and_the_late_tuple_stream() {
        let (fk, ck) = (unique_key("win-feed"), unique_key("win-cap"));
        // ts 1000..=10000 in order, and one tuple older than any watermark (late at once).
        let mut input: Vec<_> = (0..10i64).map(|i| values![i, (i + 1) * 1000]).collect();
        input.insert(3, values![99i64, -5i64]);
        let mut b = TopologyBuilder::new();
        b.set_spout(
            "spout",
            FixedTupleSpout::new(["id", "ts"], input, Some(fk.clone())),
            1,
        );
        b.set_bolt(
            "win",
            WindowSummaryBolt::new(Some("id"))
                .with_tumbling_window(Duration::seconds(2))
                .with_timestamp_field("ts")
                .with_watermark_interval(Duration::of(10))
                .with_late_tuple_stream("late"),
            1,
        )
        .shuffle_grouping("spout");
        b.set_bolt("capture", CaptureBolt::new(&ck), 1)
            .shuffle_grouping("win")
            .shuffle_grouping_stream("win", "late");
        let cluster = LocalCluster::new();
        cluster
            .submit_topology("win", &TopologyConf::new(), &b.create_topology().unwrap())
            .unwrap();
        let (feeder, captured) = (shared::<FeederState>(&fk), shared::<Captured>(&ck));
        assert!(wait_until(DEADLINE, || windows(&captured).len() == 5
            && feeder.acked().len() == 9));
        let got: Vec<(i64, Vec<i64>)> = windows(&captured)
            .iter()
            .map(|w| (w.values[1].as_i64().unwrap(), items(w)))
            .collect();
        assert_eq!(
            got,
            (0..5)
                .map(|k| ((k + 1) * 2000, vec![2 * k, 2 * k + 1]))
                .collect::<Vec<_>>()
        );
        let late: Vec<_> = captured
            .tuples()
            .into_iter()
            .filter(|t| t.stream == "late")
            .collect();
        assert_eq!(late.len(), 1);
        let Value::Map(detached) = &late[0].values[0] else {
            panic!("late tuple: {:?}", late[0].values)
        };
        assert!(detached.contains(&(
            Value::from("values"),
            Value::List(vec![Value::Long(99), Value::Long(-5)])
        )));
        // The late tuple (index 3 in the spout) is acked at once; the windows' tuples when
        // they expire (the last window's are still in it).
        // Spout message ids are indexes: 0..=8 are tuples 0, 1, 2, the late one, 3, …, 7.
        assert_eq!(sorted_acks(&feeder), (0..9).collect::<Vec<_>>());
        cluster.kill_topology("win").unwrap();
        cluster.shutdown();
    }

    #[test]
    fn window_mistakes_are_refused_at_build_and_at_submit() {
        let mut b = TopologyBuilder::new();
        b.set_spout("spout", FixedTupleSpout::new(["v"], vec![], None), 1);
        b.set_bolt(
            "win",
            WindowSummaryBolt::new(None)
                .with_tumbling_window(Count::of(3))
                .with_late_tuple_stream("late"),
            1,
        )
        .shuffle_grouping("spout");
        let e = b.create_topology().unwrap_err().to_string();
        assert!(
            e.contains("\"win\"")
                && e.contains(
                    "Late tuple stream can be defined only when specifying a timestamp field"
                ),
            "{e}"
        );

        let mut b = TopologyBuilder::new();
        b.set_spout("spout", FixedTupleSpout::new(["v"], vec![], None), 1);
        b.set_bolt(
            "win",
            WindowSummaryBolt::new(None).with_tumbling_window(Count::of(0)),
            1,
        );
        let e = b.create_topology().unwrap_err().to_string();
        assert!(
            e.contains("topology.bolts.window.length.count must be a positive integer, got 0"),
            "{e}"
        );

        let mut b = TopologyBuilder::new();
        b.set_spout("spout", FixedTupleSpout::new(["v"], vec![], None), 1);
        b.set_bolt(
            "win",
            WindowSummaryBolt::new(None).with_window(Duration::seconds(30), Duration::seconds(10)),
            1,
        )
        .shuffle_grouping("spout");
        let topology = b.create_topology().unwrap();
        let cluster = LocalCluster::new();
        let e = cluster
            .submit_topology("win", &TopologyConf::new(), &topology)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Window duration (length + sliding interval) value 40000 is more than topology.message.timeout.secs value 30000"),
            "{e}"
        );
        let mut conf = TopologyConf::new();
        conf.set_message_timeout_secs(45);
        cluster.submit_topology("win", &conf, &topology).unwrap();
        cluster.kill_topology("win").unwrap();
        cluster.shutdown();
    }
}
