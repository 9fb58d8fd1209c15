//! Storm's default scheduling, pure (reference §3.3): `DefaultScheduler` (keep the existing slots whose
//! executor counts still fit the ideal distribution, free the others) over `EvenScheduler` (place the
//! remaining executors round-robin over the free slots, interleaved across nodes).
//!
//! No I/O and no clock: nimbus builds a [`Cluster`] (live supervisors' usable ports, the alive part of
//! every existing assignment) and the [`TopologyDetails`] of every schedulable topology, calls
//! [`default_schedule`], and reads the new assignments back from the cluster.
//! Where Java iterates a `HashMap` (bad-slot detection), this iterates in slot order, so results are
//! deterministic.

use std::collections::{BTreeMap, BTreeSet};

/// An executor `[start task, end task]`.
pub type Executor = (i32, i32);

/// A worker slot: a supervisor (node) id and one of its ports (Storm's `WorkerSlot`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    pub node: String,
    pub port: i64,
}

impl Slot {
    pub fn new(node: impl Into<String>, port: i64) -> Slot {
        Slot {
            node: node.into(),
            port,
        }
    }
}

/// What the scheduler needs to know about a topology (Storm's `TopologyDetails`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopologyDetails {
    pub id: String,
    /// `StormBase.num_workers`.
    pub num_workers: usize,
    /// Every executor of the topology (without the system executor `[-1, -1]`).
    pub executors: BTreeSet<Executor>,
}

/// The cluster as the scheduler sees it (Storm's `Cluster`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cluster {
    /// Supervisor id → its usable ports (its `meta` ports minus this round's dead ports).
    pub supervisors: BTreeMap<String, BTreeSet<i64>>,
    /// Topology id → executor → slot: the alive part of the existing assignments, then the result.
    pub assignments: BTreeMap<String, BTreeMap<Executor, Slot>>,
}

impl Cluster {
    /// Slots used by any topology.
    pub fn used_slots(&self) -> BTreeSet<Slot> {
        self.assignments
            .values()
            .flat_map(|a| a.values().cloned())
            .collect()
    }

    /// Every usable slot no topology uses (Storm's `getAvailableSlots`), in node then port order.
    pub fn available_slots(&self) -> Vec<Slot> {
        let used = self.used_slots();
        self.supervisors
            .iter()
            .flat_map(|(node, ports)| ports.iter().map(move |p| Slot::new(node.clone(), *p)))
            .filter(|s| !used.contains(s))
            .collect()
    }

    /// Whether `slot` belongs to a present supervisor that still lists its port.
    pub fn is_usable(&self, slot: &Slot) -> bool {
        self.supervisors
            .get(&slot.node)
            .is_some_and(|ports| ports.contains(&slot.port))
    }

    /// Slot → its executors (sorted) for one topology (Storm's `getAliveAssignedWorkerSlotExecutors`).
    pub fn assigned_slots(&self, topology_id: &str) -> BTreeMap<Slot, Vec<Executor>> {
        let mut out: BTreeMap<Slot, Vec<Executor>> = BTreeMap::new();
        for (e, s) in self.assignments.get(topology_id).into_iter().flatten() {
            out.entry(s.clone()).or_default().push(*e);
        }
        for v in out.values_mut() {
            v.sort_unstable();
        }
        out
    }

    /// Storm's `Cluster.needsScheduling`: fewer workers than asked for, or unassigned executors.
    pub fn needs_scheduling(&self, t: &TopologyDetails) -> bool {
        let assigned = self.assignments.get(&t.id);
        let workers: BTreeSet<&Slot> = assigned.into_iter().flat_map(|a| a.values()).collect();
        let unassigned = t
            .executors
            .iter()
            .any(|e| !assigned.is_some_and(|a| a.contains_key(e)));
        t.num_workers > workers.len() || unassigned
    }

    /// Frees `slots` of every topology (Storm's `freeSlots`).
    pub fn free_slots(&mut self, slots: &BTreeSet<Slot>) {
        for a in self.assignments.values_mut() {
            a.retain(|_, s| !slots.contains(s));
        }
    }
}

/// Storm's `Utils.integerDivided`: `sum` split into `pieces` near-equal parts, as part size → count.
/// `integer_divided(13, 3)` = `{4: 2, 5: 1}`.
pub fn integer_divided(sum: usize, pieces: usize) -> BTreeMap<usize, usize> {
    let mut out = BTreeMap::new();
    if pieces == 0 {
        return out;
    }
    let base = sum / pieces;
    let num_inc = sum % pieces;
    let num_bases = pieces - num_inc;
    if num_bases > 0 {
        out.insert(base, num_bases);
    }
    if num_inc > 0 {
        out.insert(base + 1, num_inc);
    }
    out
}

/// EvenScheduler's `sortSlots`: group by node (nodes in id order), ports ascending per node, nodes by
/// number of slots descending (stable), then interleaved: the first slot of each node, then the second…
pub fn sort_slots(slots: &[Slot]) -> Vec<Slot> {
    let mut groups: BTreeMap<&str, Vec<&Slot>> = BTreeMap::new();
    for s in slots {
        groups.entry(s.node.as_str()).or_default().push(s);
    }
    let mut lists: Vec<Vec<&Slot>> = groups
        .into_values()
        .map(|mut v| {
            v.sort_by_key(|s| s.port);
            v
        })
        .collect();
    // `sort_by` is stable, like Java's `List.sort`.
    lists.sort_by_key(|l| std::cmp::Reverse(l.len()));
    let longest = lists.first().map_or(0, Vec::len);
    let mut out = Vec::with_capacity(slots.len());
    for i in 0..longest {
        for l in &lists {
            if let Some(s) = l.get(i) {
                out.push((*s).clone());
            }
        }
    }
    out
}

/// `EvenScheduler.scheduleTopology`: where the executors not in an alive slot go.
pub fn even_schedule_topology(t: &TopologyDetails, cluster: &Cluster) -> BTreeMap<Executor, Slot> {
    let available = cluster.available_slots();
    let alive_assigned = cluster.assigned_slots(&t.id);
    let total_slots_to_use = t.num_workers.min(available.len() + alive_assigned.len());
    let sorted = sort_slots(&available);
    let to_index = total_slots_to_use
        .saturating_sub(alive_assigned.len())
        .min(sorted.len());
    let reassign_slots = &sorted[..to_index];
    let alive: BTreeSet<Executor> = alive_assigned.values().flatten().copied().collect();
    // BTreeSet order is start-task order (executors never overlap).
    let reassign: Vec<Executor> = t
        .executors
        .iter()
        .filter(|e| !alive.contains(e))
        .copied()
        .collect();
    let mut out = BTreeMap::new();
    if !reassign_slots.is_empty() {
        for (i, e) in reassign.into_iter().enumerate() {
            out.insert(e, reassign_slots[i % reassign_slots.len()].clone());
        }
    }
    out
}

/// `EvenScheduler.scheduleTopologiesEvenly` for one topology: adds the new placements to the cluster.
pub fn even_schedule(t: &TopologyDetails, cluster: &mut Cluster) {
    let placed = even_schedule_topology(t, cluster);
    if placed.is_empty() && cluster.assignments.contains_key(&t.id) {
        return;
    }
    cluster
        .assignments
        .entry(t.id.clone())
        .or_default()
        .extend(placed);
}

/// DefaultScheduler's `badSlots`: the existing slots whose executor count does not fit a free bucket
/// of `integerDivided(num executors, total slots to use)`.
pub fn bad_slots(
    existing: &BTreeMap<Slot, Vec<Executor>>,
    num_executors: usize,
    num_workers: usize,
) -> Option<BTreeSet<Slot>> {
    if num_workers == 0 {
        return None;
    }
    let mut distribution = integer_divided(num_executors, num_workers);
    let mut bad = BTreeSet::new();
    for (slot, executors) in existing {
        match distribution.get_mut(&executors.len()) {
            Some(n) if *n > 0 => *n -= 1,
            _ => {
                bad.insert(slot.clone());
            }
        }
    }
    Some(bad)
}

/// `DefaultScheduler.defaultSchedule` for every topology that needs scheduling, in the given order.
pub fn default_schedule(topologies: &[TopologyDetails], cluster: &mut Cluster) {
    for t in topologies {
        if !cluster.needs_scheduling(t) {
            continue;
        }
        // Executors that are no longer part of the topology are not kept.
        if let Some(a) = cluster.assignments.get_mut(&t.id) {
            a.retain(|e, _| t.executors.contains(e));
        }
        let available = cluster.available_slots().len();
        let alive_assigned = cluster.assigned_slots(&t.id);
        let alive: BTreeSet<Executor> = alive_assigned.values().flatten().copied().collect();
        let can_reassign = alive_assigned
            .keys()
            .filter(|s| cluster.is_usable(s))
            .count();
        let total_slots_to_use = t.num_workers.min(can_reassign + available);
        if total_slots_to_use > alive_assigned.len() || alive != t.executors {
            if let Some(bad) = bad_slots(&alive_assigned, t.executors.len(), total_slots_to_use) {
                cluster.free_slots(&bad);
            }
        }
        even_schedule(t, cluster);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn slots(v: &[(&str, i64)]) -> Vec<Slot> {
        v.iter().map(|(n, p)| Slot::new(*n, *p)).collect()
    }

    fn topo(id: &str, workers: usize, n: i32) -> TopologyDetails {
        TopologyDetails {
            id: id.into(),
            num_workers: workers,
            executors: (1..=n).map(|i| (i, i)).collect(),
        }
    }

    #[test]
    fn integer_divided_matches_storm() {
        assert_eq!(integer_divided(13, 3), BTreeMap::from([(4, 2), (5, 1)]));
        assert_eq!(integer_divided(6, 3), BTreeMap::from([(2, 3)]));
        assert_eq!(integer_divided(2, 5), BTreeMap::from([(0, 3), (1, 2)]));
        assert!(integer_divided(3, 0).is_empty());
    }

    #[test]
    fn slots_are_interleaved_across_nodes_biggest_first() {
        let input = slots(&[
            ("b", 6701),
            ("a", 6700),
            ("c", 6702),
            ("b", 6700),
            ("c", 6700),
            ("c", 6701),
            ("a", 6701),
        ]);
        // c has 3 free slots, then a and b (2 each, id order kept).
        assert_eq!(
            sort_slots(&input),
            slots(&[
                ("c", 6700),
                ("a", 6700),
                ("b", 6700),
                ("c", 6701),
                ("a", 6701),
                ("b", 6701),
                ("c", 6702),
            ])
        );
        assert!(sort_slots(&[]).is_empty());
    }

    #[test]
    fn executors_go_round_robin_in_start_task_order() {
        let mut cluster = Cluster::default();
        cluster.supervisors.insert("a".into(), [6700, 6701].into());
        cluster.supervisors.insert("b".into(), [6700].into());
        default_schedule(&[topo("t", 2, 5)], &mut cluster);
        let a = &cluster.assignments["t"];
        // Sorted slots: a:6700, b:6700, a:6701; two workers → a:6700 and b:6700.
        assert_eq!(a[&(1, 1)], Slot::new("a", 6700));
        assert_eq!(a[&(2, 2)], Slot::new("b", 6700));
        assert_eq!(a[&(3, 3)], Slot::new("a", 6700));
        assert_eq!(a[&(4, 4)], Slot::new("b", 6700));
        assert_eq!(a[&(5, 5)], Slot::new("a", 6700));
    }

    #[test]
    fn dead_executors_move_and_matching_slots_stay() {
        let mut cluster = Cluster::default();
        cluster.supervisors.insert("a".into(), [1, 2].into());
        cluster.supervisors.insert("b".into(), [1].into());
        let t = topo("t", 2, 4);
        default_schedule(std::slice::from_ref(&t), &mut cluster);
        let before = cluster.assignments["t"].clone();
        // The executors on b:1 die: b:1 is a dead port this round.
        cluster.supervisors.insert("b".into(), BTreeSet::new());
        cluster
            .assignments
            .get_mut("t")
            .unwrap()
            .retain(|_, s| s.node != "b");
        default_schedule(std::slice::from_ref(&t), &mut cluster);
        let after = &cluster.assignments["t"];
        assert_eq!(after.len(), 4);
        for (e, s) in &before {
            if s.node == "a" {
                assert_eq!(&after[e], s, "kept");
            } else {
                assert_eq!(after[e], Slot::new("a", 2), "moved");
            }
        }
    }

    #[test]
    fn more_workers_than_slots_uses_what_there_is() {
        let mut cluster = Cluster::default();
        cluster.supervisors.insert("a".into(), [1].into());
        default_schedule(&[topo("t", 4, 3)], &mut cluster);
        assert_eq!(cluster.assignments["t"].len(), 3);
        let snapshot = cluster.clone();
        default_schedule(&[topo("t", 4, 3)], &mut cluster);
        assert_eq!(cluster, snapshot);
        // No slots at all: nothing assigned.
        let mut empty = Cluster::default();
        default_schedule(&[topo("t", 1, 2)], &mut empty);
        assert!(empty.assignments.get("t").is_none_or(|a| a.is_empty()));
    }

    /// Supervisors with their ports, and topologies as (workers, executors).
    type Generated = (BTreeMap<String, BTreeSet<i64>>, Vec<(usize, i32)>);

    fn arb_cluster() -> impl Strategy<Value = Generated> {
        (
            prop::collection::btree_map(
                "[a-e]",
                prop::collection::btree_set(6700i64..6706, 0..5),
                0..5,
            ),
            prop::collection::vec((1usize..6, 1i32..12), 1..4),
        )
    }

    fn executors_of(n: i32, offset: i32) -> BTreeSet<Executor> {
        // Mix single- and multi-task executors.
        let mut out = BTreeSet::new();
        let mut start = offset;
        for i in 0..n {
            let len = 1 + (i % 2);
            out.insert((start, start + len - 1));
            start += len;
        }
        out
    }

    proptest! {
        #[test]
        fn schedule_properties((supervisors, topos) in arb_cluster(), kill in prop::collection::vec(any::<bool>(), 0..6)) {
            let details: Vec<TopologyDetails> = topos
                .iter()
                .enumerate()
                .map(|(i, (w, n))| TopologyDetails {
                    id: format!("t{i}"),
                    num_workers: *w,
                    executors: executors_of(*n, 1),
                })
                .collect();
            let mut cluster = Cluster { supervisors: supervisors.clone(), assignments: BTreeMap::new() };
            default_schedule(&details, &mut cluster);
            let check = |cluster: &Cluster| -> Result<(), TestCaseError> {
                let mut seen_slots: BTreeMap<Slot, String> = BTreeMap::new();
                for t in &details {
                    let a = cluster.assignments.get(&t.id).cloned().unwrap_or_default();
                    let slots: BTreeSet<&Slot> = a.values().collect();
                    prop_assert!(slots.len() <= t.num_workers);
                    for s in &slots {
                        prop_assert!(cluster.is_usable(s), "slot {:?} not usable", s);
                        if let Some(other) = seen_slots.insert((*s).clone(), t.id.clone()) {
                            prop_assert!(other == t.id, "slot shared by {} and {}", other, t.id);
                        }
                    }
                    for e in a.keys() {
                        prop_assert!(t.executors.contains(e));
                    }
                }
                Ok(())
            };
            check(&cluster)?;
            // Every executor is placed when the cluster had a free slot for the topology.
            let total: usize = supervisors.values().map(BTreeSet::len).sum();
            if total >= details.iter().map(|t| t.num_workers).sum::<usize>() {
                for t in &details {
                    prop_assert_eq!(
                        cluster.assignments[&t.id].keys().copied().collect::<BTreeSet<_>>(),
                        t.executors.clone()
                    );
                }
            }
            // Stability: rescheduling a good assignment changes nothing.
            let snapshot = cluster.clone();
            default_schedule(&details, &mut cluster);
            prop_assert_eq!(&cluster, &snapshot);

            // Some supervisors die: their executors move, everything stays valid, and executors on
            // surviving slots are placed exactly once.
            for (i, node) in supervisors.keys().enumerate() {
                if kill.get(i).copied().unwrap_or(false) {
                    cluster.supervisors.remove(node);
                }
            }
            let live = cluster.supervisors.clone();
            for a in cluster.assignments.values_mut() {
                a.retain(|_, s| live.get(&s.node).is_some_and(|p| p.contains(&s.port)));
            }
            default_schedule(&details, &mut cluster);
            check(&cluster)?;
            let any_slot = live.values().any(|p| !p.is_empty());
            if any_slot && details.len() == 1 {
                prop_assert_eq!(
                    cluster.assignments[&details[0].id].len(),
                    details[0].executors.len()
                );
            }
        }
    }
}
