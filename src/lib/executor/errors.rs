//! Error reporting (Storm's `ReportError`): every error is logged; at most
//! `topology.max.error.report.per.interval` per `topology.error.throttle.interval.secs` window and
//! executor reach the [`ErrorSink`] (ZooKeeper's `/errors` in a cluster, memory in local mode).

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One reported error (the fields of Storm's `ErrorInfo`, plus where it happened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReport {
    pub topology_id: String,
    pub component_id: String,
    pub task_id: i32,
    pub error: String,
    /// Seconds since the epoch.
    pub time_secs: i64,
    pub host: Option<String>,
    pub port: Option<u16>,
}

/// Where reported errors go.
pub trait ErrorSink: Send + Sync {
    fn report(&self, report: ErrorReport);
}

/// Keeps every report in memory (local mode, tests).
#[derive(Debug, Default)]
pub struct MemoryErrorSink {
    reports: Mutex<Vec<ErrorReport>>,
}

impl MemoryErrorSink {
    pub fn new() -> MemoryErrorSink {
        MemoryErrorSink::default()
    }

    /// All reports so far.
    pub fn reports(&self) -> Vec<ErrorReport> {
        self.reports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The reports of one topology.
    pub fn reports_for(&self, topology_id: &str) -> Vec<ErrorReport> {
        self.reports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|r| r.topology_id == topology_id)
            .cloned()
            .collect()
    }
}

impl ErrorSink for MemoryErrorSink {
    fn report(&self, report: ErrorReport) {
        self.reports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(report);
    }
}

/// Storm's throttle: a window of `interval` starts with the first error after the previous window
/// ended; within it at most `max_per_interval` errors pass.
#[derive(Debug, Clone)]
pub struct ErrorThrottle {
    interval: Duration,
    max_per_interval: u64,
    window_start: Option<Instant>,
    in_window: u64,
}

impl ErrorThrottle {
    pub fn new(interval: Duration, max_per_interval: u64) -> ErrorThrottle {
        ErrorThrottle {
            interval,
            max_per_interval,
            window_start: None,
            in_window: 0,
        }
    }

    /// Whether an error at `now` may be reported.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.window_start {
            Some(start) if now.duration_since(start) <= self.interval => {}
            _ => {
                self.window_start = Some(now);
                self.in_window = 0;
            }
        }
        if self.in_window < self.max_per_interval {
            self.in_window += 1;
            true
        } else {
            false
        }
    }
}

pub(crate) fn epoch_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_allows_max_per_window() {
        let mut t = ErrorThrottle::new(Duration::from_secs(10), 2);
        let t0 = Instant::now();
        assert!(t.allow(t0));
        assert!(t.allow(t0 + Duration::from_secs(1)));
        assert!(!t.allow(t0 + Duration::from_secs(2)));
        assert!(!t.allow(t0 + Duration::from_secs(10)));
        assert!(t.allow(t0 + Duration::from_secs(11)), "a new window");
    }
}
