//! [`WatermarkGenerator`]: event-time progress for windows over tuple timestamps (Storm's
//! `WaterMarkEventGenerator`). It tracks the highest timestamp seen on every input stream; a
//! watermark is the lowest of those (once every stream has delivered something) minus the allowed
//! lag, and only moves forward. A tuple older than the last watermark is late.

use std::collections::{BTreeMap, BTreeSet};

/// An input stream: (component, stream).
pub type StreamKey = (String, String);

#[derive(Debug, Clone)]
pub struct WatermarkGenerator {
    lag_ms: i64,
    inputs: BTreeSet<StreamKey>,
    latest: BTreeMap<StreamKey, i64>,
    last_watermark: i64,
}

impl WatermarkGenerator {
    /// A generator over `inputs` (the bolt's subscribed streams) allowing `lag_ms` of disorder.
    pub fn new(inputs: impl IntoIterator<Item = StreamKey>, lag_ms: i64) -> WatermarkGenerator {
        WatermarkGenerator {
            lag_ms,
            inputs: inputs.into_iter().collect(),
            latest: BTreeMap::new(),
            last_watermark: 0,
        }
    }

    /// Records a tuple's timestamp; false when the tuple is late (older than the last watermark).
    pub fn track(&mut self, stream: &StreamKey, ts: i64) -> bool {
        match self.latest.get_mut(stream) {
            Some(v) => *v = (*v).max(ts),
            None => {
                self.latest.insert(stream.clone(), ts);
            }
        }
        ts >= self.last_watermark
    }

    /// The next watermark, if it moved forward (Storm emits one every watermark interval).
    pub fn next_watermark(&mut self) -> Option<i64> {
        let slowest = if self.latest.len() >= self.inputs.len() && !self.latest.is_empty() {
            self.latest.values().copied().min().unwrap_or(0)
        } else {
            0
        };
        let ts = slowest.saturating_sub(self.lag_ms);
        if ts > self.last_watermark {
            self.last_watermark = ts;
            Some(ts)
        } else {
            None
        }
    }

    pub fn last_watermark(&self) -> i64 {
        self.last_watermark
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> StreamKey {
        ("spout".into(), s.into())
    }

    #[test]
    fn the_watermark_is_the_slowest_stream_minus_the_lag_and_only_moves_forward() {
        let mut g = WatermarkGenerator::new([key("a"), key("b")], 5);
        assert!(g.track(&key("a"), 100));
        assert_eq!(
            g.next_watermark(),
            None,
            "stream b has delivered nothing yet"
        );
        assert!(g.track(&key("b"), 50));
        assert_eq!(g.next_watermark(), Some(45));
        assert_eq!(g.next_watermark(), None, "no progress, no watermark");
        assert!(!g.track(&key("b"), 44), "older than the watermark: late");
        assert!(g.track(&key("b"), 45), "at the watermark: not late");
        assert!(g.track(&key("b"), 200));
        assert_eq!(g.next_watermark(), Some(95), "now stream a is the slowest");
    }
}
