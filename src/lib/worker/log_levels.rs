//! Dynamic log levels in a worker (Storm's `LogConfigManager`): `storm set_log_level` (nimbus's
//! `setLogConfig`) writes `/logconfigs/<topology-id>`; the worker reads it when it changes (watched)
//! and every `worker.log.level.reset.poll.secs`, and applies every logger whose level has not timed
//! out (`reset_log_level_timeout_epoch`, epoch milliseconds; 0 or absent: no timeout). A logger that
//! leaves the set (removed with `-r`, or timed out) goes back to the level it had.
//!
//! Logger names are Storm's: `ROOT` is the root logger (the worker's default level); any other name
//! is applied twice: as a `tracing` target prefix for the worker's own Rust logging (`storm`,
//! `storm::executor`, a topology crate's module path) and as a log4j logger in the worker's JVM when
//! the topology has Java components (`org.apache.storm`, `com.example.MyBolt`). Events from Java
//! reach the worker log through log4j's levels, so the `java` target always passes.

use std::collections::BTreeMap;

use crate::thrift::{LogConfig, LogLevelAction};

/// Storm's level names as `tracing` levels.
pub fn tracing_level(storm_level: &str) -> Option<&'static str> {
    Some(match storm_level.trim().to_ascii_uppercase().as_str() {
        "ALL" | "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        "OFF" => "off",
        _ => return None,
    })
}

/// The loggers of `config` that are in force at `now_ms`: logger name → Storm level (upper case).
pub fn active_levels(config: Option<&LogConfig>, now_ms: i64) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(levels) = config.and_then(|c| c.named_logger_level.as_ref()) else {
        return out;
    };
    for (name, level) in levels {
        if level.action == LogLevelAction::REMOVE {
            continue;
        }
        let Some(target) = level.target_log_level.as_deref() else {
            continue;
        };
        if tracing_level(target).is_none() {
            continue;
        }
        let expires = level.reset_log_level_timeout_epoch.unwrap_or(0);
        if expires > 0 && expires <= now_ms {
            continue;
        }
        out.insert(name.clone(), target.trim().to_ascii_uppercase());
    }
    out
}

/// Whether `name` can be a `tracing` target directive.
fn is_target(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | ':' | '.' | '-' | '$'))
}

/// The worker's filter directives for `levels` over `base` (its `STORM_LOG`/default directives).
pub fn directives(base: &str, levels: &BTreeMap<String, String>) -> String {
    let mut parts: Vec<String> = Vec::new();
    match levels.get("ROOT").and_then(|l| tracing_level(l)) {
        // ROOT replaces the default level; the base's targeted directives stay.
        Some(root) => {
            parts.push(root.to_string());
            parts.extend(
                base.split(',')
                    .map(str::trim)
                    .filter(|d| d.contains('='))
                    .map(str::to_string),
            );
        }
        None => parts.push(base.to_string()),
    }
    for (name, level) in levels {
        if name == "ROOT" || !is_target(name) {
            continue;
        }
        if let Some(l) = tracing_level(level) {
            parts.push(format!("{name}={l}"));
        }
    }
    parts.push("java=trace".to_string());
    parts.join(",")
}

/// What the worker applied last.
#[derive(Debug)]
pub struct LogLevels {
    base: String,
    applied: BTreeMap<String, String>,
}

impl LogLevels {
    pub fn new(base: String) -> LogLevels {
        LogLevels {
            base,
            applied: BTreeMap::new(),
        }
    }

    /// The loggers in force now.
    pub fn applied(&self) -> &BTreeMap<String, String> {
        &self.applied
    }

    /// Applies `config` as of `now_ms`; returns whether anything changed.
    pub fn apply(&mut self, topology: &str, config: Option<&LogConfig>, now_ms: i64) -> bool {
        let wanted = active_levels(config, now_ms);
        if wanted == self.applied {
            return false;
        }
        if let Err(e) = crate::logging::set_worker_filter(&directives(&self.base, &wanted)) {
            tracing::warn!(topology, "cannot change the worker's log levels: {e}");
        }
        for (name, level) in &wanted {
            if self.applied.get(name) != Some(level) {
                if let Err(e) = crate::jvm::set_log_level(name, Some(level)) {
                    tracing::warn!(topology, logger = %name, "cannot set the Java logger's level: {e}");
                }
            }
        }
        for name in self.applied.keys().filter(|n| !wanted.contains_key(*n)) {
            if let Err(e) = crate::jvm::set_log_level(name, None) {
                tracing::warn!(topology, logger = %name, "cannot restore the Java logger's level: {e}");
            }
        }
        tracing::info!(topology, levels = ?wanted, "log levels changed (storm set_log_level)");
        self.applied = wanted;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thrift::LogLevel;

    fn config(entries: &[(&str, &str, LogLevelAction, Option<i64>)]) -> LogConfig {
        LogConfig {
            named_logger_level: Some(
                entries
                    .iter()
                    .map(|(n, l, a, t)| {
                        (
                            n.to_string(),
                            LogLevel {
                                action: *a,
                                target_log_level: Some(l.to_string()),
                                reset_log_level_timeout_secs: None,
                                reset_log_level_timeout_epoch: *t,
                                reset_log_level: None,
                            },
                        )
                    })
                    .collect(),
            ),
        }
    }

    #[test]
    fn levels_in_force_and_their_directives() {
        let c = config(&[
            ("ROOT", "debug", LogLevelAction::UPDATE, None),
            (
                "storm::executor",
                "TRACE",
                LogLevelAction::UNCHANGED,
                Some(2_000),
            ),
            (
                "org.apache.storm",
                "WARN",
                LogLevelAction::UPDATE,
                Some(500),
            ),
            ("gone", "INFO", LogLevelAction::REMOVE, None),
            ("bad", "LOUD", LogLevelAction::UPDATE, None),
        ]);
        let active = active_levels(Some(&c), 1_000);
        assert_eq!(
            active.into_iter().collect::<Vec<_>>(),
            vec![
                ("ROOT".to_string(), "DEBUG".to_string()),
                ("storm::executor".to_string(), "TRACE".to_string()),
            ]
        );
        let d = directives("info,storm::cluster=warn", &active_levels(Some(&c), 1_000));
        assert_eq!(
            d,
            "debug,storm::cluster=warn,storm::executor=trace,java=trace"
        );
        assert!(tracing_subscriber::EnvFilter::try_new(&d).is_ok());
        // Timed out: back to the base.
        assert_eq!(
            directives("info", &active_levels(Some(&c), 5_000)),
            "debug,java=trace"
        );
        assert_eq!(directives("info", &BTreeMap::new()), "info,java=trace");
    }

    #[test]
    fn apply_reports_changes_once() {
        let mut levels = LogLevels::new("info".into());
        let c = config(&[("storm", "DEBUG", LogLevelAction::UPDATE, Some(10_000))]);
        assert!(levels.apply("t", Some(&c), 1_000));
        assert!(!levels.apply("t", Some(&c), 2_000));
        assert_eq!(levels.applied().len(), 1);
        // The timeout passes: reverted.
        assert!(levels.apply("t", Some(&c), 10_000));
        assert!(levels.applied().is_empty());
        assert!(!levels.apply("t", None, 11_000));
    }
}
