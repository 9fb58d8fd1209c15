//! A windowed bolt's configuration: Storm's `topology.bolts.*` window keys in the component's
//! configuration, read into a [`WindowConfig`] and checked the way Storm's
//! `WindowedBoltExecutor.validate` checks them — but at submit ([`validate_topology`], called
//! from the system topology, so `storm local`, `storm jar` and any Thrift client get it) as well
//! as when a task prepares.

use serde_json::Value as Json;

use crate::api::{conf_bool, conf_i64, ConfMap};
use crate::thrift::StormTopology;

/// Storm's `Config.TOPOLOGY_BOLTS_WINDOW_LENGTH_COUNT`.
pub const WINDOW_LENGTH_COUNT: &str = "topology.bolts.window.length.count";
/// Storm's `Config.TOPOLOGY_BOLTS_WINDOW_LENGTH_DURATION_MS`.
pub const WINDOW_LENGTH_DURATION_MS: &str = "topology.bolts.window.length.duration.ms";
/// Storm's `Config.TOPOLOGY_BOLTS_SLIDING_INTERVAL_COUNT`.
pub const SLIDING_INTERVAL_COUNT: &str = "topology.bolts.window.sliding.interval.count";
/// Storm's `Config.TOPOLOGY_BOLTS_SLIDING_INTERVAL_DURATION_MS`.
pub const SLIDING_INTERVAL_DURATION_MS: &str = "topology.bolts.window.sliding.interval.duration.ms";
/// Storm's `Config.TOPOLOGY_BOLTS_LATE_TUPLE_STREAM`.
pub const LATE_TUPLE_STREAM: &str = "topology.bolts.late.tuple.stream";
/// Storm's `Config.TOPOLOGY_BOLTS_TUPLE_TIMESTAMP_MAX_LAG_MS`.
pub const TUPLE_TIMESTAMP_MAX_LAG_MS: &str = "topology.bolts.tuple.timestamp.max.lag.ms";
/// Storm's `Config.TOPOLOGY_BOLTS_WATERMARK_EVENT_INTERVAL_MS`.
pub const WATERMARK_EVENT_INTERVAL_MS: &str = "topology.bolts.watermark.event.interval.ms";
/// Storm's `Config.TOPOLOGY_BOLTS_MESSAGE_ID_FIELD_NAME` (stateful windowed bolts; read by none here).
pub const MESSAGE_ID_FIELD_NAME: &str = "topology.bolts.message.id.field.name";
/// storm-rs: the tuple field holding the event timestamp (Storm keeps its `TimestampExtractor` in
/// the bolt object; a Rust windowed bolt records the field name here).
pub const TUPLE_TIMESTAMP_FIELD_NAME: &str = "topology.bolts.tuple.timestamp.field.name";
/// storm-rs: most tuples a windowed bolt task holds (window + tuples waiting for one).
pub const WINDOW_MAX_TUPLES: &str = "topology.bolts.window.max.tuples";

/// Default of [`WINDOW_MAX_TUPLES`] when the configuration has none.
pub const DEFAULT_MAX_TUPLES: i64 = 1_000_000;
/// Storm's default watermark interval.
pub const DEFAULT_WATERMARK_INTERVAL_MS: i64 = 1000;

/// The field of the late-tuple stream (Storm's `WindowedBoltExecutor.LATE_TUPLE_FIELD`).
pub const LATE_TUPLE_FIELD: &str = "late_tuple";

/// A window length or sliding interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Count(i64),
    DurationMs(i64),
}

/// A windowed bolt's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowConfig {
    pub length: Span,
    pub sliding: Span,
    pub timestamp_field: Option<String>,
    pub lag_ms: i64,
    pub watermark_interval_ms: i64,
    pub late_tuple_stream: Option<String>,
    pub max_tuples: i64,
}

/// Why a window configuration is refused; each names the key and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowConfigError {
    #[error("component \"{component}\": Window length is not specified (set {WINDOW_LENGTH_COUNT} or {WINDOW_LENGTH_DURATION_MS}, e.g. with_window)")]
    NoLength { component: String },
    #[error("component \"{component}\": {key} must be a positive integer, got {value}")]
    NotPositive {
        component: String,
        key: &'static str,
        value: String,
    },
    #[error("component \"{component}\": Window duration (length + sliding interval) value {duration_ms} is more than topology.message.timeout.secs value {timeout_ms} (ms); tuples would time out in the window and be replayed: raise topology.message.timeout.secs above {min_secs} or shorten the window")]
    DurationOverTimeout {
        component: String,
        duration_ms: i64,
        timeout_ms: i64,
        min_secs: i64,
    },
    #[error("component \"{component}\": Window count (length + sliding interval) value {count} is more than topology.max.spout.pending value {max_pending}; the spouts would stall before the window fills: raise topology.max.spout.pending or shorten the window")]
    CountOverMaxPending {
        component: String,
        count: i64,
        max_pending: i64,
    },
    #[error("component \"{component}\": Window count (length + sliding interval) value {count} is more than {WINDOW_MAX_TUPLES} value {max}: raise {WINDOW_MAX_TUPLES} or shorten the window")]
    CountOverMaxTuples {
        component: String,
        count: i64,
        max: i64,
    },
    #[error("component \"{component}\": Late tuple stream can be defined only when specifying a timestamp field (with_timestamp_field)")]
    LateStreamWithoutTimestamp { component: String },
    #[error("component \"{component}\": Stream for late tuples must be defined with the builder method with_late_tuple_stream (stream \"{stream}\" is not declared)")]
    LateStreamUndeclared { component: String, stream: String },
    #[error("component \"{component}\": {message}")]
    Invalid { component: String, message: String },
}

/// Whether a component configuration is a windowed bolt's (has a window key).
pub fn is_windowed(conf: &ConfMap) -> bool {
    conf.contains_key(WINDOW_LENGTH_COUNT) || conf.contains_key(WINDOW_LENGTH_DURATION_MS)
}

fn positive(
    component: &str,
    conf: &ConfMap,
    key: &'static str,
) -> Result<Option<i64>, WindowConfigError> {
    match conf.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(v) => match conf_i64(conf, key) {
            Some(n) if n > 0 && n <= i64::from(i32::MAX) => Ok(Some(n)),
            _ => Err(WindowConfigError::NotPositive {
                component: component.to_owned(),
                key,
                value: v.to_string(),
            }),
        },
    }
}

impl WindowConfig {
    /// Reads the window of `component` from `conf` (the topology's configuration with the
    /// component's laid over it), with Storm's precedence (counts before durations) and defaults
    /// (slide by one tuple, no lag, watermarks every second).
    pub fn from_conf(component: &str, conf: &ConfMap) -> Result<WindowConfig, WindowConfigError> {
        let length = match (
            positive(component, conf, WINDOW_LENGTH_COUNT)?,
            positive(component, conf, WINDOW_LENGTH_DURATION_MS)?,
        ) {
            (Some(c), _) => Span::Count(c),
            (None, Some(d)) => Span::DurationMs(d),
            (None, None) => {
                return Err(WindowConfigError::NoLength {
                    component: component.to_owned(),
                })
            }
        };
        let sliding = match (
            positive(component, conf, SLIDING_INTERVAL_COUNT)?,
            positive(component, conf, SLIDING_INTERVAL_DURATION_MS)?,
        ) {
            (Some(c), _) => Span::Count(c),
            (None, Some(d)) => Span::DurationMs(d),
            (None, None) => Span::Count(1),
        };
        let lag_ms = match conf.get(TUPLE_TIMESTAMP_MAX_LAG_MS) {
            None | Some(Json::Null) => 0,
            Some(v) => conf_i64(conf, TUPLE_TIMESTAMP_MAX_LAG_MS)
                .filter(|n| (0..=i64::from(i32::MAX)).contains(n))
                .ok_or_else(|| WindowConfigError::NotPositive {
                    component: component.to_owned(),
                    key: TUPLE_TIMESTAMP_MAX_LAG_MS,
                    value: v.to_string(),
                })?,
        };
        let watermark_interval_ms = positive(component, conf, WATERMARK_EVENT_INTERVAL_MS)?
            .unwrap_or(DEFAULT_WATERMARK_INTERVAL_MS);
        let max_tuples = match conf.get(WINDOW_MAX_TUPLES) {
            None | Some(Json::Null) => DEFAULT_MAX_TUPLES,
            Some(v) => conf_i64(conf, WINDOW_MAX_TUPLES)
                .filter(|n| *n > 0)
                .ok_or_else(|| WindowConfigError::NotPositive {
                    component: component.to_owned(),
                    key: WINDOW_MAX_TUPLES,
                    value: v.to_string(),
                })?,
        };
        let string = |key: &str| {
            conf.get(key)
                .and_then(Json::as_str)
                .map(str::to_owned)
                .filter(|s| !s.is_empty())
        };
        Ok(WindowConfig {
            length,
            sliding,
            timestamp_field: string(TUPLE_TIMESTAMP_FIELD_NAME),
            lag_ms,
            watermark_interval_ms,
            late_tuple_stream: string(LATE_TUPLE_STREAM),
            max_tuples,
        })
    }

    /// Storm's `validate`: a duration window must fit in the message timeout, a count window in
    /// `topology.max.spout.pending` (when set); storm-rs adds that a count window fits the cap.
    pub fn validate_limits(
        &self,
        component: &str,
        conf: &ConfMap,
    ) -> Result<(), WindowConfigError> {
        let timeouts = conf_bool(conf, "topology.enable.message.timeouts").unwrap_or(true);
        let timeout_ms = if timeouts {
            conf_i64(conf, "topology.message.timeout.secs")
                .unwrap_or(30)
                .saturating_mul(1000)
        } else {
            i64::MAX
        };
        let duration = match (self.length, self.sliding) {
            (Span::DurationMs(l), Span::DurationMs(s)) => Some(l + s),
            (Span::DurationMs(l), _) => Some(l),
            (_, Span::DurationMs(s)) => Some(s),
            _ => None,
        };
        if let Some(d) = duration {
            if d > timeout_ms {
                return Err(WindowConfigError::DurationOverTimeout {
                    component: component.to_owned(),
                    duration_ms: d,
                    timeout_ms,
                    min_secs: (d + 999) / 1000,
                });
            }
        }
        let count = match (self.length, self.sliding) {
            (Span::Count(l), Span::Count(s)) => Some(l + s),
            (Span::Count(l), _) => Some(l),
            (_, Span::Count(s)) => Some(s),
            _ => None,
        };
        if let Some(c) = count {
            if let Some(max_pending) = conf_i64(conf, "topology.max.spout.pending") {
                if c > max_pending {
                    return Err(WindowConfigError::CountOverMaxPending {
                        component: component.to_owned(),
                        count: c,
                        max_pending,
                    });
                }
            }
        }
        if let (Span::Count(l), Span::Count(s)) = (self.length, self.sliding) {
            if l + s > self.max_tuples {
                return Err(WindowConfigError::CountOverMaxTuples {
                    component: component.to_owned(),
                    count: l + s,
                    max: self.max_tuples,
                });
            }
        }
        Ok(())
    }

    /// The window length in ms for duration windows.
    pub fn length_ms(&self) -> Option<i64> {
        match self.length {
            Span::DurationMs(d) => Some(d),
            Span::Count(_) => None,
        }
    }
}

/// Checks every windowed bolt of `topology` (a component whose configuration has a window key)
/// against `topo_conf`, the merged cluster + topology configuration, as Storm's
/// `WindowedBoltExecutor` does when it prepares.
pub fn validate_topology(
    topology: &StormTopology,
    topo_conf: &ConfMap,
) -> Result<(), WindowConfigError> {
    for (id, bolt) in &topology.bolts {
        let Some(json) = bolt.common.json_conf.as_deref() else {
            continue;
        };
        let Ok(Json::Object(own)) = serde_json::from_str::<Json>(json) else {
            continue;
        };
        if !is_windowed(&own) {
            continue;
        }
        let mut conf = topo_conf.clone();
        conf.extend(own);
        let window = WindowConfig::from_conf(id, &conf)?;
        window.validate_limits(id, &conf)?;
        if let Some(stream) = &window.late_tuple_stream {
            let declared = bolt
                .common
                .streams
                .get(stream)
                .is_some_and(|s| s.output_fields == [LATE_TUPLE_FIELD]);
            if !declared {
                return Err(WindowConfigError::LateStreamUndeclared {
                    component: id.clone(),
                    stream: stream.clone(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(pairs: &[(&str, Json)]) -> ConfMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn storms_precedence_and_defaults() {
        let c = conf(&[
            (WINDOW_LENGTH_COUNT, 10.into()),
            (WINDOW_LENGTH_DURATION_MS, 5000.into()),
        ]);
        let w = WindowConfig::from_conf("b", &c).unwrap();
        assert_eq!(w.length, Span::Count(10), "a count wins over a duration");
        assert_eq!(w.sliding, Span::Count(1), "slides by one tuple by default");
        assert_eq!(w.watermark_interval_ms, 1000);
        assert_eq!(w.lag_ms, 0);
        assert_eq!(w.max_tuples, DEFAULT_MAX_TUPLES);
        let e =
            WindowConfig::from_conf("b", &conf(&[(WINDOW_LENGTH_COUNT, 0.into())])).unwrap_err();
        assert!(
            e.to_string().contains("must be a positive integer, got 0"),
            "{e}"
        );
        let e = WindowConfig::from_conf("b", &ConfMap::new()).unwrap_err();
        assert!(
            e.to_string().contains("Window length is not specified"),
            "{e}"
        );
    }

    #[test]
    fn the_window_must_fit_the_message_timeout_and_max_pending() {
        let mut c = conf(&[
            (WINDOW_LENGTH_DURATION_MS, 20_000.into()),
            (SLIDING_INTERVAL_DURATION_MS, 15_000.into()),
            ("topology.message.timeout.secs", 30.into()),
        ]);
        let w = WindowConfig::from_conf("avg", &c).unwrap();
        let e = w.validate_limits("avg", &c).unwrap_err();
        assert!(
            e.to_string().contains("Window duration (length + sliding interval) value 35000 is more than topology.message.timeout.secs value 30000")
                && e.to_string().contains("above 35"),
            "{e}"
        );
        c.insert("topology.message.timeout.secs".into(), 35.into());
        w.validate_limits("avg", &c).unwrap();
        c.insert("topology.message.timeout.secs".into(), 1.into());
        c.insert("topology.enable.message.timeouts".into(), false.into());
        w.validate_limits("avg", &c).expect("no timeouts, no limit");

        let c = conf(&[
            (WINDOW_LENGTH_COUNT, 30.into()),
            (SLIDING_INTERVAL_COUNT, 10.into()),
            ("topology.max.spout.pending", 39.into()),
        ]);
        let e = WindowConfig::from_conf("sum", &c)
            .unwrap()
            .validate_limits("sum", &c)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("value 40 is more than topology.max.spout.pending value 39"),
            "{e}"
        );
        let c = conf(&[
            (WINDOW_LENGTH_COUNT, 30.into()),
            (SLIDING_INTERVAL_COUNT, 10.into()),
            (WINDOW_MAX_TUPLES, 20.into()),
        ]);
        let e = WindowConfig::from_conf("sum", &c)
            .unwrap()
            .validate_limits("sum", &c)
            .unwrap_err();
        assert!(e.to_string().contains(WINDOW_MAX_TUPLES), "{e}");
    }
}
