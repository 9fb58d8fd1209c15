//! Tests of the acker against simulated tuple trees: the messages Storm's spout and bolt collectors would
//! send for a random tree, delivered in random orders, interleaved across trees, stalled and timed out.

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::sample::Index;

use super::*;
use crate::tuple::Value;

/// The acker messages of one tuple tree, as the collectors would send them.
#[derive(Debug)]
struct Tree {
    root: i64,
    spout_task: i32,
    messages: Vec<AckerMessage>,
    failed: bool,
}

/// Shape of a tree: the spout's number of target tasks (spout tuples), then for each further tuple how
/// many anchors it has (1–3, among the tuples before it) and a seed picking them, and which tuple, if
/// any, a bolt fails instead of acking.
type Shape = (usize, Vec<(usize, u64)>, Option<Index>);

fn shape(spout_targets: std::ops::Range<usize>, may_fail: bool) -> impl Strategy<Value = Shape> {
    let fail = if may_fail {
        proptest::option::of(any::<Index>()).boxed()
    } else {
        Just(None).boxed()
    };
    (
        spout_targets,
        proptest::collection::vec((1usize..=3, any::<u64>()), 0..12),
        fail,
    )
}

/// Builds the messages following storm-internals §5.2–5.3: the spout draws one edge per target and sends
/// `init [root, XOR edges, task]`; a bolt emitting a child anchored to inputs draws one edge per anchor,
/// XORs it into the anchor's ack value and into the child's id; acking tuple `t` sends
/// `ack [root, id(t) ^ ackVal(t)]`; failing it sends `fail [root]`.
fn build_tree(shape: &Shape, spout_task: i32, ids: &mut EdgeIdGen) -> Tree {
    let (spout_tuples, bolt_tuples, fail) = shape;
    let root = ids.next_id();
    let bolt_tuples: &[(usize, u64)] = if *spout_tuples == 0 { &[] } else { bolt_tuples };
    let m = spout_tuples + bolt_tuples.len();
    let mut edge_id = vec![0i64; m];
    let mut ack_val = vec![0i64; m];
    let mut init_val = 0;
    for id in edge_id.iter_mut().take(*spout_tuples) {
        let e = ids.next_id();
        *id = e;
        init_val ^= e;
    }
    for (j, &(anchors, pick_seed)) in bolt_tuples.iter().enumerate() {
        let i = spout_tuples + j;
        let mut candidates: Vec<usize> = (0..i).collect();
        let mut pick = EdgeIdGen::new(pick_seed);
        for n in 0..anchors.min(i) {
            let k = n + (pick.next_u64() % (candidates.len() - n) as u64) as usize;
            candidates.swap(n, k);
            let anchor = candidates[n];
            let e = ids.next_id();
            ack_val[anchor] ^= e;
            edge_id[i] ^= e;
        }
    }
    let failed_tuple = fail.as_ref().filter(|_| m > 0).map(|ix| ix.index(m));
    let mut messages = vec![AckerMessage::Init {
        root,
        init_val,
        spout_task,
    }];
    for t in 0..m {
        messages.push(if Some(t) == failed_tuple {
            AckerMessage::Fail { root }
        } else {
            AckerMessage::Ack {
                root,
                ack_val: edge_id[t] ^ ack_val[t],
            }
        });
    }
    Tree {
        root,
        spout_task,
        messages,
        failed: failed_tuple.is_some(),
    }
}

fn shuffled<T>(mut items: Vec<T>, seed: u64) -> Vec<T> {
    let mut rng = EdgeIdGen::new(seed);
    for i in (1..items.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
    items
}

const T0: u64 = 1_000;

fn at(position: usize) -> u64 {
    T0 + 10 * position as u64
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Trees complete exactly once, on their last message, never early; a failed tree yields exactly one
    /// Failed as soon as both its init and its fail have arrived; nothing is left after three ticks.
    #[test]
    fn any_order_completes_or_fails_exactly_once(
        shapes in proptest::collection::vec(shape(0..4, true), 1..4),
        ids_seed in any::<u64>(),
        order_seed in any::<u64>(),
    ) {
        let mut ids = EdgeIdGen::new(ids_seed);
        let trees: Vec<Tree> = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| build_tree(s, 10 + i as i32, &mut ids))
            .collect();
        let mut all = Vec::new();
        for (t, tree) in trees.iter().enumerate() {
            all.extend(tree.messages.iter().map(|m| (t, *m)));
        }
        let order = shuffled(all, order_seed);

        let mut acker = Acker::new();
        let mut outcomes: HashMap<usize, Vec<(usize, AckerOutcome)>> = HashMap::new();
        for (pos, (t, msg)) in order.iter().enumerate() {
            if let Some(out) = acker.handle(*msg, at(pos)) {
                outcomes.entry(*t).or_default().push((pos, out));
            }
        }
        for (t, tree) in trees.iter().enumerate() {
            let positions: Vec<usize> = order
                .iter()
                .enumerate()
                .filter(|(_, (tt, _))| *tt == t)
                .map(|(p, _)| p)
                .collect();
            let first = positions[0];
            let got = outcomes.get(&t).cloned().unwrap_or_default();
            prop_assert_eq!(got.len(), 1, "tree {}: {:?} for {:?}", t, got, tree);
            let (pos, outcome) = got[0];
            let expected_pos = if tree.failed {
                let find = |want: &dyn Fn(&AckerMessage) -> bool| {
                    order.iter().position(|(tt, m)| *tt == t && want(m)).unwrap_or(usize::MAX)
                };
                let init = find(&|m| matches!(m, AckerMessage::Init { .. }));
                let fail = find(&|m| matches!(m, AckerMessage::Fail { .. }));
                prop_assert!(matches!(outcome, AckerOutcome::Failed { .. }), "{:?}", outcome);
                init.max(fail)
            } else {
                prop_assert!(matches!(outcome, AckerOutcome::Complete { .. }), "{:?}", outcome);
                prop_assert!(!acker.is_pending(tree.root));
                positions[positions.len() - 1]
            };
            prop_assert_eq!(pos, expected_pos);
            prop_assert_eq!(outcome.root(), tree.root);
            prop_assert_eq!(outcome.spout_task(), tree.spout_task);
            prop_assert_eq!(outcome.time_delta_ms(), at(pos) - at(first));
        }
        // Late messages of failed trees leave state behind; ticks clear it without outcomes.
        for _ in 0..ACKER_TIMEOUT_BUCKETS {
            acker.tick();
        }
        prop_assert_eq!(acker.pending(), 0);
    }

    /// A tree whose messages stop arriving survives two ticks, is dropped silently by the third, and the
    /// messages that arrive after that never complete it.
    #[test]
    fn stalled_tree_is_dropped_after_three_ticks(
        shape in shape(1..4, false),
        ids_seed in any::<u64>(),
        order_seed in any::<u64>(),
        cut in any::<Index>(),
    ) {
        let tree = build_tree(&shape, 7, &mut EdgeIdGen::new(ids_seed));
        let order = shuffled(tree.messages.clone(), order_seed);
        // Deliver at least one message and hold back at least one.
        let cut = 1 + cut.index(order.len() - 1);
        let mut acker = Acker::new();
        for (pos, msg) in order[..cut].iter().enumerate() {
            prop_assert_eq!(acker.handle(*msg, at(pos)), None);
        }
        prop_assert_eq!(acker.tick(), 0);
        prop_assert_eq!(acker.tick(), 0);
        prop_assert!(acker.is_pending(tree.root));
        prop_assert_eq!(acker.tick(), 1);
        prop_assert!(!acker.is_pending(tree.root));
        for (pos, msg) in order[cut..].iter().enumerate() {
            prop_assert_eq!(acker.handle(*msg, at(cut + pos)), None);
        }
    }

    /// The spout side: a tuple times out on the second tick after its emit, never the first.
    #[test]
    fn spout_pending_times_out_after_one_to_two_ticks(
        emits in proptest::collection::vec(0usize..6, 1..40),
    ) {
        // emits[i]: how many ticks happened before tuple i was emitted (sorted to keep time moving).
        let mut emits = emits;
        emits.sort();
        let mut pending = PendingSpoutTuples::new(None, 1);
        let mut timed_out_at = HashMap::new();
        let mut roots = HashMap::new();
        let mut next = 0;
        for tick in 0..8 {
            while next < emits.len() && emits[next] == tick {
                let root = pending.insert(
                    (next as i64 + 1) << 40,
                    PendingTuple { message_id: next, task_id: 1, emit_ms: 0 },
                );
                roots.insert(root, next);
                next += 1;
            }
            for (root, t) in pending.tick() {
                prop_assert_eq!(roots.get(&root).copied(), Some(t.message_id));
                timed_out_at.insert(t.message_id, tick);
            }
        }
        for (i, &emitted_before) in emits.iter().enumerate() {
            // Emitted between tick `emitted_before - 1` and tick `emitted_before`: expires at the
            // second tick after the emit.
            prop_assert_eq!(timed_out_at.get(&i).copied(), Some(emitted_before + 1));
        }
    }
}

#[test]
fn spout_with_two_targets_acked_by_two_bolts() {
    let mut ids = EdgeIdGen::new(1);
    let (root, e1, e2) = (ids.next_id(), ids.next_id(), ids.next_id());
    let mut acker = Acker::new();
    assert_eq!(acker.init(root, e1 ^ e2, 3, 100), None);
    assert_eq!(acker.ack(root, e1, 105), None);
    assert_eq!(
        acker.ack(root, e2, 130),
        Some(AckerOutcome::Complete {
            root,
            spout_task: 3,
            time_delta_ms: 30
        })
    );
    assert_eq!(acker.pending(), 0);
}

#[test]
fn init_without_targets_completes_at_once() {
    let mut acker = Acker::new();
    let out = acker.init(77, 0, 4, 50).unwrap();
    assert_eq!(out.stream(), ACKER_ACK_STREAM_ID);
    assert_eq!(out.values(), [Value::Long(77), Value::Long(0)]);
}

#[test]
fn ack_before_init_and_fail_before_init() {
    let mut acker = Acker::new();
    assert_eq!(acker.ack(1, 0x55, 10), None);
    assert_eq!(
        acker.init(1, 0x55, 2, 40).map(|o| o.time_delta_ms()),
        Some(30)
    );

    assert_eq!(acker.fail(2, 10), None, "no spout task known yet");
    assert_eq!(
        acker.init(2, 0x66, 9, 25),
        Some(AckerOutcome::Failed {
            root: 2,
            spout_task: 9,
            time_delta_ms: 15
        })
    );
    assert_eq!(acker.pending(), 0);
}

#[test]
fn reset_timeout_refreshes_the_tree_and_tells_the_spout() {
    let mut acker = Acker::new();
    // Before the init, only the bucket is refreshed.
    assert_eq!(acker.reset_timeout(5, 0), None);
    assert_eq!(acker.init(5, 0x10, 1, 10), None);
    acker.tick();
    acker.tick();
    let out = acker.reset_timeout(5, 20).unwrap();
    assert_eq!(out.stream(), ACKER_RESET_TIMEOUT_STREAM_ID);
    assert_eq!(out.time_delta_ms(), 20);
    assert!(acker.is_pending(5), "a reset does not end the tree");
    acker.tick();
    acker.tick();
    assert!(
        acker.is_pending(5),
        "two ticks after the reset it is still alive"
    );
    assert!(matches!(
        acker.ack(5, 0x10, 30),
        Some(AckerOutcome::Complete { .. })
    ));
}

#[test]
fn acks_do_not_refresh_the_timeout() {
    // Storm's acker mutates the entry in place on init/ack: a tree lives 2–3 ticks from its first
    // message (or its last fail/reset), however busy it is.
    let mut acker = Acker::new();
    acker.init(8, 0b111, 1, 0);
    acker.tick();
    acker.ack(8, 0b001, 1);
    acker.tick();
    acker.ack(8, 0b010, 2);
    assert_eq!(acker.tick(), 1);
    assert_eq!(acker.ack(8, 0b100, 3), None, "too late");
}

#[test]
fn messages_parse_from_tuples() {
    let init = AckerMessage::Init {
        root: -5,
        init_val: 9,
        spout_task: 3,
    };
    for msg in [
        init,
        AckerMessage::Ack {
            root: 1,
            ack_val: 2,
        },
        AckerMessage::Fail { root: 4 },
        AckerMessage::ResetTimeout { root: 6 },
    ] {
        assert_eq!(
            AckerMessage::from_tuple(msg.stream(), &msg.values()),
            Ok(msg)
        );
    }
    assert_eq!(init.root(), -5);
    // Ints are accepted where Longs are expected.
    assert_eq!(
        AckerMessage::from_tuple("__ack_ack", &[Value::Int(1), Value::Int(2)]),
        Ok(AckerMessage::Ack {
            root: 1,
            ack_val: 2
        })
    );
    assert_eq!(
        AckerMessage::from_tuple("__ack_ack", &[Value::Long(1)])
            .unwrap_err()
            .to_string(),
        "tuple on __ack_ack has 1 values, value 1 is missing"
    );
    assert_eq!(
        AckerMessage::from_tuple("__ack_fail", &[Value::from("x")])
            .unwrap_err()
            .to_string(),
        "value 0 of a tuple on __ack_fail should be a Long, not a String"
    );
    assert!(matches!(
        AckerMessage::from_tuple(
            "__ack_init",
            &[Value::Long(1), Value::Long(2), Value::Long(1 << 40)]
        ),
        Err(AckerError::BadValue { index: 2, .. })
    ));
    assert_eq!(
        AckerMessage::from_tuple("default", &[Value::Long(1)]),
        Err(AckerError::UnknownStream("default".into()))
    );
}
