//! [`Acker`]: the state machine of one `__acker` task (Storm's `Acker.execute`, storm-internals §5.5),
//! and the messages it consumes ([`AckerMessage`]) and produces ([`AckerOutcome`]).
//!
//! Per root id the acker keeps `val` (the XOR of every edge id it was told about), the spout task (known
//! once `__ack_init` arrived), a start time and a failed flag, in a 3-bucket [`RotatingMap`]. Every edge id
//! is XORed in twice, once when its tuple is created (in the parent's ack or the spout's init) and once
//! when it is acked, so `val` returns to 0 exactly when the whole tree is acked, whatever the order the
//! messages arrive in. Only after the init has arrived does the acker report: `val == 0` → complete,
//! else failed → fail, else a reset-timeout request → reset. Ticks rotate the map; a tree untouched for
//! three ticks is dropped silently (its spout has timed it out by then).

use super::rotating_map::{RootBuildHasher, RotatingMap};
use super::{
    AckerError, ACKER_ACK_STREAM_ID, ACKER_FAIL_STREAM_ID, ACKER_INIT_STREAM_ID,
    ACKER_RESET_TIMEOUT_STREAM_ID, ACKER_TIMEOUT_BUCKETS,
};
use crate::tuple::Value;

/// A message on one of the acker's input streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckerMessage {
    /// `__ack_init [root, XOR of the spout tuple's edge ids, spout task]`.
    Init {
        root: i64,
        init_val: i64,
        spout_task: i32,
    },
    /// `__ack_ack [root, input's edge xor ^ XOR of its anchored children's edges]`.
    Ack { root: i64, ack_val: i64 },
    /// `__ack_fail [root]`.
    Fail { root: i64 },
    /// `__ack_reset_timeout [root]`.
    ResetTimeout { root: i64 },
}

impl AckerMessage {
    /// Parses a tuple received on `stream`. The root and XOR values may be `Long` or `Int`, the spout task
    /// an `Int` or a `Long` that fits.
    pub fn from_tuple(stream: &str, values: &[Value]) -> Result<AckerMessage, AckerError> {
        let long = |index: usize| -> Result<i64, AckerError> {
            let v = values.get(index).ok_or_else(|| AckerError::MissingValue {
                stream: stream.to_owned(),
                index,
                len: values.len(),
            })?;
            v.as_i64().ok_or_else(|| AckerError::BadValue {
                stream: stream.to_owned(),
                index,
                expected: "Long",
                found: v.type_name(),
            })
        };
        let root = long(0)?;
        match stream {
            ACKER_INIT_STREAM_ID => {
                let init_val = long(1)?;
                let spout_task = i32::try_from(long(2)?).map_err(|_| AckerError::BadValue {
                    stream: stream.to_owned(),
                    index: 2,
                    expected: "Integer",
                    found: "Long",
                })?;
                Ok(AckerMessage::Init {
                    root,
                    init_val,
                    spout_task,
                })
            }
            ACKER_ACK_STREAM_ID => Ok(AckerMessage::Ack {
                root,
                ack_val: long(1)?,
            }),
            ACKER_FAIL_STREAM_ID => Ok(AckerMessage::Fail { root }),
            ACKER_RESET_TIMEOUT_STREAM_ID => Ok(AckerMessage::ResetTimeout { root }),
            other => Err(AckerError::UnknownStream(other.to_owned())),
        }
    }

    /// The stream this message travels on.
    pub fn stream(&self) -> &'static str {
        match self {
            AckerMessage::Init { .. } => ACKER_INIT_STREAM_ID,
            AckerMessage::Ack { .. } => ACKER_ACK_STREAM_ID,
            AckerMessage::Fail { .. } => ACKER_FAIL_STREAM_ID,
            AckerMessage::ResetTimeout { .. } => ACKER_RESET_TIMEOUT_STREAM_ID,
        }
    }

    /// The tuple tree this message is about (also what routes it to an acker task).
    pub fn root(&self) -> i64 {
        match *self {
            AckerMessage::Init { root, .. }
            | AckerMessage::Ack { root, .. }
            | AckerMessage::Fail { root }
            | AckerMessage::ResetTimeout { root } => root,
        }
    }

    /// The tuple values, as Storm's executors send them.
    pub fn values(&self) -> Vec<Value> {
        match *self {
            AckerMessage::Init {
                root,
                init_val,
                spout_task,
            } => vec![
                Value::Long(root),
                Value::Long(init_val),
                Value::Int(spout_task),
            ],
            AckerMessage::Ack { root, ack_val } => vec![Value::Long(root), Value::Long(ack_val)],
            AckerMessage::Fail { root } | AckerMessage::ResetTimeout { root } => {
                vec![Value::Long(root)]
            }
        }
    }
}

/// What the acker tells a spout task (by direct emit), with the time since the acker first saw the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckerOutcome {
    /// The tree is fully acked: `__ack_ack [root, time_delta_ms]`.
    Complete {
        root: i64,
        spout_task: i32,
        time_delta_ms: u64,
    },
    /// Some tuple of the tree failed: `__ack_fail [root, time_delta_ms]`.
    Failed {
        root: i64,
        spout_task: i32,
        time_delta_ms: u64,
    },
    /// A bolt asked to restart the tree's timeout: `__ack_reset_timeout [root, time_delta_ms]`.
    ResetTimeout {
        root: i64,
        spout_task: i32,
        time_delta_ms: u64,
    },
}

impl AckerOutcome {
    /// The stream the outcome is emitted on (direct to [`spout_task`](Self::spout_task)).
    pub fn stream(&self) -> &'static str {
        match self {
            AckerOutcome::Complete { .. } => ACKER_ACK_STREAM_ID,
            AckerOutcome::Failed { .. } => ACKER_FAIL_STREAM_ID,
            AckerOutcome::ResetTimeout { .. } => ACKER_RESET_TIMEOUT_STREAM_ID,
        }
    }

    fn parts(&self) -> (i64, i32, u64) {
        match *self {
            AckerOutcome::Complete {
                root,
                spout_task,
                time_delta_ms,
            }
            | AckerOutcome::Failed {
                root,
                spout_task,
                time_delta_ms,
            }
            | AckerOutcome::ResetTimeout {
                root,
                spout_task,
                time_delta_ms,
            } => (root, spout_task, time_delta_ms),
        }
    }

    pub fn root(&self) -> i64 {
        self.parts().0
    }

    /// The spout task that emitted the root tuple.
    pub fn spout_task(&self) -> i32 {
        self.parts().1
    }

    pub fn time_delta_ms(&self) -> u64 {
        self.parts().2
    }

    /// The tuple values `[root, time_delta_ms]`.
    pub fn values(&self) -> Vec<Value> {
        self.value_pair().to_vec()
    }

    /// [`AckerOutcome::values`] without allocating.
    pub fn value_pair(&self) -> [Value; 2] {
        let (root, _, delta) = self.parts();
        [
            Value::Long(root),
            Value::Long(i64::try_from(delta).unwrap_or(i64::MAX)),
        ]
    }
}

/// One tuple tree's state (Storm's `AckObject`).
#[derive(Debug, Clone, Copy)]
struct AckEntry {
    val: i64,
    start_ms: u64,
    /// −1 until `__ack_init` arrives.
    spout_task: i32,
    failed: bool,
}

impl AckEntry {
    fn new(now_ms: u64) -> AckEntry {
        AckEntry {
            val: 0,
            start_ms: now_ms,
            spout_task: -1,
            failed: false,
        }
    }
}

/// The state of one acker task: per root id the XOR of its edge ids, its spout task, start time and
/// failed flag, in a 3-bucket [`RotatingMap`] rotated by [`Acker::tick`].
#[derive(Debug, Clone)]
pub struct Acker {
    pending: RotatingMap<i64, AckEntry, RootBuildHasher>,
}

impl Default for Acker {
    fn default() -> Acker {
        Acker::new()
    }
}

impl Acker {
    pub fn new() -> Acker {
        Acker {
            pending: RotatingMap::build(ACKER_TIMEOUT_BUCKETS, RootBuildHasher::default()),
        }
    }

    /// Handles one input message at time `now_ms`.
    pub fn handle(&mut self, message: AckerMessage, now_ms: u64) -> Option<AckerOutcome> {
        match message {
            AckerMessage::Init {
                root,
                init_val,
                spout_task,
            } => self.init(root, init_val, spout_task, now_ms),
            AckerMessage::Ack { root, ack_val } => self.ack(root, ack_val, now_ms),
            AckerMessage::Fail { root } => self.fail(root, now_ms),
            AckerMessage::ResetTimeout { root } => self.reset_timeout(root, now_ms),
        }
    }

    /// `__ack_init`: XOR in the spout tuples' edges and learn the spout task.
    pub fn init(
        &mut self,
        root: i64,
        init_val: i64,
        spout_task: i32,
        now_ms: u64,
    ) -> Option<AckerOutcome> {
        let entry = self.get_or_insert(root, now_ms);
        entry.val ^= init_val;
        entry.spout_task = spout_task;
        let entry = *entry;
        self.decide(root, entry, false, now_ms)
    }

    /// `__ack_ack`: XOR in an acked tuple's edge and its children's edges (may precede the init).
    pub fn ack(&mut self, root: i64, ack_val: i64, now_ms: u64) -> Option<AckerOutcome> {
        let entry = self.get_or_insert(root, now_ms);
        entry.val ^= ack_val;
        let entry = *entry;
        self.decide(root, entry, false, now_ms)
    }

    /// `__ack_fail`: mark the tree failed (and refresh its bucket).
    pub fn fail(&mut self, root: i64, now_ms: u64) -> Option<AckerOutcome> {
        let mut entry = self
            .pending
            .get(&root)
            .copied()
            .unwrap_or_else(|| AckEntry::new(now_ms));
        entry.failed = true;
        self.pending.put(root, entry);
        self.decide(root, entry, false, now_ms)
    }

    /// `__ack_reset_timeout`: refresh the tree's bucket and pass the request on to the spout.
    pub fn reset_timeout(&mut self, root: i64, now_ms: u64) -> Option<AckerOutcome> {
        let entry = self
            .pending
            .get(&root)
            .copied()
            .unwrap_or_else(|| AckEntry::new(now_ms));
        self.pending.put(root, entry);
        self.decide(root, entry, true, now_ms)
    }

    /// `__tick`: rotate; trees in the expiring bucket are dropped silently. Returns how many.
    pub fn tick(&mut self) -> usize {
        self.pending.rotate().len()
    }

    /// Number of trees the acker holds.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Whether the acker holds state for `root`.
    pub fn is_pending(&self, root: i64) -> bool {
        self.pending.contains_key(&root)
    }

    fn get_or_insert(&mut self, root: i64, now_ms: u64) -> &mut AckEntry {
        self.pending
            .get_or_insert_with(root, || AckEntry::new(now_ms))
    }

    fn decide(
        &mut self,
        root: i64,
        entry: AckEntry,
        reset: bool,
        now_ms: u64,
    ) -> Option<AckerOutcome> {
        if entry.spout_task < 0 || !(entry.val == 0 || entry.failed || reset) {
            return None;
        }
        let spout_task = entry.spout_task;
        let time_delta_ms = now_ms.saturating_sub(entry.start_ms);
        Some(if entry.val == 0 {
            self.pending.remove(&root);
            AckerOutcome::Complete {
                root,
                spout_task,
                time_delta_ms,
            }
        } else if entry.failed {
            self.pending.remove(&root);
            AckerOutcome::Failed {
                root,
                spout_task,
                time_delta_ms,
            }
        } else {
            AckerOutcome::ResetTimeout {
                root,
                spout_task,
                time_delta_ms,
            }
        })
    }
}
