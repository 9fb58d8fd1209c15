//! Shuffle groupings: Storm's plain `ShuffleGrouping` and the default `LoadAwareShuffleGrouping`, with the
//! load and placement inputs the latter reads ([`LoadMapping`], [`TaskLocations`]).
//!
//! * [`ShuffleGrouper`] shuffles the targets once and then deals them round-robin. Like Storm's atomic
//!   counter that starts at 0 and is pre-incremented, the first tuple goes to position 1 of the shuffled
//!   list.
//! * [`LoadAwareShuffleGrouper`] deals from a ring of `max(1000, 5 × n)` slots (1 for one target). Each
//!   target has a weight (100 at first); [`LoadAwareShuffleGrouper::refresh_load`] moves the locality scope
//!   (worker-local ⊂ host-local ⊂ everything; there is no rack plugin, so "rack-local" is "everything"),
//!   adjusts the weights of the targets in scope (+1 up to 100 when within 0.05 of the least loaded,
//!   else −10 down to 0), refills the ring in proportion to the weights and shuffles it.

use std::collections::HashMap;

use super::random::JavaRandom;

/// Storm's `MAX_WEIGHT`: the weight every target starts with and never exceeds.
pub const MAX_WEIGHT: u32 = 100;
/// Storm's minimum ring size.
pub const MIN_RING_CAPACITY: usize = 1000;
/// Default `topology.localityaware.higher.bound`.
pub const DEFAULT_HIGHER_BOUND: f64 = 0.8;
/// Default `topology.localityaware.lower.bound`.
pub const DEFAULT_LOWER_BOUND: f64 = 0.2;

/// Storm's `ShuffleGrouping` (used when `topology.disable.loadaware.messaging` is true).
#[derive(Debug, Clone)]
pub struct ShuffleGrouper {
    choices: Vec<i32>,
    current: usize,
}

impl ShuffleGrouper {
    /// Shuffles `targets` once with a `java.util.Random` seeded by `seed`.
    pub fn new(targets: &[i32], seed: u64) -> ShuffleGrouper {
        let mut choices = targets.to_vec();
        JavaRandom::new(seed as i64).shuffle(&mut choices);
        ShuffleGrouper {
            choices,
            current: 0,
        }
    }

    /// The shuffled order the tuples are dealt in (starting at position 1).
    pub fn order(&self) -> &[i32] {
        &self.choices
    }

    /// The next target in round-robin order, or `None` without targets.
    #[inline]
    pub fn next_task(&mut self) -> Option<i32> {
        if self.choices.is_empty() {
            return None;
        }
        self.current += 1;
        if self.current >= self.choices.len() {
            self.current = 0;
        }
        Some(self.choices[self.current])
    }
}

/// Task → load in `[0, 1]` as seen by one worker (Storm's `LoadMapping`): the local executors' receive
/// queue fill ratios, then what remote workers reported. A task in neither is "not connected": load 1.0.
#[derive(Debug, Clone, Default)]
pub struct LoadMapping {
    local: HashMap<i32, f64>,
    remote: HashMap<i32, f64>,
}

impl LoadMapping {
    pub fn new() -> LoadMapping {
        LoadMapping::default()
    }

    /// A mapping with only local loads.
    pub fn from_local(loads: impl IntoIterator<Item = (i32, f64)>) -> LoadMapping {
        let mut m = LoadMapping::new();
        m.set_local(loads);
        m
    }

    /// Replaces the loads of tasks in this worker.
    pub fn set_local(&mut self, loads: impl IntoIterator<Item = (i32, f64)>) {
        self.local = loads.into_iter().collect();
    }

    /// Replaces the loads of tasks in other workers (already combined with the connection's own load).
    pub fn set_remote(&mut self, loads: impl IntoIterator<Item = (i32, f64)>) {
        self.remote = loads.into_iter().collect();
    }

    /// The load of `task`: local first, then remote, else 1.0.
    pub fn get(&self, task: i32) -> f64 {
        self.local
            .get(&task)
            .or_else(|| self.remote.get(&task))
            .copied()
            .unwrap_or(1.0)
    }
}

/// Where a worker runs: supervisor (node) id and port (Storm's `NodeInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodePort {
    pub node: String,
    pub port: u16,
}

/// Placement of tasks as this worker knows it (Storm's `taskToNodePort` plus this worker's own slot).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskLocations {
    /// This worker's slot, `None` if unknown.
    pub this_worker: Option<NodePort>,
    /// Slot of each task of the topology; a missing task is of unknown placement.
    pub tasks: HashMap<i32, NodePort>,
}

/// How close a target is to this worker. Ordered narrowest first; a scope's targets include those of
/// every narrower scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LocalityScope {
    /// Same node and port: this worker.
    WorkerLocal,
    /// Same node, another worker.
    HostLocal,
    /// Anywhere, including unknown placement (Storm's `RACK_LOCAL` and `EVERYTHING`).
    Everything,
}

impl LocalityScope {
    fn widen(self) -> LocalityScope {
        match self {
            LocalityScope::WorkerLocal => LocalityScope::HostLocal,
            LocalityScope::HostLocal | LocalityScope::Everything => LocalityScope::Everything,
        }
    }

    fn narrow(self) -> LocalityScope {
        match self {
            LocalityScope::Everything => LocalityScope::HostLocal,
            LocalityScope::HostLocal | LocalityScope::WorkerLocal => LocalityScope::WorkerLocal,
        }
    }

    /// The scope of `task` seen from this worker. Without a known own slot, the tasks in
    /// `this_worker_tasks` are worker-local and everything else is of unknown placement.
    pub fn of(task: i32, locations: Option<&TaskLocations>, this_worker_tasks: &[i32]) -> Self {
        if let Some(TaskLocations {
            this_worker: Some(me),
            tasks,
        }) = locations
        {
            return match tasks.get(&task) {
                Some(there) if there.node == me.node && there.port == me.port => {
                    LocalityScope::WorkerLocal
                }
                Some(there) if there.node == me.node => LocalityScope::HostLocal,
                _ => LocalityScope::Everything,
            };
        }
        if this_worker_tasks.contains(&task) {
            LocalityScope::WorkerLocal
        } else {
            LocalityScope::Everything
        }
    }
}

/// Storm's `LoadAwareShuffleGrouping` (the default shuffle). See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct LoadAwareShuffleGrouper {
    targets: Vec<i32>,
    weights: Vec<u32>,
    scopes: Vec<LocalityScope>,
    current_scope: LocalityScope,
    ring: Vec<u32>,
    spare: Vec<u32>,
    cursor: usize,
    rng: JavaRandom,
    higher_bound: f64,
    lower_bound: f64,
}

impl LoadAwareShuffleGrouper {
    /// Prepares over `targets` (sorted) with their placement and builds the first ring as Storm does
    /// (no load known yet: every target in the narrowest non-empty scope at full weight).
    pub fn new(
        targets: &[i32],
        locations: Option<&TaskLocations>,
        this_worker_tasks: &[i32],
        higher_bound: f64,
        lower_bound: f64,
        seed: u64,
    ) -> LoadAwareShuffleGrouper {
        let capacity = match targets.len() {
            0 => 0,
            1 => 1,
            n => MIN_RING_CAPACITY.max(n.saturating_mul(5)),
        };
        let mut g = LoadAwareShuffleGrouper {
            targets: targets.to_vec(),
            weights: vec![MAX_WEIGHT; targets.len()],
            scopes: Vec::new(),
            current_scope: LocalityScope::WorkerLocal,
            ring: vec![0; capacity],
            spare: vec![0; capacity],
            cursor: 0,
            rng: JavaRandom::new(seed as i64),
            higher_bound,
            lower_bound,
        };
        g.set_task_locations(locations, this_worker_tasks);
        g.update_ring(None);
        g
    }

    /// Recomputes every target's locality scope (Storm does this on each load refresh from the worker's
    /// current assignment); takes effect at the next [`refresh_load`](Self::refresh_load).
    pub fn set_task_locations(
        &mut self,
        locations: Option<&TaskLocations>,
        this_worker_tasks: &[i32],
    ) {
        self.scopes = self
            .targets
            .iter()
            .map(|&t| LocalityScope::of(t, locations, this_worker_tasks))
            .collect();
    }

    /// Adjusts scope and weights to `load` and rebuilds the ring (Storm's `refreshLoad`, about once a
    /// second).
    pub fn refresh_load(&mut self, load: &LoadMapping) {
        self.update_ring(Some(load));
    }

    /// The next target, or `None` without targets.
    #[inline]
    pub fn next_task(&mut self) -> Option<i32> {
        let slot = *self.ring.get(self.cursor)?;
        self.cursor += 1;
        if self.cursor == self.ring.len() {
            self.cursor = 0;
        }
        self.targets.get(slot as usize).copied()
    }

    /// The ring size.
    pub fn capacity(&self) -> usize {
        self.ring.len()
    }

    /// The current locality scope.
    pub fn scope(&self) -> LocalityScope {
        self.current_scope
    }

    /// The current weight of each target, in target order.
    pub fn weights(&self) -> impl Iterator<Item = (i32, u32)> + '_ {
        self.targets
            .iter()
            .copied()
            .zip(self.weights.iter().copied())
    }

    /// How many ring slots each target holds, in target order.
    pub fn ring_counts(&self) -> Vec<(i32, usize)> {
        let mut counts = vec![0usize; self.targets.len()];
        for &slot in &self.ring {
            if let Some(c) = counts.get_mut(slot as usize) {
                *c += 1;
            }
        }
        self.targets.iter().copied().zip(counts).collect()
    }

    /// Indices of the targets in `scope`: its own targets first, then those of narrower scopes.
    fn in_scope(&self, scope: LocalityScope) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.targets.len());
        let mut s = scope;
        loop {
            out.extend((0..self.targets.len()).filter(|&i| self.scopes[i] == s));
            if s == s.narrow() {
                return out;
            }
            s = s.narrow();
        }
    }

    fn average(&self, indices: &[usize], load: &LoadMapping) -> f64 {
        let sum: f64 = indices.iter().map(|&i| load.get(self.targets[i])).sum();
        sum / indices.len() as f64
    }

    /// Storm's `transition`: widen while the scope is empty; then, with a load, widen when the scope is
    /// overloaded, or narrow when the next narrower scope is non-empty and lightly loaded.
    fn transition(&mut self, load: Option<&LoadMapping>) -> LocalityScope {
        let mut in_scope = self.in_scope(self.current_scope);
        while in_scope.is_empty() && self.current_scope != LocalityScope::Everything {
            self.current_scope = self.current_scope.widen();
            in_scope = self.in_scope(self.current_scope);
        }
        let Some(load) = load else {
            return self.current_scope;
        };
        if in_scope.is_empty() {
            return self.current_scope;
        }
        if self.average(&in_scope, load) > self.higher_bound {
            return self.current_scope.widen();
        }
        let lower = self.current_scope.narrow();
        let lower_targets = self.in_scope(lower);
        if !lower_targets.is_empty() && self.average(&lower_targets, load) < self.lower_bound {
            return lower;
        }
        self.current_scope
    }

    fn update_ring(&mut self, load: Option<&LoadMapping>) {
        let capacity = self.ring.len();
        if capacity == 0 {
            return;
        }
        let previous = self.current_scope;
        self.current_scope = self.transition(load);
        if self.current_scope != previous {
            self.weights.fill(MAX_WEIGHT);
        }
        let in_scope = self.in_scope(self.current_scope);

        let load_of = |i: usize| load.map_or(0.0, |l| l.get(self.targets[i]));
        let min = in_scope
            .iter()
            .map(|&i| load_of(i))
            .fold(f64::INFINITY, f64::min);
        for &i in &in_scope {
            let w = &mut self.weights[i];
            *w = if load_of(i) <= min + 0.05 {
                (*w + 1).min(MAX_WEIGHT)
            } else {
                w.saturating_sub(10)
            };
        }
        let weight_sum: u64 = in_scope.iter().map(|&i| u64::from(self.weights[i])).sum();

        let ring = &mut self.spare;
        let mut filled = 0;
        if weight_sum > 0 {
            for &i in &in_scope {
                let share = f64::from(self.weights[i]) / weight_sum as f64;
                let count = (share * capacity as f64) as usize;
                for _ in 0..count {
                    if filled == capacity {
                        break;
                    }
                    ring[filled] = i as u32;
                    filled += 1;
                }
            }
            if filled > 0 {
                // Pad with copies of random earlier slots.
                while filled < capacity {
                    ring[filled] = ring[self.rng.next_index(filled)];
                    filled += 1;
                }
            }
        }
        if filled == 0 {
            for (slot, entry) in ring.iter_mut().enumerate() {
                *entry = (slot % self.targets.len()) as u32;
            }
        }
        self.rng.shuffle(ring);
        std::mem::swap(&mut self.ring, &mut self.spare);
        self.cursor = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(g: &mut LoadAwareShuffleGrouper, tuples: usize) -> HashMap<i32, usize> {
        let mut counts = HashMap::new();
        for _ in 0..tuples {
            *counts.entry(g.next_task().unwrap()).or_insert(0) += 1;
        }
        counts
    }

    #[test]
    fn plain_shuffle_is_round_robin_over_one_permutation() {
        let targets = [3, 5, 8, 13, 21];
        let mut g = ShuffleGrouper::new(&targets, 7);
        let order = g.order().to_vec();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, targets);
        // Storm pre-increments a counter starting at 0: position 1 first, then around.
        let got: Vec<i32> = (0..12).map(|_| g.next_task().unwrap()).collect();
        let want: Vec<i32> = (1..=12).map(|k| order[k % order.len()]).collect();
        assert_eq!(got, want);
        // The permutation is java.util.Random's for that seed.
        let mut expect = targets.to_vec();
        JavaRandom::new(7).shuffle(&mut expect);
        assert_eq!(order, expect);
        assert_eq!(ShuffleGrouper::new(&[], 1).next_task(), None);
        let mut one = ShuffleGrouper::new(&[4], 1);
        assert_eq!((one.next_task(), one.next_task()), (Some(4), Some(4)));
    }

    #[test]
    fn load_aware_ring_sizes() {
        let g = LoadAwareShuffleGrouper::new(&[1], None, &[], 0.8, 0.2, 1);
        assert_eq!(g.capacity(), 1);
        let g = LoadAwareShuffleGrouper::new(&[1, 2], None, &[], 0.8, 0.2, 1);
        assert_eq!(g.capacity(), 1000);
        let many: Vec<i32> = (1..=300).collect();
        let g = LoadAwareShuffleGrouper::new(&many, None, &[], 0.8, 0.2, 1);
        assert_eq!(g.capacity(), 1500);
        let mut none = LoadAwareShuffleGrouper::new(&[], None, &[], 0.8, 0.2, 1);
        assert_eq!(none.next_task(), None);
        none.refresh_load(&LoadMapping::new());
        assert_eq!(none.next_task(), None);
    }

    #[test]
    fn load_aware_is_even_without_load() {
        let targets = [1, 2, 3, 4];
        let mut g = LoadAwareShuffleGrouper::new(&targets, None, &[], 0.8, 0.2, 3);
        assert_eq!(g.scope(), LocalityScope::Everything);
        // One pass over the ring: exactly the ring's counts, 250 each.
        let counts = count(&mut g, 1000);
        for t in targets {
            assert_eq!(counts[&t], 250, "{counts:?}");
        }
    }

    #[test]
    fn load_aware_shifts_weight_away_from_a_loaded_task() {
        let targets = [1, 2, 3];
        let mut g = LoadAwareShuffleGrouper::new(&targets, None, &[], 0.8, 0.2, 11);
        let load = LoadMapping::from_local([(1, 0.7), (2, 0.1), (3, 0.12)]);
        g.refresh_load(&load);
        let w: Vec<_> = g.weights().collect();
        assert_eq!(w, [(1, 90), (2, 100), (3, 100)]);
        // floor(90/290 * 1000) = 310 slots, plus at most a couple of random pads.
        let slots = g.ring_counts();
        assert!((310..=312).contains(&slots[0].1), "{slots:?}");
        for _ in 0..20 {
            g.refresh_load(&load);
        }
        let w: Vec<_> = g.weights().collect();
        assert_eq!(w, [(1, 0), (2, 100), (3, 100)]);
        let counts = count(&mut g, 3000);
        assert_eq!(counts.get(&1), None);
        assert_eq!(counts[&2] + counts[&3], 3000);
        // Load gone: the weight grows back by one per refresh.
        g.refresh_load(&LoadMapping::from_local([(1, 0.1), (2, 0.1), (3, 0.1)]));
        assert_eq!(g.weights().next(), Some((1, 1)));
    }

    #[test]
    fn locality_prefers_this_worker_and_widens_under_load() {
        let targets = [1, 2, 3, 4];
        let mut g = LoadAwareShuffleGrouper::new(&targets, None, &[2, 3], 0.8, 0.2, 5);
        assert_eq!(g.scope(), LocalityScope::WorkerLocal);
        let counts = count(&mut g, 2000);
        assert_eq!(
            counts
                .keys()
                .copied()
                .collect::<std::collections::BTreeSet<_>>(),
            [2, 3].into()
        );
        // Local tasks overloaded: widen one level per refresh (host-local has none here, so the set
        // stays local until the scope reaches everything).
        let busy = LoadMapping::from_local([(1, 0.1), (2, 0.9), (3, 0.95), (4, 0.1)]);
        g.refresh_load(&busy);
        assert_eq!(g.scope(), LocalityScope::HostLocal);
        g.refresh_load(&busy);
        assert_eq!(g.scope(), LocalityScope::Everything);
        // Weights were reset on the change, then adjusted: the idle remote tasks now win.
        let w: HashMap<i32, u32> = g.weights().collect();
        assert_eq!(w[&1], 100);
        assert_eq!(w[&2], 90);
        assert!(count(&mut g, 1000).contains_key(&4));
        // Everything idle: narrow back one level per refresh.
        let idle = LoadMapping::from_local([(1, 0.0), (2, 0.0), (3, 0.0), (4, 0.0)]);
        g.refresh_load(&idle);
        assert_eq!(g.scope(), LocalityScope::HostLocal);
        g.refresh_load(&idle);
        assert_eq!(g.scope(), LocalityScope::WorkerLocal);
    }

    #[test]
    fn scopes_from_task_locations() {
        let me = NodePort {
            node: "sup-a".into(),
            port: 6700,
        };
        let mut tasks = HashMap::new();
        tasks.insert(1, me.clone());
        tasks.insert(
            2,
            NodePort {
                node: "sup-a".into(),
                port: 6701,
            },
        );
        tasks.insert(
            3,
            NodePort {
                node: "sup-b".into(),
                port: 6700,
            },
        );
        let loc = TaskLocations {
            this_worker: Some(me),
            tasks,
        };
        let of = |t| LocalityScope::of(t, Some(&loc), &[]);
        assert_eq!(of(1), LocalityScope::WorkerLocal);
        assert_eq!(of(2), LocalityScope::HostLocal);
        assert_eq!(of(3), LocalityScope::Everything);
        assert_eq!(of(4), LocalityScope::Everything);
        // Host-local targets are used when none is worker-local.
        let mut g = LoadAwareShuffleGrouper::new(&[2, 3], Some(&loc), &[], 0.8, 0.2, 1);
        assert_eq!(g.scope(), LocalityScope::HostLocal);
        assert!(count(&mut g, 500).keys().all(|&t| t == 2));
    }

    #[test]
    fn unknown_tasks_count_as_fully_loaded() {
        assert_eq!(LoadMapping::new().get(9), 1.0);
        let mut m = LoadMapping::from_local([(1, 0.25)]);
        m.set_remote([(1, 0.9), (2, 0.5)]);
        assert_eq!(m.get(1), 0.25);
        assert_eq!(m.get(2), 0.5);
    }
}
