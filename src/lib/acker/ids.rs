//! Root and edge ids for tuple trees: [`EdgeIdGen`], a fast seedable 64-bit generator, and the acker task
//! choice ([`acker_index`], [`acker_task`]).

use crate::grouping::entropy_seed;
use crate::tuple::long_hash_code;

/// SplitMix64: one add and two multiply-xorshift rounds per id, full 2^64 period, every output once.
/// Storm draws ids from `java.util.Random.nextLong()`; any good 64-bit source gives the same guarantees.
#[derive(Debug, Clone)]
pub struct EdgeIdGen {
    state: u64,
}

impl EdgeIdGen {
    pub fn new(seed: u64) -> EdgeIdGen {
        EdgeIdGen { state: seed }
    }

    /// A generator with an unpredictable seed (one per executor, as Storm seeds its `Random`).
    pub fn from_entropy() -> EdgeIdGen {
        EdgeIdGen::new(entropy_seed())
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A non-zero id. Zero is skipped because an edge of 0 would vanish from the XOR and let a tree
    /// complete with that tuple unacked.
    #[inline]
    pub fn next_id(&mut self) -> i64 {
        loop {
            let id = self.next_u64() as i64;
            if id != 0 {
                return id;
            }
        }
    }
}

/// Which of `num_ackers` acker tasks (by position in the sorted acker task ids) handles `root`: Storm's
/// fields grouping on `id`, `floorMod(deepHashCode([root]), n)` = `floorMod(31 + Long.hashCode(root), n)`.
/// `None` when there are no ackers.
#[inline]
pub fn acker_index(root: i64, num_ackers: usize) -> Option<usize> {
    if num_ackers == 0 {
        return None;
    }
    let hash = 31i32.wrapping_add(long_hash_code(root));
    Some(i64::from(hash).rem_euclid(num_ackers as i64) as usize)
}

/// The acker task for `root` among `sorted_acker_tasks` (ascending, as groupers see them).
#[inline]
pub fn acker_task(root: i64, sorted_acker_tasks: &[i32]) -> Option<i32> {
    acker_index(root, sorted_acker_tasks.len()).map(|i| sorted_acker_tasks[i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grouping::fields_task_index;
    use crate::tuple::Value;

    #[test]
    fn acker_index_matches_java() {
        // (root, floorMod(Arrays.deepHashCode(new Object[]{root}), 3), …, 5), printed by jshell.
        let cases: [(i64, usize, usize); 7] = [
            (0, 1, 1),
            (1, 2, 2),
            (-1, 1, 1),
            (1234567890123456789, 1, 2),
            (i64::MIN, 2, 3),
            (-8446744073709551616, 0, 0),
            (42, 1, 3),
        ];
        for (root, n3, n5) in cases {
            assert_eq!(acker_index(root, 3), Some(n3), "{root}");
            assert_eq!(acker_index(root, 5), Some(n5), "{root}");
            assert_eq!(acker_index(root, 1), Some(0));
            // Same as a fields grouping on the id.
            assert_eq!(fields_task_index(&[Value::Long(root)], 5), Some(n5));
        }
        assert_eq!(acker_index(7, 0), None);
        assert_eq!(acker_task(42, &[2, 4, 6]), Some(4));
        assert_eq!(acker_task(42, &[]), None);
    }

    #[test]
    fn ids_are_seeded_and_non_zero() {
        let a: Vec<i64> = {
            let mut g = EdgeIdGen::new(9);
            (0..100).map(|_| g.next_id()).collect()
        };
        let mut g = EdgeIdGen::new(9);
        let b: Vec<i64> = (0..100).map(|_| g.next_id()).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|&id| id != 0));
        let distinct: std::collections::HashSet<_> = a.iter().collect();
        assert_eq!(distinct.len(), 100);
        // The state that makes SplitMix64 output 0 is skipped, never returned.
        let mut zero = EdgeIdGen::new(0u64.wrapping_sub(0x9e37_79b9_7f4a_7c15));
        assert_ne!(zero.next_id(), 0);
    }
}
