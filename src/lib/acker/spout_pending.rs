//! [`PendingSpoutTuples`]: a spout executor's reliable tuples awaiting their acker's verdict (Storm's
//! `SpoutExecutor.pending`, storm-internals §5.6).
//!
//! Entries are keyed by root id in a 2-bucket [`RotatingMap`]; the executor rotates it on every `__tick`
//! (one per `topology.message.timeout.secs`), and what falls out is failed with reason TIMEOUT, so a
//! tuple times out one to two timeout periods after it was emitted. `topology.max.spout.pending` caps how
//! many entries an executor may hold before `nextTuple` stops being called.

use super::rotating_map::{IdBuildHasher, RotatingMap};
use super::SPOUT_PENDING_BUCKETS;

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

/// A spout executor's pending map. `M` is whatever the executor needs back on completion (the message
/// id, possibly with the stream and values).
#[derive(Debug, Clone)]
pub struct PendingSpoutTuples<M> {
    pending: RotatingMap<i64, PendingTuple<M>, IdBuildHasher>,
    max_pending: Option<usize>,
}

impl<M> PendingSpoutTuples<M> {
    /// `max_spout_pending` is `topology.max.spout.pending` (`None` or 0: unlimited); the executor's limit
    /// is that times its number of tasks.
    pub fn new(max_spout_pending: Option<u32>, tasks_in_executor: usize) -> PendingSpoutTuples<M> {
        let max_pending = max_spout_pending
            .filter(|&m| m > 0)
            .map(|m| (m as usize).saturating_mul(tasks_in_executor.max(1)));
        PendingSpoutTuples {
            pending: RotatingMap::build(SPOUT_PENDING_BUCKETS, IdBuildHasher::default()),
            max_pending,
        }
    }

    /// The executor's cap on pending tuples, `None` when unlimited.
    pub fn max_pending(&self) -> Option<usize> {
        self.max_pending
    }

    /// Whether `nextTuple` may be called: fewer than the cap are pending.
    pub fn has_capacity(&self) -> bool {
        self.max_pending.is_none_or(|max| self.pending.len() < max)
    }

    /// How many more trees may start before the cap is reached (`usize::MAX` without a cap).
    pub fn room(&self) -> usize {
        self.max_pending
            .map_or(usize::MAX, |max| max.saturating_sub(self.pending.len()))
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn contains(&self, root: i64) -> bool {
        self.pending.contains_key(&root)
    }

    /// Records a reliable emit under its root id.
    pub fn insert(&mut self, root: i64, tuple: PendingTuple<M>) {
        self.pending.put(root, tuple);
    }

    /// `__ack_ack` or `__ack_fail` from the acker: the entry, if it has not timed out already. The
    /// executor then checks `task_id` is the receiving task and calls the spout's `ack` or `fail`.
    pub fn take(&mut self, root: i64) -> Option<PendingTuple<M>> {
        self.pending.remove(&root)
    }

    /// `__ack_reset_timeout`: restarts the entry's timeout; false if it is not pending.
    pub fn reset_timeout(&mut self, root: i64) -> bool {
        match self.pending.remove(&root) {
            Some(tuple) => {
                self.pending.put(root, tuple);
                true
            }
            None => false,
        }
    }

    /// `__tick`: rotates and returns the timed-out entries, to be failed with reason TIMEOUT.
    pub fn tick(&mut self) -> Vec<(i64, PendingTuple<M>)> {
        self.pending.rotate().into_iter().collect()
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
        p.insert(1, tuple("a"));
        assert!(p.tick().is_empty(), "one tick: still pending");
        p.insert(2, tuple("b"));
        let expired = p.tick();
        assert_eq!(expired, [(1, tuple("a"))]);
        assert!(p.contains(2));
        assert_eq!(p.tick(), [(2, tuple("b"))]);
        assert!(p.is_empty());
    }

    #[test]
    fn ack_and_reset_timeout() {
        let mut p = PendingSpoutTuples::new(None, 1);
        p.insert(1, tuple("a"));
        p.insert(2, tuple("b"));
        assert_eq!(p.take(2), Some(tuple("b")));
        assert_eq!(p.take(2), None, "a late second verdict finds nothing");
        p.tick();
        assert!(p.reset_timeout(1));
        assert!(!p.reset_timeout(9));
        assert!(p.tick().is_empty(), "reset moved it to the newest bucket");
        assert_eq!(p.tick().len(), 1);
    }

    #[test]
    fn max_spout_pending_counts_tasks() {
        let mut p = PendingSpoutTuples::new(Some(2), 2);
        assert_eq!(p.max_pending(), Some(4));
        for root in 0..4 {
            assert!(p.has_capacity());
            p.insert(root, tuple("x"));
        }
        assert!(!p.has_capacity());
        p.take(0);
        assert!(p.has_capacity());
        assert_eq!(p.room(), 1, "one more tree may start");
        let unlimited = PendingSpoutTuples::<()>::new(Some(0), 3);
        assert_eq!(unlimited.room(), usize::MAX);
        assert_eq!(unlimited.max_pending(), None);
        assert!(unlimited.has_capacity());
    }
}
