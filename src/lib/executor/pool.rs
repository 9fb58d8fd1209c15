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
    vecs: Vec<Vec<Tuple>>,
    /// Tuples to build before looking at `rx` again after finding it empty (tuples sent to other
    /// workers do not come back).
    skip: usize,
}

/// How many spent tuples ahead of the one being refilled are fetched into cache.
const PREFETCH_AHEAD: usize = 8;

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
        self.build(source, ids, |slot| {
            // In place: a spent tuple's strings and vectors take the new ones' bytes.
            slot.truncate(values.len());
            let kept = slot.len();
            for (to, from) in slot.iter_mut().zip(values) {
                to.clone_from(from);
            }
            slot.extend_from_slice(&values[kept..]);
        })
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
                // The consumer's core wrote the spent tuples last: fetch a few ahead.
                if let Some(ahead) = self
                    .spare
                    .len()
                    .checked_sub(PREFETCH_AHEAD)
                    .and_then(|i| self.spare.get(i))
                {
                    ahead.prefetch();
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
            match self.rx.try_recv() {
                Ok(spent) => {
                    let empty = std::mem::replace(&mut self.spare, spent);
                    self.keep_vec(empty);
                }
                Err(_) => {
                    self.skip = BATCH_TUPLES;
                    return Err(ids);
                }
            }
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
