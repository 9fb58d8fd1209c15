//! [`PendingSpoutTuples`]: a spout executor's reliable tuples awaiting their acker's verdict (Storm's
//! `SpoutExecutor.pending`, storm-internals §5.6).
//!
//! Storm keys the entries by a random root id in a 2-bucket `RotatingMap`; the executor rotates it on
//! every `__tick` (one per `topology.message.timeout.secs`), and what falls out is failed with reason
//! TIMEOUT, so a tuple times out one to two timeout periods after it was emitted.
//! `topology.max.spout.pending` caps how many entries an executor may hold before `nextTuple` stops
//! being called.
//!
//! The same semantics, without a hash map on the hot path: the map picks the root id itself, a random
//! id whose low bits are replaced by the index of a free slot in a slab sized to the cap (rounded up
//! to a power of two; [`UNLIMITED_INDEX_BITS`] without a cap). An ack then finds its entry by masking
//! the root and comparing it with the root the slot holds — one array access where a hash map
//! probed a table of thousands of entries at a random place (7 % of all CPU time of
//! `const-spout-id-bolt-null-bolt`). Freed slots are reused first in, first out, so while trees
//! complete in about the order they started, inserts and acks walk the slab in order instead of
//! jumping around it. Each slot carries the generation (tick count) it was last written in, as
//! [`RotatingMap`] entries do. When every slot is taken (a spout emitting past its cap in one
//! `nextTuple`), further entries go to a [`RotatingMap`] under a plain random root.
//!
//! Roots stay unique enough for the ackers, which see the roots of every spout task: at most
//! [`MAX_INDEX_BITS`] of the 64 bits are an index, the other ≥ 44 stay random.

use std::collections::VecDeque;

use super::rotating_map::{IdBuildHasher, RotatingMap};
use super::SPOUT_PENDING_BUCKETS;

/// Slab index bits without `topology.max.spout.pending` (65 536 slots, allocated as used).
pub const UNLIMITED_INDEX_BITS: u32 = 16;
/// Most index bits a root id gives up (a cap above 2^20 spills into the hash map).
pub const MAX_INDEX_BITS: u32 = 20;

/// What a spout remembers about one reliable emit (Storm's `TupleInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingTuple<M> {
    /// The spout's message id, handed back to `ack`/`fail`.
    pub message_id: M,
    /// The spout task that emitted the tuple.
    pub task_id: i32,
    /// When it was emitted (ms), for the spout-side latency.
    pub emit_ms: u64,
}

/// One slab slot: the root it was last given out under, and its entry while pending.
#[derive(Debug, Clone)]
struct Slot<M> {
    root: i64,
    /// The tick count when the entry was written (its bucket, as in [`RotatingMap`]).
    generation: u64,
    tuple: Option<PendingTuple<M>>,
}

/// A spout executor's pending map. `M` is whatever the executor needs back on completion (the message
/// id, possibly with the stream and values).
#[derive(Debug, Clone)]
pub struct PendingSpoutTuples<M> {
    slots: Vec<Slot<M>>,
    /// Free slot indexes, oldest freed first.
    free: VecDeque<u32>,
    /// The low bits of a root that name its slot.
    mask: u64,
    /// Entries in `slots`.
    in_slots: usize,
    /// Generation of the newest bucket (starts where [`RotatingMap`]'s does).
    newest: u64,
    /// Entries that found no free slot.
    overflow: RotatingMap<i64, PendingTuple<M>, IdBuildHasher>,
    max_pending: Option<usize>,
}

impl<M> PendingSpoutTuples<M> {
    /// `max_spout_pending` is `topology.max.spout.pending` (`None` or 0: unlimited); the executor's limit
    /// is that times its number of tasks.
    pub fn new(max_spout_pending: Option<u32>, tasks_in_executor: usize) -> PendingSpoutTuples<M> {
        let max_pending = max_spout_pending
            .filter(|&m| m > 0)
            .map(|m| (m as usize).saturating_mul(tasks_in_executor.max(1)));
        let bits = max_pending.map_or(UNLIMITED_INDEX_BITS, |max| {
            max.next_power_of_two()
                .trailing_zeros()
                .clamp(1, MAX_INDEX_BITS)
        });
        PendingSpoutTuples {
            slots: Vec::new(),
            free: VecDeque::new(),
            mask: (1u64 << bits) - 1,
            in_slots: 0,
            newest: SPOUT_PENDING_BUCKETS as u64,
            overflow: RotatingMap::build(SPOUT_PENDING_BUCKETS, IdBuildHasher::default()),
            max_pending,
        }
    }

    /// The executor's cap on pending tuples, `None` when unlimited.
    pub fn max_pending(&self) -> Option<usize> {
        self.max_pending
    }

    /// Whether `nextTuple` may be called: fewer than the cap are pending.
    pub fn has_capacity(&self) -> bool {
        self.max_pending.is_none_or(|max| self.len() < max)
    }

    /// How many more trees may start before the cap is reached (`usize::MAX` without a cap).
    pub fn room(&self) -> usize {
        self.max_pending
            .map_or(usize::MAX, |max| max.saturating_sub(self.len()))
    }

    pub fn len(&self) -> usize {
        self.in_slots + self.overflow.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, root: i64) -> bool {
        self.slot_of(root).is_some() || self.overflow.contains_key(&root)
    }

    /// The slot holding `root`'s entry, if it is in the slab.
    #[inline]
    fn slot_of(&self, root: i64) -> Option<usize> {
        let index = (root as u64 & self.mask) as usize;
        match self.slots.get(index) {
            Some(slot) if slot.root == root && slot.tuple.is_some() => Some(index),
            _ => None,
        }
    }

    /// Records a reliable emit and returns its root id: `random` (a fresh random id) with its low
    /// bits naming the entry's slot. Never 0, never a root already pending here.
    pub fn insert(&mut self, random: i64, tuple: PendingTuple<M>) -> i64 {
        let index = match self.free.pop_front() {
            Some(index) => Some(index as usize),
            None if (self.slots.len() as u64) <= self.mask => {
                self.slots.push(Slot {
                    root: 0,
                    generation: 0,
                    tuple: None,
                });
                Some(self.slots.len() - 1)
            }
            None => None,
        };
        let step = (self.mask + 1) as i64;
        match index {
            Some(index) => {
                let mut root = ((random as u64 & !self.mask) | index as u64) as i64;
                // Changing the random bits keeps the slot.
                while root == 0 || (!self.overflow.is_empty() && self.overflow.contains_key(&root))
                {
                    root = root.wrapping_add(step);
                }
                self.slots[index] = Slot {
                    root,
                    generation: self.newest,
                    tuple: Some(tuple),
                };
                self.in_slots += 1;
                root
            }
            None => {
                let mut root = random;
                while root == 0 || self.slot_of(root).is_some() || self.overflow.contains_key(&root)
                {
                    root = root.wrapping_add(step);
                }
                self.overflow.put(root, tuple);
                root
            }
        }
    }

    /// `__ack_ack` or `__ack_fail` from the acker: the entry, if it has not timed out already. The
    /// executor then checks `task_id` is the receiving task and calls the spout's `ack` or `fail`.
    #[inline]
    pub fn take(&mut self, root: i64) -> Option<PendingTuple<M>> {
        match self.slot_of(root) {
            Some(index) => {
                self.in_slots -= 1;
                self.free.push_back(index as u32);
                self.slots[index].tuple.take()
            }
            None if self.overflow.is_empty() => None,
            None => self.overflow.remove(&root),
        }
    }

    /// `__ack_reset_timeout`: restarts the entry's timeout; false if it is not pending.
    pub fn reset_timeout(&mut self, root: i64) -> bool {
        if let Some(index) = self.slot_of(root) {
            self.slots[index].generation = self.newest;
            return true;
        }
        match self.overflow.remove(&root) {
            Some(tuple) => {
                self.overflow.put(root, tuple);
                true
            }
            None => false,
        }
    }

    /// `__tick`: rotates and returns the timed-out entries, to be failed with reason TIMEOUT.
    pub fn tick(&mut self) -> Vec<(i64, PendingTuple<M>)> {
        let oldest = self.newest - (SPOUT_PENDING_BUCKETS as u64 - 1);
        let mut dead = Vec::new();
        for (index, slot) in self.slots.iter_mut().enumerate() {
            let generation = slot.generation;
            if let Some(tuple) = slot.tuple.take_if(|_| generation <= oldest) {
                dead.push((slot.root, tuple));
                self.free.push_back(index as u32);
                self.in_slots -= 1;
            }
        }
        self.newest += 1;
        dead.extend(self.overflow.rotate());
        dead
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(id: &'static str) -> PendingTuple<&'static str> {
        PendingTuple {
            message_id: id,
            task_id: 5,
            emit_ms: 0,
        }
    }

    #[test]
    fn times_out_on_the_second_tick() {
        let mut p = PendingSpoutTuples::new(None, 1);
        let a = p.insert(0x1000_0000, tuple("a"));
        assert!(p.tick().is_empty(), "one tick: still pending");
        let b = p.insert(0x2000_0000, tuple("b"));
        let expired = p.tick();
        assert_eq!(expired, [(a, tuple("a"))]);
        assert!(p.contains(b));
        assert!(!p.contains(a));
        assert_eq!(p.tick(), [(b, tuple("b"))]);
        assert!(p.is_empty());
    }

    #[test]
    fn ack_and_reset_timeout() {
        let mut p = PendingSpoutTuples::new(None, 1);
        let a = p.insert(0x1000_0000, tuple("a"));
        let b = p.insert(0x2000_0000, tuple("b"));
        assert_eq!(p.take(b), Some(tuple("b")));
        assert_eq!(p.take(b), None, "a late second verdict finds nothing");
        p.tick();
        assert!(p.reset_timeout(a));
        assert!(!p.reset_timeout(b));
        assert!(!p.reset_timeout(9));
        assert!(p.tick().is_empty(), "reset moved it to the newest bucket");
        assert_eq!(p.tick().len(), 1);
    }

    #[test]
    fn roots_keep_the_random_bits_and_name_their_slot() {
        let mut p = PendingSpoutTuples::new(Some(5000), 1);
        let random = 0x0123_4567_89ab_cdef_i64;
        let root = p.insert(random, tuple("a"));
        assert_eq!(
            root as u64 & !0x1fff,
            random as u64 & !0x1fff,
            "13 index bits for 5000"
        );
        assert_eq!(root & 0x1fff, 0, "the first slot");
        // A fresh slot for the next tree; a freed slot is reused only after the older free ones.
        let second = p.insert(random, tuple("b"));
        assert_eq!(second & 0x1fff, 1);
        assert_ne!(root, second);
        p.take(root);
        p.take(second);
        let third = p.insert(random ^ 0x4000_0000, tuple("c"));
        assert_eq!(third & 0x1fff, 0, "oldest freed first");
        assert_eq!(
            p.take(root),
            None,
            "the old root does not find the slot's new entry"
        );
        assert_eq!(p.take(third), Some(tuple("c")));
        assert_ne!(
            p.insert(0, tuple("z")),
            0,
            "never 0 (it would vanish from the XOR)"
        );
    }

    #[test]
    fn a_full_slab_spills_into_the_map_with_the_same_semantics() {
        // A cap of 2 gives two slots; a spout may still emit past its cap in one nextTuple.
        let mut p = PendingSpoutTuples::new(Some(2), 1);
        let roots: Vec<i64> = (1..=5).map(|i| p.insert(i << 20, tuple("x"))).collect();
        let unique: std::collections::HashSet<_> = roots.iter().collect();
        assert_eq!(unique.len(), 5);
        assert_eq!(p.len(), 5);
        assert!(!p.has_capacity());
        assert!(roots.iter().all(|&r| p.contains(r)));
        assert_eq!(p.take(roots[4]), Some(tuple("x")), "from the map");
        assert_eq!(p.take(roots[0]), Some(tuple("x")), "from the slab");
        assert_eq!(p.len(), 3);
        p.tick();
        assert!(p.reset_timeout(roots[3]));
        let expired: std::collections::HashSet<i64> =
            p.tick().into_iter().map(|(r, _)| r).collect();
        assert_eq!(expired, [roots[1], roots[2]].into_iter().collect());
        assert_eq!(p.tick().len(), 1);
        assert!(p.is_empty());
    }

    #[test]
    fn max_spout_pending_counts_tasks() {
        let mut p = PendingSpoutTuples::new(Some(2), 2);
        assert_eq!(p.max_pending(), Some(4));
        let mut roots = Vec::new();
        for random in 1..=4 {
            assert!(p.has_capacity());
            roots.push(p.insert(random << 32, tuple("x")));
        }
        assert!(!p.has_capacity());
        p.take(roots[0]);
        assert!(p.has_capacity());
        assert_eq!(p.room(), 1, "one more tree may start");
        let unlimited = PendingSpoutTuples::<()>::new(Some(0), 3);
        assert_eq!(unlimited.room(), usize::MAX);
        assert_eq!(unlimited.max_pending(), None);
        assert!(unlimited.has_capacity());
    }
}
