//! Random numbers for groupings: [`JavaRandom`], a bit-exact `java.util.Random`, and [`entropy_seed`].
//!
//! Partial-key grouping seeds a `java.util.Random` from the key and must draw the same two candidate tasks
//! as Java Storm, so the 48-bit LCG, its seed scrambling and `nextInt(bound)` (power-of-two shortcut and
//! rejection loop) are reproduced exactly. The shuffles and `none` grouping use the same generator with
//! the seed the caller gives, so tests are deterministic.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const MULTIPLIER: i64 = 0x5_DEEC_E66D;
const ADDEND: i64 = 0xB;
const MASK: i64 = (1 << 48) - 1;

/// `java.util.Random`: same seed, same sequence as the JDK.
#[derive(Debug, Clone)]
pub struct JavaRandom {
    seed: i64,
}

impl JavaRandom {
    /// `new Random(seed)`: the seed is scrambled with the multiplier, as the JDK does.
    pub fn new(seed: i64) -> JavaRandom {
        JavaRandom {
            seed: (seed ^ MULTIPLIER) & MASK,
        }
    }

    /// `next(bits)`: the top `bits` (1..=32) of the advanced 48-bit state.
    #[inline]
    fn next(&mut self, bits: u32) -> i32 {
        self.seed = self.seed.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND) & MASK;
        (self.seed >> (48 - bits)) as i32
    }

    /// `nextInt()`.
    pub fn next_int(&mut self) -> i32 {
        self.next(32)
    }

    /// `nextInt(bound)`: uniform in `[0, bound)`. Java throws for `bound <= 0`; this returns 0 instead,
    /// and callers only pass positive bounds.
    pub fn next_int_bounded(&mut self, bound: i32) -> i32 {
        if bound <= 0 {
            return 0;
        }
        let mut r = self.next(31);
        let m = bound - 1;
        if bound & m == 0 {
            // A power of two: take the high bits.
            return ((i64::from(bound) * i64::from(r)) >> 31) as i32;
        }
        // Reject the top partial range so the result is unbiased (the JDK's overflow test).
        let mut u = r;
        loop {
            r = u % bound;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }

    /// `nextInt(bound)` for a collection length; 0 when `len` is 0.
    pub fn next_index(&mut self, len: usize) -> usize {
        let bound = i32::try_from(len).unwrap_or(i32::MAX);
        self.next_int_bounded(bound) as usize
    }

    /// `nextLong()`.
    pub fn next_long(&mut self) -> i64 {
        (i64::from(self.next(32)) << 32).wrapping_add(i64::from(self.next(32)))
    }

    /// `Collections.shuffle(list, this)` on a random-access list: swap `i-1` with `nextInt(i)` from the end.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (2..=items.len()).rev() {
            let j = self.next_index(i);
            items.swap(i - 1, j);
        }
    }
}

/// A fresh, unpredictable 64-bit seed (OS-seeded hasher keys, the clock and a process-wide counter), for
/// groupers and id generators whose seed is not fixed by a test.
pub fn entropy_seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected sequences printed by OpenJDK 17's jshell.

    #[test]
    fn next_int_bounded_matches_jdk() {
        let mut r = JavaRandom::new(42);
        let got: Vec<i32> = (0..10).map(|_| r.next_int_bounded(10)).collect();
        assert_eq!(got, [0, 3, 8, 4, 0, 5, 5, 8, 9, 3]);
        // Power-of-two bound path.
        let mut r = JavaRandom::new(42);
        let got: Vec<i32> = (0..10).map(|_| r.next_int_bounded(16)).collect();
        assert_eq!(got, [11, 0, 10, 0, 4, 15, 4, 11, 10, 1]);
        // A bound just above 2^30 makes the rejection loop run.
        let mut r = JavaRandom::new(0);
        let got: Vec<i32> = (0..10).map(|_| r.next_int_bounded(1_000_000_007)).collect();
        assert_eq!(
            got,
            [
                569741353, 785505941, 516548029, 302116440, 368843508, 663681053, 182054484,
                251269761, 283218712, 678332847
            ]
        );
        let mut r = JavaRandom::new(1);
        let got: Vec<i32> = (0..10).map(|_| r.next_int_bounded(i32::MAX)).collect();
        assert_eq!(
            got,
            [
                1569548985, 215764588, 880641847, 874970313, 446064254, 77814904, 714504434,
                1414906606, 2078239978, 1526301748
            ]
        );
    }

    #[test]
    fn next_int_and_long_match_jdk() {
        let mut r = JavaRandom::new(123456789);
        let got: Vec<i32> = (0..8).map(|_| r.next_int()).collect();
        assert_eq!(
            got,
            [
                -1442945365,
                -1016548095,
                1962592967,
                1094656688,
                1677212580,
                930275108,
                -458096230,
                1827465615
            ]
        );
        let mut r = JavaRandom::new(-7);
        let got: Vec<i64> = (0..5).map(|_| r.next_long()).collect();
        assert_eq!(
            got,
            [
                4964420944606563203,
                -6028743012628894217,
                -8826958116857042465,
                -2732364192705608872,
                1581709715777812225
            ]
        );
    }

    #[test]
    fn shuffle_matches_collections_shuffle() {
        // Collections.shuffle([1..=10], new Random(99))
        let mut v: Vec<i32> = (1..=10).collect();
        JavaRandom::new(99).shuffle(&mut v);
        assert_eq!(v, [9, 2, 5, 4, 10, 7, 1, 3, 6, 8]);
    }

    #[test]
    fn bad_bound_does_not_panic() {
        let mut r = JavaRandom::new(1);
        assert_eq!(r.next_int_bounded(0), 0);
        assert_eq!(r.next_int_bounded(-5), 0);
        assert_eq!(r.next_index(0), 0);
    }

    #[test]
    fn entropy_seeds_differ() {
        assert_ne!(entropy_seed(), entropy_seed());
    }
}
