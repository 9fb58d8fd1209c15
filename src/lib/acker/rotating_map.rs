//! [`RotatingMap`]: Storm's bucketed expiry map (`org.apache.storm.utils.RotatingMap`).
//!
//! Keys live in one of N buckets, newest first. `put` writes to the newest bucket (removing the key from
//! the others); reads and `remove` look in every bucket; [`RotatingMap::rotate`] drops the oldest bucket,
//! returning its entries, and adds an empty newest one. A key not written again therefore expires after
//! between N−1 and N rotations, which is how Storm times out tuple trees without per-entry timers.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

use super::AckerError;

/// The bucketed expiry map. `S` is the hasher of the buckets.
#[derive(Debug, Clone)]
pub struct RotatingMap<K, V, S = RandomState> {
    /// Front = newest.
    buckets: VecDeque<HashMap<K, V, S>>,
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
        let buckets = (0..num_buckets.max(2))
            .map(|_| HashMap::with_hasher(hasher.clone()))
            .collect();
        RotatingMap { buckets, hasher }
    }

    /// Expires the oldest bucket: returns its entries and starts a new, empty newest bucket.
    pub fn rotate(&mut self) -> HashMap<K, V, S> {
        let dead = self
            .buckets
            .pop_back()
            .unwrap_or_else(|| HashMap::with_hasher(self.hasher.clone()));
        self.buckets
            .push_front(HashMap::with_hasher(self.hasher.clone()));
        dead
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.buckets.iter().any(|b| b.contains_key(key))
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.buckets.iter().find_map(|b| b.get(key))
    }

    /// Mutable access in place (the entry stays in its bucket, as a Java `get` then mutate does).
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.buckets.iter_mut().find_map(|b| b.get_mut(key))
    }

    /// Puts `key` in the newest bucket, removing it from the others; returns the value it replaces.
    pub fn put(&mut self, key: K, value: V) -> Option<V> {
        let mut previous = None;
        let mut buckets = self.buckets.iter_mut();
        let newest = buckets.next()?;
        for older in buckets {
            if let Some(v) = older.remove(&key) {
                previous = Some(v);
            }
        }
        newest.insert(key, value).or(previous)
    }

    /// The value of `key` wherever it is (not moving it), or `default()` put in the newest bucket.
    pub fn get_or_insert_with(&mut self, key: K, default: impl FnOnce() -> V) -> &mut V {
        let bucket = self
            .buckets
            .iter()
            .position(|b| b.contains_key(&key))
            .unwrap_or(0);
        self.buckets[bucket].entry(key).or_insert_with(default)
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.buckets.iter_mut().find_map(|b| b.remove(key))
    }

    /// Number of entries over all buckets.
    pub fn len(&self) -> usize {
        self.buckets.iter().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.iter().all(HashMap::is_empty)
    }

    pub fn num_buckets(&self) -> usize {
        self.buckets.len()
    }

    /// Every entry, newest bucket first.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.buckets.iter().flat_map(|b| b.iter())
    }
}

/// Hasher for the random 64-bit ids the acker and spouts key on: a SplitMix64 finalizer over the id,
/// much cheaper than SipHash and with well-mixed low and high bits.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
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
}
