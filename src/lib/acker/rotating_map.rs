//! [`RotatingMap`]: Storm's bucketed expiry map (`org.apache.storm.utils.RotatingMap`).
//!
//! Storm keeps N hash maps ("buckets", newest first): `put` writes to the newest bucket (removing the
//! key from the others), reads and `remove` look in every bucket, and `rotate` drops the oldest bucket
//! and adds an empty newest one, so a key not written again expires after between N−1 and N rotations —
//! how Storm times out tuple trees without per-entry timers.
//!
//! This map keeps the same semantics with **one** hash map: each entry carries the generation (the
//! rotation count) it was last written in, which names its bucket. Every operation is a single hash
//! lookup (Storm's is one per bucket on a miss, and the acker misses on every new tree), and
//! [`RotatingMap::rotate`] takes out the entries whose generation fell off the oldest bucket with one
//! pass over the live entries — rotation runs once per `__tick` (seconds apart), the lookups on every
//! tuple.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

use super::AckerError;

/// An entry and the generation whose bucket it is in.
#[derive(Debug, Clone)]
struct Slot<V> {
    generation: u64,
    value: V,
}

/// The bucketed expiry map. `S` is the hasher of the buckets.
#[derive(Debug, Clone)]
pub struct RotatingMap<K, V, S = RandomState> {
    entries: HashMap<K, Slot<V>, S>,
    /// Generation of the newest bucket; bucket `i` (0 = newest) holds generation `newest − i`.
    newest: u64,
    num_buckets: u64,
    hasher: S,
}

impl<K: Eq + Hash, V> RotatingMap<K, V, RandomState> {
    /// A map with `num_buckets` (at least 2, as in Storm) buckets.
    pub fn new(num_buckets: usize) -> Result<Self, AckerError> {
        RotatingMap::with_hasher(num_buckets, RandomState::new())
    }
}

impl<K: Eq + Hash, V, S: BuildHasher + Clone> RotatingMap<K, V, S> {
    /// A map with `num_buckets` (at least 2) buckets hashing with `hasher`.
    pub fn with_hasher(num_buckets: usize, hasher: S) -> Result<Self, AckerError> {
        if num_buckets < 2 {
            return Err(AckerError::TooFewBuckets(num_buckets));
        }
        Ok(RotatingMap::build(num_buckets, hasher))
    }

    /// Infallible constructor for the crate's constant bucket counts (raised to 2 if lower).
    pub(crate) fn build(num_buckets: usize, hasher: S) -> Self {
        RotatingMap {
            entries: HashMap::with_hasher(hasher.clone()),
            // Start high enough that `newest − (num_buckets − 1)` never underflows.
            newest: num_buckets.max(2) as u64,
            num_buckets: num_buckets.max(2) as u64,
            hasher,
        }
    }

    /// Expires the oldest bucket: returns its entries and starts a new, empty newest bucket.
    pub fn rotate(&mut self) -> HashMap<K, V, S> {
        let oldest = self.newest - (self.num_buckets - 1);
        let mut dead = HashMap::with_hasher(self.hasher.clone());
        // One pass over the live entries (`HashMap::extract_if` needs Rust 1.88; the MSRV is 1.85).
        let fresh = HashMap::with_capacity_and_hasher(self.entries.len(), self.hasher.clone());
        let live = std::mem::replace(&mut self.entries, fresh);
        for (key, slot) in live {
            if slot.generation <= oldest {
                dead.insert(key, slot.value);
            } else {
                self.entries.insert(key, slot);
            }
        }
        self.newest += 1;
        dead
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key).map(|slot| &slot.value)
    }

    /// Mutable access in place (the entry stays in its bucket, as a Java `get` then mutate does).
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.entries.get_mut(key).map(|slot| &mut slot.value)
    }

    /// Puts `key` in the newest bucket, removing it from the others; returns the value it replaces.
    pub fn put(&mut self, key: K, value: V) -> Option<V> {
        let slot = Slot {
            generation: self.newest,
            value,
        };
        self.entries.insert(key, slot).map(|old| old.value)
    }

    /// The value of `key` wherever it is (not moving it), or `default()` put in the newest bucket.
    pub fn get_or_insert_with(&mut self, key: K, default: impl FnOnce() -> V) -> &mut V {
        let generation = self.newest;
        &mut self
            .entries
            .entry(key)
            .or_insert_with(|| Slot {
                generation,
                value: default(),
            })
            .value
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.entries.remove(key).map(|slot| slot.value)
    }

    /// Number of entries over all buckets.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn num_buckets(&self) -> usize {
        self.num_buckets as usize
    }

    /// Every entry, newest bucket first.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        let mut all: Vec<(&K, &Slot<V>)> = self.entries.iter().collect();
        all.sort_by_key(|(_, slot)| std::cmp::Reverse(slot.generation));
        all.into_iter().map(|(k, slot)| (k, &slot.value))
    }
}

/// FNV-1a steps over `bytes` from `state`: the id hashers' path for keys other than one integer.
#[inline]
fn fnv_bytes(state: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(state, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Hasher for the random 64-bit ids the acker and spouts key on: a SplitMix64 finalizer over the id,
/// much cheaper than SipHash and with well-mixed low and high bits.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0 = fnv_bytes(self.0, bytes);
    }

    #[inline]
    fn write_i64(&mut self, v: i64) {
        self.write_u64(v as u64);
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        let mut z = (self.0 ^ v).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        self.0 = z ^ (z >> 31);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// [`BuildHasher`] for [`IdHasher`].
pub type IdBuildHasher = BuildHasherDefault<IdHasher>;

/// Hasher for the acker's map of root ids: the id itself. A root's high bits are random, and its low
/// bits name the slot it holds in its spout's pending map (see `acker::spout_pending`), which the
/// spout hands out in turn; so with the table's position taken from the low bits, trees started one
/// after another sit side by side in the acker's table as in the spout's slab, and the acker works
/// through a few hot cache lines instead of jumping across the whole table. The random high bits
/// give `hashbrown` its tag bits and spread the roots of several spouts (bits above the slot index).
#[derive(Debug, Clone, Copy, Default)]
pub struct RootHasher(u64);

impl Hasher for RootHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0 = fnv_bytes(self.0, bytes);
    }

    /// (`write_i64`'s default comes here too.)
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// [`BuildHasher`] for [`RootHasher`].
pub type RootBuildHasher = BuildHasherDefault<RootHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_two_buckets() {
        assert!(matches!(
            RotatingMap::<i64, ()>::new(1),
            Err(AckerError::TooFewBuckets(1))
        ));
        assert!(RotatingMap::<i64, ()>::new(2).is_ok());
    }

    #[test]
    fn entries_expire_after_n_rotations() {
        let mut m = RotatingMap::new(3).unwrap();
        m.put(1, "a");
        assert!(m.rotate().is_empty());
        m.put(2, "b");
        assert!(m.rotate().is_empty());
        assert_eq!((m.len(), m.get(&1), m.get(&2)), (2, Some(&"a"), Some(&"b")));
        let dead = m.rotate();
        assert_eq!(dead.into_iter().collect::<Vec<_>>(), [(1, "a")]);
        assert!(!m.contains_key(&1));
        assert_eq!(m.rotate().len(), 1);
        assert!(m.is_empty());
    }

    #[test]
    fn put_moves_to_the_newest_bucket() {
        let mut m = RotatingMap::with_hasher(2, IdBuildHasher::default()).unwrap();
        m.put(7i64, 1);
        m.rotate();
        assert_eq!(m.put(7, 2), Some(1));
        assert_eq!(m.len(), 1);
        assert!(m.rotate().is_empty(), "refreshed by put");
        assert_eq!(m.rotate().remove(&7), Some(2));
    }

    #[test]
    fn get_mut_and_remove() {
        let mut m = RotatingMap::new(2).unwrap();
        m.put("k", 1);
        m.rotate();
        *m.get_mut(&"k").unwrap() += 1;
        assert_eq!(m.get(&"k"), Some(&2));
        assert_eq!(m.iter().count(), 1);
        *m.get_or_insert_with("k", || 100) += 1;
        assert_eq!(m.get(&"k"), Some(&3), "existing value kept");
        assert_eq!(*m.get_or_insert_with("new", || 100), 100);
        assert_eq!(m.remove(&"new"), Some(100));
        // get_mut does not refresh: the next rotation expires it.
        assert_eq!(m.rotate().len(), 1);
        m.put("j", 3);
        assert_eq!(m.remove(&"j"), Some(3));
        assert_eq!(m.remove(&"j"), None);
        assert_eq!(m.num_buckets(), 2);
    }

    /// Storm's layout, kept as the model: N maps, newest first, every read looking in each.
    struct Buckets(std::collections::VecDeque<HashMap<u8, u32>>);

    impl Buckets {
        fn new(n: usize) -> Self {
            Buckets((0..n).map(|_| HashMap::new()).collect())
        }
        fn put(&mut self, k: u8, v: u32) -> Option<u32> {
            let mut prev = None;
            for b in self.0.iter_mut().skip(1) {
                prev = b.remove(&k).or(prev);
            }
            self.0[0].insert(k, v).or(prev)
        }
        fn get_or_insert(&mut self, k: u8, v: u32) -> u32 {
            let i = self.0.iter().position(|b| b.contains_key(&k)).unwrap_or(0);
            *self.0[i].entry(k).or_insert(v)
        }
        fn remove(&mut self, k: u8) -> Option<u32> {
            self.0.iter_mut().find_map(|b| b.remove(&k))
        }
        fn rotate(&mut self) -> Vec<(u8, u32)> {
            let mut dead: Vec<_> = self.0.pop_back().unwrap().into_iter().collect();
            dead.sort();
            self.0.push_front(HashMap::new());
            dead
        }
    }

    proptest::proptest! {
        /// One map with generations behaves exactly as Storm's N buckets under any operation sequence.
        #[test]
        fn matches_storms_buckets(
            n in 2usize..5,
            ops in proptest::collection::vec((0u8..5, 0u8..12, proptest::prelude::any::<u32>()), 0..300),
        ) {
            let mut map = RotatingMap::with_hasher(n, IdBuildHasher::default()).unwrap();
            let mut model = Buckets::new(n);
            for (op, k, v) in ops {
                match op {
                    0 => proptest::prop_assert_eq!(map.put(k, v), model.put(k, v)),
                    1 => proptest::prop_assert_eq!(*map.get_or_insert_with(k, || v), model.get_or_insert(k, v)),
                    2 => proptest::prop_assert_eq!(map.remove(&k), model.remove(k)),
                    3 => {
                        let mut dead: Vec<_> = map.rotate().into_iter().collect();
                        dead.sort();
                        proptest::prop_assert_eq!(dead, model.rotate());
                    }
                    _ => {
                        if let Some(x) = map.get_mut(&k) {
                            *x = x.wrapping_add(v);
                        }
                        if let Some(x) = model.0.iter_mut().find_map(|b| b.get_mut(&k)) {
                            *x = x.wrapping_add(v);
                        }
                    }
                }
                let model_len: usize = model.0.iter().map(HashMap::len).sum();
                proptest::prop_assert_eq!(map.len(), model_len);
                proptest::prop_assert_eq!(map.get(&k), model.0.iter().find_map(|b| b.get(&k)));
            }
        }
    }
}
