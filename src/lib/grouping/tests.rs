//! Tests of [`Grouper`] over every grouping kind. Java values were printed by OpenJDK 17's jshell, e.g.
//! `Math.floorMod(java.util.Arrays.deepHashCode(new Object[]{"the"}), 4)`.

use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;

use super::*;
use crate::tuple::Value;

fn fields(names: &[&str]) -> Fields {
    Fields::new(names.iter().copied()).unwrap()
}

fn grouper(grouping: Grouping, targets: &[i32], out: &Fields) -> Grouper {
    let ctx = GrouperContext::new("spout", "default", out).with_seed(17);
    Grouper::new(&grouping, targets, &ctx, None).unwrap()
}

fn word(w: &str) -> Vec<Value> {
    vec![Value::from(w)]
}

#[test]
fn all_sends_to_every_task() {
    let out = fields(&["word"]);
    let mut g = grouper(Grouping::All, &[9, 3, 5], &out);
    assert_eq!(g.choose(1, &word("x")).unwrap(), [3, 5, 9]);
    let mut buf = vec![42];
    g.choose_tasks(1, &word("y"), &mut buf).unwrap();
    assert_eq!(buf, [42, 3, 5, 9], "appends to the caller's buffer");
}

#[test]
fn global_is_the_lowest_task() {
    let out = fields(&["word"]);
    let mut g = grouper(Grouping::global(), &[7, 3, 5], &out);
    for w in ["a", "b", "c"] {
        assert_eq!(g.choose(1, &word(w)).unwrap(), [3]);
    }
    let mut empty = grouper(Grouping::global(), &[], &out);
    assert!(empty.choose(1, &word("a")).unwrap().is_empty());
}

#[test]
fn fields_matches_java_placement() {
    let out = fields(&["word"]);
    // (word, floorMod(deepHashCode([word]), 4), floorMod(…, 7))
    let cases = [
        ("the", 0, 4),
        ("cow", 2, 2),
        ("jumped", 0, 3),
        ("over", 3, 6),
        ("moon", 0, 6),
        ("apple", 1, 4),
        ("snow", 2, 0),
        ("white", 0, 5),
    ];
    let four = [13, 10, 12, 11]; // sorted: 10, 11, 12, 13
    let seven: Vec<i32> = (1..=7).rev().collect();
    let mut g4 = grouper(Grouping::fields(["word"]), &four, &out);
    let mut g7 = grouper(Grouping::fields(["word"]), &seven, &out);
    for (w, i4, i7) in cases {
        for _ in 0..3 {
            assert_eq!(g4.choose(1, &word(w)).unwrap(), [10 + i4], "{w}");
            assert_eq!(g7.choose(1, &word(w)).unwrap(), [1 + i7], "{w}");
        }
        assert_eq!(fields_task_index(&word(w), 4), Some(i4 as usize));
    }
    assert_eq!(fields_task_index(&word("the"), 0), None);
}

#[test]
fn fields_selection_follows_the_grouping_order() {
    let out = fields(&["a", "b", "c"]);
    let values = vec![Value::from("a-val"), Value::from("b-val"), Value::Long(12)];
    let targets = [1, 2, 3, 4, 5];
    // deepHashCode(["b-val", 12L]) = -1444139177 → floorMod 5 = 3;
    // deepHashCode([12L, "b-val"]) = 91963499 → floorMod 5 = 4.
    let mut bc = grouper(Grouping::fields(["b", "c"]), &targets, &out);
    let mut cb = grouper(Grouping::fields(["c", "b"]), &targets, &out);
    assert_eq!(bc.choose(1, &values).unwrap(), [4]);
    assert_eq!(cb.choose(1, &values).unwrap(), [5]);
    // The other fields do not matter.
    let other = vec![Value::from("zzz"), Value::from("b-val"), Value::Long(12)];
    assert_eq!(bc.choose(1, &other).unwrap(), [4]);
}

#[test]
fn fields_errors_name_the_field() {
    let out = fields(&["a", "b"]);
    let ctx = GrouperContext::new("split", "words", &out);
    let err = Grouper::new(&Grouping::fields(["nope"]), &[1, 2], &ctx, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "grouping of stream words of component split: nope does not exist (declared fields: [a, b])"
    );
    let err = Grouper::new(&Grouping::partial_key(["nope"]), &[1, 2], &ctx, None).unwrap_err();
    assert!(matches!(err, GroupingError::BadGroupingFields { .. }));
    let mut g = Grouper::new(&Grouping::fields(["b"]), &[1, 2], &ctx, None).unwrap();
    let err = g.choose(1, &[Value::Null]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field b is value 1 but the tuple has only 1 values"
    );
}

#[test]
fn none_is_random_per_tuple_and_roughly_uniform() {
    let out = fields(&["word"]);
    let mut g = grouper(Grouping::None, &[1, 2, 3, 4], &out);
    let mut counts = HashMap::new();
    let mut repeats = 0;
    let mut last = 0;
    for _ in 0..10_000 {
        let t = g.choose(1, &word("x")).unwrap()[0];
        *counts.entry(t).or_insert(0) += 1;
        repeats += usize::from(t == last);
        last = t;
    }
    for t in 1..=4 {
        assert!((2200..=2800).contains(&counts[&t]), "{counts:?}");
    }
    // Not round-robin: about a quarter of consecutive picks repeat.
    assert!(repeats > 1500, "{repeats}");
    assert!(grouper(Grouping::None, &[], &out)
        .choose(1, &word("x"))
        .unwrap()
        .is_empty());
}

#[test]
fn plain_shuffle_is_round_robin() {
    let out = fields(&["word"]);
    let ctx = GrouperContext::new("spout", "default", &out)
        .with_load_aware(false)
        .with_seed(3);
    let mut g = Grouper::new(&Grouping::Shuffle, &[1, 2, 3, 4, 5], &ctx, None).unwrap();
    assert_eq!(g.kind(), "shuffle");
    let first: Vec<i32> = (0..5).map(|_| g.choose(1, &[]).unwrap()[0]).collect();
    let second: Vec<i32> = (0..5).map(|_| g.choose(1, &[]).unwrap()[0]).collect();
    assert_eq!(first, second, "the same cycle repeats");
    assert_eq!(first.iter().copied().collect::<BTreeSet<_>>().len(), 5);
}

#[test]
fn local_or_shuffle_stays_in_this_worker() {
    let out = fields(&["word"]);
    for load_aware in [true, false] {
        let ctx = GrouperContext::new("spout", "default", &out)
            .with_worker_tasks(&[2, 4, 7])
            .with_load_aware(load_aware)
            .with_seed(5);
        let mut g =
            Grouper::new(&Grouping::LocalOrShuffle, &[1, 2, 3, 4, 5, 6], &ctx, None).unwrap();
        let used: BTreeSet<i32> = (0..3000).map(|_| g.choose(1, &[]).unwrap()[0]).collect();
        assert_eq!(used, [2, 4].into(), "load_aware={load_aware}");
        // A load refresh keeps local-or-shuffle within the local targets.
        g.refresh_load(&LoadMapping::from_local([(2, 0.95), (4, 0.95)]));
        let used: BTreeSet<i32> = (0..3000).map(|_| g.choose(1, &[]).unwrap()[0]).collect();
        assert_eq!(used, [2, 4].into());
        // No local target: every target is used.
        let ctx = ctx.with_worker_tasks(&[99]);
        let mut g = Grouper::new(&Grouping::LocalOrShuffle, &[1, 2, 3], &ctx, None).unwrap();
        let used: BTreeSet<i32> = (0..3000).map(|_| g.choose(1, &[]).unwrap()[0]).collect();
        assert_eq!(used, [1, 2, 3].into());
    }
}

#[test]
fn direct_emit_rules() {
    let out = fields(&["word"]);
    let mut direct = grouper(Grouping::Direct, &[1, 2], &out);
    let regular = grouper(Grouping::Shuffle, &[3, 4], &out);
    assert!(direct.is_direct());
    assert_eq!(
        direct.choose(1, &word("x")).unwrap_err().to_string(),
        "Cannot do regular emit to direct stream"
    );
    assert_eq!(
        check_regular_emit([&regular, &direct])
            .unwrap_err()
            .to_string(),
        "Cannot do regular emit to direct stream"
    );
    assert!(check_regular_emit([&regular]).is_ok());
    assert_eq!(direct_emit_target(2, Some(&direct)).unwrap(), Some(2));
    assert_eq!(
        direct_emit_target(2, None).unwrap(),
        None,
        "silently dropped"
    );
    assert_eq!(
        direct_emit_target(3, Some(&regular))
            .unwrap_err()
            .to_string(),
        "Cannot emitDirect to a task expecting a regular grouping"
    );
}

/// Sends a tuple to the target at `values[0] % n`; `payload` is an offset.
struct ModGrouping {
    offset: i64,
    targets: Vec<i32>,
}

impl CustomStreamGrouping for ModGrouping {
    fn prepare(&mut self, _: &GrouperContext<'_>, targets: &[i32]) -> Result<(), GroupingError> {
        self.targets = targets.to_vec();
        Ok(())
    }

    fn choose_tasks(
        &mut self,
        _: i32,
        values: &[Value],
        out: &mut Vec<i32>,
    ) -> Result<(), GroupingError> {
        let v = values
            .first()
            .and_then(Value::as_i64)
            .ok_or_else(|| GroupingError::Custom {
                name: "mod".into(),
                message: "first value must be an integer".into(),
            })?;
        let n = self.targets.len() as i64;
        out.push(self.targets[(v + self.offset).rem_euclid(n) as usize]);
        Ok(())
    }
}

#[test]
fn custom_grouping_through_a_factory() {
    let out = fields(&["n"]);
    let ctx = GrouperContext::new("spout", "default", &out);
    let factory =
        |name: &str, payload: &[u8]| -> Result<Box<dyn CustomStreamGrouping>, GroupingError> {
            match name {
                "mod" => Ok(Box::new(ModGrouping {
                    offset: i64::from(payload.first().copied().unwrap_or(0)),
                    targets: vec![],
                })),
                other => Err(GroupingError::UnknownCustomGrouping(other.into())),
            }
        };
    let grouping = Grouping::Custom {
        name: "mod".into(),
        payload: vec![1],
    };
    let mut g = Grouper::new(&grouping, &[30, 10, 20], &ctx, Some(&factory)).unwrap();
    assert_eq!(g.kind(), "custom");
    assert_eq!(g.choose(1, &[Value::Long(0)]).unwrap(), [20]);
    assert_eq!(g.choose(1, &[Value::Int(1)]).unwrap(), [30]);
    assert!(matches!(
        g.choose(1, &[Value::from("x")]),
        Err(GroupingError::Custom { .. })
    ));
    // Load updates are ignored.
    g.refresh_load(&LoadMapping::new());
    let unknown = Grouping::Custom {
        name: "nope".into(),
        payload: vec![],
    };
    assert!(matches!(
        Grouper::new(&unknown, &[1], &ctx, Some(&factory)),
        Err(GroupingError::UnknownCustomGrouping(n)) if n == "nope"
    ));
    assert!(matches!(
        Grouper::new(&grouping, &[1], &ctx, None),
        Err(GroupingError::UnknownCustomGrouping(_))
    ));
    let direct = Grouper::from_custom(
        Box::new(ModGrouping {
            offset: 0,
            targets: vec![],
        }),
        &[2, 1],
        &ctx,
    );
    assert_eq!(direct.unwrap().choose(1, &[Value::Long(3)]).unwrap(), [2]);
}

#[test]
fn partial_key_splits_a_hot_key_over_its_two_candidates() {
    let out = fields(&["word", "count"]);
    let targets: Vec<i32> = (1..=10).collect();
    let mut pk = grouper(Grouping::partial_key(["word"]), &targets, &out);
    let mut fg = grouper(Grouping::fields(["word"]), &targets, &out);
    let mut pk_load: HashMap<i32, usize> = HashMap::new();
    let mut fg_load: HashMap<i32, usize> = HashMap::new();
    let mut per_key: HashMap<String, BTreeSet<i32>> = HashMap::new();
    for i in 0..4000 {
        // Half the tuples carry one hot key.
        let w = if i % 2 == 0 {
            "hot".to_owned()
        } else {
            format!("k{}", i % 97)
        };
        let values = vec![Value::from(w.as_str()), Value::Long(i)];
        let t = pk.choose(1, &values).unwrap()[0];
        *pk_load.entry(t).or_default() += 1;
        per_key.entry(w).or_default().insert(t);
        *fg_load
            .entry(fg.choose(1, &values).unwrap()[0])
            .or_default() += 1;
    }
    // Every key goes to at most its two candidates; the hot key to exactly two.
    assert!(per_key.values().all(|tasks| tasks.len() <= 2));
    assert_eq!(per_key["hot"].len(), 2);
    let pk_max = pk_load.values().max().copied().unwrap_or(0);
    let fg_max = fg_load.values().max().copied().unwrap_or(0);
    assert!(
        fg_max >= 2000,
        "fields grouping puts the hot key on one task"
    );
    assert!(
        pk_max < fg_max * 3 / 4,
        "pk {pk_load:?} vs fields {fg_load:?}"
    );
}

proptest! {
    #[test]
    fn plain_shuffle_deals_evenly(n in 1usize..20, rounds in 1usize..5, seed in any::<u64>()) {
        let out = Fields::empty();
        let ctx = GrouperContext::new("s", "default", &out).with_load_aware(false).with_seed(seed);
        let targets: Vec<i32> = (1..=n as i32).collect();
        let mut g = Grouper::new(&Grouping::Shuffle, &targets, &ctx, None).unwrap();
        let mut counts = vec![0usize; n + 1];
        for _ in 0..n * rounds {
            counts[g.choose(1, &[]).unwrap()[0] as usize] += 1;
        }
        prop_assert!(counts[1..].iter().all(|&c| c == rounds), "{:?}", counts);
    }

    #[test]
    fn load_aware_shuffle_is_even_without_load(n in 2usize..40, seed in any::<u64>()) {
        let out = Fields::empty();
        let ctx = GrouperContext::new("s", "default", &out).with_seed(seed);
        let targets: Vec<i32> = (1..=n as i32).collect();
        let mut g = Grouper::new(&Grouping::Shuffle, &targets, &ctx, None).unwrap();
        let capacity = 1000.max(5 * n);
        let mut counts = vec![0usize; n + 1];
        for _ in 0..capacity {
            counts[g.choose(1, &[]).unwrap()[0] as usize] += 1;
        }
        // Each target holds floor(capacity / n) slots plus at most the few random pads.
        let base = capacity / n;
        let pads = capacity - base * n;
        prop_assert!(counts[1..].iter().all(|&c| c >= base && c <= base + pads), "{:?}", counts);
    }

    #[test]
    fn fields_grouping_is_a_function_of_the_key(key in ".{0,8}", extra in any::<i64>(), n in 1usize..12) {
        let out = Fields::new(["k", "x"]).unwrap();
        let targets: Vec<i32> = (1..=n as i32).collect();
        let mut g = grouper(Grouping::fields(["k"]), &targets, &out);
        let a = g.choose(1, &[Value::from(key.as_str()), Value::Long(extra)]).unwrap();
        let b = g.choose(2, &[Value::from(key.as_str()), Value::Long(0)]).unwrap();
        prop_assert_eq!(&a, &b);
        let want = fields_task_index(&[Value::from(key.as_str())], n).map(|i| targets[i]);
        prop_assert_eq!(a.first().copied(), want);
    }

    #[test]
    fn first_field_route_picks_what_choose_tasks_picks(
        root in any::<i64>(), word in ".{0,8}", n in 1usize..12, shift in -5i32..5,
    ) {
        // Unsorted targets, as a topology gives them; the grouper sorts them.
        let targets: Vec<i32> = (0..n as i32).rev().map(|t| t * 3 + shift).collect();
        let out = Fields::new(["id", "val"]).unwrap();
        let mut g = grouper(Grouping::fields(["id"]), &targets, &out);
        let route = g.first_field_route().expect("fields on the first value");
        for first in [Value::Long(root), Value::Int(root as i32), Value::from(word.as_str())] {
            let want = g.choose(1, &[first.clone(), Value::Long(7)]).unwrap();
            prop_assert_eq!(vec![route.choose(&first)], want);
        }
    }
}

#[test]
fn first_field_route_only_for_a_fields_grouping_on_the_first_value() {
    let out = fields(&["id", "val"]);
    for (grouping, routed) in [
        (Grouping::fields(["id"]), true),
        (Grouping::fields(["val"]), false),
        (Grouping::fields(["id", "val"]), false),
        (Grouping::global(), false),
        (Grouping::Shuffle, false),
        (Grouping::All, false),
    ] {
        let g = grouper(grouping.clone(), &[4, 2], &out);
        assert_eq!(g.first_field_route().is_some(), routed, "{grouping:?}");
    }
    assert!(grouper(Grouping::fields(["id"]), &[], &out)
        .first_field_route()
        .is_none());
}
