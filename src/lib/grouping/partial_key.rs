//! Storm's `PartialKeyGrouping`: key splitting over two candidate tasks per key ("power of two choices").
//!
//! The key's bytes are, for each grouping field, the 4-byte big-endian Java hash of its value (without
//! grouping fields: the UTF-8 bytes of `values[0].toString()`). A `java.util.Random` seeded with
//! `Arrays.hashCode(keyBytes)` draws the two candidates `c1 = nextInt(n)`, `c2 = nextInt(n)` (moved to
//! `(c2 + 1) % n` if equal), so every worker, Java or Rust, derives the same pair for a key. Of the two, the
//! grouper sends to the one it has sent fewer tuples to so far (ties: the first).

use std::fmt::{self, Write as _};

use super::random::JavaRandom;
use crate::tuple::{FieldsError, Value};

/// Storm's `PartialKeyGrouping` with the default `RandomTwoTaskAssignmentCreator` and
/// `BalancedTargetSelector`.
#[derive(Debug, Clone)]
pub struct PartialKeyGrouper {
    targets: Vec<i32>,
    /// Positions of the grouping fields in the stream's output fields; `None`: key on `values[0]`.
    key_indices: Option<Vec<usize>>,
    key_names: Vec<String>,
    /// Tuples sent so far to each target, by target position.
    sent: Vec<u64>,
}

/// `Arrays.hashCode(byte[])` computed incrementally over a byte stream.
struct ByteHash(i32);

impl ByteHash {
    #[inline]
    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.wrapping_mul(31).wrapping_add(i32::from(b as i8));
        }
    }
}

impl fmt::Write for ByteHash {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

impl PartialKeyGrouper {
    /// `targets` sorted; `key_indices` from `Fields::indices_of` (with the names, for errors), or `None`
    /// for Storm's field-less form.
    pub fn new(
        targets: &[i32],
        key_indices: Option<Vec<usize>>,
        key_names: Vec<String>,
    ) -> PartialKeyGrouper {
        PartialKeyGrouper {
            targets: targets.to_vec(),
            key_indices,
            key_names,
            sent: vec![0; targets.len()],
        }
    }

    /// `Arrays.hashCode(keyBytes)` for a tuple, without materializing the key bytes.
    pub fn key_seed(&self, values: &[Value]) -> Result<i32, FieldsError> {
        let mut h = ByteHash(1);
        match &self.key_indices {
            Some(indices) => {
                for (n, &i) in indices.iter().enumerate() {
                    let v = values.get(i).ok_or_else(|| FieldsError::MissingValue {
                        field: self.key_names.get(n).cloned().unwrap_or_default(),
                        index: i,
                        len: values.len(),
                    })?;
                    h.push(&v.java_hash_code().to_be_bytes());
                }
            }
            None => {
                if let Some(first) = values.first() {
                    // Writing into ByteHash cannot fail.
                    let _ = write!(h, "{}", first.java_display());
                }
            }
        }
        Ok(h.0)
    }

    /// The two candidate target positions for a key seed (Storm's `RandomTwoTaskAssignmentCreator`);
    /// `None` without targets.
    pub fn candidates(&self, seed: i32) -> Option<(usize, usize)> {
        let n = self.targets.len();
        if n == 0 {
            return None;
        }
        let mut rng = JavaRandom::new(i64::from(seed));
        let c1 = rng.next_index(n);
        let mut c2 = rng.next_index(n);
        if c1 == c2 {
            c2 = (c2 + 1) % n;
        }
        Some((c1, c2))
    }

    /// The target for one tuple; `None` for an empty tuple or without targets (as Storm, which returns an
    /// empty list for an empty tuple).
    pub fn choose(&mut self, values: &[Value]) -> Result<Option<i32>, FieldsError> {
        if values.is_empty() {
            return Ok(None);
        }
        let seed = self.key_seed(values)?;
        let Some((c1, c2)) = self.candidates(seed) else {
            return Ok(None);
        };
        let pick = if self.sent[c2] < self.sent[c1] {
            c2
        } else {
            c1
        };
        self.sent[pick] += 1;
        Ok(Some(self.targets[pick]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grouper(n: i32, fields: usize) -> PartialKeyGrouper {
        let targets: Vec<i32> = (1..=n).collect();
        let indices = (fields > 0).then(|| (0..fields).collect());
        PartialKeyGrouper::new(&targets, indices, vec!["f".into(); fields])
    }

    // Seeds and candidates printed by OpenJDK 17's jshell, replaying PartialKeyGrouping's code.

    #[test]
    fn seeds_and_candidates_match_java_with_fields() {
        let g = grouper(5, 1);
        let cases: [(Value, i32, (usize, usize)); 5] = [
            (Value::from("apple"), 956254, (2, 3)),
            (Value::from("the"), 922611, (0, 4)),
            (Value::Long(42), 923563, (1, 2)),
            (
                Value::List(vec![Value::Int(1), Value::Int(2)]),
                923584,
                (0, 2),
            ),
            (Value::Null, 923521, (0, 3)),
        ];
        for (v, seed, cands) in cases {
            let got = g.key_seed(std::slice::from_ref(&v)).unwrap();
            assert_eq!(got, seed, "{v:?}");
            assert_eq!(g.candidates(got), Some(cands), "{v:?}");
        }
        let g2 = grouper(5, 2);
        let seed = g2.key_seed(&[Value::from("a"), Value::Int(7)]).unwrap();
        assert_eq!(seed, -1717872919);
        assert_eq!(g2.candidates(seed), Some((2, 3)));
    }

    #[test]
    fn seeds_and_candidates_match_java_without_fields() {
        let g = grouper(6, 0);
        let cases: [(Value, i32, (usize, usize)); 6] = [
            (Value::from("apple"), 121658361, (1, 3)),
            (Value::Long(42), 2623, (1, 2)),
            (Value::Int(7), 86, (3, 4)),
            (Value::Bool(true), 4492559, (5, 0)),
            (Value::from("h\u{e9}llo"), -488851262, (2, 5)),
            (Value::Double(1.5), 78359, (4, 3)),
        ];
        for (v, seed, cands) in cases {
            let got = g.key_seed(&[v.clone(), Value::from("ignored")]).unwrap();
            assert_eq!(got, seed, "{v:?}");
            assert_eq!(g.candidates(got), Some(cands), "{v:?}");
        }
    }

    #[test]
    fn alternates_between_the_two_candidates() {
        let mut g = grouper(5, 1);
        let key = [Value::from("apple")];
        // Candidates (2, 3) → tasks 3 and 4: first (tie) then the less used.
        let got: Vec<i32> = (0..6).map(|_| g.choose(&key).unwrap().unwrap()).collect();
        assert_eq!(got, [3, 4, 3, 4, 3, 4]);
    }

    #[test]
    fn edge_cases() {
        let mut g = grouper(1, 1);
        assert_eq!(g.choose(&[Value::from("x")]), Ok(Some(1)));
        assert_eq!(g.choose(&[]), Ok(None));
        let mut none = grouper(0, 1);
        assert_eq!(none.choose(&[Value::from("x")]), Ok(None));
        let mut g = PartialKeyGrouper::new(&[1, 2], Some(vec![3]), vec!["k".into()]);
        assert!(matches!(
            g.choose(&[Value::Null]),
            Err(FieldsError::MissingValue { index: 3, .. })
        ));
    }
}
