//! The Rust half of one Java host (a spout or bolt task, or a grouping): the direct buffer it shares
//! with its Java object, the collector of the call in progress, the inputs the Java bolt still holds,
//! and the wake flag other Java threads raise.
//!
//! A [`HostState`] lives in a `Box` whose address the Java host keeps as `ctx`; the executor thread
//! that owns the host is the only one touching it (natives run on the thread that called into Java).
//! The [`Wake`] part is reached through its own, never-freed address (`wakeCtx`), because Java
//! threads other than the executor's raise it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use crate::api::{OutputCollector, SpoutOutputCollector, Tuple, TupleSource, Waker};

/// Raised by Java threads that queued collector calls or dropped tuples for the executor.
#[derive(Default)]
pub(crate) struct Wake {
    pending: AtomicBool,
    waker: OnceLock<Waker>,
}

impl Wake {
    /// A wake flag that lives for the rest of the process (a few bytes per executor incarnation).
    pub fn leaked() -> &'static Wake {
        Box::leak(Box::default())
    }

    pub fn set_waker(&self, waker: Waker) {
        let _ = self.waker.set(waker);
    }

    pub fn raise(&self) {
        self.pending.store(true, Ordering::Release);
        if let Some(w) = self.waker.get() {
            w();
        }
    }

    /// Whether work is pending (clears the flag).
    pub fn take(&self) -> bool {
        self.pending.swap(false, Ordering::AcqRel)
    }
}

/// The inputs a Java bolt has not acked or failed yet, by handle (`generation << 32 | slot + 1`), so
/// a stale handle (a second ack) never reaches a newer tuple.
#[derive(Default)]
pub(crate) struct TupleSlab {
    entries: Vec<(u32, Option<Tuple>)>,
    free: Vec<u32>,
    live: usize,
}

impl TupleSlab {
    pub fn insert(&mut self, tuple: Tuple) -> i64 {
        self.live += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.entries[slot as usize].1 = Some(tuple);
                slot
            }
            None => {
                self.entries.push((1, Some(tuple)));
                (self.entries.len() - 1) as u32
            }
        };
        let generation = self.entries[slot as usize].0;
        ((u64::from(generation) << 32) | u64::from(slot + 1)) as i64
    }

    fn slot(&self, handle: i64) -> Option<usize> {
        let handle = handle as u64;
        let slot = (handle & 0xffff_ffff).checked_sub(1)? as usize;
        let generation = (handle >> 32) as u32;
        match self.entries.get(slot) {
            Some((g, Some(_))) if *g == generation => Some(slot),
            _ => None,
        }
    }

    pub fn get(&self, handle: i64) -> Option<&Tuple> {
        self.slot(handle).and_then(|s| self.entries[s].1.as_ref())
    }

    pub fn remove(&mut self, handle: i64) -> Option<Tuple> {
        let slot = self.slot(handle)?;
        let entry = &mut self.entries[slot];
        entry.0 = entry.0.wrapping_add(1).max(1);
        self.free.push(slot as u32);
        self.live -= 1;
        entry.1.take()
    }

    pub fn len(&self) -> usize {
        self.live
    }
}

/// One host's Rust state (see the module docs). Only the owning executor thread uses the cells.
pub(crate) struct HostState {
    pub component: String,
    /// The component's declared streams; Java passes an index into this list.
    pub streams: Vec<String>,
    buffer: Cell<(*mut u8, usize)>,
    spout: Cell<Option<NonNull<SpoutOutputCollector<'static>>>>,
    bolt: Cell<Option<NonNull<OutputCollector<'static>>>>,
    pub tuples: RefCell<TupleSlab>,
    /// Interned tuple sources already named to the Java bolt, by address.
    pub sources: RefCell<HashMap<usize, i32>>,
    /// The last source looked up (inputs mostly come from one source in a row).
    last_source: Cell<(usize, i32)>,
    pub scratch: RefCell<Vec<u8>>,
    /// The task ids of the last flush of queued emits (offsets, then ids; see `Native.spoutFlush`).
    pub results: RefCell<Vec<i32>>,
    /// The values of the queued emit being flushed, decoded in place emit after emit (reusing
    /// their strings' buffers) and copied into recycled tuples.
    pub emit_values: Cell<crate::tuple::Values>,
    /// A bolt's inputs queued in the buffer for one `executeBatch`, and the bytes they take.
    pub queued: Cell<usize>,
    pub queued_bytes: Cell<usize>,
    /// A spout's acker verdicts not yet delivered to Java: message keys, negated for a fail.
    pub verdicts: RefCell<Vec<i64>>,
    /// Whether the bolt's executor calls `end_batch` (then inputs may wait in the queue for it).
    pub batching: Cell<bool>,
    pub wake: &'static Wake,
}

// SAFETY: the cells are only touched by the thread that owns the host (the executor thread, or
// the emitting thread for a grouping); `wake` is `Sync`. The state moves between threads only
// before its Java host exists (an executor is built on one thread and run on another).
unsafe impl Send for HostState {}
unsafe impl Sync for HostState {}

impl HostState {
    pub fn new(component: &str, streams: Vec<String>) -> Box<HostState> {
        Box::new(HostState {
            component: component.to_owned(),
            streams,
            buffer: Cell::new((std::ptr::null_mut(), 0)),
            spout: Cell::new(None),
            bolt: Cell::new(None),
            tuples: RefCell::default(),
            sources: RefCell::default(),
            last_source: Cell::new((0, -1)),
            scratch: RefCell::new(Vec::with_capacity(1024)),
            results: RefCell::default(),
            emit_values: Cell::default(),
            queued: Cell::new(0),
            queued_bytes: Cell::new(0),
            batching: Cell::new(false),
            verdicts: RefCell::default(),
            wake: Wake::leaked(),
        })
    }

    pub fn ctx(&self) -> i64 {
        self as *const HostState as i64
    }

    pub fn wake_ctx(&self) -> i64 {
        self.wake as *const Wake as i64
    }

    pub fn set_buffer(&self, ptr: *mut u8, len: usize) {
        self.buffer.set((ptr, len));
    }

    /// The shared buffer.
    ///
    /// # Safety
    /// The Java host must not be running (the caller is in a native call from it, or about to call
    /// it), so nothing else reads or writes the buffer meanwhile.
    // The state is shared with Java through raw addresses; exclusivity is the caller's contract.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn buffer(&self) -> &mut [u8] {
        let (ptr, len) = self.buffer.get();
        if ptr.is_null() {
            return &mut [];
        }
        std::slice::from_raw_parts_mut(ptr, len)
    }

    /// Writes `values` at the start of the shared buffer and returns their length, or their
    /// length as `Err` when they do not fit (then they are in [`HostState::scratch`] and the
    /// buffer must grow first).
    ///
    /// # Safety
    /// As [`HostState::buffer`].
    pub unsafe fn write_values(&self, values: &[crate::tuple::Value]) -> Result<usize, usize> {
        self.write_values_at(0, values)
    }

    /// [`HostState::write_values`] at offset `at` of the buffer.
    ///
    /// # Safety
    /// As [`HostState::buffer`].
    pub unsafe fn write_values_at(
        &self,
        at: usize,
        values: &[crate::tuple::Value],
    ) -> Result<usize, usize> {
        if let Some(n) = (self.buffer().get_mut(at..))
            .and_then(|out| crate::tuple::encode_values_into(values, out))
        {
            return Ok(n);
        }
        let mut scratch = self.scratch.borrow_mut();
        scratch.clear();
        crate::tuple::encode_values(values, &mut scratch);
        Err(scratch.len())
    }

    /// Copies [`HostState::scratch`] to the (grown) buffer.
    ///
    /// # Safety
    /// As [`HostState::buffer`].
    pub unsafe fn write_scratch(&self) -> Result<(), String> {
        let scratch = self.scratch.borrow();
        let buffer = self.buffer();
        match buffer.get_mut(..scratch.len()) {
            Some(dst) => {
                dst.copy_from_slice(&scratch);
                Ok(())
            }
            None => Err(format!(
                "a tuple of {} bytes does not fit the bridge buffer of {} bytes",
                scratch.len(),
                buffer.len()
            )),
        }
    }

    /// Makes the collector of the spout call in progress reachable from natives until the guard drops.
    pub fn enter_spout<'s>(&'s self, collector: &mut SpoutOutputCollector<'_>) -> CallGuard<'s> {
        self.spout.set(Some(
            NonNull::from(collector).cast::<SpoutOutputCollector<'static>>(),
        ));
        CallGuard { state: self }
    }

    /// Makes the collector of the bolt call in progress reachable from natives until the guard drops.
    pub fn enter_bolt<'s>(&'s self, collector: &mut OutputCollector<'_>) -> CallGuard<'s> {
        self.bolt.set(Some(
            NonNull::from(collector).cast::<OutputCollector<'static>>(),
        ));
        CallGuard { state: self }
    }

    /// The collector of the spout call in progress.
    ///
    /// # Safety
    /// Only from a native called during that call (the guard is alive).
    // The state is shared with Java through raw addresses; exclusivity is the caller's contract.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn spout_collector(&self) -> Option<&mut SpoutOutputCollector<'static>> {
        self.spout.get().map(|mut p| p.as_mut())
    }

    /// The collector of the bolt call in progress.
    ///
    /// # Safety
    /// As [`HostState::spout_collector`].
    // The state is shared with Java through raw addresses; exclusivity is the caller's contract.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn bolt_collector(&self) -> Option<&mut OutputCollector<'static>> {
        self.bolt.get().map(|mut p| p.as_mut())
    }

    /// The index under which the Java bolt knows `source`, and whether it is new.
    pub fn source_index(&self, source: &'static TupleSource) -> (i32, bool) {
        let key = source as *const TupleSource as usize;
        let (last, index) = self.last_source.get();
        if last == key {
            return (index, false);
        }
        let mut sources = self.sources.borrow_mut();
        let next = sources.len() as i32;
        let (index, new) = match sources.get(&key) {
            Some(&i) => (i, false),
            None => {
                sources.insert(key, next);
                (next, true)
            }
        };
        self.last_source.set((key, index));
        (index, new)
    }
}

/// Clears the collector pointers when the call into Java ends (also on unwinding).
pub(crate) struct CallGuard<'s> {
    state: &'s HostState,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        self.state.spout.set(None);
        self.state.bolt.set(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tuple::{Fields, Value};

    fn tuple(n: i64) -> Tuple {
        let source = TupleSource::new("c", 1, "default", Fields::new(["n"]).unwrap());
        Tuple::new(source, vec![Value::Long(n)], vec![])
    }

    #[test]
    fn slab_handles_are_never_reused_for_another_tuple() {
        let mut slab = TupleSlab::default();
        let a = slab.insert(tuple(1));
        assert_eq!(slab.get(a).unwrap().values(), &[Value::Long(1)]);
        assert!(slab.remove(a).is_some());
        assert!(slab.remove(a).is_none(), "a second ack finds nothing");
        let b = slab.insert(tuple(2));
        assert_ne!(a, b, "same slot, new generation");
        assert!(slab.get(a).is_none());
        assert_eq!(slab.get(b).unwrap().values(), &[Value::Long(2)]);
        assert!(slab.get(0).is_none() && slab.get(-1).is_none() && slab.get(i64::MAX).is_none());
        assert_eq!(slab.len(), 1);
    }

    #[test]
    fn wake_flag_is_taken_once() {
        let wake = Wake::leaked();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let h = hits.clone();
        wake.set_waker(std::sync::Arc::new(move || {
            h.fetch_add(1, Ordering::Relaxed);
        }));
        assert!(!wake.take());
        wake.raise();
        assert!(wake.take());
        assert!(!wake.take());
        assert_eq!(hits.load(Ordering::Relaxed), 1);
    }
}
