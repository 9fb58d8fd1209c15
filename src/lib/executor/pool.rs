//! [`TuplePool`]: the producing side of tuple recycling (see [`Recycle`]). Executors and the transport's
//! frame decoder build their tuples here, in the allocations of spent tuples their consumers sent back,
//! so every tuple is allocated and freed on the thread that made it.

use crossbeam_channel::{bounded, Receiver};

use super::transport::{Recycle, RECYCLE_BATCHES};
use crate::api::{Tuple, TupleIds, TupleSource};
use crate::tuple::{Value, Values};

/// Tuples per batch vector asked for when none is spare (the batch size of executors).
const BATCH_TUPLES: usize = super::emitter::BATCH_TUPLES;

/// Tuples this thread made that came back from their consumers (see [`Recycle`]), to build new
/// tuples in, and spent batch vectors to fill again.
pub(crate) struct TuplePool {
    /// Handed over with every local batch.
    tx: Recycle,
    rx: Receiver<Vec<Tuple>>,
    spare: Vec<Tuple>,
    /// Spent batches taken from `rx`, the most recently returned last (see
    /// [`TuplePool::next_returned`]).
    returned: Vec<Vec<Tuple>>,
    vecs: Vec<Vec<Tuple>>,
    /// Tuples to build before looking at `rx` again after finding it empty (tuples sent to other
    /// workers do not come back).
    skip: usize,
}

/// How many spent tuples ahead of the one being refilled are fetched into cache, in three stages,
/// each reading what the one before fetched: the shared part this far ahead, the values vector two
/// thirds as far, the bytes of the first strings a third as far. Fetching the values vector and
/// reading it at once stalled on it (it was 66 % of `make_copied`'s samples in the word count's
/// split bolt); staged, the word count went from ~5 to ~6.5 M words/s (BENCHMARKS.md, "Tuples'
/// values fetched ahead").
const PREFETCH_AHEAD: usize = 9;

/// How many more recently returned batches a spent batch waits behind before it is built in again.
/// The oldest batch of a long backlog (a producer that ran ahead of its consumer, or a burst at start
/// fills the way back with hundreds of batches) was written a whole backlog ago and is cold: with
/// storm-perf's 50 000-tuple receive buffer, reusing it cost the null bolt workload a fifth of its
/// throughput (BENCHMARKS.md, "Spent tuples reused 64 returns old"). The newest, on the other hand,
/// is in the consumer's core's cache still, and taking it from there slowed the word count (whose
/// count bolt reads every word) by about 8 %. A batch 64 returns old (4096 tuples) is neither.
const REUSE_AFTER: usize = 64;

/// Most spent batches kept to build in; beyond it the oldest are freed (a producer with a queue
/// of hundreds of thousands of tuples in flight allocates some afresh instead of holding them all).
const RETURNED_BATCHES: usize = 2 * RECYCLE_BATCHES;

/// Most spent batch vectors kept for reuse.
const SPARE_VECS: usize = 16;

impl TuplePool {
    /// Where consumers send this pool's spent tuples: put it on every batch handed over.
    pub(crate) fn recycler(&self) -> &Recycle {
        &self.tx
    }

    pub(crate) fn new() -> TuplePool {
        let (tx, rx) = bounded(RECYCLE_BATCHES);
        TuplePool {
            tx,
            rx,
            spare: Vec::new(),
            returned: Vec::new(),
            vecs: Vec::new(),
            skip: 0,
        }
    }

    /// A tuple carrying `values`, in a spent one's allocation when one is free.
    pub(crate) fn make(
        &mut self,
        source: &'static TupleSource,
        values: Values,
        ids: TupleIds,
    ) -> Tuple {
        let mut values = Some(values);
        self.build(source, ids, |slot| {
            if let Some(v) = values.take() {
                *slot = v;
            }
        })
        .unwrap_or_else(|ids| Tuple::with_ids(source, values.unwrap_or_default(), ids))
    }

    /// A tuple carrying a copy of `values`, in a spent one's allocation (its values vector, and
    /// the buffers of its strings and byte arrays) when one is free.
    pub(crate) fn make_copied(
        &mut self,
        source: &'static TupleSource,
        values: &[Value],
        ids: TupleIds,
    ) -> Tuple {
        // In place: `clone_into` truncates, `clone_from`s the values already there (a spent
        // tuple's strings and vectors take the new ones' bytes) and appends the rest.
        self.build(source, ids, |slot| values.clone_into(slot))
            .unwrap_or_else(|ids| Tuple::with_ids(source, values.to_vec(), ids))
    }

    /// Refills a spent tuple nobody holds any more; gives `ids` back when there is none.
    fn build(
        &mut self,
        source: &'static TupleSource,
        ids: TupleIds,
        mut fill: impl FnMut(&mut Values),
    ) -> Result<Tuple, TupleIds> {
        let mut ids = ids;
        loop {
            while let Some(mut t) = self.spare.pop() {
                // The consumer's core wrote the spent tuples last: fetch some ahead, in stages.
                if let Some(ahead) = self.spare_ahead(PREFETCH_AHEAD) {
                    ahead.prefetch();
                }
                if let Some(ahead) = self.spare_ahead(PREFETCH_AHEAD * 2 / 3) {
                    ahead.prefetch_values_for_write();
                }
                if let Some(ahead) = self.spare_ahead(PREFETCH_AHEAD / 3) {
                    ahead.prefetch_payload_for_write();
                }
                match t.refill(source, ids, &mut fill) {
                    Ok(()) => return Ok(t),
                    // The consumer kept it: leave it to them.
                    Err(i) => ids = i,
                }
            }
            if self.skip > 0 {
                self.skip -= 1;
                return Err(ids);
            }
            self.take_returned();
            match self.next_returned() {
                Some(spent) => {
                    let empty = std::mem::replace(&mut self.spare, spent);
                    self.keep_vec(empty);
                }
                None => {
                    self.skip = BATCH_TUPLES;
                    return Err(ids);
                }
            }
        }
    }

    /// The spent tuple refilled `n` refills from now (1: the next one), if there is one.
    #[inline]
    fn spare_ahead(&self, n: usize) -> Option<&Tuple> {
        self.spare
            .len()
            .checked_sub(n)
            .and_then(|i| self.spare.get(i))
    }

    /// The spent batch to build in next: the oldest that came back, or, when more than
    /// [`REUSE_AFTER`] wait, the one [`REUSE_AFTER`] returns older than the newest.
    fn next_returned(&mut self) -> Option<Vec<Tuple>> {
        let n = self.returned.len();
        match n.checked_sub(REUSE_AFTER + 1) {
            Some(i) => Some(self.returned.remove(i)),
            None if n > 0 => Some(self.returned.remove(0)),
            None => None,
        }
    }

    /// Moves the spent batches waiting in `rx` onto `returned`, keeping at most
    /// [`RETURNED_BATCHES`] (the oldest beyond that are freed).
    fn take_returned(&mut self) {
        while let Ok(spent) = self.rx.try_recv() {
            self.returned.push(spent);
        }
        if self.returned.len() > RETURNED_BATCHES {
            let extra = self.returned.len() - RETURNED_BATCHES;
            self.returned.drain(..extra);
        }
    }

    fn keep_vec(&mut self, v: Vec<Tuple>) {
        if self.vecs.len() < SPARE_VECS && v.capacity() > 0 {
            self.vecs.push(v);
        }
    }

    /// An empty vector for a batch of up to `capacity` tuples.
    pub(crate) fn batch_vec(&mut self, capacity: usize) -> Vec<Tuple> {
        match self.vecs.pop() {
            Some(mut v) => {
                v.clear();
                v.reserve(capacity);
                v
            }
            None => Vec::with_capacity(capacity),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tuple::Fields;

    fn batch(tag: i64) -> Vec<Tuple> {
        let source = TupleSource::new("c", 1, "default", Fields::new(["n"]).unwrap()).intern();
        vec![Tuple::with_ids(
            source,
            vec![Value::Long(tag)],
            TupleIds::default(),
        )]
    }

    fn tag(batch: &[Tuple]) -> i64 {
        batch[0].values()[0].as_i64().unwrap()
    }

    #[test]
    fn spent_batches_are_reused_oldest_first_but_never_older_than_the_reuse_distance() {
        let mut pool = TuplePool::new();
        assert!(pool.next_returned().is_none());
        for t in 0..3 {
            pool.tx.send(batch(t)).unwrap();
        }
        pool.take_returned();
        let order: Vec<i64> =
            std::iter::from_fn(|| pool.next_returned().map(|b| tag(&b))).collect();
        assert_eq!(order, [0, 1, 2]);
        // A backlog longer than REUSE_AFTER: the batch REUSE_AFTER returns older than the newest.
        let n = (REUSE_AFTER + 10) as i64;
        for t in 0..n {
            pool.tx.send(batch(t)).unwrap();
        }
        pool.take_returned();
        assert_eq!(
            tag(&pool.next_returned().unwrap()),
            n - 1 - REUSE_AFTER as i64
        );
        assert_eq!(
            tag(&pool.next_returned().unwrap()),
            n - 2 - REUSE_AFTER as i64
        );
        assert_eq!(pool.returned.len(), n as usize - 2);
    }

    #[test]
    fn the_kept_batches_are_bounded() {
        let mut pool = TuplePool::new();
        for round in 0..3 {
            for t in 0..RECYCLE_BATCHES as i64 {
                pool.tx.send(batch(round * 1000 + t)).unwrap();
            }
            pool.take_returned();
        }
        assert_eq!(pool.returned.len(), RETURNED_BATCHES);
        // The oldest were freed: the first kept is from the second round.
        assert_eq!(tag(&pool.returned[0]), 1000);
    }
}
