//! [`Tuple`]: what a bolt receives — values with their fields, the source, and the acking metadata.

use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use crate::topology::system::{SYSTEM_COMPONENT_ID, SYSTEM_TICK_STREAM_ID};
use crate::tuple::{Fields, Value, Values};

/// A spout's message id: handed to `emit` to make a tuple reliable, and back to `ack`/`fail`.
pub type MessageId = Value;

/// Where tuples come from: one (component, task, stream) and the stream's fields. Executors build one
/// per task and stream and share it (`Arc`) among all tuples emitted there.
#[derive(Debug, Clone, PartialEq)]
pub struct TupleSource {
    pub component: String,
    pub task: i32,
    pub stream: String,
    pub fields: Fields,
}

/// Interned sources: a tuple refers to its source by a `&'static` reference, so creating and dropping
/// a tuple touches no shared reference count (an `Arc` count would bounce between the producing and
/// the consuming core on every tuple). A worker has one source per (task, stream), so the table stays
/// as small as the topologies it ran.
fn interned(
) -> &'static std::sync::Mutex<std::collections::HashMap<SourceKey, &'static TupleSource>> {
    static TABLE: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<SourceKey, &'static TupleSource>>,
    > = std::sync::OnceLock::new();
    TABLE.get_or_init(Default::default)
}

type SourceKey = (String, i32, String, Vec<String>);

impl TupleSource {
    /// This source's process-wide interned copy (made once per distinct source).
    pub fn intern(&self) -> &'static TupleSource {
        let key: SourceKey = (
            self.component.clone(),
            self.task,
            self.stream.clone(),
            self.fields.iter().map(str::to_owned).collect(),
        );
        let mut table = interned().lock().unwrap_or_else(|e| e.into_inner());
        table
            .entry(key)
            .or_insert_with(|| Box::leak(Box::new(self.clone())))
    }

    pub fn new(
        component: impl Into<String>,
        task: i32,
        stream: impl Into<String>,
        fields: Fields,
    ) -> TupleSource {
        TupleSource {
            component: component.into(),
            task,
            stream: stream.into(),
            fields,
        }
    }
}

/// Reading a tuple's value failed; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TupleError {
    #[error("tuple from {component}:{stream} has no value {index} (it has {len} values)")]
    IndexOutOfRange {
        component: String,
        stream: String,
        index: usize,
        len: usize,
    },
    #[error(
        "tuple from {component}:{stream} has no field \"{field}\" (its fields are {declared})"
    )]
    UnknownField {
        component: String,
        stream: String,
        field: String,
        declared: String,
    },
    #[error("field \"{field}\" (value {index}) of a tuple from {component}:{stream} is a {found}, not a {expected}")]
    WrongType {
        component: String,
        stream: String,
        field: String,
        index: usize,
        expected: &'static str,
        found: &'static str,
    },
}

/// Storm's `MessageId`: root id → XOR of this tuple's edge ids for that root (empty: unanchored).
/// One root, the common case, needs no allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TupleIds {
    One((i64, i64)),
    Many(Vec<(i64, i64)>),
}

impl Default for TupleIds {
    fn default() -> TupleIds {
        TupleIds::Many(Vec::new())
    }
}

impl TupleIds {
    pub(crate) fn as_slice(&self) -> &[(i64, i64)] {
        match self {
            TupleIds::One(pair) => std::slice::from_ref(pair),
            TupleIds::Many(v) => v,
        }
    }

    /// XORs `edge` into the entry of `root`, adding it if new.
    pub(crate) fn xor(&mut self, root: i64, edge: i64) {
        match self {
            TupleIds::Many(v) if v.is_empty() => *self = TupleIds::One((root, edge)),
            TupleIds::One((r, e)) if *r == root => *e ^= edge,
            TupleIds::One(pair) => *self = TupleIds::Many(vec![*pair, (root, edge)]),
            TupleIds::Many(v) => match v.iter_mut().find(|(r, _)| *r == root) {
                Some(entry) => entry.1 ^= edge,
                None => v.push((root, edge)),
            },
        }
    }
}

impl From<Vec<(i64, i64)>> for TupleIds {
    fn from(v: Vec<(i64, i64)>) -> TupleIds {
        match v.as_slice() {
            [pair] => TupleIds::One(*pair),
            _ => TupleIds::Many(v),
        }
    }
}

impl From<Arc<TupleSource>> for &'static TupleSource {
    fn from(source: Arc<TupleSource>) -> &'static TupleSource {
        source.intern()
    }
}

impl From<TupleSource> for &'static TupleSource {
    fn from(source: TupleSource) -> &'static TupleSource {
        source.intern()
    }
}

struct Inner {
    source: &'static TupleSource,
    values: Values,
    /// Storm's `MessageId`: root id → XOR of this tuple's edge ids for that root (empty: unanchored).
    ids: TupleIds,
    /// XOR of the edge ids of the children anchored to this tuple (Storm's transient `ackVal`).
    ack_val: AtomicI64,
    /// Nanoseconds (process clock) when execution of this tuple started, 0 if never; for the process
    /// latency.
    exec_start_ns: AtomicU64,
}

thread_local! {
    /// Whether this thread read a tuple's values since [`take_values_read`] last looked.
    static VALUES_READ: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[inline]
fn note_values_read() {
    VALUES_READ.set(true);
}

/// Whether this thread read any tuple's values (through [`Tuple::values`] or [`Tuple::get`] and
/// what calls them) since the last call, which resets it. A consumer fetches the values of the
/// tuples ahead into cache only while its component reads them: for one that does not (a null
/// bolt), the fetch would pull every tuple's values over from the producer's core for nothing.
pub(crate) fn take_values_read() -> bool {
    VALUES_READ.replace(false)
}

/// Hints the CPU to fetch the cache line at `p` for reading.
#[inline]
fn prefetch_read(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is a hint: it never faults (any address will do), changes no register
    // or memory the program sees.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Hints the CPU to fetch the cache line at `p` for writing.
#[inline]
fn prefetch_write(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetchw` is a hint: it never faults, changes no register or memory the program
    // sees, and is a no-op on processors without it.
    unsafe {
        std::arch::asm!("prefetchw [{0}]", in(reg) p, options(nostack, preserves_flags, readonly));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// A tuple: its values, the fields naming them, its source and its place in tuple trees. Cloning is
/// cheap (shared); a bolt may keep a tuple and ack it later.
#[derive(Clone)]
pub struct Tuple {
    inner: Arc<Inner>,
}

impl Tuple {
    /// A tuple from `source` carrying `values`, anchored to the trees in `ids` (root id, edge id).
    /// Executors build tuples; components normally only receive them.
    /// `source` is interned (see [`TupleSource::intern`]); pass an interned `&'static` source to
    /// skip the lookup.
    pub fn new(
        source: impl Into<&'static TupleSource>,
        values: Values,
        ids: Vec<(i64, i64)>,
    ) -> Tuple {
        Tuple::with_ids(source.into(), values, TupleIds::from(ids))
    }

    pub(crate) fn with_ids(source: &'static TupleSource, values: Values, ids: TupleIds) -> Tuple {
        Tuple {
            inner: Arc::new(Inner {
                source,
                values,
                ids,
                ack_val: AtomicI64::new(0),
                exec_start_ns: AtomicU64::new(0),
            }),
        }
    }

    /// Hints the CPU to fetch this tuple's shared part into cache, for writing (ahead of a
    /// [`Tuple::refill`]: the consuming core wrote it last).
    #[inline]
    pub(crate) fn prefetch(&self) {
        let p = Arc::as_ptr(&self.inner).cast::<u8>();
        // The shared part spans two cache lines at most.
        prefetch_write(p);
        prefetch_write(p.wrapping_add(64));
    }

    /// Hints the CPU to fetch this tuple's values vector into cache, for reading (a consumer, a few
    /// tuples ahead of the one it executes; the shared part should already be cached, see
    /// [`Tuple::prefetch`]: this reads it).
    #[inline]
    pub(crate) fn prefetch_values(&self) {
        prefetch_read(self.inner.values.as_ptr().cast());
    }

    /// Hints the CPU to fetch the bytes of this tuple's first strings and byte arrays into cache,
    /// for reading (after [`Tuple::prefetch_values`]: this reads the values vector).
    #[inline]
    pub(crate) fn prefetch_payload(&self) {
        self.payload_buffers(prefetch_read);
    }

    /// Hints the CPU to fetch this tuple's values vector into cache, for writing (a producer, some
    /// spent tuples ahead of the one it refills; the shared part should be cached already: this
    /// reads it).
    #[inline]
    pub(crate) fn prefetch_values_for_write(&self) {
        prefetch_write(self.inner.values.as_ptr().cast());
    }

    /// Hints the CPU to fetch the bytes of this tuple's first strings and byte arrays into cache,
    /// for writing (after [`Tuple::prefetch_values_for_write`]: this reads the values vector).
    #[inline]
    pub(crate) fn prefetch_payload_for_write(&self) {
        self.payload_buffers(prefetch_write);
    }

    /// Calls `f` with the buffer of each of the first two values that is a string or byte array
    /// with one allocated.
    #[inline]
    fn payload_buffers(&self, f: fn(*const u8)) {
        for v in self.inner.values.iter().take(2) {
            match v {
                Value::String(s) if s.capacity() > 0 => f(s.as_ptr()),
                Value::Bytes(b) if b.capacity() > 0 => f(b.as_ptr()),
                _ => {}
            }
        }
    }

    /// Makes this tuple a new one in place when nobody else holds it (the executor that built it
    /// reuses its allocation once the consumer is done): `fill` gets the old values to replace or
    /// refill. Gives `ids` back, without calling `fill`, when the tuple is shared.
    pub(crate) fn refill(
        &mut self,
        source: &'static TupleSource,
        ids: TupleIds,
        fill: impl FnOnce(&mut Values),
    ) -> Result<(), TupleIds> {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => {
                inner.source = source;
                fill(&mut inner.values);
                inner.ids = ids;
                *inner.ack_val.get_mut() = 0;
                *inner.exec_start_ns.get_mut() = 0;
                Ok(())
            }
            None => Err(ids),
        }
    }

    /// An unanchored tuple for tests: `fields` name `values`, from task 1 of `component` on `stream`.
    /// Panics on duplicate field names.
    pub fn for_test(component: &str, stream: &str, fields: &[&str], values: Values) -> Tuple {
        let fields =
            Fields::new(fields.iter().copied()).expect("duplicate field in Tuple::for_test");
        Tuple::new(
            Arc::new(TupleSource::new(component, 1, stream, fields)),
            values,
            Vec::new(),
        )
    }

    pub fn values(&self) -> &[Value] {
        note_values_read();
        &self.inner.values
    }

    pub fn len(&self) -> usize {
        self.inner.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.values.is_empty()
    }

    pub fn fields(&self) -> &Fields {
        &self.inner.source.fields
    }

    pub fn source(&self) -> &'static TupleSource {
        self.inner.source
    }

    pub fn source_component(&self) -> &str {
        &self.inner.source.component
    }

    pub fn source_task(&self) -> i32 {
        self.inner.source.task
    }

    pub fn source_stream(&self) -> &str {
        &self.inner.source.stream
    }

    /// Storm's `TupleUtils.isTick`: from `__system` on `__tick`.
    pub fn is_tick(&self) -> bool {
        self.source_component() == SYSTEM_COMPONENT_ID
            && self.source_stream() == SYSTEM_TICK_STREAM_ID
    }

    /// The tuple trees this tuple belongs to: (root id, edge id) pairs (Storm's `MessageId`).
    pub fn message_id(&self) -> &[(i64, i64)] {
        self.inner.ids.as_slice()
    }

    /// Whether the tuple is anchored to any tuple tree.
    pub fn is_anchored(&self) -> bool {
        !self.message_id().is_empty()
    }

    /// XOR of the edge ids of children anchored to this tuple so far.
    pub fn ack_val(&self) -> i64 {
        self.inner.ack_val.load(Ordering::Relaxed)
    }

    /// XORs a child's edge id into [`ack_val`](Self::ack_val) (the executor does this when anchoring).
    pub fn xor_ack_val(&self, edge: i64) {
        self.inner.ack_val.fetch_xor(edge, Ordering::Relaxed);
    }

    /// Records when execution of the tuple started (process clock, ns; the executor sets it).
    pub fn set_exec_start_ns(&self, ns: u64) {
        self.inner.exec_start_ns.store(ns, Ordering::Relaxed);
    }

    pub fn exec_start_ns(&self) -> u64 {
        self.inner.exec_start_ns.load(Ordering::Relaxed)
    }

    /// The value at `index`, if any.
    pub fn get(&self, index: usize) -> Option<&Value> {
        note_values_read();
        self.inner.values.get(index)
    }

    /// The value at `index`, or an error naming the tuple's source.
    pub fn value(&self, index: usize) -> Result<&Value, TupleError> {
        self.get(index).ok_or_else(|| TupleError::IndexOutOfRange {
            component: self.source_component().to_owned(),
            stream: self.source_stream().to_owned(),
            index,
            len: self.len(),
        })
    }

    /// Whether the tuple's stream declares `field`.
    pub fn contains(&self, field: &str) -> bool {
        self.fields().contains(field)
    }

    /// The position of `field`, or an error naming it and the declared fields.
    pub fn field_index(&self, field: &str) -> Result<usize, TupleError> {
        self.fields()
            .index_of(field)
            .ok_or_else(|| TupleError::UnknownField {
                component: self.source_component().to_owned(),
                stream: self.source_stream().to_owned(),
                field: field.to_owned(),
                declared: self.fields().to_string(),
            })
    }

    /// The value of `field` (Storm's `getValueByField`).
    pub fn value_by_field(&self, field: &str) -> Result<&Value, TupleError> {
        let index = self.field_index(field)?;
        self.value(index)
    }

    /// The values of `selector`'s fields, in its order (Storm's `select`).
    pub fn select(&self, selector: &Fields) -> Result<Vec<Value>, TupleError> {
        selector
            .iter()
            .map(|f| self.value_by_field(f).cloned())
            .collect()
    }

    fn field_name(&self, index: usize) -> String {
        self.fields()
            .get(index)
            .map_or_else(|| format!("#{index}"), str::to_owned)
    }

    fn typed<'a, T>(
        &'a self,
        index: usize,
        expected: &'static str,
        get: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<T, TupleError> {
        let v = self.value(index)?;
        get(v).ok_or_else(|| TupleError::WrongType {
            component: self.source_component().to_owned(),
            stream: self.source_stream().to_owned(),
            field: self.field_name(index),
            index,
            expected,
            found: v.type_name(),
        })
    }

    /// A string value (Storm's `getString`).
    pub fn get_str(&self, index: usize) -> Result<&str, TupleError> {
        self.typed(index, "String", Value::as_str)
    }

    /// An integer value, `Int` or `Long` (Storm's `getLong`).
    pub fn get_i64(&self, index: usize) -> Result<i64, TupleError> {
        self.typed(index, "Long", Value::as_i64)
    }

    /// A 32-bit integer value (Storm's `getInteger`); a `Long` that fits is accepted.
    pub fn get_i32(&self, index: usize) -> Result<i32, TupleError> {
        self.typed(index, "Integer", Value::as_i32)
    }

    /// A floating-point value (Storm's `getDouble`); integers are widened.
    pub fn get_f64(&self, index: usize) -> Result<f64, TupleError> {
        self.typed(index, "Double", Value::as_f64)
    }

    pub fn get_bool(&self, index: usize) -> Result<bool, TupleError> {
        self.typed(index, "Boolean", Value::as_bool)
    }

    /// A byte-array value (Storm's `getBinary`).
    pub fn get_bytes(&self, index: usize) -> Result<&[u8], TupleError> {
        self.typed(index, "byte[]", Value::as_bytes)
    }

    pub fn get_list(&self, index: usize) -> Result<&[Value], TupleError> {
        self.typed(index, "List", Value::as_list)
    }

    pub fn get_map(&self, index: usize) -> Result<&[(Value, Value)], TupleError> {
        self.typed(index, "Map", Value::as_map)
    }

    pub fn get_str_by_field(&self, field: &str) -> Result<&str, TupleError> {
        self.get_str(self.field_index(field)?)
    }

    pub fn get_i64_by_field(&self, field: &str) -> Result<i64, TupleError> {
        self.get_i64(self.field_index(field)?)
    }

    pub fn get_i32_by_field(&self, field: &str) -> Result<i32, TupleError> {
        self.get_i32(self.field_index(field)?)
    }

    pub fn get_f64_by_field(&self, field: &str) -> Result<f64, TupleError> {
        self.get_f64(self.field_index(field)?)
    }

    pub fn get_bool_by_field(&self, field: &str) -> Result<bool, TupleError> {
        self.get_bool(self.field_index(field)?)
    }

    pub fn get_bytes_by_field(&self, field: &str) -> Result<&[u8], TupleError> {
        self.get_bytes(self.field_index(field)?)
    }

    pub fn get_list_by_field(&self, field: &str) -> Result<&[Value], TupleError> {
        self.get_list(self.field_index(field)?)
    }

    pub fn get_map_by_field(&self, field: &str) -> Result<&[(Value, Value)], TupleError> {
        self.get_map(self.field_index(field)?)
    }
}

/// Like Storm's `TupleImpl.toString`: `source: comp:task, stream: s, id: {…}, [values]`.
impl fmt::Display for Tuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "source: {}:{}, stream: {}, id: {{",
            self.source_component(),
            self.source_task(),
            self.source_stream()
        )?;
        for (i, (root, edge)) in self.message_id().iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{root}={edge}")?;
        }
        f.write_str("}, [")?;
        for (i, v) in self.values().iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", v.java_display())?;
        }
        f.write_str("]")
    }
}

impl fmt::Debug for Tuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tuple")
            .field("component", &self.source_component())
            .field("task", &self.source_task())
            .field("stream", &self.source_stream())
            .field("values", &self.values())
            .field("ids", &self.inner.ids)
            .finish()
    }
}
